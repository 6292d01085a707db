"""Pass 1 saved per corpus file, so a killed or failed filter run does not read it again.

Pass 1 (ids, languages, lengths; fastText language id when neither corpus nor scores name a language) is the
slow part of a filter run. Each local file's result is written to ``OUT/.curate-filter-scan/<key>.parquet``
(temp file and rename) as soon as the engine has returned all of its rows; a rerun loads those files and
sends only the other sources to the engine. The key hashes everything that decides the result: the file's
path, size and modification time, how records are read, whether language id runs and with which model. It
does not depend on the scores or the rule, so a rerun with another ``--keep-top`` reuses the work too. Hub
ids are not saved (a dataset can change under the same id). The folder is removed when a run publishes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.files import atomic_path, fingerprint
from curate.filtering.sources import SCAN_SCHEMA, ReadSpec

if TYPE_CHECKING:
    from curate.filtering.pipeline import Engine

log = logging.getLogger(__name__)

CACHE_DIR = ".curate-filter-scan"


def cache_key(source: str, spec: ReadSpec, detect: bool, lid_model: str | None) -> str | None:
    """The file name pass 1 of ``source`` is saved under; None when it is not a local file."""
    path = Path(source)
    if not path.is_file():
        return None
    payload = {"source": str(path.resolve()), "files": fingerprint(path), "read": asdict(spec), "detect": detect,
               "lid_model": lid_model, "lid_files": fingerprint(lid_model) if lid_model else None,
               "schema": SCAN_SCHEMA.to_string()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def _load(path: Path, index: int) -> pa.Table | None:
    try:
        table = pq.read_table(path)
    except Exception:
        log.warning("%s: unreadable saved pass; reading the source again", path)
        return None
    if table.schema != SCAN_SCHEMA:
        return None
    return table.set_column(0, "source", pa.array(np.full(table.num_rows, index, np.int32)))


def scan_with_cache(engine: Engine, sources: list[str], spec: ReadSpec, detect: bool, lid_model: str | None,
                    batch_size: int, cache_dir: Path) -> Iterator[pa.Table]:
    """Pass-1 tables of every source in corpus order: saved ones loaded, the rest from ``engine.scan``."""
    keys = [cache_key(s, spec, detect, lid_model) for s in sources]
    loaded: dict[int, pa.Table] = {}
    for i, key in enumerate(keys):
        if key and (cache_dir / f"{key}.parquet").is_file():
            table = _load(cache_dir / f"{key}.parquet", i)
            if table is not None:
                loaded[i] = table
    if loaded:
        log.info("filter: %d of %d sources read from the saved first pass in %s", len(loaded), len(sources),
                 cache_dir)
    todo = [i for i in range(len(sources)) if i not in loaded]
    parts: dict[int, list[pa.Table]] = {}
    next_source = 0  # sources before this one are finished

    def finish_before(stop: int) -> Iterator[pa.Table]:
        """Finish sources up to ``stop`` (exclusive): yield the loaded ones, save the scanned ones (already
        yielded as they came, so progress moves). The engine returns rows in corpus order, so a row of a
        later source means every earlier one is complete."""
        nonlocal next_source
        for i in range(next_source, stop):
            if i in loaded:
                yield loaded.pop(i)
            elif keys[i]:
                table = pa.concat_tables(parts.pop(i)) if i in parts else SCAN_SCHEMA.empty_table()
                cache_dir.mkdir(parents=True, exist_ok=True)
                with atomic_path(cache_dir / f"{keys[i]}.parquet") as tmp:
                    pq.write_table(table, tmp)
            parts.pop(i, None)
        next_source = max(next_source, stop)

    if todo:
        mapping = pa.array(todo, pa.int32())
        for table in engine.scan([sources[i] for i in todo], spec, detect, lid_model, batch_size):
            table = table.set_column(0, "source", pc.take(mapping, table.column("source")))
            local = table.column("source").to_numpy()
            for i in np.unique(local).tolist():  # a table may span sources; corpus order within it
                yield from finish_before(i)
                part = table.filter(pa.array(local == i))
                if keys[i]:
                    parts.setdefault(i, []).append(part)
                yield part
    yield from finish_before(len(sources))


def remove_cache(cache_dir: Path) -> None:
    """Drop the saved first pass (after a run has published its output)."""
    shutil.rmtree(cache_dir, ignore_errors=True)
