"""Writing files so that a killed run never leaves half a file: write beside the target, then rename."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from curate.errors import CurateError

if TYPE_CHECKING:
    import polars as pl


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``: renamed onto it when the block succeeds, removed when it fails.

    The rename is atomic on one file system, so readers see the old file or the new one, never a part.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


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
