"""Scores tab: distributions of annotator scores from a `curate annotate` parquet file.

Scores live in parquet files next to the corpus, not in the store, so the tab asks for a path (default from
``--scores`` after Streamlit's ``--`` separator or ``CURATE_SCORES``).

Whoever can open the dashboard can type a path, and the server reads it: so only parquet files the store
records as the output of a pipeline run (or inside such an output folder: sharded scores, a filter export),
the ``--scores`` file the dashboard was started with, and files under ``--scores-root`` / ``CURATE_SCORES_ROOT``
folders are read (`readable`). Anything else gets the same message, whether it exists or not.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import polars as pl
import streamlit as st


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


def histogram(path: str | Path, column: str = "score", bins: int = 20) -> pl.DataFrame:
    """Equal-width histogram of one score column, for a bar chart."""
    values = pl.scan_parquet(path).select(pl.col(column).drop_nulls()).collect().to_series()
    if values.is_empty():
        return pl.DataFrame({"bin": [], "count": []})
    hist = values.hist(bin_count=bins)
    return hist.select(pl.col("breakpoint").round(3).cast(pl.String).alias("bin"), pl.col("count"))


def readable(path: str | Path, allowed: Iterable[str | Path]) -> Path | None:
    """The real path of ``path`` when it is a ``.parquet`` file that is, or lies inside, one of ``allowed``
    (recorded run outputs, the configured scores file and roots); else None.

    Both sides are resolved, so ``..`` and symlinks cannot lead outside what is allowed.
    """
    try:
        target = Path(path).expanduser().resolve(strict=True)
    except (OSError, RuntimeError):  # missing, unreadable, a symlink loop
        return None
    if not target.is_file() or target.suffix != ".parquet":
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


def render(default_path: str = "", allowed: Iterable[str | Path] = ()) -> None:
    """The scores box: summary and histogram of a scores parquet the dashboard may read (see `readable`)."""
    path = st.text_input("scores parquet (from `curate annotate --out`)", value=default_path, key="scores_path")
    if not path:
        st.info("Enter the path of a scores parquet file written by `curate annotate`.")
        return
    if readable(path, allowed) is None:
        st.warning(f"{path}: not a scores parquet this dashboard may read (the output of a run recorded in the "
                   "store, or a file under --scores-root / CURATE_SCORES_ROOT)")
        return
    try:
        table = summary(path)
    except Exception as exc:  # a foreign or corrupted file: say so on the page
        st.error(f"{path}: {exc}")
        return
    st.dataframe(table, hide_index=True)
    column = st.selectbox("distribution of", score_columns(pl.scan_parquet(path)), key="scores_column")
    st.bar_chart(histogram(path, column), x="bin", y="count")
