"""Datasets: a snapshot's listed datasets, searched and paged in DuckDB, or the ones behind a chart's bar
(``?lang=ko&facet=license_family&value=noncommercial``, the link the compare view gives)."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import compare, data, widgets
from dashboards.context import Context


def render(ctx: Context) -> None:
    st.header("Datasets")
    if ctx.snapshot_id is None:
        st.info("The store holds no snapshot yet: run `curate snapshot --lang ko` or `curate demo`.")
        return
    sid = ctx.snapshot_id
    params = st.query_params
    facet, value = params.get("facet"), params.get("value")
    langs = data.languages(ctx.db, ctx.stamp, sid)
    if facet in compare.FACET_TITLES and value and params.get("lang") in langs:
        lang = str(params.get("lang"))
        snaps = data.snapshots(ctx.db, ctx.stamp)
        n = int(snaps.filter(pl.col("id") == sid)["datasets"].sum())
        if facet in compare.CARD_FACETS:
            frame = data.full_frame(ctx.db, ctx.stamp, sid, n)
            if frame is None:
                st.info("Still reading this snapshot's cards (once per snapshot); the list appears when done.")
                compare.wait_for_cards(ctx, n)
                return
        else:
            frame = data.quick_frame(ctx.db, ctx.stamp, sid)
        st.caption(f"the datasets behind one bar of the compare view: `{lang}` · {compare.FACET_TITLES[facet]} = "
                   f"`{value}`")
        compare.drill_panel(ctx, frame, str(facet), lang, str(value), "ds_facet")
        return
    cols = st.columns([1, 3])
    lang = cols[0].selectbox("language", ["all", *langs], key="lang")
    search = cols[1].text_input("search dataset ids", key="search")
    chosen = None if lang == "all" else lang

    def fetch(limit: int, offset: int) -> tuple[int, pl.DataFrame]:
        return data.listed_page(ctx.db, ctx.stamp, sid, chosen, search, limit, offset)

    total, page = widgets.remote_paged(fetch, f"ds_{lang}_{search}")
    st.caption(f"{total} datasets")
    widgets.card_opener(page["repo_id"].unique(maintain_order=True).to_list(), sid, "ds")
