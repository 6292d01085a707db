"""The agreement report's bootstrap as it was first written: one library call per resample.

`curate.judges.agree` computes every resample at once (`bootstrap_weighted_kappa`, `bootstrap_fleiss`,
`bootstrap_kripp_alpha`); this puts back the per-resample loops over `weighted_kappa`, `fleiss` and `kripp_alpha`
(statsmodels and krippendorff), so tests can check the report is unchanged and bench/agree.py can time both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import numpy as np

from curate.judges import agree


def loop_weighted_kappa(a: np.ndarray, b: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.array([agree.weighted_kappa(a[i], b[i]) for i in idx], dtype=float)


def loop_fleiss(matrix: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.array([agree.fleiss(matrix[i]) for i in idx], dtype=float)


def loop_kripp_alpha(matrix: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.array([agree.kripp_alpha(matrix[i]) for i in idx], dtype=float)


@contextmanager
def per_resample_bootstrap() -> Iterator[None]:
    """Within this block, `agreement_report` bootstraps with one library call per resample."""
    with mock.patch.object(agree, "bootstrap_weighted_kappa", loop_weighted_kappa), \
            mock.patch.object(agree, "bootstrap_fleiss", loop_fleiss), \
            mock.patch.object(agree, "bootstrap_kripp_alpha", loop_kripp_alpha):
        yield
