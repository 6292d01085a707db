"""The curate dashboard: browse snapshots, analyses, contamination results and scores. Read-only.

Run it with `curate dashboard --db PATH` (which calls `streamlit run` on this file); the store path comes
from ``--db`` after Streamlit's ``--`` separator or from ``CURATE_DB``.
"""

from __future__ import annotations

import argparse
import os
import sys

import streamlit as st

from curate.store import Store
from dashboards import data, scores


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db")
    parser.add_argument("--scores")
    known, _ = parser.parse_known_args(sys.argv[1:])
    known.db = known.db or os.environ.get("CURATE_DB") or "curate.duckdb"
    known.scores = known.scores or os.environ.get("CURATE_SCORES") or ""
    return known


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
    con = store.con
    snaps = data.snapshots(con)
    if snaps.is_empty():
        st.info(f"{path} holds no snapshot yet: run `curate snapshot --lang ko` or `curate demo`.")
        return
    ids = snaps["id"].to_list()
    snapshot_id = st.sidebar.selectbox("snapshot", ids, index=0)
    st.sidebar.caption(f"store: {path}")

    tab_snap, tab_data, tab_scores = st.tabs(["Snapshots", "Datasets", "Scores"])
    with tab_snap:
        st.subheader("Snapshots")
        st.dataframe(snaps, hide_index=True)
        errs = data.errors(con, snapshot_id)
        st.subheader(f"Error rows in snapshot {snapshot_id} ({errs.height})")
        st.dataframe(errs, hide_index=True)
    with tab_data:
        langs = data.languages(con, snapshot_id)
        lang = st.selectbox("language", ["all", *langs], key="lang")
        search = st.text_input("search dataset ids")
        frame = data.datasets(con, snapshot_id, None if lang == "all" else lang, search)
        st.caption(f"{frame.height} datasets")
        st.dataframe(frame, hide_index=True)
        if frame.height:
            repo = st.selectbox("card", frame["repo_id"].unique(maintain_order=True).to_list())
            text = data.card_text(con, snapshot_id, repo)
            with st.expander(f"README.md of {repo}", expanded=False):
                st.text(text if text is not None else "(no card: see the error rows)")
    with tab_scores:
        scores.render(args.scores)
    store.close()


main()
