"""Client-side request pacing shared by all worker threads of one snapshot: the Hub's quota, spent evenly.

The Hub counts requests per *bucket* in fixed windows (``api`` for the REST API, ``resolvers`` for file
downloads, anonymous: 500 and 3,000 per 5 minutes; a token raises both) and says where a client stands on its
responses::

    RateLimit: "api";r=<remaining>;t=<seconds until the window resets>
    RateLimit-Policy: "fixed window";"api";q=<quota>;w=<window seconds>

`Pacer` reads those headers (``huggingface_hub.utils.parse_ratelimit_headers``) and paces each bucket on its
own: what remains in the current window is spread evenly over the time left, so a token's larger quota is used
as soon as the Hub announces it and a small one is never overrun. When the requests still to make in a bucket
(`Pacer.plan`) fit in what remains, they go at once: holding back would only make the run longer. A bucket is
never sent more than what remains: once it is spent, its requests wait for the window to reset, and the first
request of each new window goes alone, to learn the new window before the others follow. ``rate`` (``--rate``)
is an optional cap on top, across buckets. A server that announces nothing is not paced beyond that cap.

Requests in flight are counted against the window until their answer says otherwise (``r`` of a response
already counts every request the Hub saw before it; curate subtracts the ones it sent after), so concurrency
never overspends. ``t`` is whole seconds, rounded up as ``Retry-After`` is (a client that waits ``t`` finds the
window reset): each response bounds the window's end, and the tightest bound is kept.

A 429 is still possible (another client spending the same token, a server that only announces its quota on
429s): its bucket waits for the ``RateLimit`` reset or ``Retry-After``, whichever is longer. Every wait is
bounded and interruptible: a wait the server asks for beyond ``max_wait`` raises `curate.http.WaitTooLong` at
once (it is never slept), and `stop()` wakes every waiting thread with `curate.http.Cancelled` within a
quarter of a second, so Ctrl-C does not wait for anyone's pause to run out.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx2
from huggingface_hub.utils import parse_ratelimit_headers

from curate.http import Cancelled, check_wait, retry_after_seconds

_SLICE_S = 0.25  # longest single sleep: a stopping run is noticed within this
BUCKETS = ("api", "resolvers")
NO_HINT_429_S = 5.0  # a 429 that names no wait: a conservative pause, never an immediate retry
MIN_429_PAUSE_S = 0.5  # a 429 saying "reset now": retry after a breath, not at once


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A header by its lower-case name, whatever the case of the mapping's keys (httpx's are any case)."""
    if headers is None:
        return None
    if isinstance(headers, httpx2.Headers):
        return headers.get(name)
    return next((v for k, v in headers.items() if k.lower() == name), None)


def bucket_of(url: str) -> str:
    """The Hub's rate-limit bucket of a request: ``resolvers`` for file downloads (``/resolve/``), else ``api``."""
    return "resolvers" if "/resolve/" in url else "api"


@dataclass(frozen=True)
class Ticket:
    """One request's place in its bucket: handed out by `Pacer.wait`, given back to `Pacer.observe`."""

    bucket: str
    seq: int  # the bucket's count of requests sent, this one included
    sent_at: float  # monotonic time it was let go
    generation: int  # the bucket's window count when it was let go
    probe: bool = False  # the first request of a window, sent alone


class _Bucket:
    """What is known of one bucket's current window (all fields guarded by the pacer's lock)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.quota: int | None = None  # q of RateLimit-Policy, once announced
        self.window: float | None = None  # w
        self.known = False  # is the current window's state below from a response
        self.fresh = True  # a new window (or none seen yet): the next request goes alone
        self.probing = False  # that request is out
        self.generation = 0
        self.end_lo = 0.0  # the window ends in [end_lo, end_hi] (monotonic seconds)
        self.end_hi = 0.0
        self.base = 0  # remaining as of request base_seq ...
        self.base_seq = 0
        self.sent = 0  # ... minus requests sent since
        self.planned: int | None = None  # requests still to make here; None: unknown
        self.next_at = 0.0  # earliest time of the next request (even spacing)
        self.paused_until = 0.0

    def left(self) -> int:
        """Requests that may still go in the current window (in-flight ones already subtracted)."""
        return self.base - (self.sent - self.base_seq)

    def known_policy(self) -> bool:
        """Whether q and w were announced and a window was seen, so the next one can be assumed."""
        return bool(self.quota and self.window and self.end_hi)

    def roll(self) -> None:
        """The window's end has passed: forget its state; the next request goes alone to learn the new one."""
        self.generation += 1
        self.known = False
        self.fresh = True
        self.next_at = 0.0

    def adopt(self, ticket: Ticket, remaining: int, lo: float, hi: float) -> None:
        self.end_lo, self.end_hi = lo, hi
        self.base, self.base_seq = remaining, ticket.seq
        self.known, self.fresh = True, False


class Pacer:
    """Per-bucket quota pacing (see the module docstring), an optional overall rate cap, and stopping."""

    def __init__(self, rate: float | None = None, max_wait: float | None = None, hint: str = "",
                 what: str = "the Hub") -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.max_wait = max_wait
        self.hint = hint
        self.what = what
        self._next = 0.0  # the rate cap's next free slot, across buckets
        self._cond = threading.Condition(threading.Lock())
        self._stop = threading.Event()
        self._buckets = {name: _Bucket(name) for name in BUCKETS}
        self.pauses = 0  # 429s that paused a bucket

    # -- stopping -------------------------------------------------------------------------------------

    @property
    def stop_event(self) -> threading.Event:
        """Set when the run stops; HTTP clients watch it too, to drop blocked reads."""
        return self._stop

    def stop(self) -> None:
        """Wake every thread waiting here (or in `sleep`): they raise `Cancelled`."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` unless the run stops first (then `Cancelled`).

        In short slices: a signal handled by another thread only runs its Python handler (Ctrl-C's
        KeyboardInterrupt) once the main thread wakes, so the main thread must not block for long.
        """
        end = time.monotonic() + seconds
        while not self._stop.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return
            self._stop.wait(min(left, _SLICE_S))
        raise Cancelled("the run is stopping")

    def paused_for(self, bucket: str) -> float:
        """Seconds before ``bucket`` may send again after a 429 (0 when it is not paused)."""
        with self._cond:
            return max(0.0, self._buckets[bucket].paused_until - time.monotonic())

    # -- planning and waiting -------------------------------------------------------------------------

    def plan(self, bucket: str, requests: int) -> None:
        """Say that ``requests`` more requests will be made in ``bucket``: when they fit in what remains of
        the window they need not be spread over it."""
        with self._cond:
            b = self._buckets[bucket]
            b.planned = (b.planned or 0) + max(0, requests)

    def wait(self, bucket: str = "api") -> Ticket:
        """Block until this thread may send its next request in ``bucket``; give the ticket to `observe`."""
        b = self._buckets[bucket]
        with self._cond:
            while True:
                if self._stop.is_set():
                    raise Cancelled("the run is stopping")
                now = time.monotonic()
                delay = self._delay(b, now)
                if delay is None:
                    start = max(now, self._next)
                    return self._send(b, now, start)
                self._cond.wait(min(delay, _SLICE_S))

    def _delay(self, b: _Bucket, now: float) -> float | None:
        """How long before ``b`` may send (None: now, or at a slot `_send` reserves)."""
        if b.paused_until > now:
            return b.paused_until - now
        if b.known and now >= b.end_hi:
            b.roll()
        if b.fresh:
            return _SLICE_S if b.probing else None  # one request learns the window; the rest wait for it
        if not b.known:
            return None  # nothing announced: only the rate cap applies
        if b.left() <= 0:
            return b.end_hi - now
        if max(now, b.next_at, self._next) >= b.end_hi:
            return b.end_hi - now
        return None

    def _send(self, b: _Bucket, now: float, start: float) -> Ticket:
        probe = b.fresh
        if b.known:
            start = max(start, b.next_at)
            left = b.left()
            if b.planned is None or b.planned > left:  # more to do than remains: spread it over the window,
                # ending by the earliest the window can end, so that none of it slips into the next window
                horizon = b.end_lo if b.end_lo > start else b.end_hi
                b.next_at = start + (horizon - start) / left
        if probe:
            b.probing = True
        if self.interval:
            self._next = start + self.interval
        b.sent += 1
        if b.planned is not None:
            b.planned = max(0, b.planned - 1)
        ticket = Ticket(b.name, b.sent, start, b.generation, probe)
        if start > now:
            self._cond.release()  # sleep without the lock; the slot is ours
            try:
                self.sleep(start - now)
            finally:
                self._cond.acquire()
        return ticket

    # -- learning -------------------------------------------------------------------------------------

    def observe(self, ticket: Ticket, status: int | None, headers: Mapping[str, str] | None) -> float | None:
        """Learn from the answer to ``ticket`` (``status`` None: no answer came); return how long its bucket
        now waits before anything else is sent (None: no wait).

        A wait over ``max_wait`` raises `WaitTooLong` here, before anyone sleeps on it.
        """
        info = parse_ratelimit_headers(headers) if headers is not None else None
        wait: float | None = None
        if info is not None and (info.remaining == 0 or status == 429):
            wait = float(info.reset_in_seconds)
            check_wait(wait, self.max_wait, f"{self.what} (RateLimit reset)", self.hint)
        if status == 429:
            asked = retry_after_seconds(_header(headers, "retry-after"))
            if asked is not None:
                check_wait(asked, self.max_wait, f"{self.what} (Retry-After on HTTP 429)", self.hint)
            said = [w for w in (wait, asked) if w is not None]
            wait = max(MIN_429_PAUSE_S, *said) if said else NO_HINT_429_S
        now = time.monotonic()
        b = self._buckets[ticket.bucket]
        with self._cond:
            if ticket.probe:
                b.probing = False
            if info is not None:
                if info.limit and info.window_seconds:
                    b.quota, b.window = info.limit, float(info.window_seconds)
                self._learn(b, ticket, 0 if status == 429 else info.remaining, info.reset_in_seconds, now)
            elif ticket.probe and status is not None and ticket.generation == b.generation:
                if b.known_policy():  # announced on 429s only: assume the policy's window that holds now
                    w = b.window or 1.0
                    shift = w * max(1, math.ceil((now - b.end_hi) / w))
                    b.adopt(ticket, (b.quota or 1) - 1, b.end_lo + shift, b.end_hi + shift)
                else:
                    b.fresh = False  # the server announces nothing: unpaced (but for --rate) until it does
            if status == 429 and wait is not None:
                b.paused_until = max(b.paused_until, now + wait)
                self.pauses += 1
            self._cond.notify_all()
        return wait

    def _learn(self, b: _Bucket, ticket: Ticket, remaining: int, reset: int, now: float) -> None:
        """Fold one ``RateLimit`` answer into the bucket's window state.

        The answer's window ends in ``[sent_at + t - 1, now + t]``. An answer whose interval starts after
        the current one ends is from a newer window and replaces the state; one from before the current
        window (late answers of the last one) is ignored; one from the same window narrows its end and,
        being fresher, its remaining count.
        """
        lo, hi = ticket.sent_at + reset - 1, now + reset
        if ticket.generation < b.generation and not b.known:
            return  # an answer from the window that has just ended: the probe speaks for the new one
        if not b.known or lo > b.end_hi:
            b.adopt(ticket, remaining, lo, hi)
            return
        if hi < b.end_lo:
            return
        b.end_lo, b.end_hi = max(b.end_lo, lo), max(min(b.end_hi, hi), b.end_lo)
        if ticket.seq > b.base_seq:
            b.base, b.base_seq = remaining, ticket.seq
