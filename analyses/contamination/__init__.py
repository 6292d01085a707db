"""Contamination checks: find benchmark items inside training corpora, CJK-aware, in bounded memory.

`run_check` is the entry point; `normalize` documents what "the same text" means; `index` and `scan` hold the
n-gram machinery; `persist` stores results; `mentions` is the cheap Hub-level check on dataset cards.
"""

from analyses.contamination.check import CheckResult, ItemResult, Source, run_check
from analyses.contamination.index import Settings

__all__ = ["CheckResult", "ItemResult", "Settings", "Source", "run_check"]
