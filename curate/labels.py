"""The one reader of judge labels files (``curate judge`` output, or any parquet/JSONL/CSV like it).

Both the agreement report (`curate.judges.agree`) and the annotator's training (`curate.annotators.training`)
read labels here, so they agree on what a document is: its ``doc_id``, or, for a row without one (no column,
null or empty), ``text:`` and a hash of its text, so distinct texts never merge into one document.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from curate.errors import CurateError
from curate.files import read_table

if TYPE_CHECKING:
    import polars as pl


def read_labels_frame(path: str | Path, *, required: Iterable[str] = ("score",), text_field: str = "text",
                      score_field: str = "score", hint: str = "") -> pl.DataFrame:
    """Every row of a labels file with the columns normalised, the others kept as they are:

    ``doc_id`` the document (see the module), ``judge`` and ``lang`` strings or null, ``score`` a float or null
    (a failed judge call; a value that is not a number reads as null), ``text`` from ``text_field`` (null when
    the file has none). ``required`` names the columns (as in the file) that must be there; ``hint`` is added
    to the error that says which are missing.
    """
    import polars as pl

    df = read_table(path, "labels")
    required = list(required)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise CurateError(f"{path}: labels need column(s) {', '.join(map(repr, required))}; missing {missing}{hint} "
                          f"(columns: {', '.join(df.columns)})")
    text = pl.col(text_field).cast(pl.Utf8) if text_field in df.columns else pl.lit(None, pl.Utf8)
    text_id = pl.lit("text:") + text.fill_null("").hash(seed=0).cast(pl.Utf8)
    given = pl.col("doc_id").cast(pl.Utf8) if "doc_id" in df.columns else pl.lit(None, pl.Utf8)
    return df.with_columns(
        pl.when(given.is_null() | (given == "")).then(text_id).otherwise(given).alias("doc_id"),
        (pl.col("judge").cast(pl.Utf8) if "judge" in df.columns else pl.lit(None, pl.Utf8)).alias("judge"),
        (pl.col(score_field).cast(pl.Float64, strict=False) if score_field in df.columns
         else pl.lit(None, pl.Float64)).alias("score"),
        (pl.col("lang").cast(pl.Utf8) if "lang" in df.columns else pl.lit(None, pl.Utf8)).alias("lang"),
        text.alias("text"),
    )
