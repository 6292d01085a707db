"""The dashboard's data: store queries and the study's per-dataset features, computed once and cached.

Large results are cached with ``st.cache_resource`` (the same frame object for every session: a 400,000-dataset
snapshot's feature frame is a few hundred MB, and ``st.cache_data`` would copy it on every rerun); small ones
(aggregates, pages, reports) with ``st.cache_data``. Every key holds the store's stamp (modification time and
size), so a store that gained a snapshot is read again.

A snapshot's features come in two stages. The metadata features (size, make-up, licenses, tasks, ownership,
downloads) are computed without reading the cards, in a few seconds even for 400,000 datasets; the card
features (documentation, instruction datasets, domains, license text) read every card, which takes a while on
a large snapshot. For a large snapshot that second stage runs in a background thread (`Jobs`), so the page
paints at once and every interaction stays quick; the views that need it say so and fill in when it is done.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import polars as pl
import streamlit as st

from analyses import study
from dashboards.context import open_store

BACKGROUND_ABOVE = 50_000  # datasets: a snapshot this large reads its cards in the background
CURVE_POINTS = 300  # points per language on the downloads curve (log-spaced ranks)


class Jobs:
    """One background worker and the results it computed, newest kept (a few snapshots' feature frames)."""

    def __init__(self, keep: int = 2) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="curate-dashboard")
        self.futures: OrderedDict[tuple[Any, ...], Future[Any]] = OrderedDict()
        self.keep = keep
        self.lock = threading.Lock()

    def submit(self, key: tuple[Any, ...], fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """The job for ``key``: the one already submitted (unless it failed), or a new one."""
        with self.lock:
            future = self.futures.get(key)
            if future is None or (future.done() and future.exception() is not None):
                future = self.executor.submit(fn, *args)
                self.futures[key] = future
            self.futures.move_to_end(key)
            while len(self.futures) > self.keep:
                self.futures.popitem(last=False)
            return future


@st.cache_resource
def jobs(kind: str) -> Jobs:
    """One worker per kind of job (``metadata``, ``cards``), so a snapshot's quick metadata features never
    wait behind another snapshot's long card read."""
    return Jobs()


# ---- the store --------------------------------------------------------------------------------------------


@st.cache_data(max_entries=16, show_spinner=False)
def snapshots(db: str, stamp: tuple[int, int]) -> pl.DataFrame:
    with open_store(db) as store:
        return store.snapshots()


@st.cache_data(max_entries=64, show_spinner=False)
def languages(db: str, stamp: tuple[int, int], snapshot_id: int) -> list[str]:
    with open_store(db) as store:
        return store.languages(snapshot_id)


@st.cache_data(max_entries=64, show_spinner=False)
def language_counts(db: str, stamp: tuple[int, int], snapshot_id: int) -> dict[str, int]:
    """{language: datasets listed}, most datasets first."""
    with open_store(db) as store:
        return store.language_counts(snapshot_id)


@st.cache_data(max_entries=16, show_spinner=False)
def runs(db: str, stamp: tuple[int, int]) -> pl.DataFrame:
    with open_store(db) as store:
        return store.runs()


@st.cache_data(max_entries=256, show_spinner=False)
def listed_page(db: str, stamp: tuple[int, int], snapshot_id: int, lang: str | None, search: str, limit: int,
                offset: int) -> tuple[int, pl.DataFrame]:
    """One page of a snapshot's listed datasets (queried in DuckDB) and how many there are in all."""
    with open_store(db) as store:
        return (store.count_listed(snapshot_id, lang, search),
                store.listed_datasets(snapshot_id, lang, search, limit=limit, offset=offset))


@st.cache_data(max_entries=16, show_spinner=False)
def downloads(db: str, stamp: tuple[int, int], snapshot_id: int, langs: tuple[str, ...]
              ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(datasets per language, the downloads curve, the suggested cutoffs), straight from DuckDB: what the
    compare view draws first, before any feature is computed."""
    with open_store(db) as store:
        ranks = store.download_ranks(snapshot_id).filter(pl.col("lang").is_in(list(langs)))
    points, cutoffs = downloads_curve(ranks)
    return ranks.group_by("lang").len("datasets").sort("lang"), points, cutoffs


# ---- the study's features ---------------------------------------------------------------------------------


def _frame(db: str, snapshot_id: int, cards: bool) -> pl.DataFrame:
    with open_store(db) as store:
        langs = store.languages(snapshot_id)
        return study.dataset_frame(store, snapshot_id, langs, cards=cards)


def start_quick_frame(db: str, stamp: tuple[int, int], snapshot_id: int) -> Future[pl.DataFrame]:
    """Start measuring the metadata features in the background (or find the job already started), so they
    are computed while the page draws what DuckDB answers at once (`quick_frame` then waits only for what is
    left)."""
    return jobs("metadata").submit(("quick", db, stamp, snapshot_id), _frame, db, snapshot_id, False)


@st.cache_resource(max_entries=4, show_spinner="reading the snapshot's metadata")
def quick_frame(db: str, stamp: tuple[int, int], snapshot_id: int) -> pl.DataFrame:
    """Per (language, dataset): every metadata feature; the card features are not measured (False, 0)."""
    return start_quick_frame(db, stamp, snapshot_id).result()


def full_frame(db: str, stamp: tuple[int, int], snapshot_id: int, n_datasets: int) -> pl.DataFrame | None:
    """Per (language, dataset): every feature, card ones included. None while a large snapshot's cards are still
    being read in the background (see the module); a small snapshot is read at once."""
    future = jobs("cards").submit(("full", db, stamp, snapshot_id), _frame, db, snapshot_id, True)
    if n_datasets < BACKGROUND_ABOVE or future.done():
        return future.result()
    return None


@st.cache_data(max_entries=32, show_spinner=False)
def aggregates(db: str, stamp: tuple[int, int], snapshot_id: int, langs: tuple[str, ...], n_datasets: int,
               cards: bool) -> dict[str, pl.DataFrame] | None:
    """Every table the compare view charts, for ``langs``: the metadata ones, or (``cards``) the card-based ones
    (None while those are still being computed: ask `full_frame` first). Cached, so a click redraws without
    counting again."""
    from analyses.reference import FAMILIES, MAKEUP, OWNERSHIP, PROVENANCE, SIZES

    if not cards:
        frame = quick_frame(db, stamp, snapshot_id).filter(pl.col("lang").is_in(list(langs)))
        return {"size": shares(frame, "size", SIZES), "makeup": shares(frame, "makeup", MAKEUP),
                "license_family": shares(frame, "license_family", FAMILIES),
                "provenance": shares(frame, "provenance", PROVENANCE),
                "ownership": shares(frame, "ownership", OWNERSHIP), "tasks": list_shares(frame, "tasks"),
                "overlap": overlap(frame)}
    full = full_frame(db, stamp, snapshot_id, n_datasets)
    if full is None:
        return None
    frame = full.filter(pl.col("lang").is_in(list(langs)))
    return {"docs": flag_shares(frame, DOC_FLAGS), "instruction": instruction_over_time(frame),
            "domains": domain_shares(frame),
            "license_mismatch": flag_shares(frame, {"license_mismatch": "license text disagrees"})}


def _n(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.group_by("lang").len("n_datasets")


def shares(frame: pl.DataFrame, column: str, keys: tuple[str, ...] | list[str]) -> pl.DataFrame:
    """lang, value, n, share: how the datasets of each language split over ``column``'s values, every key
    present (0 where none)."""
    counts = frame.group_by("lang", pl.col(column).alias("value")).len("n")
    grid = _n(frame).join(pl.DataFrame({"value": list(keys)}, schema={"value": pl.String}), how="cross")
    return (grid.join(counts, on=["lang", "value"], how="left").with_columns(pl.col("n").fill_null(0))
            .with_columns((pl.col("n") / pl.col("n_datasets")).alias("share"))
            .select("lang", "value", "n", "share").sort("lang"))


def list_shares(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """lang, value, n, share for a list column (tasks): a dataset counts once in each of its values."""
    counts = (frame.select("lang", pl.col(column).alias("value")).explode("value").drop_nulls()
              .group_by("lang", "value").len("n"))
    return (counts.join(_n(frame), on="lang").with_columns((pl.col("n") / pl.col("n_datasets")).alias("share"))
            .select("lang", "value", "n", "share").sort("lang", "value"))


def flag_shares(frame: pl.DataFrame, flags: dict[str, str]) -> pl.DataFrame:
    """lang, value, n, share for boolean columns (``flags``: column -> label)."""
    agg = frame.group_by("lang").agg(pl.len().alias("n_datasets"),
                                     *(pl.col(c).cast(pl.Int64).sum().alias(c) for c in flags))
    long = agg.unpivot(index=["lang", "n_datasets"], on=list(flags), variable_name="value", value_name="n")
    return (long.with_columns(pl.col("value").replace_strict(flags), (pl.col("n") / pl.col("n_datasets")).alias("share"))
            .select("lang", "value", "n", "share").sort("lang"))


def downloads_curve(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(lang, rank, downloads) at log-spaced ranks, and (lang, rank, downloads) of each language's suggested
    cutoff (`analyses.study.knee`, the rank where the log curve flattens)."""
    points, cutoffs = [], []
    for (lang,), g in frame.sort("rank").group_by("lang", maintain_order=True):
        dl = g["downloads"].fill_null(0).to_list()
        if not dl:
            continue
        ordered = sorted(dl, reverse=True)
        ranks = np.unique(np.round(np.geomspace(1, len(ordered), min(CURVE_POINTS, len(ordered)))).astype(int))
        points += [{"lang": lang, "rank": int(r), "downloads": int(ordered[r - 1])} for r in ranks]
        k = study.knee(dl)
        if k:
            cutoffs.append({"lang": lang, "rank": k, "downloads": int(ordered[k - 1])})
    schema = {"lang": pl.String, "rank": pl.Int64, "downloads": pl.Int64}
    return pl.DataFrame(points, schema=schema), pl.DataFrame(cutoffs, schema=schema)


def instruction_over_time(frame: pl.DataFrame) -> pl.DataFrame:
    """lang, month (a date), n (created that month), cumulative: instruction datasets by creation month.
    Datasets created before the Hub recorded creation dates (`analyses.features.LEGACY_CREATED_AT`) are left out."""
    month = pl.col("created").dt.truncate("1mo").dt.date().alias("month")
    return (frame.filter(pl.col("instruction") & pl.col("created").is_not_null())
            .group_by("lang", month).len("n").sort("lang", "month")
            .with_columns(pl.col("n").cum_sum().over("lang").alias("cumulative")))


def overlap(frame: pl.DataFrame) -> pl.DataFrame:
    """lang, other, n: datasets listed for both languages (the diagonal: each language's own count)."""
    pairs = frame.select("lang", "repo_id")
    return (pairs.join(pairs, on="repo_id", suffix="_other").group_by("lang", "lang_other").len("n")
            .rename({"lang_other": "other"}).sort("lang", "other"))


def domain_shares(frame: pl.DataFrame) -> pl.DataFrame:
    """lang, value (domain), n, share: datasets whose id or card speaks of each domain."""
    dtype = frame.schema["domains"]
    assert isinstance(dtype, pl.Struct)
    names = [f.name for f in dtype.fields]
    flat = frame.select("lang", *(pl.col("domains").struct.field(d).alias(d) for d in names))
    return flag_shares(flat, {d: d for d in names})


def drill(frame: pl.DataFrame, facet: str, lang: str, value: str) -> pl.DataFrame:
    """The datasets of ``lang`` behind one bar or cell of a chart (``facet``: the column it counts)."""
    rows = frame.filter(pl.col("lang") == lang)
    if facet == "tasks":
        rows = rows.filter(pl.col("tasks").list.contains(value))
    elif facet == "docs":
        rows = rows.filter(pl.col({v: k for k, v in DOC_FLAGS.items()}.get(value, value)))
    elif facet == "domains":
        rows = rows.filter(pl.col("domains").struct.field(value))
    elif facet == "instruction":
        rows = rows.filter(pl.col("instruction") & (pl.col("created").dt.strftime("%Y-%m") == value[:7]))
    elif facet == "overlap":
        other = set(frame.filter(pl.col("lang") == value)["repo_id"].to_list())
        rows = rows.filter(pl.col("repo_id").is_in(list(other)))
    elif facet == "license_mismatch":
        rows = rows.filter(pl.col("license_mismatch"))
    else:
        rows = rows.filter(pl.col(facet) == value)
    return rows.sort("rank")


DOC_FLAGS = {"has_arxiv": "arXiv reference", "all_sections": "all 5 sections", "filled_sections": "all 5 filled"}
LIST_COLUMNS = ["lang", "rank", "repo_id", "author", "downloads", "likes", "size", "license_family", "license_ids",
                "provenance", "ownership", "makeup", "created"]
