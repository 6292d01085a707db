"""`snapshot` and `report`: the Hub audit, from the Python side."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curate import config
from curate.errors import UsageError
from curate.http import DEFAULT_MAX_CARD_BYTES, DEFAULT_MAX_WAIT_S

if TYPE_CHECKING:
    from analyses.trends import Trends
    from collectors.dump import DumpSummary
    from collectors.snapshot import SnapshotSummary

DEFAULT_DUMP = "librarian-bots/dataset_cards_with_metadata"  # collectors.dump.DEFAULT_REPO (kept equal by a test)

DEFAULT_MIN_DATASETS = 50  # analyses.league.DEFAULT_MIN_DATASETS (not imported: keeps `import curate` light)


def snapshot(langs: Sequence[str] = (), *, top: int = 700, sort: str = "downloads", db: str | Path | None = None,
             endpoint: str | None = None, token: str | None = None, resume: bool | int = False,
             concurrency: int = 16, rate: float | None = None, authors: bool = True, timeout: float = 30.0,
             max_wait: float = DEFAULT_MAX_WAIT_S, max_card_bytes: int = DEFAULT_MAX_CARD_BYTES,
             on_listed: Callable[[str, int], None] | None = None) -> SnapshotSummary:
    """Take a dated snapshot of the ``top`` most-downloaded datasets of each language (or, with ``resume``,
    finish the latest unfinished one, or the one with that id) and return what it holds.

    ``endpoint`` (else ``HF_ENDPOINT``) picks the Hub or a mirror; ``token`` (else ``HF_TOKEN``) is sent only
    to that endpoint's origin and never stored. Requests are paced to the quota the Hub announces (its ``RateLimit`` headers);
    ``rate`` is an upper bound in requests per second (None: none).
    """
    from collectors.snapshot import SnapshotOptions, take_snapshot
    from curate.store import Store

    if not langs and not resume:
        raise UsageError("give at least one language (or resume)", param="--lang")
    opts = SnapshotOptions(langs=list(dict.fromkeys(langs)), top=top, sort=sort, endpoint=endpoint,
                           concurrency=concurrency, rate=rate or None, authors=authors, timeout=timeout,
                           max_wait=max_wait, max_card_bytes=max_card_bytes)
    with Store(db) as store:
        return take_snapshot(store, opts, resume=resume or None, token=token, on_listed=on_listed)


def snapshot_from_dump(repo: str | None = None, *, revision: str = "main", langs: Sequence[str] = (),
                       top: int | None = None, db: str | Path | None = None, endpoint: str | None = None,
                       token: str | None = None, resume: bool | int = False, authors: bool = False,
                       concurrency: int = 16, rate: float | None = None, timeout: float = 30.0,
                       max_wait: float = DEFAULT_MAX_WAIT_S) -> DumpSummary:
    """A snapshot of every dataset (of ``langs``, the ``top`` per language; default all) read from a published
    dump of dataset cards (``repo``, default librarian-bots/dataset_cards_with_metadata, at ``revision``: a
    past commit is the Hub as it was then) instead of crawling; minutes for the whole Hub.

    The shards are downloaded through huggingface_hub (``endpoint``, else ``HF_ENDPOINT``) and read in record
    batches; an interrupted import resumes (``resume``). Author kinds known from earlier snapshots are reused;
    ``authors`` asks the Hub for the rest, paced like a crawl (``concurrency``, ``rate``, ``timeout``,
    ``max_wait``). The result has the dump's repo, commit and date and what was stored.
    """
    from collectors.dump import DumpOptions, take_dump_snapshot
    from collectors.snapshot import SnapshotOptions
    from curate.store import Store

    lookups = SnapshotOptions(langs=list(dict.fromkeys(langs)), endpoint=endpoint, concurrency=concurrency,
                              rate=rate or None, timeout=timeout, max_wait=max_wait) if authors else None
    opts = DumpOptions(repo=repo or DEFAULT_DUMP, revision=revision, endpoint=endpoint,
                       langs=list(dict.fromkeys(langs)), top=top, authors=lookups)
    with Store(db) as store:
        return take_dump_snapshot(store, opts, resume=resume or None, token=token)


@dataclass
class Report:
    """The study's measurements of one snapshot.

    ``report`` is the documented JSON object (docs/report.md, docs/report.schema.json); ``details`` holds
    what the tables and figures add (cutoffs, provenance view, contamination, the ``diff`` with ``compare``);
    ``out`` is the folder written (report.json/.md/.html, details.json, figures), if one was asked for. A
    league (``all_languages``) has the ``league`` part in ``report`` and the languages pointed out in
    ``details["highlight"]``.
    """

    report: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)
    out: Path | None = None

    @property
    def snapshot_id(self) -> int:
        return int(self.report["snapshot"]["id"])

    @property
    def languages(self) -> list[str]:
        return list(self.report["languages"])


def report(*, db: str | Path | None = None, langs: Sequence[str] | None = None, snapshot: str | int = "latest",
           out: str | Path | None = None, ownership_overrides: str | Path | None = None,
           compare: str | int | None = None, all_languages: bool = False,
           min_datasets: int = DEFAULT_MIN_DATASETS) -> Report:
    """Measure a snapshot (size, make-up, tasks, licenses, ownership, documentation, instruction datasets over
    time, domains) per language; with ``out``, also write the report folder and its figures; with
    ``compare`` (an older snapshot id), diff the two. With ``all_languages``: the league table of every
    language with at least ``min_datasets`` datasets, ``langs`` being the ones to point out. Reads only: the
    store is opened read-only.
    """
    import json

    from analyses import diff, league, render, study
    from curate.files import check_output_dir
    from curate.store import Store

    if all_languages and compare is not None:
        raise UsageError("--compare diffs per language; leave out --all-languages", "--compare")
    if out is not None:  # before any work: a folder curate did not write is refused, untouched
        check_output_dir(out, written_by_curate=render.is_report_folder)
    chosen = list(langs) if langs else None
    overrides = Path(ownership_overrides) if ownership_overrides is not None else None
    with Store(config.db_path(db, reading=True), read_only=True) as store:
        if all_languages:
            ranked = league.compute(store, snapshot=snapshot, min_datasets=min_datasets, highlight=chosen,
                                    overrides_file=overrides)
            folder = render.write_league(ranked, Path(out)) if out is not None else None
            return Report(ranked.report, {"highlight": ranked.highlight}, folder)
        if out is not None:
            folder = render.write_report(store.con, Path(out), langs=chosen, snapshot=snapshot,
                                         overrides_file=overrides, compare=compare)
            return Report(json.loads((folder / "report.json").read_text(encoding="utf-8")),
                          json.loads((folder / "details.json").read_text(encoding="utf-8")), folder)
        result = study.compute(store.con, snapshot=snapshot, langs=chosen, overrides_file=overrides)
        details = dict(result.details)
        if compare is not None:
            details["diff"] = diff.compare(store.con, compare, result.report["snapshot"]["id"], langs=chosen)
        return Report(result.report, details)


def trends(*, db: str | Path | None = None, langs: Sequence[str] | None = None, snapshot: str | int = "latest",
           out: str | Path | None = None) -> Trends:
    """Per language and month, up to ``snapshot``: datasets, license-family shares and documentation shares over
    the snapshots of one source (dump revisions dated by their commits, or crawls), each point its snapshot's
    report, for ``langs`` (default: those with most datasets). With ``out``, also write trends.json/.md/.html
    and the figure. Reads only.
    """
    from analyses import render
    from analyses import trends as trend_analysis
    from curate.files import check_output_dir
    from curate.store import Store

    if out is not None:  # before any work: a folder curate did not write is refused, untouched
        check_output_dir(out, written_by_curate=render.is_report_folder)
    with Store(config.db_path(db, reading=True), read_only=True) as store:
        result = trend_analysis.compute(store, snapshot=snapshot, langs=list(langs) if langs else None)
    if out is not None:
        trend_analysis.write(result, Path(out))
    return result
