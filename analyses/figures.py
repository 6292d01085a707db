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
from matplotlib import font_manager, ticker

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


def _compact(x: float, _pos: Any = None) -> str:
    """A tick label that stays short on a log axis: 500, 2k, 40k, 1.2M."""
    for div, unit in ((1e6, "M"), (1e3, "k")):
        if x >= div:
            return f"{x / div:.3g}{unit}"
    return f"{x:.0f}"


def write_league(report: dict[str, Any], highlight: list[str], out: Path) -> list[Path]:
    """The league figure: one panel per league measure, every language a grey dot (x: its datasets, log scale;
    y: the measure), the highlighted languages in colour and named, the median language as a dashed line."""
    from analyses.league import MEASURES

    setup_fonts()
    out.mkdir(parents=True, exist_ok=True)
    rows = report["league"]["rows"]
    medians = report["league"]["medians"]
    xs = [r["n_datasets"] for r in rows]
    cols = 4
    nrows = -(-len(MEASURES) // cols)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        fig, axes = plt.subplots(nrows, cols, figsize=(4 * cols, 3.2 * nrows), squeeze=False)
        for ax, m in zip(axes.flat, MEASURES, strict=False):
            scale = 100.0 if m.share else 1.0
            ax.scatter(xs, [scale * r["values"][m.key] for r in rows], s=12,
                       color="#b0b0b0", label="every language")
            ax.axhline(scale * medians[m.key], color="#606060", linestyle="--", linewidth=1, label="median language")
            for i, r in enumerate(r for r in rows if r["lang"] in highlight):
                x, y = r["n_datasets"], scale * r["values"][m.key]
                ax.scatter([x], [y], s=36, color=lang_color(r["lang"], highlight), zorder=3, label=_label(r["lang"]))
                # Labels alternate above and below, further out each time: close languages stay legible.
                ax.annotate(f"{r['lang']} #{r['ranks'][m.key]}", (x, y), textcoords="offset points",
                            xytext=(4, (1 if i % 2 == 0 else -1) * (4 + 10 * (i // 2)) - (6 if i % 2 else 0)),
                            fontsize=8)
            ax.set_xscale("log")
            ax.set_xlim(min(xs) / 1.5, max(xs) * 1.5)
            ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0,) if max(xs) > 100 * min(xs) else (1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(ticker.FuncFormatter(_compact))
            ax.xaxis.set_minor_locator(ticker.NullLocator())  # hundreds of dots: keep the drawing cheap
            ax.set_title(m.title + (" (%)" if m.share else ""), fontsize=10)
            if m.share:
                ax.set_ylim(0, 100)
        for i, ax in enumerate(axes.flat):
            if i >= len(MEASURES):
                ax.set_axis_off()
            elif i + cols >= len(MEASURES):  # the lowest panel of its column
                ax.set_xlabel("datasets (log)")
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower right", fontsize=9, frameon=False)
        fig.subplots_adjust(hspace=0.45, wspace=0.25, top=0.93)
        fig.suptitle(f"League of {len(rows)} languages with at least {report['league']['min_datasets']} datasets "
                     "(#: rank, 1 = highest)")
        return _save(fig, out, "fig_league")


def write_trend_figure(trends: dict[str, Any], out: Path) -> list[Path]:
    """The trends of `analyses.trends` (its JSON document) as one figure of three panels over months: datasets per
    language; the share with a stated license (solid) and a permissive one (dashed); the share of cards with all
    five template sections (solid), all five filled (dashed) and an arXiv reference (dotted)."""
    setup_fonts()
    out.mkdir(parents=True, exist_ok=True)
    langs = list(trends["languages"])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        fig, axes = plt.subplots(3, 1, figsize=(8, 9), sharex=True)
        for lang in langs:
            pts = trends["languages"][lang]
            if not pts:
                continue
            xs = [datetime.strptime(p["month"], "%Y-%m") for p in pts]
            color = lang_color(lang, langs)
            axes[0].plot(xs, [p["n_datasets"] for p in pts], marker="o", color=color, label=_label(lang))
            axes[1].plot(xs, [100 * (1 - p["license_family"]["unknown"]) for p in pts], marker="o", color=color)
            axes[1].plot(xs, [100 * p["license_family"]["permissive"] for p in pts], linestyle="--", color=color)
            axes[2].plot(xs, [100 * p["docs"]["all_sections_share"] for p in pts], marker="o", color=color)
            axes[2].plot(xs, [100 * p["docs"]["filled_sections_share"] for p in pts], linestyle="--", color=color)
            axes[2].plot(xs, [100 * p["docs"]["arxiv_share"] for p in pts], linestyle=":", color=color)
        counts = [p["n_datasets"] for pts in trends["languages"].values() for p in pts if p["n_datasets"]]
        if counts and max(counts) > 50 * min(counts):
            axes[0].set_yscale("log")
        axes[0].set_ylabel("datasets")
        axes[0].set_title("Datasets per language")
        axes[1].set_ylabel("% of datasets")
        axes[1].set_title("License stated (solid) and permissive (dashed)")
        axes[2].set_ylabel("% of datasets")
        axes[2].set_title("Cards with all 5 sections (solid), all 5 filled (dashed), an arXiv reference (dotted)")
        for ax in axes[1:]:
            ax.set_ylim(0, 100)
        locator = mdates.AutoDateLocator()
        axes[2].xaxis.set_major_locator(locator)
        axes[2].xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        if axes[0].get_legend_handles_labels()[0]:
            axes[0].legend(fontsize=8, ncol=min(len(langs), 5))
        fig.suptitle("Trends by month")
        fig.tight_layout()
        return _save(fig, out, "fig_trends")
