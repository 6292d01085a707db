"""The DuckDB store: one embedded file for snapshots, cards, analyses, contamination and annotation runs.

The schema is versioned: ``curate/migrations/NNNN_name.sql`` files are applied in order, once each, and
the applied version is kept in ``schema_version``. A migration only ever moves forward; to change a
table, add a new file.

DuckDB lets one process write a file, and a process that reads it (``curate report``, the dashboard) keeps
writers out while it has it open. So a store that is in use is waited for, a while, before it is a clear
error (`Store`'s ``wait``), instead of throwing away the work of a run that only had its results to store.
"""

from __future__ import annotations

import logging
import re
import time
from importlib import resources
from pathlib import Path
from types import TracebackType

import duckdb

from curate import config
from curate.errors import CurateError

_MIGRATION = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK_ERROR = re.compile(r"could not set lock|conflicting lock", re.IGNORECASE)
_LOCK_PID = re.compile(r"\(PID (\d+)\)")
DEFAULT_WAIT_S = 60.0  # how long a writer waits for a store another process has open
log = logging.getLogger("curate")


class StoreLocked(CurateError):
    """The store stayed locked by another process for the whole wait."""

    def __init__(self, path: Path, pid: int | None, waited: float) -> None:
        holder = f"another process (pid {pid})" if pid else "another process"
        super().__init__(f"store {path} is locked by {holder}, e.g. a `curate report`, the dashboard or another "
                         f"run; gave up after waiting {waited:g} s")
        self.path = path
        self.pid = pid


def is_lock_error(exc: BaseException) -> bool:
    """Whether a DuckDB error says another process holds the file's lock."""
    return isinstance(exc, duckdb.IOException) and bool(_LOCK_ERROR.search(str(exc)))


def migrations() -> list[tuple[int, str, str]]:
    """All shipped migrations as (version, name, sql), in version order."""
    found = []
    for entry in resources.files("curate.migrations").iterdir():
        m = _MIGRATION.match(entry.name)
        if m:
            found.append((int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions in curate/migrations: {versions}")
    return found


class Store:
    """An open store. Use as a context manager, or call `close()`.

    `con` is the raw DuckDB connection: analyses query it with SQL or hand it to polars.

    ``wait``: seconds to wait while another process holds the store (a writer, or for a writer any reader),
    retrying with a growing pause and logging once that it waits; then `StoreLocked`. The default is
    `DEFAULT_WAIT_S` for writers, which hold results a run has already paid for, and 0 for readers (the
    dashboard and reports would rather say at once that the store is busy).
    """

    def __init__(self, path: str | Path | None = None, *, read_only: bool = False, wait: float | None = None) -> None:
        self.path = config.db_path(path)
        if read_only and not self.path.exists():
            raise CurateError(f"no store at {self.path} (run `curate snapshot` or `curate demo` first)")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = self._connect(read_only, (0.0 if read_only else DEFAULT_WAIT_S) if wait is None else wait)
        if not read_only:
            self.migrate()

    def _connect(self, read_only: bool, wait: float) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + max(wait, 0.0)
        pause = 0.05
        announced = False
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.IOException as exc:
                if not is_lock_error(exc):
                    raise CurateError(f"cannot open store {self.path}: {exc}") from exc
                found = _LOCK_PID.search(str(exc))
                pid = int(found.group(1)) if found else None
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StoreLocked(self.path, pid, wait) from None
                if not announced:
                    log.warning("store %s is in use by another process%s; waiting up to %g s", self.path,
                                f" (pid {pid})" if pid else "", wait)
                    announced = True
                time.sleep(min(pause, left))
                pause = min(pause * 2, 1.0)

    @property
    def version(self) -> int:
        """The newest migration applied (0 for a new file).

        Results are fetched completely: a half-read result stays pending on the shared connection, and
        DuckDB then refuses the caller's next query (``ResourceInUseException``).
        """
        exists = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
        ).fetchall()[0][0]
        if not exists:
            return 0
        rows = self.con.execute("SELECT max(version) FROM schema_version").fetchall()
        return int(rows[0][0] or 0)

    def migrate(self) -> int:
        """Apply every migration newer than the store's version; return the new version."""
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS schema_version "
            "(version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ DEFAULT now())"
        )
        current = self.version
        for version, name, sql in migrations():
            if version <= current:
                continue
            self.con.execute("BEGIN TRANSACTION")
            try:
                self.con.execute(sql)
                self.con.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", [version, name])
                self.con.execute("COMMIT")
            except Exception:
                self.con.execute("ROLLBACK")
                raise
            current = version
        return current

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
