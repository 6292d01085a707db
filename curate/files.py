"""Writing files so that a killed run never leaves half a file: write beside the target, then rename.

The rule for what curate may replace lives here too (`check_output_dir`, `claim_output_dir`,
`check_output_file`): every command calls it before any work, so a user's file is never overwritten.

Also the small helpers every writer shares: the user's umask (outputs get the modes any other tool would
give them, not the 0600 / 0700 of `tempfile`), and file names that are not valid UTF-8 turned into text that
can be written to JSON, parquet and the store.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curate.errors import CurateError

if TYPE_CHECKING:
    import polars as pl


_UMASK_LOCK = threading.Lock()
_SURROGATE = re.compile("[\ud800-\udfff]")


@functools.cache
def umask() -> int:
    """The process's umask, read once.

    Linux reports it in ``/proc/self/status``; elsewhere the only way is to set it and set it back, done
    under a lock and only once, so no other thread of curate creates a file in between with a wrong mode.
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a new file gets from ``open()`` under the user's umask (0644 under umask 022)."""
    return 0o666 & ~umask()


def dir_mode() -> int:
    """The mode a new folder gets from ``mkdir`` under the user's umask (0755 under umask 022)."""
    return 0o777 & ~umask()


def make_temp_dir(prefix: str, parent: Path) -> Path:
    """`tempfile.mkdtemp` (a fresh, unguessable name) with the mode ``mkdir`` would give, not 0700.

    A staging folder is renamed into place or its files are, so its mode is what the user ends up with.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(path, dir_mode())
    return path


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``: renamed onto it when the block succeeds, removed when it fails.

    The rename is atomic on one file system, so readers see the old file or the new one, never a part.
    The temp file is made by `tempfile.mkstemp` (mode 0600); before the rename it gets the mode the user's
    umask gives new files, so outputs are as readable as those of any other tool.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        if os.path.lexists(tmp) and not os.path.islink(tmp):
            os.chmod(tmp, dir_mode() if os.path.isdir(tmp) else file_mode())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def clean_text(text: str) -> str:
    """``text`` with every lone surrogate written as a backslash escape, so it encodes as UTF-8.

    A file name that is not valid UTF-8 arrives from the OS with its bad bytes as surrogates (\\udcff for
    the byte 0xff, PEP 383); they crash every UTF-8 writer (JSON with ensure_ascii=False, Arrow, DuckDB).
    Such a byte becomes ``\\xff``, as ``bytes.decode(..., "backslashreplace")`` writes it; any other lone
    surrogate becomes ``\\udXXX``. Valid text is returned unchanged (the common case is one regex search).
    """
    if _SURROGATE.search(text) is None:
        return text

    def escape(m: re.Match[str]) -> str:
        code = ord(m.group())
        return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"

    return _SURROGATE.sub(escape, text)


def path_text(path: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> str:
    """A path as valid text for ids, messages, manifests and the store (see `clean_text`).

    Open files with the original path: this text names a file, it does not reach it when the name is not
    valid UTF-8.
    """
    return clean_text(os.fsdecode(path))


def clean_json(value: Any) -> Any:
    """A JSON-able value with `clean_text` applied to every string in it (keys included)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_json(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    return value


class LockHeld(CurateError):
    """Another process holds the lock; ``pid`` is the one it wrote into the lock file (None if unknown)."""

    def __init__(self, path: Path, pid: int | None) -> None:
        super().__init__(f"{path_text(path)} is locked by another process" + (f" (pid {pid})" if pid else ""))
        self.path = path
        self.pid = pid


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive `fcntl.flock` on ``path`` (created if missing) for the block, or raise `LockHeld`.

    The kernel drops a flock when its process dies, kill -9 included, so a crashed run never leaves a lock
    that blocks the next one; a stale file is just reused. The holder writes its pid into the file for the
    message of the run it turns away, and removes the file when the block ends. Removing a lock file is
    only safe because a taker checks, once it holds the lock, that the file it locked is still the one at
    ``path`` (not one unlinked by the previous holder meanwhile), and starts over when it is not.
    """
    import fcntl

    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, file_mode())
        except FileNotFoundError:  # the folder went away (a failed run removed the empty output it made)
            path.parent.mkdir(parents=True, exist_ok=True)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise LockHeld(path, pid) from None
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        if current is not None and os.path.samestat(os.fstat(fd), current):
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        path.unlink(missing_ok=True)  # before the unlock, so a later taker locks a new file (see above)
        os.close(fd)


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def fingerprint(location: str | Path) -> list[list[str | int]]:
    """(name, size, mtime) of every file at a local path, sorted (nothing for a Hub id or a missing path).

    Resumable runs key their saved progress on it: a file changed in place changes the fingerprint.
    """
    path = Path(location)
    if not path.exists():
        return []
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return [[f.relative_to(path).as_posix() if path.is_dir() else f.name, f.stat().st_size, f.stat().st_mtime_ns]
            for f in files]


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MB chunks (shards can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_table(path: str | Path, what: str = "table") -> pl.DataFrame:
    """A small table (labels, gold scores): ``.parquet``, ``.csv``, or JSON Lines (``.jsonl``, ``.json``,
    ``.jsonl.gz``). A missing or unreadable file is one clear error naming it and ``what`` it should hold."""
    import polars as pl

    path = Path(path)
    if not path.is_file():
        raise CurateError(f"{path}: no such file (expected {what})")
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            return pl.read_parquet(path)
        if name.endswith(".csv"):
            return pl.read_csv(path, infer_schema_length=10_000)
        if name.endswith((".jsonl", ".json", ".jsonl.gz")):
            return pl.read_ndjson(path)
    except Exception as exc:
        raise CurateError(f"{path}: cannot read the {what} ({type(exc).__name__}: {exc})") from exc
    raise CurateError(f"{path}: a {what} file must be .parquet, .csv or .jsonl")


def refuse_output_over_input(out: str | Path, inputs: list[str | Path], flag: str = "--out") -> None:
    """Refuse, before any work, an output that is an input, lies inside an input folder, or holds an input.

    A run that writes where it reads would overwrite the user's corpus (or read its own output). Inputs
    that are not local paths (Hub dataset ids) are skipped.
    """
    target = Path(out).expanduser().resolve()
    for item in inputs:
        source = Path(item).expanduser()
        if not source.exists():
            continue
        source = source.resolve()
        if target == source or source in target.parents:
            raise CurateError(f"{flag} {out} would overwrite the input {item}: write it somewhere else")
        if target in source.parents:
            raise CurateError(f"{flag} {out} holds the input {item}: write it somewhere else")


# -- what curate may replace --------------------------------------------------------------------------------
#
# One rule for every output (docs/security.md, "Your files are never lost"): curate replaces only what it wrote.
# A folder output carries a marker file; a parquet output carries ``curate.*`` keys in its schema metadata; a
# text file has no room for a marker, so an existing one is replaced only when curate's ledger vouches for it
# (`written_as_recorded`) or with ``--overwrite``.

OUTPUT_MARKER = ".curate-output"  # in every folder curate writes: {"format": "curate-output", "commands": [...]}
MARKER_FORMAT = "curate-output"
OWN_PREFIX = ".curate"  # curate's own entries in an output folder (marker, locks, staging, saved progress)
PARQUET_MARK = "curate.output"  # the schema metadata key every parquet output carries: the command that wrote it


def _marker_commands(folder: Path) -> list[str] | None:
    """The commands the folder's marker names, or None when it has no curate marker."""
    try:
        data = json.loads((folder / OUTPUT_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != MARKER_FORMAT:
        return None
    commands = data.get("commands")
    return [str(c) for c in commands] if isinstance(commands, list) else []


def check_output_dir(out: str | Path, flag: str = "--out", *,
                     written_by_curate: Callable[[Path], bool] | None = None) -> None:
    """Refuse, before any work, a folder output that curate did not write: one line naming it and what to do.

    A folder may be written when it does not exist, holds nothing (curate's own ``.curate*`` entries aside:
    the marker, a lock, a killed run's staging), carries curate's marker (`claim_output_dir`), or, for
    folders written before the marker existed, passes ``written_by_curate`` (a command's own format check).
    """
    out = Path(out)
    if not out.exists():
        if out.is_symlink():
            raise CurateError(f"{flag} {path_text(out)} is a broken link: choose another {flag}")
        return
    if not out.is_dir():
        raise CurateError(f"{flag} {path_text(out)} is a file, not a folder: choose another {flag}")
    if _marker_commands(out) is not None or (written_by_curate is not None and written_by_curate(out)):
        return
    foreign = sorted(p.name for p in out.iterdir() if not p.name.startswith(OWN_PREFIX))
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise CurateError(f"{flag} {path_text(out)} holds files ({clean_text(foreign[0])}{more}) and is not "
                          f"marked as written by curate; nothing was written: choose a new or empty folder")


def claim_output_dir(out: str | Path, command: str, flag: str = "--out", *,
                     written_by_curate: Callable[[Path], bool] | None = None) -> Path:
    """`check_output_dir`, then create the folder and leave curate's marker in it (naming ``command``), so
    a later run may write there again. Writers call it just before their first file."""
    out = Path(out)
    check_output_dir(out, flag, written_by_curate=written_by_curate)
    out.mkdir(parents=True, exist_ok=True)
    commands = _marker_commands(out) or []
    if command not in commands:
        write_text_atomic(out / OUTPUT_MARKER, json.dumps(
            {"format": MARKER_FORMAT, "commands": sorted({*commands, command}),
             "note": "written by curate: it may replace the files it wrote in this folder"}, indent=2) + "\n")
    return out


def parquet_mark(command: str) -> dict[str, str]:
    """The schema metadata that says a parquet output is curate's (``curate.output``: the command)."""
    return {PARQUET_MARK: command}


def is_curate_parquet(path: Path) -> bool:
    """A parquet file whose schema metadata has a ``curate.`` key (every parquet output curate writes has one)."""
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(path).metadata or {}
    except Exception:
        return False
    return any(key.startswith(b"curate.") for key in metadata)


def check_output_file(path: str | Path, flag: str = "--out", *, overwrite: bool | None = None,
                      written_by_curate: Callable[[Path], bool] | None = None) -> None:
    """Refuse, before any work, an existing file curate may not replace: one line naming it and what to do.

    A parquet output is replaced when its metadata says curate wrote it (`is_curate_parquet`) or it passes
    ``written_by_curate``; any other existing file only with ``overwrite`` (the command's ``--overwrite``;
    None: the command has none).
    """
    path = Path(path)
    if path.is_dir():
        raise CurateError(f"{flag} {path_text(path)} is a folder, not a file: choose another {flag}")
    if not os.path.lexists(path) or overwrite:
        return
    if path.is_file() and (is_curate_parquet(path) or (written_by_curate is not None and written_by_curate(path))):
        return
    if overwrite is None:
        raise CurateError(f"{flag} {path_text(path)} exists and curate did not write it; nothing was written: "
                          f"choose another {flag}")
    raise CurateError(f"{flag} {path_text(path)} already exists; nothing was written: pass --overwrite to "
                      f"replace it, or choose another {flag}")


# ---- files with no room for a mark ----------------------------------------------------------------------
# A list of ids (one per line) cannot say that curate wrote it. Such a file is recorded, with its contents'
# sha256, in a ledger in a folder curate owns (the store's work folder); while the file is as curate left it,
# a rerun may replace it without --overwrite. A file changed since, or written by someone else, is not.


def record_written(ledger: Path, path: Path) -> None:
    """Note in ``ledger`` (a JSON file curate owns) that curate wrote ``path`` as it now is."""
    entries = _ledger(ledger)
    entries[str(Path(path).resolve())] = sha256_file(Path(path))
    ledger.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(ledger, json.dumps(entries, indent=1, sort_keys=True) + "\n")


def written_as_recorded(ledger: Path) -> Callable[[Path], bool]:
    """For `check_output_file`: whether a file is one ``ledger`` records, unchanged since curate wrote it."""

    def check(path: Path) -> bool:
        recorded = _ledger(ledger).get(str(Path(path).resolve()))
        return recorded is not None and recorded == sha256_file(Path(path))

    return check


def _ledger(ledger: Path) -> dict[str, str]:
    try:
        found = json.loads(ledger.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # none yet, or damaged: nothing is vouched for
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}
