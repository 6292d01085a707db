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
import re
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from curate.errors import CurateError

if TYPE_CHECKING:  # httpx is imported where a client is built, not by every command that redacts a URL
    import httpx

# Every 5xx but "not implemented" and "version not supported" (proxies answer 520-529 for overloaded
# upstreams), plus the 4xx that mean "try again later".
RETRY_STATUSES = frozenset({408, 409, 425, 429, *range(500, 600)}) - {501, 505}
DEFAULT_MAX_WAIT_S = 900.0  # a quarter of an hour: longer server-requested waits end the run instead
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



# --- asynchronous clients (judges) --------------------------------------------------------------------

ERROR_BODY_BYTES = 4096  # what is read of an error answer: enough for its message, never a flood


class BodyTooLarge(CurateError):
    """An answer larger than the limit set for it; nothing past the limit was read or kept."""

    def __init__(self, size: int | None, limit: int) -> None:
        self.size = size
        self.limit = limit
        told = f" ({size:,} bytes announced)" if size is not None else ""
        super().__init__(f"answer larger than {limit:,} bytes{told}")


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


async def read_capped(response: httpx.Response, limit: int, *, truncate: bool = False) -> bytes:
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
            raise BodyTooLarge(int(announced), limit)
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
            raise BodyTooLarge(None, limit)
    return bytes(body)

