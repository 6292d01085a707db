"""Compare languages: the study's measurements as interactive charts, and the datasets behind any bar.

Every chart counts the per-dataset features of `analyses.study.dataset_frame` (the numbers `curate report`
prints). Clicking a bar or cell lists the datasets it counts, and any of them opens in the card view.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl
import streamlit as st

from analyses.colors import FAMILY_COLORS
from analyses.reference import FAMILIES, MAKEUP, OWNERSHIP, PROVENANCE, SIZES
from dashboards import charts, data, widgets
from dashboards.context import Context

FACET_TITLES = {
    "size": "Size (number of examples)", "makeup": "Language make-up", "license_family": "License families",
    "provenance": "Commercial use (license provenance)", "ownership": "Ownership", "tasks": "Task categories (share of datasets)",
    "overlap": "Datasets shared across languages", "docs": "Documentation", "instruction": "Instruction datasets over time (cumulative, by creation month)",
    "domains": "Domain focus (share of datasets)", "license_mismatch": "License text disagrees with the YAML",
}

CARD_FACETS = ("docs", "instruction", "domains", "license_mismatch")  # measured on the cards (the full frame)


def _remember(facet: str, key: str) -> None:
    st.session_state["compare_drill"] = (facet, key)


def _picked_value(picked: dict[str, Any]) -> str | None:
    for field in ("value", "month", "other"):
        if field in picked:
            v = picked[field]
            if field == "month" and isinstance(v, int | float):  # Vega hands dates over as epoch milliseconds
                return datetime.fromtimestamp(v / 1000, UTC).strftime("%Y-%m")
            return str(v)
    return None


def chart(ctx: Context, frame: pl.DataFrame, drawn: Any, table: pl.DataFrame, facet: str, key: str) -> None:
    """A pickable chart; when it holds the newest click, the datasets behind the clicked mark below it."""
    st.markdown(f"**{FACET_TITLES[facet]}**")
    event = st.altair_chart(drawn, key=key, on_select=lambda: _remember(facet, key), width="stretch")
    with st.expander(f"numbers: {FACET_TITLES[facet]}"):
        st.dataframe(table, hide_index=True, width="stretch")
        st.download_button("download CSV", data=table.write_csv(), file_name=f"{facet}.csv", mime="text/csv",
                           key=f"{key}_csv", on_click="ignore")
    if st.session_state.get("compare_drill") != (facet, key):
        return
    picked = ((event or {}).get("selection") or {}).get(charts.PICK) or []
    if not picked:
        return
    lang, value = str(picked[0].get("lang")), _picked_value(picked[0])
    if value is None:
        return
    drill_panel(ctx, frame, facet, lang, value, key)


def drill_panel(ctx: Context, frame: pl.DataFrame, facet: str, lang: str, value: str, key: str) -> None:
    rows = data.drill(frame, facet, lang, value)
    with st.container(border=True):
        st.markdown(f"**{rows.height:,} datasets** listed for `{lang}` · {FACET_TITLES[facet]}: `{value}`")
        shown = widgets.paged(rows.select([c for c in data.LIST_COLUMNS if c in rows.columns]), f"{key}_drill")
        widgets.card_opener(shown["repo_id"].to_list(), int(ctx.snapshot_id or 0), f"{key}_drill")
        widgets.link("datasets", "all of them in the datasets view", snapshot=ctx.snapshot_id, lang=lang,
                     facet=facet, value=value)


def render(ctx: Context) -> None:
    st.header("Compare languages")
    if ctx.snapshot_id is None:
        st.info("The store holds no snapshot yet: run `curate snapshot --lang ko` or `curate demo`.")
        return
    snaps = data.snapshots(ctx.db, ctx.stamp)
    n_datasets = int(snaps.filter(pl.col("id") == ctx.snapshot_id)["datasets"].sum())
    available = data.languages(ctx.db, ctx.stamp, ctx.snapshot_id)
    if not available:
        st.info(f"Snapshot {ctx.snapshot_id} listed no dataset (see its error rows in the Runs view).")
        return
    langs = st.multiselect("languages", available, default=available, key="compare_langs") or available
    quick = data.quick_frame(ctx.db, ctx.stamp, ctx.snapshot_id).filter(pl.col("lang").is_in(langs))
    full = data.full_frame(ctx.db, ctx.stamp, ctx.snapshot_id, n_datasets)
    counts = quick.group_by("lang").len("datasets").sort("lang")
    cols = st.columns(len(counts) or 1)
    for col, (lang, n) in zip(cols, counts.iter_rows(), strict=False):
        col.metric(lang, f"{n:,} datasets")

    left, right = st.columns(2)
    with left:
        _stacked(ctx, quick, "size", list(SIZES), charts.SIZE_COLORS, "c_size")
        _stacked(ctx, quick, "license_family", list(FAMILIES), dict(FAMILY_COLORS), "c_license")
        _stacked(ctx, quick, "ownership", list(OWNERSHIP), None, "c_owner")
    with right:
        _stacked(ctx, quick, "makeup", list(MAKEUP), None, "c_makeup")
        _stacked(ctx, quick, "provenance", list(PROVENANCE), charts.PROVENANCE_COLORS, "c_provenance")
        points, cutoffs = data.downloads_curve(quick)
        charts.show(charts.downloads(points, cutoffs), cutoffs, "suggested cutoff", "c_downloads",
                    title="Downloads by rank (dashed: the suggested cutoff)")
    tasks = data.list_shares(quick, "tasks")
    chart(ctx, quick, charts.heatmap(tasks, x_title="task"), tasks,
          "tasks", "c_tasks")
    shared = data.overlap(quick)
    chart(ctx, quick, charts.heatmap(shared.rename({"other": "value"}), x_title="also listed for",
                                     value="n", fmt=","), shared, "overlap", "c_overlap")

    st.subheader("From the cards")
    if full is None:
        st.info(f"Reading the {n_datasets:,} cards of snapshot {ctx.snapshot_id} for documentation, instruction "
                "datasets and domains (once per snapshot); this part fills in when done.")
        wait_for_cards(ctx, n_datasets)
        return
    full = full.filter(pl.col("lang").is_in(langs))
    left, right = st.columns(2)
    with left:
        docs = data.flag_shares(full, data.DOC_FLAGS)
        chart(ctx, full, charts.grouped_bars(docs, list(data.DOC_FLAGS.values())), docs,
              "docs", "c_docs")
    with right:
        inst = data.instruction_over_time(full)
        if inst.is_empty():
            st.caption("No instruction dataset with a creation date in these languages.")
        else:
            chart(ctx, full, charts.over_time(inst), inst, "instruction", "c_instruction")
    domains = data.domain_shares(full)
    chart(ctx, full, charts.heatmap(domains, x_title="domain"), domains,
          "domains", "c_domains")
    mismatch = data.flag_shares(full, {"license_mismatch": "license text disagrees"})
    chart(ctx, full, charts.grouped_bars(mismatch, ["license text disagrees"]), mismatch,
          "license_mismatch", "c_mismatch")


def _stacked(ctx: Context, frame: pl.DataFrame, facet: str, order: list[str], colors: dict[str, str] | None,
             key: str) -> None:
    table = data.shares(frame, facet, order)
    chart(ctx, frame, charts.stacked_share(table, order, colors, legend=facet), table, facet, key)


def wait_for_cards(ctx: Context, n_datasets: int) -> None:
    """Look again every two seconds until the background read of the cards is done, then redraw the page."""

    @st.fragment(run_every=2.0)
    def poll() -> None:
        if data.full_frame(ctx.db, ctx.stamp, int(ctx.snapshot_id or 0), n_datasets) is not None:
            st.rerun()

    poll()
