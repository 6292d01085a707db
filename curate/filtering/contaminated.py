"""The document ids decontamination drops.

``curate contamination --save-doc-ids FILE`` writes UTF-8 text, one document id per line; that is the main
input. The JSON that ``curate contamination --format json`` prints is accepted too (every ``doc_ids`` entry of
every item), so a saved report can be reused without rerunning the check. Blank lines are ignored and ids are
compared as exact strings, the same way the corpus reader produces them.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from curate.errors import CurateError


def _ids_from_report(report: dict) -> list[str]:
    ids: list[str] = []
    for bench in (report.get("benchmarks") or {}).values():
        for item in bench.get("items") or []:
            ids.extend(str(d) for d in item.get("doc_ids") or [])
    return ids


def read_contaminated_ids(path: Path) -> pl.Series:
    """The unique ids in ``path`` (a one-id-per-line file or a contamination JSON report)."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM (editors on Windows add one) is not part of an id
    except FileNotFoundError as exc:
        raise CurateError(f"{path}: contaminated-ids file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CurateError(f"{path}: cannot read the contaminated-ids file ({exc})") from exc
    ids: list[str]
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            ids = _ids_from_report(json.loads(text))
        except (ValueError, AttributeError) as exc:
            raise CurateError(f"{path}: looks like JSON but is not a contamination report ({exc})") from exc
    else:
        ids = [line.strip() for line in text.splitlines() if line.strip()]
    return pl.Series("doc_id", ids, dtype=pl.Utf8).unique(maintain_order=True)
