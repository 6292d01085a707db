"""The study's measurements for each language of a snapshot: the report object (docs/report.md) plus details.

``compute()`` returns the exact docs/report.md JSON (``report``) and a ``details`` object with what the figures need
beyond it (download curves and a cutoff, cross-language overlap, the provenance view, license mismatches,
creation over time).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from analyses import features, reference
from analyses.reference import FAMILIES, MAKEUP, OWNERSHIP, PROVENANCE, SIZES
from curate.errors import CurateError
from curate.store import SnapshotInfo, StoreSource, queries


@dataclass
class Study:
    report: dict[str, Any]
    details: dict[str, Any]
    frame: pl.DataFrame  # one row per (lang, dataset) with every feature


def _counts(frame: pl.DataFrame, col: str, keys: tuple[str, ...]) -> dict[str, int]:
    return _keyed(dict(frame.group_by(col).len().iter_rows()), keys)


def knee(downloads: list[int]) -> int | None:
    """Rank (1-based) where the log-scale download curve flattens: farthest point below the chord."""
    if len(downloads) < 3:
        return None
    y = np.log10(np.sort(np.asarray(downloads, dtype=float))[::-1] + 1.0)
    x = np.linspace(0.0, 1.0, len(y))
    span = y[0] - y[-1]
    if span <= 0:
        return None
    chord = y[0] - span * x
    return int(np.argmax(chord - y)) + 1


def _by_lang(frame: pl.DataFrame, col: str) -> dict[str, dict[str, int]]:
    """{lang: {value of ``col``: datasets}} in one group-by over every language."""
    out: dict[str, dict[str, int]] = {}
    for lang, key, n in frame.group_by("lang", col).len().iter_rows():
        out.setdefault(lang, {})[key] = int(n)
    return out


def _keyed(got: dict[str, int], keys: Any) -> dict[str, int]:
    return {k: int(got.get(k, 0)) for k in keys}


def measure(frame: pl.DataFrame, langs: list[str], ref: reference.Reference) -> dict[str, dict[str, Any]]:
    """The report's measurements (docs/report.md) of each of ``langs``, from ``frame`` (one row per listed
    (lang, dataset) with the features of `features.build`).

    Every language is measured in the same few group-bys, so the per-language report and the league of every
    language (analyses.league) share this one definition and cost about the same per dataset.
    """
    categories = sorted(set(ref.tasks["category"].to_list()) | {"Other"})
    n = dict(frame.group_by("lang").len().iter_rows())
    counts = {col: _by_lang(frame, col) for col in ("makeup", "size", "license_family", "ownership")}
    tasks = _by_lang(frame.select("lang", pl.col("tasks").alias("t")).explode("t").drop_nulls("t"), "t")
    docs = {row["lang"]: row for row in frame.group_by("lang").agg(
        pl.col("has_arxiv").mean().alias("arxiv_share"), pl.col("all_sections").mean().alias("all_sections_share"),
        pl.col("filled_sections").mean().alias("filled_sections_share"),
        pl.col("words").filter(pl.col("has_card")).mean().alias("mean_words"),
        pl.col("words").filter(pl.col("has_card")).median().alias("median_words"),
        pl.col("instruction").sum().alias("instruction"),
        *(pl.col("domains").struct.field(d).sum().alias(f"domain:{d}") for d in ref.domains)).iter_rows(named=True)}
    months: dict[str, dict[str, int]] = {}
    for lang, m, c in (frame.filter(pl.col("instruction") & pl.col("created").is_not_null())
                       .group_by("lang", pl.col("created").dt.strftime("%Y-%m").alias("m")).len()
                       .sort("lang", "m").iter_rows()):
        months.setdefault(lang, {})[m] = int(c)
    out: dict[str, dict[str, Any]] = {}
    for lang in langs:
        d = docs.get(lang, {})
        out[lang] = {
            "n_datasets": int(n.get(lang, 0)),
            "makeup": _keyed(counts["makeup"].get(lang, {}), MAKEUP),
            "size": _keyed(counts["size"].get(lang, {}), SIZES),
            "license_family": _keyed(counts["license_family"].get(lang, {}), FAMILIES),
            "ownership": _keyed(counts["ownership"].get(lang, {}), OWNERSHIP),
            "tasks": _keyed(tasks.get(lang, {}), categories),
            "docs": {k: float(d.get(k) or 0.0) for k in ("arxiv_share", "all_sections_share",
                                                          "filled_sections_share", "mean_words", "median_words")},
            "instruction": {"n": int(d.get("instruction") or 0), "by_month": months.get(lang, {})},
            "domains": {k: int(d.get(f"domain:{k}") or 0) for k in ref.domains},
        }
    return out


def _details(f: pl.DataFrame, langs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"languages": {}, "overlap": {}}
    members = {lang: set(f.filter(pl.col("lang") == lang)["repo_id"].to_list()) for lang in langs}
    for a in langs:
        out["overlap"][a] = {b: len(members[a] & members[b]) for b in langs}
    for lang in langs:
        g = f.filter(pl.col("lang") == lang).sort("rank")
        dl = g["downloads"].fill_null(0).to_list()
        k = knee(dl)
        years = (g.filter(pl.col("created").is_not_null()).group_by(pl.col("created").dt.year().alias("y")).len()
                 .sort("y"))
        mismatch = g.filter(pl.col("license_mismatch"))
        out["languages"][lang] = {
            "downloads": dl,
            "cutoff": {"rank": k, "downloads": dl[k - 1]} if k else None,
            "provenance": _counts(g, "provenance", PROVENANCE),
            "created_by_year": {str(y): int(c) for y, c in years.iter_rows()},
            "license_mismatch": mismatch.select("repo_id", "license_family", "license_text_family").to_dicts(),
            "legacy_created_at": int(g.filter(pl.col("created_at").is_not_null() & pl.col("created").is_null())
                                     .height),
        }
    return out


def snapshot_object(snap: SnapshotInfo) -> dict[str, Any]:
    """The report's ``snapshot`` object."""
    return {k: v for k, v in snap.to_dict().items() if k in ("id", "taken_at", "endpoint", "dump")}


def dataset_frame(source: StoreSource, snapshot_id: int, langs: list[str], *, cards: bool = True,
                  overrides_file: Path | None = None, data_dir: Path | None = None) -> pl.DataFrame:
    """One row per (language, listed dataset) of a snapshot with every feature: what `compute` aggregates.

    ``cards=False`` skips the card text (`features.load_frame`): the card-based columns (documentation,
    instruction, domains, license text) are then not measured, the others are exact. The dashboard shows those
    first on a large snapshot, while the full frame is being computed.
    """
    store = queries(source)
    ref = reference.load(data_dir)
    overrides = reference.load_ownership_table(overrides_file) if overrides_file else None
    feats = features.compute(store.con, snapshot_id, ref, overrides, langs=langs, cards=cards)
    return store.listings(snapshot_id, langs).join(feats, on="repo_id", how="inner")


def dataset_features(source: StoreSource, snapshot_id: int, repo_id: str, *, data_dir: Path | None = None
                     ) -> dict[str, Any] | None:
    """Every feature of one dataset of a snapshot (the row `dataset_frame` has for it, without the listing), or
    None when the snapshot does not hold it: what the card view explains."""
    store = queries(source)
    raw = features.load_frame(store.con, snapshot_id, repo_ids=[repo_id])
    if raw.is_empty():
        return None
    return features.build(raw, reference.load(data_dir)).drop("card").row(0, named=True)


def compute(source: StoreSource, *, snapshot: str | int = "latest", langs: list[str] | None = None,
            overrides_file: Path | None = None, data_dir: Path | None = None) -> Study:
    """Every measurement of the study for ``langs`` (default: all languages listed) in one snapshot.

    ``source`` is the store, or (as the CLI still passes it) its connection."""
    store = queries(source)
    snap = store.resolve_snapshot(snapshot)
    ref = reference.load(data_dir)
    available = store.languages(snap.id)
    langs = langs or available
    missing = [lang for lang in langs if lang not in available]
    if missing:
        raise CurateError(f"snapshot {snap.id} has no listing for {', '.join(missing)} "
                          f"(it has {', '.join(available) or 'none'})")
    frame = dataset_frame(store, snap.id, langs, overrides_file=overrides_file, data_dir=data_dir)
    report = {"snapshot": snapshot_object(snap), "languages": measure(frame, langs, ref)}
    details = _details(frame, langs)
    details["contamination"] = [
        {**row, "created_at": row["created_at"].isoformat()} for row in store.latest_contamination().to_dicts()]
    return Study(report=report, details=details, frame=frame)
