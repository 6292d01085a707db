"""A loopback Hugging Face Hub: serves a directory through the subset of the Hub API curate uses.

It exists so the real collector code runs unchanged in tests, in `curate demo` and against air-gapped
mirrors. The directory layout (see ``data/hub-sample/README.md``):

- ``datasets.jsonl``: one Hub API dataset record per line (``id``, ``author``, ``sha``, ``downloads``,
  ``downloadsAllTime``, ``likes``, ``tags``, ``cardData``, ``createdAt``, ``lastModified``, ``gated``,
  ``private``, ``disabled``, ``description``);
- ``cards/<author>/<name>/README.md``: raw card bytes (a missing file answers 404);
- ``authors.jsonl``: ``{"name", "type": "user"|"org", "fullname"}`` for the overview endpoints.

Routes: ``GET /api/datasets`` (``filter`` tags ANDed, ``search``, ``author``, ``sort``, ``limit``, ``full``,
``expand``; pages linked with ``Link: <...>; rel="next"``), ``GET /api/datasets/{id}``,
``GET|HEAD /datasets/{id}/resolve/{rev}/README.md`` (``X-Repo-Commit``, ``ETag``), and
``GET /api/users|organizations/{name}/overview``. Gated ("manual") datasets need an ``Authorization``
header; disabled ones answer 403.

`Faults` make it misbehave on purpose (429 with rate-limit headers, 5xx, truncated bodies, delays) so
tests can show the collector copes; ``latency`` adds a fixed delay to every request, as a remote Hub has.
"""

from __future__ import annotations

import base64
import hashlib
import json
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


@dataclass
class HubData:
    """The served directory, loaded once."""

    root: Path
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    authors: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, root: str | Path) -> HubData:
        root = Path(root)
        index = root / "datasets.jsonl"
        if not index.is_file():
            raise FileNotFoundError(f"{root}: not a Hub mirror (no datasets.jsonl)")
        data = cls(root)
        with index.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    rec = json.loads(line)
                    rec.setdefault("_id", hashlib.sha1(rec["id"].encode()).hexdigest()[:24])
                    data.records[rec["id"]] = rec
        authors = root / "authors.jsonl"
        if authors.is_file():
            with authors.open(encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        rec = json.loads(line)
                        data.authors[rec["name"]] = rec
        return data

    def card_path(self, repo_id: str) -> Path:
        return self.root / "cards" / repo_id / "README.md"


class _Handler(BaseHTTPRequestHandler):
    server: HubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and demo own the terminal
        return

    # -- plumbing -------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None, head: bool = False) -> None:
        fault = self.server.take_fault(self.path)
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and fault.status:
            status, body = fault.status, json.dumps({"error": f"injected {fault.status}"}).encode()
            headers = {"Content-Type": "application/json"}
            if fault.status == 429:
                headers["RateLimit"] = f'"api";r=0;t={fault.reset}'
                headers["RateLimit-Policy"] = '"fixed window";"api";q=500;w=300'
                headers["Retry-After"] = str(fault.reset)
        elif fault and fault.bad_json:
            body = body[: max(1, len(body) // 2)]
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if head:
            return
        if fault and fault.truncate:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})})

    def _error(self, status: int, message: str, head: bool = False) -> None:
        self._send(status, json.dumps({"error": message}).encode(), {"Content-Type": "application/json",
                                                                     "X-Error-Message": message}, head)

    # -- routes ---------------------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self._route(head=True)

    def do_GET(self) -> None:
        self._route(head=False)

    def _route(self, head: bool) -> None:
        if self.server.latency:
            time.sleep(self.server.latency)
        self.server.count(self.path)
        url = urlsplit(self.path)
        path = unquote(url.path)
        query = parse_qs(url.query)
        if path == "/api/datasets":
            return self._list(query)
        if m := re.fullmatch(r"/api/datasets/(.+?)(?:/revision/[^/]+)?", path):
            return self._info(m.group(1))
        if m := re.fullmatch(r"/datasets/(.+)/(?:resolve|raw)/([^/]+)/README\.md", path):
            return self._card(m.group(1), m.group(2), head)
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

    def _info(self, repo_id: str) -> None:
        rec = self.server.data.records.get(repo_id)
        if rec is None:
            return self._error(404, f"Dataset {repo_id} not found")
        self._json(200, rec)

    def _card(self, repo_id: str, rev: str, head: bool) -> None:
        rec = self.server.data.records.get(repo_id)
        if rec is None:
            return self._error(404, "Repository not found", head)
        if rec.get("disabled"):
            return self._error(403, "Access to this resource is disabled.", head)
        if rec.get("gated") == "manual" and not self.headers.get("Authorization"):
            return self._error(401, "Access to dataset is restricted. You must have access to it.", head)
        path = self.server.data.card_path(repo_id)
        if not path.is_file():
            return self._error(404, "Entry not found", head)
        body = path.read_bytes()
        sha = rec.get("sha") or "0" * 40
        etag = hashlib.sha1(body).hexdigest()
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
                 page_size: int = 100) -> None:
        self.data = HubData.load(root)
        self.latency = latency
        self.page_size = page_size
        self.faults: list[Fault] = []
        self.hits: list[tuple[float, str]] = []
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

