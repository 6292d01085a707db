"""Record pipeline runs (judge, train-annotator, annotate, filter) in the store, so the dashboard and later
commands can find their outputs, and a user can see what produced a file.

Recording is best effort: the run's own output is already written when this is called, so a store that
cannot be opened (locked by another process, read-only disk) costs a warning, not the run.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the CLI imports this module at start-up; keep that light
    import duckdb
    import polars as pl

log = logging.getLogger("curate")
KINDS = ("judge", "train-annotator", "annotate", "filter")


def record(db: str | Path | None, kind: str, inputs: list[str], output: str | Path, settings: dict[str, Any],
           n_docs: int | None = None, seconds: float | None = None) -> int | None:
    """Insert one run; return its id, or None (with a warning) when the store cannot take it."""
    from curate.store import Store

    if kind not in KINDS:
        raise ValueError(f"unknown run kind {kind!r}")
    try:
        with Store(db) as store:
            row = store.con.execute(
                "INSERT INTO pipeline_runs (created_at, kind, inputs, output, settings, n_docs, seconds) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [datetime.now(UTC), kind, [str(i) for i in inputs], str(Path(output).resolve()),
                 json.dumps(settings, default=str), n_docs, seconds]).fetchall()
            return int(row[0][0])
    except Exception as exc:  # the store is a record, not the product of the run
        log.warning("run not recorded in the store (%s); its output is at %s", exc, output)
        return None


def runs(con: duckdb.DuckDBPyConnection, kind: str | None = None) -> pl.DataFrame:
    """Recorded runs, newest first (an empty frame for stores older than the table)."""
    import polars as pl

    exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'pipeline_runs'").fetchall()
    if not exists[0][0]:
        return pl.DataFrame()
    where = "WHERE kind = ?" if kind else ""
    return con.sql(f"SELECT id, created_at, kind, inputs, output, n_docs, round(seconds, 1) AS seconds, settings "
                   f"FROM pipeline_runs {where} ORDER BY id DESC", params=[kind] if kind else None).pl()
