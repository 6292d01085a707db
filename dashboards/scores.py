"""Scores tab: distributions of annotator scores from a `curate annotate` parquet file.

Scores live in parquet files next to the corpus, not in the store, so the tab asks for a path (default from
``--scores`` after Streamlit's ``--`` separator or ``CURATE_SCORES``).
"""

from __future__ import annotations

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


def render(default_path: str = "") -> None:
    path = st.text_input("scores parquet (from `curate annotate --out`)", value=default_path, key="scores_path")
    if not path:
        st.info("Enter the path of a scores parquet file written by `curate annotate`.")
        return
    if not Path(path).is_file():
        st.warning(f"no file at {path}")
        return
    try:
        table = summary(path)
    except Exception as exc:  # a foreign or corrupted file: say so on the page
        st.error(f"{path}: {exc}")
        return
    st.dataframe(table, hide_index=True)
    column = st.selectbox("distribution of", score_columns(pl.scan_parquet(path)), key="scores_column")
    st.bar_chart(histogram(path, column), x="bin", y="count")
