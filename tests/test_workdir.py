"""The shared resumable work folder (`curate.workdir`) and the local engine it drives, without any command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.corpus import ReadSpec
from curate.engines import DocumentReader, Task
from curate.engines.local import LocalEngine
from curate.errors import CurateError
from curate.workdir import WorkDir, run_resumable


def _corpus(folder: Path, files: int = 3, per_file: int = 7) -> list[str]:
    folder.mkdir()
    paths = []
    for f in range(files):
        path = folder / f"f{f}.jsonl"
        path.write_text("".join(json.dumps({"id": f"f{f}-{i}", "text": f"text {f} {i}"}) + "\n"
                                for i in range(per_file)), encoding="utf-8")
        paths.append(str(path))
    return paths


class _Upper:
    """A worker: one row per document, its text upper-cased."""

    def __call__(self, device: str):
        def work(docs: pa.Table) -> pa.Table:
            return pa.table({"source": docs.column("source"), "doc_id": docs.column("doc_id"),
                             "upper": pa.array([t.upper() for t in docs.column("text").to_pylist()], pa.string()),
                             "message": docs.column("message")})
        return work


def _collect(pieces: Iterator) -> tuple[list[str], int]:
    ids: list[str] = []
    resumed = 0
    for piece in pieces:
        ids.extend(piece.table.filter(piece.table.column("message").is_null()).column("doc_id").to_pylist())
        resumed += piece.resumed
    return ids, resumed


def test_a_killed_run_resumes_part_by_part_with_the_same_rows(tmp_path: Path) -> None:
    sources = _corpus(tmp_path / "c")
    read = DocumentReader(ReadSpec(), batch_docs=2)
    expected, _ = _collect(run_resumable(LocalEngine(), sources, read, _Upper()))
    assert len(expected) == 21
    work = tmp_path / "work"
    with pytest.raises(KeyboardInterrupt), WorkDir(work, "test", {"v": 1}) as wd:
        for n, _piece in enumerate(run_resumable(LocalEngine(), sources, read, _Upper(), workdir=wd, part_docs=3)):
            if n == 6:
                raise KeyboardInterrupt
    names = sorted(p.name for p in work.glob("part-*.parquet"))
    assert names[:2] == ["part-000000-000000.parquet", "part-000000-000001.parquet"]
    asked: list[Task] = []

    class Recording(LocalEngine):
        def run(self, tasks, *args, **kwargs):
            asked.extend(tasks)
            yield from super().run(tasks, *args, **kwargs)

    with WorkDir(work, "test", {"v": 1}) as wd:
        got, resumed = _collect(run_resumable(Recording(), sources, read, _Upper(), workdir=wd, part_docs=3))
        assert all(pq.read_metadata(p).num_rows <= 3 for p in work.glob("part-*.parquet"))
        wd.remove()
    assert got == expected and resumed >= 2
    assert asked[0].skip > 0  # the first source went on after its saved parts
    assert not work.exists()


def test_changed_settings_refuse_or_restart_and_foreign_folders_are_left_alone(tmp_path: Path) -> None:
    work = tmp_path / "work"
    with WorkDir(work, "test", {"v": 1}) as wd:
        wd.write_part("000000", 0, pa.table({"message": pa.nulls(1, pa.string())}), {"docs": 1})
    with pytest.raises(CurateError, match="different run"), WorkDir(work, "test", {"v": 2}):
        pass
    with WorkDir(work, "test", {"v": 2}, restart=True) as wd:
        assert wd.saved("000000") == ([], False)
    with WorkDir(work, "test", {"v": 3}, on_mismatch="restart") as wd:
        assert wd.saved("000000") == ([], False)
        wd.remove()
    foreign = tmp_path / "dataset"
    foreign.mkdir()
    pq.write_table(pa.table({"x": [1]}), foreign / "part-0.parquet")
    for restart in (False, True):
        with pytest.raises(CurateError, match="no test run wrote"), WorkDir(foreign, "test", {}, restart=restart):
            pass
    assert sorted(p.name for p in foreign.iterdir()) == ["part-0.parquet"]


def test_a_second_run_on_one_folder_is_turned_away(tmp_path: Path) -> None:
    import os

    with WorkDir(tmp_path / "w", "test", {}), pytest.raises(CurateError, match=rf"pid {os.getpid()}"), \
            WorkDir(tmp_path / "w", "test", {}):
        pass


def test_a_filter_scan_folder_of_an_older_curate_is_emptied_not_refused(tmp_path: Path) -> None:
    from curate.filtering.scan_cache import scan_workdir

    old = tmp_path / ".curate-filter-scan"
    old.mkdir()
    pq.write_table(pa.table({"x": [1]}), old / "0123abcd.parquet")  # the layout before curate.workdir
    with scan_workdir(old) as wd:
        assert not list(old.glob("*.parquet"))
        wd.remove()
    assert not old.exists()


def test_a_table_spanning_sources_is_split_in_corpus_order() -> None:
    from curate.engines import split_sources

    table = pa.table({"source": pa.array([2, 2, 5, 5, 5, 7], pa.int32()), "doc_id": list("abcdef"),
                      "message": pa.nulls(6, pa.string())})
    assert [(i, t.column("doc_id").to_pylist()) for i, t in split_sources(table)] == \
        [(2, ["a", "b"]), (5, ["c", "d", "e"]), (7, ["f"])]
    one = table.slice(2, 3)
    assert [(i, t.num_rows) for i, t in split_sources(one)] == [(5, 3)]
    assert list(split_sources(table.slice(0, 0))) == []
