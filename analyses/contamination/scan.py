"""The corpus side of a check: the worker an engine (`curate.engines`) runs on batches of documents.

An engine reads documents and groups them into batches of about ``batch_chars`` characters; the local
engine keeps up to two batches per worker process in flight, the Ray engine streams them to a pool of
actors, so memory stays flat however large the corpus. Each process or actor gets the index once. A worker
normalizes a batch, hashes every n-gram of the lengths the benchmark uses (numpy, see `hashing`), drops almost all of
them with a prefilter table and looks the rest up in the item tables. For each (document, item) pair with
a hit it reports how many of the item's distinct n-grams the document holds and the longest run of
consecutive item n-grams found consecutively in the document; a run covering the whole item is an exact
match of its normalized text.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute

from analyses.contamination.hashing import SpanHasher, tokenize
from analyses.contamination.index import PREFILTER_BITS, BenchmarkIndex
from analyses.contamination.normalize import normalize_series
from curate.engines import arrays

SHIFT = np.uint64(64 - PREFILTER_BITS)


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


def scan_texts(index: BenchmarkIndex, texts: list[str] | pl.Series) -> list[Hit]:
    """Every (document, item) pair of a batch that shares at least one n-gram.

    ``texts`` may be a polars String series: a worker hands its Arrow column over as one, without a Python
    string per document.
    """
    if not index.tables or not len(texts):
        return []
    series = texts if isinstance(texts, pl.Series) else pl.Series(texts, dtype=pl.String)
    normalized = normalize_series(series)
    del series
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


HITS_SCHEMA = pa.schema([
    ("source", pa.int32()),
    ("doc_id", pa.string()),
    ("n_bytes", pa.int64()),  # UTF-8 bytes of the document's text, for the MB/s figures
    ("hits", pa.list_(pa.struct([("item", pa.int64()), ("matched", pa.int64()), ("longest", pa.int64()),
                                 ("exact", pa.bool_())]))),
    ("message", pa.string()),
])


class _ScanWorker:
    """`scan_texts` over `curate.engines.DOCS_SCHEMA` batches: one row per document with its hits.

    One row per document, hits in item order, so what the driver tallies depends neither on how the corpus
    was cut into batches nor on the engine.
    """

    def __init__(self, index: BenchmarkIndex) -> None:
        self.index = index

    def __call__(self, docs: pa.Table) -> pa.Table:
        # The Arrow column goes to polars as it is: a Python string per document would be built only to be
        # encoded again.
        texts = pl.Series("t", docs.column("text"), dtype=pl.String)
        hits = sorted(scan_texts(self.index, texts), key=lambda h: (h.doc, h.item))
        # Built column-wise (one list per document, most of them empty): a list per row would cost more.
        counts = np.bincount(np.array([h.doc for h in hits], dtype=np.int64), minlength=docs.num_rows)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        values = pa.StructArray.from_arrays(
            [arrays.from_values([h.item for h in hits], pa.int64()),
             arrays.from_values([h.matched for h in hits], pa.int64()),
             arrays.from_values([h.longest_chars for h in hits], pa.int64()),
             arrays.from_values([h.exact for h in hits], pa.bool_())],
            fields=list(HITS_SCHEMA.field("hits").type.value_type))
        return pa.table({
            "source": docs.column("source"),
            "doc_id": docs.column("doc_id"),
            "n_bytes": pa.compute.binary_length(docs.column("text")).cast(pa.int64()),
            "hits": pa.ListArray.from_arrays(arrays.from_values(offsets, pa.int32()), values),
            "message": pa.nulls(docs.num_rows, pa.string()),
        }, schema=HITS_SCHEMA)


@dataclass(frozen=True)
class Scanner:
    """The `curate.engines.WorkerFactory` of a check: the index travels once to each process or actor."""

    index: BenchmarkIndex

    def __call__(self, device: str) -> _ScanWorker:
        return _ScanWorker(self.index)
