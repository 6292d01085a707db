"""`curate filter` against hostile conditions: two runs into one folder, a killed run's leftovers, file names
that are not UTF-8, a restrictive or permissive umask."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import polars as pl
import pytest
from filter_fixtures import make_corpus, make_scores

import curate.cli.filter  # noqa: F401  registers `curate filter`
from curate import files
from curate.files import sha256_file
from curate.filtering.pipeline import LOCK_FILE, FilterOptions, LocalEngine, run_filter
from curate.filtering.rules import Rule

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return make_corpus(tmp_path / "corpus", per_lang=20, files=2, with_lang=True)


@pytest.fixture
def scores(tmp_path: Path, corpus: Path) -> Path:
    return make_scores(tmp_path / "scores.parquet", corpus)


def _errors(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


def _assert_consistent(out: Path) -> dict:
    """The manifest lists exactly the shards in data/, with their checksums and row counts."""
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    on_disk = sorted(p.name for p in (out / "data").iterdir())
    assert on_disk == sorted(Path(s["path"]).name for s in manifest["shards"])
    for shard in manifest["shards"]:
        assert sha256_file(out / shard["path"]) == shard["sha256"]
    kept = pl.read_parquet(sorted((out / "data").glob("*.parquet")))
    assert kept.height == manifest["counts"]["kept"]
    return manifest


class _PausedEngine(LocalEngine):
    """Waits at the start of pass 1 until released, so another run can start meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()
        self.release = threading.Event()

    def run(self, *args, **kwargs):
        self.started.set()
        assert self.release.wait(60)
        yield from super().run(*args, **kwargs)


def test_a_second_run_into_the_same_out_fails_at_once(tmp_path: Path, corpus: Path, scores: Path, cli) -> None:
    out = tmp_path / "out"
    engine = _PausedEngine()
    finished: dict[str, object] = {}

    def first() -> None:
        finished["result"] = run_filter(FilterOptions([str(corpus)], [scores], out, Rule(keep_top=0.3)), engine)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert engine.started.wait(60)
        second = cli("filter", "--input", corpus, "--scores", scores, "--keep-top", "0.8", "--out", out)
    finally:
        engine.release.set()
        thread.join(120)
    assert second.code == 1
    assert _errors(second.err) == [f"error: another curate filter is writing {out} (pid {os.getpid()}); "
                                   "wait for it to finish or choose another --out"]
    assert "result" in finished  # the first run was not disturbed
    manifest = _assert_consistent(out)
    assert manifest["rule"]["keep_top"] == 0.3
    assert not (out / LOCK_FILE).exists()
    # Once the first run is done the folder is free again (and holds a dataset: --overwrite applies).
    again = cli("filter", "--input", corpus, "--scores", scores, "--keep-top", "0.8", "--out", out, "--overwrite")
    assert again.code == 0, again.err
    assert _assert_consistent(out)["rule"]["keep_top"] == 0.8


_HOLDER = """
import sys, time
from pathlib import Path
from curate.files import exclusive_lock
with exclusive_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(120)
"""


def test_a_killed_runs_staging_is_cleaned_only_once_its_lock_is_gone(tmp_path: Path, corpus: Path, scores: Path,
                                                                     cli) -> None:
    out = tmp_path / "out"
    stale = out / ".curate-filter-k1ll3d_x"  # the shape of tempfile.mkdtemp(prefix=".curate-filter-")
    (stale / "data").mkdir(parents=True)
    (stale / "data" / "train-00000-of-00001.parquet").write_bytes(b"half a shard")
    mine = out / ".curate-filter-notes-of-the-user"  # not a name curate makes: left alone
    mine.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(out / LOCK_FILE)], stdout=subprocess.PIPE,
                              text=True, env=env)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        busy = cli("filter", "--input", corpus, "--scores", scores, "--keep-top", "0.5", "--out", out)
        assert busy.code == 1 and len(_errors(busy.err)) == 1
        assert f"another curate filter is writing {out} (pid {holder.pid})" in busy.err
        assert stale.is_dir()  # a live run's staging folder is never touched
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # as a killed run: no cleanup runs, the lock file stays
        holder.wait()
    assert (out / LOCK_FILE).exists()
    res = cli("filter", "--input", corpus, "--scores", scores, "--keep-top", "0.5", "--out", out)
    assert res.code == 0, res.err
    assert not stale.exists() and mine.is_dir()
    assert not (out / LOCK_FILE).exists()
    _assert_consistent(out)


def test_a_failed_run_leaves_no_folder_it_made(tmp_path: Path, corpus: Path, scores: Path, cli) -> None:
    res = cli("filter", "--input", tmp_path / "nope.jsonl", "--scores", scores, "--keep-top", "0.3",
              "--out", tmp_path / "o")
    assert res.code == 1 and not (tmp_path / "o").exists()
    (tmp_path / "file").write_text("x")
    res = cli("filter", "--input", corpus, "--scores", scores, "--keep-top", "0.3",
              "--out", tmp_path / "file")
    assert res.code == 1 and _errors(res.err) == [f"error: --out {tmp_path / 'file'} is a file, not a folder: choose another --out"]


def _text(i: int) -> str:
    return " ".join(f"word{i}x{k}" for k in range(20))


def _bad_file(folder: Path, n: int) -> str:
    """``folder/bad<0xff>.jsonl`` with ``n`` records without ids; returns its name as Python sees it."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = os.fsencode(folder) + b"/bad\xff.jsonl"
    lines = "".join(json.dumps({"text": f"document {i}: {_text(i)}", "lang": "en"}) + "\n" for i in range(n))
    fd = os.open(raw, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, lines.encode())
    finally:
        os.close(fd)
    return os.fsdecode(raw)


def test_a_file_name_that_is_not_utf8_through_filter_and_contamination(tmp_path: Path, cli, db_path: Path) -> None:
    corpus = tmp_path / "corpus"
    bad = _bad_file(corpus, 6)
    (corpus / "good.jsonl").write_text("".join(json.dumps({"text": f"good document {i}", "lang": "en"}) + "\n"
                                               for i in range(4)), encoding="utf-8")
    ids = [f"bad\\xff:{i}" for i in range(1, 7)] + [f"good:{i}" for i in range(1, 5)]
    pl.DataFrame({"doc_id": ids, "lang": ["en"] * 10, "score": [float(i) for i in range(10)]}).write_parquet(
        tmp_path / "scores.parquet")

    res = cli("filter", "--input", corpus, "--scores", tmp_path / "scores.parquet", "--keep-top", "1.0",
              "--out", tmp_path / "out", "--db", db_path)
    assert res.code == 0, res.err
    manifest = _assert_consistent(tmp_path / "out")
    assert manifest["sources"][0] == f"{corpus}/bad\\xff.jsonl"
    kept = pl.read_parquet(tmp_path / "out" / "data")
    assert sorted(kept["id"].to_list()) == sorted(ids)
    (tmp_path / "out" / "README.md").read_text(encoding="utf-8")

    # The bad file alone, as a corpus named on the command line: its name and ids reach the store intact.
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"id": "q1", "text": _text(2)}) + "\n", encoding="utf-8")
    doc_ids = tmp_path / "contaminated.txt"
    res = cli("contamination", "--benchmark", bench, "--corpus", bad, "--save-doc-ids", doc_ids, "--workers", "1",
              "--format", "json", "--db", db_path)
    assert res.code == 0, res.err
    assert json.loads(res.out)["benchmarks"]["bench"]["items"][0]["doc_ids"] == ["bad\\xff:3"]
    assert doc_ids.read_text(encoding="utf-8") == "bad\\xff:3\n"

    # ... and `filter --decontaminate` finds that run by the corpus's name and drops the document.
    res = cli("filter", "--input", bad, "--scores", tmp_path / "scores.parquet", "--keep-top", "1.0",
              "--decontaminate", "--out", tmp_path / "clean", "--db", db_path)
    assert res.code == 0, res.err
    kept = pl.read_parquet(tmp_path / "clean" / "data")
    assert sorted(kept["id"].to_list()) == sorted(i for i in ids[:6] if i != "bad\\xff:3")
    assert _assert_consistent(tmp_path / "clean")["inputs"] == [f"{corpus}/bad\\xff.jsonl"]
    from curate.store import Store

    with Store(db_path, read_only=True) as store:  # recorded, not lost to a warning
        assert store.runs("filter")["inputs"][0][0] == f"{corpus}/bad\\xff.jsonl"


def test_ids_and_names_from_bad_file_names_are_valid_text(tmp_path: Path) -> None:
    from curate.corpus import iter_documents, source_name

    bad = _bad_file(tmp_path / "c" / "sub\xfe".encode("latin-1").decode("utf-8", "surrogateescape"), 2)
    docs = list(iter_documents(tmp_path / "c"))
    assert [d.id for d in docs] == ["sub\\xfe/bad\\xff:1", "sub\\xfe/bad\\xff:2"]
    assert source_name(bad) == "bad\\xff"
    assert files.path_text(b"ok\xe2\x82\xac\xff") == "ok\u20ac\\xff"
    assert files.clean_text("lone \ud800 surrogate") == "lone \\ud800 surrogate"
    assert files.clean_text("plain ✓") == "plain ✓"


@pytest.fixture
def umask_set():
    """Run with a given umask (and curate's cached copy of it reset), then restore both."""
    old = os.umask(0o022)
    os.umask(old)

    def set_mask(mask: int) -> None:
        os.umask(mask)
        files.umask.cache_clear()

    yield set_mask
    os.umask(old)
    files.umask.cache_clear()


@pytest.mark.parametrize("mask,file_mode,dir_mode", [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_outputs_follow_the_umask(tmp_path: Path, corpus: Path, scores: Path, cli, db_path: Path, umask_set,
                                  mask: int, file_mode: int, dir_mode: int) -> None:
    umask_set(mask)
    out = tmp_path / "out"
    res = cli("filter", "--input", corpus, "--scores", scores, "--keep-top", "0.5", "--out", out, "--db", db_path)
    assert res.code == 0, res.err
    modes = {p.relative_to(out).as_posix(): p.stat().st_mode & 0o777 for p in [out, *out.rglob("*")]}
    assert modes == {".": dir_mode, "data": dir_mode, "data/train-00000-of-00001.parquet": file_mode,
                     "manifest.json": file_mode, "README.md": file_mode, ".curate-output": file_mode}
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"id": "q", "text": "nothing in the corpus looks like this item at all"}) + "\n")
    ids = tmp_path / "ids" / "contaminated.txt"
    res = cli("contamination", "--benchmark", bench, "--corpus", corpus, "--save-doc-ids", ids, "--workers", "1",
              "--db", db_path)
    assert res.code == 0, res.err
    assert ids.stat().st_mode & 0o777 == file_mode
    staging = files.make_temp_dir(".curate-filter-", tmp_path)
    assert staging.stat().st_mode & 0o777 == dir_mode
    with files.atomic_path(tmp_path / "x.txt") as tmp:
        tmp.write_text("x")
    assert (tmp_path / "x.txt").stat().st_mode & 0o777 == file_mode
