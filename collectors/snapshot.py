"""`curate snapshot`: list the most-downloaded datasets of some languages and store them with their cards.

Listing goes through `HfApi.list_datasets` (one paged request stream per language). Cards and author
look-ups are independent requests, so they run in a thread pool over huggingface_hub's shared HTTP client
with its `http_backoff` (retries on 5xx, timeouts, broken connections), paced by a `Pacer` that spaces
requests and holds every thread on a 429. Only the main thread writes to the store, in small batches, so a
killed run keeps everything written so far and ``resume`` fetches only what is missing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx2
import polars as pl
from huggingface_hub import DatasetCard, HfApi, hf_hub_url
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import build_hf_headers, http_backoff

from collectors.pacing import Pacer
from curate import config
from curate.errors import CurateError
from curate.progress import track
from curate.store import Store

log = logging.getLogger("curate.snapshot")

EXPAND = ["author", "sha", "downloads", "downloadsAllTime", "likes", "tags", "cardData", "createdAt",
          "lastModified", "gated", "private", "disabled"]
RETRY_STATUSES = (408, 500, 502, 503, 504)  # 429 is the Pacer's: it pauses every thread, not one
FINAL_STATUSES = (401, 403, 404, 410, 451)  # resume does not ask again for these


@dataclass
class SnapshotOptions:
    """What to snapshot and how hard to push the Hub."""

    langs: list[str]
    top: int = 700
    sort: str = "downloads"
    endpoint: str | None = None
    concurrency: int = 16
    rate: float | None = 9.0  # requests/s: the anonymous resolver quota is 3,000 per 5 minutes
    authors: bool = True
    timeout: float = 30.0
    max_retries: int = 5
    base_wait: float = 1.0
    max_429_retries: int = 8


@dataclass
class SnapshotSummary:
    snapshot_id: int
    endpoint: str
    listed: dict[str, int] = field(default_factory=dict)
    cards: int = 0
    errors: int = 0
    authors: int = 0
    seconds: float = 0.0
    resumed: bool = False


@dataclass
class _Fetched:
    kind: str  # card | author | error
    row: dict[str, Any]
    extra_error: dict[str, Any] | None = None


def _now() -> datetime:
    return datetime.now(UTC)


class _Fetcher:
    """Worker-side HTTP: one request at a time per thread, paced together."""

    def __init__(self, opts: SnapshotOptions, endpoint: str, token: str | None, pacer: Pacer) -> None:
        self.opts = opts
        self.endpoint = endpoint
        self.headers = build_hf_headers(token=token or False)
        self.pacer = pacer

    def get(self, url: str) -> httpx2.Response:
        """GET with backoff on transient failures and a shared pause on 429s."""
        for _ in range(self.opts.max_429_retries + 1):
            self.pacer.wait()
            response = http_backoff(
                "GET", url, headers=self.headers, timeout=self.opts.timeout, max_retries=self.opts.max_retries,
                base_wait_time=self.opts.base_wait, max_wait_time=8 * self.opts.base_wait,
                retry_on_status_codes=RETRY_STATUSES, follow_redirects=True,
            )
            waited = self.pacer.observe(response.status_code, response.headers)
            if response.status_code != 429:
                return response
            log.info("rate limited by the Hub: every request waits %.1fs", waited or 0)
        return response

    def card(self, snapshot_id: int, repo_id: str, revision: str | None) -> _Fetched:
        url = hf_hub_url(repo_id, "README.md", repo_type="dataset", revision=revision or "main",
                         endpoint=self.endpoint)
        try:
            response = self.get(url)
        except HfHubHTTPError as exc:
            status = exc.response.status_code if exc.response is not None else None
            return _error(snapshot_id, repo_id, "card", f"HTTP {status} after retries", status)
        except Exception as exc:  # timeouts and broken connections that outlived the retries
            return _error(snapshot_id, repo_id, "card", f"{type(exc).__name__}: {exc}", None)
        status = response.status_code
        if status != 200:
            return _error(snapshot_id, repo_id, "card", _status_message(status, response), status)
        raw = response.content
        try:
            text, bad = raw.decode("utf-8"), False
        except UnicodeDecodeError:
            text, bad = raw.decode("utf-8", errors="replace"), True
        row = {"snapshot_id": snapshot_id, "repo_id": repo_id,
               "sha": response.headers.get("x-repo-commit") or revision, "text": text, "bytes": len(raw),
               "decode_errors": bad, "fetched_at": _now()}
        yaml_error = None
        try:
            DatasetCard(text, ignore_metadata_errors=True)
        except Exception as exc:
            yaml_error = _error(snapshot_id, repo_id, "yaml", f"card YAML header: {_one_line(exc)}", None).row
        return _Fetched("card", row, yaml_error)

    def author(self, snapshot_id: int, name: str) -> _Fetched:
        for route, kind in (("users", "user"), ("organizations", "org")):
            try:
                response = self.get(f"{self.endpoint}/api/{route}/{name}/overview")
            except Exception as exc:
                return _error(snapshot_id, None, "author", f"{name}: {type(exc).__name__}: {exc}", None)
            if response.status_code == 200:
                try:
                    fullname = response.json().get("fullname")
                except ValueError:
                    fullname = None
                return _Fetched("author", {"snapshot_id": snapshot_id, "name": name, "kind": kind,
                                           "fullname": fullname})
            if response.status_code != 404:
                return _error(snapshot_id, None, "author", f"{name}: HTTP {response.status_code}",
                              response.status_code)
        return _Fetched("author", {"snapshot_id": snapshot_id, "name": name, "kind": "unknown", "fullname": None})


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def _status_message(status: int, response: httpx2.Response) -> str:
    if status == 401:
        return "gated dataset: set HF_TOKEN with access to fetch its card"
    if status == 403:
        return "access denied (disabled, or gated without access)"
    if status == 404:
        return "no README.md card"
    return f"HTTP {status}: {response.headers.get('x-error-message', '')}".strip()


def _error(snapshot_id: int, repo_id: str | None, stage: str, message: str, status: int | None) -> _Fetched:
    return _Fetched("error", {"snapshot_id": snapshot_id, "repo_id": repo_id, "stage": stage, "status": status,
                              "message": message, "recorded_at": _now()})


def _dataset_row(snapshot_id: int, info: Any) -> dict[str, Any]:
    card_data = info.card_data.to_dict() if info.card_data is not None else None
    gated = info.gated
    return {
        "snapshot_id": snapshot_id, "repo_id": info.id, "author": info.author or info.id.split("/")[0],
        "sha": info.sha, "downloads": info.downloads, "downloads_all_time": info.downloads_all_time,
        "likes": info.likes, "tags": list(info.tags or []),
        "card_data": json.dumps(card_data, default=str, ensure_ascii=False) if card_data else None,
        "created_at": info.created_at, "last_modified": info.last_modified,
        "gated": str(gated).lower() if gated is not None else None,
        "private": info.private, "disabled": info.disabled,
    }


_DATASET_SCHEMA = {
    "snapshot_id": pl.Int32, "repo_id": pl.Utf8, "author": pl.Utf8, "sha": pl.Utf8, "downloads": pl.Int64,
    "downloads_all_time": pl.Int64, "likes": pl.Int64, "tags": pl.List(pl.Utf8), "card_data": pl.Utf8,
    "created_at": pl.Datetime("us", "UTC"), "last_modified": pl.Datetime("us", "UTC"), "gated": pl.Utf8,
    "private": pl.Boolean, "disabled": pl.Boolean,
}


class _Writer:
    """Main-thread writes, batched: a crash loses at most one unflushed batch of fetched work."""

    def __init__(self, store: Store, every: int = 50, seconds: float = 1.0) -> None:
        self.store = store
        self.every = every
        self.seconds = seconds
        self.pending: dict[str, list[dict[str, Any]]] = {"cards": [], "errors": [], "authors": []}
        self._last = time.monotonic()

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.pending[table].append(row)
        if sum(map(len, self.pending.values())) >= self.every or time.monotonic() - self._last > self.seconds:
            self.flush()

    def flush(self) -> None:
        con = self.store.con
        con.execute("BEGIN TRANSACTION")
        for table, rows in self.pending.items():
            if rows:
                frame = pl.DataFrame(rows, infer_schema_length=None)
                cols = ", ".join(frame.columns)
                con.execute(f"INSERT OR REPLACE INTO {table} ({cols}) SELECT {cols} FROM frame"
                            if table != "errors" else f"INSERT INTO {table} ({cols}) SELECT {cols} FROM frame")
        con.execute("COMMIT")
        for rows in self.pending.values():
            rows.clear()
        self._last = time.monotonic()


def _start(store: Store, opts: SnapshotOptions, endpoint: str, resume: int | bool | None) -> tuple[int, bool]:
    con = store.con
    if resume:
        if resume is True:
            row = con.execute("SELECT id, query FROM snapshots WHERE status <> 'complete' ORDER BY id DESC LIMIT 1"
                              ).fetchone()
            if row is None:
                raise CurateError("nothing to resume: every snapshot in the store is complete")
        else:
            row = con.execute("SELECT id, query FROM snapshots WHERE id = ?", [resume]).fetchone()
            if row is None:
                raise CurateError(f"no snapshot {resume} in {store.path}")
        query = json.loads(row[1])
        opts.langs = list(dict.fromkeys([*query["langs"], *opts.langs]))
        opts.top, opts.sort = query["top"], query["sort"]
        con.execute("UPDATE snapshots SET status = 'running', query = ? WHERE id = ?",
                    [json.dumps({"langs": opts.langs, "top": opts.top, "sort": opts.sort}), row[0]])
        return int(row[0]), True
    query = json.dumps({"langs": opts.langs, "top": opts.top, "sort": opts.sort})
    snapshot_id = con.execute(
        "INSERT INTO snapshots (taken_at, endpoint, query, status) VALUES (?, ?, ?, 'running') RETURNING id",
        [_now(), endpoint, query]).fetchone()[0]
    return int(snapshot_id), False


def _list_language(api: HfApi, lang: str, opts: SnapshotOptions, attempts: int = 3) -> list[Any]:
    """The top datasets of one language. A listing that breaks mid-way (a page that is not JSON, a page
    that still fails after http_backoff's retries) is started again, up to ``attempts`` times."""
    last: Exception | None = None
    for attempt in range(attempts):
        try:
            return list(api.list_datasets(filter=f"language:{lang}", sort=opts.sort, limit=opts.top,
                                          expand=EXPAND))  # type: ignore[arg-type]
        except (ValueError, HfHubHTTPError, httpx2.HTTPError) as exc:
            last = exc
            log.warning("listing language:%s failed (%s); retrying", lang, _one_line(exc))
            time.sleep(opts.base_wait * (2**attempt))
    raise CurateError(f"cannot list datasets for language:{lang}: {_one_line(last or Exception())}")


def _store_listing(store: Store, snapshot_id: int, lang: str, infos: list[Any]) -> None:
    rows = [_dataset_row(snapshot_id, info) for info in infos]
    dataset_rows = pl.DataFrame(rows, schema=_DATASET_SCHEMA)  # noqa: F841  (read by DuckDB below)
    listing_rows = pl.DataFrame(  # noqa: F841
        {"snapshot_id": [snapshot_id] * len(infos), "lang": [lang] * len(infos),
         "rank": list(range(1, len(infos) + 1)), "repo_id": [i.id for i in infos]},
        schema={"snapshot_id": pl.Int32, "lang": pl.Utf8, "rank": pl.Int32, "repo_id": pl.Utf8})
    con = store.con
    con.execute("BEGIN TRANSACTION")
    con.execute("INSERT OR IGNORE INTO datasets SELECT * FROM dataset_rows")
    con.execute("INSERT INTO listings SELECT * FROM listing_rows")
    con.execute("COMMIT")


def _pending_cards(store: Store, snapshot_id: int) -> list[tuple[str, str | None]]:
    """Listed datasets with neither a card nor a final error; stale transient errors are cleared."""
    con = store.con
    con.execute(f"""DELETE FROM errors WHERE snapshot_id = ? AND stage = 'card'
                    AND (status IS NULL OR status NOT IN {FINAL_STATUSES})""", [snapshot_id])
    return con.execute("""
        SELECT d.repo_id, d.sha FROM datasets d
        WHERE d.snapshot_id = $1
          AND d.repo_id NOT IN (SELECT repo_id FROM cards WHERE snapshot_id = $1)
          AND d.repo_id NOT IN (SELECT repo_id FROM errors WHERE snapshot_id = $1 AND stage = 'card')
        ORDER BY d.repo_id""", [snapshot_id]).fetchall()


def _pending_authors(store: Store, snapshot_id: int) -> list[str]:
    """Authors still unknown. Kinds learnt in earlier snapshots are reused: accounts rarely change kind,
    and the API quota is the scarcest one."""
    con = store.con
    con.execute("DELETE FROM errors WHERE snapshot_id = ? AND stage = 'author'", [snapshot_id])
    con.execute("""
        INSERT OR IGNORE INTO authors
        SELECT $1, name, arg_max(kind, snapshot_id), arg_max(fullname, snapshot_id) FROM authors
        WHERE snapshot_id <> $1 AND kind <> 'unknown'
          AND name IN (SELECT author FROM datasets WHERE snapshot_id = $1)
        GROUP BY name""", [snapshot_id])
    rows = con.execute("""
        SELECT DISTINCT author FROM datasets WHERE snapshot_id = $1 AND author IS NOT NULL
          AND author NOT IN (SELECT name FROM authors WHERE snapshot_id = $1)
        ORDER BY author""", [snapshot_id]).fetchall()
    return [r[0] for r in rows]


def take_snapshot(
    store: Store,
    opts: SnapshotOptions,
    *,
    resume: int | bool | None = None,
    token: str | None = None,
    on_listed: Callable[[str, int], None] | None = None,
) -> SnapshotSummary:
    """Take (or, with ``resume``, finish) a dated snapshot; return what it holds."""
    started = time.monotonic()
    endpoint = config.hub_endpoint(opts.endpoint)
    token = token if token is not None else config.hub_token()
    snapshot_id, resumed = _start(store, opts, endpoint, resume)
    summary = SnapshotSummary(snapshot_id, endpoint, resumed=resumed)
    api = HfApi(endpoint=endpoint, token=token or False)
    listed = {r[0] for r in store.con.execute("SELECT DISTINCT lang FROM listings WHERE snapshot_id = ?",
                                              [snapshot_id]).fetchall()}
    try:
        for lang in opts.langs:
            if lang in listed:
                continue
            infos = _list_language(api, lang, opts)
            _store_listing(store, snapshot_id, lang, infos)
            if on_listed:
                on_listed(lang, len(infos))
        _fetch_all(store, snapshot_id, opts, endpoint, token)
    except BaseException:
        store.con.execute("UPDATE snapshots SET status = 'interrupted' WHERE id = ?", [snapshot_id])
        raise
    store.con.execute("UPDATE snapshots SET status = 'complete', finished_at = ? WHERE id = ?",
                      [_now(), snapshot_id])
    con = store.con
    summary.listed = dict(con.execute("SELECT lang, count(*) FROM listings WHERE snapshot_id = ? GROUP BY lang",
                                      [snapshot_id]).fetchall())
    summary.cards = con.execute("SELECT count(*) FROM cards WHERE snapshot_id = ?", [snapshot_id]).fetchone()[0]
    summary.errors = con.execute("SELECT count(*) FROM errors WHERE snapshot_id = ?", [snapshot_id]).fetchone()[0]
    summary.authors = con.execute("SELECT count(*) FROM authors WHERE snapshot_id = ?", [snapshot_id]).fetchone()[0]
    summary.seconds = time.monotonic() - started
    return summary


def _fetch_all(store: Store, snapshot_id: int, opts: SnapshotOptions, endpoint: str, token: str | None) -> None:
    cards = _pending_cards(store, snapshot_id)
    authors = _pending_authors(store, snapshot_id) if opts.authors else []
    if not cards and not authors:
        return
    fetcher = _Fetcher(opts, endpoint, token, Pacer(opts.rate))
    writer = _Writer(store)
    with track("cards and authors", total=len(cards) + len(authors), unit="requests") as progress, \
            ThreadPoolExecutor(max_workers=max(1, opts.concurrency), thread_name_prefix="curate-fetch") as pool:
        jobs = [(fetcher.card, (snapshot_id, repo, sha)) for repo, sha in cards]
        jobs += [(fetcher.author, (snapshot_id, name)) for name in authors]
        queue = iter(jobs)
        running: set[Future[_Fetched]] = set()
        # Keep a bounded window of submitted work so an interrupt does not leave thousands queued.
        for fn, args in queue:
            running.add(pool.submit(fn, *args))
            if len(running) >= opts.concurrency * 2:
                break
        try:
            while running:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    fetched = future.result()
                    table = {"card": "cards", "author": "authors", "error": "errors"}[fetched.kind]
                    writer.add(table, fetched.row)
                    if fetched.extra_error:
                        writer.add("errors", fetched.extra_error)
                    progress.advance()
                    nxt = next(queue, None)
                    if nxt is not None:
                        running.add(pool.submit(nxt[0], *nxt[1]))
        finally:
            for future in running:
                future.cancel()
            writer.flush()
