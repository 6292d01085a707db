"""The dashboard's Analyses tab: the `curate report` tables and figures for the selected snapshot."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import streamlit as st

from analyses import figures, render, study


@st.cache_data(show_spinner="measuring the snapshot")
def compute(_con: duckdb.DuckDBPyConnection, db: str, snapshot_id: int) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Report, details and figure files for one snapshot of one store (cached per store and snapshot)."""
    result = study.compute(_con, snapshot=snapshot_id)
    key = hashlib.sha256(str(Path(db).resolve()).encode()).hexdigest()[:12]
    out = Path(tempfile.gettempdir()) / "curate-dashboard" / f"{key}-{snapshot_id}"
    pngs = [str(p) for p in figures.write_figures(result.report, result.details, out) if p.suffix == ".png"]
    return result.report, result.details, pngs


def render_tab(con: duckdb.DuckDBPyConnection, db: str, snapshot_id: int) -> None:
    try:
        report, details, pngs = compute(con, db, snapshot_id)
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
