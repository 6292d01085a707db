"""Vectorized n-gram hashes over token streams.

A token's hash comes from polars (Rust, one call per batch). The hash of the n tokens starting at ``i`` is the
polynomial ``t[i] * B**(n-1) + ... + t[i+n-1]`` modulo 2**64, computed for every start at once by Horner's
rule on shifted views of the token array: n multiply-adds over contiguous memory, in place, with no gather.
numpy's uint64 arithmetic wraps, which is exactly modulo 2**64. A span's hash does not depend on where it
starts, so item and document n-grams compare directly; spans that cross from one text into the next are
dropped only after the prefilter, where few remain.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from analyses.contamination.normalize import TOKEN, UNSEGMENTED

B = np.uint64(0x100000001B3)  # an odd multiplier
SEED = 20240613


def tokenize(normalized: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Token hashes of normalized texts, concatenated, and the number of tokens of each text.

    The tokens are those of the ``TOKEN`` regex, but the regex runs only where it must, because building one
    string per token with it is the dearest step of a scan: a text with no unsegmented character is split at
    its single spaces (normalized text has no other whitespace), a text of unsegmented characters alone is
    cut into characters once its spaces are gone, and only mixed texts (and empty ones) go through the regex.
    """
    frame = normalized.to_frame("t").with_row_index("i")
    kind = frame.select(cjk=pl.col("t").str.contains(f"[{UNSEGMENTED}]").fill_null(False),
                        other=pl.col("t").str.contains(f"[^ {UNSEGMENTED}]").fill_null(False))
    cjk, other = kind.get_column("cjk"), kind.get_column("other")
    words, chars = ~cjk & other, cjk & ~other
    parts = [
        frame.filter(words).select("i", tok=pl.col("t").str.split(" ")),
        frame.filter(chars).select("i", tok=pl.col("t").str.replace_all(" ", "", literal=True).str.split("")),
        frame.filter(~words & ~chars).select("i", tok=pl.col("t").str.extract_all(TOKEN)),
    ]
    tokens = pl.concat(parts).sort("i").get_column("tok")
    lengths = tokens.list.len().fill_null(0).to_numpy().astype(np.int64)
    flat = tokens.explode().drop_nulls()
    return flat.hash(seed=SEED).to_numpy().astype(np.uint64, copy=False), lengths


class SpanHasher:
    """Hashes of every n-token span of one token stream (the tokens of a batch of texts), for growing n."""

    def __init__(self, token_hashes: np.ndarray, lengths: np.ndarray) -> None:
        self.tokens = token_hashes
        self.n = len(token_hashes)
        self.offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)  # first token of each text
        self._length = 0
        self._hashes = np.empty(0, np.uint64)

    def hashes(self, length: int) -> np.ndarray:
        """Hash of the span starting at each position ``0 .. n - length`` (spans may cross texts: see `text_of`).

        Lengths must be asked for in increasing order; each call extends the previous one.
        """
        if length < self._length:
            raise ValueError("span lengths must be asked for in increasing order")
        count = self.n - length + 1
        if count <= 0:
            return np.empty(0, np.uint64)
        if self._length == 0:
            self._hashes = self.tokens[:count].copy()
            self._length = 1
        h = self._hashes[:count]  # a view: Horner's rule continues in place
        for k in range(self._length, length):
            np.multiply(h, B, out=h)
            np.add(h, self.tokens[k:k + count], out=h)
        self._hashes, self._length = h, length
        return h

    def text_of(self, starts: np.ndarray) -> np.ndarray:
        """Index of the text each token position belongs to."""
        return np.searchsorted(self.offsets, starts, side="right") - 1

    def inside(self, starts: np.ndarray, length: int) -> np.ndarray:
        """Which spans of ``length`` starting at ``starts`` stay inside one text."""
        texts = self.text_of(starts)
        return starts + length <= self.offsets[texts + 1]
