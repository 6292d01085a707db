"""A loopback Hugging Face Hub: serves a directory through the subset of the Hub API curate uses.

It exists so the real collector code runs unchanged in tests, in `curate demo` and against air-gapped
mirrors. The directory layout (see ``data/hub-sample/README.md``):

- ``datasets.jsonl``: one Hub API dataset record per line (``id``, ``author``, ``sha``, ``downloads``,
  ``downloadsAllTime``, ``likes``, ``tags``, ``cardData``, ``createdAt``, ``lastModified``, ``gated``,
  ``private``, ``disabled``, ``description``);
- ``cards/<author>/<name>/README.md``: raw card bytes (a missing file answers 404);
- ``authors.jsonl``: ``{"name", "type": "user"|"org", "fullname"}`` for the overview endpoints;
- ``files/<author>/<name>/...``: optional data files of a dataset repo, at their path in the repo (e.g.
  ``files/acme/bench/data/train-00000.jsonl``). The repo's ``README.md`` is always the card above; a
  ``README.md`` at the top of ``files/<author>/<name>/`` is ignored.
- ``history/<author>/<name>/``: a dataset repo with several revisions (a published dump of dataset cards,
  `collectors.synthetic_dump`): ``commits.jsonl`` lists its commits oldest first (``{"id": <40 hex>,
  "date": ISO-8601, "title": ...}``) and ``<id>/`` holds the repo's files at that commit. ``main`` is the
  newest commit. Such a repo needs no ``datasets.jsonl`` record and is not listed.

Routes: ``GET /api/datasets`` (``filter`` tags ANDed, ``search``, ``author``, ``sort``, ``limit``, ``full``,
``expand``; pages linked with ``Link: <...>; rel="next"``), ``GET /api/datasets/{id}[/revision/{rev}]``,
``GET|HEAD /datasets/{id}/resolve/{rev}/README.md`` (``X-Repo-Commit``, ``ETag``), and
``GET /api/users|organizations/{name}/overview``, ``GET /api/datasets/{id}/commits/{rev}`` (history repos). Gated ("manual") datasets need an ``Authorization``
header; disabled ones answer 403.

For the data files, enough of the Hub for ``datasets.load_dataset(id, streaming=True)`` and
``huggingface_hub.HfFileSystem`` to read a mirrored repo with ``HF_ENDPOINT`` pointing here:
``GET /api/datasets/{id}/tree/{rev}[/{path}]`` (``recursive``, ``expand``), ``POST
/api/datasets/{id}/paths-info/{rev}`` (form ``paths``, ``expand``) and ``GET|HEAD
/datasets/{id}/resolve/{rev}/{path}`` (single ``Range`` requests answer 206; files are streamed from disk, so
a dump of hundreds of megabytes costs the server no memory). A revision is ``main`` or the record's ``sha`` (for a
history repo: one of its commits); anything else is ``RevisionNotFound``. Errors carry ``X-Error-Code`` (``RepoNotFound``,
``RevisionNotFound``, ``EntryNotFound``, ``GatedRepo``) as the Hub sends them, so clients raise the
matching exception. Blob ids are git blob hashes and double as ``ETag``.

Only files inside the directory are served: every path is resolved (symlinks followed) and anything that
lands outside it answers 404, and a ``datasets.jsonl`` record whose id could name a path outside it (``..``,
an empty part, a backslash) is skipped with a warning.

`Faults` make it misbehave on purpose (429 with rate-limit headers, 5xx, truncated bodies, delays) so
tests can show the collector copes; ``latency`` adds a fixed delay to every request, as a remote Hub has.

``quotas`` make it enforce the Hub's rate limits: per bucket (``api`` for ``/api/...``, ``resolvers`` for
``/resolve/`` downloads), at most ``requests`` per fixed window of ``window`` seconds, windows following each
other from the bucket's first request. Every answer in a limited bucket carries the Hub's headers,
``RateLimit: "<bucket>";r=<remaining>;t=<seconds to reset, rounded up>`` and ``RateLimit-Policy: "fixed
window";"<bucket>";q=<requests>;w=<window>``; a request over the quota answers 429 with them and a
``Retry-After``. Refused requests are recorded in ``refusals``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from collectors.pacing import bucket_of

log = logging.getLogger(__name__)

# Fields a listing returns without `full` or `expand`, as the Hub does (roughly).
_BASIC_FIELDS = ("_id", "id", "author", "downloads", "likes", "tags", "createdAt", "lastModified", "private",
                 "gated", "disabled")
_SORT_KEYS = {
    "downloads": "downloads",
    "downloadsAllTime": "downloadsAllTime",
    "likes": "likes",
    "createdAt": "createdAt",
    "lastModified": "lastModified",
    "trendingScore": "downloads",
}


@dataclass
class Fault:
    """Misbehave on the next ``times`` requests whose path and query match ``pattern`` (a regex).

    ``status`` answers with that status (429 carries ``RateLimit`` headers with ``reset`` seconds and a
    ``Retry-After``); ``truncate`` sends a correct status and Content-Length but cuts the body in half;
    ``bad_json`` sends a complete body that is not valid JSON; ``delay`` sleeps before answering.
    """

    pattern: str
    times: int = 1
    status: int | None = None
    reset: int = 1
    truncate: bool = False
    bad_json: bool = False
    delay: float = 0.0


@dataclass(frozen=True)
class Quota:
    """The Hub's fixed-window rate limit for one bucket: ``requests`` per ``window`` seconds."""

    requests: int
    window: int

    @classmethod
    def parse(cls, text: str) -> tuple[str, Quota]:
        """``BUCKET=REQUESTS/WINDOW`` (``api=500/300``) as (bucket, quota); ValueError naming what is wrong."""
        bucket, _, spec = text.partition("=")
        requests, _, window = spec.partition("/")
        if bucket not in ("api", "resolvers") or not requests.isdigit() or not window.isdigit():
            raise ValueError(f"{text!r}: expected BUCKET=REQUESTS/WINDOW, BUCKET api or resolvers (api=500/300)")
        if int(requests) < 1 or int(window) < 1:
            raise ValueError(f"{text!r}: requests and window must be at least 1")
        return bucket, cls(int(requests), int(window))


class _Window:
    """One bucket's current window at the server: when it started and how much of it is used."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.used = 0


@dataclass
class HubData:
    """The served directory, loaded once."""

    root: Path
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    authors: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # repo id -> commits, oldest first
    _blob_ids: dict[tuple[str, int, int], str] = field(default_factory=dict)

    @classmethod
    def load(cls, root: str | Path) -> HubData:
        """Read the mirror; ``root`` is resolved, so `inside` compares real paths."""
        root = Path(root).resolve()
        index = root / "datasets.jsonl"
        if not index.is_file():
            raise FileNotFoundError(f"{root}: not a Hub mirror (no datasets.jsonl)")
        data = cls(root)
        with index.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if line.strip():
                    rec = json.loads(line)
                    problem = repo_id_problem(rec.get("id") if isinstance(rec, dict) else None)
                    if problem:
                        log.warning("%s:%d: skipped: %s", index, lineno, problem)
                        continue
                    rec.setdefault("_id", hashlib.sha1(rec["id"].encode()).hexdigest()[:24])
                    data.records[rec["id"]] = rec
        authors = root / "authors.jsonl"
        if authors.is_file():
            with authors.open(encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        rec = json.loads(line)
                        data.authors[rec["name"]] = rec
        data._load_history()
        return data

    def _load_history(self) -> None:
        """Read ``history/<owner>/<name>/commits.jsonl`` of every versioned repo; bad lines are skipped with a warning."""
        base = self.root / "history"
        if not base.is_dir():
            return
        for index in sorted(base.glob("*/*/commits.jsonl")):
            repo_id = index.parent.relative_to(base).as_posix()
            if repo_id_problem(repo_id) or not self.inside(index):
                log.warning("%s: skipped: not a repo folder inside the mirror", index)
                continue
            commits = []
            with index.open(encoding="utf-8") as fh:
                for lineno, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    commit = json.loads(line)
                    if not (isinstance(commit, dict) and re.fullmatch(r"[0-9a-f]{40}", str(commit.get("id")))
                            and isinstance(commit.get("date"), str)):
                        log.warning("%s:%d: skipped: a commit is {\"id\": 40 hex digits, \"date\": ISO-8601}", index,
                                    lineno)
                        continue
                    commits.append({"id": commit["id"], "date": commit["date"],
                                    "title": str(commit.get("title") or "Upload dataset")})
            if commits:
                self.history[repo_id] = commits

    def commit(self, repo_id: str, rev: str) -> dict[str, str] | None:
        """The commit of a history repo that ``rev`` (``main`` or a commit id) names, or None."""
        commits = self.history.get(repo_id) or []
        if rev == "main" and commits:
            return commits[-1]
        return next((c for c in commits if c["id"] == rev), None)

    def history_files(self, repo_id: str, commit_id: str) -> dict[str, Path]:
        """Every file of a history repo at one commit, by its path in the repo (hidden files left out)."""
        base = self.root / "history" / repo_id / commit_id
        files: dict[str, Path] = {}
        if base.is_dir() and self.inside(base):
            for path in sorted(base.rglob("*")):
                rel = path.relative_to(base).as_posix()
                if path.is_file() and not any(p.startswith(".") for p in rel.split("/")) and self.inside(path):
                    files[rel] = path
        return files

    def blob_id(self, path: Path) -> str:
        """`blob_id` of a file on disk, read in chunks and remembered by (path, size, mtime): dumps are large."""
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
        found = self._blob_ids.get(key)
        if found is None:
            digest = hashlib.sha1(b"blob %d\0" % st.st_size)
            with path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
            found = self._blob_ids[key] = digest.hexdigest()
        return found

    def inside(self, path: Path) -> bool:
        """Whether ``path``, symlinks followed, lies inside the mirror (``root`` is resolved at load)."""
        try:
            return path.resolve().is_relative_to(self.root)
        except (OSError, RuntimeError):  # a symlink loop
            return False

    def card_path(self, repo_id: str) -> Path:
        return self.root / "cards" / repo_id / "README.md"

    def card_file(self, repo_id: str) -> Path | None:
        """The card's file when it exists inside the mirror, else None (answered as a missing card)."""
        path = self.card_path(repo_id)
        return path if path.is_file() and self.inside(path) else None

    def repo_files(self, repo_id: str) -> dict[str, Path]:
        """Every file of a dataset repo by its path in the repo (card first), read from disk on each call.

        Serving only paths found here is also what keeps a request from reaching outside the mirror: a
        file or folder that resolves outside it (a symlink pointing out) is left out.
        """
        files: dict[str, Path] = {}
        card = self.card_file(repo_id)
        if card is not None:
            files["README.md"] = card
        base = self.root / "files" / repo_id
        if repo_id.count("/") == 1 and base.is_dir() and self.inside(base):
            for path in sorted(base.rglob("*")):
                rel = path.relative_to(base).as_posix()
                if (path.is_file() and rel != "README.md" and not any(p.startswith(".") for p in rel.split("/"))
                        and self.inside(path)):
                    files[rel] = path
        return files


def repo_id_problem(repo_id: Any) -> str | None:
    """Why a ``datasets.jsonl`` id cannot be served (it would name a path outside the mirror), or None.

    An id is ``name`` or ``owner/name``; each part non-empty, not ``.`` or ``..``, without a backslash or NUL.
    """
    if not isinstance(repo_id, str) or not repo_id:
        return f"no dataset id ({repo_id!r})"
    parts = repo_id.split("/")
    if len(parts) > 2 or any(p in ("", ".", "..") or "\\" in p or "\0" in p for p in parts):
        return f"dataset id {repo_id!r} is not NAME or OWNER/NAME"
    return None


def blob_id(body: bytes) -> str:
    """The git blob hash of a file, as the Hub reports it for files not stored in LFS."""
    return hashlib.sha1(b"blob %d\0" % len(body) + body).hexdigest()


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` -> inclusive (start, end); None when absent or unsupported."""
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", (header or "").strip())
    if not m or m.group(1) == m.group(2) == "":
        return None
    if m.group(1) == "":
        start, end = max(0, size - int(m.group(2))), size - 1
    else:
        start = int(m.group(1))
        end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    return start, end


@dataclass(frozen=True)
class _Span:
    """Part of a file to answer with, read from disk while it is sent."""

    path: Path
    start: int
    length: int


@dataclass(frozen=True)
class _RepoView:
    """A dataset repo at one revision: its commit, that commit's date and its files by path."""

    sha: str
    date: str
    files: dict[str, Path]


class _Handler(BaseHTTPRequestHandler):
    server: HubServer
    protocol_version = "HTTP/1.1"
    _quota_headers: dict[str, str] = {}  # noqa: RUF012  (replaced per request by `_admitted`, never mutated)
    disable_nagle_algorithm = True  # headers and body go in separate writes: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and demo own the terminal
        return

    # -- plumbing -------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None, head: bool = False,
              span: _Span | None = None) -> None:
        """Answer with ``body``, or with the file ``span`` (streamed) when one is given; faults apply to both."""
        fault = self.server.take_fault(self.path)
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and fault.status:
            status, body = fault.status, json.dumps({"error": f"injected {fault.status}"}).encode()
            headers = {"Content-Type": "application/json"}
            if fault.status == 429:
                bucket = bucket_of(self.path)
                headers["RateLimit"] = f'"{bucket}";r=0;t={fault.reset}'
                headers["RateLimit-Policy"] = f'"fixed window";"{bucket}";q=500;w=300'
                headers["Retry-After"] = str(fault.reset)
            span = None
        elif fault and fault.bad_json:
            body = body[: max(1, len(body) // 2)]
        size = span.length if span is not None else len(body)
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if not (fault and fault.status):
            for key, value in self._quota_headers.items():
                self.send_header(key, value)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        if head:
            return
        if span is not None:
            self._stream(span, size // 2 if fault and fault.truncate else size)
        elif fault and fault.truncate:
            self.wfile.write(body[: len(body) // 2])
        else:
            self.wfile.write(body)
            return
        if fault and fault.truncate:
            self.wfile.flush()
            self.close_connection = True

    def _stream(self, span: _Span, length: int) -> None:
        """Write ``length`` bytes of a file from ``span.start``, a megabyte at a time."""
        with span.path.open("rb") as fh:
            fh.seek(span.start)
            while length > 0:
                chunk = fh.read(min(length, 1 << 20))
                if not chunk:
                    break
                self.wfile.write(chunk)
                length -= len(chunk)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})})

    def _error(self, status: int, message: str, head: bool = False, code: str | None = None) -> None:
        headers = {"Content-Type": "application/json", "X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._send(status, json.dumps({"error": message}).encode(), headers, head)

    # -- routes ---------------------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self._route(head=True)

    def do_GET(self) -> None:
        self._route(head=False)

    def _admitted(self) -> bool:
        """Count the request against its bucket's quota; False (after answering 429) when it is over."""
        self._quota_headers: dict[str, str] = {}
        verdict = self.server.admit(self.path)
        if verdict is None:
            return True
        self._quota_headers, ok = verdict
        if not ok:
            body = json.dumps({"error": "You have exceeded the rate limit for this bucket."}).encode()
            self.send_response(429)
            for key, value in self._quota_headers.items():
                self.send_header(key, value)
            self.send_header("Retry-After", self._quota_headers["RateLimit"].rpartition("t=")[2])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        return ok

    def do_POST(self) -> None:
        if self.server.latency:
            time.sleep(self.server.latency)
        self.server.count(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""  # read even when refused: the connection goes on
        if not self._admitted():
            return
        form = parse_qs(body.decode("utf-8", "replace")) if body else {}
        raw = urlsplit(self.path).path
        if m := re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/paths-info/([^/]+)", raw):
            return self._paths_info(unquote(m.group(1)), unquote(m.group(2)), form)
        self._error(404, f"no route for {unquote(raw)}")

    def _route(self, head: bool) -> None:
        if self.server.latency:
            time.sleep(self.server.latency)
        self.server.count(self.path)
        if not self._admitted():
            return
        url = urlsplit(self.path)
        path = unquote(url.path)
        query = parse_qs(url.query)
        if path == "/api/datasets":
            return self._list(query)
        # Revisions arrive percent-encoded ("refs%2Fconvert%2Fparquet"): match them before unquoting.
        if m := re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/tree/([^/]+)(/.*)?", url.path):
            sub = unquote(m.group(3) or "").strip("/")
            return self._tree(unquote(m.group(1)), unquote(m.group(2)), sub, query)
        if m := re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/commits/([^/]+)", url.path):
            return self._commits(unquote(m.group(1)), unquote(m.group(2)))
        if m := re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/revision/([^/]+)", url.path):
            return self._info(unquote(m.group(1)), unquote(m.group(2)))
        if m := re.fullmatch(r"/api/datasets/(.+?)(?:/revision/[^/]+)?", path):
            return self._info(m.group(1))
        if m := re.fullmatch(r"/datasets/(.+)/(?:resolve|raw)/([^/]+)/README\.md", path):
            return self._card(m.group(1), m.group(2), head)
        if m := re.fullmatch(r"/datasets/([^/]+/[^/]+)/(?:resolve|raw)/([^/]+)/(.+)", url.path):
            return self._file(unquote(m.group(1)), unquote(m.group(2)), unquote(m.group(3)), head)
        if m := re.fullmatch(r"/api/(users|organizations)/([^/]+)/overview", path):
            return self._overview(m.group(1), m.group(2))
        self._error(404, f"no route for {path}", head)

    def _select(self, rec: dict[str, Any], query: dict[str, list[str]]) -> dict[str, Any]:
        if "expand" in query:
            wanted = {"id", "_id"} | {e for v in query["expand"] for e in v.split(",")}
            return {k: v for k, v in rec.items() if k in wanted}
        if query.get("full", ["false"])[0].lower() in ("true", "1"):
            return dict(rec)
        return {k: rec[k] for k in _BASIC_FIELDS if k in rec}

    def _list(self, query: dict[str, list[str]]) -> None:
        data = self.server.data
        filters = query.get("filter", [])
        matches = [r for r in data.records.values() if all(f in r.get("tags", ()) for f in filters)]
        if author := query.get("author", [None])[0]:
            matches = [r for r in matches if r.get("author") == author]
        if search := query.get("search", [None])[0]:
            matches = [r for r in matches if search.lower() in r["id"].lower()]
        sort = query.get("sort", [None])[0]
        if sort:
            key = _SORT_KEYS.get(sort, "downloads")
            matches.sort(key=lambda r: (r.get(key) or 0, r["id"]), reverse=True)
        limit = int(query.get("limit", ["0"])[0] or 0)
        total = min(len(matches), limit) if limit else len(matches)
        offset = int(base64.urlsafe_b64decode(query["cursor"][0]).decode()) if "cursor" in query else 0
        end = min(total, offset + self.server.page_size)
        page = [self._select(r, query) for r in matches[offset:end]]
        headers = {}
        if end < total:
            nxt = {k: v for k, v in query.items() if k != "cursor"}
            nxt["cursor"] = [base64.urlsafe_b64encode(str(end).encode()).decode()]
            host = self.headers.get("Host", f"127.0.0.1:{self.server.server_port}")
            headers["Link"] = f'<http://{host}/api/datasets?{urlencode(nxt, doseq=True)}>; rel="next"'
        self._json(200, page, headers)

    def _info(self, repo_id: str, rev: str | None = None) -> None:
        data = self.server.data
        if repo_id in data.history:
            commit = data.commit(repo_id, rev or "main")
            if commit is None:
                return self._error(404, f"Invalid rev id: {rev}", code="RevisionNotFound")
            files = data.history_files(repo_id, commit["id"])
            return self._json(200, {"_id": hashlib.sha1(repo_id.encode()).hexdigest()[:24], "id": repo_id,
                                    "author": repo_id.split("/")[0], "sha": commit["id"], "lastModified": commit["date"],
                                    "createdAt": data.history[repo_id][0]["date"], "private": False, "gated": False,
                                    "disabled": False, "downloads": 0, "likes": 0, "tags": [],
                                    "siblings": [{"rfilename": name} for name in files]})
        rec = data.records.get(repo_id)
        if rec is None:
            return self._error(404, f"Dataset {repo_id} not found", code="RepoNotFound")
        if rev is not None and not self._known_rev(rec, rev):
            return self._error(404, f"Invalid rev id: {rev}", code="RevisionNotFound")
        files = data.repo_files(repo_id)
        if files:
            rec = {**rec, "siblings": [{"rfilename": name} for name in files]}
        self._json(200, rec)

    def _commits(self, repo_id: str, rev: str) -> None:
        """A history repo's commits up to ``rev``, newest first (`HfApi.list_repo_commits`)."""
        data = self.server.data
        if repo_id not in data.history:
            return self._error(404, "Repository not found", code="RepoNotFound")
        commit = data.commit(repo_id, rev)
        if commit is None:
            return self._error(404, f"Invalid rev id: {rev}", code="RevisionNotFound")
        commits = data.history[repo_id]
        upto = commits[: commits.index(commit) + 1]
        self._json(200, [{"id": c["id"], "title": c["title"], "message": "", "authors": [{"user": "mirror"}],
                          "date": c["date"]} for c in reversed(upto)])

    # -- repository files -----------------------------------------------------------------------
    @staticmethod
    def _known_rev(rec: dict[str, Any], rev: str) -> bool:
        return rev == "main" or rev == (rec.get("sha") or "0" * 40)

    def _open_repo(self, repo_id: str, rev: str, head: bool = False) -> _RepoView | None:
        """The repo at ``rev`` when it may be read; otherwise answer the Hub's error and None."""
        data = self.server.data
        if repo_id in data.history:
            commit = data.commit(repo_id, rev)
            if commit is None:
                self._error(404, f"Invalid rev id: {rev}", head, code="RevisionNotFound")
                return None
            return _RepoView(commit["id"], commit["date"], data.history_files(repo_id, commit["id"]))
        rec = data.records.get(repo_id)
        if rec is None:
            self._error(404, "Repository not found", head, code="RepoNotFound")
        elif rec.get("disabled"):
            self._error(403, "Access to this resource is disabled.", head)
        elif rec.get("gated") == "manual" and not self.headers.get("Authorization"):
            self._error(401, "Access to dataset is restricted. You must have access to it.", head, code="GatedRepo")
        elif not self._known_rev(rec, rev):
            self._error(404, f"Invalid rev id: {rev}", head, code="RevisionNotFound")
        else:
            return _RepoView(rec.get("sha") or "0" * 40, rec.get("lastModified") or "1970-01-01T00:00:00.000Z",
                             data.repo_files(repo_id))
        return None

    def _entry(self, repo: _RepoView, path: str, file: Path | None, expand: bool) -> dict[str, Any]:
        if file is None:
            entry: dict[str, Any] = {"type": "directory", "oid": hashlib.sha1(path.encode()).hexdigest(),
                                     "size": 0, "path": path}
        else:
            entry = {"type": "file", "oid": self.server.data.blob_id(file), "size": file.stat().st_size, "path": path}
        if expand:
            entry["lastCommit"] = {"id": repo.sha, "title": "mirror", "date": repo.date}
        return entry

    @staticmethod
    def _folders(files: dict[str, Path]) -> set[str]:
        return {"/".join(name.split("/")[:i]) for name in files for i in range(1, name.count("/") + 1)}

    def _tree(self, repo_id: str, rev: str, sub: str, query: dict[str, list[str]]) -> None:
        repo = self._open_repo(repo_id, rev)
        if repo is None:
            return
        files = repo.files
        folders = self._folders(files)
        if sub and sub not in folders:
            return self._error(404, f"{sub} not found at {rev}", code="EntryNotFound")
        recursive = query.get("recursive", ["false"])[0].lower() in ("true", "1")
        expand = query.get("expand", ["false"])[0].lower() in ("true", "1")
        prefix = sub + "/" if sub else ""
        names = sorted(n for n in folders | set(files) if n.startswith(prefix) and
                       (recursive or "/" not in n[len(prefix):]))
        # Folders before files at each level, as the Hub lists them.
        names.sort(key=lambda n: (n.split("/")[:-1], n in files, n))
        self._json(200, [self._entry(repo, n, files.get(n), expand) for n in names])

    def _paths_info(self, repo_id: str, rev: str, form: dict[str, list[str]]) -> None:
        repo = self._open_repo(repo_id, rev)
        if repo is None:
            return
        files = repo.files
        folders = self._folders(files)
        expand = form.get("expand", ["false"])[0].lower() in ("true", "1")
        out = []
        for path in form.get("paths", []):
            path = path.strip("/")
            if path in files or path in folders:
                out.append(self._entry(repo, path, files.get(path), expand))
        self._json(200, out)

    def _file(self, repo_id: str, rev: str, path: str, head: bool) -> None:
        repo = self._open_repo(repo_id, rev, head)
        if repo is None:
            return
        file = repo.files.get(path)
        if file is None:
            return self._error(404, "Entry not found", head, code="EntryNotFound")
        size = file.stat().st_size
        headers = {"Content-Type": "application/octet-stream", "X-Repo-Commit": repo.sha,
                   "ETag": f'"{self.server.data.blob_id(file)}"', "Accept-Ranges": "bytes"}
        span = _parse_range(self.headers.get("Range"), size)
        if span is None:
            return self._send(200, b"", headers, head, span=_Span(file, 0, size))
        start, end = span
        if start >= size or start > end:
            return self._send(416, b"", {**headers, "Content-Range": f"bytes */{size}"}, head)
        self._send(206, b"", {**headers, "Content-Range": f"bytes {start}-{end}/{size}"}, head,
                   span=_Span(file, start, end - start + 1))

    def _card(self, repo_id: str, rev: str, head: bool) -> None:
        if repo_id in self.server.data.history:  # a history repo's README.md is one of its files
            return self._file(repo_id, rev, "README.md", head)
        rec = self.server.data.records.get(repo_id)
        if rec is None:
            return self._error(404, "Repository not found", head, code="RepoNotFound")
        if rec.get("disabled"):
            return self._error(403, "Access to this resource is disabled.", head)
        if rec.get("gated") == "manual" and not self.headers.get("Authorization"):
            return self._error(401, "Access to dataset is restricted. You must have access to it.", head,
                               code="GatedRepo")
        path = self.server.data.card_file(repo_id)
        if path is None:
            return self._error(404, "Entry not found", head, code="EntryNotFound")
        body = path.read_bytes()
        sha = rec.get("sha") or "0" * 40
        etag = blob_id(body)
        self._send(200, body, {"Content-Type": "text/markdown; charset=utf-8", "X-Repo-Commit": sha,
                               "ETag": f'"{etag}"', "Content-Disposition": "inline"}, head)

    def _overview(self, kind: str, name: str) -> None:
        author = self.server.data.authors.get(name)
        want = "user" if kind == "users" else "org"
        if author is None or author.get("type") != want:
            return self._error(404, f"{kind[:-1]} {name} not found")
        self._json(200, {"name": name, "fullname": author.get("fullname"), "type": want})


class HubServer(ThreadingHTTPServer):
    """The loopback Hub. Start with `serve()`; ``url`` is its endpoint."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, root: str | Path, host: str = "127.0.0.1", port: int = 0, *, latency: float = 0.0,
                 page_size: int = 100, quotas: dict[str, Quota] | None = None) -> None:
        self.data = HubData.load(root)
        self.latency = latency
        self.page_size = page_size
        self.quotas = dict(quotas or {})
        self.faults: list[Fault] = []
        self.hits: list[tuple[float, str]] = []
        self.refusals: list[tuple[float, str]] = []  # requests answered 429 for being over a quota
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()
        super().__init__((host, port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (a killed collector, a timeout) are normal here: no traceback."""

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def count(self, path: str) -> None:
        with self._lock:
            self.hits.append((time.monotonic(), path))

    def admit(self, path: str) -> tuple[dict[str, str], bool] | None:
        """Count a request against its bucket's quota: (the Hub's rate-limit headers, whether it is within the
        quota), or None when its bucket is not limited."""
        bucket = bucket_of(path)
        quota = self.quotas.get(bucket)
        if quota is None:
            return None
        with self._lock:
            now = time.monotonic()
            window = self._windows.get(bucket)
            if window is None:
                window = self._windows[bucket] = _Window(now)
            elif now >= window.start + quota.window:  # the next window(s), back to back
                window.start += (now - window.start) // quota.window * quota.window
                window.used = 0
            ok = window.used < quota.requests
            if ok:
                window.used += 1
            else:
                self.refusals.append((now, path))
            reset = max(1, math.ceil(window.start + quota.window - now))
            remaining = quota.requests - window.used
        return {"RateLimit": f'"{bucket}";r={remaining};t={reset}',
                "RateLimit-Policy": f'"fixed window";"{bucket}";q={quota.requests};w={quota.window}'}, ok

    def take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and re.search(fault.pattern, path):
                    fault.times -= 1
                    return fault
        return None


@contextmanager
def serve(root: str | Path, **kwargs: Any) -> Iterator[HubServer]:
    """Run a loopback Hub in a background thread for the duration of the block."""
    server = HubServer(root, **kwargs)
    thread = threading.Thread(target=server.serve_forever, name="curate-hub", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

