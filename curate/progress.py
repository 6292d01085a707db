"""Progress reporting: a rich bar on a terminal, plain log lines otherwise (CI, pipes, files).

Every long-running command uses `track()` so the behaviour is the same everywhere.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

log = logging.getLogger("curate")


class Tracker:
    """Counts work done; ``advance()`` is cheap enough to call per item."""

    def __init__(self, progress: Progress | None, task: int | None, description: str, total: float | None,
                 unit: str) -> None:
        self._progress = progress
        self._task = task
        self.description = description
        self.total = total
        self.unit = unit
        self.done = 0.0
        self._started = time.monotonic()
        self._last_log = self._started

    def advance(self, n: float = 1) -> None:
        self.done += n
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=n)  # type: ignore[arg-type]
            return
        now = time.monotonic()
        if now - self._last_log >= 10:
            self._last_log = now
            self._log_line()

    def update_total(self, total: float) -> None:
        self.total = total
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, total=total)  # type: ignore[arg-type]

    @property
    def rate(self) -> float:
        return self.done / max(time.monotonic() - self._started, 1e-9)

    def _log_line(self) -> None:
        of = f"/{self.total:.0f}" if self.total else ""
        log.info("%s: %.0f%s %s (%.1f %s/s)", self.description, self.done, of, self.unit, self.rate, self.unit)


class _RateColumn(ProgressColumn):
    """Items per second since the start (rich's own speed column is for bytes)."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        rate = task.completed / elapsed if elapsed > 0 else 0.0
        return Text(f"{rate:,.1f} {self.unit}/s", style="progress.data.speed")


@contextmanager
def track(description: str, total: float | None = None, unit: str = "items",
          console: Console | None = None, show_rate: bool = False) -> Iterator[Tracker]:
    """A progress context: a rich bar when stderr is a terminal, periodic log lines when it is not (those
    always carry the rate; ``show_rate`` adds it to the bar)."""
    console = console or Console(stderr=True)
    if console.is_terminal and not console.is_dumb_terminal:
        columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TaskProgressColumn(), TimeElapsedColumn(), TimeRemainingColumn()]
        if show_rate:
            columns.append(_RateColumn(unit))
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task(description, total=total)
            yield Tracker(progress, task, description, total, unit)
        return
    tracker = Tracker(None, None, description, total, unit)
    yield tracker
    tracker._log_line()


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of the record (test runners and notebooks swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


class Messages:
    """Bad-input lines of a run: the first ``limit`` go to ``handler`` as they come (and are kept in ``lines``),
    the rest are only counted, with one line saying so, so a corpus full of broken records cannot flood the
    terminal."""

    def __init__(self, handler: Callable[[str], None] | None = None, *, limit: int = 20,
                 rest: str = "the rest are counted in the summary") -> None:
        self.handler = handler or log.warning
        self.limit = limit
        self.rest = rest
        self.lines: list[str] = []
        self.count = 0

    def __call__(self, message: str) -> None:
        self.count += 1
        if self.count <= self.limit:
            self.lines.append(message)
            self.handler(message)
        elif self.count == self.limit + 1:
            self.handler(f"more than {self.limit} messages; {self.rest}")


def setup_logging(debug: bool = False) -> None:
    """Plain log lines on stderr for non-interactive runs (idempotent)."""
    root = logging.getLogger("curate")
    if not root.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
