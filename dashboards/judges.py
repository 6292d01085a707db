"""Judges: how far the LLM judges agree (`curate judges agree`), per language, and the documents they disagree
on most, to read.

Labels files are the outputs of `curate judge` runs the store records (or files under ``--scores-root``).
"""

from __future__ import annotations

import math
from typing import Any

import altair as alt
import polars as pl
import streamlit as st

from curate.judges.agree import OVERALL, agreement_report, heatmap_values, load_ratings
from curate.labels import read_labels_frame
from dashboards import charts, widgets
from dashboards.context import Context, stamp

LABEL_SUFFIXES = (".parquet", ".jsonl", ".csv")


@st.cache_data(max_entries=8, show_spinner="bootstrapping the agreement statistics")
def report(path: str, file_stamp: tuple[int, int]) -> dict[str, Any]:
    """The `curate judges agree` report of one labels file (default bootstrap: 1,000 resamples)."""
    return agreement_report(load_ratings([path]))


@st.cache_data(max_entries=8, show_spinner=False)
def disagreements(path: str, file_stamp: tuple[int, int]) -> pl.DataFrame:
    """Documents scored by two judges or more, the widest spread of scores first: doc_id, lang, spread, one
    column per judge, and the text."""
    labels = read_labels_frame(path, required=("doc_id", "judge", "score"))
    scored = labels.filter(pl.col("score").is_not_null() & pl.col("score").is_not_nan())
    wide = (scored.group_by("doc_id", "judge").agg(pl.col("score").mean())
            .pivot(on="judge", index="doc_id", values="score"))
    judges = sorted(c for c in wide.columns if c != "doc_id")
    spread = (pl.max_horizontal(judges) - pl.min_horizontal(judges)).alias("spread")
    info = labels.group_by("doc_id", maintain_order=True).agg(pl.col("lang").drop_nulls().first(),
                                                             pl.col("text").drop_nulls().first())
    return (wide.with_columns(spread, pl.sum_horizontal([pl.col(j).is_not_null() for j in judges]).alias("n_judges"))
            .filter(pl.col("n_judges") >= 2).join(info, on="doc_id", how="left")
            .select("doc_id", "lang", "spread", *judges, "text").sort(["spread", "doc_id"], descending=[True, False]))


@st.cache_data(max_entries=32, show_spinner=False)
def answers(path: str, file_stamp: tuple[int, int], doc_id: str) -> pl.DataFrame:
    """Each judge's score and answer for one document (the ``raw`` answer holds its reason)."""
    labels = read_labels_frame(path, required=("doc_id", "judge", "score"))
    cols = [c for c in ("judge", "score", "raw", "error") if c in labels.columns]
    return labels.filter(pl.col("doc_id") == doc_id).select(cols).sort("judge")


def _ci(est: dict[str, Any] | None) -> str:
    if not est or est.get("value") is None:
        return "n/a"
    lo, hi = est.get("ci") or [None, None]
    ci = f" [{lo:.2f}, {hi:.2f}]" if lo is not None and hi is not None else ""
    return f"{est['value']:.2f}{ci}"


def cells(rep: dict[str, Any]) -> tuple[str, pl.DataFrame]:
    """The heatmap's metric and its cells: judge, lang, value, detail (the statistics behind it, with CIs)."""
    title, judges, langs, values = heatmap_values(rep)
    rows = []
    for r, judge in enumerate(judges):
        for c, lang in enumerate(langs):
            scope = rep["scopes"][lang]
            if rep["gold"]:
                detail = f"Spearman with gold {_ci(scope['gold'][judge]['spearman'])}"
            elif len(judges) >= 2:
                detail = "; ".join(f"κ with {next(j for j in p['judges'] if j != judge)} {_ci(p['weighted_kappa'])}"
                                   for p in scope["pairs"] if judge in p["judges"])
            else:
                detail = f"mean score {scope['mean_score'][judge]}"
            v = float(values[r, c])
            rows.append({"judge": judge, "lang": lang, "value": None if math.isnan(v) else round(v, 3),
                         "detail": detail, "n_docs": scope["n_docs"]})
    return title, pl.DataFrame(rows, schema={"judge": pl.String, "lang": pl.String, "value": pl.Float64,
                                             "detail": pl.String, "n_docs": pl.Int64})


def pairs_table(rep: dict[str, Any]) -> pl.DataFrame:
    """scope, judges, n, weighted kappa and Spearman with their CIs, exact agreement."""
    rows = []
    for scope, body in rep["scopes"].items():
        for p in body.get("pairs", []):
            k, s = p["weighted_kappa"], p["spearman"]
            rows.append({"scope": scope, "judges": " vs ".join(p["judges"]), "n": p["n"],
                         "kappa": k["value"], "kappa_low": k["ci"][0], "kappa_high": k["ci"][1],
                         "spearman": s["value"], "spearman_low": s["ci"][0], "spearman_high": s["ci"][1],
                         "exact_agreement": p["exact_agreement"]})
    return pl.DataFrame(rows, schema={"scope": pl.String, "judges": pl.String, "n": pl.Int64,
                                      **{k: pl.Float64 for k in ("kappa", "kappa_low", "kappa_high", "spearman",
                                                                 "spearman_low", "spearman_high", "exact_agreement")}})


def render(ctx: Context, recorded: list[str]) -> None:
    st.header("Judges")
    path = widgets.recorded_file(ctx, "labels file (from `curate judge`)", "judge_labels", recorded,
                                 st.query_params.get("labels") or "", "labels file", LABEL_SUFFIXES)
    if path is None:
        return
    key = stamp(path)
    try:
        rep = report(str(path), key)
    except Exception as exc:  # a foreign or damaged labels file: say so on the page
        st.error(f"{path}: {exc}")
        return
    st.caption(f"{rep['n_docs']:,} documents, judges: {', '.join(rep['judges'])}; bootstrap "
               f"{rep['bootstrap']['resamples']} resamples, {rep['bootstrap']['level']:.0%} intervals")
    title, table = cells(rep)
    vmin, vmax = (0.0, 5.0) if title == "mean score" else (-1.0, 1.0)
    base = alt.Chart(table.to_pandas()).encode(
        x=alt.X("lang:N", title=None, axis=alt.Axis(labelAngle=0), sort=[*[x for x in rep["scopes"] if x != OVERALL], OVERALL]),
        y=alt.Y("judge:N", title=None))
    tips = ["judge", "lang", alt.Tooltip("value:Q", format=".2f"), alt.Tooltip("detail:N", title="with CIs"),
            alt.Tooltip("n_docs:Q", title="documents")]
    heat = alt.layer(
        base.mark_rect().encode(color=alt.Color("value:Q", scale=alt.Scale(scheme="redyellowgreen", domain=[vmin, vmax]),
                                                title=None), tooltip=tips),
        base.mark_text(fontSize=11).encode(text=alt.Text("value:Q", format=".2f"), tooltip=tips),
    ).properties(height=alt.Step(40), usermeta=charts.SVG)
    charts.show(heat, table, "judge agreement", "judge_heat", title=f"Judge × language: {title}")
    pairs = pairs_table(rep)
    if pairs.height:
        st.markdown("**Pairs of judges** (weighted kappa and Spearman with their bootstrap intervals)")
        st.dataframe(pairs, hide_index=True, width="stretch")
    notes = [f"{scope}: {n}" for scope, body in rep["scopes"].items() for n in body.get("notes", [])]
    if notes:
        with st.expander(f"notes ({len(notes)})"):
            st.markdown("\n".join(f"- {n}" for n in notes))
    st.subheader("Where the judges disagree most")
    wide = disagreements(str(path), key)
    if wide.is_empty():
        st.info("No document was scored by two judges.")
        return
    shown = widgets.paged(wide.drop("text"), f"judge_dis_{path}")
    doc = st.selectbox("read a document", shown["doc_id"].to_list(), key="judge_doc")
    row = wide.filter(pl.col("doc_id") == doc).row(0, named=True)
    st.dataframe(answers(str(path), key, str(doc)), hide_index=True, width="stretch")
    widgets.text_block(row.get("text") or "(the labels file holds no text for this document)", row.get("lang"),
                       max_chars=3000)
