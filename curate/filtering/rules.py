"""Which documents a quality filter keeps.

Three rules, combinable:

- ``keep_top=x``: keep the top x of documents by score. The cut is the ``1 - x`` quantile (linear
  interpolation) of the scores, and a document is kept when its score is at or above it, so ties at the cut
  are kept together rather than broken arbitrarily. With ``per_language`` the quantile is computed in each
  language separately, so a language whose annotator scores run low still keeps its best x instead of
  being crowded out by languages the heads score generously.
- ``min_score=s``: an absolute floor, applied on top of the percentile cut when both are given.
- ``all_heads``: the JQL rule. Heads trained on different judges agree on ranking but not on scale, so each
  ``score_<head>`` column gets its own cut (and floor), and a document is kept only if it passes every head.
  The kept share is then at most x (the heads' top-x sets overlap, they do not coincide).

Scores that are null or NaN (a failed annotation) never pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from curate.errors import CurateError, UsageError

GLOBAL = "*"  # the threshold group when thresholds are not per language


@dataclass(frozen=True)
class Rule:
    keep_top: float | None = None
    min_score: float | None = None
    per_language: bool = False
    all_heads: bool = False
    column: str = "score"
    heads: tuple[str, ...] | None = None  # with all_heads: only these heads (e.g. leave out an ensemble head)

    def validate(self) -> None:
        if self.keep_top is None and self.min_score is None:
            raise UsageError("nothing to filter on: give --keep-top, --min-score or both", "--keep-top")
        if self.keep_top is not None and not 0.0 < self.keep_top <= 1.0:
            raise UsageError(f"--keep-top must be a fraction in (0, 1], got {self.keep_top:g}"
                             + (f" (for the top {self.keep_top:g}%, give {self.keep_top / 100:g})"
                                if 1 < self.keep_top <= 100 else ""), "--keep-top")

    def columns(self, head_columns: list[str]) -> list[str]:
        """The score columns the rule reads: every head with ``all_heads``, else the one column."""
        if self.all_heads:
            if not head_columns:
                raise CurateError("--all-heads needs score_<head> columns in the scores file; it has none")
            if self.heads:
                wanted = [h if h.startswith("score_") else f"score_{h}" for h in self.heads]
                unknown = [w for w in wanted if w not in head_columns]
                if unknown:
                    raise CurateError(f"--head {unknown[0].removeprefix('score_')}: not in the scores file "
                                      f"(heads: {', '.join(c.removeprefix('score_') for c in head_columns)})")
                return wanted
            return head_columns
        return [self.column]

    def describe(self) -> str:
        parts = []
        target = "every head" if self.all_heads else f"`{self.column}`"
        if self.keep_top is not None:
            scope = "in each language" if self.per_language else "over all languages"
            parts.append(f"top {self.keep_top:.0%} by {target} {scope} (score >= the {1 - self.keep_top:.2f} quantile)")
        if self.min_score is not None:
            parts.append(f"{target} >= {self.min_score:g}")
        return " and ".join(parts)


def _valid(column: str) -> pl.Expr:
    return pl.col(column).is_not_null() & pl.col(column).is_not_nan()


def compute_thresholds(frame: pl.DataFrame, rule: Rule, columns: list[str]) -> dict[str, dict[str, float | None]]:
    """{group: {column: cut}} for the percentile rule, over the rows of ``frame`` (which needs ``lang``).

    The group is the language with ``per_language``, else ``"*"``. A group whose scores are all missing gets
    None (nothing in it can pass). Without ``keep_top`` there is no percentile cut and the result is empty.
    """
    if rule.keep_top is None:
        return {}
    q = 1.0 - rule.keep_top
    aggs = [pl.col(c).filter(_valid(c)).cast(pl.Float64).quantile(q, interpolation="linear").alias(c) for c in columns]
    if rule.per_language:
        table = frame.group_by("lang").agg(aggs).sort("lang")
    else:
        table = frame.select(aggs).with_columns(pl.lit(GLOBAL).alias("lang"))
    return {row["lang"]: {c: row[c] for c in columns} for row in table.iter_rows(named=True)}


def keep_mask(frame: pl.DataFrame, rule: Rule, columns: list[str],
              thresholds: dict[str, dict[str, float | None]]) -> pl.Series:
    """A boolean per row of ``frame``: does it pass the rule (cuts from ``compute_thresholds``)?"""
    work = frame.select(["lang", *columns])
    conds = [_valid(c) for c in columns]
    if rule.keep_top is not None:
        cut_rows = [{"lang": g, **{f"__cut_{c}": cuts[c] for c in columns}} for g, cuts in thresholds.items()]
        schema = {"lang": pl.Utf8, **{f"__cut_{c}": pl.Float64 for c in columns}}
        cuts = pl.DataFrame(cut_rows, schema=schema)
        if rule.per_language:
            work = work.join(cuts, on="lang", how="left", maintain_order="left")
        else:
            work = work.join(cuts.drop("lang"), how="cross", maintain_order="left")
        conds += [pl.col(c).cast(pl.Float64) >= pl.col(f"__cut_{c}") for c in columns]
    if rule.min_score is not None:
        conds += [pl.col(c) >= rule.min_score for c in columns]
    combined = pl.all_horizontal(conds).fill_null(False)
    return work.select(combined.alias("keep")).to_series()
