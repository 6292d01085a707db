"""What a filter rule would keep, from the scores alone: the dashboard's live preview of `curate filter`.

The preview runs the filter's own decision (`curate.filtering.pipeline.decide`, with its thresholds and keep rule
from `curate.filtering.rules`) over the scored documents, so its counts are the filter's counts whenever every
scored document is in the corpus and has its language in the scores (what `curate annotate` writes). A document
whose language the scores do not give counts as ``und`` here, where the filter would take the corpus's language
field or language id.

Besides counts it says, per language, which documents sit nearest the cut on either side: their margin is the
smallest distance above (or below) a cut over the columns the rule reads, so with ``all_heads`` a document just
below the cut is one that a single head keeps out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from curate.corpus import ReadSpec
from curate.filtering.pipeline import decide, language_table
from curate.filtering.rules import GLOBAL, Rule
from curate.filtering.scores import Scores


@dataclass(frozen=True)
class Preview:
    """Per-language counts, the cuts, and every scored document with its keep decision and margin."""

    rule: Rule
    columns: list[str]  # the score columns the rule reads
    thresholds: dict[str, dict[str, float | None]]  # {language or "*": {column: cut}}
    languages: dict[str, dict[str, Any]]  # `pipeline.language_table`: docs, kept, retention, ...
    frame: pl.DataFrame  # id, lang, keep, margin and the score columns

    @property
    def kept(self) -> int:
        return sum(int(row["kept"]) for row in self.languages.values())

    def counts(self) -> pl.DataFrame:
        """lang, docs, kept, retention: one row per language."""
        return pl.DataFrame([{"lang": lang, "docs": row["docs"], "kept": row["kept"], "retention": row["retention"]}
                             for lang, row in self.languages.items()],
                            schema={"lang": pl.String, "docs": pl.Int64, "kept": pl.Int64, "retention": pl.Float64})

    def cut(self, lang: str) -> dict[str, float | None]:
        """The cut per column that applies to ``lang`` (its own with a per-language rule, else the global one)."""
        return self.thresholds.get(lang) or self.thresholds.get(GLOBAL) or {}

    def near_cut(self, lang: str, n: int = 3) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The ``n`` kept documents of ``lang`` closest to the cut, and the ``n`` dropped ones closest to it."""
        rows = self.frame.filter(pl.col("lang") == lang)
        above = rows.filter(pl.col("keep")).sort("margin").head(n)
        below = rows.filter(~pl.col("keep") & pl.col("margin").is_not_null()).sort("margin", descending=True).head(n)
        return above, below


def preview(scores: Scores, rule: Rule, langs: list[str] | None = None) -> Preview:
    """The filter's decision for every scored document under ``rule`` (``langs``: only these languages)."""
    rule.validate()
    columns = rule.columns(scores.head_columns)
    docs = scores.frame.select(
        pl.lit(0, pl.Int32).alias("source"), pl.int_range(pl.len(), dtype=pl.Int64).alias("row"),
        pl.col("doc_id").alias("id"), pl.lit(None, pl.String).alias("corpus_lang"),
        pl.lit(None, pl.String).alias("detected_lang"), pl.lit(None, pl.Int64).alias("n_chars"))
    j, thresholds = decide(docs, scores, rule, columns, langs, None)
    cuts = pl.DataFrame([{"lang": g, **{f"__cut_{c}": v.get(c) for c in columns}} for g, v in thresholds.items()],
                        schema={"lang": pl.String, **{f"__cut_{c}": pl.Float64 for c in columns}})
    floor = rule.min_score
    margins = []
    for c in columns:
        parts = []
        if rule.keep_top is not None:
            parts.append(pl.col(c).cast(pl.Float64) - pl.col(f"__cut_{c}"))
        if floor is not None:
            parts.append(pl.col(c).cast(pl.Float64) - floor)
        margins.append(pl.min_horizontal(parts))
    if rule.keep_top is not None and rule.per_language:
        j = j.join(cuts, on="lang", how="left", maintain_order="left")
    elif rule.keep_top is not None:
        j = j.join(cuts.drop("lang"), how="cross", maintain_order="left")
    frame = j.filter(pl.col("eligible")).select(
        "id", "lang", "keep", pl.min_horizontal(margins).alias("margin"), *dict.fromkeys(["score", *columns]))
    return Preview(rule, columns, thresholds, language_table(j), frame)


# `curate filter`'s reading options and their defaults (the reader's own, `ReadSpec`): the command names only
# those a run read differently.
READING_DEFAULTS = {name: getattr(ReadSpec(), name) for name in ("text_field", "id_field", "lang_field", "split")}


def filter_command(inputs: list[str], scores: list[str | Path], rule: Rule, langs: list[str] | None = None,
                   out: str = "filtered/", reading: dict[str, Any] | None = None) -> list[str]:
    """The `curate filter` command line (as arguments) that applies ``rule`` to the corpus and scores.

    ``reading``: how the annotate run read the corpus (``text_field``, ``id_field``, ``lang_field``, ``split``,
    as runs record them); the filter must read it the same way to find the scored ids.
    """
    args = ["curate", "filter"]
    for item in inputs:
        args += ["--input", str(item)]
    for item in scores:
        args += ["--scores", str(item)]
    for name, default in READING_DEFAULTS.items():
        value = (reading or {}).get(name, default)
        if name == "lang_field" and value is None:
            value = ""  # read no language field
        if isinstance(value, str) and value != default:
            args += [f"--{name.replace('_', '-')}", value]
    if rule.keep_top is not None:
        args += ["--keep-top", f"{rule.keep_top:g}"]
    if rule.per_language:
        args.append("--per-language")
    if rule.min_score is not None:
        args += ["--min-score", f"{rule.min_score:g}"]
    if rule.all_heads:
        args.append("--all-heads")
        for head in rule.heads or ():
            args += ["--head", head.removeprefix("score_")]
    elif rule.column != "score":
        args += ["--column", rule.column]
    for lang in langs or []:
        args += ["--lang", lang]
    return [*args, "--out", out]
