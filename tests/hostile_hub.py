"""A loopback Hub that misbehaves on purpose, for the snapshot's hostile-input tests.

By default it answers like a small Hub: ``/api/datasets`` lists ``records`` in pages of ``page_size`` linked by
``Link: rel="next"`` (cursor = offset), ``/datasets/{id}/resolve/{rev}/README.md`` serves ``cards[id]`` and
author overviews answer 404. ``routes`` (regex on the request path and query -> handler) are tried first, so a
test replaces any answer: a next link to another origin or back to itself, a 10^9 s ``Retry-After``, a body
trickled a byte at a time, a 50 MB card produced on the fly, raw page bytes. Every request is recorded in
``hits`` with its headers (names lower-cased). Loopback only; handlers sleep in short steps and stop when the server closes.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

Handler = Callable[["Req"], None]


class Req(BaseHTTPRequestHandler):
    server: HostileHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.hits.append((time.monotonic(), self.path, {k.lower(): v for k, v in self.headers.items()}))
        for pattern, handler in list(self.server.routes):
            if re.search(pattern, self.path):
                return handler(self)
        return self.server.default(self)

    # -- helpers for handlers -------------------------------------------------------------------
    def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with suppress(OSError):
            self.wfile.write(body)

    def json(self, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.send(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})})

    def stream(self, chunks: Iterable[bytes], length: int | None = None, status: int = 200,
               headers: dict[str, str] | None = None) -> int:
        """Send ``chunks`` (Content-Length ``length``, or chunked when None); return bytes written."""
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        sent = 0
        try:
            for chunk in chunks:
                if self.server.closing.is_set():
                    break
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if length is None else chunk)
                self.wfile.flush()
                sent += len(chunk)
            if length is None:
                self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass
        with self.server.lock:
            self.server.sent[self.path] = sent
        self.close_connection = True
        return sent

    def trickle(self, raw: bytes, every: float) -> None:
        """Write ``raw`` (status line and headers included) one byte every ``every`` seconds."""
        try:
            for i in range(len(raw)):
                self.wfile.write(raw[i:i + 1])
                self.wfile.flush()
                if self.server.closing.wait(every):
                    break
        except OSError:
            pass
        self.close_connection = True

    def hang(self, seconds: float) -> None:
        """Say nothing for ``seconds`` (or until the server closes)."""
        self.server.closing.wait(seconds)
        self.close_connection = True


class HostileHub(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, records: list[Any] | None = None, cards: dict[str, bytes] | None = None,
                 page_size: int = 100) -> None:
        super().__init__(("127.0.0.1", 0), Req)
        self.records = list(records or [])
        self.cards = dict(cards or {})
        self.page_size = page_size
        self.routes: list[tuple[str, Handler]] = []
        self.hits: list[tuple[float, str, dict[str, str]]] = []
        self.sent: dict[str, int] = {}
        self.lock = threading.Lock()
        self.closing = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        return

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, pattern: str, handler: Handler) -> None:
        self.routes.append((pattern, handler))

    def paths(self, pattern: str = "") -> list[str]:
        with self.lock:
            return [p for _, p, _ in self.hits if re.search(pattern, p)]

    def page(self, req: Req, link_to: str | None = None) -> None:
        """Answer a listing request from ``records`` (``link_to`` overrides the next link's base URL)."""
        url = urlsplit(req.path)
        query = parse_qs(url.query)
        offset = int(query.get("cursor", ["0"])[0])
        limit = int(query.get("limit", ["0"])[0] or 0) or len(self.records)
        end = min(len(self.records), limit, offset + self.page_size)
        headers = {}
        if end < min(len(self.records), limit):
            nxt = {k: v for k, v in query.items() if k != "cursor"}
            nxt["cursor"] = [str(end)]
            headers["Link"] = f'<{link_to or self.url}/api/datasets?{urlencode(nxt, doseq=True)}>; rel="next"'
        req.json(self.records[offset:end], headers=headers)

    def default(self, req: Req) -> None:
        path = urlsplit(req.path).path
        if path == "/api/datasets":
            return self.page(req)
        if m := re.fullmatch(r"/datasets/([^/]+/[^/]+)/resolve/[^/]+/README\.md", path):
            card = self.cards.get(m.group(1))
            if card is not None:
                return req.send(200, card, {"Content-Type": "text/markdown", "X-Repo-Commit": "a" * 40})
        return req.send(404, b'{"error": "not found"}', {"Content-Type": "application/json"})


@contextmanager
def hostile(**kwargs: Any) -> Iterator[HostileHub]:
    """Run a `HostileHub` in a background thread for the duration of the block."""
    server = HostileHub(**kwargs)
    thread = threading.Thread(target=server.serve_forever, name="hostile-hub", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.closing.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def rec(rid: Any, downloads: int = 1, **over: Any) -> dict[str, Any]:
    """A well-formed listing record (as `EXPAND` asks for), with ``over`` replacing fields."""
    base = {"id": rid, "author": rid.split("/")[0] if isinstance(rid, str) and "/" in rid else "x",
            "sha": "b" * 40, "downloads": downloads, "downloadsAllTime": downloads, "likes": 0,
            "tags": ["language:ko"], "cardData": {"license": "mit"}, "createdAt": "2024-01-02T03:04:05.000Z",
            "lastModified": "2024-01-02T03:04:05.000Z", "gated": False, "private": False, "disabled": False}
    base.update(over)
    return base


def good(n: int, prefix: str = "ok") -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """``n`` good records with cards."""
    records = [rec(f"{prefix}org/{prefix}-set-{i:03d}", downloads=1000 - i) for i in range(n)]
    return records, {r["id"]: f"---\nlicense: mit\n---\n# {r['id']}\n".encode() for r in records}
