"""Property tests: whatever a Hub sends as listing records or card bytes, the snapshot stores rows or error
rows and never raises (hypothesis; a few seconds in all)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import httpx2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.snapshot import (
    Listing,
    _BadPage,
    _Writer,
    card_result,
    page_records,
    store_listing,
)
from curate.store import Store

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(
    st.text(max_size=8), kids, max_size=4), max_leaves=12)
names = st.from_regex(r"[A-Za-z0-9_.-]{1,12}", fullmatch=True)
repo_ids = st.one_of(st.builds(lambda a, b: f"{a}/{b}", names, names), st.text(max_size=40), json_values)
dates = st.one_of(st.datetimes().map(lambda d: d.isoformat() + "Z"), st.text(max_size=30), json_values)
fields = {
    "id": repo_ids, "author": names | json_values, "sha": st.from_regex(r"[0-9a-f]{40}", fullmatch=True) | json_values,
    "downloads": st.integers() | json_values, "downloadsAllTime": st.integers() | json_values,
    "likes": st.integers() | json_values, "tags": st.lists(st.text(max_size=12), max_size=4) | json_values,
    "cardData": st.dictionaries(st.text(max_size=10), json_values, max_size=4) | json_values,
    "createdAt": dates, "lastModified": dates, "gated": st.sampled_from([False, "auto", "manual"]) | json_values,
    "private": st.booleans() | json_values, "disabled": st.booleans() | json_values,
}
records = st.one_of(
    st.fixed_dictionaries({}, optional=fields).flatmap(  # Hub-shaped records with random values
        lambda rec: st.dictionaries(st.text(max_size=6), json_values, max_size=2).map(lambda extra: {**extra, **rec})),
    json_values,  # anything at all
)


def test_random_listing_records_become_rows_or_error_rows(tmp_path: Path) -> None:
    store = Store(tmp_path / "fuzz.duckdb")
    snapshot_ids = itertools.count(1)

    @SETTINGS
    @given(page=st.lists(records, max_size=8), ascii_only=st.booleans())
    def check(page: list[Any], ascii_only: bool) -> None:
        try:
            body = json.dumps(page, ensure_ascii=ascii_only).encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: a Hub would send them escaped
            body = json.dumps(page).encode()
        sid = next(snapshot_ids)
        listing = Listing()
        listing.add(sid, "ko", page_records(body), top=700)
        # every record is stored, an error row, or a repeat of an id already stored
        assert len(listing.rows) + len(listing.errors) <= len(page)
        assert len(page) - len(listing.errors) == 0 or listing.rows
        store_listing(store, sid, "ko", listing)
        stored = store.con.execute("SELECT count(*) FROM datasets WHERE snapshot_id = ?", [sid]).fetchone()[0]
        errors = store.con.execute("SELECT count(*) FROM errors WHERE snapshot_id = ?", [sid]).fetchone()[0]
        assert stored == len(listing.rows) and errors == len(listing.errors)

    try:
        check()
    finally:
        store.close()


@SETTINGS
@given(body=st.binary(max_size=400))
def test_random_page_bytes_parse_or_are_refetched(body: bytes) -> None:
    try:
        parsed = page_records(body)
    except _BadPage:
        return
    assert all(reason is None or isinstance(reason, str) for _, reason in parsed)
    Listing().add(1, "ko", parsed, top=700)


yaml_like = st.lists(st.sampled_from(["---\n", "license: ", "[", "]", "{", "}", ": ", "- ", "\n", "&a ", "*a ",
                                      "!!python/object ", "\t", "\x00", "\ufeff", "é", "'", '"']),
                     max_size=30).map(lambda parts: "".join(parts).encode("utf-8"))


def test_random_card_bytes_become_card_rows_or_error_rows(tmp_path: Path) -> None:
    store = Store(tmp_path / "fuzz.duckdb")
    writer = _Writer(store, every=1)
    counter = itertools.count()

    @SETTINGS
    @given(raw=st.binary(max_size=600) | yaml_like, status=st.sampled_from([200, 200, 200, 401, 404, 500, 418]),
           commit=st.none() | st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=50))
    def check(raw: bytes, status: int, commit: str | None) -> None:
        headers = httpx2.Headers({"x-repo-commit": commit.encode("latin-1")} if commit else {})  # as on the wire
        rid = f"org/card-{next(counter)}"
        fetched = card_result(1, rid, "main", status, headers, raw)
        assert fetched.kind == ("card" if status == 200 else "error")
        writer.add({"card": "cards", "error": "errors"}[fetched.kind], fetched.row)
        if fetched.extra_error:
            writer.add("errors", fetched.extra_error)
        writer.flush()
        where = "cards" if status == 200 else "errors"
        assert store.con.execute(f"SELECT count(*) FROM {where} WHERE repo_id = ?", [rid]).fetchone()[0] == 1

    try:
        check()
    finally:
        store.close()
