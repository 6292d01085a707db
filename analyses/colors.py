"""The colours of languages and license families, shared by the report's figures and the dashboard's charts
(kept apart from `analyses.figures` so the dashboard need not import matplotlib)."""

from __future__ import annotations

FAMILY_COLORS = {"permissive": "#4c9f70", "public_domain": "#8fd19e", "copyleft": "#f2b134",
                 "noncommercial": "#d1495b", "unknown": "#9e9e9e", "other": "#6c8ebf"}
# One colour per language in every figure where languages are lines or groups (fig1, fig5, fig6).
LANG_COLORS = {"ko": "#1f77b4", "ja": "#d62728", "zh": "#ff7f0e", "en": "#2ca02c"}
_OTHER_COLORS = ["#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def lang_color(lang: str, langs: list[str]) -> str:
    """The language's colour: fixed for ko/ja/zh/en, and stable by position for the others."""
    if lang in LANG_COLORS:
        return LANG_COLORS[lang]
    others = [x for x in langs if x not in LANG_COLORS]
    return _OTHER_COLORS[others.index(lang) % len(_OTHER_COLORS)]
