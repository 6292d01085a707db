"""Client-side request pacing shared by all worker threads of one snapshot.

`curate.http.get` retries 5xx and timeouts per request, which is right for those. A 429 is different: the
whole client is over its quota, so every thread must wait for the window to reset rather than each retrying
on its own and hammering the Hub. `Pacer` spaces requests to a configured rate and holds every thread when
the Hub says the window is used up (``RateLimit: ...;r=0;t=<reset>``), or after a 429 (``RateLimit`` reset
or ``Retry-After``).

Every wait is bounded and interruptible: a wait the server asks for beyond ``max_wait`` raises
`curate.http.WaitTooLong` at once (it is never slept), and `stop()` wakes every sleeping thread with
`curate.http.Cancelled`, so Ctrl-C does not wait for anyone's pause to run out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from huggingface_hub.utils import parse_ratelimit_headers

from curate.http import Cancelled, check_wait, retry_after_seconds

_SLICE_S = 0.25


class Pacer:
    """At most ``rate`` requests per second across threads (None: unpaced), plus global pauses."""

    def __init__(self, rate: float | None, max_wait: float | None = None, hint: str = "",
                 what: str = "the Hub") -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.max_wait = max_wait
        self.hint = hint
        self.what = what
        self._next = time.monotonic()
        self._paused_until = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.pauses = 0

    @property
    def stop_event(self) -> threading.Event:
        """Set when the run stops; HTTP clients watch it too, to drop blocked reads."""
        return self._stop

    def stop(self) -> None:
        """Wake every thread waiting here (or in `sleep`): they raise `Cancelled`."""
        self._stop.set()

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

    def wait(self) -> None:
        """Block until this thread may send its next request."""
        if self._stop.is_set():
            raise Cancelled("the run is stopping")
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next, self._paused_until)
            self._next = start + self.interval
        self.sleep(start - time.monotonic())

    def pause(self, seconds: float) -> None:
        with self._lock:
            until = time.monotonic() + seconds
            if until > self._paused_until:
                self._paused_until = until
                self.pauses += 1

    def observe(self, status: int, headers: Mapping[str, str]) -> float | None:
        """Learn from a response; return how long everyone now waits (None when no wait).

        A wait over ``max_wait`` raises `WaitTooLong` here, before anyone sleeps on it.
        """
        info = parse_ratelimit_headers(headers)
        wait: float | None = None
        if info is not None and info.remaining == 0:
            check_wait(float(info.reset_in_seconds), self.max_wait, f"{self.what} (RateLimit reset)", self.hint)
            wait = float(info.reset_in_seconds) + 0.5
        elif status == 429:
            wait = retry_after_seconds(headers.get("retry-after") or headers.get("Retry-After"))
            if wait is None:
                wait = 5.0  # a 429 with no hint: a conservative pause, never an immediate retry
            check_wait(wait, self.max_wait, f"{self.what} (Retry-After on HTTP 429)", self.hint)
        if wait is not None:
            self.pause(wait)
        return wait
