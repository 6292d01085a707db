"""The snapshot against a hostile Hub (tests/hostile_hub.py): every answer bounded, no secret leaves home,
one bad record or repo id is an error row, and Ctrl-C / SIGTERM / absurd waits end the run at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from collectors.snapshot import SnapshotOptions, take_snapshot
from curate import http
from curate.store import Store
from tests.hostile_hub import Req, good, hostile, rec

SECRET = "hf_hostile_secret_token_42"


def _opts(url: str, **kw: Any) -> SnapshotOptions:
    base: dict[str, Any] = {"langs": ["ko"], "top": 50, "endpoint": url, "concurrency": 4, "rate": None,
                            "base_wait": 0.01, "authors": False, "timeout": 5.0}
    base.update(kw)
    return SnapshotOptions(**base)


def _errors(store: Store, stage: str) -> list[tuple[Any, ...]]:
    return store.con.execute("SELECT repo_id, status, message FROM errors WHERE stage = ? ORDER BY message",
                             [stage]).fetchall()


def _status(store: Store) -> str:
    return store.con.execute("SELECT status FROM snapshots ORDER BY id DESC LIMIT 1").fetchone()[0]


# -- S1: the token stays with the endpoint ---------------------------------------------------------------

def test_token_is_never_sent_to_a_next_link_on_another_origin(db_path: Path) -> None:
    records, cards = good(6)
    with hostile(records=records[3:], cards=cards) as other, \
            hostile(records=records, cards=cards, page_size=3) as hub, Store(db_path) as store:
        hub.route(r"^/api/datasets", lambda req: hub.page(req, link_to=other.url))
        summary = take_snapshot(store, _opts(hub.url), token=SECRET)
        errors = _errors(store, "listing")
        first = hub.hits[0][2]
    assert other.hits == []  # not followed at all, so neither the token nor anything else went there
    assert first.get("authorization") == f"Bearer {SECRET}"  # the endpoint itself does get it
    assert summary.listed == {"ko": 3} and summary.cards == 3
    assert len(errors) == 1 and "another origin" in errors[0][2] and other.url.split("//")[1] in errors[0][2]


# -- H2: listings that never end -------------------------------------------------------------------------

@pytest.mark.timeout(30)
def test_a_next_link_back_to_a_page_already_read_ends_the_listing(db_path: Path) -> None:
    records, cards = good(2)

    def loop(req: Req) -> None:
        req.json(records, headers={"Link": f'<{hub.url}{req.path}>; rel="next"'})

    with hostile(cards=cards) as hub, Store(db_path) as store:
        hub.route(r"^/api/datasets", loop)
        summary = take_snapshot(store, _opts(hub.url, top=700))
        errors = _errors(store, "listing")
    assert len(hub.paths(r"^/api/datasets")) == 1
    assert summary.listed == {"ko": 2} and summary.cards == 2
    assert "already read" in errors[0][2]


@pytest.mark.timeout(30)
def test_endless_fresh_cursors_are_capped_by_top(db_path: Path) -> None:
    records, cards = good(2)
    count = iter(range(10**9))

    def fresh(req: Req) -> None:  # the same two records under a new cursor, forever
        req.json(records, headers={"Link": f'<{hub.url}/api/datasets?cursor={next(count)}>; rel="next"'})

    with hostile(cards=cards) as hub, Store(db_path) as store:
        hub.route(r"^/api/datasets", fresh)
        summary = take_snapshot(store, _opts(hub.url, top=5))
    assert len(hub.paths(r"^/api/datasets")) == 3  # ceil(5 / 2 records per page)
    assert summary.listed == {"ko": 2}


# -- H1: waits of years, Ctrl-C and SIGTERM ---------------------------------------------------------------

LONG = str(10**9)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("headers", [
    {"Retry-After": LONG},  # 429: the Pacer's
    {"RateLimit": f'"api";r=0;t={LONG}', "RateLimit-Policy": '"fixed window";"api";q=500;w=300'},
], ids=["retry-after", "ratelimit"])
def test_a_429_asking_for_years_ends_the_run_at_once(db_path: Path, headers: dict[str, str]) -> None:
    records, cards = good(4)
    with hostile(records=records, cards=cards) as hub, Store(db_path) as store:
        hub.route(r"/resolve/", lambda req: req.send(429, b"{}", headers))
        t0 = time.monotonic()
        with pytest.raises(http.WaitTooLong) as caught:
            take_snapshot(store, _opts(hub.url))
        elapsed = time.monotonic() - t0
        assert _status(store) == "interrupted"
    assert elapsed < 5
    assert "curate snapshot --resume" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.timeout(30)
def test_a_ratelimit_reset_of_years_on_a_200_ends_the_run(db_path: Path) -> None:
    records, cards = good(4)
    rl = {"RateLimit": f'"api";r=0;t={LONG}', "X-Repo-Commit": "a" * 40}
    with hostile(records=records, cards=cards) as hub, Store(db_path) as store:
        hub.route(r"/resolve/", lambda req: req.send(200, b"# card", rl))
        with pytest.raises(http.WaitTooLong):
            take_snapshot(store, _opts(hub.url))
        assert _status(store) == "interrupted"


@pytest.mark.timeout(30)
def test_a_503_with_a_retry_after_of_years_ends_the_run(db_path: Path) -> None:
    records, cards = good(3)
    with hostile(records=records, cards=cards) as hub, Store(db_path) as store:
        hub.route(r"/resolve/", lambda req: req.send(503, b"{}", {"Retry-After": LONG}))
        t0 = time.monotonic()
        with pytest.raises(http.WaitTooLong, match="HTTP 503"):
            take_snapshot(store, _opts(hub.url))
        assert time.monotonic() - t0 < 5 and _status(store) == "interrupted"


@pytest.mark.timeout(30)
def test_short_retry_after_is_honoured(db_path: Path) -> None:
    records, cards = good(1)
    once = iter([True])
    with hostile(records=records, cards=cards) as hub, Store(db_path) as store:
        hub.route(r"/resolve/", lambda req: req.send(503, b"{}", {"Retry-After": "1"})
                  if next(once, False) else hub.default(req))
        summary = take_snapshot(store, _opts(hub.url))
        times = [t for t, p, _ in hub.hits if "/resolve/" in p]
    assert summary.cards == 1 and summary.errors == 0
    assert times[1] - times[0] >= 0.95


def _cli(url: str, db: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HF_ENDPOINT": url}
    return subprocess.Popen([sys.executable, "-m", "curate", "snapshot", "--db", str(db), "--lang", "ko",
                             "--rate", "0", "--concurrency", "4", "--no-authors", *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.timeout(60)
def test_cli_too_long_wait_is_one_line_and_resumable(tmp_path: Path) -> None:
    records, cards = good(3)
    db = tmp_path / "s.duckdb"
    with hostile(records=records, cards=cards) as hub:
        hub.route(r"/resolve/", lambda req: req.send(429, b"{}", {"Retry-After": LONG}))
        proc = _cli(hub.url, db, "--max-wait", "60")
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 1
        lines = err.decode().strip().splitlines()  # progress lines ("listed ..."), then one error line
        assert [line for line in lines if line.startswith("error")] == lines[-1:] and "Traceback" not in err.decode()
        assert "curate snapshot --resume" in lines[-1] and "limit of 60s" in lines[-1]
        hub.routes.clear()  # the Hub is back: resume finishes the same snapshot
        resumed = _cli(hub.url, db, "--resume")
        _, err = resumed.communicate(timeout=30)
        assert resumed.returncode == 0, err.decode()
    with Store(db) as store:
        assert store.con.execute("SELECT id, status FROM snapshots").fetchall() == [(1, "complete")]
        assert store.con.execute("SELECT count(*) FROM cards").fetchone()[0] == 3


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
@pytest.mark.parametrize("stall", ["paused", "hanging"])
def test_signals_end_the_run_promptly_and_leave_it_resumable(tmp_path: Path, sig: int, stall: str) -> None:
    records, cards = good(12)
    db = tmp_path / "s.duckdb"
    with hostile(records=records, cards=cards) as hub:
        if stall == "paused":  # every worker sleeps on a 10-minute pause (within --max-wait)
            hub.route(r"/resolve/", lambda req: req.send(429, b"{}", {"Retry-After": "600"}))
        else:  # every worker is stuck in a read that the server never answers
            hub.route(r"/resolve/", lambda req: req.hang(60))
        proc = _cli(hub.url, db, "--timeout", "120")
        deadline = time.monotonic() + 20
        while not hub.paths("/resolve/") and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        t0 = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=20)
        elapsed = time.monotonic() - t0
    assert elapsed < 5, err.decode()
    assert proc.returncode == 1, err.decode()
    assert "curate snapshot --resume" in err.decode()
    with Store(db) as store:
        assert _status(store) == "interrupted"


# -- H3: trickling servers --------------------------------------------------------------------------------

def _trickled_response(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/markdown\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("where", ["headers", "body"])
def test_get_ends_near_its_deadline_against_a_trickle(where: str) -> None:
    raw = _trickled_response(b"x" * 200)
    head = raw.index(b"\r\n\r\n") + 4
    with hostile() as hub:
        # a byte every 0.2 s never trips a 1.5 s per-read timeout; the whole answer would take a minute
        if where == "headers":
            hub.route(r"/slow", lambda req: req.trickle(raw, 0.2))
        else:
            hub.route(r"/slow", lambda req: (req.wfile.write(raw[:head]), req.trickle(raw[head:], 0.2)))
        client = http.sync_client(timeout=1.5)
        t0 = time.monotonic()
        with pytest.raises(http.httpx2.TimeoutException):
            http.get(client, f"{hub.url}/slow", limit=10_000, policy=http.RetryPolicy(timeout=1.5, max_retries=0))
        elapsed = time.monotonic() - t0
    assert 1.4 < elapsed < 2.3


@pytest.mark.timeout(30)
def test_a_trickled_card_is_an_error_row_in_bounded_time(db_path: Path) -> None:
    records, cards = good(3)
    raw = _trickled_response(b"# slow card " * 20)
    with hostile(records=records, cards=cards) as hub, Store(db_path) as store:
        hub.route(records[0]["id"] + "/resolve/", lambda req: req.trickle(raw, 0.1))
        t0 = time.monotonic()
        summary = take_snapshot(store, _opts(hub.url, timeout=1.0, max_retries=1))
        elapsed = time.monotonic() - t0
        errors = _errors(store, "card")
    assert summary.cards == 2 and elapsed < 6
    assert errors[0][0] == records[0]["id"] and "Timeout" in errors[0][2]


# -- M1: huge answers -------------------------------------------------------------------------------------

MB = 1_000_000


def _zeros(total: int, chunk: int = 64 * 1024) -> Any:
    left = total
    while left > 0:
        n = min(chunk, left)
        yield b"a" * n
        left -= n


@pytest.mark.timeout(60)
def test_huge_cards_are_error_rows_and_memory_stays_bounded(db_path: Path) -> None:
    records, cards = good(4)
    big_declared, big_chunked = records[0]["id"], records[1]["id"]
    with hostile(records=records, cards=cards) as hub, Store(db_path) as store:
        hub.route(big_declared + "/resolve/", lambda req: req.stream(_zeros(50 * MB), length=50 * MB))
        hub.route(big_chunked + "/resolve/", lambda req: req.stream(_zeros(50 * MB)))
        tracemalloc.start()
        try:
            summary = take_snapshot(store, _opts(hub.url, max_card_bytes=MB))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        errors = {r[0]: r[2] for r in _errors(store, "card")}
        sent = dict(hub.sent)
    assert summary.cards == 2
    assert set(errors) == {big_declared, big_chunked}
    assert all("--max-card-bytes" in m for m in errors.values())
    assert peak < 20 * MB  # two 50 MB cards were never held
    assert all(n < 20 * MB for n in sent.values())  # and never read to the end


@pytest.mark.timeout(30)
def test_a_huge_listing_page_is_refused(db_path: Path) -> None:
    with hostile() as hub, Store(db_path) as store:
        hub.route(r"^/api/datasets", lambda req: req.stream(_zeros(60 * MB), length=60 * MB))
        with pytest.raises(http.CurateError, match="byte limit"):
            take_snapshot(store, _opts(hub.url))
        assert _status(store) == "interrupted"


@pytest.mark.timeout(30)
def test_a_huge_author_record_is_an_error_row(db_path: Path) -> None:
    records, cards = good(1)
    with hostile(records=records, cards=cards) as hub, Store(db_path) as store:
        hub.route(r"/overview", lambda req: req.stream(_zeros(5 * MB), length=5 * MB))
        summary = take_snapshot(store, _opts(hub.url, authors=True))
        errors = _errors(store, "author")
    assert summary.cards == 1 and len(errors) == 1 and "byte limit" in errors[0][2]


# -- R1 / R2: bad ids and bad records ----------------------------------------------------------------------

BAD_IDS = ["/etc/passwd", "a\x00b/c", "x" * 10_000 + "/y", "%2e%2e/%2e%2e", "..", "../..", "org/..", "org/a..b",
           "org/x.git", "org/-x", "a/b/c", "org/na me", "org/\u00e9t\u00e9"]


@pytest.mark.timeout(30)
def test_invalid_repo_ids_are_error_rows_and_never_reach_a_url(db_path: Path) -> None:
    records, cards = good(3)
    listing = [records[0], *[rec(b) for b in BAD_IDS], *records[1:]]
    with hostile(records=listing, cards=cards) as hub, Store(db_path) as store:
        summary = take_snapshot(store, _opts(hub.url))
        errors = _errors(store, "listing")
        paths = hub.paths()
    assert summary.listed == {"ko": 3} and summary.cards == 3
    assert len(errors) == len(BAD_IDS) and all("invalid repo id" in m for _, _, m in errors)
    assert all("passwd" not in p and "%2e" not in p.lower() and ".." not in p for p in paths)
    assert sorted(p.split("/resolve/")[0] for p in paths if "/resolve/" in p) == \
        sorted(f"/datasets/{r['id']}" for r in records)


@pytest.mark.timeout(30)
def test_resume_of_a_snapshot_holding_a_bad_id_finishes(db_path: Path) -> None:
    records, cards = good(2)
    with hostile(records=records, cards=cards) as hub, Store(db_path) as store:
        take_snapshot(store, _opts(hub.url))
        # a store written before ids were checked: a hostile id already listed, the snapshot unfinished
        store.con.execute("INSERT INTO datasets (snapshot_id, repo_id, author) VALUES (1, '../../etc/passwd', '..')")
        store.con.execute("UPDATE snapshots SET status = 'interrupted'")
        summary = take_snapshot(store, _opts(hub.url, authors=True), resume=True)
        errors = _errors(store, "card") + _errors(store, "author")
    assert summary.resumed and summary.cards == 2
    assert {m.split(":")[0] for _, _, m in errors} >= {"invalid repo id", ".."}
    assert _status_of(db_path) == "complete"


def _status_of(db: Path) -> str:
    with Store(db) as store:
        return _status(store)


def _deep(n: int) -> str:
    return '{"id": "deep/nest", "cardData": ' + "[" * n + "]" * n + "}"


@pytest.mark.timeout(30)
def test_records_of_the_wrong_shape_are_error_rows(db_path: Path) -> None:
    records, cards = good(3)
    bad = [
        rec("b/downloads", downloads="lots"),  # type: ignore[arg-type]
        rec("b/carddata", cardData=["a", "list"]),
        rec(12345),
        rec("b/date", createdAt="yesterday"),
        rec("b/tags", tags="language:ko"),
        rec("b/gated", gated={"x": 1}),
        rec("b/neg", likes=-5),
        rec("b/huge", downloads=2**70),
        rec("b/private", private="no"),
        rec("b/author", author="../x"),
        rec("b/sha", sha="../../main"),
        "just a string",
        None,
    ]
    good_json = [json.dumps(r) for r in records]
    parts = [good_json[0], *(json.dumps(b) for b in bad), good_json[1],
             _deep(200_000),  # too deep for json.loads: the page is split, this record alone is lost
             '{"id": "b/surrogate", "tags": ["\\ud800"]}',
             '{"id": "b/bignum", "downloads": ' + "9" * 5000 + "}",
             good_json[2], good_json[0]]  # a repeated record is listed once
    body = ("[" + ",".join(parts) + "]").encode()
    with hostile(cards=cards) as hub, Store(db_path) as store:
        hub.route(r"^/api/datasets", lambda req: req.send(200, body, {"Content-Type": "application/json"}))
        summary = take_snapshot(store, _opts(hub.url))
        errors = _errors(store, "listing")
        ranks = store.con.execute("SELECT repo_id FROM listings ORDER BY rank").fetchall()
    assert [r[0] for r in ranks] == [r["id"] for r in records]
    assert summary.cards == 3
    assert len(errors) == len(bad) + 3
    by_id = {rid: msg for rid, _, msg in errors if rid}
    assert "downloads" in by_id["b/downloads"] and "cardData" in by_id["b/carddata"]
    assert "nested too deep" in by_id["deep/nest"] and "Unicode" in by_id["b/surrogate"]
    assert "b/bignum" in by_id
    assert any("a number, not a string" in m for _, _, m in errors)


# -- resume goes back where the snapshot came from; no credentials stored ----------------------------------

@pytest.mark.timeout(30)
def test_resume_uses_the_snapshots_endpoint_and_refuses_another(db_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                cli: Any) -> None:
    records, cards = good(3)
    with hostile(records=records, cards=cards) as hub, hostile() as elsewhere, Store(db_path) as store:
        hub.route(r"/resolve/", lambda req: req.send(429, b"{}", {"Retry-After": LONG}))
        with pytest.raises(http.WaitTooLong):
            take_snapshot(store, _opts(hub.url))
        hub.routes.clear()
        monkeypatch.setenv("HF_ENDPOINT", elsewhere.url)
        summary = take_snapshot(store, _opts(None), resume=True)  # type: ignore[arg-type]
        assert summary.cards == 3 and elsewhere.hits == []
        store.con.execute("UPDATE snapshots SET status = 'interrupted'")
        store.close()
        result = cli("snapshot", "--db", db_path, "--resume", "--endpoint", elsewhere.url)
    assert result.code == 1
    # (the in-process resume above may have logged a warning into the same captured stderr)
    errors = [ln for ln in result.err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "would mix sources" in errors[0] and "Traceback" not in result.err
    assert elsewhere.hits == []


@pytest.mark.timeout(30)
def test_credentials_in_the_endpoint_are_used_but_never_stored(db_path: Path) -> None:
    records, cards = good(2)
    with hostile(records=records, cards=cards, page_size=1) as hub, Store(db_path) as store:
        secret_url = hub.url.replace("http://", "http://mirror-user:sekrit-pass-99@")
        summary = take_snapshot(store, _opts(secret_url))
        stored = store.con.execute("SELECT endpoint FROM snapshots").fetchone()[0]
        auth = [h.get("authorization", "") for _, _, h in hub.hits]
    assert summary.cards == 2 and summary.endpoint == hub.url and stored == hub.url
    assert auth and all(a.startswith("Basic ") for a in auth)  # every request, next pages included
    assert b"sekrit-pass-99" not in db_path.read_bytes()


def test_an_unreachable_hub_fails_in_seconds_with_one_line(tmp_path, cli) -> None:
    """Offline or a wrong --endpoint: connection refused is not retried for minutes (it took 83 s)."""
    import socket
    import time as clock

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = clock.monotonic()
    result = cli("snapshot", "--lang", "ko", "--endpoint", f"http://127.0.0.1:{port}", "--db", tmp_path / "s.duckdb")
    assert clock.monotonic() - started < 10
    assert result.code == 1
    lines = [ln for ln in result.err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "refused" in lines[0].lower()
