"""The benchmark side of a check: items, their n-grams, and a lookup table for corpus n-grams.

Each item is normalized and tokenized (see `normalize`). Its n-gram length depends on its script: ``word_n``
word tokens when most of its tokens are words, ``char_n`` characters when most are characters of an
unsegmented script (Chinese, Japanese, Korean, Thai ...). Items with fewer tokens than that use n-grams of
``min_tokens`` tokens and can only match exactly; items shorter than ``min_tokens`` are too short to check
(a five-word answer occurs in many documents by chance) and are reported as not checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from analyses.contamination.hashing import SpanHasher, tokenize
from analyses.contamination.normalize import is_unsegmented, normalize_items, token_spans

PREFILTER_BITS = 22  # a 4 MB table of flags (it stays in cache): most corpus n-grams are rejected with one lookup


@dataclass(frozen=True)
class Settings:
    word_n: int = 13
    char_n: int = 15
    min_tokens: int = 8
    threshold: float = 0.5  # share of an item's distinct n-grams found in one document

    def __post_init__(self) -> None:
        if not 1 <= self.min_tokens <= min(self.word_n, self.char_n):
            raise ValueError("min_tokens must be between 1 and the smaller n-gram length")
        if not 0 < self.threshold <= 1:
            raise ValueError("threshold must be in (0, 1]")


@dataclass
class Item:
    benchmark: str
    id: str
    normalized: str
    spans: list[tuple[int, int]]  # token character offsets in `normalized`
    n: int  # n-gram length in tokens (0: too short to check)
    exact_only: bool
    hashes: np.ndarray = field(repr=False)  # n-gram hash at each token position
    n_distinct: int = 0

    @property
    def checked(self) -> bool:
        return self.n > 0

    def chars(self, first_gram: int, n_grams: int) -> int:
        """Characters (normalized) covered by ``n_grams`` consecutive n-grams starting at ``first_gram``."""
        last_token = first_gram + n_grams - 1 + self.n - 1
        return self.spans[last_token][1] - self.spans[first_gram][0]


@dataclass
class Table:
    """All item n-grams of one length, sorted by hash, with the item and position each came from."""

    keys: np.ndarray
    item: np.ndarray
    pos: np.ndarray


class BenchmarkIndex:
    """Items of one or more benchmarks, ready to look corpus n-grams up in."""

    def __init__(self, items: list[Item], settings: Settings) -> None:
        self.items = items
        self.settings = settings
        self.tables: dict[int, Table] = {}
        by_length: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        for i, item in enumerate(items):
            if item.checked:
                k = len(item.hashes)
                by_length.setdefault(item.n, []).append(
                    (item.hashes, np.full(k, i, np.int64), np.arange(k, dtype=np.int64)))
        self.prefilter = np.zeros(1 << PREFILTER_BITS, dtype=bool)
        for length, parts in by_length.items():
            keys = np.concatenate([p[0] for p in parts])
            order = np.argsort(keys, kind="stable")
            self.tables[length] = Table(keys[order], np.concatenate([p[1] for p in parts])[order],
                                        np.concatenate([p[2] for p in parts])[order])
            self.prefilter[keys >> np.uint64(64 - PREFILTER_BITS)] = True

    @classmethod
    def build(cls, items: Iterable[tuple[str, str, str]], settings: Settings) -> BenchmarkIndex:
        """Index (benchmark, item id, text) triples."""
        rows = list(items)
        if not rows:
            return cls([], settings)
        normalized = normalize_items(pl.Series([t for _, _, t in rows], dtype=pl.String))
        token_hashes, lengths = tokenize(normalized)
        offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
        built: list[Item] = []
        for i, ((bench, item_id, _), norm) in enumerate(zip(rows, normalized.to_list(), strict=True)):
            spans = token_spans(norm)
            if len(spans) != lengths[i]:  # the Python and Rust tokenizers must agree; they share one pattern
                raise RuntimeError(f"tokenizer mismatch on item {item_id!r}")
            chars = sum(1 for a, b in spans if b - a == 1 and is_unsegmented(norm[a]))
            script_n = settings.char_n if chars * 2 > len(spans) else settings.word_n
            if len(spans) < settings.min_tokens:
                n, exact_only = 0, True
            elif len(spans) < script_n:
                n, exact_only = settings.min_tokens, True
            else:
                n, exact_only = script_n, False
            hashes = np.empty(0, np.uint64)
            if n:
                own = SpanHasher(token_hashes[offsets[i]:offsets[i + 1]], lengths[i:i + 1])
                hashes = own.hashes(n).copy()
            built.append(Item(bench, item_id, norm, spans, n, exact_only, hashes, len(np.unique(hashes))))
        return cls(built, settings)
