"""The dashboard's Analyses tab: the `curate report` tables and figures for the selected snapshot."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import polars as pl
import streamlit as st

from analyses import figures, render, study
from curate.store import Store


@st.cache_data(show_spinner="measuring the snapshot")
def compute(_store: Store, db: str, snapshot_id: int) -> tuple[dict[str, Any], dict[str, Any], list[bytes]]:
    """Report, details and the figures as PNG bytes for one snapshot of one store (cached per store and snapshot).

    Figures are drawn in a private temporary folder (unpredictable name, mode 0700) that is removed at once:
    a fixed path under /tmp could be planted with a symlink by another user of the machine.
    """
    result = study.compute(_store, snapshot=snapshot_id)
    with tempfile.TemporaryDirectory(prefix="curate-dashboard-") as tmp:
        pngs = [p.read_bytes() for p in figures.write_figures(result.report, result.details, Path(tmp))
                if p.suffix == ".png"]
    return result.report, result.details, pngs


def render_tab(store: Store, db: str, snapshot_id: int) -> None:
    try:
        report, details, pngs = compute(store, db, snapshot_id)
    except Exception as exc:  # e.g. a snapshot that listed nothing: say so on the page
        st.error(f"snapshot {snapshot_id}: {exc}")
        return
    st.caption("The same measurements as `curate report`; definitions in the README.")
    for title, header, rows in render.sections(report, details):
        st.subheader(title)
        st.dataframe(pl.DataFrame(rows, schema=header, orient="row"), hide_index=True)
    st.subheader("Figures")
    for png in pngs:
        st.image(png)
