"""What every view of the dashboard shares: the store it reads, the chosen snapshot, and the files it may open.

The dashboard opens the store read-only, and only for as long as one query takes (`Context.store`), so a
`curate snapshot` or `curate contamination` run can write between two clicks. Files other than the store are
read only when the store records them (`Context.readable`): outputs of recorded pipeline runs, the inputs those
runs read, the sources of recorded contamination runs, plus the ``--scores`` file and ``--scores-root`` folders
the dashboard was started with. Whoever can open the page can type a path; the server still reads nothing else.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from curate import config
from curate.store import Store
from dashboards import scores


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``--db``, ``--scores`` and ``--scores-root`` after Streamlit's ``--`` separator (or from the environment)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db")
    parser.add_argument("--scores")
    parser.add_argument("--scores-root", action="append", default=[])
    known, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    known.db = str(config.db_path(known.db, reading=True))
    known.scores = known.scores or config.dashboard_scores() or ""
    known.scores_root = [*known.scores_root, *map(str, config.scores_roots())]
    return known


def stamp(path: str | Path) -> tuple[int, int]:
    """The store file's modification time and size: part of every cache key, so a new snapshot is seen."""
    try:
        st = Path(path).stat()
    except OSError:
        return (0, 0)
    return (st.st_mtime_ns, st.st_size)


@contextmanager
def open_store(db: str) -> Iterator[Store]:
    """The store, read-only, for one query: the read lock is released at once."""
    store = Store(db, read_only=True)
    try:
        yield store
    finally:
        store.close()


@dataclass
class Context:
    """The store, its stamp, the snapshot the sidebar chose, and the files the dashboard may read."""

    db: str
    stamp: tuple[int, int]
    snapshot_id: int | None = None
    snapshot_ids: list[int] = field(default_factory=list)
    scores: str = ""  # the --scores file
    roots: list[str] = field(default_factory=list)  # --scores-root folders
    recorded: list[str] = field(default_factory=list)  # outputs and local inputs of recorded runs

    def store(self) -> Store:
        """Open the store read-only (use as a context manager)."""
        return Store(self.db, read_only=True)

    @property
    def allowed(self) -> list[str]:
        return [*self.recorded, *([self.scores] if self.scores else []), *self.roots]

    def readable(self, path: str | Path, suffixes: tuple[str, ...] = (".parquet",)) -> Path | None:
        """The real path of ``path`` when it is a file the dashboard may read (see the module), else None."""
        return scores.readable(path, self.allowed, suffixes=suffixes)
