"""Scores files in the dashboard: which ones it may read, and their summary.

Scores live in parquet files next to the corpus, not in the store, so the filter view asks for a path (default
from ``--scores`` after Streamlit's ``--`` separator or ``CURATE_SCORES``, else the newest recorded annotate run).

Whoever can open the dashboard can type a path, and the server reads it: so only files the store records as
the output (or input) of a pipeline run (or inside such an output folder: sharded scores, a filter export),
the ``--scores`` file the dashboard was started with, and files under ``--scores-root`` / ``CURATE_SCORES_ROOT``
folders are read (`readable`). Anything else gets the same message, whether it exists or not.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import polars as pl


def score_columns(frame: pl.LazyFrame | pl.DataFrame) -> list[str]:
    """The annotator's score columns: the ensemble ``score`` first, then one ``score_<head>`` per head."""
    names = frame.collect_schema().names() if isinstance(frame, pl.LazyFrame) else frame.columns
    return [c for c in names if c == "score"] + sorted(c for c in names if c.startswith("score_"))


def summary(path: str | Path) -> pl.DataFrame:
    """Count, mean and quantiles of every score column (per language when the file has a ``lang`` column)."""
    lazy = pl.scan_parquet(path)
    cols = score_columns(lazy)
    if not cols:
        raise ValueError(f"{path}: no score column (expected 'score' or 'score_<head>')")
    by = ["lang"] if "lang" in lazy.collect_schema().names() else []
    long = lazy.unpivot(index=by, on=cols, variable_name="column", value_name="value")
    aggs = [pl.len().alias("n"), pl.col("value").mean().alias("mean"),
            *(pl.col("value").quantile(q).alias(f"p{int(q * 100)}") for q in (0.1, 0.5, 0.7, 0.9))]
    return long.group_by([*by, "column"]).agg(aggs).sort([*by, "column"]).collect()


def readable(path: str | Path, allowed: Iterable[str | Path], suffixes: tuple[str, ...] = (".parquet",)) -> Path | None:
    """The real path of ``path`` when it is a file ending in one of ``suffixes`` (parquet by default) that is,
    or lies inside, one of ``allowed`` (recorded run outputs, the configured scores file and roots); else None.

    Both sides are resolved, so ``..`` and symlinks cannot lead outside what is allowed.
    """
    try:
        target = Path(path).expanduser().resolve(strict=True)
    except (OSError, RuntimeError):  # missing, unreadable, a symlink loop
        return None
    if not target.is_file() or not target.name.endswith(suffixes):
        return None
    for item in allowed:
        if not str(item):
            continue
        try:
            base = Path(item).expanduser().resolve()
        except (OSError, RuntimeError):
            continue
        if target == base or (base.is_dir() and target.is_relative_to(base)):
            return target
    return None
