"""A hostile OpenAI-compatible server for tests: loopback only, and every answer bounded in time and size.

`tests/openai_stub.py` plays a well-behaved server; this one plays the servers a judge must survive. It is a
bare asyncio HTTP/1.1 server (one request per connection, ``Connection: close``) so it can do what a framework
would not: trickle bytes, send more than it announces, or stop half-way. What it does is chosen by a marker in
the request body, i.e. in the document text: ``[hostile=MODE]``.

- ``echo401`` / ``echo500``: that status, with the request's headers (``Authorization`` included) echoed in
  the JSON error body, as debugging proxies and some gateways do.
- ``echo200``: a valid answer (score 3) whose ``reason`` holds the request's headers.
- ``trickle``: a valid answer (score 3) sent one byte every ``trickle_every`` seconds: each read gets a byte
  long before a read timeout, so only a deadline on the whole request ends it.
- ``huge``: a 200 whose body never ends (no ``Content-Length``) until ``huge_bytes`` were sent or the client
  went away.
- ``huge-declared``: the same, announcing a ``Content-Length`` of 1.2 GB.
- ``huge500``: a 500 whose body is as large.
- ``gzip-bomb``: a 200 with ``Content-Encoding: gzip``, ~50 KB on the wire that inflate to ``huge_bytes``.
- ``gzip`` / ``deflate`` / ``raw-deflate``: a valid answer (score 4), compressed although not asked to be.
- ``wait-forever``: 429 with ``Retry-After: 1000000000`` (31 years).
- anything else (or no marker): a valid answer, score 3.

Every connection is cut after ``max_seconds`` whatever it is doing, and `serve` stops the server and its
thread when the test ends. ``sent`` counts the body bytes written per mode, ``requests`` keeps (mode, headers).
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

_MODE = re.compile(rb"\[hostile=([a-z0-9-]+)\]")
_CHUNK = b"x" * 65536
_REASONS = {200: "OK", 401: "Unauthorized", 429: "Too Many Requests", 500: "Internal Server Error"}


def answer(content: str) -> bytes:
    """A chat completion whose message is ``content``."""
    return json.dumps({"id": "chatcmpl-hostile", "object": "chat.completion", "model": "hostile",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                    "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 10, "completion_tokens": 5}}).encode()


@dataclass
class HostileServer:
    trickle_every: float = 0.25
    huge_bytes: int = 48 * 1024 * 1024
    max_seconds: float = 8.0
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    sent: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, mode: str) -> int:
        with self._lock:
            return sum(m == mode for m, _ in self.requests)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(self.max_seconds):
                await self._handle(reader, writer)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            with suppress(Exception):
                await writer.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        match = _MODE.search(body)
        mode = match.group(1).decode() if match else "ok"
        with self._lock:
            self.requests.append((mode, headers))
        echoed = "\n".join(f"{k}: {v}" for k, v in headers.items())

        async def send(status: int, payload: bytes, extra: dict[str, str] | None = None) -> None:
            fields = {"Content-Type": "application/json", "Content-Length": str(len(payload)), **(extra or {})}
            await self._head(writer, status, fields)
            await self._body(writer, mode, payload)

        if mode in ("echo401", "echo500"):
            status = int(mode[4:])
            await send(status, json.dumps({"error": {"message": "bad request", "headers": echoed}}).encode())
        elif mode == "echo200":
            await send(200, answer(json.dumps({"reason": f"you sent {echoed}", "score": 3})))
        elif mode == "trickle":
            payload = answer(json.dumps({"reason": "slowly", "score": 3}))
            await self._head(writer, 200, {"Content-Type": "application/json", "Content-Length": str(len(payload))})
            for i in range(len(payload)):
                await self._body(writer, mode, payload[i:i + 1])
                await asyncio.sleep(self.trickle_every)
        elif mode in ("huge", "huge-declared", "huge500"):
            fields = {"Content-Type": "application/json"}
            if mode == "huge-declared":
                fields["Content-Length"] = str(1_200_000_000)
            await self._head(writer, 500 if mode == "huge500" else 200, fields)
            await self._body(writer, mode, b'{"choices": [{"message": {"content": "')
            for _ in range(self.huge_bytes // len(_CHUNK)):
                await self._body(writer, mode, _CHUNK)
        elif mode == "gzip-bomb":
            await send(200, _bomb(self.huge_bytes), {"Content-Encoding": "gzip"})
        elif mode in ("gzip", "deflate", "raw-deflate"):  # compressed although curate asks for identity
            wbits = {"gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS, "raw-deflate": -zlib.MAX_WBITS}[mode]
            packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
            payload = packer.compress(answer(json.dumps({"reason": "packed", "score": 4}))) + packer.flush()
            await send(200, payload, {"Content-Encoding": "gzip" if mode == "gzip" else "deflate"})
        elif mode == "wait-forever":
            await send(429, b'{"error": {"message": "come back later"}}', {"Retry-After": "1000000000"})
        else:
            await send(200, answer(json.dumps({"reason": "fine", "score": 3})))

    @staticmethod
    async def _head(writer: asyncio.StreamWriter, status: int, fields: dict[str, str]) -> None:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", "Connection: close",
                 *(f"{k}: {v}" for k, v in fields.items())]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()

    async def _body(self, writer: asyncio.StreamWriter, mode: str, data: bytes) -> None:
        writer.write(data)
        await writer.drain()  # raises once the client has gone: the loop that sends stops there
        with self._lock:
            self.sent[mode] += len(data)


_BOMBS: dict[int, bytes] = {}


def _bomb(size: int) -> bytes:
    """gzip of an answer padded to ``size`` bytes with spaces (about 1000 times smaller on the wire)."""
    if size not in _BOMBS:
        packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        parts = [packer.compress(b'{"choices": [{"message": {"content": "')]
        block = b" " * (1 << 20)
        for _ in range(size >> 20):
            parts.append(packer.compress(block))
        parts.append(packer.compress(b'"}}]}') + packer.flush())
        _BOMBS[size] = b"".join(parts)
    return _BOMBS[size]


@contextmanager
def serve(server: HostileServer, host: str = "127.0.0.1") -> Iterator[str]:
    """Run ``server`` on a free loopback port in a thread; yields the API base URL (``http://.../v1``)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, asyncio.Server] = {}

    async def start() -> None:
        box["server"] = await asyncio.start_server(server.handle, sock=sock)
        started.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("hostile server did not start")
    try:
        yield f"http://{host}:{port}/v1"
    finally:
        loop.call_soon_threadsafe(box["server"].close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        sock.close()
