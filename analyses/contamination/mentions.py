"""The cheap Hub-level check: datasets of a snapshot whose id or card names a benchmark.

A dataset that names a benchmark is often a copy of it (a translation, a reformatting, a "train" split
built from test items). Listing them per benchmark costs one query over stored cards and needs no corpus.
"""

from __future__ import annotations

import re

import polars as pl

from curate.store import StoreSource, queries


def alias(benchmark: str) -> str:
    """What a card would call a benchmark: the last part of a path or Hub id, without its file suffix."""
    name = benchmark.rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"\.(jsonl\.gz|jsonl|json|parquet|csv)$", "", name, flags=re.I)


def find_mentions(source: StoreSource, benchmarks: list[str], snapshot: str | int = "latest",
                  min_alias_chars: int = 4) -> pl.DataFrame:
    """(benchmark, snapshot_id, repo_id, in_id, in_card) for each dataset naming a benchmark.

    Matching is case-insensitive and needs a non-alphanumeric character (or the text's edge) on both sides, so
    ``hrm8k`` matches ``someone/HRM8K-ko-translated`` but not ``hrm8kx``. Aliases shorter than
    ``min_alias_chars`` are skipped: they name too many things.
    """
    store = queries(source)
    snap = store.resolve_snapshot(snapshot).id
    frame = store.cards(snap)
    parts = []
    for bench in benchmarks:
        name = alias(bench)
        if len(name) < min_alias_chars:
            continue
        pattern = rf"(?i)(?:^|[^\p{{L}}\p{{N}}]){re.escape(name)}(?:[^\p{{L}}\p{{N}}]|$)"
        hits = frame.select(
            pl.lit(bench).alias("benchmark"), pl.lit(snap, dtype=pl.Int32).alias("snapshot_id"), "repo_id",
            pl.col("repo_id").str.contains(pattern).alias("in_id"), pl.col("card").str.contains(pattern).alias("in_card"),
        ).filter((pl.col("in_id") | pl.col("in_card")) & (pl.col("repo_id").str.to_lowercase() != bench.lower()))
        parts.append(hits)
    if not parts:
        return pl.DataFrame(schema={"benchmark": pl.String, "snapshot_id": pl.Int32, "repo_id": pl.String,
                                    "in_id": pl.Boolean, "in_card": pl.Boolean})
    return pl.concat(parts).sort("benchmark", "repo_id")
