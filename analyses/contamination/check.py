"""Run a contamination check end to end: read benchmarks, index them, stream corpora, aggregate per item."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from analyses.contamination.index import BenchmarkIndex, Settings
from analyses.contamination.resume import Checkpoint, Record, run_key
from analyses.contamination.scan import scan_batches
from curate.corpus import Document, iter_documents, source_name
from curate.errors import CurateError
from curate.files import LockHeld, exclusive_lock

MAX_DOC_IDS = 100  # per item in reports and the store; --save-doc-ids writes all of them


@dataclass
class Source:
    """A benchmark or corpus to read: a path or Hub id, a display name and its fields."""

    location: str
    name: str
    text_field: str = "text"
    id_field: str = "id"
    split: str = "train"
    config_name: str | None = None

    @classmethod
    def parse(cls, spec: str, **fields: str | None) -> Source:
        """``NAME=LOCATION`` or just ``LOCATION`` (named after the file, folder or Hub id)."""
        name, sep, location = spec.partition("=")
        if not sep or not name or Path(spec).exists():
            name, location = source_name(spec), spec
        return cls(location, name, **{k: v for k, v in fields.items() if v is not None})

    def documents(self, on_error: Callable[[str], None]) -> Iterator[Document]:
        return iter_documents(self.location, text_field=self.text_field, id_field=self.id_field, split=self.split,
                              config_name=self.config_name, on_error=on_error)


@dataclass
class ItemResult:
    id: str
    checked: bool
    contaminated: bool = False
    match: str = "none"  # exact | ngram | none
    overlap: float = 0.0  # best share of the item's n-grams found in one document
    longest_match_chars: int = 0
    n_docs: int = 0
    doc_ids: list[str] = field(default_factory=list)


@dataclass
class CheckResult:
    settings: Settings
    benchmarks: dict[str, list[ItemResult]]
    corpora: list[str]
    n_docs: int = 0
    n_bytes: int = 0
    seconds: float = 0.0
    workers: int = 1
    errors: list[str] = field(default_factory=list)
    resumed_docs: int = 0  # documents an earlier, interrupted run had checked
    resumed_bytes: int = 0
    contaminated_doc_ids: set[str] = field(default_factory=set)
    progress: Path | None = None  # the saved progress a run with keep_progress left for its caller to discard

    def discard_progress(self) -> None:
        """Remove the saved progress once the results are safe (stored), so no rerun finds it."""
        if self.progress is not None:
            Checkpoint(self.progress).discard()
            self.progress = None

    def summary(self) -> dict[str, dict[str, float | int]]:
        out = {}
        for name, items in self.benchmarks.items():
            n = len(items)
            bad = sum(i.contaminated for i in items)
            out[name] = {"n_items": n, "n_checked": sum(i.checked for i in items), "n_contaminated": bad,
                         "n_exact": sum(i.match == "exact" for i in items), "rate": bad / n if n else 0.0}
        return out

    def to_json(self) -> dict:
        """The documented JSON shape (docs/contamination.md) (plus per-item ``overlap`` and ``n_docs`` and per-benchmark counts)."""
        summary = self.summary()
        return {"benchmarks": {
            name: {**summary[name], "items": [
                {"id": i.id, "contaminated": i.contaminated, "match": i.match, "doc_ids": i.doc_ids,
                 "longest_match_chars": i.longest_match_chars, "overlap": round(i.overlap, 4), "n_docs": i.n_docs,
                 "checked": i.checked} for i in items]}
            for name, items in self.benchmarks.items()}}


def _batches(docs: Iterator[Document], batch_chars: int,
             advance: Callable[[int], None]) -> Iterator[tuple[tuple[list[str], int], list[str]]]:
    """((ids, UTF-8 bytes), texts) in batches of about ``batch_chars`` characters."""
    ids: list[str] = []
    texts: list[str] = []
    size = n_bytes = 0
    for doc in docs:
        texts.append(doc.text)
        ids.append(doc.id)
        size += len(doc.text)
        n_bytes += len(doc.text.encode("utf-8", "surrogatepass"))
        if size >= batch_chars:
            advance(len(texts))
            yield (ids, n_bytes), texts
            ids, texts, size, n_bytes = [], [], 0, 0
    if texts:
        advance(len(texts))
        yield (ids, n_bytes), texts


class _Tally:
    """Per-item results, updated hit by hit (from this run's scan or from a checkpoint)."""

    def __init__(self, index: BenchmarkIndex, result: CheckResult) -> None:
        self.index = index
        self.result = result
        self.items = [ItemResult(it.id, it.checked) for it in index.items]

    def add(self, item: int, doc_id: str, matched: int, longest_chars: int, exact: bool) -> None:
        it, res = self.index.items[item], self.items[item]
        share = matched / it.n_distinct
        res.overlap = max(res.overlap, share)
        res.longest_match_chars = max(res.longest_match_chars, longest_chars)
        if not exact and (it.exact_only or share < self.index.settings.threshold):
            return
        res.contaminated = True
        res.match = "exact" if exact or res.match == "exact" else "ngram"
        res.n_docs += 1
        if len(res.doc_ids) < MAX_DOC_IDS:
            res.doc_ids.append(doc_id)
        self.result.contaminated_doc_ids.add(doc_id)


def run_check(benchmarks: list[Source], corpora: list[Source], settings: Settings | None = None, *,
              workers: int = 1, batch_chars: int = 1_000_000, on_error: Callable[[str], None] | None = None,
              advance: Callable[[int], None] | None = None, work_root: Path | None = None,
              restart: bool = False, save_every_s: float = 30.0, keep_progress: bool = False) -> CheckResult:
    """Check every item of ``benchmarks`` against every document of ``corpora``.

    With ``work_root`` the run is resumable (see `resume`): progress is saved in a folder below it, a rerun
    of the same check picks up from there (``restart`` discards it), and the folder goes when the run ends.
    With ``keep_progress`` it stays, named by ``result.progress``, until the caller calls
    ``result.discard_progress()``: a caller that still has to store the results (which can fail: a locked
    store) keeps the finished scan, and a rerun takes it from there without scanning again.
    """
    settings = settings or Settings()
    result = CheckResult(settings, {}, [c.name for c in corpora], workers=workers)
    muted = False

    def error(message: str) -> None:
        if muted:  # documents a resumed run skips were reported by the run that read them
            return
        result.errors.append(message)
        if on_error is not None:
            on_error(message)

    rows: list[tuple[str, str, str]] = []
    for bench in benchmarks:
        first_errors: list[str] = []

        def bench_error(message: str, first_errors: list[str] = first_errors) -> None:
            first_errors.append(message)
            error(message)

        before = len(rows)
        rows.extend((bench.name, d.id, d.text) for d in bench.documents(bench_error))
        if len(rows) == before:  # a wrong --benchmark-text-field, say: fail now, not after scanning the corpus
            reason = f" (first: {first_errors[0]})" if first_errors else ""
            raise CurateError(f"benchmark {bench.name}: no item with a text in field(s) {bench.text_field!r}"
                              f"{reason}; check --benchmark-text-field")
    index = BenchmarkIndex.build(rows, settings)
    tally = _Tally(index, result)
    with ExitStack() as guard:  # holds the lock on this check's saved progress, if any
        checkpoint = None
        if work_root is not None:
            key = run_key(rows, [(c.name, c.location) for c in corpora], settings)
            # Two runs of one check would write the same progress folder: the second is turned away.
            work_root.mkdir(parents=True, exist_ok=True)
            try:
                guard.enter_context(exclusive_lock(work_root / f"contamination-{key[:16]}.lock"))
            except LockHeld as exc:
                raise CurateError("another curate contamination is running this same check"
                                  + (f" (pid {exc.pid})" if exc.pid else "") + "; wait for it to finish") from None
            checkpoint = Checkpoint(work_root / f"contamination-{key[:16]}")
            if restart:
                checkpoint.discard()
                checkpoint = Checkpoint(checkpoint.folder)
            for record in checkpoint.records():
                tally.add(*record)
        started = time.monotonic()
        for position, corpus in enumerate(corpora):
            # Progress is keyed by position and location: two corpora may share a display name.
            corpus_key = f"{position}:{corpus.location}"
            done = checkpoint.corpus(corpus_key) if checkpoint else {"docs": 0, "bytes": 0, "complete": False}
            result.resumed_docs += done["docs"]
            result.resumed_bytes += done["bytes"]
            result.n_docs += done["docs"]
            result.n_bytes += done["bytes"]
            if done["complete"]:
                continue
            docs = corpus.documents(error)
            if done["docs"]:
                muted = True
                for _ in islice(docs, done["docs"]):
                    pass
                muted = False
            pending: list[Record] = []
            n_done, n_bytes, last_save = done["docs"], done["bytes"], time.monotonic()
            batches = _batches(docs, batch_chars, advance or (lambda n: None))
            for (batch_ids, batch_bytes), hits in scan_batches(index, batches, workers):
                for hit in hits:
                    record = (hit.item, batch_ids[hit.doc], hit.matched, hit.longest_chars, hit.exact)
                    tally.add(*record)
                    pending.append(record)
                n_done += len(batch_ids)
                n_bytes += batch_bytes
                result.n_docs += len(batch_ids)
                result.n_bytes += batch_bytes
                if checkpoint is not None and time.monotonic() - last_save >= save_every_s:
                    checkpoint.save(corpus_key, n_done, n_bytes, False, pending)
                    pending, last_save = [], time.monotonic()
            if checkpoint is not None:
                checkpoint.save(corpus_key, n_done, n_bytes, True, pending)
        result.seconds = time.monotonic() - started
        for it, res in zip(index.items, tally.items, strict=True):
            result.benchmarks.setdefault(it.benchmark, []).append(res)
        for b in benchmarks:
            result.benchmarks.setdefault(b.name, [])
        if checkpoint is not None:
            if keep_progress:
                result.progress = checkpoint.folder
            else:
                checkpoint.discard()
    return result
