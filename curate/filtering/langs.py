"""Language codes as the filter groups them.

Corpora spell languages in many ways (``ko``, ``ko-KR``, ``zh_Hant``, ``KO``); thresholds are per language, so
codes are reduced to their primary subtag, lower-cased, before grouping. Documents whose language is unknown
(no code in the corpus or the scores, and language id could not tell) form their own group, ``und``
(the BCP-47 code for "undetermined"), so they are counted and thresholded instead of silently lost.
"""

from __future__ import annotations

import polars as pl

from curate.langid import UNKNOWN, iso639_3

__all__ = ["UNKNOWN", "base_language_expr"]


def base_language_expr(column: str) -> pl.Expr:
    """`curate.langid.base_language` as a polars expression: ``ko-KR``/``kor_Hang`` -> ``ko``, blank -> null."""
    text = pl.col(column).str.strip_chars()
    base = text.str.replace(r"[-_].*$", "").str.to_lowercase()
    return pl.when(text.str.len_chars() > 0).then(base.replace(iso639_3()))
