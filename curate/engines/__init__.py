"""Where the per-source work of `curate annotate`, `curate filter` and `curate contamination` runs.

Every one of these commands does the same thing at scale: read each source of a corpus (a file, or a Hub id
as one source), optionally push the documents through an expensive worker (an embedding model, a benchmark
index), and hand the results back to the driver *in corpus order*, so the driver can write one output that
does not depend on how the work was spread. An `Engine` is that one operation, ``run``; the commands only
differ in what they read and what their worker does, so the local and the Ray engine cannot drift apart:

- `curate.engines.local.LocalEngine`: this process, or a process pool fed batches by this process;
- `curate.engines.ray.RayEngine`: a Ray Data pipeline, one read task per source and a pool of actors that
  each build the worker once (a loaded model, an unpickled index) and apply it to batch after batch.

Contract of the tables that travel: every table has an int32 ``source`` column (the `Task.index` of the
source it came from) and a string ``message`` column, null on data rows; a row with a message is a
bad-input report ("x.jsonl:3: invalid JSON") that rides along in order with the data. A worker is built by
``work(device)`` and called with the data rows of a batch (possibly none); its output keeps ``source`` and
``message`` (it may add message rows of its own), and the engine puts the batch's reader messages in front.
A worker may also have ``prepare(rows)``, a hint: the local engine reads one batch ahead and calls it with
that batch's data rows before working on the current one, so the worker can start on the next batch in the
background (an embedding model tokenizes it while the GPU runs); `announce` is the one place that calls it.

Resuming is not the engines' business: `curate.workdir.run_resumable` sends them only the work left, as
tasks that skip the documents an earlier run already saved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.corpus import ReadSpec, batched
from curate.engines import arrays
from curate.files import clean_text


@dataclass(frozen=True)
class Task:
    """One source to read: its place in the corpus, where it is, and how many documents to read past."""

    index: int  # tables carry it in their ``source`` column
    source: str
    skip: int = 0  # documents an earlier run already saved: read past (their messages too), not yielded


Reader = Callable[[Task], Iterator[pa.Table]]  # picklable: runs in a Ray task or this process
Worker = Callable[[pa.Table], pa.Table]
WorkerFactory = Callable[[str], Worker]  # device -> worker; picklable, called once per process or actor


class Engine(Protocol):
    """Runs ``read`` on every task and ``work`` on what it read; yields tables in task order, then row order."""

    name: str

    def run(self, tasks: Sequence[Task], read: Reader, work: WorkerFactory | None = None, *,
            device: str = "cpu", batch_rows: int | None = None) -> Iterator[pa.Table]: ...


def apply_worker(worker: Worker, batch: pa.Table) -> pa.Table:
    """The worker on the data rows of ``batch``; the batch's message rows go first, in the output's schema."""
    is_message = batch.column("message").is_valid()
    messages = batch.filter(is_message)
    out = worker(batch.filter(pc.invert(is_message)))
    if not messages.num_rows:
        return out
    n = messages.num_rows
    extra = {f.name: pa.nulls(n, f.type) for f in out.schema}
    extra["source"] = messages.column("source").cast(out.schema.field("source").type)
    extra["message"] = messages.column("message").cast(out.schema.field("message").type)
    return pa.concat_tables([pa.table(extra, schema=out.schema), out])


def announce(worker: Worker, batch: pa.Table) -> None:
    """Tell a worker that has ``prepare`` which data rows come next (nothing for batches of messages only)."""
    prepare = getattr(worker, "prepare", None)
    if prepare is None:
        return
    rows = batch.filter(pc.is_null(batch.column("message")))
    if rows.num_rows:
        prepare(rows)


def split_sources(table: pa.Table) -> Iterator[tuple[int, pa.Table]]:
    """``(source, rows)`` for each source a table holds, in order (a re-batched table may span sources)."""
    if not table.num_rows:
        return
    source = arrays.to_numpy(table.column("source"))
    if source[0] == source[-1] and (source == source[0]).all():
        yield int(source[0]), table
        return
    for i in np.unique(source).tolist():  # corpus order within the table: unique() sorts, as order is
        yield int(i), table.filter(arrays.from_values(source == i, pa.bool_()))


DOCS_SCHEMA = pa.schema([("source", pa.int32()), ("doc_id", pa.string()), ("lang", pa.string()),
                         ("text", pa.string()), ("n_chars", pa.int64()), ("message", pa.string())])


@dataclass(frozen=True)
class DocumentReader:
    """The documents of one source as `DOCS_SCHEMA` tables, through `curate.corpus` (`ReadSpec`).

    At most ``batch_docs`` documents and about ``batch_chars`` characters per table (either may be None: no
    limit of that kind); texts cut to ``hold_chars``
    (``n_chars`` keeps the original length) so huge pages never travel whole. Ids, languages and texts are
    made valid UTF-8 (`curate.files.clean_text`: a lone surrogate from a JSON escape becomes ``\\ud800``), as
    Arrow, polars and the store need.
    """

    spec: ReadSpec
    batch_docs: int | None = 512
    batch_chars: int | None = None
    hold_chars: int | None = None

    def __call__(self, task: Task) -> Iterator[pa.Table]:
        messages: list[str] = []
        muted = task.skip > 0

        def on_error(message: str) -> None:
            if not muted:  # documents an earlier run read were reported by it
                messages.append(clean_text(message))

        docs = self.spec.documents(task.source, on_error)
        for _ in range(task.skip):
            if next(docs, None) is None:
                break
        muted = False
        for chunk in self._chunks(docs):
            yield self._table(task.index, chunk, messages)
            messages = []
        if messages:
            yield self._table(task.index, [], messages)

    def _chunks(self, docs: Iterator) -> Iterator[list]:
        if self.batch_chars is None and self.batch_docs is not None:
            yield from batched(docs, self.batch_docs)
            return
        chunk: list = []
        size = 0
        for doc in docs:
            chunk.append(doc)
            size += len(doc.text)
            if (self.batch_chars is not None and size >= self.batch_chars) or len(chunk) == self.batch_docs:
                yield chunk
                chunk, size = [], 0
        if chunk:
            yield chunk

    def _table(self, index: int, docs: list, messages: list[str]) -> pa.Table:
        hold = self.hold_chars
        texts = [d.text if hold is None else d.text[:hold] for d in docs]
        n, m = len(docs), len(messages)
        schema = DOCS_SCHEMA
        data = pa.table({
            "source": arrays.from_values(np.full(n, index, np.int32), pa.int32()),
            "doc_id": arrays.utf8([d.id for d in docs]),
            "lang": arrays.utf8([d.lang for d in docs]),
            "text": arrays.utf8(texts),
            "n_chars": arrays.from_values([len(d.text) for d in docs], pa.int64()),
            "message": pa.nulls(n, pa.string()),
        }, schema=schema)
        if not m:
            return data
        notes = pa.table({"source": arrays.from_values(np.full(m, index, np.int32), pa.int32()),
                          "doc_id": pa.nulls(m, pa.string()),
                          "lang": pa.nulls(m, pa.string()), "text": pa.nulls(m, schema.field("text").type),
                          "n_chars": pa.nulls(m, pa.int64()), "message": arrays.utf8(messages)},
                         schema=schema)
        return pa.concat_tables([notes, data])


def make_engine(name: str, *, workers: int = 1, address: str | None = None, **ray_options: object) -> Engine:
    """The engine a ``--engine`` flag names: ``local`` (``workers`` processes) or ``ray`` (``--ray-address``)."""
    if name == "ray":
        from curate.engines.ray import RayEngine

        return RayEngine(address, **ray_options)  # type: ignore[arg-type]
    if name != "local":
        raise ValueError(f"unknown engine {name!r} (local or ray)")
    from curate.engines.local import LocalEngine

    return LocalEngine(workers)


__all__ = ["DOCS_SCHEMA", "DocumentReader", "Engine", "Reader", "Task", "Worker",
           "WorkerFactory", "announce", "apply_worker", "make_engine", "split_sources"]
