"""Resumable checks: a killed `curate contamination` run goes on where it stopped.

Progress lives in a work folder named after everything that decides the result (benchmark items, corpus
files with their sizes and modification times, settings), so a changed input starts afresh on its own. Every
``every_s`` seconds and at the end of each corpus the hits found since the last save go to a new parquet part,
then the manifest records how many documents of that corpus are done; a part the manifest does not count
(the run died between the two writes) is ignored and overwritten. On resume the done documents are read but
not scanned, and a finished corpus is not read at all.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import polars as pl

from analyses.contamination.index import Settings
from curate.files import fingerprint, write_text_atomic

Record = tuple[int, str, int, int, bool]  # item index, document id, matched n-grams, longest chars, exact
_SCHEMA = {"item": pl.Int64, "doc_id": pl.String, "matched": pl.Int64, "longest": pl.Int64, "exact": pl.Boolean}


def run_key(rows: list[tuple[str, str, str]], corpora: list[tuple[str, str]], settings: Settings) -> str:
    """A digest of the benchmark items, the corpus files (name, location, size, mtime) and the settings."""
    digest = hashlib.sha256(json.dumps(asdict(settings), sort_keys=True).encode())
    for bench, item_id, text in rows:
        digest.update(f"{bench}\0{item_id}\0{text}\0".encode("utf-8", "surrogatepass"))
    for name, location in corpora:
        digest.update(json.dumps([name, location, fingerprint(location)]).encode())
    return digest.hexdigest()


class Checkpoint:
    """The progress of one check in ``folder`` (created if missing)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.manifest = folder / "manifest.json"
        folder.mkdir(parents=True, exist_ok=True)
        self.state: dict[str, Any] = {"parts": 0, "corpora": {}}
        if self.manifest.exists():
            self.state = json.loads(self.manifest.read_text(encoding="utf-8"))

    def corpus(self, name: str) -> dict[str, Any]:
        """``{"docs", "bytes", "complete"}`` done so far for a corpus (zeros when none)."""
        return self.state["corpora"].get(name, {"docs": 0, "bytes": 0, "complete": False})

    def records(self) -> list[Record]:
        parts = [self.folder / f"part-{i:06d}.parquet" for i in range(self.state["parts"])]
        if not parts:
            return []
        return list(pl.read_parquet(parts).iter_rows())

    def save(self, name: str, docs: int, n_bytes: int, complete: bool, records: list[Record]) -> None:
        from curate.files import atomic_path

        part = self.folder / f"part-{self.state['parts']:06d}.parquet"
        with atomic_path(part) as tmp:
            pl.DataFrame(records, schema=_SCHEMA, orient="row").write_parquet(tmp)
        self.state["parts"] += 1
        self.state["corpora"][name] = {"docs": docs, "bytes": n_bytes, "complete": complete}
        write_text_atomic(self.manifest, json.dumps(self.state))

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
