"""The DuckDB store: one embedded file for snapshots, cards, analyses, contamination and annotation runs.

The schema is versioned: ``curate/migrations/NNNN_name.sql`` files are applied in order, once each, and
the applied version is kept in ``schema_version``. A migration only ever moves forward; to change a
table, add a new file.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from types import TracebackType

import duckdb

from curate import config
from curate.errors import CurateError

_MIGRATION = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


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
    """

    def __init__(self, path: str | Path | None = None, *, read_only: bool = False) -> None:
        self.path = config.db_path(path)
        if read_only and not self.path.exists():
            raise CurateError(f"no store at {self.path} (run `curate snapshot` or `curate demo` first)")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            raise CurateError(f"cannot open store {self.path}: {exc}") from exc
        if not read_only:
            self.migrate()

    @property
    def version(self) -> int:
        exists = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
        ).fetchone()[0]
        if not exists:
            return 0
        row = self.con.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

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
