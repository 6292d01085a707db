"""HTTP policy shared by every client curate runs (Hub snapshots, LLM judges): one home for each rule.

Servers curate talks to are not trusted: a Hub mirror, a listing's ``Link`` header or a judge endpoint can
answer slowly, hugely, or with a wait of years. The rules here keep every wait bounded and every secret home:

- which statuses are worth retrying (`RETRY_STATUSES`) and how long a ``Retry-After`` asks for
  (`retry_after_seconds`: seconds or an HTTP date);
- a server-requested wait longer than the user's limit ends the run at once (`check_wait`), it is never slept;
- credentials never leave in what curate stores or prints: userinfo is stripped from URLs (`public_url`),
  keys and ``Authorization`` values are masked in any text that came back from a server (`redact`);
- a token is only sent to the origin it was configured for (`same_origin`).
"""

from __future__ import annotations

import email.utils
import json
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import httpcore2
import httpx2

from curate.errors import CurateError

if TYPE_CHECKING:  # httpx is imported where a client is built, not by every command that redacts a URL
    import httpx

# Every 5xx but "not implemented" and "version not supported" (proxies answer 520-529 for overloaded
# upstreams), plus the 4xx that mean "try again later".
RETRY_STATUSES = frozenset({408, 409, 425, 429, *range(500, 600)}) - {501, 505}
DEFAULT_MAX_WAIT_S = 900.0  # a quarter of an hour: longer server-requested waits end the run instead
DEFAULT_MAX_CARD_BYTES = 10_000_000  # largest dataset card a snapshot stores (`--max-card-bytes`)
_DEFAULT_PORTS = {"http": 80, "https": 443}


class WaitTooLong(CurateError):
    """A server asked for a wait longer than the configured limit; the run ends now, resumable later."""

    def __init__(self, seconds: float, limit: float, what: str, hint: str = "") -> None:
        self.seconds = seconds
        self.limit = limit
        until = datetime.now(UTC) + timedelta(seconds=min(seconds, 10**8))
        when = until.strftime("%Y-%m-%d %H:%M UTC") if seconds < 10**8 else "a date too far to name"
        super().__init__(f"{what} asks to wait {seconds:,.0f}s (until {when}), more than the limit of "
                         f"{limit:,.0f}s; stopped{hint}")


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header as seconds to wait: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN is not a wait
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def check_wait(seconds: float, limit: float | None, what: str, hint: str = "") -> float:
    """``seconds`` when it is within ``limit`` (None: no limit); otherwise `WaitTooLong`, raised at once."""
    if limit is not None and seconds > limit:
        raise WaitTooLong(seconds, limit, what, hint)
    return seconds


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL, with the scheme's default port filled in."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return (parts.scheme.lower(), (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(parts.scheme.lower(), 0))


def same_origin(url: str, base: str) -> bool:
    """Whether ``url`` is on the origin of ``base``: the only place a token configured for ``base`` may go."""
    return origin(url) == origin(base)


def public_url(url: str) -> str:
    """``url`` without ``user:password@``: what may be stored, logged and shown."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def url_secrets(url: str) -> list[str]:
    """The password (and user) in a URL's userinfo, to pass to `redact`."""
    parts = urlsplit(url)
    return [s for s in (parts.password, parts.username) if s]


_AUTH_VALUE = re.compile(r"(?i)(authorization|x-api-key|api[-_]?key)([\"']?\s*[:=]\s*[\"']?)([^\s\"',}]+(?: [^\s\"',}]+)?)")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{4,}")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every given secret, ``Authorization``/API-key value and bearer token masked as ``***``.

    Used on anything a server sent back before it is stored or printed: an endpoint that echoes the request
    must not leak the key into labels files, logs or reports.
    """
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _BEARER.sub(lambda m: f"{m.group(1)} ***", text)
    return _AUTH_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)


# --- synchronous clients (collectors) -----------------------------------------------------------------
# Collectors fetch with a thread pool over one `sync_client`. Each request has a total deadline (a trickling
# server cannot hold a thread past it), a size cap (a huge body is refused while streaming, never held), a
# bounded retry loop (`get`: transient statuses and broken connections, Retry-After honoured up to the
# run's wait limit) and an interruptible sleep, so Ctrl-C or a too-long wait stops every worker at once.

_POLL_S = 0.25  # how often a blocked read looks at the run's stop event
ERROR_BODY_BYTES = 4096  # what is read of an error answer (sync and async): enough for its message, never a flood
RETRY_ERRORS: tuple[type[Exception], ...] = (httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError)


class Cancelled(Exception):
    """The run is stopping (Ctrl-C, SIGTERM, a too-long wait seen by another thread): give the request up."""


class BodyTooLarge(CurateError):
    """A response body over the limit its caller set (a card, a listing page, a judge's answer); nothing past
    the limit was read or kept, so memory stays bounded whatever the server sends."""

    def __init__(self, limit: int, announced: int | None = None) -> None:
        self.limit = limit
        self.announced = announced
        told = f" ({announced:,} bytes announced)" if announced is not None else ""
        super().__init__(f"larger than the {limit:,}-byte limit{told}")


_deadline = threading.local()


@contextmanager
def request_deadline(seconds: float | None) -> Iterator[None]:
    """Bound all network I/O of this thread inside the block to ``seconds`` in total.

    httpx's timeouts bound each read; a server sending a byte a second never trips them. The streams of a
    `sync_client` read this thread-local deadline and shorten every connect, read and write to the time left,
    so a request ends near its deadline however it trickles (headers or body).
    """
    previous = getattr(_deadline, "at", None)
    _deadline.at = None if seconds is None else time.monotonic() + seconds
    try:
        yield
    finally:
        _deadline.at = previous


def _bounded(timeout: float | None, kind: type[Exception]) -> float | None:
    """``timeout`` shortened to this thread's deadline; ``kind`` raised when the deadline has passed."""
    at = getattr(_deadline, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise kind("request deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore2.NetworkStream):
    """A network stream whose every operation respects the request deadline and the run's stop event."""

    def __init__(self, inner: httpcore2.NetworkStream, stop: threading.Event | None) -> None:
        self._inner = inner
        self._stop = stop

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        limit = _bounded(timeout, httpcore2.ReadTimeout)
        if self._stop is None:
            return self._inner.read(max_bytes, limit)
        # Short slices so a stopping run is noticed mid-read; a socket read that timed out consumed nothing.
        end = None if limit is None else time.monotonic() + limit
        while True:
            if self._stop.is_set():
                raise httpcore2.ReadError("cancelled: the run is stopping")
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                raise httpcore2.ReadTimeout("timed out")
            try:
                return self._inner.read(max_bytes, _POLL_S if left is None else min(left, _POLL_S))
            except httpcore2.ReadTimeout:
                continue

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore2.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore2.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout, httpcore2.ConnectTimeout))
        return _DeadlineStream(inner, self._stop)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore2.NetworkBackend):
    """httpcore's socket backend with `request_deadline` applied to every connection it opens."""

    def __init__(self, inner: httpcore2.NetworkBackend | None = None, stop: threading.Event | None = None) -> None:
        self._inner = inner or httpcore2.SyncBackend()
        self._stop = stop

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore2.NetworkStream:
        stream = self._inner.connect_tcp(host, port, _bounded(timeout, httpcore2.ConnectTimeout), local_address,
                                         socket_options)
        return _DeadlineStream(stream, self._stop)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore2.NetworkStream:
        stream = self._inner.connect_unix_socket(path, _bounded(timeout, httpcore2.ConnectTimeout), socket_options)
        return _DeadlineStream(stream, self._stop)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class DeadlineTransport(httpx2.HTTPTransport):
    """httpx's transport over a connection pool (direct, or through an HTTP proxy) that uses `DeadlineBackend`."""

    def __init__(self, *, max_connections: int = 16, stop: threading.Event | None = None,
                 proxy: httpx2.Proxy | None = None) -> None:
        # HTTPTransport's only state is its pool: build ours instead of calling its __init__.
        common: dict[str, Any] = {
            "ssl_context": httpx2.create_ssl_context(), "max_connections": max_connections,
            "max_keepalive_connections": max_connections, "keepalive_expiry": 5.0,
            "network_backend": DeadlineBackend(stop=stop)}
        if proxy is None:
            self._pool = httpcore2.ConnectionPool(**common)
        else:
            self._pool = httpcore2.HTTPProxy(
                proxy_url=httpcore2.URL(scheme=proxy.url.raw_scheme, host=proxy.url.raw_host, port=proxy.url.port,
                                        target=proxy.url.raw_path),
                proxy_auth=proxy.raw_auth, proxy_headers=proxy.headers.raw, proxy_ssl_context=proxy.ssl_context,
                **common)


class _DeadlineClient(httpx2.Client):
    """An httpx client whose transports, direct and through proxies from the environment, keep the deadline.

    Passing ``transport=`` would turn environment proxies off, so the two factory methods are overridden
    instead; httpx still decides which URL goes through which proxy (``NO_PROXY`` included).
    """

    def __init__(self, *, max_connections: int, stop: threading.Event | None, **kwargs: Any) -> None:
        self._deadline_args: dict[str, Any] = {"max_connections": max_connections, "stop": stop}
        super().__init__(**kwargs)

    def _init_transport(self, *args: Any, **kwargs: Any) -> httpx2.BaseTransport:
        return DeadlineTransport(**self._deadline_args)

    def _init_proxy_transport(self, proxy: httpx2.Proxy, *args: Any, **kwargs: Any) -> httpx2.BaseTransport:
        if proxy.url.scheme in ("http", "https"):
            return DeadlineTransport(proxy=proxy, **self._deadline_args)
        return super()._init_proxy_transport(proxy, *args, **kwargs)  # SOCKS: httpx's own, per-read timeouts


def sync_client(*, timeout: float, max_connections: int = 16, stop: threading.Event | None = None) -> httpx2.Client:
    """A client of curate's own (not huggingface_hub's shared session) for `get`.

    Redirects are followed; httpx drops ``Authorization`` when one leaves the origin. Proxies come from the
    environment as usual. ``stop`` makes blocked reads give up within a fraction of a second once it is set.
    """
    return _DeadlineClient(max_connections=max_connections, stop=stop, timeout=httpx2.Timeout(timeout),
                           follow_redirects=True)


@dataclass
class Reply:
    """A fully read (and capped) response: what `get` returns once the connection is released."""

    status_code: int
    headers: httpx2.Headers
    content: bytes
    url: str
    links: dict[str, dict[str, str]] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def next_url(self) -> str | None:
        """The ``Link: <...>; rel="next"`` target, absolute."""
        target = self.links.get("next", {}).get("url")
        return str(httpx2.URL(self.url).join(target)) if target else None


def read_capped(response: httpx2.Response, limit: int) -> bytes:
    """The body of a streamed ``response``, or `BodyTooLarge` as soon as it passes ``limit`` bytes."""
    announced = response.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > limit:
        raise BodyTooLarge(limit, int(announced))
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if total > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _read_prefix(response: httpx2.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of a body whose rest does not matter (an error page)."""
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk[: limit - total])
        total += len(chunks[-1])
        if total >= limit:
            break
    return b"".join(chunks)


@dataclass(frozen=True)
class RetryPolicy:
    """How `get` retries. ``timeout`` bounds a whole attempt (connect, headers and body), not each read."""

    timeout: float = 30.0
    max_retries: int = 5
    base_wait: float = 1.0
    max_backoff: float = 8.0
    max_wait: float | None = DEFAULT_MAX_WAIT_S
    statuses: frozenset[int] = RETRY_STATUSES - {429}  # a 429 is the caller's: it pauses every thread
    hint: str = ""  # appended to a `WaitTooLong` message (how to carry on)
    # A refused connection or unknown host is final (not retried): right until a server has answered once,
    # when it means a wrong endpoint or no network rather than a blip.
    connect_final: bool = False


def _site(url: str) -> str:
    scheme, host, port = origin(url)
    return f"{scheme}://{host}:{port}"


def get(client: httpx2.Client, url: str, *, limit: int, policy: RetryPolicy,
        headers: dict[str, str] | None = None, sleep: Callable[[float], None] = time.sleep) -> Reply:
    """GET ``url`` and read its body (at most ``limit`` bytes of a 2xx, else `BodyTooLarge`).

    Broken connections, timeouts and ``policy.statuses`` are retried with exponential backoff, a
    ``Retry-After`` is honoured when it is within ``policy.max_wait`` and ends the run at once
    (`WaitTooLong`) when it is not. After the last retry the last status is returned (or the error raised);
    every other status is returned at once with the first `ERROR_BODY_BYTES` of its body.
    """
    for attempt in range(policy.max_retries + 1):
        last = attempt == policy.max_retries
        backoff = min(policy.max_backoff, policy.base_wait * 2**attempt)
        try:
            with request_deadline(policy.timeout), client.stream("GET", url, headers=headers) as response:
                ok = 200 <= response.status_code < 300
                body = read_capped(response, limit) if ok else _read_prefix(response, min(limit, ERROR_BODY_BYTES))
                reply = Reply(response.status_code, response.headers, body, str(response.url), response.links)
        except httpx2.ConnectError:
            if last or policy.connect_final:
                raise
            sleep(backoff)
            continue
        except RETRY_ERRORS:
            if last:
                raise
            sleep(backoff)
            continue
        if reply.status_code in policy.statuses and not last:
            asked = retry_after_seconds(reply.headers.get("retry-after"))
            if asked is not None:
                check_wait(asked, policy.max_wait, f"{_site(url)} (Retry-After on HTTP {reply.status_code})",
                           policy.hint)
            sleep(backoff if asked is None else asked)
            continue
        return reply
    raise AssertionError("unreachable")  # pragma: no cover


# --- asynchronous clients (judges) --------------------------------------------------------------------

class _BoundedInflater:
    """gzip/deflate decoding that never produces more than asked for: a 1 MB bomb cannot become 1 GB in memory."""

    def __init__(self, encoding: str) -> None:
        self._wbits = zlib.MAX_WBITS | 16 if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._zlib = zlib.decompressobj(self._wbits)
        self._first = True

    def feed(self, data: bytes, room: int) -> bytes:
        """Up to ``room + 1`` decoded bytes of ``data`` (one more than fits says the limit was passed)."""
        try:
            out = self._zlib.decompress(data, room + 1)
        except zlib.error:
            if not (self._first and self._wbits == zlib.MAX_WBITS):
                raise
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)  # "deflate" sent raw, without the zlib header
            out = self._zlib.decompress(data, room + 1)
        self._first = False
        return out


async def aread_capped(response: httpx.Response, limit: int, *, truncate: bool = False) -> bytes:
    """The body of a streamed ``response``, decoded, at most ``limit`` bytes of it.

    Past the limit: `BodyTooLarge` (``truncate=False``: the answer itself is wanted whole), or the first
    ``limit`` bytes (``truncate=True``: an error body, of which the start is enough). Reading stops there, so
    memory stays bounded whatever the server sends or announces; gzip and deflate are decoded under the same
    bound, other content encodings are refused (curate asks for ``identity``).
    """
    import httpx

    if not truncate:
        announced = response.headers.get("content-length", "")
        if announced.isdigit() and int(announced) > limit and not response.headers.get("content-encoding"):
            raise BodyTooLarge(limit, int(announced))
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    inflater: _BoundedInflater | None = None
    if encoding in ("gzip", "x-gzip", "deflate"):
        inflater = _BoundedInflater(encoding)
    elif encoding not in ("", "identity"):
        raise httpx.DecodingError(f"unsupported Content-Encoding {encoding[:40]!r}", request=response.request)
    body = bytearray()
    async for chunk in response.aiter_raw():
        if inflater is not None:
            try:
                chunk = inflater.feed(chunk, limit - len(body))
            except zlib.error as exc:
                raise httpx.DecodingError(f"undecodable {encoding} body ({exc})", request=response.request) from exc
        body += chunk
        if len(body) > limit:
            if truncate:
                return bytes(body[:limit])
            raise BodyTooLarge(limit)
    return bytes(body)

