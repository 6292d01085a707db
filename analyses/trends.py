"""Trends across snapshots: per language and month, how many datasets, their license families and how well they
are documented (`curate report --trends`).

The points are snapshots of one source: past revisions of a dump of dataset cards (`curate snapshot --from-dump
--revision ...`, each dated by its commit) or repeated crawls (dated when taken). A snapshot's numbers are exactly
its report's (`analyses.study.compute`), so the newest point of a trend is the report of that snapshot; a month
with several snapshots shows the newest. `curate report --compare` diffs two snapshots dataset by dataset; a trend
follows the shares over many.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyses import study
from analyses.reference import FAMILIES
from curate.errors import CurateError
from curate.files import claim_output_dir, write_text_atomic
from curate.store import SnapshotInfo, StoreSource, queries

DOCS = ("arxiv_share", "all_sections_share", "filled_sections_share")
DEFAULT_LANGUAGES = 10  # without --lang, the languages with most datasets in the newest snapshot


@dataclass
class Trends:
    """Snapshots used (oldest data first) and, per language, one point per month."""

    snapshots: list[dict[str, Any]]
    languages: dict[str, list[dict[str, Any]]]

    def to_dict(self) -> dict[str, Any]:
        """The JSON document `curate report --trends --format json` prints (docs/trends.schema.json)."""
        return {"snapshots": self.snapshots, "languages": self.languages}

    @property
    def months(self) -> list[str]:
        return [s["month"] for s in self.snapshots]


def _describe(snap: SnapshotInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"id": snap.id, "month": snap.as_of.strftime("%Y-%m"), "as_of": snap.as_of.isoformat(),
                           "taken_at": snap.taken_at.isoformat(), "source": snap.source}
    if snap.dump():
        out["dump"] = snap.dump()
    return out


def _point(month: str, snapshot_id: int, lang: dict[str, Any]) -> dict[str, Any]:
    n = lang["n_datasets"]
    return {"month": month, "snapshot": snapshot_id, "n_datasets": n,
            "license_family": {f: (lang["license_family"][f] / n if n else 0.0) for f in FAMILIES},
            "docs": {k: lang["docs"][k] for k in DOCS}}


def compute(source: StoreSource, *, snapshot: str | int = "latest", langs: list[str] | None = None,
            max_languages: int = DEFAULT_LANGUAGES, data_dir: Path | None = None) -> Trends:
    """The trend up to ``snapshot`` (default: the newest), over the snapshots `StoreQueries.snapshot_series` picks,
    for ``langs`` (default: the ``max_languages`` with most datasets in that snapshot)."""
    store = queries(source)
    newest = store.resolve_snapshot(snapshot)
    by_month: dict[str, SnapshotInfo] = {}
    for snap in store.snapshot_series(newest.id):  # oldest data first: a later snapshot of a month replaces one
        by_month[snap.as_of.strftime("%Y-%m")] = snap
    if langs is None:
        langs = list(store.language_counts(newest.id))[:max_languages]
    if not langs:
        raise CurateError(f"snapshot {newest.id} lists no language to follow")
    chosen = list(by_month.items())
    points: dict[str, list[dict[str, Any]]] = {lang: [] for lang in langs}
    for month, snap in chosen:
        present = [lang for lang in langs if lang in set(store.languages(snap.id))]
        if not present:
            continue
        report = study.compute(store, snapshot=snap.id, langs=present, data_dir=data_dir).report
        for lang in present:
            points[lang].append(_point(month, snap.id, report["languages"][lang]))
    missing = [lang for lang, p in points.items() if not p]
    if missing and len(missing) == len(points):
        raise CurateError(f"no snapshot lists {', '.join(missing)}")
    return Trends([_describe(snap) for _, snap in chosen], points)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def sections(trends: Trends) -> list[tuple[str, list[str], list[list[str]]]]:
    """The trend as tables (title, header, rows) for every text format: datasets per language by month, then
    per language its license families and its documentation by month (narrow enough for an 80-column terminal)."""
    langs = list(trends.languages)
    at = {lang: {p["month"]: p for p in pts} for lang, pts in trends.languages.items()}
    out = [("Datasets per language by month", ["month", *langs],
            [[m, *(f"{at[lang][m]['n_datasets']:,}" if m in at[lang] else "-" for lang in langs)]
             for m in trends.months])]
    families = [f.replace("_", " ") for f in FAMILIES]
    for lang in langs:
        pts = trends.languages[lang]
        out.append((f"{lang}: license families by month (share of its datasets)", ["month", *families],
                    [[p["month"], *(_pct(p["license_family"][f]) for f in FAMILIES)] for p in pts]))
        out.append((f"{lang}: documentation by month (share of its datasets)",
                    ["month", "arXiv reference", "all 5 sections", "all 5 filled"],
                    [[p["month"], *(_pct(p["docs"][k]) for k in DOCS)] for p in pts]))
    return out


def title(trends: Trends) -> str:
    first, last = trends.snapshots[0], trends.snapshots[-1]
    source = f"dump {last['dump']['repo']}" if last.get("dump") else "crawls"
    return f"curate trends: {len(trends.snapshots)} snapshots of {source}, {first['month']} to {last['month']}"


def write(trends: Trends, out: Path) -> Path:
    """trends.json, trends.md, trends.html and the trend figure (PNG, SVG) in ``out``."""
    from analyses import figures, render

    claim_output_dir(out, "report", written_by_curate=render.is_report_folder)  # refuses a folder curate did not write
    pngs = [p.name for p in figures.write_trend_figure(trends.to_dict(), out) if p.suffix == ".png"]
    write_text_atomic(out / "trends.json", json.dumps(trends.to_dict(), ensure_ascii=False, indent=2))
    write_text_atomic(out / "trends.md", render.sections_markdown(title(trends), sections(trends), pngs))
    write_text_atomic(out / "trends.html", render.sections_html(title(trends), sections(trends), pngs))
    return out
