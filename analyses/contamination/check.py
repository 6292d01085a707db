"""Run a contamination check end to end: read benchmarks, index them, stream corpora, aggregate per item."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from analyses.contamination.index import BenchmarkIndex, Settings
from analyses.contamination.scan import scan_batches
from curate.corpus import Document, iter_documents, source_name

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
    contaminated_doc_ids: set[str] = field(default_factory=set)

    def summary(self) -> dict[str, dict[str, float | int]]:
        out = {}
        for name, items in self.benchmarks.items():
            n = len(items)
            bad = sum(i.contaminated for i in items)
            out[name] = {"n_items": n, "n_checked": sum(i.checked for i in items), "n_contaminated": bad,
                         "n_exact": sum(i.match == "exact" for i in items), "rate": bad / n if n else 0.0}
        return out

    def to_json(self) -> dict:
        """The SPEC's JSON shape (plus per-item ``overlap`` and ``n_docs`` and per-benchmark counts)."""
        summary = self.summary()
        return {"benchmarks": {
            name: {**summary[name], "items": [
                {"id": i.id, "contaminated": i.contaminated, "match": i.match, "doc_ids": i.doc_ids,
                 "longest_match_chars": i.longest_match_chars, "overlap": round(i.overlap, 4), "n_docs": i.n_docs,
                 "checked": i.checked} for i in items]}
            for name, items in self.benchmarks.items()}}


def _batches(docs: Iterator[Document], batch_chars: int, result: CheckResult,
             advance: Callable[[int], None]) -> Iterator[tuple[list[str], list[str]]]:
    """(ids, texts) in batches of about ``batch_chars`` characters."""
    ids: list[str] = []
    texts: list[str] = []
    size = 0
    for doc in docs:
        texts.append(doc.text)
        ids.append(doc.id)
        size += len(doc.text)
        result.n_docs += 1
        result.n_bytes += len(doc.text.encode("utf-8", "surrogatepass"))
        if size >= batch_chars:
            advance(len(texts))
            yield ids, texts
            ids, texts, size = [], [], 0
    if texts:
        advance(len(texts))
        yield ids, texts


def run_check(benchmarks: list[Source], corpora: list[Source], settings: Settings | None = None, *,
              workers: int = 1, batch_chars: int = 1_000_000, on_error: Callable[[str], None] | None = None,
              advance: Callable[[int], None] | None = None) -> CheckResult:
    """Check every item of ``benchmarks`` against every document of ``corpora``."""
    settings = settings or Settings()
    result = CheckResult(settings, {}, [c.name for c in corpora], workers=workers)

    def error(message: str) -> None:
        result.errors.append(message)
        if on_error is not None:
            on_error(message)

    rows = [(b.name, d.id, d.text) for b in benchmarks for d in b.documents(error)]
    index = BenchmarkIndex.build(rows, settings)
    items = [ItemResult(it.id, it.checked) for it in index.items]
    started = time.monotonic()
    for corpus in corpora:
        batches = _batches(corpus.documents(error), batch_chars, result, advance or (lambda n: None))
        for batch_ids, hits in scan_batches(index, batches, workers):
            for hit in hits:
                it, res = index.items[hit.item], items[hit.item]
                share = hit.matched / it.n_distinct
                res.overlap = max(res.overlap, share)
                res.longest_match_chars = max(res.longest_match_chars, hit.longest_chars)
                exact = hit.exact
                if not exact and (it.exact_only or share < settings.threshold):
                    continue
                res.contaminated = True
                res.match = "exact" if exact or res.match == "exact" else "ngram"
                res.n_docs += 1
                doc_id = batch_ids[hit.doc]
                if len(res.doc_ids) < MAX_DOC_IDS:
                    res.doc_ids.append(doc_id)
                result.contaminated_doc_ids.add(doc_id)
    result.seconds = time.monotonic() - started
    for it, res in zip(index.items, items, strict=True):
        result.benchmarks.setdefault(it.benchmark, []).append(res)
    for b in benchmarks:
        result.benchmarks.setdefault(b.name, [])
    return result
