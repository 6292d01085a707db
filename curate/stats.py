"""Rank and linear correlation, defined once for the judges' agreement report and the annotator's metrics.

One convention: a correlation that is undefined (too few pairs, or one side constant) is ``nan``, never an
exception and never None, so it composes with numpy and `math.isfinite`; the JSON writers turn ``nan`` into
``null`` at the boundary (`finite_or_none`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

ArrayLike = Sequence[float] | np.ndarray


def _undefined(a: np.ndarray, b: np.ndarray, min_n: int) -> bool:
    return len(a) < max(min_n, 2) or np.ptp(a) == 0 or np.ptp(b) == 0


def spearman(a: ArrayLike, b: ArrayLike, *, min_n: int = 2) -> float:
    """Spearman's rho of two equally long samples; ``nan`` with fewer than ``min_n`` pairs (at least 2) or a
    constant side."""
    from scipy.stats import spearmanr

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if _undefined(a, b, min_n):
        return math.nan
    return float(spearmanr(a, b).statistic)


def pearson(a: ArrayLike, b: ArrayLike, *, min_n: int = 2) -> float:
    """Pearson's r, undefined (``nan``) as `spearman` is."""
    from scipy.stats import pearsonr

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if _undefined(a, b, min_n):
        return math.nan
    return float(pearsonr(a, b).statistic)


def rowwise_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson per row of two (rows x n) arrays (``nan`` where a row is constant): one bootstrap in one call."""
    x = x - x.mean(axis=1, keepdims=True)
    y = y - y.mean(axis=1, keepdims=True)
    denom = np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (x * y).sum(axis=1) / denom, np.nan)


def bootstrap_spearman(a: np.ndarray, b: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Spearman of every resample ``a[idx[r]]``, ``b[idx[r]]`` (a row of ``idx`` is one resample's indices):
    Pearson of average ranks, as scipy defines it, without sorting each resample (see `resampled_ranks`)."""
    return rowwise_pearson(resampled_ranks(a, idx), resampled_ranks(b, idx))


def resampled_ranks(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Average ranks within each resample ``a[idx[r]]`` (scipy's ``rankdata(a[idx], axis=1)``).

    The sample's distinct values are sorted once; a resample's ranks are then counted: how many of its values
    lie below each distinct value and how many equal it give that value's average rank (one bincount over all
    resamples). Judges' scores take six values, so this is a gather and a cumulative sum, not a sort per row.
    """
    a = np.asarray(a, dtype=np.float64)
    idx = np.asarray(idx)
    if idx.ndim != 2 or idx.size == 0 or np.isnan(a).any():
        from scipy.stats import rankdata

        return rankdata(a[idx], axis=-1)
    values, codes = np.unique(a, return_inverse=True)
    k, rows = len(values), idx.shape[0]
    picked = codes[idx]
    counts = np.bincount((picked + k * np.arange(rows)[:, None]).ravel(), minlength=rows * k).reshape(rows, k)
    average = np.cumsum(counts, axis=1) - counts + (counts + 1) / 2.0
    return np.take_along_axis(average, picked, axis=1)


def finite_or_none(x: float | None) -> float | None:
    """``x`` as a plain float for JSON, or None where it is missing or not finite."""
    return None if x is None or not math.isfinite(x) else float(x)
