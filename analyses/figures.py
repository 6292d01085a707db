"""Matplotlib figures mirroring the study's Figures 1 to 7 and Table 2, as PNG and SVG.

Labels can hold Chinese, Japanese and Korean text. The fonts come from two small packages that ship them
(matplotlib-fontja: IPAexGothic for kanji and kana; koreanize-matplotlib: NanumGothic for Hangul) and are
registered as fallbacks behind DejaVu Sans; if they are missing, figures still render with boxes for the
missing glyphs and no warning flood.
"""

from __future__ import annotations

import importlib.util
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib import font_manager

from analyses.colors import FAMILY_COLORS, LANG_COLORS, lang_color  # noqa: F401 (LANG_COLORS: kept importable here)
from analyses.reference import FAMILIES, MAKEUP, OWNERSHIP, SIZES

NATIVE = {"ko": "한국어", "ja": "日本語", "zh": "中文", "en": "English"}
_fonts_ready = False


def instruction_cumulative(by_month: dict[str, int]) -> tuple[list[datetime], list[int]]:
    """Months (first day, in time order) and the running total of instruction datasets created up to each.

    The report keeps months as ``YYYY-MM`` keys; plotting those strings would make a categorical axis in
    the order they first appear, so months are turned into dates and sorted before summing. Keys that are
    not ``YYYY-MM`` are left out.
    """
    months = []
    for key, count in by_month.items():
        try:
            months.append((datetime.strptime(key, "%Y-%m"), int(count)))
        except (TypeError, ValueError):
            continue
    months.sort()
    xs, ys, total = [], [], 0
    for month, count in months:
        total += count
        xs.append(month)
        ys.append(total)
    return xs, ys


def setup_fonts() -> list[str]:
    """Register the CJK fonts the installed packages ship; return the font family fallback list."""
    global _fonts_ready
    families = ["DejaVu Sans"]
    for pkg, files in (("matplotlib_fontja", ["fonts/ipaexg.ttf"]), ("koreanize_matplotlib", ["fonts/NanumGothic.ttf"])):
        spec = importlib.util.find_spec(pkg)
        if spec is None or not spec.submodule_search_locations:
            continue
        root = Path(next(iter(spec.submodule_search_locations)))
        for f in files:
            if (root / f).is_file():
                if not _fonts_ready:
                    font_manager.fontManager.addfont(str(root / f))
                families.append(font_manager.FontProperties(fname=str(root / f)).get_name())
    _fonts_ready = True
    matplotlib.rcParams["font.family"] = families
    matplotlib.rcParams["svg.fonttype"] = "none"  # keep text as text in SVG
    return families


def _label(lang: str) -> str:
    return f"{lang} ({NATIVE[lang]})" if lang in NATIVE else lang


def _save(fig: Any, out: Path, name: str) -> list[Path]:
    paths = []
    for ext in ("png", "svg"):
        p = out / f"{name}.{ext}"
        fig.savefig(p, dpi=120, bbox_inches="tight")
        paths.append(p)
    plt.close(fig)
    return paths


def _stacked(ax: Any, langs: list[str], parts: dict[str, dict[str, int]], keys: list[str],
             colors: dict[str, str] | None = None) -> None:
    left = [0.0] * len(langs)
    for key in keys:
        vals = []
        for lang in langs:
            total = sum(parts[lang].values()) or 1
            vals.append(100.0 * parts[lang].get(key, 0) / total)
        ax.barh([_label(lang) for lang in langs], vals, left=left, label=key,
                color=(colors or {}).get(key))
        left = [a + b for a, b in zip(left, vals, strict=True)]
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of datasets")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=min(len(keys), 6), fontsize=8, frameon=False)


def _heatmap(ax: Any, rows: list[str], cols: list[str], values: list[list[float]], fmt: str) -> None:
    im = ax.imshow(values, cmap="Blues", aspect="auto")
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    top = max((v for row in values for v in row), default=0) or 1
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            ax.text(j, i, format(v, fmt), ha="center", va="center", fontsize=8,
                    color="white" if v > top * 0.6 else "black")
    plt.colorbar(im, ax=ax, fraction=0.04)


def write_figures(report: dict[str, Any], details: dict[str, Any], out: Path) -> list[Path]:
    """Write every figure into ``out``; returns the files written."""
    setup_fonts()
    out.mkdir(parents=True, exist_ok=True)
    langs = list(report["languages"])
    L = report["languages"]
    written: list[Path] = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        # Figure 1: downloads by rank, log scale, with the suggested cutoff.
        fig, ax = plt.subplots(figsize=(7, 4))
        for lang in langs:
            d = details["languages"][lang]
            dl = [max(x, 0) + 1 for x in d["downloads"]]
            line, = ax.plot(range(1, len(dl) + 1), dl, label=_label(lang), color=lang_color(lang, langs))
            if d["cutoff"]:
                ax.axvline(d["cutoff"]["rank"], color=line.get_color(), linestyle=":", linewidth=1)
        ax.set_yscale("log")
        ax.set_xlabel("rank by downloads (last 30 days)")
        ax.set_ylabel("downloads + 1 (log)")
        ax.set_title("Figure 1. Download distribution (dotted: suggested cutoff)")
        ax.legend()
        written += _save(fig, out, "fig1_downloads")
        # Figure 2a: language make-up; 2b: overlap across languages.
        fig, ax = plt.subplots(figsize=(7, 3))
        _stacked(ax, langs, {x: L[x]["makeup"] for x in langs}, list(MAKEUP))
        ax.set_title("Figure 2a. Language make-up")
        written += _save(fig, out, "fig2a_makeup")
        fig, ax = plt.subplots(figsize=(5, 4))
        _heatmap(ax, [_label(x) for x in langs], langs, [[details["overlap"][a][b] for b in langs] for a in langs], "d")
        ax.set_title("Figure 2b. Datasets shared across languages")
        written += _save(fig, out, "fig2b_overlap")
        # Figure 3: task categories, share per language.
        cats = sorted({c for x in langs for c in L[x]["tasks"]})
        shares = [[100.0 * L[x]["tasks"].get(c, 0) / max(L[x]["n_datasets"], 1) for c in cats] for x in langs]
        fig, ax = plt.subplots(figsize=(9, 3.5))
        _heatmap(ax, [_label(x) for x in langs], cats, shares, ".0f")
        ax.set_title("Figure 3. Task categories (% of datasets)")
        written += _save(fig, out, "fig3_tasks")
        # Figure 4: license families.
        fig, ax = plt.subplots(figsize=(7, 3))
        _stacked(ax, langs, {x: L[x]["license_family"] for x in langs}, list(FAMILIES), FAMILY_COLORS)
        ax.set_title("Figure 4. License families")
        written += _save(fig, out, "fig4_licenses")
        # Figure 5: instruction datasets over time (cumulative by creation month, on a real time axis).
        fig, ax = plt.subplots(figsize=(7, 3.5))
        for lang in langs:
            xs, ys = instruction_cumulative(L[lang]["instruction"]["by_month"])
            if xs:
                ax.step(xs, ys, where="post", label=_label(lang), color=lang_color(lang, langs))
        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.set_ylabel("instruction datasets (cumulative)")
        ax.set_title("Figure 5. Instruction-tuning datasets over time")
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
        written += _save(fig, out, "fig5_instruction")
        # Figure 6: documentation quality.
        fig, ax = plt.subplots(figsize=(7, 3.5))
        keys = [("arxiv_share", "arXiv reference"), ("all_sections_share", "all 5 sections"),
                ("filled_sections_share", "all 5 sections filled")]
        width = 0.8 / len(keys)
        for i, (k, name) in enumerate(keys):
            ax.bar([j + i * width for j in range(len(langs))], [100 * L[x]["docs"][k] for x in langs], width,
                   label=name)
        ax.set_xticks([j + width for j in range(len(langs))], [_label(x) for x in langs])
        ax.set_ylabel("% of datasets")
        ax.set_ylim(0, 100)
        ax.set_title("Figure 6. Documentation")
        # Below the axes: inside, it covered the last language's bars.
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=len(keys), frameon=False)
        written += _save(fig, out, "fig6_docs")
        # Figure 7: ownership.
        fig, ax = plt.subplots(figsize=(7, 3))
        _stacked(ax, langs, {x: L[x]["ownership"] for x in langs}, list(OWNERSHIP))
        ax.set_title("Figure 7. Ownership")
        written += _save(fig, out, "fig7_ownership")
        # Table 2: size categories.
        fig, ax = plt.subplots(figsize=(7, 3))
        _stacked(ax, langs, {x: L[x]["size"] for x in langs}, list(SIZES))
        ax.set_title("Table 2. Size categories (S ≤ 10M, M ≤ 100M, L ≤ 1B, XL > 1B examples)")
        written += _save(fig, out, "table2_sizes")
    return written
