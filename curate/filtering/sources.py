"""The two passes over a corpus that both engines run, one source (file or Hub id) at a time.

Filtering needs every document's score and language before it can set per-language cuts, but the texts are
far too big to hold. So the corpus is read twice, streaming, in batches:

1. ``scan_source``: ids and languages only (language id runs here, for documents with no language in the
   corpus or the scores), a few dozen bytes per document;
2. ``export_source``: the texts of the documents the decision kept, in corpus order.

A document is addressed by (source index, row), row being its position among the documents the reader yields
for that source. Reading is deterministic, so both passes see the same rows; the id is checked again in the
second pass, so a corpus that changed in between is caught instead of exporting the wrong texts.

These functions are plain and picklable so the Ray engine can run them in remote tasks unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from curate.corpus import ReadSpec, batched, list_sources
from curate.engines import Task
from curate.errors import CurateError

__all__ = ["SCAN_SCHEMA", "ExportReader", "ReadSpec", "ScanReader", "export_source", "list_sources",
           "output_schema", "scan_source"]

# Language id reads a document's first 1,000 characters: plenty to tell a language, and three times faster
# than the 4,000 `curate.langid` allows, which matters when a whole corpus has no language field.
LID_CHARS = 1000

SCAN_SCHEMA = pa.schema([
    ("source", pa.int32()),
    ("row", pa.int64()),  # -1 on message rows
    ("id", pa.string()),
    ("corpus_lang", pa.string()),
    ("detected_lang", pa.string()),
    ("n_chars", pa.int64()),
    ("message", pa.string()),  # a bad-input message from the reader, on rows with row = -1
])


def _documents(source: str, spec: ReadSpec, on_error) -> Iterator:
    return spec.documents(source, on_error)


def scan_source(index: int, source: str, spec: ReadSpec, detect: bool, lid_model: str | None,
                batch_size: int = 2048) -> Iterator[pa.Table]:
    """Pass 1 for one source: tables in SCAN_SCHEMA, ids in corpus order, reader messages as extra rows.

    With ``detect``, documents without a language in the corpus get one from fastText language id.
    """
    messages: list[str] = []
    row = 0
    for docs in batched(_documents(source, spec, messages.append), batch_size):
        corpus_langs = [d.lang for d in docs]
        detected: list[str | None] = [None] * len(docs)
        if detect:
            from curate.langid import detect_languages

            todo = [i for i, lang in enumerate(corpus_langs) if not lang]
            if todo:
                found = detect_languages([docs[i].text[:LID_CHARS] for i in todo], lid_model)
                for i, (lang, _prob) in zip(todo, found, strict=True):
                    detected[i] = lang
        yield pa.table({
            "source": pa.array([index] * len(docs), pa.int32()),
            "row": pa.array(range(row, row + len(docs)), pa.int64()),
            "id": pa.array([d.id for d in docs], pa.string()),
            "corpus_lang": pa.array(corpus_langs, pa.string()),
            "detected_lang": pa.array(detected, pa.string()),
            "n_chars": pa.array([len(d.text) for d in docs], pa.int64()),
            "message": pa.nulls(len(docs), pa.string()),
        }, schema=SCAN_SCHEMA)
        row += len(docs)
    if messages:
        n = len(messages)
        yield pa.table({
            "source": pa.array([index] * n, pa.int32()), "row": pa.array([-1] * n, pa.int64()),
            "id": pa.nulls(n, pa.string()), "corpus_lang": pa.nulls(n, pa.string()),
            "detected_lang": pa.nulls(n, pa.string()), "n_chars": pa.nulls(n, pa.int64()),
            "message": pa.array(messages, pa.string()),
        }, schema=SCAN_SCHEMA)


def output_schema(score_columns: list[str]) -> pa.Schema:
    """The exported rows: id, text, lang, then the score columns (float32)."""
    return pa.schema([("id", pa.string()), ("text", pa.string()), ("lang", pa.string()),
                      *((c, pa.float32()) for c in score_columns)])


def export_source(source: str, spec: ReadSpec, kept: pl.DataFrame, score_columns: list[str],
                  batch_size: int = 1024) -> Iterator[pa.Table]:
    """Pass 2 for one source: the kept documents with their text, in corpus order.

    ``kept`` holds this source's kept rows (``row``, ``id``, ``lang`` and the score columns), sorted by row.
    """
    schema = output_schema(score_columns)
    if kept.height == 0:
        return
    rows = kept.get_column("row").to_list()
    expected_ids = kept.get_column("id").to_list()
    texts: list[str] = []
    start = 0  # index in ``kept`` of the first row of the pending batch
    pos = 0
    for row, doc in enumerate(_documents(source, spec, lambda _message: None)):
        if pos >= len(rows):
            break
        if row != rows[pos]:
            continue
        if doc.id != expected_ids[pos]:
            raise CurateError(f"{source}: row {row} is now {doc.id!r}, was {expected_ids[pos]!r}; "
                              "the corpus changed during filtering")
        texts.append(doc.text)
        pos += 1
        if len(texts) >= batch_size:
            yield _batch(kept.slice(start, len(texts)), texts, schema, score_columns)
            start, texts = pos, []
    if pos < len(rows):
        raise CurateError(f"{source}: {len(rows) - pos} kept documents vanished from the corpus during filtering")
    if texts:
        yield _batch(kept.slice(start, len(texts)), texts, schema, score_columns)


def _batch(kept: pl.DataFrame, texts: list[str], schema: pa.Schema, score_columns: list[str]) -> pa.Table:
    meta = kept.select(["id", "lang", *score_columns]).to_arrow()
    columns = {"id": meta.column("id"), "text": pa.array(texts, pa.string()), "lang": meta.column("lang"),
               **{c: meta.column(c) for c in score_columns}}
    return pa.table(columns).cast(schema)



@dataclass(frozen=True)
class ScanReader:
    """Pass 1 as a `curate.engines.Reader`: picklable, so any engine runs it on a source."""

    spec: ReadSpec
    detect: bool
    lid_model: str | None
    batch_size: int = 2048

    def __call__(self, task: Task) -> Iterator[pa.Table]:
        return scan_source(task.index, task.source, self.spec, self.detect, self.lid_model, self.batch_size)


@dataclass(frozen=True)
class ExportReader:
    """Pass 2 as a `curate.engines.Reader`: the kept rows of each source travel with it."""

    spec: ReadSpec
    kept: dict[int, pl.DataFrame]
    score_columns: list[str]
    batch_size: int = 1024

    def __call__(self, task: Task) -> Iterator[pa.Table]:
        return export_source(task.source, self.spec, self.kept[task.index], self.score_columns, self.batch_size)
