"""The curate dashboard: compare languages, drill down to datasets and cards, follow changes, read contamination,
judge agreement, tune a filter by eye, and see the recorded runs. Read-only.

Run it with `curate dashboard --db PATH` (which calls `streamlit run` on this file); the store path comes from
``--db`` after Streamlit's ``--`` separator or from ``CURATE_DB``. Each view is a page of its own (compare
at ``/``, then ``/datasets``, ``/card?repo=...``, ``/changes``, ``/contamination``, ``/judges``, ``/filter``,
``/runs``, ``/report``), so only the open one runs on a click, and a view can be linked to.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import polars as pl
import streamlit as st

from curate.errors import CurateError
from dashboards import data, widgets
from dashboards.context import Context, parse_args, stamp


def context() -> tuple[Context, pl.DataFrame] | None:
    """The store, its snapshots and the files the dashboard may read; None (said on the page) without a store."""
    args = parse_args()
    db = args.db
    if not Path(db).exists():
        st.error(f"no store at {db} (run `curate snapshot` or `curate demo` first)")
        return None
    ctx = Context(db=db, stamp=stamp(db), scores=args.scores, roots=list(args.scores_root))
    try:
        snaps = data.snapshots(ctx.db, ctx.stamp)
        recorded = data.runs(ctx.db, ctx.stamp)
    except CurateError as exc:  # a locked or unreadable store: say so on the page
        st.error(str(exc))
        return None
    ctx.snapshot_ids = [int(i) for i in snaps["id"].to_list()] if snaps.height else []
    if recorded.height:
        ctx.recorded = [*recorded["output"].to_list(), *(i for row in recorded["inputs"].to_list() for i in row)]
    return ctx, recorded


def sidebar(ctx: Context) -> None:
    """The snapshot picker (every view reads the snapshot chosen here) and the store's path."""
    st.sidebar.title("curate")
    if ctx.snapshot_ids:
        wanted = st.query_params.get("snapshot")
        index = ctx.snapshot_ids.index(int(wanted)) if wanted and wanted.isdigit() and int(wanted) in ctx.snapshot_ids \
            else 0
        ctx.snapshot_id = int(st.sidebar.selectbox("snapshot", ctx.snapshot_ids, index=index, key="snapshot"))
    st.sidebar.caption(f"store: {ctx.db} (read-only)")


VIEWS = {  # name -> (title, URL path)
    "compare": ("Compare languages", "compare"), "datasets": ("Datasets", "datasets"), "card": ("Dataset card", "card"),
    "changes": ("Changes", "changes"), "contamination": ("Contamination", "contamination"), "judges": ("Judges", "judges"),
    "tune": ("Tune a filter", "filter"), "runs": ("Runs", "runs"), "report": ("Report", "report"),
}


def views(ctx: Context, recorded: pl.DataFrame) -> dict[str, Callable[[], None]]:
    """Each view as a function of no arguments, over ``ctx`` and the recorded runs."""
    kinds = recorded["kind"].to_list() if recorded.height else []
    outputs = recorded["output"].to_list() if recorded.height else []
    annotated = [o for k, o in zip(kinds, outputs, strict=True) if k == "annotate"]
    labelled = [o for k, o in zip(kinds, outputs, strict=True) if k == "judge"]
    corpora = {row["output"]: (list(row["inputs"]), _settings(row["settings"]))
               for row in recorded.iter_rows(named=True) if row["kind"] == "annotate"} if recorded.height else {}
    def view(module: str) -> ModuleType:  # imported when first opened: the first paint loads only its own view
        return importlib.import_module(f"dashboards.{module}")

    return {
        "compare": lambda: view("compare").render(ctx), "datasets": lambda: view("datasets").render(ctx),
        "card": lambda: view("card").render(ctx), "changes": lambda: view("changes").render(ctx),
        "contamination": lambda: view("contamination").render(ctx),
        "judges": lambda: view("judges").render(ctx, labelled),
        "tune": lambda: view("tune").render(ctx, annotated, corpora), "runs": lambda: view("runs").render(ctx),
        "report": lambda: view("report_tab").render_page(ctx),
    }


def _pages(ctx: Context, recorded: pl.DataFrame) -> list[Any]:
    pages = {name: st.Page(fn, title=VIEWS[name][0], url_path=VIEWS[name][1], default=name == "compare")
             for name, fn in views(ctx, recorded).items()}
    widgets.PAGES.clear()
    widgets.PAGES.update(pages)
    return list(pages.values())


def _settings(text: str | None) -> dict[str, Any]:
    import json

    try:
        found = json.loads(text or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def main() -> None:
    st.set_page_config(page_title="curate", layout="wide")
    found = context()
    if found is None:
        st.title("curate")
        return
    ctx, recorded = found
    sidebar(ctx)
    st.navigation(_pages(ctx, recorded)).run()


if __name__ == "__main__":  # Streamlit runs this file as __main__; tests import it
    main()
