"""Record pipeline runs (judge, train-annotator, annotate, filter) in the store, so the dashboard and later
commands can find their outputs, and a user can see what produced a file. They are read back with
`curate.store.StoreQueries.runs`.

Recording is best effort: the run's own output is already written when this is called, so a store that
cannot be opened (locked by another process, read-only disk) costs a warning, not the run.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from curate.files import path_text

log = logging.getLogger("curate")
KINDS = ("judge", "train-annotator", "annotate", "filter")


def _located(item: str) -> str:
    """A local input as an absolute path (the dashboard may run from another folder); a Hub id as it is."""
    try:
        path = Path(item)
        return path_text(path.resolve()) if path.exists() else path_text(item)
    except (OSError, ValueError):
        return path_text(item)


def record(db: str | Path | None, kind: str, inputs: list[str], output: str | Path, settings: dict[str, Any],
           n_docs: int | None = None, seconds: float | None = None) -> int | None:
    """Insert one run; return its id, or None (with a warning) when the store cannot take it. Local inputs and
    the output are recorded as absolute paths."""
    from curate.store import Store

    if kind not in KINDS:
        raise ValueError(f"unknown run kind {kind!r}")
    try:
        with Store(db) as store:
            return store.add_run(datetime.now(UTC), kind, [_located(str(i)) for i in inputs], str(Path(output).resolve()),
                                 json.dumps(settings, default=str), n_docs, seconds)
    except Exception as exc:  # the store is a record, not the product of the run
        log.warning("run not recorded in the store (%s); its output is at %s", exc, output)
        return None
