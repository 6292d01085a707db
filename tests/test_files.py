"""Atomic writes: a failed write leaves the old file and no temp file; a good one replaces it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from curate.files import atomic_path, sha256_file, write_text_atomic


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.txt"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]
    write_text_atomic(target, "new")
    assert target.read_text() == "new"


def test_sha256_file(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    data = bytes(range(256)) * 10_000
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_the_ledger_vouches_only_for_a_file_as_curate_left_it(tmp_path: Path) -> None:
    from curate.files import record_written, written_as_recorded

    ledger, ids = tmp_path / "work" / "written-files.json", tmp_path / "ids.txt"
    vouched = written_as_recorded(ledger)
    ids.write_text("a\n", encoding="utf-8")
    assert not vouched(ids)  # never recorded
    record_written(ledger, ids)
    assert vouched(ids)
    ids.write_text("a\nb\n", encoding="utf-8")
    assert not vouched(ids)  # changed since
    ledger.write_text("{broken", encoding="utf-8")
    assert not vouched(ids)  # a damaged ledger vouches for nothing
