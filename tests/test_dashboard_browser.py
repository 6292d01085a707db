"""`curate dashboard` in a real browser (headless Chromium through Playwright) on a demo-sized store.

One dashboard server and one page serve the whole module. Every view is opened and screenshotted; a bar is
clicked down to its datasets and one of them to its card; the filter slider is moved and the kept counts are
checked against `curate filter` itself; any Streamlit exception box fails the test. Screenshots and the
measured times (first paint, interactions) go to ``artifacts/dashboard/`` (or ``CURATE_TEST_ARTIFACTS``).

Without Playwright or Chromium these tests are skipped, saying why; `.ci/run` installs both.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.dashboard_browser import (
    ROOT,
    browser,
    exceptions,
    missing,
    screenshot,
    serve_dashboard,
    settle,
    timed,
)
from tests.dashboard_store import DashboardStore, build

REASON = missing()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"BROWSER TESTS SKIPPED: {REASON}")
ARTIFACTS = Path(os.environ.get("CURATE_TEST_ARTIFACTS") or ROOT / "artifacts") / "dashboard"
TIMINGS: dict[str, float] = {}
MAIN_H1 = "[data-testid=stMain] h2"  # the view's title (st.header; the sidebar has a title of its own)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DashboardStore:
    return build(tmp_path_factory.mktemp("dashboard-store"))


@pytest.fixture(scope="module")
def url(demo: DashboardStore) -> Iterator[str]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with serve_dashboard(demo.db, log=ARTIFACTS / "server.log") as found:
        yield found
    (ARTIFACTS / "timings.json").write_text(json.dumps({k: round(v, 3) for k, v in TIMINGS.items()}, indent=2) + "\n",
                                            encoding="utf-8")


@pytest.fixture(scope="module")
def page(url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with browser(tmp_path_factory.mktemp("chromium")) as found:
        yield found


def visit(page: Any, url: str, name: str, charts: bool = True) -> None:
    TIMINGS[f"open {name}"] = timed(lambda: page.goto(url), page, charts=charts, ready=MAIN_H1)
    assert exceptions(page) == []


def nav(page: Any, title: str, name: str, charts: bool = True) -> None:
    """Open a view from the sidebar, as a user does (the session and its caches stay)."""
    link = page.locator('[data-testid="stSidebarNav"] a', has_text=title).first
    TIMINGS[f"go to {name}"] = timed(lambda: link.click(), page, charts=charts, ready=MAIN_H1)
    assert page.locator(MAIN_H1).first.inner_text().strip() == ("Change between two snapshots" if name == "changes"
                                                               else "Dataset card" if name == "card" else title)
    assert exceptions(page) == []


def read_table(page: Any) -> list[dict[str, str]]:
    """The rows of the page's static table (st.table), header -> cell text."""
    table = page.locator('[data-testid="stTable"] table').first
    table.wait_for()
    head = [c.strip() for c in table.locator("thead th").all_inner_texts()]
    rows = []
    for tr in table.locator("tbody tr").all():
        cells = [c.strip() for c in tr.locator("th, td").all_inner_texts()]
        rows.append(dict(zip(head[-len(cells):], cells, strict=True)))
    return rows


def kept_counts(page: Any) -> dict[str, int]:
    return {row["lang"]: int(row["kept"].replace(",", "")) for row in read_table(page)}


def filter_counts(demo: DashboardStore, out: Path, **rule: Any) -> dict[str, int]:
    from curate.filtering.pipeline import FilterOptions, run_filter
    from curate.filtering.rules import Rule

    result = run_filter(FilterOptions(inputs=[str(demo.inputs.corpus)], scores=[demo.scores], out=out, rule=Rule(**rule)))
    return {lang: row["kept"] for lang, row in result.manifest["languages"].items()}


def test_every_view_opens_without_an_exception(page: Any, url: str) -> None:
    visit(page, url + "/", "compare")
    TIMINGS["first paint (compare)"] = TIMINGS["open compare"]
    screenshot(page, ARTIFACTS / "compare.png")
    views = {"datasets": "Datasets", "changes": "Changes", "contamination": "Contamination", "judges": "Judges",
             "filter": "Tune a filter", "runs": "Runs", "report": "Report"}
    for name, title in views.items():
        nav(page, title, name, charts=name != "report")
        screenshot(page, ARTIFACTS / f"{name}.png")


def test_a_bar_leads_to_its_datasets_and_a_card(page: Any, url: str, demo: DashboardStore) -> None:
    from analyses import study
    from curate.store import Store

    with Store(demo.db, read_only=True) as store:
        frame = study.dataset_frame(store, 2, store.languages(2))
    expected = frame.filter((pl.col("lang") == "ko") & (pl.col("license_family") == "noncommercial"))
    assert expected.height > 0
    nav(page, "Compare languages", "compare")
    bar = page.locator('[data-testid="stVegaLiteChart"] path[aria-roledescription="bar"]'
                       '[aria-label*="lang: ko;"][aria-label*="license_family: noncommercial;"]')
    TIMINGS["click a bar"] = timed(lambda: bar.click(), page, charts=False)
    assert exceptions(page) == []
    page.get_by_text(f"{expected.height:,} datasets listed for").wait_for()
    screenshot(page, ARTIFACTS / "drill-down.png")
    link = page.get_by_role("link", name="open the card of")
    repo = link.inner_text().removeprefix("open the card of").strip()
    assert repo in expected["repo_id"].to_list()
    TIMINGS["open a card"] = timed(lambda: link.click(), page, charts=False)
    assert exceptions(page) == []
    assert page.get_by_role("heading", name=repo).count() >= 1  # the view's title (and the card's own)
    for part in ("YAML header", "Template sections", "Rendered", "Raw text", "on the Hub"):
        assert page.get_by_text(part).count() >= 1, part
    screenshot(page, ARTIFACTS / "card.png")

    visit(page, url + "/datasets?snapshot=2&lang=ko&facet=license_family&value=noncommercial", "datasets of a bar",
          charts=False)
    page.get_by_text(f"{expected.height:,} datasets listed for").wait_for()


def test_filter_slider_counts_are_the_filters_own(page: Any, url: str, demo: DashboardStore,
                                                  tmp_path: Path) -> None:
    nav(page, "Tune a filter", "filter")
    assert kept_counts(page) == filter_counts(demo, tmp_path / "at30", keep_top=0.3, per_language=True)
    slider = page.locator('[data-testid="stSlider"] input[type="range"]').first
    slider.focus()

    def move() -> None:
        for _ in range(15):
            page.keyboard.press("ArrowRight")

    TIMINGS["move the filter slider"] = timed(move, page)
    assert exceptions(page) == []
    pct = int(slider.input_value())
    assert pct == 45
    assert kept_counts(page) == filter_counts(demo, tmp_path / "at45", keep_top=0.45, per_language=True)
    TIMINGS["toggle all heads"] = timed(lambda: page.get_by_text("all heads", exact=True).click(), page)
    all_heads = kept_counts(page)
    assert all_heads == filter_counts(demo, tmp_path / "heads", keep_top=0.45, per_language=True, all_heads=True)
    assert sum(all_heads.values()) < 0.45 * 240  # every head must pass: fewer than the top 45%
    screenshot(page, ARTIFACTS / "filter-tuned.png")

    # The command the page shows gives the page's counts.
    page.get_by_role("button", name="show the curate filter command").click()
    settle(page)
    command = page.locator('[data-testid="stCode"] code').last.inner_text()
    args = shlex.split(command)
    assert args[:2] == ["curate", "filter"] and "--all-heads" in args and "--per-language" in args
    assert args[args.index("--keep-top") + 1] == "0.45"
    assert args[args.index("--input") + 1] == str(demo.inputs.corpus.resolve())
    out = tmp_path / "from-command"
    run = subprocess.run([sys.executable, "-m", "curate", *args[1:-2], "--out", str(out), "--format", "json",
                          "--db", str(tmp_path / "other.duckdb")], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    manifest = json.loads(run.stdout)
    assert {lang: row["kept"] for lang, row in manifest["languages"].items()} == all_heads


def test_contamination_shows_the_match_in_context(page: Any, url: str, demo: DashboardStore) -> None:
    nav(page, "Contamination", "contamination")
    marks = page.locator(".curate-text mark")
    marks.first.wait_for()
    assert marks.count() == 2  # the item's span and the document's
    item, doc = marks.nth(0).inner_text(), marks.nth(1).inner_text()
    planted = [json.loads(line)["text"] for line in demo.inputs.benchmark.read_text(encoding="utf-8").splitlines()
               if json.loads(line)["id"] in demo.inputs.planted]
    assert item == doc and item in planted


def test_judges_heatmap_and_disagreements(page: Any, url: str) -> None:
    nav(page, "Judges", "judges")
    cells = page.locator('[data-testid="stVegaLiteChart"] path[aria-roledescription="rect mark"]')
    assert cells.count() == 3 * 5  # three judges x (four languages + overall)
    assert "κ with beta" in (cells.first.get_attribute("aria-label") or "")  # the tooltip names each pair's CI
    assert page.get_by_text("Where the judges disagree most").count() == 1
    assert page.locator(".curate-text").count() == 1  # the document to read


def test_changes_between_snapshots(page: Any, url: str, demo: DashboardStore) -> None:
    from analyses import diff
    from curate.store import Store

    with Store(demo.db, read_only=True) as store:
        result = diff.compare(store, 1, 2)
    nav(page, "Changes", "changes")
    n_new = len(result["languages"]["en"]["new"])
    assert page.get_by_text(f"New in en ({n_new:,})").count() == 1


def test_runs_link_to_their_views(page: Any, url: str, demo: DashboardStore) -> None:
    nav(page, "Runs", "runs", charts=False)
    link = page.get_by_role("link", name="tune a filter on these scores")  # the newest run: the annotate one
    TIMINGS["follow a run's link"] = timed(lambda: link.click(), page)
    assert exceptions(page) == []
    assert page.get_by_role("heading", name="Tune a filter").count() == 1
    box = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').first
    shown = box.inner_text() + " ".join(i.input_value() for i in box.locator("input").all())
    assert str(demo.scores.resolve()) in shown
