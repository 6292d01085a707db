"""The report view: the `curate report` tables and figures for the selected snapshot (the same output as the
command, for those who want the study's figures as they are printed)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import polars as pl
import streamlit as st

from analyses import figures, render, study
from dashboards.context import Context, open_store


@st.cache_data(show_spinner="measuring the snapshot", max_entries=4)
def compute(db: str, stamp: tuple[int, int], snapshot_id: int) -> tuple[dict[str, Any], dict[str, Any], list[bytes]]:
    """Report, details and the figures as PNG bytes for one snapshot of one store (cached per store and snapshot).

    Figures are drawn in a private temporary folder (unpredictable name, mode 0700) that is removed at once:
    a fixed path under /tmp could be planted with a symlink by another user of the machine.
    """
    with open_store(db) as store:
        result = study.compute(store, snapshot=snapshot_id)
    with tempfile.TemporaryDirectory(prefix="curate-dashboard-") as tmp:
        pngs = [p.read_bytes() for p in figures.write_figures(result.report, result.details, Path(tmp))
                if p.suffix == ".png"]
    return result.report, result.details, pngs


def render_page(ctx: Context) -> None:
    st.header("Report")
    if ctx.snapshot_id is None:
        st.info(f"{ctx.db} holds no snapshot yet: run `curate snapshot --lang ko` or `curate demo`.")
        return
    try:
        report, details, pngs = compute(ctx.db, ctx.stamp, ctx.snapshot_id)
    except Exception as exc:  # e.g. a snapshot that listed nothing: say so on the page
        st.error(f"snapshot {ctx.snapshot_id}: {exc}")
        return
    st.caption("The same measurements as `curate report`; definitions in the README.")
    for title, header, rows in render.sections(report, details):
        st.subheader(title)
        st.dataframe(pl.DataFrame(rows, schema=header, orient="row"), hide_index=True)
    st.subheader("Figures")
    for png in pngs:
        st.image(png)
