"""Figures plot the numbers of the report they belong to."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib.dates as mdates
import pytest

from analyses import figures


def test_instruction_months_are_a_time_axis_in_order() -> None:
    xs, ys = figures.instruction_cumulative({"2025-11": 2, "2022-09": 1, "2024-02": 3, "bad": 9})
    assert xs == [datetime(2022, 9, 1), datetime(2024, 2, 1), datetime(2025, 11, 1)]
    assert ys == [1, 4, 6]


def _report(by_month: dict[str, dict[str, int]]) -> dict[str, Any]:
    def lang(months: dict[str, int]) -> dict[str, Any]:
        return {"n_datasets": 10, "makeup": {"monolingual": 10}, "size": {"S": 10}, "tasks": {"qa": 3},
                "license_family": {"permissive": 10}, "ownership": {"individual": 10},
                "docs": {"arxiv_share": 0.1, "all_sections_share": 0.2, "filled_sections_share": 0.1},
                "instruction": {"n": sum(months.values()), "by_month": months}, "domains": {}}
    return {"languages": {code: lang(m) for code, m in by_month.items()}}


def test_figure5_plots_the_report_cumulatively_in_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    saved: dict[str, Any] = {}
    original = figures._save

    def keep(fig: Any, out: Path, name: str) -> list[Path]:
        if name == "fig5_instruction":
            ax = fig.axes[0]
            saved["lines"] = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.lines}
            saved["xaxis"] = ax.xaxis.get_converter()
        return original(fig, out, name)

    monkeypatch.setattr(figures, "_save", keep)
    months = {"ko": {"2025-11": 2, "2022-09": 1, "2024-02": 3}, "ja": {"2023-01": 1, "2021-05": 4}}
    details = {"languages": {code: {"downloads": [100, 10, 1], "cutoff": {"rank": 2}} for code in months},
               "overlap": {a: {b: 1 for b in months} for a in months}}
    figures.write_figures(_report(months), details, tmp_path)
    lines = saved["lines"]
    for code, by_month in months.items():
        xs, ys = lines[figures._label(code)]
        want_x, want_y = figures.instruction_cumulative(by_month)
        assert [mdates.num2date(x).replace(tzinfo=None) if isinstance(x, float) else x for x in xs] == want_x
        assert ys == want_y and ys == sorted(ys)  # cumulative: never goes backwards
    assert saved["xaxis"] is not None  # dates, not categories
    assert (tmp_path / "fig5_instruction.png").is_file()


def test_every_figure_plots_its_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read each figure's drawn data back from the matplotlib artists and compare it with the report."""
    from analyses.reference import FAMILIES, MAKEUP, OWNERSHIP, SIZES

    axes: dict[str, Any] = {}
    original = figures._save

    def keep(fig: Any, out: Path, name: str) -> list[Path]:
        axes[name] = fig.axes[0]
        return original(fig, out, name)

    monkeypatch.setattr(figures, "_save", keep)
    report = _report({"ko": {"2024-01": 1}, "ja": {"2023-05": 2}})
    L = report["languages"]
    L["ko"].update(makeup={"monolingual": 6, "english_paired": 3, "multilingual": 1},
                   license_family={"permissive": 5, "noncommercial": 4, "unknown": 1},
                   ownership={"individual": 7, "company": 3}, size={"S": 8, "XL": 2},
                   docs={"arxiv_share": 0.3, "all_sections_share": 0.5, "filled_sections_share": 0.2},
                   tasks={"qa": 4, "Text Generation": 6})
    details = {"languages": {"ko": {"downloads": [500, 50, 5], "cutoff": {"rank": 2}},
                             "ja": {"downloads": [90, 9], "cutoff": None}},
               "overlap": {"ko": {"ko": 10, "ja": 2}, "ja": {"ko": 2, "ja": 10}}}
    figures.write_figures(report, details, tmp_path)
    langs = list(L)

    def stacked(name: str, field: str, keys: tuple[str, ...]) -> None:
        bars = [p for p in axes[name].patches]
        assert len(bars) == len(keys) * len(langs), name
        for k, key in enumerate(keys):
            for j, lang in enumerate(langs):
                total = sum(L[lang][field].values())
                assert bars[k * len(langs) + j].get_width() == pytest.approx(100 * L[lang][field].get(key, 0) / total), (name, key, lang)

    stacked("fig2a_makeup", "makeup", MAKEUP)
    stacked("fig4_licenses", "license_family", FAMILIES)
    stacked("fig7_ownership", "ownership", OWNERSHIP)
    stacked("table2_sizes", "size", SIZES)
    docs = axes["fig6_docs"].patches
    for i, key in enumerate(("arxiv_share", "all_sections_share", "filled_sections_share")):
        for j, lang in enumerate(langs):
            assert docs[i * len(langs) + j].get_height() == pytest.approx(100 * L[lang]["docs"][key])
    for line in axes["fig1_downloads"].lines:
        if line.get_label().startswith(("ko", "ja")):
            lang = line.get_label()[:2]
            assert list(line.get_ydata()) == [d + 1 for d in details["languages"][lang]["downloads"]]
    heat = axes["fig3_tasks"].images[0].get_array()
    cats = sorted({c for x in langs for c in L[x]["tasks"]})
    for j, lang in enumerate(langs):
        for c, cat in enumerate(cats):
            assert heat[j][c] == pytest.approx(100 * L[lang]["tasks"].get(cat, 0) / L[lang]["n_datasets"])
    overlap = axes["fig2b_overlap"].images[0].get_array()
    assert [[int(v) for v in row] for row in overlap] == [[10, 2], [2, 10]]
    # One colour per language across the figures that draw languages as lines.
    colours = {ln.get_label()[:2]: ln.get_color() for ln in axes["fig1_downloads"].lines if ln.get_label()[:2] in L}
    assert colours == {ln.get_label()[:2]: ln.get_color() for ln in axes["fig5_instruction"].lines}


def test_league_figure_plots_every_language_and_points_out_the_chosen(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Read the league figure's dots and median lines back and compare them with the league's rows."""
    from analyses.league import MEASURES

    saved: dict[str, Any] = {}
    original = figures._save

    def keep(fig: Any, out: Path, name: str) -> list[Path]:
        saved[name] = fig.axes
        return original(fig, out, name)

    monkeypatch.setattr(figures, "_save", keep)
    keys = [m.key for m in MEASURES]
    rows = [{"lang": lang, "rank": i + 1, "n_datasets": n, "values": {k: v for k in keys},
             "ranks": dict.fromkeys(keys, i + 1)} for i, (lang, n, v) in enumerate(
                 [("en", 900, 0.6), ("ko", 120, 0.25), ("sw", 60, 0.125)])]
    report = {"league": {"min_datasets": 50, "languages_listed": 9, "measures": {m.key: m.title for m in MEASURES},
                         "rows": rows, "medians": {"n_datasets": 120.0, **dict.fromkeys(keys, 0.25)}}}
    written = figures.write_league(report, ["ko"], tmp_path)
    assert {p.name for p in written} == {"fig_league.png", "fig_league.svg"}
    axes = saved["fig_league"]
    for ax, m in zip(axes, MEASURES, strict=False):
        scale = 100 if m.share else 1
        every, chosen = ax.collections[0], ax.collections[1]
        assert [tuple(p) for p in every.get_offsets()] == [(900, 60 * scale / 100), (120, 25 * scale / 100),
                                                           (60, 12.5 * scale / 100)], m.key
        assert [tuple(p) for p in chosen.get_offsets()] == [(120, 25 * scale / 100)]
        assert chosen.get_label() == "ko (한국어)" and len(ax.collections) == 2
        assert [list(line.get_ydata()) for line in ax.lines] == [[25 * scale / 100] * 2]  # the median language
        assert [t.get_text() for t in ax.texts] == ["ko #2"]
    assert not any(ax.axison for ax in axes[len(MEASURES):len(MEASURES) + 2])  # empty slots of the grid hidden
