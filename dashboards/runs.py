"""Runs: the pipeline runs the store records (judge, train-annotator, annotate, filter) with their settings and
outputs, each linked to the view that shows it; the snapshots with their error rows; the contamination runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import streamlit as st

from dashboards import data, widgets
from dashboards.context import Context, open_store


@st.cache_data(max_entries=16, show_spinner=False)
def errors(db: str, stamp: tuple[int, int], snapshot_id: int) -> pl.DataFrame:
    with open_store(db) as store:
        return store.errors(snapshot_id)


def manifest(output: str) -> dict[str, Any] | None:
    """A recorded filter run's manifest.json (its output folder is recorded in the store), if still there."""
    path = Path(output) / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def render(ctx: Context) -> None:
    st.header("Runs")
    recorded = data.runs(ctx.db, ctx.stamp)
    st.subheader("Pipeline runs")
    if recorded.is_empty():
        st.info("No pipeline run recorded yet (`curate judge`, `train-annotator`, `annotate` and `filter` record "
                "theirs here).")
    else:
        st.dataframe(recorded.drop("settings"), hide_index=True, width="stretch")
        st.download_button("download CSV", data=lambda: recorded.with_columns(pl.col("inputs").list.join(" "))
                           .write_csv(), file_name="runs.csv", mime="text/csv", key="runs_csv", on_click="ignore")
        labels = [f"#{r['id']} {r['kind']} → {r['output']}" for r in recorded.iter_rows(named=True)]
        chosen = st.selectbox("run", range(recorded.height), format_func=lambda i: labels[i], key="run_pick")
        _run(recorded.row(int(chosen or 0), named=True))
    st.subheader("Snapshots")
    snaps = data.snapshots(ctx.db, ctx.stamp)
    st.dataframe(snaps, hide_index=True, width="stretch")
    if ctx.snapshot_id is not None:
        errs = errors(ctx.db, ctx.stamp, ctx.snapshot_id)
        st.subheader(f"Error rows in snapshot {ctx.snapshot_id} ({errs.height})")
        widgets.paged(errs, f"errors_{ctx.snapshot_id}")


def _run(run: dict[str, Any]) -> None:
    with st.container(border=True):
        st.markdown(f"**{run['kind']}** run #{run['id']} at {run['created_at']:%Y-%m-%d %H:%M} · "
                    f"{run['n_docs'] or 0:,} documents · {run['seconds'] or 0:g} s")
        st.markdown("inputs: " + ", ".join(f"`{i}`" for i in run["inputs"]) + f"  \noutput: `{run['output']}`")
        try:
            settings = json.loads(run["settings"] or "{}")
        except ValueError:
            settings = {"settings": run["settings"]}
        st.json(settings, expanded=False)
        kind, output = run["kind"], run["output"]
        if kind == "annotate":
            widgets.link("tune", "tune a filter on these scores", scores=output)
        elif kind == "judge":
            widgets.link("judges", "judges' agreement on these labels", labels=output)
        elif kind == "filter":
            scores = [i for i in run["inputs"] if i.endswith(".parquet")]  # the scores come after the corpus
            if scores:
                widgets.link("tune", "tune this filter again", scores=scores[-1])
            found = manifest(output)
            if found:
                rows = [{"lang": k, **{c: v.get(c) for c in ("docs", "kept", "retention")}}
                        for k, v in (found.get("languages") or {}).items()]
                st.markdown(f"kept {found.get('counts', {}).get('kept', 0):,} documents; rule: "
                            f"`{json.dumps(found.get('rule'))}`")
                st.dataframe(pl.DataFrame(rows), hide_index=True)
