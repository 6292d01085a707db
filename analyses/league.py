"""The league of languages: the study's measurements for every language with enough datasets, side by side.

`curate report --all-languages` answers "where does Korean stand among all languages of the Hub?". Each
language gets the same measurement object as the per-language report (`study.measure`, one definition), and the
``league`` part of the report ranks the languages by a few headline measures derived from those objects
(`MEASURES`), with the median language as the yardstick. Languages with fewer than ``min_datasets`` datasets are
left out: their shares are too noisy to rank.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyses import features, reference, study
from analyses.reference import SIZES
from curate.errors import CurateError
from curate.store import StoreSource, queries

DEFAULT_MIN_DATASETS = 50
# Highlighted when the caller names none: the languages of the CJK study, those that made the league.
DEFAULT_HIGHLIGHT = ("ko", "ja", "zh", "en")
# The features `study.measure` reads (plus repo_id to join the listings): all the league keeps per dataset.
MEASURED = ("repo_id", "makeup", "size", "license_family", "ownership", "tasks", "has_arxiv", "all_sections",
            "filled_sections", "words", "has_card", "instruction", "created", "domains")


@dataclass(frozen=True)
class Measure:
    """One column of the league: a number read off a language's report object."""

    key: str
    title: str
    group: str  # the league's tables group related measures, so each fits a terminal
    share: bool  # a share of the language's datasets (0..1), shown as a percentage
    value: Callable[[dict[str, Any]], float]


def _share(group: str, *keys: str) -> Callable[[dict[str, Any]], float]:
    def value(lang: dict[str, Any]) -> float:
        return sum(lang[group][k] for k in keys) / max(lang["n_datasets"], 1)
    return value


def _docs(key: str) -> Callable[[dict[str, Any]], float]:
    return lambda lang: float(lang["docs"][key])


LANG, LIC, OWN, DOC = "make-up and instruction", "licenses", "ownership and size", "documentation"
LARGE = tuple(b for b in SIZES[1:] if b != "unknown")  # every bucket above S: 10M examples or more
MEASURES: tuple[Measure, ...] = (
    Measure("monolingual_share", "monolingual", LANG, True, _share("makeup", "monolingual")),
    Measure("english_paired_share", "paired with en", LANG, True, _share("makeup", "english_paired")),
    Measure("instruction_share", "instruction", LANG, True,
            lambda lang: lang["instruction"]["n"] / max(lang["n_datasets"], 1)),
    Measure("permissive_share", "permissive", LIC, True, _share("license_family", "permissive")),
    Measure("noncommercial_share", "non-commercial", LIC, True, _share("license_family", "noncommercial")),
    Measure("no_license_share", "no license", LIC, True, _share("license_family", "unknown")),
    Measure("company_share", "company", OWN, True, _share("ownership", "company")),
    Measure("institute_share", "institute", OWN, True, _share("ownership", "institute")),
    Measure("individual_share", "individual", OWN, True, _share("ownership", "individual")),
    Measure("large_share", "10M+ examples", OWN, True, _share("size", *LARGE)),
    Measure("arxiv_share", "arXiv", DOC, True, _docs("arxiv_share")),
    Measure("all_sections_share", "all 5 sections", DOC, True, _docs("all_sections_share")),
    Measure("filled_sections_share", "all 5 filled", DOC, True, _docs("filled_sections_share")),
    Measure("median_words", "median words", DOC, False, _docs("median_words")),
)


@dataclass
class League:
    """``report``: the docs/report.md object for every language in the league (most datasets first) plus its
    ``league`` part; ``highlight``: the languages the tables and the figure point out."""

    report: dict[str, Any]
    highlight: list[str] = field(default_factory=list)


def ranks(values: dict[str, float]) -> dict[str, int]:
    """1 for the highest value; equal values share the best rank (1, 2, 2, 4)."""
    ordered = sorted(values.values(), reverse=True)
    first = {}
    for i, v in enumerate(ordered, start=1):
        first.setdefault(v, i)
    return {lang: first[v] for lang, v in values.items()}


def table(languages: dict[str, dict[str, Any]], min_datasets: int, listed: int) -> dict[str, Any]:
    """The report's ``league`` part from its per-language objects (in league order)."""
    values = {m.key: {lang: float(m.value(obj)) for lang, obj in languages.items()} for m in MEASURES}
    by_measure = {key: ranks(v) for key, v in values.items()}
    return {
        "min_datasets": min_datasets,
        "languages_listed": listed,
        "measures": {m.key: m.title for m in MEASURES},
        "rows": [{"lang": lang, "rank": i, "n_datasets": obj["n_datasets"],
                  "values": {k: values[k][lang] for k in values}, "ranks": {k: by_measure[k][lang] for k in values}}
                 for i, (lang, obj) in enumerate(languages.items(), start=1)],
        "medians": {"n_datasets": float(statistics.median(o["n_datasets"] for o in languages.values())),
                    **{k: float(statistics.median(v.values())) for k, v in values.items()}},
    }


def compute(source: StoreSource, *, snapshot: str | int = "latest", min_datasets: int = DEFAULT_MIN_DATASETS,
            highlight: Sequence[str] | None = None, overrides_file: Path | None = None,
            data_dir: Path | None = None) -> League:
    """The league of every language the snapshot listed at least ``min_datasets`` datasets for.

    ``highlight`` names languages to point out (default: those of `DEFAULT_HIGHLIGHT` in the league); each
    must be in the league. The work is one pass over the listed datasets (`features.compute`, part by part)
    and one set of group-bys (`study.measure`), so it costs about what the per-language report of the same
    datasets costs.
    """
    if min_datasets < 1:
        raise CurateError(f"the league needs a minimum of at least 1 dataset per language, not {min_datasets}")
    store = queries(source)
    snap = store.resolve_snapshot(snapshot)
    counts = store.language_counts(snap.id)
    langs = [lang for lang, n in counts.items() if n >= min_datasets]
    if not langs:
        top = next(iter(counts.items()), None)
        most = f"the most is {top[1]} ({top[0]})" if top else "it listed none"
        raise CurateError(f"no language of snapshot {snap.id} has {min_datasets} datasets or more ({most}); "
                          "lower the minimum")
    for lang in highlight or ():
        if lang not in counts:
            raise CurateError(f"snapshot {snap.id} has no listing for {lang}")
        if lang not in langs:
            raise CurateError(f"{lang} has {counts[lang]} datasets in snapshot {snap.id}, fewer than the league's "
                              f"minimum of {min_datasets}")
    ref = reference.load(data_dir)
    overrides = reference.load_ownership_table(overrides_file) if overrides_file else None
    feats = features.compute(store.con, snap.id, ref, overrides, langs=langs, columns=MEASURED)
    frame = store.listings(snap.id, langs).drop("rank").join(feats, on="repo_id", how="inner")
    languages = study.measure(frame, langs, ref)
    report = {"snapshot": study.snapshot_object(snap), "languages": languages,
              "league": table(languages, min_datasets, len(counts))}
    chosen = list(dict.fromkeys(highlight)) if highlight else [x for x in DEFAULT_HIGHLIGHT if x in langs]
    return League(report=report, highlight=chosen)
