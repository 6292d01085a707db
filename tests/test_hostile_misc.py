"""Hostile conditions outside the filter: a store held by another process, the README's store example, a Hub
mirror whose ids or links point outside it, a dashboard asked for any file on the server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest

from curate.errors import CurateError
from curate.store import Store, StoreLocked


@contextmanager
def _reader(db: Path, seconds: float = 120) -> Iterator[subprocess.Popen[str]]:
    """Another process with the store open read-only (as `curate report` or the dashboard has it)."""
    code = ("import duckdb, sys, time\n"
            "con = duckdb.connect(sys.argv[1], read_only=True)\n"
            "print('open', flush=True)\n"
            f"time.sleep({seconds})\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "open"
        yield proc
    finally:
        proc.kill()
        proc.wait()


if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest


def test_readme_example_on_a_migrated_store(db_path: Path) -> None:
    with Store(db_path):
        pass  # create and migrate
    with Store(db_path) as store:  # the README's Python example, on the existing store
        df = store.con.sql("SELECT * FROM datasets WHERE snapshot_id = 1").pl()
    assert df.height == 0 and "repo_id" in df.columns
    with Store(db_path, read_only=True) as store:
        assert store.version > 0
        assert store.con.sql("SELECT count(*) AS n FROM schema_version").pl()["n"][0] == store.version


def test_a_writer_waits_for_a_reader_then_gives_a_clear_error(db_path: Path) -> None:
    with Store(db_path):
        pass
    with _reader(db_path) as reader:
        started = time.monotonic()
        with pytest.raises(StoreLocked) as caught:
            Store(db_path, wait=0.6)
        assert time.monotonic() - started >= 0.6
        message = str(caught.value)
        assert "\n" not in message and f"locked by another process (pid {reader.pid})" in message
        assert "0.6 s" in message
    with _reader(db_path, seconds=1.0), Store(db_path, wait=30) as store:  # the reader leaves within the wait
        assert store.version > 0


WORDS = " ".join(f"term{k}" for k in range(30))


def test_a_locked_store_keeps_the_finished_scan_and_the_doc_ids(tmp_path: Path, cli, db_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    with Store(db_path):
        pass
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"id": "q1", "text": WORDS}) + "\n", encoding="utf-8")
    corpus = tmp_path / "web.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"d{i}", "text": (WORDS if i == 3 else f"filler {i}")}) + "\n"
                              for i in range(10)), encoding="utf-8")
    ids = tmp_path / "contaminated.txt"
    work = tmp_path / "work"
    args = ["contamination", "--benchmark", bench, "--corpus", corpus, "--save-doc-ids", ids, "--workers", "1",
            "--work-dir", work, "--db", db_path]
    with _reader(db_path) as reader:
        res = cli(*args, "--store-wait", "0.5")
    errors = [line for line in res.err.splitlines() if line.startswith("error:")]
    assert res.code == 1 and len(errors) == 1, res.err
    assert f"store {db_path} is locked by another process (pid {reader.pid})" in errors[0]
    assert "rerun the same command" in errors[0]
    assert ids.read_text(encoding="utf-8") == "d3\n"  # written before the store was needed
    assert [p.name for p in work.iterdir()]  # the scan is kept

    import analyses.contamination.scan as scan

    def no_scan(*args: object, **kwargs: object) -> None:
        raise AssertionError("the corpus was scanned again")

    monkeypatch.setattr(scan, "scan_texts", no_scan)
    res = cli(*args)  # the ids file is the one this check wrote: the rerun may replace it
    assert res.code == 0, res.err
    assert "10 documents, 10 of them checked by an interrupted run" in res.err
    assert ids.read_text(encoding="utf-8") == "d3\n"
    assert [p.name for p in work.iterdir()] == ["written-files.json"]  # stored, so the saved scan is gone
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        assert con.execute("SELECT doc_id FROM contamination_docs").fetchall() == [("d3",)]
    finally:
        con.close()


def test_store_errors_other_than_a_lock_are_not_waited_for(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-store.duckdb"
    bad.write_bytes(b"this is not a duckdb file" * 100)
    started = time.monotonic()
    with pytest.raises(CurateError, match="cannot open store"):
        Store(bad, wait=30)
    assert time.monotonic() - started < 10


def _get(url: str, path: str) -> tuple[int, bytes]:
    """GET a raw path (no client-side normalisation of ``..``)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_hub_serve_stays_inside_its_directory(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from collectors.hub_server import serve
    from tests.hubdir import make_hub, record

    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "README.md").write_bytes(b"SECRET card")
    (secret / "key.txt").write_bytes(b"SECRET key")
    hub = make_hub(tmp_path / "hub", n_per_lang=1, extra=[
        (record("evil/../../../secret"), None), (record("../secret"), None), (record("a/b/c"), None),
        (record("acme/linked"), None), (record("acme/outdir"), None)])
    (hub / "cards" / "acme" / "linked").mkdir(parents=True)
    (hub / "cards" / "acme" / "linked" / "README.md").symlink_to(secret / "README.md")
    data = hub / "files" / "acme" / "linked" / "data"
    data.mkdir(parents=True)
    (data / "train.jsonl").write_bytes(b'{"text": "fine"}\n')
    (data / "key.txt").symlink_to(secret / "key.txt")  # points outside: not served
    (data / "alias.jsonl").symlink_to(data / "train.jsonl")  # points inside: served
    (hub / "files" / "acme" / "outdir").symlink_to(secret, target_is_directory=True)
    with caplog.at_level("WARNING"), serve(hub) as server:
        assert "evil/../../../secret" not in server.data.records
        assert {"../secret", "a/b/c"}.isdisjoint(server.data.records)
        assert caplog.text.count("skipped: dataset id") == 3
        for path in ("/api/datasets/evil/../../../secret", "/datasets/evil/../../../secret/resolve/main/README.md",
                     "/datasets/../secret/resolve/main/README.md",
                     "/datasets/acme/linked/resolve/main/README.md",
                     "/datasets/acme/linked/resolve/main/data/key.txt",
                     "/datasets/acme/outdir/resolve/main/key.txt", "/datasets/acme/outdir/resolve/main/README.md"):
            status, body = _get(server.url, path)
            assert status == 404 and b"SECRET" not in body, path
        status, body = _get(server.url, "/datasets/acme/linked/resolve/main/data/alias.jsonl")
        assert (status, body) == (200, b'{"text": "fine"}\n')
        status, body = _get(server.url, "/api/datasets/acme/linked/tree/main?recursive=true")
        assert status == 200 and sorted(e["path"] for e in json.loads(body)) == [
            "data", "data/alias.jsonl", "data/train.jsonl"]
        status, body = _get(server.url, "/api/datasets/acme/outdir/tree/main?recursive=true")
        assert status == 200 and json.loads(body) == []


def _scores_file(path: Path) -> Path:
    import polars as pl

    path.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame({"doc_id": ["a", "b"], "lang": ["ko", "en"], "score": [1.0, 2.0]}).write_parquet(path)
    return path


def test_scores_box_reads_only_recorded_outputs_and_configured_roots(tmp_path: Path) -> None:
    from dashboards.scores import readable

    recorded = _scores_file(tmp_path / "runs" / "scores.parquet")
    shards = tmp_path / "runs" / "sharded"
    _scores_file(shards / "part-0.parquet")
    other = _scores_file(tmp_path / "private" / "other.parquet")
    (tmp_path / "private" / "notes.txt").write_text("x")
    (tmp_path / "runs" / "link.parquet").symlink_to(other)
    allowed = [str(recorded), str(shards)]
    assert readable(recorded, allowed) == recorded.resolve()
    assert readable(shards / "part-0.parquet", allowed) == (shards / "part-0.parquet").resolve()
    assert readable(shards / ".." / ".." / "private" / "other.parquet", allowed) is None
    assert readable(other, allowed) is None
    assert readable(tmp_path / "runs" / "link.parquet", allowed) is None  # a symlink out of what is allowed
    assert readable(tmp_path / "missing.parquet", allowed) is None
    assert readable(other, [*allowed, str(tmp_path / "private")]) == other.resolve()  # a configured root
    assert readable(tmp_path / "private" / "notes.txt", [str(tmp_path / "private")]) is None  # parquet only
    assert readable(other, ["", *allowed]) is None


def test_dashboard_scores_box_refuses_a_path_outside_the_recorded_runs(tmp_path: Path, db_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from curate.runs import record
    from tests.test_dashboard import view

    recorded = _scores_file(tmp_path / "runs" / "scores.parquet")
    other = _scores_file(tmp_path / "private" / "other.parquet")
    with Store(db_path):
        pass
    record(db_path, "annotate", ["corpus/"], recorded, {}, n_docs=2, seconds=0.1)
    monkeypatch.setenv("CURATE_DB", str(db_path))
    monkeypatch.delenv("CURATE_SCORES", raising=False)
    monkeypatch.delenv("CURATE_SCORES_ROOT", raising=False)
    at = view("tune").run()
    assert not at.exception
    assert at.selectbox(key="scores_path").value == str(recorded.resolve())
    assert at.table and not any("may read" in w.value for w in at.warning)

    def open_other() -> AppTest:
        at = view("tune")
        at.query_params["scores"] = str(other)  # a link anyone could send
        return at.run()

    at = open_other()
    assert not at.exception
    assert any("not a scores parquet this dashboard may read" in w.value for w in at.warning)
    assert not at.table

    monkeypatch.setenv("CURATE_SCORES_ROOT", str(tmp_path / "private"))
    at = open_other()
    assert not at.exception and not any("may read" in w.value for w in at.warning)
    assert at.table


def test_two_runs_of_one_contamination_check_do_not_share_its_progress(tmp_path: Path) -> None:
    import os
    import threading

    from analyses.contamination import Source, run_check

    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"id": "q1", "text": WORDS}) + "\n", encoding="utf-8")
    corpus = tmp_path / "web.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"d{i}", "text": f"filler {i}"}) + "\n" for i in range(5)),
                      encoding="utf-8")
    args = ([Source.parse(str(bench))], [Source.parse(str(corpus))])
    work = tmp_path / "work"
    inside, release = threading.Event(), threading.Event()

    def pause(_n: int) -> None:
        inside.set()
        assert release.wait(60)

    first = threading.Thread(target=lambda: run_check(*args, work_root=work, advance=pause))
    first.start()
    try:
        assert inside.wait(60)
        with pytest.raises(CurateError, match=rf"another curate contamination is running this same check "
                                              rf"\(pid {os.getpid()}\)"):
            run_check(*args, work_root=work)
    finally:
        release.set()
        first.join(60)
    assert run_check(*args, work_root=work).n_docs == 5  # free again once the first is done
    assert not list(work.iterdir())
