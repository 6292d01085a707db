"""Client-side request pacing shared by all worker threads of one snapshot.

huggingface_hub's `http_backoff` retries 5xx and timeouts per request, which is right for those. A 429 is
different: the whole client is over its quota, so every thread must wait for the window to reset rather
than each retrying on its own and hammering the Hub. `Pacer` spaces requests to a configured rate and
holds every thread when the Hub says the window is used up (``RateLimit: ...;r=0;t=<reset>``), or after a
429 (``RateLimit`` reset or ``Retry-After``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from huggingface_hub.utils import parse_ratelimit_headers


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after") or headers.get("Retry-After")
    if value and value.strip().isdigit():
        return float(value)
    return None


class Pacer:
    """At most ``rate`` requests per second across threads (None: unpaced), plus global pauses."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next = time.monotonic()
        self._paused_until = 0.0
        self._lock = threading.Lock()
        self.pauses = 0

    def wait(self) -> None:
        """Block until this thread may send its next request."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next, self._paused_until)
            self._next = start + self.interval
        delay = start - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def pause(self, seconds: float) -> None:
        with self._lock:
            until = time.monotonic() + seconds
            if until > self._paused_until:
                self._paused_until = until
                self.pauses += 1

    def observe(self, status: int, headers: Mapping[str, str]) -> float | None:
        """Learn from a response; return how long everyone now waits (None when no wait)."""
        info = parse_ratelimit_headers(headers)
        wait: float | None = None
        if info is not None and info.remaining == 0:
            wait = float(info.reset_in_seconds) + 0.5
        elif status == 429:
            wait = _retry_after(headers)
            if wait is None:
                wait = 5.0  # a 429 with no hint: a conservative pause, never an immediate retry
        if wait is not None:
            self.pause(wait)
        return wait
