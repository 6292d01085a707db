"""The local engine: everything in this process, or the worker in a pool of processes fed from here.

With one worker (the default) reading and working happen here, one source after another; the worker is
built on the first batch that holds documents, so a run with nothing (readable) left to do never loads
a model; batches of reader messages before it pass through as they are. The reader runs one batch ahead,
and a worker with ``prepare`` hears of that batch before it works on the current one (`announce`), so it
can start on it in the background. With more, this process
still reads (in corpus order) and sends each batch to a spawned process that built the worker once at
start-up; at most two batches per process are in flight, so memory stays flat however large the corpus.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from curate import config
from curate.engines import Reader, Task, Worker, WorkerFactory, announce, apply_worker

_WORKER: Worker | None = None  # in a pool process: the worker built by `_init`


def _init(work: WorkerFactory, device: str) -> None:
    global _WORKER
    _WORKER = work(device)


def _apply(batch: pa.Table) -> pa.Table:
    assert _WORKER is not None
    return apply_worker(_WORKER, batch)


class LocalEngine:
    """`curate.engines.Engine` in this process (``workers`` <= 1) or a spawned process pool."""

    name = "local"

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, int(workers))
        self.device: str | None = None  # the device the worker was built for, once one was

    def run(self, tasks: Sequence[Task], read: Reader, work: WorkerFactory | None = None, *,
            device: str = "cpu", batch_rows: int | None = None) -> Iterator[pa.Table]:
        batches = (table for task in tasks for table in read(task))
        if work is None:
            yield from batches
            return
        self.device = device
        if self.workers <= 1:
            worker: Worker | None = None
            current: pa.Table | None = None  # read, waiting for the next batch to be read and announced
            for batch in batches:
                if worker is None:
                    if batch.column("message").null_count == 0:
                        yield batch  # reader messages only: no reason to load a model yet
                        continue
                    worker = work(device)
                if current is not None:
                    announce(worker, batch)
                    yield apply_worker(worker, current)
                current = batch
            if worker is not None and current is not None:
                yield apply_worker(worker, current)
            return
        yield from self._pool(batches, work, device)

    def _pool(self, batches: Iterator[pa.Table], work: WorkerFactory, device: str) -> Iterator[pa.Table]:
        # Spawned, not forked (polars' thread pool does not survive a fork), one polars thread each: the
        # processes already fill the cores.
        with config.child_environment(POLARS_MAX_THREADS="1"):
            pool = mp.get_context("spawn").Pool(self.workers, initializer=_init, initargs=(work, device))
        try:
            pending: list[Any] = []
            for batch in batches:
                pending.append(pool.apply_async(_apply, (batch,)))
                if len(pending) >= 2 * self.workers:
                    yield pending.pop(0).get()
            for result in pending:
                yield result.get()
        finally:
            pool.terminate()
            pool.join()
