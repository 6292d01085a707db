"""Tune a filter by eye (the JQL step): per-language score distributions, a keep-top slider that shows at once
how many documents each language keeps, the documents just above and just below the cut, and the exact
`curate filter` command for the chosen settings.

The counts come from the filter's own decision (`curate.filtering.preview`), not a copy of it. Scores files are
outputs of recorded `curate annotate` runs, the ``--scores`` file, or files under ``--scores-root``; sample
texts are read from the corpus the recorded annotate run read, when it is a local file.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import altair as alt
import polars as pl
import streamlit as st

from curate.corpus import ReadSpec, find_documents
from curate.filtering.preview import filter_command, preview
from curate.filtering.rules import Rule
from curate.filtering.scores import Scores, read_scores
from dashboards import charts, widgets
from dashboards.context import Context, stamp
from dashboards.scores import summary as scores_summary

BINS = 40
SAMPLES = 3
CHART_LANGUAGES = 12  # charts drawn per language without a choice; a scores file may hold hundreds


@st.cache_resource(max_entries=4, show_spinner="reading the scores")
def load(path: str, file_stamp: tuple[int, int]) -> Scores:
    """The scores as `curate filter` reads them (same reader, same checks)."""
    problems: list[str] = []
    scores = read_scores([Path(path)], problems.append)
    scores.metadata["dashboard_problems"] = problems
    return scores


@st.cache_data(max_entries=64, show_spinner=False)
def decide(path: str, file_stamp: tuple[int, int], keep_top: float, per_language: bool, all_heads: bool,
           langs: tuple[str, ...]) -> dict[str, Any]:
    """Counts per language, cuts, and the documents nearest the cut, for one setting of the controls."""
    scores = load(path, file_stamp)
    rule = Rule(keep_top=keep_top, per_language=per_language, all_heads=all_heads)
    result = preview(scores, rule, list(langs) or None)
    near = {}
    for lang in result.languages:
        above, below = result.near_cut(lang, SAMPLES)
        near[lang] = (above, below)
    return {"counts": result.counts(), "thresholds": result.thresholds, "columns": result.columns,
            "near": near, "kept": result.kept}


@st.cache_data(max_entries=32, show_spinner=False)
def histogram(path: str, file_stamp: tuple[int, int], column: str) -> pl.DataFrame:
    """lang, bin_start, bin_end, n: the score column's distribution in each language, on shared bins."""
    frame = load(path, file_stamp).frame.select(pl.col("lang").fill_null("und"), pl.col(column).cast(pl.Float64))
    frame = frame.filter(pl.col(column).is_not_null() & pl.col(column).is_not_nan())
    if frame.is_empty():
        return pl.DataFrame(schema={"lang": pl.String, "bin_start": pl.Float64, "bin_end": pl.Float64, "n": pl.Int64})
    lo, hi = float(frame[column].min()), float(frame[column].max())  # type: ignore[arg-type]
    width = (hi - lo) / BINS or 1.0
    binned = frame.with_columns(((pl.col(column) - lo) / width).floor().clip(0, BINS - 1).cast(pl.Int64).alias("b"))
    return (binned.group_by("lang", "b").len("n").sort("lang", "b")
            .select("lang", (lo + pl.col("b") * width).alias("bin_start"), (lo + (pl.col("b") + 1) * width).alias("bin_end"),
                    "n"))


@st.cache_data(max_entries=8, show_spinner=False)
def summary(path: str, file_stamp: tuple[int, int]) -> pl.DataFrame:
    return scores_summary(path)


@st.cache_data(max_entries=64, show_spinner="reading sample documents from the corpus")
def texts(inputs: tuple[str, ...], ids: tuple[str, ...], text_field: str, id_field: str) -> dict[str, str]:
    found = find_documents(list(inputs), ids, ReadSpec(text_field=text_field, id_field=id_field))
    return {k: d.text for k, d in found.items()}


def distributions(hist: pl.DataFrame, column: str) -> alt.FacetChart:
    """One histogram per language (rows: lang, bin_start, bin_end, n, cut) with its cut as a red line."""
    base = alt.Chart()
    bars = base.mark_bar(opacity=0.8).encode(
        x=alt.X("bin_start:Q", bin="binned", title=column), x2="bin_end:Q", y=alt.Y("n:Q", title="documents"),
        tooltip=["lang", alt.Tooltip("bin_start:Q", title="from", format=".2f"),
                 alt.Tooltip("bin_end:Q", title="to", format=".2f"), alt.Tooltip("n:Q", format=",")])
    rule = base.transform_aggregate(cut="max(cut)", groupby=["lang"]).mark_rule(color="#d1495b", strokeWidth=2).encode(
        x="cut:Q", tooltip=["lang", alt.Tooltip("cut:Q", format=".3f")])
    return (alt.layer(bars, rule, data=hist.to_pandas()).properties(width=520, height=90)
            .facet(row=alt.Row("lang:N", title=None))
            .resolve_scale(y="independent").properties(usermeta=charts.SVG))


def render(ctx: Context, recorded: list[str], corpora: dict[str, tuple[list[str], dict[str, Any]]]) -> None:
    """``recorded``: scores outputs of recorded runs; ``corpora``: scores output -> (inputs, settings) of the
    annotate run that wrote it."""
    st.header("Tune a filter")
    default = st.query_params.get("scores") or ctx.scores or (recorded[0] if recorded else "")
    path = widgets.recorded_file(ctx, "scores parquet (from `curate annotate --out`)", "scores_path", recorded,
                                 default, "scores parquet", (".parquet",))
    if path is None:
        return
    key = stamp(path)
    try:
        scores = load(str(path), key)
    except Exception as exc:  # a foreign or corrupted file: say so on the page
        st.error(f"{path}: {exc}")
        return
    cols = st.columns([3, 1, 1])
    keep_pct = cols[0].slider("keep the top (%)", min_value=1, max_value=100, value=30, step=1, key="keep_top")
    per_language = cols[1].toggle("per language", value=True, key="per_language",
                                  help="compute the cut in each language separately (--per-language)")
    all_heads = cols[2].toggle("all heads", value=False, key="all_heads", disabled=not scores.heads,
                               help="keep a document only if every head passes its own cut (--all-heads, the JQL rule)")
    present = sorted(scores.frame["lang"].drop_nulls().unique().to_list())
    langs = st.multiselect("only these languages (--lang; none: all)", present, key="tune_langs")
    result = decide(str(path), key, keep_pct / 100, per_language, all_heads, tuple(langs))
    counts: pl.DataFrame = result["counts"]
    st.metric("documents kept", f"{result['kept']:,} of {int(counts['docs'].sum()):,}")

    column = st.selectbox("distribution of", result["columns"] if all_heads else ["score", *scores.head_columns],
                          key="scores_column")
    hist = histogram(str(path), key, column)
    cuts = pl.DataFrame([{"lang": g, "cut": c.get(column)} for g, c in result["thresholds"].items()
                         if c.get(column) is not None], schema={"lang": pl.String, "cut": pl.Float64})
    if not per_language and not cuts.is_empty():  # one global cut: the same line in every language
        cuts = hist.select(pl.col("lang").unique().sort()).with_columns(pl.lit(cuts["cut"][0]).alias("cut"))
    shown = _chart_languages(counts, langs)
    if shown is not None:
        st.caption(f"The charts show the {len(shown)} languages with the most documents of the {counts.height:,} "
                   "scored; pick languages above to see others. The table lists them all.")
        hist = hist.filter(pl.col("lang").is_in(shown))
    chart = distributions(hist.join(cuts, on="lang", how="left"), column)
    charts.show(chart, hist, f"distribution {column}", "tune_hist", title=f"Distribution of {column} per language (red: the cut)")

    table = counts.join(cuts.rename({"cut": f"cut ({column})"}), on="lang", how="left") if per_language else counts
    kept = (alt.Chart(counts.filter(pl.col("lang").is_in(shown) if shown is not None else pl.lit(True)).with_columns((pl.col("docs") - pl.col("kept")).alias("dropped"))
                      .unpivot(index="lang", on=["kept", "dropped"], variable_name="decision", value_name="n")
                      .to_pandas()).mark_bar()
            .encode(x=alt.X("n:Q", stack="zero", title="documents"), y=alt.Y("lang:N", title=None),
                    color=alt.Color("decision:N", scale=alt.Scale(domain=["kept", "dropped"],
                                                                  range=["#4c9f70", "#bbbbbb"]), title=None),
                    tooltip=["lang", "decision", alt.Tooltip("n:Q", format=",")])
            .properties(height=alt.Step(30), usermeta=charts.SVG))
    charts.show(kept, table, "kept per language", "tune_kept", title="Kept and dropped per language")
    st.table(table.with_columns(pl.col("retention").round(4)))

    inputs, settings = corpora.get(str(path), ([], {}))
    _samples(result, inputs, settings)

    rule = Rule(keep_top=keep_pct / 100, per_language=per_language, all_heads=all_heads)
    if st.button("show the curate filter command", key="show_command"):
        st.session_state["tune_command"] = True
    if st.session_state.get("tune_command"):
        args = filter_command(inputs or ["CORPUS"], [str(path)], rule, langs or None, reading=settings)
        st.code(shlex.join(args), language="bash")
        if not inputs:
            st.caption("CORPUS: the corpus these scores are for (no recorded `curate annotate` run wrote this file).")
    with st.expander("count, mean and quantiles per language and score column"):
        st.dataframe(summary(str(path), key), hide_index=True, width="stretch")
    for problem in scores.metadata.get("dashboard_problems") or []:
        st.caption(f"note: {problem}")


def _chart_languages(counts: pl.DataFrame, chosen: list[str]) -> list[str] | None:
    """The languages the charts draw when the scores hold more than `CHART_LANGUAGES` and none were chosen:
    the ones with the most documents (None: draw them all)."""
    if chosen or counts.height <= CHART_LANGUAGES:
        return None
    return counts.sort(["docs", "lang"], descending=[True, False]).head(CHART_LANGUAGES)["lang"].to_list()


def _samples(result: dict[str, Any], inputs: list[str], settings: dict[str, Any]) -> None:
    st.subheader("Just above and just below the cut")
    near: dict[str, tuple[pl.DataFrame, pl.DataFrame]] = result["near"]
    if not near:
        return
    lang = st.selectbox("language", list(near), key="tune_sample_lang")
    above, below = near[lang]
    ids = tuple([*above["id"].to_list(), *below["id"].to_list()])
    found = texts(tuple(inputs), ids, str(settings.get("text_field") or "text"),
                  str(settings.get("id_field") or "id")) if inputs else {}
    if not found:
        st.caption("The texts are shown when a recorded `curate annotate` run wrote these scores from a local corpus.")
    left, right = st.columns(2)
    for col, rows, title in ((left, above, "kept, just above the cut"), (right, below, "dropped, just below the cut")):
        with col:
            st.markdown(f"**{title}**")
            for row in rows.iter_rows(named=True):
                st.caption(f"`{row['id']}` · score {row['score']:.3f} · margin {row['margin']:+.3f}")
                if row["id"] in found:
                    widgets.text_block(found[row["id"]], lang, max_chars=600)
