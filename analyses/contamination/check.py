"""Run a contamination check end to end: read benchmarks, index them, stream corpora, aggregate per item."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from analyses.contamination.index import BenchmarkIndex, Settings
from analyses.contamination.scan import Scanner
from curate.corpus import Document, FieldOptions, ReadSpec, source_name
from curate.engines import DocumentReader, Engine, Task
from curate.errors import CurateError
from curate.files import fingerprint, path_text
from curate.workdir import WorkDir, remove_folder, run_resumable

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
    options: FieldOptions = field(default_factory=FieldOptions)  # the options that gave the fields, for errors

    @classmethod
    def parse(cls, spec: str, *, options: FieldOptions | None = None, **fields: str | None) -> Source:
        """``NAME=LOCATION`` or just ``LOCATION`` (named after the file, folder or Hub id)."""
        name, sep, location = spec.partition("=")
        if not sep or not name or Path(spec).exists():
            name, location = source_name(spec), spec
        return cls(location, name, **{k: v for k, v in fields.items() if v is not None},
                   options=options or FieldOptions())

    @property
    def read(self) -> ReadSpec:
        """How its records are read: the spec every command shares (`curate.corpus.ReadSpec`), no language."""
        return ReadSpec(text_field=self.text_field, id_field=self.id_field, lang_field=None, split=self.split,
                        config_name=self.config_name)

    def documents(self, on_error: Callable[[str], None]) -> Iterator[Document]:
        return self.read.documents(self.location, on_error)

    def describe(self, role: str) -> dict[str, str | None]:
        """What the store records of it (``role``: benchmark or corpus): a local location as an absolute path,
        so the dashboard can find the file again from another working folder (as valid text: a name that is not
        UTF-8 is recorded escaped, `curate.files.path_text`)."""
        path = Path(self.location)
        location = path_text(path.resolve()) if path.exists() else path_text(self.location)
        return {"role": role, "name": self.name, "location": location, "text_field": self.text_field,
                "id_field": self.id_field, "split": self.split, "config_name": self.config_name}


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
    sources: list[dict[str, str | None]] = field(default_factory=list)  # `Source.describe` of every input

    def discard_progress(self) -> None:
        """Remove the saved progress once the results are safe (stored), so no rerun finds it."""
        if self.progress is not None:
            remove_folder(self.progress)
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


def run_key(rows: list[tuple[str, str, str]], corpora: list[tuple[str, str]], settings: Settings) -> str:
    """A digest of the benchmark items, the corpus files (name, location, size, mtime) and the settings."""
    digest = hashlib.sha256(json.dumps(asdict(settings), sort_keys=True).encode())
    for bench, item_id, text in rows:
        digest.update(f"{bench}\0{item_id}\0{text}\0".encode("utf-8", "surrogatepass"))
    for name, location in corpora:
        digest.update(json.dumps([name, location, fingerprint(location)]).encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class _CorpusReader:
    """Each source read with its own corpus's spec, in batches of about ``batch_chars`` characters."""

    specs: tuple[ReadSpec, ...]
    batch_chars: int

    def __call__(self, task: Task) -> Iterator[pa.Table]:
        return DocumentReader(self.specs[task.index], batch_docs=None, batch_chars=self.batch_chars)(task)


def _part_stats(table: pa.Table) -> dict[str, int]:
    """Documents and their UTF-8 bytes in a table of `analyses.contamination.scan.HITS_SCHEMA` rows, or of the
    reader's messages only (an engine passes a batch without documents on unscanned, in the reader's schema)."""
    if "n_bytes" not in table.column_names:
        return {"docs": 0, "bytes": 0}
    return {"docs": table.column("message").null_count, "bytes": int(pc.sum(table.column("n_bytes")).as_py() or 0)}


def _with_hits(table: pa.Table) -> pa.Table | None:
    """What a saved part keeps: documents with hits (the counts of the others are in the part's stats); None
    for a table of reader messages only."""
    if "hits" not in table.column_names:
        return None
    # A list length cast to bool is true for a non-empty list and null for a message row, which filter drops
    # (no Python scalar: it would load pandas, `curate.engines.arrays`).
    return table.filter(pc.cast(pc.list_value_length(table.column("hits")), pa.bool_()))


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
              workers: int = 1, engine: Engine | None = None, batch_chars: int = 1_000_000,
              on_error: Callable[[str], None] | None = None, advance: Callable[[int], None] | None = None,
              work_root: Path | None = None, restart: bool = False, save_every_s: float = 30.0,
              keep_progress: bool = False) -> CheckResult:
    """Check every item of ``benchmarks`` against every document of ``corpora``.

    ``engine`` (`curate.engines`) runs the scan: by default the local one with ``workers`` processes; the
    Ray engine gives the same result. With ``work_root`` the run is resumable (`curate.workdir`): progress
    is saved every ``save_every_s`` seconds in a folder below it named after everything that decides the
    result, a rerun of the same check picks up from there (``restart`` discards it), and the folder goes
    when the run ends. With ``keep_progress`` it stays, named by ``result.progress``, until the caller calls
    ``result.discard_progress()``: a caller that still has to store the results (which can fail: a locked
    store) keeps the finished scan, and a rerun takes it from there without scanning again.
    """
    from curate.engines.local import LocalEngine

    settings = settings or Settings()
    engine = engine or LocalEngine(workers)
    result = CheckResult(settings, {}, [c.name for c in corpora], workers=workers,
                         sources=[b.describe("benchmark") for b in benchmarks] + [c.describe("corpus") for c in corpora])

    def error(message: str) -> None:
        result.errors.append(message)
        if on_error is not None:
            on_error(message)

    # Every input's fields are checked before any is read: a wrong field fails in one line, in seconds.
    for src in [*benchmarks, *corpora]:
        src.read.check_fields([src.location], src.options, on_warning=error)
    rows: list[tuple[str, str, str]] = []
    for bench in benchmarks:
        first_errors: list[str] = []

        def bench_error(message: str, first_errors: list[str] = first_errors) -> None:
            first_errors.append(message)
            error(message)

        before = len(rows)
        rows.extend((bench.name, d.id, d.text) for d in bench.documents(bench_error))
        if len(rows) == before:  # empty texts only, say: fail now, not after scanning the corpus
            reason = f" (first: {first_errors[0]})" if first_errors else ""
            raise CurateError(f"benchmark {bench.name}: no item with a text in field(s) {bench.text_field!r}"
                              f"{reason}")
    index = BenchmarkIndex.build(rows, settings)
    tally = _Tally(index, result)
    # Each file of a folder corpus is a source of its own (engines spread and resume sources), named as a
    # read of the whole folder names it.
    sources: list[str] = []
    specs: list[ReadSpec] = []
    for corpus in corpora:
        files, spec = corpus.read.sources([corpus.location])
        sources.extend(files)
        specs.extend([spec] * len(files))
    read = _CorpusReader(tuple(specs), batch_chars)
    workdir = None
    if work_root is not None:
        key = run_key(rows, [(c.name, c.location) for c in corpora], settings)
        # Two runs of one check would write the same folder: its lock turns the second away.
        workdir = WorkDir(work_root / f"contamination-{key[:16]}", "contamination", {"key": key},
                          restart=restart, on_mismatch="restart",
                          busy="another curate contamination is running this same check")
    started = time.monotonic()
    with workdir or _NoWorkDir():
        for piece in run_resumable(engine, sources, read, Scanner(index), workdir=workdir,
                                   every_s=save_every_s if workdir is not None else None, stats=_part_stats,
                                   keep=_with_hits, batch_rows=1024):
            table, docs, n_bytes = piece.table, piece.stats["docs"], piece.stats["bytes"]
            if piece.resumed:
                result.resumed_docs += docs
                result.resumed_bytes += n_bytes
            else:
                for line in table.column("message").drop_null().to_pylist():
                    error(line)
                if advance is not None and docs:
                    advance(docs)  # before the piece counts as done: an interrupt here redoes it
            result.n_docs += docs
            result.n_bytes += n_bytes
            hit_rows = _with_hits(table) if table.num_rows else None
            if hit_rows is None:
                continue
            for doc_id, hits in zip(hit_rows.column("doc_id").to_pylist(), hit_rows.column("hits").to_pylist(),
                                    strict=True):
                for hit in hits:
                    tally.add(hit["item"], doc_id, hit["matched"], hit["longest"], hit["exact"])
        result.seconds = time.monotonic() - started
        result.workers = int(getattr(engine, "workers", workers) or workers)
        for it, res in zip(index.items, tally.items, strict=True):
            result.benchmarks.setdefault(it.benchmark, []).append(res)
        for b in benchmarks:
            result.benchmarks.setdefault(b.name, [])
        if workdir is not None:
            if keep_progress:
                result.progress = workdir.folder
            else:
                workdir.remove()
    return result


class _NoWorkDir:
    """Stands in for a `WorkDir` when a run saves no progress."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
