"""Contamination: per benchmark and corpus, the contaminated items, the documents that hold them, the longest
match in context, and the Hub datasets whose id or card names the benchmark.

The item and document texts are read from the benchmark and corpus files the run recorded in the store, when
they are local and still there; nothing else is opened.
"""

from __future__ import annotations

import difflib
from typing import Any

import altair as alt
import polars as pl
import streamlit as st

from curate.corpus import Document, ReadSpec, find_documents
from dashboards import charts, widgets
from dashboards.context import Context, open_store

CONTEXT_CHARS = 300  # shown either side of the match in a document
MATCH_SEARCH_CHARS = 50_000  # the longest match is looked for in a document's first characters


@st.cache_data(max_entries=16, show_spinner=False)
def summary(db: str, stamp: tuple[int, int]) -> pl.DataFrame:
    with open_store(db) as store:
        return store.latest_contamination()


@st.cache_data(max_entries=64, show_spinner=False)
def items(db: str, stamp: tuple[int, int], run_id: int, benchmark: str, only_contaminated: bool) -> pl.DataFrame:
    with open_store(db) as store:
        return store.contamination_items(run_id, benchmark, only_contaminated=only_contaminated)


@st.cache_data(max_entries=16, show_spinner=False)
def run_details(db: str, stamp: tuple[int, int], run_id: int) -> tuple[list[dict[str, Any]], pl.DataFrame]:
    with open_store(db) as store:
        return store.contamination_sources(run_id), store.contamination_mentions(run_id)


@st.cache_data(max_entries=64, show_spinner=False)
def item(db: str, stamp: tuple[int, int], run_id: int, benchmark: str, item_id: str) -> dict[str, Any] | None:
    with open_store(db) as store:
        return store.contamination_item(run_id, benchmark, item_id)


@st.cache_data(max_entries=128, show_spinner="reading the recorded benchmark and corpus")
def read_texts(sources: tuple[tuple[str, str, str], ...], ids: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """{id: (text, source location)} from recorded sources (location, text field, id field), first found wins."""
    out: dict[str, tuple[str, str]] = {}
    for location, text_field, id_field in sources:
        missing = [i for i in ids if i not in out]
        if not missing:
            break
        found: dict[str, Document] = find_documents(
            [location], missing, ReadSpec(text_field=text_field, id_field=id_field, lang_field=None))
        out.update({k: (d.text, location) for k, d in found.items()})
    return out


def longest_match(item_text: str, doc_text: str) -> tuple[int, int, int]:
    """(start in item, start in document, length) of the longest common stretch of characters."""
    at = doc_text.find(item_text)
    if item_text and at >= 0:
        return 0, at, len(item_text)
    doc = doc_text[:MATCH_SEARCH_CHARS]
    m = difflib.SequenceMatcher(None, doc, item_text, autojunk=False).find_longest_match(0, len(doc), 0, len(item_text))
    return m.b, m.a, m.size


def _spec(source: dict[str, Any]) -> tuple[str, str, str]:
    return (str(source.get("location") or ""), str(source.get("text_field") or "text"),
            str(source.get("id_field") or "id"))


def render(ctx: Context) -> None:
    st.header("Contamination")
    table = summary(ctx.db, ctx.stamp)
    if table.is_empty():
        st.info("No contamination run yet: `curate contamination --benchmark B --corpus C`.")
        return
    rates = table.select("benchmark", "corpora", "n_items", "n_contaminated", "n_exact", "rate")
    chart = (alt.Chart(rates.to_pandas()).mark_bar()
             .encode(x=alt.X("rate:Q", axis=alt.Axis(format="%"), title="contaminated items"),
                     y=alt.Y("benchmark:N", title=None),
                     tooltip=["benchmark", "corpora", alt.Tooltip("n_items:Q", title="items"),
                              alt.Tooltip("n_contaminated:Q", title="contaminated"),
                              alt.Tooltip("n_exact:Q", title="exact copies"), alt.Tooltip("rate:Q", format=".1%")])
             .properties(height=alt.Step(30), usermeta=charts.SVG))
    charts.show(chart, table, "contamination", "cont_summary",
                title="Contaminated share of each benchmark (newest run)")
    bench = st.selectbox("benchmark", table["benchmark"].to_list(), key="bench")
    run_id = int(table.filter(pl.col("benchmark") == bench)["run_id"][0])
    everything = st.checkbox("show clean items too", value=False)
    rows = items(ctx.db, ctx.stamp, run_id, bench, not everything)
    st.caption(f"{rows.height} items")
    widgets.paged(rows, f"cont_items_{bench}_{everything}")
    sources, mentions = run_details(ctx.db, ctx.stamp, run_id)
    contaminated = rows.filter(pl.col("n_docs") > 0)["item_id"].to_list()
    if contaminated:
        st.subheader("In context")
        item_id = st.selectbox("contaminated item", contaminated, key="cont_item")
        _context(ctx, run_id, bench, str(item_id), sources)
    if mentions.height:
        st.subheader("Hub datasets naming the benchmark")
        shown = widgets.paged(mentions, f"cont_mentions_{run_id}")
        snap_rows = ctx.snapshot_id or 0
        widgets.card_opener(shown["repo_id"].to_list(), int(snap_rows), "cont_mentions")


def _context(ctx: Context, run_id: int, bench: str, item_id: str, sources: list[dict[str, Any]]) -> None:
    found = item(ctx.db, ctx.stamp, run_id, bench, item_id)
    if not found:
        return
    benches = tuple(_spec(s) for s in sources if s.get("role") == "benchmark" and s.get("name") == bench)
    corpora = tuple(_spec(s) for s in sources if s.get("role") == "corpus")
    if not benches:
        st.info("This run did not record where its benchmark and corpus are (runs from before curate recorded "
                "them): only ids are shown.")
        return
    doc_id = st.selectbox(f"document ({found['n_docs']:,} hold it; the first {len(found['doc_ids'])} are listed)",
                          found["doc_ids"], key="cont_doc")
    item_text = read_texts(benches, (item_id,)).get(item_id)
    doc_text = read_texts(corpora, (str(doc_id),)).get(str(doc_id)) if doc_id else None
    if item_text is None:
        st.warning(f"item {item_id} was not found in the recorded benchmark file (moved or changed?)")
        return
    if doc_text is None:
        st.info(f"document {doc_id} is not readable here (the corpus is not a local file any more, or it changed); "
                "the item alone:")
        widgets.text_block(item_text[0])
        return
    i, j, n = longest_match(item_text[0], doc_text[0])
    st.caption(f"longest common stretch: {n:,} characters (the run measured {found['longest_match_chars']:,} on "
               f"normalized text); match: {found['match']}, overlap {found['overlap']:.0%}")
    left, right = st.columns(2)
    with left:
        st.markdown(f"**Item** `{item_id}`")
        widgets.text_block(item_text[0], mark=(i, i + n), max_chars=4000)
    with right:
        start, end = max(0, j - CONTEXT_CHARS), min(len(doc_text[0]), j + n + CONTEXT_CHARS)
        st.markdown(f"**Document** `{doc_id}` (characters {start:,} to {end:,} of {len(doc_text[0]):,})")
        widgets.text_block(doc_text[0][start:j + n + CONTEXT_CHARS], mark=(j - start, j - start + n),
                           max_chars=n + 2 * CONTEXT_CHARS)
