"""Change over time: what moved between two snapshots (`analyses.diff.compare`, as `curate report --compare`
reports it): datasets that appeared or left a language's listing, license changes, the biggest download movers."""

from __future__ import annotations

from typing import Any

import altair as alt
import polars as pl
import streamlit as st

from analyses import diff
from dashboards import charts, widgets
from dashboards.context import Context, open_store

MOVERS = 25
CHART_LANGUAGES = 12  # the summary chart shows the languages that changed most; its numbers hold them all


@st.cache_data(max_entries=16, show_spinner="comparing the snapshots")
def compare(db: str, stamp: tuple[int, int], old: int, new: int) -> dict[str, Any]:
    with open_store(db) as store:
        return diff.compare(store, old, new, movers=MOVERS)


def summary(result: dict[str, Any]) -> pl.DataFrame:
    """lang, change, n: new, removed and license-changed datasets per language."""
    rows = [{"lang": lang, "change": change, "n": len(part[key])}
            for lang, part in result["languages"].items()
            for change, key in (("new", "new"), ("removed", "removed"), ("license changed", "license_changes"))]
    return pl.DataFrame(rows, schema={"lang": pl.String, "change": pl.String, "n": pl.Int64})


def render(ctx: Context) -> None:
    st.header("Change between two snapshots")
    ids = ctx.snapshot_ids
    if len(ids) < 2:
        st.info("Take a second snapshot (`curate snapshot` again, later) to see what changed.")
        return
    cols = st.columns(2)
    old = cols[0].selectbox("older snapshot", ids, index=1, key="diff_old")
    new = cols[1].selectbox("newer snapshot", ids, index=0, key="diff_new")
    if old == new:
        st.info("Pick two different snapshots.")
        return
    result = compare(ctx.db, ctx.stamp, int(old), int(new))
    table = summary(result)
    busiest = (table.group_by("lang").agg(pl.col("n").sum()).sort(["n", "lang"], descending=[True, False])
               .head(CHART_LANGUAGES)["lang"].to_list())
    if len(busiest) < table["lang"].n_unique():
        st.caption(f"The chart shows the {len(busiest)} languages with the most changes; its numbers list all "
                   f"{table['lang'].n_unique():,}.")
    chart = (alt.Chart(table.filter(pl.col("lang").is_in(busiest)).to_pandas()).mark_bar()
             .encode(x=alt.X("change:N", title=None, sort=["new", "removed", "license changed"]),
                     xOffset="change:N", y=alt.Y("n:Q", title="datasets"),
                     column=alt.Column("lang:N", title=None),
                     color=alt.Color("change:N", title=None, sort=["new", "removed", "license changed"]),
                     tooltip=["lang", "change", alt.Tooltip("n:Q", format=",")])
             .properties(width=110, height=180, usermeta=charts.SVG))
    charts.show(chart, table, "changes", "diff_summary", title=f"Snapshot {old} → {new}")
    langs = list(result["languages"])
    if not langs:
        return
    lang = st.selectbox("language", langs, key="diff_lang")
    part = result["languages"][lang]
    movers = pl.DataFrame(part["download_movers"], schema={"repo_id": pl.String, "old_downloads": pl.Int64,
                                                            "new_downloads": pl.Int64, "delta": pl.Int64})
    if movers.height:
        bars = (alt.Chart(movers.to_pandas()).mark_bar()
                .encode(x=alt.X("delta:Q", title="change in downloads (30 days)"),
                        y=alt.Y("repo_id:N", sort="-x", title=None, axis=alt.Axis(labelLimit=320)),
                        color=alt.condition("datum.delta >= 0", alt.value("#4c9f70"), alt.value("#d1495b")),
                        tooltip=["repo_id", alt.Tooltip("old_downloads:Q", format=","),
                                 alt.Tooltip("new_downloads:Q", format=","), alt.Tooltip("delta:Q", format="+,")])
                .properties(height=alt.Step(20), usermeta=charts.SVG))
        charts.show(bars, movers, f"download movers {lang}", "diff_movers",
                    title=f"Biggest download movers in {lang}")
    left, right = st.columns(2)
    with left:
        st.markdown(f"**New in {lang}** ({len(part['new']):,})")
        new_rows = widgets.paged(pl.DataFrame({"repo_id": part["new"]}, schema={"repo_id": pl.String}), f"diff_new_{lang}")
        widgets.card_opener(new_rows["repo_id"].to_list(), int(new), f"diff_new_{lang}")
    with right:
        st.markdown(f"**Removed from {lang}** ({len(part['removed']):,})")
        widgets.paged(pl.DataFrame({"repo_id": part["removed"]}, schema={"repo_id": pl.String}), f"diff_removed_{lang}")
    st.markdown(f"**License changes in {lang}** ({len(part['license_changes']):,})")
    changes = pl.DataFrame([{"repo_id": c["repo_id"], "old": ", ".join(c["old"]) or "none",
                             "new": ", ".join(c["new"]) or "none"} for c in part["license_changes"]],
                           schema={"repo_id": pl.String, "old": pl.String, "new": pl.String})
    widgets.paged(changes, f"diff_lic_{lang}")
