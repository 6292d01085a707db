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
