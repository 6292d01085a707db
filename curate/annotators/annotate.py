"""``curate annotate``: stream a corpus through an annotator and write a scores parquet keyed by doc id.

Output schema (one row per readable, non-empty document, in corpus order): ``doc_id`` (str), ``lang``
(str or null, from the corpus's language field), ``n_chars`` (int32, characters before truncation),
``truncated`` (bool, the backbone saw only part of the text), one ``score_<head>`` float32 column per
head, and ``score`` (float32, the mean of the heads).

Resumable by shard: documents are numbered in the corpus's stable order and every ``shard_size`` of them
form a shard, scored and written to ``<out>.work/shard-NNNNNN.parquet`` with a temp-file-and-rename, so a
shard file is either whole or absent. A rerun with the same input, annotator and settings skips the
shards already on disk (reading past their documents without embedding them). When all shards exist they
are concatenated into ``out``, again through a temp file, and the work folder is removed.

Bad records (invalid JSON, a missing text field, an empty text, an unreadable file or parquet shard) are
reported one line each and skipped; the run goes on.

The parquet's key-value metadata records provenance for dataset cards: ``curate.annotator`` (JSON:
backbone spec, device, dtype, heads, label source), ``curate.annotator_spec`` and ``curate.input``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from curate.corpus import Document, batched, expand_source, iter_documents
from curate.errors import CurateError
from curate.files import atomic_path, clean_text, fingerprint, refuse_output_over_input, write_text_atomic
from curate.progress import Messages, track

log = logging.getLogger(__name__)

SHARD_SIZE = 10_000
# Texts are cut to this many characters as they are read (far above any backbone's max_chars), so a
# shard of huge pages does not sit in memory whole; n_chars keeps the original length.
HOLD_CHARS = 200_000
CHUNK_DOCS = 512
MANIFEST = "manifest.json"


def clean_document(doc: Document) -> Document:
    """A document whose id, language and text are valid UTF-8 (`curate.files.clean_text`); the same object when they are."""
    lang = clean_text(doc.lang) if doc.lang else doc.lang
    fixed = (clean_text(doc.id), lang, clean_text(doc.text))
    if fixed == (doc.id, doc.lang, doc.text):
        return doc
    return replace(doc, id=fixed[0], lang=fixed[1], text=fixed[2])


@dataclass
class AnnotateSummary:
    """What a run did, for the CLI's last line and for provenance."""

    out: str
    documents: int = 0
    scored_now: int = 0
    resumed_shards: int = 0
    shards: int = 0
    truncated: int = 0
    skipped_records: int = 0
    seconds: float = 0.0  # the whole run, model loading and I/O included
    docs_per_s: float = 0.0  # documents scored now / seconds spent embedding and scoring them
    heads: list[str] = field(default_factory=list)
    annotator: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _atomic_write_table(table: Any, path: Path) -> None:
    import pyarrow.parquet as pq

    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def shard_ok(path: Path) -> bool:
    import pyarrow.parquet as pq

    if not path.is_file():
        return False
    try:
        pq.read_metadata(path)
        return True
    except Exception:
        log.warning("%s: unreadable shard; scoring it again", path)
        return False


def score_rows(annotator: Any, ids: list[str], texts: list[str], langs: list[str | None],
               n_chars: list[int] | None = None) -> Any:
    """Score one batch of documents into a pyarrow table with the scores-parquet schema.

    Both engines build their output with this function, so their files match column for column.
    ``n_chars`` gives the original lengths when the texts were already cut (defaults to their lengths).
    """
    from curate.annotators.heads import column_name

    lengths = n_chars if n_chars is not None else [len(t) for t in texts]
    scores, truncated = annotator.score_texts_with_info(texts)
    truncated = np.asarray(truncated, dtype=bool) | np.array([n > len(t) for n, t in zip(lengths, texts, strict=True)],
                                                            dtype=bool)
    heads = annotator.head_names
    columns: dict[str, Any] = {
        "doc_id": pa.array(ids, pa.string()),
        "lang": pa.array(langs, pa.string()),
        "n_chars": pa.array(lengths, pa.int32()),
        "truncated": pa.array(truncated.tolist(), pa.bool_()),
    }
    for j, head in enumerate(heads):
        columns[f"score_{column_name(head)}"] = pa.array(scores[:, j], pa.float32())
    columns["score"] = pa.array(scores.mean(axis=1) if heads else np.zeros(len(ids)), pa.float32())
    return pa.table(columns)


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
    corpus or the annotator: the run would overwrite the corpus, or clean up shard-named files in it."""
    sources: list[str | Path] = [*inputs]
    if isinstance(annotator, (str, Path)) and not str(annotator).startswith("hub:"):
        sources.append(annotator)
    refuse_output_over_input(out, sources, "--out")
    refuse_output_over_input(work, sources, "--work-dir")


def run_manifest(input: str | Path, annotator: str, settings: dict[str, Any]) -> dict[str, Any]:
    """What decides a run's shards: a work folder made under another manifest is not resumed."""
    path = Path(input)
    source = str(path.resolve()) if path.exists() else str(input)
    return {"input": source, "annotator": str(annotator), "input_files": fingerprint(input),
            "annotator_files": fingerprint(annotator), **settings}


def remove_work(work: Path) -> None:
    """Remove what a run put in its work folder (shards, their temp files, the manifest), then the folder if
    that left it empty: a --work-dir that holds other files keeps them. A folder without a run's manifest is
    not a work folder (`prepare_work_dir` writes the manifest before any shard), so nothing in it is touched."""
    if not (work / MANIFEST).is_file():
        return
    for f in [*work.glob("shard-*.parquet"), *work.glob(".shard-*.tmp"), *work.glob(f".{MANIFEST}.*.tmp"),
              work / MANIFEST]:
        f.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        work.rmdir()


def prepare_work_dir(work: Path, manifest: dict[str, Any], restart: bool) -> None:
    """Make (or reuse) the work folder of a run; shards made under another manifest are never mixed in.

    A folder that holds ``shard-*.parquet`` files but no manifest is refused: those files are not a run's
    (a --work-dir pointed at a parquet dataset), and resuming from them or cleaning them up would be wrong.
    """
    if work.exists() and not (work / MANIFEST).is_file() and any(work.glob("shard-*.parquet")):
        raise CurateError(f"{work}: holds shard-*.parquet files that no annotate run wrote (no {MANIFEST}); "
                          "pass another --work-dir")
    if restart and work.exists():
        remove_work(work)
    work.mkdir(parents=True, exist_ok=True)
    mpath = work / MANIFEST
    if mpath.is_file():
        try:
            previous = json.loads(mpath.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            previous = None
        if previous != manifest:
            raise CurateError(f"{work}: holds shards of a different run (input, annotator or settings differ); "
                              "rerun with --restart to discard them, or pass another --work-dir")
        return
    write_text_atomic(mpath, json.dumps(manifest, indent=2))


def combine_shards(shards: list[Path], out: Path) -> int:
    """Concatenate the shard files into ``out`` atomically; returns the row count."""
    import pyarrow.parquet as pq

    rows = 0
    writer = None
    with atomic_path(out) as tmp:
        try:
            for shard in shards:
                table = pq.read_table(shard)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                elif table.schema != writer.schema:
                    raise CurateError(f"{shard}: schema differs from the first shard's; rerun with --restart")
                writer.write_table(table)
                rows += table.num_rows
        finally:
            if writer is not None:
                writer.close()
    return rows


def annotate_corpus(input: str | Path, annotator: str | Path | Any, out: str | Path, *, device: str = "auto",
                    backbone: str | None = None, batch_tokens: int | None = None, text_field: str = "text",
                    id_field: str = "id", lang_field: str | None = "lang", shard_size: int = SHARD_SIZE,
                    chunk_docs: int = CHUNK_DOCS, work_dir: str | Path | None = None, restart: bool = False,
                    keep_work: bool = False, split: str = "train", endpoint: str | None = None,
                    trust_remote_code: bool | None = None) -> AnnotateSummary:
    """Score every document of ``input`` and write the scores parquet ``out`` (see the module doc)."""
    from curate.annotators import Annotator, load_annotator

    out = Path(out)
    work = Path(work_dir) if work_dir else out.with_name(out.name + ".work")
    guard_outputs(out, work, [input], annotator)
    expand_source(input)  # a missing file fails here, before a work folder is made
    spec = annotator if isinstance(annotator, (str, Path)) else annotator.config.get("label_source", {})
    manifest = run_manifest(input, str(spec), {"text_field": text_field, "id_field": id_field,
                                            "lang_field": lang_field, "shard_size": shard_size,
                                            "backbone": backbone})
    prepare_work_dir(work, manifest, restart)
    summary = AnnotateSummary(out=str(out))
    loaded: Annotator | None = None if isinstance(annotator, (str, Path)) else annotator

    def get_annotator() -> Annotator:
        nonlocal loaded
        if loaded is None:
            loaded = load_annotator(annotator, device, backbone=backbone, batch_tokens=batch_tokens,
                                    endpoint=endpoint, trust_remote_code=trust_remote_code)
            log.info("annotator: %s", json.dumps(loaded.describe(), ensure_ascii=False))
        return loaded

    report = Messages(lambda m: log.warning("skipped: %s", m))

    def on_error(message: str) -> None:
        summary.skipped_records += 1
        if len(summary.errors) < 1000:
            summary.errors.append(message)
        report(message)

    docs = _capped(iter_documents(input, text_field=text_field, id_field=id_field, lang_field=lang_field,
                                  split=split, on_error=on_error))
    shard_paths: list[Path] = []
    started = time.monotonic()
    scoring = 0.0  # seconds spent embedding and scoring, without model loading and I/O
    try:
        with track("annotate", total=estimate_total(input), unit="docs", show_rate=True) as tracker:
            for k, shard_docs in enumerate(batched(docs, shard_size)):
                path = work / f"shard-{k:06d}.parquet"
                shard_paths.append(path)
                summary.documents += len(shard_docs)
                if shard_ok(path):
                    summary.resumed_shards += 1
                    tracker.advance(len(shard_docs))
                    continue
                ann = get_annotator()
                tables = []
                for chunk in _chunks(shard_docs, chunk_docs):
                    t0 = time.monotonic()
                    tables.append(score_rows(ann, [d.id for d, _ in chunk], [d.text for d, _ in chunk],
                                             [d.lang for d, _ in chunk], [n for _, n in chunk]))
                    scoring += time.monotonic() - t0
                    summary.scored_now += len(chunk)
                    tracker.advance(len(chunk))
                provenance = {"curate.annotator": clean_text(json.dumps(ann.describe(), ensure_ascii=False)),
                              "curate.input": clean_text(manifest["input"]),
                              "curate.annotator_spec": clean_text(manifest["annotator"])}
                _atomic_write_table(pa.concat_tables(tables).replace_schema_metadata(provenance), path)
            tracker.update_total(tracker.done)  # skipped records counted in the estimate: finish at 100%
    except BaseException:
        if not any(work.glob("shard-*.parquet")):  # nothing to resume: leave no trace
            remove_work(work)
        raise
    summary.shards = len(shard_paths)
    if not shard_paths:
        remove_work(work)
        raise CurateError(f"{input}: no documents to annotate ({summary.skipped_records} records skipped)")
    rows = combine_shards(shard_paths, out)
    import pyarrow.parquet as pq

    table = pq.read_table(out, columns=["truncated"])
    summary.truncated = int(np.sum(table.column("truncated").to_numpy(zero_copy_only=False)))
    summary.heads = [c[len("score_"):] for c in pq.read_schema(out).names if c.startswith("score_")]
    if loaded is not None:
        summary.annotator = loaded.describe()
    summary.seconds = time.monotonic() - started
    summary.docs_per_s = summary.scored_now / scoring if scoring else 0.0
    assert rows == summary.documents, (rows, summary.documents)
    if not keep_work:
        remove_work(work)
    return summary


def _capped(docs: Iterator[Document]) -> Iterator[tuple[Document, int]]:
    for doc in docs:
        doc = clean_document(doc)
        n = len(doc.text)
        yield (replace(doc, text=doc.text[:HOLD_CHARS]) if n > HOLD_CHARS else doc), n


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def summary_dict(summary: AnnotateSummary) -> dict[str, Any]:
    data = asdict(summary)
    data["errors"] = data["errors"][:20]
    return data
