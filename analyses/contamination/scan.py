"""The corpus side of a check: stream documents through worker processes, in bounded memory.

The main process reads documents and groups them into batches of about ``batch_chars`` characters; up to
two batches per worker are in flight, so memory stays flat however large the corpus. A worker normalizes a
batch, hashes every n-gram of the lengths the benchmark uses (numpy, see `hashing`), drops almost all of
them with a prefilter table and looks the rest up in the item tables. For each (document, item) pair with
a hit it reports how many of the item's distinct n-grams the document holds and the longest run of
consecutive item n-grams found consecutively in the document; a run covering the whole item is an exact
match of its normalized text.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import polars as pl

from analyses.contamination.hashing import SpanHasher, tokenize
from analyses.contamination.index import PREFILTER_BITS, BenchmarkIndex
from analyses.contamination.normalize import normalize_series

SHIFT = np.uint64(64 - PREFILTER_BITS)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Hit:
    """Item ``item`` (index into the benchmark index) found in document ``doc`` of a batch."""

    doc: int
    item: int
    matched: int  # distinct item n-grams present in the document
    longest_chars: int  # normalized characters of the longest contiguous match
    exact: bool


def _longest_run(pairs: list[tuple[int, int]]) -> tuple[int, int]:
    """Longest run of consecutive item positions on one diagonal (doc position - item position).

    Returns (first item position, run length in n-grams).
    """
    best_start, best_len = 0, 0
    by_diag: dict[int, list[int]] = defaultdict(list)
    for diag, q in pairs:
        by_diag[diag].append(q)
    for qs in by_diag.values():
        qs.sort()
        start, prev = qs[0], qs[0]
        for q in qs[1:]:
            if q == prev + 1:
                prev = q
                continue
            if q == prev:
                continue
            if prev - start + 1 > best_len:
                best_start, best_len = start, prev - start + 1
            start = prev = q
        if prev - start + 1 > best_len:
            best_start, best_len = start, prev - start + 1
    return best_start, best_len


def scan_texts(index: BenchmarkIndex, texts: list[str]) -> list[Hit]:
    """Every (document, item) pair of a batch that shares at least one n-gram."""
    if not index.tables or not texts:
        return []
    normalized = normalize_series(pl.Series(texts, dtype=pl.String))
    token_hashes, lengths = tokenize(normalized)
    del normalized
    hasher = SpanHasher(token_hashes, lengths)
    pairs: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for length in sorted(index.tables):
        table = index.tables[length]
        hashes = hasher.hashes(length)
        starts = np.flatnonzero(index.prefilter[hashes >> SHIFT])
        starts = starts[hasher.inside(starts, length)]
        found_hashes = hashes[starts]
        lo = np.searchsorted(table.keys, found_hashes, "left")
        hi = np.searchsorted(table.keys, found_hashes, "right")
        found = np.flatnonzero(hi > lo)
        docs = hasher.text_of(starts[found])
        for s, doc, a, b in zip(starts[found].tolist(), docs.tolist(), lo[found].tolist(), hi[found].tolist(),
                                strict=True):
            p = s - int(hasher.offsets[doc])
            for j in range(a, b):
                q = int(table.pos[j])
                pairs[(doc, int(table.item[j]))].append((p - q, q))
    hits = []
    for (doc, item_idx), found_pairs in pairs.items():
        item = index.items[item_idx]
        matched = len(np.unique(item.hashes[[q for _, q in found_pairs]]))
        first, run = _longest_run(found_pairs)
        exact = run == len(item.hashes)
        hits.append(Hit(doc, item_idx, matched, item.chars(first, run), exact))
    return hits


# Worker processes: the index is sent once, at start-up.
_INDEX: BenchmarkIndex | None = None


def _init(index: BenchmarkIndex) -> None:
    global _INDEX
    _INDEX = index


def _work(texts: list[str]) -> list[Hit]:
    assert _INDEX is not None
    return scan_texts(_INDEX, texts)


def scan_batches(index: BenchmarkIndex, batches: Iterable[tuple[T, list[str]]],
                 workers: int) -> Iterator[tuple[T, list[Hit]]]:
    """``(payload, hits)`` for each ``(payload, texts)`` batch, in order; the payload (document ids, say) stays in
    this process. ``workers`` > 1 runs batches in that many processes, at most two batches per worker in
    flight (the rest of the corpus is not read ahead)."""
    if workers <= 1:
        for payload, texts in batches:
            yield payload, scan_texts(index, texts)
        return
    # Workers are spawned, not forked (polars' thread pool does not survive a fork), and use one thread
    # each: the processes already fill the cores.
    previous = os.environ.get("POLARS_MAX_THREADS")
    os.environ["POLARS_MAX_THREADS"] = "1"
    try:
        pool = mp.get_context("spawn").Pool(workers, initializer=_init, initargs=(index,))
    finally:
        if previous is None:
            os.environ.pop("POLARS_MAX_THREADS", None)
        else:
            os.environ["POLARS_MAX_THREADS"] = previous
    try:
        pending = []
        for payload, texts in batches:
            pending.append((payload, pool.apply_async(_work, (texts,))))
            if len(pending) >= 2 * workers:
                done, result = pending.pop(0)
                yield done, result.get()
        for done, result in pending:
            yield done, result.get()
    finally:
        pool.terminate()
        pool.join()
