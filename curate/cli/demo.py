"""`curate demo`: the whole pipeline offline on the bundled Hub sample."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from curate.cli.app import app, state

DEMO_LANGS = ["ko", "ja", "zh", "en"]


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Where the demo writes its store and report.")] = Path("curate-demo"),
    sample: Annotated[
        Path | None, typer.Option(help="Hub mirror to serve [default: the bundled data/hub-sample].")
    ] = None,
) -> None:
    """Serve the bundled Hub sample on loopback, snapshot ko/ja/zh/en, and write the report with figures.

    Example:

      curate demo --out curate-demo
    """
    from analyses.render import write_report
    from collectors.hub_server import serve
    from collectors.snapshot import SnapshotOptions, take_snapshot
    from curate import config
    from curate.errors import CurateError
    from curate.progress import setup_logging
    from curate.store import Store

    setup_logging(state.debug)
    sample = sample or config.data_dir() / "hub-sample"
    if not (sample / "datasets.jsonl").is_file():
        raise CurateError(f"{sample}: the Hub sample is missing (a broken install?)")
    out.mkdir(parents=True, exist_ok=True)
    db = out / "curate.duckdb"
    console = Console()
    with serve(sample) as server, Store(db) as store:
        console.print(f"loopback Hub serving {sample} at {server.url}")
        opts = SnapshotOptions(langs=DEMO_LANGS, top=700, endpoint=server.url, concurrency=8, rate=None)
        summary = take_snapshot(store, opts, token="")
        table = Table(title=f"snapshot {summary.snapshot_id}: top datasets per language")
        for col in ("language", "datasets", "cards", "median downloads"):
            table.add_column(col, justify="right" if col != "language" else "left")
        rows = store.con.execute("""
            SELECT l.lang, count(*), count(c.repo_id), median(d.downloads)::BIGINT
            FROM listings l JOIN datasets d USING (snapshot_id, repo_id)
            LEFT JOIN cards c USING (snapshot_id, repo_id)
            WHERE l.snapshot_id = ? GROUP BY l.lang ORDER BY l.lang""", [summary.snapshot_id]).fetchall()
        for lang, n, cards, med in rows:
            table.add_row(lang, str(n), str(cards), str(med))
        console.print(table)
        console.print(f"{summary.errors} datasets recorded as error rows (gated, missing or malformed cards)")
        report_dir = write_report(store.con, out / "report", snapshot=summary.snapshot_id)
    console.print(f"store: {db}")
    console.print(f"report: {report_dir / 'report.html'} (also report.md, report.json and figures in {report_dir})")
    console.print(f"next: curate report --db {db}    curate dashboard --db {db}")
