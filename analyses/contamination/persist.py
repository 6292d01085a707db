"""Store contamination results in the DuckDB store and read the latest back for reports and dashboards."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from analyses.contamination.check import CheckResult
from curate.files import atomic_path


def save(con: duckdb.DuckDBPyConnection, result: CheckResult, mentions: pl.DataFrame | None = None) -> int:
    """Write a run and its items in one transaction; return the run id."""
    con.execute("BEGIN TRANSACTION")
    try:
        run_id = con.execute(
            "INSERT INTO contamination_runs (created_at, benchmarks, corpora, settings, n_docs, n_bytes, seconds, "
            "n_errors) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [datetime.now(UTC), list(result.benchmarks), result.corpora, json.dumps(asdict(result.settings)),
             result.n_docs, result.n_bytes, result.seconds, len(result.errors)]).fetchall()[0][0]
        rows = pl.DataFrame(
            [{"run_id": run_id, "benchmark": name, "item_id": i.id, "checked": i.checked,
              "contaminated": i.contaminated, "match": i.match, "overlap": i.overlap,
              "longest_match_chars": i.longest_match_chars, "n_docs": i.n_docs, "doc_ids": i.doc_ids}
             for name, items in result.benchmarks.items() for i in items],
            schema={"run_id": pl.Int32, "benchmark": pl.String, "item_id": pl.String, "checked": pl.Boolean,
                    "contaminated": pl.Boolean, "match": pl.String, "overlap": pl.Float64,
                    "longest_match_chars": pl.Int32, "n_docs": pl.Int64, "doc_ids": pl.List(pl.String)})
        con.register("_items", rows)
        con.execute("INSERT INTO contamination_items SELECT * FROM _items")
        con.unregister("_items")
        docs = pl.DataFrame({"run_id": [run_id] * len(result.contaminated_doc_ids),
                             "doc_id": sorted(result.contaminated_doc_ids)},
                            schema={"run_id": pl.Int32, "doc_id": pl.String})
        con.register("_docs", docs)
        con.execute("INSERT INTO contamination_docs SELECT * FROM _docs")
        con.unregister("_docs")
        if mentions is not None and mentions.height:
            con.register("_mentions", mentions.with_columns(pl.lit(run_id).alias("run_id")))
            con.execute("INSERT INTO contamination_mentions SELECT run_id, benchmark, snapshot_id, repo_id, in_id, "
                        "in_card FROM _mentions")
            con.unregister("_mentions")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return int(run_id)


def latest_summary(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per benchmark of the newest run of each benchmark: items, contaminated, exact, rate, run id, corpora."""
    exists = con.execute("SELECT count(*) FROM information_schema.tables "
                         "WHERE table_name = 'contamination_items'").fetchall()[0][0]
    if not exists:
        return pl.DataFrame()
    return con.sql("""
        WITH latest AS (
            SELECT i.benchmark, max(i.run_id) AS run_id FROM contamination_items i GROUP BY i.benchmark)
        SELECT i.benchmark, i.run_id, array_to_string(r.corpora, ', ') AS corpora, r.created_at,
               count(*) AS n_items, count(*) FILTER (WHERE i.checked) AS n_checked,
               count(*) FILTER (WHERE i.contaminated) AS n_contaminated,
               count(*) FILTER (WHERE i.match = 'exact') AS n_exact,
               count(*) FILTER (WHERE i.contaminated) / count(*) AS rate
        FROM contamination_items i JOIN latest USING (benchmark, run_id)
        JOIN contamination_runs r ON r.id = i.run_id
        GROUP BY ALL ORDER BY i.benchmark""").pl()


def run_for_corpora(con: duckdb.DuckDBPyConnection, corpora: list[str], run_id: int | None = None) -> int:
    """The given run, or the newest run that checked every one of ``corpora`` (names as the run recorded them)."""
    from curate.errors import CurateError

    rows = con.execute("SELECT id, corpora FROM contamination_runs ORDER BY id DESC").fetchall()
    if run_id is not None:
        if run_id not in {r[0] for r in rows}:
            raise CurateError(f"no contamination run {run_id} in the store")
        return run_id
    for rid, names in rows:
        if set(corpora) <= set(names):
            return int(rid)
    raise CurateError(f"no contamination run in the store checked {', '.join(corpora)}: run `curate contamination "
                      "--corpus ...` first, or pass --contaminated-ids FILE")


def doc_ids(con: duckdb.DuckDBPyConnection, run_id: int) -> list[str]:
    """Every contaminated document id of a run."""
    return [r[0] for r in con.execute("SELECT doc_id FROM contamination_docs WHERE run_id = ? ORDER BY doc_id",
                                      [run_id]).fetchall()]


def write_doc_ids(path: Path, doc_ids: set[str]) -> None:
    """The contaminated documents' ids, one per line, sorted (written to a temp file, then renamed)."""
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as f:
        for doc_id in sorted(doc_ids):
            f.write(doc_id.replace("\n", " ") + "\n")
