"""`curate snapshot`: list the most-downloaded datasets of some languages and store them with their cards.

The Hub (or a mirror) is not trusted to be well-behaved, so every request goes through one client of curate's
own (`curate.http.sync_client`) with the policy of `curate.http`:

- listing pages are fetched by curate's own pager (the request `HfApi.list_datasets` builds, each record
  parsed with `DatasetInfo` as it does). ``HF_TOKEN`` only goes to the configured endpoint's origin: a
  ``Link: rel="next"`` to another origin is not followed (an error row says so), a link back to a page already
  read ends the listing, and a listing never reads more pages than ``--top`` needs;
- each listing record is checked on its own (repo id shape, field types): a bad one becomes an error row
  (stage ``listing``), the rest of the language is stored. Repo ids are validated before any URL is built
  from them, and quoted when they are;
- cards and author look-ups run in thread pools, paced by a `Pacer` that spends the quota the Hub announces
  (``RateLimit`` headers) evenly over each window, per bucket, and holds a bucket on a 429 (``--rate`` caps
  it further). Each request has a total deadline (``--timeout``: a trickling server cannot hold a thread)
  and a size cap (``--max-card-bytes`` for cards; listing pages and author records have fixed caps). A card
  over the cap is an error row;
- a wait the server asks for (``Retry-After``, a ``RateLimit`` reset) beyond ``--max-wait`` ends the run at
  once with one line saying when to ``--resume``; Ctrl-C and SIGTERM stop every worker at once. Both leave the
  snapshot ``interrupted``, to be finished by ``--resume`` against the endpoint it was taken from.

Only the main thread writes to the store, in small batches, so a killed run keeps everything written so far
and ``resume`` fetches only what is missing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import queue
import re
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx2
import polars as pl
from huggingface_hub import constants as hf_constants
from huggingface_hub.utils import build_hf_headers

from collectors.pacing import Pacer, Ticket, bucket_of
from collectors.records import DATASET_SCHEMA as _DATASET_SCHEMA
from collectors.records import ERROR_SCHEMA as _ERROR_SCHEMA
from collectors.records import REVISION as _REVISION
from collectors.records import BadRecord as _BadRecord
from collectors.records import card_metadata, error_row, record_row, repo_id_problem
from collectors.records import json_type as _json_type
from collectors.records import name_problem as _name_problem
from collectors.records import one_line as _one_line
from collectors.records import shown as _shown
from collectors.records import utf8_clean as _utf8_clean
from curate import config, http
from curate.errors import CurateError
from curate.progress import track
from curate.store import Store

log = logging.getLogger("curate.snapshot")

EXPAND = ["author", "sha", "downloads", "downloadsAllTime", "likes", "tags", "cardData", "createdAt",
          "lastModified", "gated", "private", "disabled"]
FINAL_STATUSES = (401, 403, 404, 410, 451)  # resume does not ask again for these
DEFAULT_MAX_CARD_BYTES = http.DEFAULT_MAX_CARD_BYTES
MAX_PAGE_BYTES = 50_000_000  # a listing page of 1,000 full records is a few MB
MAX_AUTHOR_BYTES = 1_000_000
PAGE_ATTEMPTS = 3  # a listing page that is not a JSON array is fetched again this many times in all
_SORT_NAMES = {"last_modified": "lastModified", "trending_score": "trendingScore", "created_at": "createdAt"}


@dataclass
class SnapshotOptions:
    """What to snapshot and how hard to push the Hub."""

    langs: list[str]
    top: int = 700
    sort: str = "downloads"
    endpoint: str | None = None
    concurrency: int = 16
    rate: float | None = None  # a cap in requests/s across buckets; the Hub's announced quota paces anyway
    authors: bool = True
    timeout: float = 30.0  # seconds for a whole request (connect, headers, body), then it is retried
    max_retries: int = 5
    base_wait: float = 1.0
    max_429_retries: int = 8
    max_wait: float | None = http.DEFAULT_MAX_WAIT_S  # a longer server-requested wait ends the run
    max_card_bytes: int = DEFAULT_MAX_CARD_BYTES


@dataclass
class SnapshotSummary:
    snapshot_id: int
    endpoint: str  # without credentials
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


class SnapshotInterrupted(CurateError):
    """Ctrl-C or SIGTERM: the snapshot is marked ``interrupted`` and can be finished with ``--resume``."""


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so the run unwinds as on Ctrl-C."""



class _BadPage(Exception):
    """A listing page that is not a JSON array at all (cut short, HTML...): fetched again."""


def _now() -> datetime:
    return datetime.now(UTC)



# -- listing pages --------------------------------------------------------------------------------------

_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|"|[\[\]{},]', re.DOTALL)
_ID_HINT = re.compile(r'"id"\s*:\s*"([^"\\]{1,200})"')


def _split_array(text: str) -> list[str]:
    """The texts of the top-level elements of a JSON array, found without recursion (deep pages).

    `_BadPage` when ``text`` is not one complete array (a page cut short must be fetched again).
    """
    stripped = text.lstrip()
    if not stripped.startswith("["):
        raise _BadPage("not a JSON array")
    offset = len(text) - len(stripped)
    depth, start, parts = 0, offset + 1, []
    for m in _TOKENS.finditer(text, offset):
        tok = m.group()
        if tok == '"':
            raise _BadPage("unterminated string")
        if tok[0] == '"':
            continue
        if tok in "[{":
            depth += 1
        elif tok in "]}":
            depth -= 1
            if depth == 0:
                if tok != "]" or text[m.end():].strip():
                    raise _BadPage("not a single JSON array")
                last = text[start:m.start()]
                if last.strip() or parts:
                    parts.append(last)
                return parts
        elif depth == 1:  # a comma between top-level elements
            parts.append(text[start:m.start()])
            start = m.end()
    raise _BadPage("JSON array cut short")


def page_records(body: bytes) -> list[tuple[object, str | None]]:
    """A listing page as (record, None) for each element that parses, (repo id hint, reason) otherwise.

    The fast path is one ``json.loads``. A page it refuses (nested too deep, a 5,000-digit number) is split
    into its elements so that one hostile record does not take its page down with it.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _BadPage(f"not UTF-8: {exc}") from exc
    try:
        page = json.loads(text)
    except (ValueError, RecursionError):
        pass
    else:
        if not isinstance(page, list):
            raise _BadPage(f"{_json_type(page)}, not a JSON array")
        return [(rec, None) for rec in page]
    out: list[tuple[object, str | None]] = []
    for part in _split_array(text):
        try:
            out.append((json.loads(part), None))
        except RecursionError:
            hint = _ID_HINT.search(part[:4096])
            out.append((hint.group(1) if hint else None, "record nested too deep to parse"))
        except ValueError as exc:
            hint = _ID_HINT.search(part[:4096])
            out.append((hint.group(1) if hint else None, f"record is not JSON: {_one_line(exc)[:120]}"))
    return out


def _listing_url(endpoint: str, lang: str, opts: SnapshotOptions) -> str:
    params = [("filter", f"language:{lang}"), ("sort", _SORT_NAMES.get(opts.sort, opts.sort)),
              ("limit", str(opts.top)), *(("expand", e) for e in EXPAND)]
    return f"{endpoint}/api/datasets?{urlencode(params)}"


def _page_key(url: str) -> tuple[Any, ...]:
    parts = urlsplit(url)
    return (*http.origin(url), parts.path, tuple(sorted(parse_qsl(parts.query, keep_blank_values=True))))


def _on_endpoint(url: str, endpoint: str) -> str:
    """A same-origin ``url`` re-rooted on ``endpoint``'s netloc, so credentials in the endpoint URL still apply."""
    base, target = urlsplit(endpoint), urlsplit(url)
    return urlunsplit((base.scheme, base.netloc, target.path, target.query, ""))


@dataclass
class Listing:
    """One language's listing so far: rows to store in rank order, and error rows for what could not be."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0
    ids: set[str] = field(default_factory=set)

    def add(self, snapshot_id: int, lang: str, records: list[tuple[object, str | None]], top: int) -> None:
        """Take one page (`page_records`): each record becomes a row or an error row; repeats are dropped."""
        self.pages += 1
        for record, reason in records:
            if reason is not None:
                self.errors.append(_listing_error(snapshot_id, record, f"language:{lang}: {reason}"))
                continue
            try:
                row = record_row(snapshot_id, record)
            except _BadRecord as exc:
                self.errors.append(_listing_error(snapshot_id, exc.repo_id, f"language:{lang}: {exc}"))
                continue
            if row["repo_id"] not in self.ids and len(self.rows) < top:
                self.ids.add(row["repo_id"])
                self.rows.append(row)


def _listing_error(snapshot_id: int, repo_id: object, message: str, status: int | None = None) -> dict[str, Any]:
    rid = repo_id if isinstance(repo_id, str) and not repo_id_problem(repo_id) else (
        _shown(repo_id, 200) if isinstance(repo_id, str) else None)
    return _error(snapshot_id, rid, "listing", message, status).row


# -- HTTP -----------------------------------------------------------------------------------------------

def _error(snapshot_id: int, repo_id: str | None, stage: str, message: str, status: int | None) -> _Fetched:
    return _Fetched("error", error_row(snapshot_id, repo_id, stage, message, status))


def _status_message(status: int, headers: httpx2.Headers, secrets: list[str]) -> str:
    if status == 401:
        return "gated dataset: set HF_TOKEN with access to fetch its card"
    if status == 403:
        return "access denied (disabled, or gated without access)"
    if status == 404:
        return "no README.md card"
    said = http.redact(_shown(headers.get("x-error-message", ""), 200), secrets)
    return f"HTTP {status}: {said}".strip()


def card_result(snapshot_id: int, repo_id: str, revision: str | None, status: int, headers: httpx2.Headers,
                raw: bytes, secrets: list[str] | None = None) -> _Fetched:
    """A fetched card (or its failure) as the rows to store."""
    if status != 200:
        return _error(snapshot_id, repo_id, "card", _status_message(status, headers, secrets or []), status)
    try:
        text, bad = raw.decode("utf-8"), False
    except UnicodeDecodeError:
        text, bad = raw.decode("utf-8", errors="replace"), True
    sha = headers.get("x-repo-commit") or revision
    if sha and not _REVISION.fullmatch(sha):
        sha = _shown(sha, 200)
    row = {"snapshot_id": snapshot_id, "repo_id": repo_id, "sha": sha or None, "text": text,
           "bytes": len(raw), "decode_errors": bad, "fetched_at": _now()}
    yaml_error = None
    try:
        card_metadata(text)
    except Exception as exc:  # any YAML header the card parser refuses, however broken
        yaml_error = _error(snapshot_id, repo_id, "yaml", f"card YAML header: {_shown(_one_line(exc), 300)}",
                            None).row
    return _Fetched("card", row, yaml_error)


class _Fetcher:
    """HTTP for one snapshot: one client, one pacer, token only for the endpoint's origin."""

    def __init__(self, opts: SnapshotOptions, endpoint: str, token: str | None, hint: str) -> None:
        self.opts = opts
        self.endpoint = endpoint
        self._prefix = endpoint + "/"  # URLs built here start with it: same origin without parsing them
        self.secrets = [s for s in (token, *http.url_secrets(endpoint)) if s]
        self.headers = build_hf_headers(token=token or False)
        self.pacer = Pacer(opts.rate, opts.max_wait, hint, what=http.public_url(endpoint))
        self.policy = http.RetryPolicy(timeout=opts.timeout, max_retries=opts.max_retries,
                                       base_wait=opts.base_wait, max_backoff=8 * opts.base_wait,
                                       max_wait=opts.max_wait, hint=hint)
        # Cards and authors have a pool of workers each (`_fetch_all`); this bounds their requests in flight.
        self._slots = threading.BoundedSemaphore(max(1, opts.concurrency))
        self.client = http.sync_client(timeout=opts.timeout, max_connections=max(1, opts.concurrency) + 1,
                                       stop=self.pacer.stop_event)
        self.reached = False  # whether the endpoint has answered any request yet

    def _acquire_slot(self) -> None:
        while not self._slots.acquire(timeout=0.25):
            if self.pacer.stop_event.is_set():
                raise http.Cancelled("the run is stopping")

    def get(self, url: str, limit: int) -> http.Reply:
        """GET paced by the Hub's quota for its bucket (`Pacer`), with backoff on transient failures
        (`curate.http.get`) and a pause of the bucket on 429s."""
        if url.startswith(self._prefix) or http.same_origin(url, self.endpoint):
            headers = self.headers
        else:
            headers = {"user-agent": self.headers["user-agent"]}
        bucket = bucket_of(url)
        for _ in range(self.opts.max_429_retries + 1):
            ticket = self.pacer.wait(bucket)
            reply = self._send(ticket, url, limit, headers)
            if reply.status_code != 429:
                return reply
            log.info("rate limited by the Hub: %s requests wait %.1fs", bucket, self.pacer.paused_for(bucket))
        return reply

    def _send(self, ticket: Ticket, url: str, limit: int, headers: dict[str, str]) -> http.Reply:
        """One paced request; its answer (or the lack of one) goes back to the pacer whatever happens."""
        try:
            # Until the Hub has answered once, a refused connection or unknown host is not retried: offline or
            # a wrong --endpoint should fail in seconds, not after minutes of backoff.
            policy = self.policy if self.reached else replace(self.policy, connect_final=True)
            self._acquire_slot()
            try:
                reply = http.get(self.client, url, limit=limit, policy=policy, headers=headers,
                                 sleep=self.pacer.sleep)
            finally:
                self._slots.release()
        except BaseException:
            self.pacer.observe(ticket, None, None)
            raise
        self.reached = True
        self.pacer.observe(ticket, reply.status_code, reply.headers)
        return reply

    def card(self, snapshot_id: int, repo_id: str, revision: str | None) -> _Fetched:
        problem = repo_id_problem(repo_id)
        if problem:
            return _error(snapshot_id, _shown(repo_id, 200), "card", f"invalid repo id: {problem}", None)
        revision = revision or "main"
        if not _REVISION.fullmatch(revision):
            return _error(snapshot_id, repo_id, "card", f"invalid revision {_shown(revision, 60)}", None)
        owner, name = repo_id.split("/")
        url = f"{self.endpoint}/datasets/{quote(owner, safe='')}/{quote(name, safe='')}/resolve/" \
              f"{quote(revision, safe='')}/README.md"
        try:
            reply = self.get(url, self.opts.max_card_bytes)
        except (http.WaitTooLong, http.Cancelled):
            raise
        except http.BodyTooLarge as exc:
            return _error(snapshot_id, repo_id, "card",
                          f"card {exc} (--max-card-bytes {self.opts.max_card_bytes:,}); not stored", None)
        except Exception as exc:  # timeouts and broken connections that outlived the retries
            return _error(snapshot_id, repo_id, "card", http.redact(f"{type(exc).__name__}: {_one_line(exc)}",
                                                                    self.secrets), None)
        return card_result(snapshot_id, repo_id, revision, reply.status_code, reply.headers, reply.content,
                           self.secrets)

    def author(self, snapshot_id: int, name: str) -> _Fetched:
        problem = _name_problem(name) if isinstance(name, str) else "not a string"
        if problem:
            return _error(snapshot_id, None, "author", f"{_shown(name, 100)}: invalid name: {problem}", None)
        for route, kind in (("users", "user"), ("organizations", "org")):
            try:
                reply = self.get(f"{self.endpoint}/api/{route}/{quote(name, safe='')}/overview", MAX_AUTHOR_BYTES)
            except (http.WaitTooLong, http.Cancelled):
                raise
            except Exception as exc:
                return _error(snapshot_id, None, "author",
                              http.redact(f"{name}: {type(exc).__name__}: {_one_line(exc)}", self.secrets), None)
            if reply.status_code == 200:
                try:
                    body = reply.json()
                except (ValueError, RecursionError):
                    body = None
                fullname = body.get("fullname") if isinstance(body, dict) else None
                if not isinstance(fullname, str) or not _utf8_clean(fullname):
                    fullname = None
                return _Fetched("author", {"snapshot_id": snapshot_id, "name": name, "kind": kind,
                                           "fullname": fullname})
            if reply.status_code != 404:
                return _error(snapshot_id, None, "author", f"{name}: HTTP {reply.status_code}", reply.status_code)
        return _Fetched("author", {"snapshot_id": snapshot_id, "name": name, "kind": "unknown", "fullname": None})

    def list_language(self, snapshot_id: int, lang: str) -> Listing:
        """The top datasets of one language, page by page, with the guards of the module docstring."""
        opts, out = self.opts, Listing()
        url: str | None = _listing_url(self.endpoint, lang, opts)
        seen: set[tuple[Any, ...]] = set()
        max_pages: int | None = None
        while url is not None and len(out.rows) < opts.top:
            key = _page_key(url)
            if key in seen:
                out.errors.append(_listing_error(snapshot_id, None, f"language:{lang}: the next-page link goes back "
                                                 f"to a page already read; listing stopped after {out.pages} pages"))
                break
            seen.add(key)
            self.pacer.plan(bucket_of(url), 1)  # one page at a time: nothing to spread
            records, nxt = self._page(url, lang)
            out.add(snapshot_id, lang, records, opts.top)
            if max_pages is None:  # the page size is known from the first page: --top needs this many pages
                max_pages = math.ceil(opts.top / len(records)) if records else 1
            if nxt is None or out.pages >= max_pages:
                if nxt is not None and len(out.rows) < opts.top:
                    log.warning("language:%s: stopped after %d pages (enough for --top %d)", lang, out.pages,
                                opts.top)
                break
            if not http.same_origin(nxt, self.endpoint):
                out.errors.append(_listing_error(
                    snapshot_id, None, f"language:{lang}: the next-page link leads to another origin "
                    f"({_shown(http.public_url(nxt), 200)}); not followed: the listing and the token stay on "
                    f"{http.public_url(self.endpoint)}"))
                break
            url = _on_endpoint(nxt, self.endpoint)
        return out

    def _page(self, url: str, lang: str) -> tuple[list[tuple[object, str | None]], str | None]:
        """One listing page's records and next link; a page that is not a JSON array is fetched again, then fails the run."""
        problem = ""
        for attempt in range(PAGE_ATTEMPTS):
            try:
                reply = self.get(url, MAX_PAGE_BYTES)
            except (http.WaitTooLong, http.Cancelled):
                raise
            except http.BodyTooLarge as exc:
                raise CurateError(f"cannot list datasets for language:{lang}: a page is {exc}") from exc
            except httpx2.HTTPError as exc:
                raise CurateError(f"cannot list datasets for language:{lang}: "
                                  f"{http.redact(_one_line(exc), self.secrets)}") from exc
            if reply.status_code != 200:
                raise CurateError(f"cannot list datasets for language:{lang}: "
                                  f"{_status_message(reply.status_code, reply.headers, self.secrets)}")
            try:
                records = page_records(reply.content)
            except _BadPage as exc:
                problem = str(exc)
                log.warning("listing language:%s: a page is %s; fetching it again", lang, problem)
                self.pacer.sleep(self.opts.base_wait * (2**attempt))
                continue
            return records, reply.next_url
        raise CurateError(f"cannot list datasets for language:{lang}: a page is {problem}")

    def close(self) -> None:
        self.client.close()


# -- the store ------------------------------------------------------------------------------------------



@contextlib.contextmanager
def _transaction(store: Store) -> Iterator[None]:
    """BEGIN ... COMMIT, rolled back on anything (Ctrl-C included) so the connection stays usable."""
    con = store.con
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


class _Writer:
    """Main-thread writes, batched: a crash loses at most one unflushed batch of fetched work.

    A batch is a transaction and a DataFrame per table, a fixed cost of milliseconds: a second's worth of rows
    (up to 500) keeps it a small part of each request, and a killed run loses about a second of work.
    """

    def __init__(self, store: Store, every: int = 500, seconds: float = 1.0) -> None:
        self.store = store
        self.every = every
        self.seconds = seconds
        self.pending: dict[str, list[dict[str, Any]]] = {"cards": [], "errors": [], "authors": []}
        self._rows = 0
        self._last = time.monotonic()

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.pending[table].append(row)
        self._rows += 1
        if self._rows >= self.every or time.monotonic() - self._last > self.seconds:
            self.flush()

    def flush(self) -> None:
        con = self.store.con
        with _transaction(self.store):
            for table, rows in self.pending.items():
                if rows:
                    frame = (pl.DataFrame(rows, schema=_ERROR_SCHEMA) if table == "errors"
                             else pl.DataFrame(rows, infer_schema_length=None))
                    cols = ", ".join(frame.columns)
                    con.execute(f"INSERT OR REPLACE INTO {table} ({cols}) SELECT {cols} FROM frame"
                                if table != "errors" else f"INSERT INTO {table} ({cols}) SELECT {cols} FROM frame")
        for rows in self.pending.values():
            rows.clear()
        self._rows = 0
        self._last = time.monotonic()


def store_listing(store: Store, snapshot_id: int, lang: str, listing: Listing) -> None:
    rows = listing.rows
    dataset_rows = pl.DataFrame(rows, schema=_DATASET_SCHEMA)  # noqa: F841  (read by DuckDB below)
    listing_rows = pl.DataFrame(  # noqa: F841
        {"snapshot_id": [snapshot_id] * len(rows), "lang": [lang] * len(rows),
         "rank": list(range(1, len(rows) + 1)), "repo_id": [r["repo_id"] for r in rows]},
        schema={"snapshot_id": pl.Int32, "lang": pl.Utf8, "rank": pl.Int32, "repo_id": pl.Utf8})
    error_rows = pl.DataFrame(listing.errors, schema=_ERROR_SCHEMA)  # noqa: F841
    con = store.con
    with _transaction(store):
        con.execute("INSERT OR IGNORE INTO datasets SELECT * FROM dataset_rows")
        con.execute("INSERT INTO listings SELECT * FROM listing_rows")
        con.execute(f"INSERT INTO errors ({', '.join(_ERROR_SCHEMA)}) SELECT * FROM error_rows")


def check_online() -> None:
    """A snapshot needs the Hub (or a mirror): fail at once, in one line, when huggingface_hub is told it is offline."""
    if hf_constants.is_offline_mode():
        raise CurateError("HF_HUB_OFFLINE is set: a snapshot needs the Hub (unset it, or point HF_ENDPOINT at a "
                          "mirror: `curate hub serve`)")


def resume_endpoint(snapshot_id: int, stored: str, given: str | None) -> str:
    """The endpoint to finish a snapshot from: where it was taken (``stored``). ``--endpoint`` may only name the same
    place (with credentials that were not stored); ``HF_ENDPOINT`` is used when it is that place, else ignored."""
    stored = stored.rstrip("/")
    if given:
        endpoint = config.hub_endpoint(given)
        if http.public_url(endpoint) != http.public_url(stored):
            raise CurateError(f"snapshot {snapshot_id} was taken from {http.public_url(stored)}; resuming it from "
                              f"--endpoint {http.public_url(endpoint)} would mix sources (leave --endpoint out)")
        return endpoint  # the same place, maybe with credentials that were not stored
    env = config.hub_endpoint()
    if http.public_url(env) == http.public_url(stored):
        return env
    if env != config.DEFAULT_ENDPOINT:
        log.warning("resuming snapshot %s from %s, where it was taken (not HF_ENDPOINT %s)", snapshot_id,
                    http.public_url(stored), http.public_url(env))
    return stored


def _start(store: Store, opts: SnapshotOptions, resume: int | bool | None) -> tuple[int, bool, str]:
    """(snapshot id, resumed, endpoint to request). A resumed snapshot keeps the endpoint it was taken from."""
    con = store.con
    if resume:
        if resume is True:
            row = con.execute("SELECT id, query, endpoint FROM snapshots WHERE status <> 'complete' AND id NOT IN "
                              "(SELECT snapshot_id FROM dump_snapshots) ORDER BY id DESC LIMIT 1").fetchone()
            if row is None:
                raise CurateError("nothing to resume: every snapshot in the store is complete")
        else:
            row = con.execute("SELECT id, query, endpoint FROM snapshots WHERE id = ?", [resume]).fetchone()
            if row is None:
                raise CurateError(f"no snapshot {resume} in {store.path}")
        if store.resolve_snapshot(int(row[0])).source == "dump":
            raise CurateError(f"snapshot {row[0]} was read from a dump: finish it with "
                              f"`curate snapshot --from-dump --resume-id {row[0]}`")
        endpoint = resume_endpoint(int(row[0]), str(row[2]), opts.endpoint)
        query = json.loads(row[1])
        opts.langs = list(dict.fromkeys([*query["langs"], *opts.langs]))
        opts.top, opts.sort = query["top"], query["sort"]
        con.execute("UPDATE snapshots SET status = 'running', query = ? WHERE id = ?",
                    [json.dumps({"langs": opts.langs, "top": opts.top, "sort": opts.sort}), row[0]])
        return int(row[0]), True, endpoint
    endpoint = config.hub_endpoint(opts.endpoint)
    query = json.dumps({"langs": opts.langs, "top": opts.top, "sort": opts.sort})
    snapshot_id = con.execute(
        "INSERT INTO snapshots (taken_at, endpoint, query, status) VALUES (?, ?, ?, 'running') RETURNING id",
        [_now(), http.public_url(endpoint), query]).fetchone()[0]
    return int(snapshot_id), False, endpoint


def _pending_cards(store: Store, snapshot_id: int) -> list[tuple[str, str | None]]:
    """Listed datasets with neither a card nor a final error; stale transient errors are cleared."""
    con = store.con
    con.execute(f"""DELETE FROM errors WHERE snapshot_id = ? AND stage = 'card'
                    AND (status IS NULL OR status NOT IN {FINAL_STATUSES})""", [snapshot_id])
    return con.execute("""
        SELECT d.repo_id, d.sha FROM datasets d
        WHERE d.snapshot_id = $1
          AND d.repo_id NOT IN (SELECT repo_id FROM cards WHERE snapshot_id = $1)
          AND d.repo_id NOT IN (SELECT repo_id FROM errors WHERE snapshot_id = $1 AND stage = 'card'
                                AND repo_id IS NOT NULL)
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


# -- the run --------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds the run like Ctrl-C (the snapshot is marked interrupted), when we own the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise _Terminated()

    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _mark_interrupted(store: Store, snapshot_id: int) -> None:
    con = store.con
    try:
        con.execute("UPDATE snapshots SET status = 'interrupted' WHERE id = ?", [snapshot_id])
    except Exception:  # a transaction left open by the interruption: drop it, then mark
        with contextlib.suppress(Exception):
            con.execute("ROLLBACK")
        con.execute("UPDATE snapshots SET status = 'interrupted' WHERE id = ?", [snapshot_id])


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
    check_online()
    token = token if token is not None else config.hub_token()
    snapshot_id, resumed, endpoint = _start(store, opts, resume)
    summary = SnapshotSummary(snapshot_id, http.public_url(endpoint), resumed=resumed)
    hint = f"; snapshot {snapshot_id} is kept: finish it then with `curate snapshot --resume`"
    fetcher = _Fetcher(opts, endpoint, token, hint)
    listed = {r[0] for r in store.con.execute("SELECT DISTINCT lang FROM listings WHERE snapshot_id = ?",
                                              [snapshot_id]).fetchall()}
    try:
        with _sigterm_as_interrupt():
            for lang in opts.langs:
                if lang in listed:
                    continue
                listing = fetcher.list_language(snapshot_id, lang)
                store_listing(store, snapshot_id, lang, listing)
                if on_listed:
                    on_listed(lang, len(listing.rows))
            _fetch_all(store, snapshot_id, opts, fetcher)
    except BaseException as exc:
        fetcher.pacer.stop()
        _mark_interrupted(store, snapshot_id)
        if isinstance(exc, KeyboardInterrupt):
            what = "terminated" if isinstance(exc, _Terminated) else "interrupted"
            raise SnapshotInterrupted(f"{what}: snapshot {snapshot_id} is marked interrupted; finish it with "
                                      "`curate snapshot --resume`") from exc
        raise
    fetcher.close()
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


def interruptible(store: Store, snapshot_id: int, finish_with: str) -> contextlib.AbstractContextManager[None]:
    """For work on a snapshot: any failure leaves it marked ``interrupted`` (never half-claimed complete), and
    Ctrl-C or SIGTERM end the work as `SnapshotInterrupted`, naming ``finish_with``, the command that finishes it."""

    @contextlib.contextmanager
    def guard() -> Iterator[None]:
        try:
            with _sigterm_as_interrupt():
                yield
        except BaseException as exc:
            _mark_interrupted(store, snapshot_id)
            if isinstance(exc, KeyboardInterrupt):
                what = "terminated" if isinstance(exc, _Terminated) else "interrupted"
                raise SnapshotInterrupted(f"{what}: snapshot {snapshot_id} is marked interrupted; finish it with "
                                          f"`{finish_with}`") from exc
            raise

    return guard()


def look_up_authors(store: Store, snapshot_id: int, opts: SnapshotOptions | None, endpoint: str,
                    token: str | None, hint: str) -> None:
    """Fill a snapshot's ``authors``: kinds learnt in earlier snapshots are reused, and with ``opts`` the rest are
    asked of the Hub (two overview requests each, paced as a crawl's), for snapshots that have no cards to fetch."""
    pending = _pending_authors(store, snapshot_id)
    if opts is None or not pending:
        return
    fetcher = _Fetcher(opts, endpoint, token, hint)
    try:
        _fetch_all(store, snapshot_id, opts, fetcher, with_cards=False)
    except BaseException:
        fetcher.pacer.stop()
        raise
    fetcher.close()


def _fetch_all(store: Store, snapshot_id: int, opts: SnapshotOptions, fetcher: _Fetcher,
               with_cards: bool = True) -> None:
    """Fetch the pending cards and author kinds; the main thread stores what the workers bring back.

    Cards (``resolvers`` bucket) and authors (``api``) each have their own workers, so a bucket waiting for its
    window to reset never holds the other back; ``--concurrency`` still bounds the requests in flight.
    """
    cards = _pending_cards(store, snapshot_id) if with_cards else []
    authors = _pending_authors(store, snapshot_id) if opts.authors else []
    if not cards and not authors:
        return
    jobs: dict[str, deque[tuple[Callable[..., _Fetched], tuple[Any, ...]]]] = {
        "resolvers": deque((fetcher.card, (snapshot_id, repo, sha)) for repo, sha in cards),
        "api": deque((fetcher.author, (snapshot_id, name)) for name in authors)}
    fetcher.pacer.plan("resolvers", len(cards))
    fetcher.pacer.plan("api", len(authors))
    concurrency = max(1, opts.concurrency)
    writer = _Writer(store)
    finished = False
    done: queue.SimpleQueue[Future[_Fetched]] = queue.SimpleQueue()
    # No `with`: leaving the block on Ctrl-C must not wait for workers; stop() wakes them instead.
    pools = {bucket: ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"curate-{bucket}")
             for bucket, queued in jobs.items() if queued}
    running: dict[Future[_Fetched], str] = {}

    def submit(bucket: str) -> None:
        fn, args = jobs[bucket].popleft()
        future = pools[bucket].submit(fn, *args)
        running[future] = bucket
        future.add_done_callback(done.put)

    with track("cards and authors", total=len(cards) + len(authors), unit="requests") as progress:
        try:
            # Keep a bounded window of submitted work so an interrupt does not leave thousands queued.
            for bucket in pools:
                for _ in range(min(len(jobs[bucket]), concurrency * 2)):
                    submit(bucket)
            while running:
                try:
                    # A timeout, so that Ctrl-C is seen even when the kernel hands SIGINT to a worker thread:
                    # its handler only runs once the main thread wakes.
                    future = done.get(timeout=0.25)
                except queue.Empty:
                    continue
                bucket = running.pop(future)
                fetched = future.result()
                writer.add(_TABLES[fetched.kind], fetched.row)
                if fetched.extra_error:
                    writer.add("errors", fetched.extra_error)
                progress.advance()
                if jobs[bucket]:
                    submit(bucket)
            finished = True
        finally:
            if not finished:
                fetcher.pacer.stop()
                for future in running:
                    future.cancel()
            for pool in pools.values():
                pool.shutdown(wait=finished, cancel_futures=True)
            writer.flush()


_TABLES = {"card": "cards", "author": "authors", "error": "errors"}
