"""The collector against a loopback Hub: real Hub API shapes and huggingface_hub parsing, faults injected."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from collectors.hub_server import Fault, serve
from collectors.snapshot import SnapshotOptions, take_snapshot
from curate.store import Store
from tests.hubdir import make_hub, record


def _opts(url: str, **kw: object) -> SnapshotOptions:
    base = {"langs": ["ko"], "top": 700, "endpoint": url, "concurrency": 4, "rate": None, "base_wait": 0.01}
    base.update(kw)
    return SnapshotOptions(**base)  # type: ignore[arg-type]


def _count(store: Store, sql: str) -> int:
    return store.con.execute(sql).fetchone()[0]


def test_pagination_stores_every_listed_dataset_and_card(tmp_path: Path, db_path: Path) -> None:
    hub = make_hub(tmp_path / "hub", n_per_lang=250)
    with serve(hub, page_size=100) as server, Store(db_path) as store:
        summary = take_snapshot(store, _opts(server.url, langs=["ko", "ja"], top=230))
        pages = [p for _, p in server.hits if p.startswith("/api/datasets?")]
        ranks = store.con.execute(
            "SELECT l.rank, d.downloads FROM listings l JOIN datasets d USING (snapshot_id, repo_id) "
            "WHERE l.lang = 'ko' ORDER BY l.rank").fetchall()
    assert summary.listed == {"ko": 230, "ja": 230}
    assert summary.cards == 460 and summary.errors == 0
    assert len(pages) == 6  # 3 pages per language, cursor links followed
    downloads = [d for _, d in ranks]
    assert downloads == sorted(downloads, reverse=True)


def test_second_run_makes_second_snapshot(tmp_path: Path, db_path: Path) -> None:
    hub = make_hub(tmp_path / "hub", n_per_lang=5)
    with serve(hub) as server, Store(db_path) as store:
        a = take_snapshot(store, _opts(server.url))
        b = take_snapshot(store, _opts(server.url))
        assert (a.snapshot_id, b.snapshot_id) == (1, 2)
        assert _count(store, "SELECT count(*) FROM cards WHERE snapshot_id = 2") == 5
        assert _count(store, "SELECT count(*) FROM snapshots WHERE status = 'complete'") == 2
        # the second snapshot reuses author kinds learnt by the first: no overview calls
        overview_calls = [p for _, p in server.hits if p.endswith("/overview")]
    assert len(overview_calls) == len({p for p in overview_calls})  # each author asked once in all


def test_429_pauses_every_thread_until_reset(tmp_path: Path, db_path: Path) -> None:
    hub = make_hub(tmp_path / "hub", n_per_lang=40)
    with serve(hub) as server, Store(db_path) as store:
        server.faults.append(Fault(r"/resolve/", times=1, status=429, reset=1))
        summary = take_snapshot(store, _opts(server.url, concurrency=8, authors=False))
        hits = [(t, p) for t, p in server.hits if "/resolve/" in p]
    assert summary.cards == 40 and summary.errors == 0
    t429 = hits[0][0]
    # In-flight requests may land just after the 429; after that nobody asks until the window resets.
    quiet = [t for t, _ in hits if t429 + 0.2 < t < t429 + 1.0]
    assert quiet == []
    assert len(hits) == 41


def test_5xx_and_truncated_bodies_are_retried(tmp_path: Path, db_path: Path) -> None:
    hub = make_hub(tmp_path / "hub", n_per_lang=10)
    with serve(hub) as server, Store(db_path) as store:
        server.faults += [
            Fault(r"/api/datasets\?", times=1, status=503),
            Fault(r"/api/datasets\?", times=1, bad_json=True),  # a complete body that is not JSON
            Fault(r"ko-set-0003/resolve/", times=2, status=500),
            Fault(r"ko-set-0004/resolve/", times=1, truncate=True),  # Content-Length says more than sent
        ]
        summary = take_snapshot(store, _opts(server.url))
        text = store.con.execute("SELECT text FROM cards WHERE repo_id LIKE '%ko-set-0004'").fetchone()[0]
    assert summary.cards == 10 and summary.errors == 0
    assert text.endswith("A card for org0/ko-set-0004.\n") or "A card for" in text


def test_failures_are_rows_not_crashes(tmp_path: Path, db_path: Path) -> None:
    big = b"---\nlicense: mit\n---\n" + ("# Section\n" + "데이터 " * 2000 + "\n").encode() * 300
    extra = [
        (record("x/gated", downloads=90, gated="manual"), b"---\nlicense: mit\n---\nsecret"),
        (record("x/nocard", downloads=80), None),
        (record("x/disabled", downloads=70, disabled=True), b"# off"),
        (record("x/badyaml", downloads=60), b"---\nlicense: [mit\n  : broken\n---\n# Title\n"),
        (record("x/latin1", downloads=50), "---\nlicense: mit\n---\ncaf\u00e9 au lait\n".encode("latin-1")),
        (record("x/big", downloads=40), big),
    ]
    hub = make_hub(tmp_path / "hub", n_per_lang=3, extra=extra)
    with serve(hub) as server, Store(db_path) as store:
        summary = take_snapshot(store, _opts(server.url))
        errors = dict(store.con.execute("SELECT repo_id, status FROM errors WHERE stage = 'card'").fetchall())
        yaml_errors = [r[0] for r in store.con.execute("SELECT repo_id FROM errors WHERE stage = 'yaml'").fetchall()]
        cards = {r[0]: r[1:] for r in store.con.execute(
            "SELECT repo_id, bytes, decode_errors, length(text) FROM cards").fetchall()}
    assert summary.listed == {"ko": 9}
    assert errors == {"x/gated": 401, "x/nocard": 404, "x/disabled": 403}
    assert yaml_errors == ["x/badyaml"]
    assert "x/badyaml" in cards  # the card text is kept even when its header is broken
    assert cards["x/latin1"][1] is True
    assert cards["x/big"][0] == len(big) > 3_000_000


def test_token_opens_gated_cards_and_is_never_stored(tmp_path: Path, db_path: Path) -> None:
    secret = "hf_curate_secret_token_123"
    hub = make_hub(tmp_path / "hub", n_per_lang=2, extra=[(record("x/gated", gated="manual"), b"# gated card")])
    with serve(hub) as server, Store(db_path) as store:
        summary = take_snapshot(store, _opts(server.url), token=secret)
    assert summary.errors == 0 and summary.cards == 3
    assert secret.encode() not in db_path.read_bytes()


def _cli(db: Path, url: str, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HF_ENDPOINT": url}
    return subprocess.Popen(
        [sys.executable, "-m", "curate", "snapshot", "--db", str(db), "--lang", "ko", "--lang", "ja",
         "--concurrency", "2", "--rate", "0", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _rows(db: Path, snapshot_id: int) -> tuple[list[tuple], list[tuple]]:
    with Store(db) as store:
        cards = store.con.execute("SELECT repo_id, sha, text FROM cards WHERE snapshot_id = ? ORDER BY repo_id",
                                  [snapshot_id]).fetchall()
        data = store.con.execute("SELECT * EXCLUDE (snapshot_id) FROM datasets WHERE snapshot_id = ? "
                                 "ORDER BY repo_id", [snapshot_id]).fetchall()
    return cards, data


def test_resume_after_kill_matches_uninterrupted_run(tmp_path: Path) -> None:
    hub = make_hub(tmp_path / "hub", n_per_lang=60)
    killed_db, clean_db = tmp_path / "killed.duckdb", tmp_path / "clean.duckdb"
    with serve(hub, latency=0.03) as server:
        proc = _cli(killed_db, server.url)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until some cards are fetched and stored (a batch a second)
            cards = [t for t, p in server.hits if "/resolve/" in p]
            if len(cards) > 30 and time.monotonic() - cards[0] > 1.3:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with Store(killed_db) as store:
            partial = store.con.execute("SELECT count(*) FROM cards").fetchone()[0]
            status = store.con.execute("SELECT status FROM snapshots").fetchone()[0]
        assert 0 < partial < 120 and status == "running"
        before = sum("/resolve/" in p for _, p in server.hits)
        resumed = _cli(killed_db, server.url, "--resume")
        assert resumed.wait(timeout=120) == 0, resumed.stderr.read().decode()
        refetched = sum("/resolve/" in p for _, p in server.hits) - before
        clean = _cli(clean_db, server.url)
        assert clean.wait(timeout=120) == 0
    assert refetched <= 120 - partial  # nothing already stored is fetched again
    assert _rows(killed_db, 1) == _rows(clean_db, 1)
    with Store(killed_db) as store:
        assert store.con.execute("SELECT status FROM snapshots").fetchone()[0] == "complete"


def test_cli_requires_a_language(db_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "curate", "snapshot", "--db", str(db_path)], capture_output=True)
    assert proc.returncode == 2
    assert b"--lang" in proc.stderr


@pytest.mark.parametrize("args", [["--resume"]])
def test_resume_with_nothing_to_resume_is_one_line(db_path: Path, args: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "curate", "snapshot", "--db", str(db_path), *args],
                          capture_output=True)
    assert proc.returncode == 1
    assert proc.stderr.decode().strip() == "error: nothing to resume: every snapshot in the store is complete"
