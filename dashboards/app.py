"""The curate dashboard: browse snapshots, analyses, contamination results and scores. Read-only.

Run it with `curate dashboard --db PATH` (which calls `streamlit run` on this file); the store path comes
from ``--db`` after Streamlit's ``--`` separator or from ``CURATE_DB``.
"""

from __future__ import annotations

import argparse
import sys

import polars as pl
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from curate import config
from curate.store import Store
from dashboards import report_tab, scores


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db")
    parser.add_argument("--scores")
    parser.add_argument("--scores-root", action="append", default=[])
    known, _ = parser.parse_known_args(sys.argv[1:])
    known.db = str(config.db_path(known.db, reading=True))
    known.scores = known.scores or config.dashboard_scores() or ""
    # Folders whose parquet files the scores box may read besides recorded run outputs.
    known.scores_root = [*known.scores_root, *map(str, config.scores_roots())]
    return known


def _snapshot_tabs(store: Store, snaps: pl.DataFrame, path: str, tab_snap: DeltaGenerator,
                   tab_data: DeltaGenerator) -> int:
    ids = snaps["id"].to_list()
    snapshot_id = st.sidebar.selectbox("snapshot", ids, index=0)
    st.sidebar.caption(f"store: {path}")
    with tab_snap:
        st.subheader("Snapshots")
        st.dataframe(snaps, hide_index=True)
        errs = store.errors(snapshot_id)
        st.subheader(f"Error rows in snapshot {snapshot_id} ({errs.height})")
        st.dataframe(errs, hide_index=True)
    with tab_data:
        langs = store.languages(snapshot_id)
        lang = st.selectbox("language", ["all", *langs], key="lang")
        search = st.text_input("search dataset ids")
        frame = store.listed_datasets(snapshot_id, None if lang == "all" else lang, search)
        st.caption(f"{frame.height} datasets")
        st.dataframe(frame, hide_index=True)
        if frame.height:
            repo = st.selectbox("card", frame["repo_id"].unique(maintain_order=True).to_list())
            text = store.card_text(snapshot_id, repo)
            with st.expander(f"README.md of {repo}", expanded=False):
                st.text(text if text is not None else "(no card: see the error rows)")
    return int(snapshot_id)


def _contamination(store: Store) -> None:
    summary = store.latest_contamination()
    if summary.is_empty():
        st.info("No contamination run yet: `curate contamination --benchmark B --corpus C`.")
        return
    st.subheader("Newest run per benchmark")
    st.dataframe(summary, hide_index=True)
    bench = st.selectbox("benchmark", summary["benchmark"].to_list(), key="bench")
    run_id = int(summary.filter(summary["benchmark"] == bench)["run_id"][0])
    everything = st.checkbox("show clean items too", value=False)
    items = store.contamination_items(run_id, bench, only_contaminated=not everything)
    st.caption(f"{items.height} items")
    st.dataframe(items, hide_index=True)
    mentions = store.contamination_mentions(run_id)
    if mentions.height:
        st.subheader("Hub datasets naming the benchmark")
        st.dataframe(mentions, hide_index=True)


def main() -> None:
    st.set_page_config(page_title="curate", layout="wide")
    st.title("curate")
    args = _args()
    path = args.db
    try:
        store = Store(path, read_only=True)
    except Exception as exc:  # a missing or locked store: say so on the page
        st.error(str(exc))
        return
    try:
        _tabs(store, path, args)
    finally:  # release the read lock at once, not when the script's objects are collected
        store.close()


def _tabs(store: Store, path: str, args: argparse.Namespace) -> None:
    tab_snap, tab_data, tab_an, tab_cont, tab_scores = st.tabs(
        ["Snapshots", "Datasets", "Analyses", "Contamination", "Scores"])
    snaps = store.snapshots()
    if snaps.is_empty():
        for tab in (tab_snap, tab_data, tab_an):
            tab.info(f"{path} holds no snapshot yet: run `curate snapshot --lang ko` or `curate demo`.")
    else:
        snapshot_id = _snapshot_tabs(store, snaps, path, tab_snap, tab_data)
        with tab_an:
            report_tab.render_tab(store, path, snapshot_id)
    with tab_cont:
        _contamination(store)
    with tab_scores:
        recorded = store.runs()
        annotated = recorded.filter(recorded["kind"] == "annotate")["output"].to_list() if recorded.height else []
        outputs = recorded["output"].to_list() if recorded.height else []
        scores.render(args.scores or (annotated[0] if annotated else ""),
                      allowed=[*outputs, *([args.scores] if args.scores else []), *args.scores_root])
        if recorded.height:
            st.subheader("Pipeline runs recorded in the store")
            st.dataframe(recorded.drop("settings"), hide_index=True)


main()
