"""Judges against servers that misbehave on purpose (`tests/hostile_openai.py`, loopback only).

Each test is bounded in time (pytest-timeout, and the hostile server cuts every connection after a few
seconds), so a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from curate.corpus import Document
from curate.errors import CurateError
from curate.judges.cache import FILENAME, AnswerCache, CachedAnswer
from curate.judges.client import ClientOptions, JudgeSpec, chat_completions_url, parse_judge_spec
from curate.judges.rubrics import load_rubric
from curate.judges.run import RunOptions, label_documents, run_judges
from tests.hostile_openai import HostileServer, serve
from tests.openai_stub import OpenAIStub
from tests.openai_stub import serve as serve_stub

pytestmark = pytest.mark.timeout(60)

FAST = ClientOptions(concurrency=4, timeout_s=2.0, max_retries=1, backoff_base_s=0.01, backoff_max_s=0.05)
KEY = "sk-hostile-KEYSECRET-0123456789"
URL_TOKEN = "tok-URLSECRET-987654"
BASIC = base64.b64encode(f"user:{URL_TOKEN}".encode()).decode()


@pytest.fixture
def hostile() -> HostileServer:
    return HostileServer()


@pytest.fixture
def api(hostile: HostileServer) -> Iterator[str]:
    with serve(hostile) as url:
        yield url


def docs(*texts: str) -> list[Document]:
    return [Document(f"d{i}", text, "en") for i, text in enumerate(texts)]


def options(**client: Any) -> RunOptions:
    return RunOptions(rubric=load_rubric("educational"), client=replace(FAST, **client))


def judge(docs_: list[Document], url: str, deadline: float = 30.0, **client: Any) -> list[dict[str, Any]]:
    """Label ``docs_`` with one judge, giving up (the test fails) after ``deadline`` seconds whatever happens."""
    async def bounded() -> list[dict[str, Any]]:
        result = await asyncio.wait_for(label_documents(docs_, [JudgeSpec("h", "m", url)], options(**client)),
                                        deadline)
        return result.rows

    return asyncio.run(bounded())


def with_userinfo(url: str) -> str:
    return url.replace("http://", f"http://user:{URL_TOKEN}@")


def leaks(text: str) -> list[str]:
    return [s for s in (KEY, URL_TOKEN, BASIC, "KEYSECRET", "URLSECRET") if s in text]


# ---- S2: what a server echoes back is redacted --------------------------------------------------------


def test_echoed_key_is_redacted_in_answers_and_errors(api: str, hostile: HostileServer,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    rows = judge(docs("[hostile=echo401] a", "[hostile=echo500] b", "[hostile=echo200] c"), api, max_retries=0)
    assert hostile.requests[0][1]["authorization"] == f"Bearer {KEY}"  # the key was sent, and echoed
    assert rows[2]["score"] == 3.0 and "***" in rows[2]["raw"]
    assert "HTTP 401" in rows[0]["error"] and "HTTP 500" in rows[1]["error"]
    for row in rows:
        assert not leaks(json.dumps(row)), row


def test_cli_stores_and_prints_no_key_nor_url_credentials(cli, api: str, hostile: HostileServer, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    corpus = tmp_path / "corpus.jsonl"
    texts = ["[hostile=echo401] a", "[hostile=echo500] b", "[hostile=echo200] c", "[hostile=echo200] d"]
    corpus.write_text("".join(json.dumps({"id": f"d{i}", "text": t, "lang": "en"}) + "\n"
                              for i, t in enumerate(texts)), encoding="utf-8")
    out = tmp_path / "labels.parquet"
    db = tmp_path / "store.duckdb"
    result = cli("judge", "--input", corpus, "--sample", 0, "--model", "m", "--api-base", api,
                 "--judge", f"basic=m2@{with_userinfo(api)}", "--out", out, "--max-retries", 0, "--db", db)
    assert result.code == 0, result.err
    sent = {h.get("authorization", "") for _, h in hostile.requests}
    assert sent == {f"Bearer {KEY}", f"Basic {BASIC}"}  # userinfo still authenticates the request
    rows = pq.read_table(out).to_pylist()
    assert sorted(r["score"] for r in rows if r["score"] is not None) == [3.0] * 4
    assert not leaks(json.dumps(rows, default=str))
    assert not leaks(result.out + result.err), result.err
    for path in tmp_path.glob(FILENAME + "*"):  # the SQLite file and its write-ahead log
        assert not leaks(path.read_bytes().decode("latin-1")), path
    with duckdb.connect(str(db), read_only=True) as con:
        settings = json.loads(con.execute("SELECT settings FROM pipeline_runs").fetchall()[0][0])
    assert settings["endpoints"] == {"m": api, "basic": api}
    assert not leaks(db.read_bytes().decode("latin-1"))


def test_urls_with_credentials_are_never_shown() -> None:
    spec = parse_judge_spec(f"j=m@http://user:{URL_TOKEN}@gpu1:8000/v1")
    assert spec.chat_url == f"http://user:{URL_TOKEN}@gpu1:8000/v1/chat/completions"  # used for the request
    assert not leaks(repr(spec))
    with pytest.raises(CurateError) as bad_url:
        chat_completions_url(f"ftp://user:{URL_TOKEN}@gpu1/v1")
    with pytest.raises(CurateError) as bad_spec:
        parse_judge_spec(f"=m@http://user:{URL_TOKEN}@gpu1/v1")
    assert not leaks(str(bad_url.value)) and not leaks(str(bad_spec.value))


def test_reports_and_dashboard_show_snapshot_endpoints_without_credentials(db_path: Path) -> None:
    from curate.store import Store

    with Store(db_path) as store:
        store.con.execute("INSERT INTO snapshots (taken_at, endpoint, query, status) VALUES "
                          "(now(), ?, '{}', 'complete')", [f"https://user:{URL_TOKEN}@mirror.example/hub"])
        store.con.execute("INSERT INTO listings VALUES (1, 'ko', 1, 'a/b')")
        assert store.resolve_snapshot().endpoint == "https://mirror.example/hub"
        assert store.snapshots()["endpoint"].to_list() == ["https://mirror.example/hub"]


# ---- H3: a deadline for the whole request ------------------------------------------------------------


def test_trickling_server_times_out_by_the_deadline(api: str, hostile: HostileServer) -> None:
    started = time.monotonic()
    # concurrency 1: the ok document reuses the slot the trickle was cut on
    rows = judge(docs("[hostile=trickle] slow", "fine"), api, timeout_s=1.0, max_retries=1, concurrency=1)
    elapsed = time.monotonic() - started
    assert rows[0]["score"] is None and "timeout after 1s" in rows[0]["error"], rows[0]["error"]
    assert "2 attempts" in rows[0]["error"] and hostile.count("trickle") == 2
    assert rows[1]["score"] == 3.0
    assert elapsed < 5  # two 1 s attempts; each read alone is well within 1 s, the answer never is


# ---- M1: answers are read under a size cap -----------------------------------------------------------


@pytest.mark.parametrize("mode", ["huge", "huge-declared", "gzip-bomb"])
def test_huge_answers_fail_their_document_in_bounded_memory(api: str, hostile: HostileServer, mode: str) -> None:
    tracemalloc.start()
    try:
        rows = judge(docs(f"[hostile={mode}] big", "fine"), api, max_retries=2)  # default cap: 512 KB
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows[0]["score"] is None and "larger than the 524,288-byte limit" in rows[0]["error"], rows[0]["error"]
    assert "not retried" in rows[0]["error"] and hostile.count(mode) == 1
    assert rows[1]["score"] == 3.0
    assert peak < 24 * 1024 * 1024, f"peak {peak:,} bytes"  # the server offered 48 MB (or 1.2 GB)
    assert hostile.sent[mode] < 16 * 1024 * 1024


def test_answer_size_cap_is_an_option(api: str) -> None:
    rows = judge(docs("[hostile=huge] big"), api, max_response_bytes=1024)
    assert "larger than the 1,024-byte limit" in rows[0]["error"]
    assert judge(docs("fine"), api, max_response_bytes=1024)[0]["score"] == 3.0


def test_compressed_answers_are_still_read(api: str) -> None:
    rows = judge(docs("[hostile=gzip] a", "[hostile=deflate] b", "[hostile=raw-deflate] c"), api)
    assert [r["score"] for r in rows] == [4.0, 4.0, 4.0], [r["error"] for r in rows]


def test_http_policy_is_shared_with_curate_http() -> None:
    import curate.http
    import curate.judges.client

    assert curate.judges.client.retry_after_seconds is curate.http.retry_after_seconds
    assert curate.judges.client.RETRY_STATUSES is curate.http.RETRY_STATUSES


def test_huge_error_bodies_are_cut_and_retried(api: str, hostile: HostileServer) -> None:
    rows = judge(docs("[hostile=huge500] big error"), api, max_retries=1)
    assert rows[0]["score"] is None and rows[0]["error"].startswith("HTTP 500") and "2 attempts" in rows[0]["error"]
    assert len(rows[0]["error"]) < 500 and hostile.sent["huge500"] < 2 * 16 * 1024 * 1024


# ---- H1: a server-requested wait past --max-wait ends at once -----------------------------------------


def test_retry_after_past_the_limit_fails_at_once_and_stops_the_judge(api: str, hostile: HostileServer) -> None:
    started = time.monotonic()
    rows = judge(docs(*[f"[hostile=wait-forever] doc {i}" for i in range(6)]), api, max_retries=5, concurrency=1,
                 deadline=20)
    assert time.monotonic() - started < 5
    assert hostile.count("wait-forever") == 1  # the server said it will not answer in time: not asked again
    assert "asks to wait 1,000,000,000s" in rows[0]["error"] and "--max-wait" in rows[0]["error"]
    assert all(r["score"] is None and r["error"].startswith("not sent: ") for r in rows[1:])


def test_retry_after_within_the_limit_is_honoured_and_past_it_is_not() -> None:
    stub = OpenAIStub()
    with serve_stub(stub) as url:
        started = time.monotonic()
        rows = judge(docs("[429x1][retry-after=1][score=4] wait"), url, max_wait_s=2.0)
        assert rows[0]["score"] == 4.0 and time.monotonic() - started >= 1.0
        started = time.monotonic()
        rows = judge(docs("[429x1][retry-after=3][score=4] wait longer"), url, max_wait_s=2.0)
        assert rows[0]["score"] is None and "more than the limit of 2s" in rows[0]["error"]
        assert time.monotonic() - started < 1.0


def test_cli_max_wait(cli, api: str, hostile: HostileServer, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"id": "a", "text": "[hostile=wait-forever] x", "lang": "en"}) + "\n",
                      encoding="utf-8")
    result = cli("judge", "--input", corpus, "--model", "m", "--api-base", api, "--max-wait", 60,
                 "--out", tmp_path / "l.parquet", "--no-cache")
    assert result.code == 1 and "more than the limit of 60s" in result.err and "--max-wait" in result.err


# ---- R4: an unusable cache costs a warning, not the run ---------------------------------------------


class FullCache(AnswerCache):
    def put(self, key: str, model: str, answer: CachedAnswer) -> None:
        raise sqlite3.OperationalError("database or disk is full")


def test_cache_that_cannot_be_written_is_skipped_with_one_warning(api: str, tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    with FullCache(tmp_path / FILENAME) as cache:
        result = run_judges(docs("one", "two", "three"), [JudgeSpec("a", "m1", api), JudgeSpec("b", "m2", api)],
                            options(), cache)
    assert [r["score"] for r in result.rows] == [3.0] * 6
    warnings = [r for r in caplog.records if "answer cache" in r.getMessage()]
    assert len(warnings) == 1 and "disk is full" in warnings[0].getMessage()


class LockedCache(AnswerCache):
    def get(self, key: str) -> CachedAnswer | None:
        raise sqlite3.OperationalError("database is locked")


def test_cache_that_cannot_be_read_is_skipped(api: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with LockedCache(tmp_path / FILENAME) as cache:
        result = run_judges(docs("one", "two"), [JudgeSpec("a", "m1", api)], options(), cache)
    assert [r["score"] for r in result.rows] == [3.0, 3.0]
    assert sum("answer cache" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("broken", ["not-a-directory", "not-a-database"])
def test_cli_judges_without_a_cache_that_cannot_be_opened(cli, api: str, tmp_path: Path, broken: str) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"id": "a", "text": "x", "lang": "en"}) + "\n", encoding="utf-8")
    if broken == "not-a-directory":  # a read-only or missing disk, without needing a non-root user
        (tmp_path / "file").write_text("x", encoding="utf-8")
        cache = tmp_path / "file" / "cache"
    else:
        cache = tmp_path / "cache"
        cache.mkdir()
        (cache / FILENAME).write_bytes(b"this is not an SQLite database" * 100)
    result = cli("judge", "--input", corpus, "--model", "m", "--api-base", api, "--cache", cache,
                 "--out", tmp_path / "l.parquet")
    assert result.code == 0, result.err
    assert "answer cache" in result.err and "cannot be opened" in result.err
    assert pq.read_table(tmp_path / "l.parquet").column("score").to_pylist() == [3.0]


def test_an_unreachable_judge_fails_in_seconds_with_one_line(tmp_path: Path, cli) -> None:
    """Connection refused is not transient: no backoff per document, one clear error (it took minutes)."""
    import socket
    import time as clock

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(f'{{"id": "{i}", "lang": "en", "text": "document number {i}"}}\n' for i in range(300)),
                      encoding="utf-8")
    started = clock.monotonic()
    result = cli("judge", "--input", corpus, "--sample", "300", "--model", "m", "--api-base",
                 f"http://127.0.0.1:{port}/v1", "--out", tmp_path / "labels.parquet", "--no-cache",
                 "--db", tmp_path / "s.duckdb")
    assert clock.monotonic() - started < 10
    assert result.code == 1
    errors = [ln for ln in result.err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "cannot connect" in errors[0]
