"""Compare languages: the study's measurements as interactive charts, and the datasets behind any bar.

Every chart counts the per-dataset features of `analyses.study.dataset_frame` (the numbers `curate report`
prints). Clicking a bar or cell lists the datasets it counts, and any of them opens in the card view.
"""

from __future__ import annotations

from collections.abc import Callable
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

Frame = Callable[[], pl.DataFrame | None]  # the per-dataset frame behind the charts, fetched on a click
DEFAULT_LANGUAGES = 8  # languages compared when the page opens: the ones with the most datasets
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


def chart(ctx: Context, frame: Frame, drawn: Any, table: pl.DataFrame, facet: str, key: str) -> None:
    """A pickable chart; when it holds the newest click, the datasets behind the clicked mark below it
    (``frame`` gives the per-dataset frame the chart counts, fetched only then)."""
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
    found = frame()
    if found is not None:
        drill_panel(ctx, found, facet, lang, value, key)


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
    sid = ctx.snapshot_id
    snaps = data.snapshots(ctx.db, ctx.stamp)
    n_datasets = int(snaps.filter(pl.col("id") == sid)["datasets"].sum())
    counts_by_lang = data.language_counts(ctx.db, ctx.stamp, sid)
    if not counts_by_lang:
        st.info(f"Snapshot {sid} listed no dataset (see its error rows in the Runs view).")
        return
    available = sorted(counts_by_lang)
    default = sorted(list(counts_by_lang)[:DEFAULT_LANGUAGES])  # a whole-Hub snapshot lists hundreds
    langs = tuple(st.multiselect("languages", available, default=default, key="compare_langs") or default)
    if len(available) > len(default):
        st.caption(f"Opens on the {len(default)} languages with the most datasets of the {len(available):,} this "
                   "snapshot lists; add or remove languages above.")
    # First what DuckDB answers at once (counts, downloads), then the features (seconds on a large snapshot),
    # which start measuring now.
    data.start_quick_frame(ctx.db, ctx.stamp, sid)
    counts, points, cutoffs = data.downloads(ctx.db, ctx.stamp, sid, langs)
    cols = st.columns(len(counts) or 1)
    for col, (lang, n) in zip(cols, counts.iter_rows(), strict=False):
        col.metric(lang, f"{n:,} datasets")
    charts.show(charts.downloads(points, cutoffs), cutoffs, "suggested cutoff", "c_downloads",
                title="Downloads by rank (dashed: the suggested cutoff)")

    def quick() -> pl.DataFrame:
        return data.quick_frame(ctx.db, ctx.stamp, sid).filter(pl.col("lang").is_in(list(langs)))

    tables = data.aggregates(ctx.db, ctx.stamp, sid, langs, n_datasets, cards=False)
    assert tables is not None
    left, right = st.columns(2)
    with left:
        _stacked(ctx, quick, tables, "size", list(SIZES), charts.SIZE_COLORS, "c_size")
        _stacked(ctx, quick, tables, "license_family", list(FAMILIES), dict(FAMILY_COLORS), "c_license")
        _stacked(ctx, quick, tables, "ownership", list(OWNERSHIP), None, "c_owner")
    with right:
        _stacked(ctx, quick, tables, "makeup", list(MAKEUP), None, "c_makeup")
        _stacked(ctx, quick, tables, "provenance", list(PROVENANCE), charts.PROVENANCE_COLORS, "c_provenance")
    chart(ctx, quick, charts.heatmap(tables["tasks"], x_title="task"), tables["tasks"], "tasks", "c_tasks")
    shared = tables["overlap"]
    chart(ctx, quick, charts.heatmap(shared.rename({"other": "value"}), x_title="also listed for", value="n", fmt=","),
          shared, "overlap", "c_overlap")

    st.subheader("From the cards")
    cards = None
    if data.full_frame(ctx.db, ctx.stamp, sid, n_datasets) is not None:  # else still reading them
        cards = data.aggregates(ctx.db, ctx.stamp, sid, langs, n_datasets, cards=True)
    if cards is None:
        st.info(f"Reading the {n_datasets:,} cards of snapshot {sid} for documentation, instruction datasets and "
                "domains (once per snapshot); this part fills in when done.")
        wait_for_cards(ctx, n_datasets)
        return

    def full() -> pl.DataFrame | None:
        found = data.full_frame(ctx.db, ctx.stamp, sid, n_datasets)
        return None if found is None else found.filter(pl.col("lang").is_in(list(langs)))

    left, right = st.columns(2)
    with left:
        chart(ctx, full, charts.grouped_bars(cards["docs"], list(data.DOC_FLAGS.values())), cards["docs"], "docs",
              "c_docs")
    with right:
        if cards["instruction"].is_empty():
            st.caption("No instruction dataset with a creation date in these languages.")
        else:
            chart(ctx, full, charts.over_time(cards["instruction"]), cards["instruction"], "instruction",
                  "c_instruction")
    chart(ctx, full, charts.heatmap(cards["domains"], x_title="domain"), cards["domains"], "domains", "c_domains")
    chart(ctx, full, charts.grouped_bars(cards["license_mismatch"], ["license text disagrees"]),
          cards["license_mismatch"], "license_mismatch", "c_mismatch")


def _stacked(ctx: Context, frame: Frame, tables: dict[str, pl.DataFrame], facet: str, order: list[str],
             colors: dict[str, str] | None, key: str) -> None:
    table = tables[facet]
    chart(ctx, frame, charts.stacked_share(table, order, colors, legend=facet), table, facet, key)


def wait_for_cards(ctx: Context, n_datasets: int) -> None:
    """Look again every two seconds until the background read of the cards is done, then redraw the page."""

    @st.fragment(run_every=2.0)
    def poll() -> None:
        if data.full_frame(ctx.db, ctx.stamp, int(ctx.snapshot_id or 0), n_datasets) is not None:
            st.rerun()

    poll()
