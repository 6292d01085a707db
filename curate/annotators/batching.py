"""How a window of documents becomes padded batches for a transformer backbone.

Every transformer backbone (`curate.annotators.embedders.SentenceTransformerEmbedder`) batches through here,
whoever calls it: `curate annotate` on either engine and `curate train-annotator`'s embedding pass.

Why these steps:

* **Sort a big window, longest first.** Padding every document of a batch to the longest one wastes most of
  the work on web text, where a few long pages sit among many short ones. Sorting a whole window by token
  length (a resumable part of 10,000 documents by default) puts documents of similar length together; the
  longest batch runs first, so a budget too large for the device fails at once, not at the end of a run.
* **Few shapes.** On a GPU every new (batch size, padded length) shape costs a first-time price (the
  allocator grows, kernels are picked). Padded lengths are rounded up to buckets, multiples of 64 up to
  1,024 tokens and eight widths per doubling above (at most 12.5% padding), capped at the model's limit;
  a batch of width ``w`` holds ``budget // w`` documents. A window then uses a handful of shapes, whatever
  its size. On the CPU, shapes cost nothing and padding costs compute, so the bucket there is one token.
* **Vectorized padding.** Token ids are kept as one flat numpy array with offsets; a batch is built by one
  fancy-indexing step, not by ``tokenizer.pad`` on lists of lists (pure Python, seconds per corpus).
* **A token budget sized from the device.** On CUDA the budget comes from a probe forward pass: the memory
  one padded token really takes with this model, and the GPU's free memory (`budget_from_probe`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

BUCKET_STEP = 64  # CUDA: padded lengths are multiples of this
CPU_BATCH_TOKENS = 16_384
CUDA_BATCH_TOKENS = 65_536  # CUDA budget when the device cannot be probed
MAX_CUDA_BATCH_TOKENS = 1 << 19  # past this a batch only adds latency: the GPU is already saturated
CUDA_MEMORY_SHARE = 0.6  # of the free GPU memory, for one batch's activations
MAX_BATCH_DOCS = 512
MAX_CUDA_BATCH_DOCS = 2048
TOKENIZE_SLICE = 4096  # texts per tokenizer call: bounds the Python lists alive at once


@dataclass(frozen=True)
class Batch:
    """Documents (positions in the window) that run together, padded to ``width`` tokens."""

    rows: list[int]
    width: int

    @property
    def tokens(self) -> int:
        """Padded tokens: what the device computes and holds for this batch."""
        return len(self.rows) * self.width


def bucket_widths(lengths: np.ndarray, step: int, cap: int | None = None) -> np.ndarray:
    """The padded length of each document: rounded up to ``step`` tokens, coarser above ``16 * step``.

    With ``step`` 64: multiples of 64 up to 1,024, then 128 up to 2,048, 256 up to 4,096 and so on (eight
    widths per doubling), never above ``cap`` (the model's limit). ``step`` 1 keeps the lengths as they are.
    """
    n = np.maximum(np.asarray(lengths, dtype=np.int64), 1)
    if step > 1:
        coarse = np.left_shift(1, np.maximum(np.floor(np.log2(n)).astype(np.int64) - 3, 0))
        grain = np.maximum(step, coarse)
        n = -(-n // grain) * grain
    return np.minimum(n, cap) if cap else n


def plan_batches(lengths: Sequence[int] | np.ndarray, budget: int, *, bucket: int = 1, cap: int | None = None,
                 max_docs: int = MAX_BATCH_DOCS, min_fill: float = 0.8, min_docs: int = 16) -> list[Batch]:
    """Group a window's documents into batches of similar length whose padded size stays under ``budget``.

    Documents are taken longest first (ties in input order). A batch's width is the bucket of its first
    document; it grows while ``(len(batch) + 1) * width <= budget`` and it holds at most ``max_docs``; once
    it holds ``min_docs`` (or an eighth of what its width allows, when that is fewer: two 8,192-token
    documents per batch must not pad a 500-token one to 8,192), it also closes when the next document's
    bucket is under ``min_fill`` of its width, so a big budget does not pad short documents to long ones. A
    document longer than the budget gets a batch of its own. The caller restores the input order.
    """
    lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
    if not len(lengths):
        return []
    widths = bucket_widths(lengths, bucket, cap)
    order = np.lexsort((np.arange(len(lengths)), -lengths)).tolist()
    batches: list[Batch] = []
    rows: list[int] = []
    width = 0
    settle = min_docs
    for i, w in zip(order, widths[order].tolist(), strict=True):
        full = (len(rows) + 1) * max(width, w) > budget or len(rows) >= max_docs
        spread = len(rows) >= settle and w < min_fill * width
        if rows and (full or spread):
            batches.append(Batch(rows, width))
            rows, width = [], 0
        if not rows:
            settle = min(min_docs, rows_for(w, budget, max_docs) // 8)
        rows.append(i)
        width = max(width, w)
    batches.append(Batch(rows, width))
    return batches


def token_budget_batches(lengths: Sequence[int], budget: int, max_docs: int = MAX_BATCH_DOCS,
                         min_fill: float = 0.8, min_docs: int = 16) -> list[list[int]]:
    """`plan_batches` without buckets, as lists of indices (what the benches count padding with)."""
    return [b.rows for b in plan_batches(lengths, budget, max_docs=max_docs, min_fill=min_fill,
                                         min_docs=min_docs)]


@dataclass(frozen=True)
class TokenIds:
    """A window's token ids as one flat array: document ``i`` is ``flat[starts[i]:starts[i] + lengths[i]]``."""

    flat: np.ndarray  # int64
    starts: np.ndarray  # int64
    lengths: np.ndarray  # int64


def tokenize_ids(tokenizer: Any, texts: Sequence[str], max_tokens: int,
                 slice_docs: int = TOKENIZE_SLICE) -> TokenIds:
    """Token ids of ``texts`` (special tokens included, truncated to ``max_tokens``) with a fast tokenizer.

    The tokenizer is called on slices of ``slice_docs`` texts (batched, so the Rust tokenizer uses its
    threads), asking for the ids only; each slice goes into flat numpy arrays at once.
    """
    flats: list[np.ndarray] = []
    lens: list[np.ndarray] = []
    for start in range(0, len(texts), slice_docs):
        ids = tokenizer(list(texts[start:start + slice_docs]), truncation=True, max_length=max_tokens,
                        return_attention_mask=False, return_token_type_ids=False)["input_ids"]
        n = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        lens.append(n)
        flats.append(np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64, count=int(n.sum())))
    lengths = np.concatenate(lens) if lens else np.zeros(0, dtype=np.int64)
    flat = np.concatenate(flats) if flats else np.zeros(0, dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    return TokenIds(flat, starts, lengths)


def pad_batch(ids: TokenIds, rows: Sequence[int], width: int, pad_id: int, *, left: bool = False,
              token_types: bool = False) -> dict[str, np.ndarray]:
    """``input_ids`` and ``attention_mask`` (and zero ``token_type_ids``) of ``rows``, padded to ``width``.

    The same arrays ``tokenizer.pad`` returns (int64; padding on the tokenizer's side), built in one
    vectorized step.
    """
    idx = np.asarray(rows, dtype=np.int64)
    lens = ids.lengths[idx][:, None]
    cols = np.arange(width, dtype=np.int64)[None, :]
    offset = width - lens if left else np.zeros_like(lens)
    mask = (cols >= offset) & (cols < offset + lens)
    pos = np.clip(ids.starts[idx][:, None] + cols - offset, 0, max(len(ids.flat) - 1, 0))
    source = ids.flat[pos] if len(ids.flat) else np.zeros(pos.shape, dtype=np.int64)
    out = {"input_ids": np.where(mask, source, pad_id), "attention_mask": mask.astype(np.int64)}
    if token_types:
        out["token_type_ids"] = np.zeros_like(out["input_ids"])
    return out


def rows_for(width: int, budget: int, max_docs: int) -> int:
    """How many documents of ``width`` padded tokens a batch holds under ``budget`` (at least one)."""
    return max(1, min(max_docs, budget // max(width, 1)))


def budget_from_probe(bytes_per_token: float, free_bytes: float, cap: int, *, share: float = CUDA_MEMORY_SHARE,
                      most: int = MAX_CUDA_BATCH_TOKENS) -> int:
    """The CUDA token budget: ``share`` of the free memory over what one padded token took in a probe pass.

    A multiple of 64, at least one document of ``cap`` tokens (a longer budget than memory allows is found
    by the out-of-memory splitting, not by refusing to run), at most ``most``.
    """
    if bytes_per_token <= 0:
        return min(most, max(cap, CUDA_BATCH_TOKENS))
    budget = int(free_bytes * share / bytes_per_token) // BUCKET_STEP * BUCKET_STEP
    return max(cap, min(most, budget))
