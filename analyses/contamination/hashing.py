"""Vectorized n-gram hashes over token streams.

A token's hash comes from polars (Rust, one call per batch). The hash of the span of tokens ``i .. i+L-1`` is
the polynomial ``sum t[k] * B**(i+L-1-k)`` modulo 2**64, computed for every start at once from one prefix
sum: with ``C[j] = sum_{k<=j} t[k] * B**-k`` (B odd, so it has an inverse modulo 2**64) the span hash is
``B**(i+L-1) * (C[i+L-1] - C[i-1])``. numpy's uint64 arithmetic wraps, which is exactly modulo 2**64. The
hash of a span does not depend on where it starts, so item and document spans compare directly.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from analyses.contamination.normalize import TOKEN

B = 0x100000001B3  # odd: invertible modulo 2**64
B_INV = pow(B, -1, 1 << 64)
SEED = 20240613


def _powers(base: int, n: int) -> np.ndarray:
    powers = np.empty(n, dtype=np.uint64)
    if n:
        powers[0] = 1
        powers[1:] = base
        np.cumprod(powers, out=powers)
    return powers


def tokenize(normalized: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Token hashes of normalized texts, concatenated, and the number of tokens of each text."""
    tokens = normalized.to_frame("t").select(pl.col("t").str.extract_all(TOKEN)).to_series()
    lengths = tokens.list.len().fill_null(0).to_numpy().astype(np.int64)
    flat = tokens.explode().drop_nulls()
    return flat.hash(seed=SEED).to_numpy().astype(np.uint64, copy=False), lengths


class SpanHasher:
    """Span hashes of any length over one token stream (the tokens of a batch of texts)."""

    def __init__(self, token_hashes: np.ndarray, lengths: np.ndarray) -> None:
        n = len(token_hashes)
        self.n = n
        self._cum = np.cumsum(token_hashes * _powers(B_INV, n), dtype=np.uint64)
        self._pow = _powers(B, n)
        self.text_of = np.repeat(np.arange(len(lengths)), lengths)  # token -> index of its text
        self.offsets = np.concatenate(([0], np.cumsum(lengths)))  # first token of each text

    def spans(self, length: int) -> tuple[np.ndarray, np.ndarray]:
        """(start positions, hashes) of every span of ``length`` tokens that stays inside one text."""
        count = self.n - length + 1
        if count <= 0:
            return np.empty(0, np.int64), np.empty(0, np.uint64)
        start = np.arange(count)
        end = start + length - 1
        inside = self.text_of[start] == self.text_of[end]
        start, end = start[inside], end[inside]
        before = np.where(start > 0, self._cum[np.maximum(start - 1, 0)], np.uint64(0))
        return start, self._pow[end] * (self._cum[end] - before)
