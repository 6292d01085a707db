"""Benchmark: the dashboard in a real browser on the demo-sized store and on a 400,000-dataset store.

The large store holds two synthetic snapshots of 400,000 datasets each (the synthetic Hub generator's spread,
written straight into DuckDB as bench/analyses.py does; the second is the first a month later: 5% gone,
downloads moved, some licenses changed), a scores file of 400,000 documents, and the demo's contamination and
judge runs. Both stores are served by `curate dashboard` and walked through the same steps in headless
Chromium; each step is timed from the action to a settled page with its charts drawn. Printed side by side,
with the ratio. Nothing is asserted: times depend on the machine.

    python bench/dashboard.py [--datasets 400000] [--keep DIR]   # --keep: build the large store once, reuse it

Needs Chromium and Playwright, as the browser tests do (tests/dashboard_browser.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.analyses import build_store
from curate.store import Store
from tests.dashboard_browser import browser, charts_drawn, exceptions, missing, serve_dashboard, settle, timed
from tests.dashboard_store import add_pipeline, build

MAIN = "[data-testid=stMain] h2"


def second_snapshot(db: Path) -> None:
    """Snapshot 2: snapshot 1 a month later (5% gone, downloads moved, 2% moved to a non-commercial license)."""
    with Store(db) as store:
        con = store.con
        con.execute("BEGIN TRANSACTION")
        for table in ("datasets", "listings", "cards", "authors"):  # what an interrupted build left
            con.execute(f"DELETE FROM {table} WHERE snapshot_id = 2")
        con.execute("DELETE FROM snapshots WHERE id = 2")
        con.execute("INSERT INTO snapshots SELECT 2, taken_at + INTERVAL 30 DAY, finished_at + INTERVAL 30 DAY, "
                    "endpoint, query, status FROM snapshots WHERE id = 1")
        con.execute("""CREATE TEMP TABLE kept AS SELECT repo_id FROM datasets WHERE snapshot_id = 1
                       AND hash(repo_id) % 20 <> 0""")
        con.execute("""INSERT INTO datasets SELECT 2, d.repo_id, author, sha,
                           CAST(downloads * (0.5 + (hash(d.repo_id) % 7) / 3.0) AS BIGINT), downloads_all_time, likes,
                           CASE WHEN hash(d.repo_id) % 50 = 0
                                THEN list_append(list_filter(tags, lambda t: NOT starts_with(t, 'license:')),
                                                 'license:cc-by-nc-4.0') ELSE tags END,
                           card_data, created_at, last_modified, gated, private, disabled
                       FROM datasets d JOIN kept USING (repo_id) WHERE snapshot_id = 1""")
        con.execute("INSERT INTO listings SELECT 2, lang, rank, repo_id FROM listings JOIN kept USING (repo_id) "
                    "WHERE snapshot_id = 1")
        con.execute("INSERT INTO cards SELECT 2, repo_id, sha, text, bytes, decode_errors, fetched_at FROM cards "
                    "JOIN kept USING (repo_id) WHERE snapshot_id = 1")
        con.execute("INSERT INTO authors SELECT 2, name, kind, fullname FROM authors WHERE snapshot_id = 1")
        con.execute("COMMIT")


def large_store(root: Path, n: int) -> Path:
    """Built in stages, each marked done in ``root``, so an interrupted build goes on where it stopped."""
    db = root / "curate.duckdb"
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for stage, step in (("snapshot-1", lambda: build_store(db, n)), ("snapshot-2", lambda: second_snapshot(db)),
                        ("pipeline", lambda: add_pipeline(db, root, n_per_lang=60, n_scores=n))):
        if not (root / stage).exists():
            if stage == "snapshot-1":
                db.unlink(missing_ok=True)
            step()
            (root / stage).write_text("done\n")
            print(f"{stage}: done at {time.perf_counter() - t0:.0f} s", flush=True)
    return db


def _click_bar(page: Any, lang: str, family: str) -> None:
    page.locator('[data-testid="stVegaLiteChart"] path[aria-roledescription="bar"]'
                 f'[aria-label*="lang: {lang};"][aria-label*="license_family: {family};"]').click()


def _nav(page: Any, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()


def walk(url: str, folder: Path) -> dict[str, float]:
    """The same steps on any store; seconds per step."""
    times: dict[str, float] = {}
    with browser(folder) as page:
        t0 = time.perf_counter()
        page.goto(url + "/")
        page.locator('[data-testid="stVegaLiteChart"] svg.marks').first.wait_for(timeout=120_000)
        times["first paint: first chart drawn"] = time.perf_counter() - t0
        settle(page, timeout_s=300)
        charts_drawn(page, timeout_s=120)
        times["compare view: every chart drawn"] = time.perf_counter() - t0
        page.get_by_text("Documentation", exact=True).wait_for(timeout=600_000)
        settle(page, timeout_s=300)
        charts_drawn(page, timeout_s=120)
        times["compare view: card charts filled in"] = time.perf_counter() - t0
        steps = [
            ("click a bar (ko x noncommercial)", lambda: _click_bar(page, "ko", "noncommercial"), False),
            ("open a card from the list", lambda: page.get_by_role("link", name="open the card of").click(), False),
            ("datasets view (DuckDB page)", lambda: _nav(page, "Datasets"), False),
            ("datasets: search", lambda: (page.get_by_label("search dataset ids").fill("news"),
                                          page.keyboard.press("Enter")), False),
            ("changes view (two snapshots)", lambda: _nav(page, "Changes"), True),
            ("contamination view", lambda: _nav(page, "Contamination"), True),
            ("judges view", lambda: _nav(page, "Judges"), True),
            ("tune-a-filter view", lambda: _nav(page, "Tune a filter"), True),
            ("move the keep-top slider", lambda: _slide(page), True),
            ("toggle all heads", lambda: page.get_by_text("all heads", exact=True).click(), True),
            ("runs view", lambda: _nav(page, "Runs"), False),
            ("back to compare (cached)", lambda: _nav(page, "Compare languages"), True),
        ]
        for name, action, charts in steps:
            times[name] = timed(action, page, charts=charts)
            problems = exceptions(page)
            if problems:
                raise RuntimeError(f"{name}: {problems[0][:500]}")
    return times


def _slide(page: Any) -> None:
    slider = page.locator('[data-testid="stSlider"] input[type="range"]').first
    slider.focus()
    for _ in range(10):
        page.keyboard.press("ArrowRight")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=int, default=400_000)
    parser.add_argument("--keep", type=Path, help="folder to build the large store in once and reuse")
    args = parser.parse_args()
    why = missing()
    if why:
        sys.exit(f"bench/dashboard.py: {why}")
    with tempfile.TemporaryDirectory() as tmp:
        small = build(Path(tmp) / "demo").db
        large = large_store(args.keep or Path(tmp) / "large", args.datasets)
        results = {}
        for name, db in (("demo", small), (f"{args.datasets // 1000}k", large)):
            with serve_dashboard(db, timeout_s=120) as url:
                results[name] = walk(url, Path(tmp) / f"chromium-{name}")
    (a, ta), (b, tb) = results.items()
    print(f"{'step':<40} {a:>9} {b:>9}  ratio")
    for step in ta:
        print(f"{step:<40} {ta[step]:8.2f}s {tb[step]:8.2f}s  {tb[step] / ta[step]:5.1f}")


if __name__ == "__main__":
    main()
