"""Pass 1 saved per corpus file (`curate.workdir`), so a killed or failed filter run does not read it again.

Pass 1 (ids, languages, lengths; fastText language id when neither corpus nor scores name a language) is the
slow part of a filter run. Each local file's result is saved in ``OUT/.curate-filter-scan/`` (the shared
resumable work folder: a part per file, a done marker) as soon as the engine has returned all of its rows;
a rerun loads those and sends only the other sources to the engine. A file's key hashes everything that
decides its result: the file's path, size and modification time, how records are read, whether language
id runs and with which model. It does not depend on the scores or the rule, so a rerun with another
``--keep-top`` reuses the work too. Hub ids are not saved (a dataset can change under the same id). The
folder is removed when a run publishes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from curate.corpus import ReadSpec
from curate.files import fingerprint
from curate.filtering.sources import SCAN_SCHEMA
from curate.workdir import WorkDir

CACHE_DIR = ".curate-filter-scan"


def cache_key(source: str, spec: ReadSpec, detect: bool, lid_model: str | None) -> str | None:
    """The key pass 1 of ``source`` is saved under; None when it is not a local file."""
    path = Path(source)
    if not path.is_file():
        return None
    payload = {"source": str(path.resolve()), "files": fingerprint(path), "read": asdict(spec), "detect": detect,
               "lid_model": lid_model, "lid_files": fingerprint(lid_model) if lid_model else None,
               "schema": SCAN_SCHEMA.to_string()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def scan_workdir(folder: Path) -> WorkDir:
    """The filter's work folder: parts keyed by `cache_key`, so any manifest mismatch just empties it."""
    return WorkDir(folder, "filter", {"pass": "scan", "schema": SCAN_SCHEMA.to_string()}, on_mismatch="restart",
                   busy=f"another curate filter is using {folder}", owned=True)
