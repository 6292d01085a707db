"""Dataset size buckets, defined once in ``data/analyses/sizes.csv``: the Hub's ``size_categories`` tags in
order, and the report's S/M/L/XL bucket of each.

The report buckets the tags a dataset carries (analyses.reference), the filter tags the dataset card it
writes (curate.filtering.card): both read the same table, so a new Hub tag or a moved bucket edge is one edit.
"""

from __future__ import annotations

import csv
import io
import math
from functools import cache

from curate import config

UNKNOWN = "unknown"  # the report's bucket for a dataset without a size tag


@cache
def table() -> tuple[tuple[str, str], ...]:
    """(Hub tag, bucket) rows of sizes.csv, smallest first (by its ``order`` column)."""
    text = (config.data_dir() / "analyses" / "sizes.csv").read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    rows = sorted(csv.DictReader(io.StringIO("\n".join(lines))), key=lambda r: int(r["order"]))
    return tuple((r["tag"], r["bucket"]) for r in rows)


def buckets() -> tuple[str, ...]:
    """The report's buckets, smallest first, then ``unknown``."""
    return (*dict.fromkeys(bucket for _, bucket in table()), UNKNOWN)


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` tag for n examples: ``n<1K``, then one tag per power of ten up to the
    largest the table lists."""
    tags = [tag for tag, _ in table()]
    if n < 1000:
        return tags[0]
    return tags[min(int(math.log10(n)) - 2, len(tags) - 1)]
