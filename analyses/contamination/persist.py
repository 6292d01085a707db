"""Contamination results into the store (a `CheckResult` as rows) and the contaminated ids of a run back out.

Reports and the dashboard read results with the store's own queries (`StoreQueries.latest_contamination`).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from analyses.contamination.check import CheckResult
from curate.files import atomic_path
from curate.store import ContaminationRun, StoreSource, queries


def save(store: StoreSource, result: CheckResult, mentions: pl.DataFrame | None = None) -> int:
    """Write a run, its items, its contaminated documents and its Hub mentions in one transaction; return the
    run id. This module turns a `CheckResult` into rows; the store writes them (`StoreQueries.add_contamination_run`)."""
    run = ContaminationRun(created_at=datetime.now(UTC), benchmarks=list(result.benchmarks),
                           corpora=list(result.corpora), settings=json.dumps(asdict(result.settings)),
                           n_docs=result.n_docs, n_bytes=result.n_bytes, seconds=result.seconds,
                           n_errors=len(result.errors), sources=list(result.sources))
    items = pl.DataFrame(
        [{"benchmark": name, "item_id": i.id, "checked": i.checked, "contaminated": i.contaminated,
          "match": i.match, "overlap": i.overlap, "longest_match_chars": i.longest_match_chars, "n_docs": i.n_docs,
          "doc_ids": i.doc_ids}
         for name, items in result.benchmarks.items() for i in items],
        schema={"benchmark": pl.String, "item_id": pl.String, "checked": pl.Boolean, "contaminated": pl.Boolean,
                "match": pl.String, "overlap": pl.Float64, "longest_match_chars": pl.Int32, "n_docs": pl.Int64,
                "doc_ids": pl.List(pl.String)})
    return queries(store).add_contamination_run(run, items, sorted(result.contaminated_doc_ids), mentions)


def write_doc_ids(path: Path, doc_ids: set[str]) -> None:
    """The contaminated documents' ids, one per line, sorted (written to a temp file, then renamed)."""
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as f:
        for doc_id in sorted(doc_ids):
            f.write(doc_id.replace("\n", " ") + "\n")
