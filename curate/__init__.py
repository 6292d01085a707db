"""curate: audit the Hugging Face Hub and curate multilingual pretraining data.

``import curate`` gives the Python API (`curate.api`): one function per command, each returning a typed
result, and the `Store`. They are imported on first use, so ``import curate`` (and the CLI's start-up) stays
cheap::

    import curate

    snap = curate.snapshot(["ko"], top=100, db="hub.duckdb")
    print(curate.report(db="hub.duckdb", langs=["ko"]).report["languages"]["ko"]["license_family"])
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Agreement",
    "ContaminationRun",
    "FilterRun",
    "JudgeRun",
    "Report",
    "Store",
    "TrainedAnnotator",
    "__version__",
    "agreement",
    "annotate",
    "check_contamination",
    "filter_corpus",
    "judge",
    "report",
    "snapshot",
    "snapshot_from_dump",
    "train_annotator",
    "trends",
]
_API = frozenset(__all__) - {"Store", "__version__"}

if TYPE_CHECKING:
    from curate.api import (
        Agreement,
        ContaminationRun,
        FilterRun,
        JudgeRun,
        Report,
        TrainedAnnotator,
        agreement,
        annotate,
        check_contamination,
        filter_corpus,
        judge,
        report,
        snapshot,
        snapshot_from_dump,
        train_annotator,
        trends,
    )
    from curate.store import Store


def __getattr__(name: str) -> Any:
    """The API's names, imported when first asked for (PEP 562)."""
    if name == "Store":
        return import_module("curate.store").Store
    if name in _API:
        return getattr(import_module("curate.api"), name)
    raise AttributeError(f"module 'curate' has no attribute {name!r}")
