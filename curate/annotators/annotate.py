"""``curate annotate``: stream a corpus through an annotator and write a scores parquet keyed by doc id.

Output schema (one row per readable, non-empty document, in corpus order): ``doc_id`` (str), ``lang``
(str or null, from the corpus's language field), ``n_chars`` (int32, characters before truncation),
``truncated`` (bool, the backbone saw only part of the text), one ``score_<head>`` float32 column per
head, and ``score`` (float32, the mean of the heads). `scores_table` is the one place that builds it.

One entry point, `annotate_corpus`, whatever the engine (`curate.engines`): the local engine scores in this
process; the Ray engine reads sources in Ray tasks and scores in a pool of actors that each load the
annotator once (one per GPU on CUDA, else one per CPU slot). Both give the same rows in the same order.

Both hand the annotator windows of documents (``chunk_docs``, the whole ``shard_size`` part by default; the
local reader also closes a window at ``WINDOW_CHARS`` characters), and the backbone sorts each window by
token length before batching (`curate.annotators.batching`): the bigger the window, the less padding and the
fewer batch shapes. In this process the progress bar follows the batches inside a window.

Resumable (`curate.workdir`): the scores of every ``shard_size`` consecutive documents of a source go to a
part in the work folder (``<out>.work`` by default) through a temp file and a rename, so a part is whole or
absent. A rerun with the same inputs, annotator and reading settings loads the saved parts and scores only
the rest, on either engine; when every source is complete the parts are concatenated into ``out``, again
through a temp file, and the work folder is removed.

Bad records (invalid JSON, a missing text field, an empty text, an unreadable file or parquet shard) are
reported one line each and skipped; the run goes on.

The parquet's key-value metadata records provenance for dataset cards: ``curate.annotator`` (JSON:
backbone spec, device, dtype, heads, label source), ``curate.annotator_spec`` and ``curate.input``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.corpus import ReadSpec, expand_source
from curate.engines import DocumentReader, Engine
from curate.errors import CurateError
from curate.files import (
    atomic_path,
    check_output_file,
    clean_text,
    fingerprint,
    parquet_mark,
    refuse_output_over_input,
)
from curate.progress import Messages, track
from curate.workdir import WorkDir, load_part, run_resumable

log = logging.getLogger(__name__)

SHARD_SIZE = 10_000
# Texts are cut to this many characters as they are read (far above any backbone's max_chars), so a
# batch of huge pages does not sit in memory or travel whole; n_chars keeps the original length, and such
# a text counts as truncated.
HOLD_CHARS = 200_000
# A window (what the backbone sorts and batches at once) holds the documents of one part by default; the local
# reader also closes it at this many characters, so a corpus of huge pages does not sit in memory whole.
WINDOW_CHARS = 64_000_000
DESCRIBE = "\x00curate.annotator:"  # prefix of the one message row a worker sends with its annotator's description

AnnotatorFactory = Callable[[str, str], Any]  # (spec, device) -> object with head_names and score_texts


@dataclass
class AnnotateSummary:
    """What a run did, for the CLI's last line and for provenance."""

    out: str
    documents: int = 0
    scored_now: int = 0
    resumed_shards: int = 0  # saved parts loaded instead of scored
    shards: int = 0  # parts in all
    resumed_sources: int = 0  # sources an earlier run had finished
    truncated: int = 0
    skipped_records: int = 0
    seconds: float = 0.0  # the whole run, model loading and I/O included
    docs_per_s: float = 0.0  # documents scored now / seconds spent scoring them
    heads: list[str] = field(default_factory=list)
    annotator: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    engine: str = "local"
    workers: int = 1  # scoring processes or actors
    device: str | None = None
    run_id: int | None = None  # the run recorded in the store (`curate.api.annotate`), if any


def scores_schema(head_names: Sequence[str]) -> pa.Schema:
    """The scores parquet contract: ids, language, length, truncation, one column per head, their mean."""
    return pa.schema([("doc_id", pa.string()), ("lang", pa.string()), ("n_chars", pa.int32()),
                      ("truncated", pa.bool_()), *((f"score_{h}", pa.float32()) for h in head_names),
                      ("score", pa.float32())])


def score_with_info(annotator: Any, texts: list[str], on_progress: Callable[[int], None] | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(scores float32 (n, heads), truncated bool (n,)); annotators that cannot tell report no truncation.

    ``on_progress(n)`` reaches annotators whose ``score_texts_with_info`` takes it (curate's own), so the
    progress bar moves within a window; other annotator objects are called as they are.
    """
    from curate.annotators.embedders import takes_progress

    if hasattr(annotator, "score_texts_with_info"):
        if on_progress is not None and takes_progress(annotator.score_texts_with_info):
            scores, truncated = annotator.score_texts_with_info(texts, on_progress=on_progress)
        else:
            scores, truncated = annotator.score_texts_with_info(texts)
    else:
        scores, truncated = annotator.score_texts(texts), np.zeros(len(texts), dtype=bool)
    scores = np.asarray(scores, dtype=np.float32).reshape(len(texts), len(annotator.head_names))
    return scores, np.asarray(truncated, dtype=bool)


def scores_table(ids: list[str], langs: list[str | None], n_chars: list[int], scores: np.ndarray,
                 truncated: np.ndarray, head_names: Sequence[str]) -> pa.Table:
    """One batch of scores in the contract schema; ``score`` is the mean of the heads, as float32.

    The one builder of the scores table: every engine's workers call it, so their files match byte for byte.
    """
    columns: dict[str, Any] = {
        "doc_id": pa.array(ids, pa.string()),
        "lang": pa.array(langs, pa.string()),
        "n_chars": pa.array(n_chars, pa.int32()),
        "truncated": pa.array(np.asarray(truncated, dtype=bool), pa.bool_()),
    }
    for j, head in enumerate(head_names):
        columns[f"score_{head}"] = pa.array(scores[:, j], pa.float32())
    columns["score"] = pa.array(scores.mean(axis=1) if len(head_names) else np.zeros(len(ids)), pa.float32())
    return pa.table(columns, schema=scores_schema(head_names))


class _ScoreWorker:
    """One loaded annotator; scores `curate.engines.DOCS_SCHEMA` batches into scores tables."""

    def __init__(self, annotator: Any, on_progress: Callable[[int], None] | None = None) -> None:
        from curate.annotators.heads import column_name

        self.annotator = annotator
        self.heads = [column_name(h) for h in annotator.head_names]
        self.described = False
        self.on_progress = on_progress

    def prepare(self, docs: pa.Table) -> None:
        """The engine's hint that ``docs`` come next (`curate.engines.Worker`): passed on to the annotator."""
        prepare = getattr(self.annotator, "prepare", None)
        if prepare is not None:
            prepare(docs.column("text").to_pylist())

    def __call__(self, docs: pa.Table) -> pa.Table:
        texts = docs.column("text").to_pylist()
        n_chars = docs.column("n_chars").to_pylist()
        if texts:
            scores, truncated = score_with_info(self.annotator, texts, self.on_progress)
            truncated = truncated | np.array([n > len(t) for t, n in zip(texts, n_chars, strict=True)], dtype=bool)
        else:
            scores, truncated = np.zeros((0, len(self.heads)), np.float32), np.zeros(0, bool)
        out = scores_table(docs.column("doc_id").to_pylist(), docs.column("lang").to_pylist(), n_chars, scores,
                           truncated, self.heads)
        out = out.append_column("source", docs.column("source")).append_column(
            "message", pa.nulls(out.num_rows, pa.string()))
        if not self.described:  # the driver writes the annotator's description into the provenance
            self.described = True
            describe = getattr(self.annotator, "describe", dict)()
            note = {f.name: pa.nulls(1, f.type) for f in out.schema}
            note["source"] = pa.array([docs.column("source")[0].as_py() if docs.num_rows else 0], pa.int32())
            note["message"] = pa.array([DESCRIBE + json.dumps(describe, ensure_ascii=False)], pa.string())
            out = pa.concat_tables([pa.table(note, schema=out.schema), out])
        return out


@dataclass
class _Scorer:
    """Builds a worker once per process or actor: loads the annotator (or uses the one given)."""

    spec: str
    load_kwargs: dict[str, Any]
    factory: AnnotatorFactory | None = None
    instance: Any = None  # an annotator object handed to annotate_corpus (this process only)
    on_progress: Callable[[int], None] | None = None  # this process only: dropped when sent elsewhere

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "on_progress": None}

    def __call__(self, device: str) -> _ScoreWorker:
        if self.instance is not None:
            annotator = self.instance
        elif self.factory is not None:
            annotator = self.factory(self.spec, device)
        else:
            from curate.annotators import load_annotator

            annotator = load_annotator(self.spec, device, **self.load_kwargs)
        return _ScoreWorker(annotator, self.on_progress)


COUNT_LINES_UP_TO = 1 << 30  # count JSONL/CSV lines for the progress total only below 1 GB in all


def estimate_total(input: str | Path) -> int | None:
    """How many records the input holds, when that is cheap to know (parquet footers, small text files),
    so the progress bar can show an ETA; None otherwise (Hub datasets, gzip, large text files)."""
    import pyarrow.parquet as pq

    files = expand_source(input)
    if isinstance(files, str):
        return None
    total = 0
    text_bytes = sum(p.stat().st_size for p in files if not p.name.endswith(".parquet"))
    if text_bytes > COUNT_LINES_UP_TO or any(p.name.endswith(".gz") for p in files):
        return None
    for path in files:
        try:
            if path.name.endswith(".parquet"):
                total += pq.read_metadata(path).num_rows
            else:
                with path.open("rb") as fh:
                    lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
                total += lines - (1 if path.suffix == ".csv" else 0)
        except Exception:
            continue  # the reader reports unreadable files itself
    return total


def guard_outputs(out: Path, work: Path, inputs: list[str | Path], annotator: Any) -> None:
    """Refuse, before any work, an ``--out`` or ``--work-dir`` that is (or is inside, or holds) an input
    corpus or the annotator: the run would overwrite the corpus, or clean up shard-named files in it; and an
    ``--out`` file curate did not write (a scores parquet of an earlier run is replaced: that is the resume)."""
    sources: list[str | Path] = [*inputs]
    if isinstance(annotator, (str, Path)) and not str(annotator).startswith("hub:"):
        sources.append(annotator)
    refuse_output_over_input(out, sources, "--out")
    refuse_output_over_input(work, sources, "--work-dir")
    check_output_file(out, "--out")


def run_manifest(input: str | Path, annotator: str, settings: dict[str, Any]) -> dict[str, Any]:
    """What decides a run's results: a work folder made under another manifest is not resumed."""
    path = Path(input)
    source = str(path.resolve()) if path.exists() else str(input)
    return {"input": source, "annotator": str(annotator), "input_files": fingerprint(input),
            "annotator_files": fingerprint(annotator), **settings}


def annotate_corpus(input: str | Path | Sequence[str | Path], annotator: str | Path | Any, out: str | Path, *,
                    engine: Engine | None = None, device: str = "auto", backbone: str | None = None,
                    batch_tokens: int | None = None, text_field: str = "text", id_field: str = "id",
                    lang_field: str | None = "lang", shard_size: int = SHARD_SIZE, chunk_docs: int | None = None,
                    work_dir: str | Path | None = None, restart: bool = False, keep_work: bool = False,
                    split: str = "train", endpoint: str | None = None, trust_remote_code: bool | None = None,
                    annotator_factory: AnnotatorFactory | None = None,
                    on_message: Callable[[str], None] | None = None) -> AnnotateSummary:
    """Score every document of ``input`` (one or several) and write the scores parquet ``out``.

    ``annotator`` is anything `curate.annotators.load_annotator` takes (loaded once per process or actor
    with ``backbone``, ``batch_tokens``, ``endpoint``, ``trust_remote_code``), or a loaded annotator object
    (local engine only). ``annotator_factory(spec, device)`` replaces the loader (tests, custom models); on
    Ray it runs inside the actors, so it must be importable or picklable there. ``engine`` defaults to
    `curate.engines.local.LocalEngine`. ``chunk_docs`` is how many documents the backbone sorts and batches
    at once (default: ``shard_size``). See the module docstring for the output and for resuming.
    """
    from curate.engines.local import LocalEngine

    engine = engine or LocalEngine()
    inputs = [str(x) for x in input] if isinstance(input, (list, tuple)) else [str(input)]
    out = Path(out)
    work = Path(work_dir) if work_dir else out.with_name(out.name + ".work")
    guard_outputs(out, work, list(inputs), annotator)
    # A missing input, or a field its records lack, fails here, before a work folder is made.
    sources, spec = ReadSpec(text_field=text_field, id_field=id_field, lang_field=lang_field,
                             split=split).sources(inputs)
    spec.check_fields(sources, on_warning=on_message)
    loaded = not isinstance(annotator, (str, Path))
    spec_name = str(annotator.config.get("label_source", {})) if loaded else str(annotator)
    settings = {"text_field": text_field, "id_field": id_field, "lang_field": lang_field, "split": split,
                "backbone": backbone}
    runs = [run_manifest(i, spec_name, {}) for i in inputs]
    manifest = {**runs[0], **settings} if len(runs) == 1 else {"inputs": runs, **settings}
    provenance = {**parquet_mark("annotate"), "curate.annotator": "{}", "curate.annotator_spec": clean_text(spec_name),
                  "curate.input": clean_text(runs[0]["input"]) if len(runs) == 1
                  else clean_text(json.dumps([r["input"] for r in runs]))}
    window = int(chunk_docs or shard_size)
    scorer = _Scorer(spec_name, {"backbone": backbone, "batch_tokens": batch_tokens, "endpoint": endpoint,
                                 "trust_remote_code": trust_remote_code},
                     annotator_factory, annotator if loaded else None)
    summary = AnnotateSummary(out=str(out), engine=engine.name)
    report = on_message or Messages(lambda m: log.warning("skipped: %s", m))
    described: dict[str, str] = {}

    def keep(table: pa.Table) -> pa.Table | None:
        """What a part stores: the scores rows, with this run's provenance (a rerun publishes the first's)."""
        if "score" not in table.column_names:  # reader messages that came before any scoring
            return None
        for line in table.column("message").drop_null().to_pylist():
            if line.startswith(DESCRIBE) and "curate.annotator" not in described:
                described["curate.annotator"] = clean_text(line[len(DESCRIBE):])
        rows = table.filter(pc.is_null(table.column("message"))).drop_columns(["source", "message"])
        return rows.replace_schema_metadata({**provenance, **described})

    logged = False  # the annotator's description is logged once, from the first batch that carries it
    started = time.monotonic()
    with WorkDir(work, "annotate", manifest, restart=restart,
                 busy=f"another curate annotate is writing {work}") as workdir:
        summary.resumed_sources = sum(workdir.saved(f"{i:06d}")[1] for i in range(len(sources)))
        last = started
        scoring = 0.0
        with track(f"annotate ({engine.name})", total=_estimate(inputs), unit="docs", show_rate=True) as tracker:
            shown = 0  # documents the bar shows: scored inside a window (this process) or received

            def scored(n: int) -> None:
                nonlocal shown
                shown += n
                tracker.advance(n)

            scorer.on_progress = scored
            reader = DocumentReader(spec, batch_docs=window, batch_chars=WINDOW_CHARS, hold_chars=HOLD_CHARS)
            for piece in run_resumable(engine, sources, reader, scorer, workdir=workdir, part_docs=shard_size,
                                       keep=keep, device=device, batch_rows=window):
                docs = piece.stats["docs"]
                summary.documents += docs
                if summary.documents > shown:
                    tracker.advance(summary.documents - shown)
                    shown = summary.documents
                if piece.resumed:
                    summary.resumed_shards += 1
                    continue
                for line in piece.table.column("message").drop_null().to_pylist():
                    if line.startswith(DESCRIBE):
                        if not logged:
                            logged = True
                            log.info("annotator: %s", line[len(DESCRIBE):])
                        continue
                    summary.skipped_records += 1
                    if len(summary.errors) < 1000:
                        summary.errors.append(line)
                    report(line)
                summary.scored_now += docs
                now = time.monotonic()
                scoring += now - last
                last = now
            tracker.update_total(tracker.done)  # skipped records counted in the estimate: finish at 100%
        summary.workers = int(getattr(engine, "workers", 1) or 1)
        summary.device = getattr(engine, "device", None)
        parts = _parts(workdir, len(sources))
        summary.shards = len(parts)
        rows = _publish(parts, out) if summary.documents else 0
        if not rows:
            workdir.remove()
            raise CurateError(f"{', '.join(inputs)}: no documents to annotate "
                              f"({summary.skipped_records} records skipped)")
        if not keep_work:
            workdir.remove()
    import pyarrow.parquet as pq

    table = pq.read_table(out, columns=["truncated"])
    summary.truncated = int(np.sum(table.column("truncated").to_numpy(zero_copy_only=False)))
    schema = pq.read_schema(out)
    summary.heads = [c[len("score_"):] for c in schema.names if c.startswith("score_")]
    with _suppress_json():
        summary.annotator = json.loads((schema.metadata or {}).get(b"curate.annotator", b"{}"))
    summary.seconds = time.monotonic() - started
    summary.docs_per_s = summary.scored_now / scoring if scoring else 0.0
    assert rows == summary.documents, (rows, summary.documents)
    return summary


def _suppress_json() -> Any:
    import contextlib

    return contextlib.suppress(json.JSONDecodeError, UnicodeDecodeError)


def _estimate(inputs: list[str]) -> int | None:
    totals = [estimate_total(i) for i in inputs]
    return None if any(t is None for t in totals) else sum(t for t in totals if t is not None)


def _parts(workdir: WorkDir, n_sources: int) -> list[Path]:
    """Every part of the run, in corpus order."""
    parts: list[Path] = []
    for i in range(n_sources):
        saved, complete = workdir.saved(f"{i:06d}")
        if not complete:
            raise CurateError(f"{workdir.folder}: source {i} is incomplete after the run; rerun")
        parts.extend(path for path, _ in saved)
    return parts


def _publish(parts: list[Path], out: Path) -> int:
    """Concatenate the parts into ``out`` atomically, with the parts' provenance; returns the row count.

    The annotator's description reaches the driver with a worker's first batch, which need not belong to the
    first part (Ray actors run sources in parallel), so the provenance is taken from the first part that
    carries the description: every part of one work folder comes from the same annotator.
    """
    import pyarrow.parquet as pq

    tables = [load_part(p) for p in parts]
    tables = [t for t in tables if t.num_rows] or tables[:1]
    if not tables:
        return 0
    described = [t for t in tables if (t.schema.metadata or {}).get(b"curate.annotator", b"{}") != b"{}"]
    schema = (described or tables)[0].schema
    rows = 0
    with atomic_path(out) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        for table in tables:
            if table.schema.remove_metadata() != schema.remove_metadata():
                raise CurateError(f"{out}: saved parts differ in their columns; rerun with --restart")
            writer.write_table(table.replace_schema_metadata(schema.metadata))
            rows += table.num_rows
    return rows


def summary_dict(summary: AnnotateSummary) -> dict[str, Any]:
    data = asdict(summary)
    data["errors"] = data["errors"][:20]
    return data
