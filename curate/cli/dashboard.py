"""`curate dashboard`: the Streamlit app over a store, read-only."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from curate.cli.app import DbOption, app, store_to_read


@app.command()
def dashboard(
    db: DbOption = None,
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501,
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    scores: Annotated[
        Path | None, typer.Option(help="A scores parquet from `curate annotate` to open in the filter view.")
    ] = None,
    scores_root: Annotated[
        list[Path] | None,
        typer.Option("--scores-root", help="A folder whose scores and labels files the dashboard may open, besides the "
                     "outputs the store records (env CURATE_SCORES_ROOT); repeat."),
    ] = None,
) -> None:
    """The store in a browser (read-only): compare languages, drill down to datasets and cards, changes between
    snapshots, contamination in context, judge agreement, tune a filter by eye, runs (docs/dashboard.md).

    Example:

      curate dashboard --db curate-demo/curate.duckdb --port 8501
    """
    from curate.errors import CurateError

    path = store_to_read(db)
    if not path.exists():
        raise CurateError(f"no store at {path} (run `curate snapshot` or `curate demo` first)")
    try:
        import streamlit  # noqa: F401
    except ImportError as exc:
        raise CurateError("the dashboard needs Streamlit: pip install 'curate[dashboard]'") from exc
    script = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"
    if not script.is_file():
        import dashboards

        script = Path(dashboards.__file__).resolve().parent / "app.py"
    cmd = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
           "--server.address", host, "--server.headless", "true", "--browser.gatherUsageStats", "false",
           # a viewer's toolbar (no deploy or rerun-on-save), and no file watcher: the app's code does not change
           "--client.toolbarMode", "viewer", "--server.fileWatcherType", "none",
           "--", "--db", str(path), *(["--scores", str(scores)] if scores else []),
           *(arg for root in scores_root or [] for arg in ("--scores-root", str(root)))]
    typer.echo(f"dashboard on http://{host}:{port} (store {path}); Ctrl-C stops")
    raise typer.Exit(_serve(cmd))


def _serve(cmd: list[str]) -> int:
    """Run Streamlit as a child and pass SIGTERM/SIGHUP on to it, so stopping curate stops the server too
    (otherwise the child keeps serving the port after curate is gone)."""
    child = subprocess.Popen(cmd)

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return child.wait()
    except KeyboardInterrupt:  # Ctrl-C reached the child too (same process group): give it a moment to stop
        try:
            return child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            return 130
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
