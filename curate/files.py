"""Writing files so that a killed run never leaves half a file: write beside the target, then rename.

Also the small helpers every writer shares: the user's umask (outputs get the modes any other tool would
give them, not the 0600 / 0700 of `tempfile`), and file names that are not valid UTF-8 turned into text that
can be written to JSON, parquet and the store.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import tempfile
import threading
from collections.abc import Iterator
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
