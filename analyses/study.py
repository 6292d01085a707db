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
from curate.store import StoreSource, queries


@dataclass
class Study:
    report: dict[str, Any]
    details: dict[str, Any]
    frame: pl.DataFrame  # one row per (lang, dataset) with every feature


def _counts(frame: pl.DataFrame, col: str, keys: tuple[str, ...]) -> dict[str, int]:
    got = dict(frame.group_by(col).len().iter_rows())
    return {k: int(got.get(k, 0)) for k in keys}


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


def _language(f: pl.DataFrame, ref: reference.Reference) -> dict[str, Any]:
    n = f.height
    categories = sorted(set(ref.tasks["category"].to_list()) | {"Other"})
    tasks = dict(f.select(pl.col("tasks").explode().alias("t")).drop_nulls().group_by("t").len().iter_rows())
    carded = f.filter(pl.col("card").is_not_null())
    words = carded["words"]
    inst = f.filter(pl.col("instruction"))
    months = (inst.filter(pl.col("created").is_not_null())
              .group_by(pl.col("created").dt.strftime("%Y-%m").alias("m")).len().sort("m"))
    domains = f.select(pl.col("domains").struct.unnest()).sum() if n else None
    return {
        "n_datasets": n,
        "makeup": _counts(f, "makeup", MAKEUP),
        "size": _counts(f, "size", SIZES),
        "license_family": _counts(f, "license_family", FAMILIES),
        "ownership": _counts(f, "ownership", OWNERSHIP),
        "tasks": {c: int(tasks.get(c, 0)) for c in categories},
        "docs": {
            "arxiv_share": float(f["has_arxiv"].mean() or 0.0) if n else 0.0,
            "all_sections_share": float(f["all_sections"].mean() or 0.0) if n else 0.0,
            "filled_sections_share": float(f["filled_sections"].mean() or 0.0) if n else 0.0,
            "mean_words": float(words.mean() or 0.0) if words.len() else 0.0,
            "median_words": float(words.median() or 0.0) if words.len() else 0.0,
        },
        "instruction": {"n": inst.height, "by_month": {m: int(c) for m, c in months.iter_rows()}},
        "domains": {d: int(domains[d][0]) if domains is not None else 0 for d in ref.domains},
    }


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
    feats = features.build(features.load_frame(store.con, snapshot_id, cards=cards), ref, overrides)
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
    report = {"snapshot": {k: snap.to_dict()[k] for k in ("id", "taken_at", "endpoint")},
              "languages": {lang: _language(frame.filter(pl.col("lang") == lang), ref) for lang in langs}}
    details = _details(frame, langs)
    details["contamination"] = [
        {**row, "created_at": row["created_at"].isoformat()} for row in store.latest_contamination().to_dicts()]
    return Study(report=report, details=details, frame=frame)
