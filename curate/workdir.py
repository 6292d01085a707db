"""One resumable work folder for every long command (annotate, filter's first pass, contamination).

A run that is killed (kill -9 included) must not start over, and a rerun must give exactly the output an
uninterrupted run gives. The three commands used to do this three ways; they now share this layout::

    FOLDER/manifest.json          what decides the results: inputs (with sizes and mtimes) and settings
    FOLDER/part-KEY-NNNNNN.parquet  results of consecutive documents of one source, in order
    FOLDER/done-KEY.json           the source is complete: how many parts it has
    FOLDER/.lock                   held (`curate.files.exclusive_lock`) while a run uses the folder

KEY names a source (its place in the corpus, or a digest of the file when results may be reused across
runs, as the filter's first pass is). A part is written with a temp file and a rename, so it is whole or
absent; its parquet metadata says how many documents it covers (``curate.part``). A rerun loads the saved
parts of each source, asks the engine only for the rest (a `curate.engines.Task` that skips the documents
already saved) and appends parts after them; a part that is missing or unreadable ends what is trusted of
its source, so the rest is redone. A changed input changes the manifest: the folder is then refused (or,
for owners that say so, emptied), never mixed in. ``--restart`` empties it first. A folder that holds
parquet or part files but no manifest, or a manifest.json that is not curate's, was not written by curate and is
refused, not cleaned up (``--restart`` included).
`WorkDir.remove` (on publish) deletes only the files listed above, then the folder if that left it empty.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curate.engines import Engine, Reader, Task, WorkerFactory, arrays, split_sources
from curate.errors import CurateError
from curate.files import LockHeld, atomic_path, exclusive_lock, write_text_atomic

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
LOCK = ".lock"
PART_META = b"curate.part"
FORMAT = "curate-workdir/1"
# Every file a run puts in a work folder (temp files of a killed run included): what clean-up removes.
OWN_FILES = ("part-*.parquet", "done-*.json", ".part-*.tmp", ".done-*.tmp", f".{MANIFEST}.*.tmp", MANIFEST)


def part_name(key: str, k: int) -> str:
    return f"part-{key}-{k:06d}.parquet"


def _curate_manifest(manifest: Any) -> bool:
    """A manifest.json curate wrote: this layout's, or an annotate work folder's from before it (its run's
    input, annotator and input fingerprint), which ``--restart`` may discard."""
    return isinstance(manifest, dict) and (manifest.get("format") == FORMAT
                                           or {"input", "annotator", "input_files"} <= manifest.keys())


class WorkDir:
    """A run's work folder; use it as a context manager (it holds the folder's lock while open).

    ``run`` is what decides the results (`manifest`): a folder saved under another one is refused with a
    "different run" error (``on_mismatch="refuse"``) or emptied (``"restart"``, for a folder whose parts
    are keyed by their own inputs). ``busy`` is the error text when another process holds the folder.
    ``owned``: the folder's name is curate's own (``OUT/.curate-filter-scan``), so parquet files found there
    without a manifest (left by an older curate) are curate's too and are removed instead of refused.
    """

    def __init__(self, folder: Path, owner: str, run: dict[str, Any], *, restart: bool = False,
                 on_mismatch: str = "refuse", busy: str | None = None, owned: bool = False) -> None:
        self.folder = Path(folder)
        self.owner = owner
        self.manifest = {"format": FORMAT, "owner": owner, "run": run}
        self.restart = restart
        self.on_mismatch = on_mismatch
        self.busy = busy or f"another curate {owner} is using {folder}"
        self.owned = owned
        self._lock: contextlib.ExitStack | None = None
        self._removed = False

    # -- opening and closing ------------------------------------------------------------------------------

    def __enter__(self) -> WorkDir:
        folder = self.folder
        if folder.is_dir() and not (folder / MANIFEST).is_file() and self._ours_or_parquet():
            if self.owned:
                for left in folder.glob("*.parquet"):
                    left.unlink(missing_ok=True)
            else:
                raise CurateError(f"{folder}: holds parquet files that no {self.owner} run wrote "
                                  f"(no {MANIFEST}); pass another --work-dir")
        if folder.exists() and not folder.is_dir():
            raise CurateError(f"work folder {folder} is a file")
        folder.mkdir(parents=True, exist_ok=True)
        stack = contextlib.ExitStack()
        try:
            stack.enter_context(exclusive_lock(folder / LOCK))
        except LockHeld as exc:
            raise CurateError(self.busy + (f" (pid {exc.pid})" if exc.pid else "")
                              + "; wait for it to finish") from None
        self._lock = stack
        try:
            self._open()
        except BaseException:
            self._close()
            raise
        return self

    def _ours_or_parquet(self) -> bool:
        return any(p.name.endswith(".parquet") or p.name.startswith(("part-", "done-"))
                   for p in self.folder.iterdir())

    def _open(self) -> None:
        path = self.folder / MANIFEST
        previous = None
        if path.is_file():
            try:
                previous = json.loads(path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                previous = None
            if not _curate_manifest(previous) and not self.owned:  # a user's manifest.json: --restart must not delete it
                raise CurateError(f"{self.folder}: holds a {MANIFEST} that no curate run wrote; nothing was "
                                  "touched: pass another --work-dir")
        if self.restart:
            self._clear()
            previous = None
        if previous is not None:
            if previous == self.manifest:
                return
            if self.on_mismatch != "restart":
                raise CurateError(f"{self.folder}: holds the work of a different run (input, annotator or "
                                  "settings differ); rerun with --restart to discard it, or pass another "
                                  "--work-dir")
            self._clear()
        write_text_atomic(path, json.dumps(self.manifest, indent=2, ensure_ascii=True))

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is not None and not self._removed and not any(self.folder.glob("part-*.parquet")):
            self.remove()  # failed before saving anything: nothing to resume, leave no trace
        self._close()

    def _close(self) -> None:
        if self._lock is not None:
            self._lock.close()  # unlinks the lock file
            self._lock = None
        if self._removed:
            with contextlib.suppress(OSError):
                self.folder.rmdir()  # only when empty: a --work-dir holding the user's files stays

    def _clear(self) -> None:
        for pattern in OWN_FILES:
            for f in self.folder.glob(pattern):
                f.unlink(missing_ok=True)

    def remove(self) -> None:
        """Delete what runs put here (the results are published); the folder goes when the lock is released."""
        self._clear()
        self._removed = True

    # -- parts ---------------------------------------------------------------------------------------------

    def saved(self, key: str) -> tuple[list[tuple[Path, dict[str, int]]], bool]:
        """The leading whole parts of source ``key`` (path, stats) and whether the source is complete."""
        parts: list[tuple[Path, dict[str, int]]] = []
        while True:
            path = self.folder / part_name(key, len(parts))
            if not path.is_file():
                break
            try:
                meta = pq.read_metadata(path).metadata or {}
                parts.append((path, json.loads(meta[PART_META])))
            except Exception:
                log.warning("%s: unreadable saved part; its documents are done again", path)
                break
        done = self.folder / f"done-{key}.json"
        complete = False
        if done.is_file():
            with contextlib.suppress(ValueError, OSError):
                complete = json.loads(done.read_text(encoding="utf-8"))["parts"] == len(parts)
        return parts, complete

    def write_part(self, key: str, k: int, table: pa.Table, stats: dict[str, int]) -> None:
        meta = dict(table.schema.metadata or {})
        meta[PART_META] = json.dumps(stats).encode()
        with atomic_path(self.folder / part_name(key, k)) as tmp:
            pq.write_table(table.replace_schema_metadata(meta), tmp)

    def mark_done(self, key: str, parts: int) -> None:
        write_text_atomic(self.folder / f"done-{key}.json", json.dumps({"parts": parts}))


def remove_folder(folder: Path) -> None:
    """`WorkDir.remove` for a folder no run holds open (a caller that kept its progress until it was safe)."""
    folder = Path(folder)
    if not (folder / MANIFEST).is_file():
        return  # not a work folder (or already gone): nothing here is curate's to delete
    for pattern in OWN_FILES:
        for f in folder.glob(pattern):
            f.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        folder.rmdir()


def load_part(path: Path) -> pa.Table:
    """A saved part as it was given to `WorkDir.write_part` (its own metadata, without curate's)."""
    table = pq.read_table(path)
    meta = {k: v for k, v in (table.schema.metadata or {}).items() if k != PART_META}
    return table.replace_schema_metadata(meta or None)


def count_docs(table: pa.Table) -> dict[str, int]:
    """The default part statistics: how many documents (rows without a message) a table covers."""
    return {"docs": table.column("message").null_count}


@dataclass
class Piece:
    """Results for some consecutive documents of source ``index``: computed now, or loaded (``resumed``)."""

    index: int
    table: pa.Table
    stats: dict[str, int]
    resumed: bool = False


@dataclass
class _Progress:
    key: str | None
    parts: list[tuple[Path, dict[str, int]]] = field(default_factory=list)
    complete: bool = False
    buffer: list[pa.Table] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    written: int = 0
    started: bool = False


def _add(st: _Progress, table: pa.Table, table_stats: dict[str, int]) -> None:
    st.buffer.append(table)
    for name, value in table_stats.items():
        st.stats[name] = st.stats.get(name, 0) + value


def _split_at_docs(table: pa.Table, n: int) -> tuple[pa.Table, pa.Table]:
    """``table`` cut after its ``n``-th document row (message rows stay with the documents they follow)."""
    import numpy as np

    is_doc = arrays.to_numpy(table.column("message").is_null())
    reached = np.flatnonzero(np.cumsum(is_doc) >= n)
    cut = int(reached[0]) + 1 if n > 0 and len(reached) else 0
    return table.slice(0, cut), table.slice(cut)


def run_resumable(engine: Engine, sources: Sequence[str], read: Reader, work: WorkerFactory | None = None, *,
                  workdir: WorkDir | None = None, keys: Sequence[str | None] | None = None,
                  part_docs: int | None = None, every_s: float | None = None,
                  stats: Callable[[pa.Table], dict[str, int]] = count_docs,
                  keep: Callable[[pa.Table], pa.Table | None] | None = None, device: str = "cpu",
                  batch_rows: int | None = None) -> Iterator[Piece]:
    """Every source's results in corpus order: saved parts loaded, the rest from ``engine.run``, saved as it
    comes (see the module docstring).

    A new part starts after ``part_docs`` documents (``stats(table)["docs"]``) or ``every_s`` seconds;
    without either a source is one part. ``keep`` picks the rows a part stores from each table (all by default; None: nothing). Sources
    whose key is None (a Hub dataset, where one should not be reused) are never saved. A piece is saved
    only after the caller has taken it and asked for the next, so a caller that fails on a piece (an
    interrupt in its progress callback) does not count it as done.
    """
    keys = list(keys) if keys is not None else [f"{i:06d}" for i in range(len(sources))]
    if workdir is None:
        keys = [None] * len(sources)
    state = [_Progress(k) for k in keys]
    tasks: list[Task] = []
    for i, (source, st) in enumerate(zip(sources, state, strict=True)):
        if workdir is not None and st.key is not None:
            st.parts, st.complete = workdir.saved(st.key)
            st.written = len(st.parts)
        if not st.complete:
            tasks.append(Task(i, source, sum(s.get("docs", 0) for _, s in st.parts)))
    resumed = len(sources) - len(tasks)
    if workdir is not None and (resumed or any(st.parts for st in state)):
        log.info("%s: %d of %d sources done and %d partly, read from %s", workdir.owner, resumed, len(sources),
                 sum(1 for st in state if st.parts and not st.complete), workdir.folder)

    def start(i: int) -> Iterator[Piece]:
        st = state[i]
        if not st.started:
            st.started = True
            for path, part_stats in st.parts:
                yield Piece(i, load_part(path), part_stats, resumed=True)

    def flush(i: int) -> None:
        st = state[i]
        if workdir is None or st.key is None or not st.buffer:
            st.buffer, st.stats = [], {}
            return
        kept = [t for t in (keep(t) if keep else t for t in st.buffer) if t is not None]
        if not kept:  # nothing to store (reader messages only): no part, the done marker says so
            st.buffer, st.stats = [], {}
            return
        workdir.write_part(st.key, st.written, pa.concat_tables(kept), st.stats)
        st.written += 1
        st.buffer, st.stats = [], {}

    next_source = 0  # sources before this one are finished
    last_flush = time.monotonic()

    def finish_before(stop: int) -> Iterator[Piece]:
        nonlocal next_source
        for i in range(next_source, stop):
            yield from start(i)
            st = state[i]
            if not st.complete:
                flush(i)
                if workdir is not None and st.key is not None:
                    workdir.mark_done(st.key, st.written)
        next_source = max(next_source, stop)

    for table in engine.run(tasks, read, work, device=device, batch_rows=batch_rows):
        for i, part in split_sources(table):
            yield from finish_before(i)
            yield from start(i)
            part_stats = stats(part)
            yield Piece(i, part, part_stats)
            st = state[i]
            rest = part
            while part_docs is not None and rest.num_rows and \
                    st.stats.get("docs", 0) + stats(rest)["docs"] >= part_docs:
                # Cut exactly after part_docs documents, so parts do not depend on how batches fell.
                head, rest = _split_at_docs(rest, part_docs - st.stats.get("docs", 0))
                _add(st, head, stats(head))
                flush(i)
                last_flush = time.monotonic()
            if rest.num_rows:
                _add(st, rest, stats(rest))
            if every_s is not None and time.monotonic() - last_flush >= every_s:
                flush(i)
                last_flush = time.monotonic()
    yield from finish_before(len(sources))
