"""curate replaces only what it wrote (docs/security.md): every command's outputs, checked before any work.

A user's file in the way is one `error:` line (exit 1) and stays byte for byte, mtime included; curate's own
earlier output is replaced (a rerun, a resume); `--overwrite`, where a command has it, replaces a plain file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.errors import CurateError
from curate.files import OUTPUT_MARKER, check_output_dir, check_output_file, claim_output_dir


def _user_file(path: Path, data: bytes = b"my own notes\n") -> tuple[bytes, int]:
    """A file of the user's, with an mtime in the past so a rewrite would show."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    return data, path.stat().st_mtime_ns


def _untouched(path: Path, before: tuple[bytes, int]) -> bool:
    return (path.read_bytes(), path.stat().st_mtime_ns) == before


def _one_error(err: str, *words: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert all(w in lines[0] for w in words), lines[0]
    return lines[0]


# ---- the rule itself ------------------------------------------------------------------------------------


def test_a_folder_is_written_when_new_empty_or_marked(tmp_path: Path) -> None:
    check_output_dir(tmp_path / "new")
    (tmp_path / "empty").mkdir()
    check_output_dir(tmp_path / "empty")
    mine = tmp_path / "mine"
    before = _user_file(mine / "notes.md")
    with pytest.raises(CurateError, match=r"--out .*mine holds files \(notes.md\) and is not marked"):
        check_output_dir(mine)
    with pytest.raises(CurateError, match="is a file, not a folder"):
        check_output_dir(mine / "notes.md")
    assert _untouched(mine / "notes.md", before) and sorted(p.name for p in mine.iterdir()) == ["notes.md"]
    claim_output_dir(tmp_path / "out", "report")
    claim_output_dir(tmp_path / "out", "judges agree")
    marker = json.loads((tmp_path / "out" / OUTPUT_MARKER).read_text(encoding="utf-8"))
    assert marker["format"] == "curate-output" and marker["commands"] == ["judges agree", "report"]
    (tmp_path / "out" / "notes.md").write_text("added by the user", encoding="utf-8")
    check_output_dir(tmp_path / "out")  # a marked folder stays curate's; its own file names are what it writes
    lock_only = tmp_path / "killed"
    lock_only.mkdir()
    (lock_only / ".curate-filter.lock").write_text("1")
    check_output_dir(lock_only)  # curate's own leftovers do not make a folder the user's
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / OUTPUT_MARKER).write_text("not json", encoding="utf-8")
    (tmp_path / "fake" / "x").write_text("x", encoding="utf-8")
    with pytest.raises(CurateError, match="not marked"):
        check_output_dir(tmp_path / "fake")


def test_a_file_is_replaced_when_curate_wrote_it_or_with_overwrite(tmp_path: Path) -> None:
    check_output_file(tmp_path / "new.parquet")
    theirs = tmp_path / "theirs.parquet"
    pq.write_table(pa.table({"a": [1]}), theirs)
    with pytest.raises(CurateError, match="exists and curate did not write it"):
        check_output_file(theirs)
    ours = tmp_path / "ours.parquet"
    pq.write_table(pa.table({"a": [1]}).replace_schema_metadata({"curate.output": "judge"}), ours)
    check_output_file(ours)
    text = tmp_path / "ids.txt"
    text.write_text("x\n", encoding="utf-8")
    with pytest.raises(CurateError, match="pass --overwrite to replace it"):
        check_output_file(text, "--save-doc-ids", overwrite=False)
    check_output_file(text, "--save-doc-ids", overwrite=True)
    with pytest.raises(CurateError, match="is a folder, not a file"):
        check_output_file(tmp_path, overwrite=True)


# ---- report ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hub_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.hubdir import snapshot_bundled_sample

    return snapshot_bundled_sample(tmp_path_factory.mktemp("hub") / "s.duckdb", langs=("ko", "en"), top=50)


def test_report_out_refuses_a_users_folder_and_replaces_its_own(tmp_path: Path, cli, hub_db: Path) -> None:
    folder = tmp_path / "docs"
    md, js = _user_file(folder / "report.md"), _user_file(folder / "report.json", b'{"mine": true}')
    for extra in ([], ["--all-languages"], ["--trends"]):
        res = cli("report", "--db", hub_db, "--out", folder, *extra)
        assert res.code == 1
        _one_error(res.err, f"--out {folder}", "not marked as written by curate", "choose a new or empty folder")
    assert _untouched(folder / "report.md", md) and _untouched(folder / "report.json", js)
    assert sorted(p.name for p in folder.iterdir()) == ["report.json", "report.md"]

    out = tmp_path / "report"
    assert cli("report", "--db", hub_db, "--lang", "ko", "--out", out).code == 0
    assert (out / OUTPUT_MARKER).is_file()
    os.utime(out / "report.json", ns=(1, 1))
    again = cli("report", "--db", hub_db, "--lang", "ko", "--out", out)
    assert again.code == 0, again.err
    assert (out / "report.json").stat().st_mtime_ns != 1  # replaced
    (out / OUTPUT_MARKER).unlink()  # a report folder from before the marker: known by its report.json
    assert cli("report", "--db", hub_db, "--lang", "ko", "--out", out).code == 0


# ---- judge and judges agree -----------------------------------------------------------------------------


def _corpus(path: Path, n: int = 4) -> Path:
    path.write_text("".join(json.dumps({"id": f"d{i}", "lang": "en", "text": f"document number {i}"}) + "\n"
                            for i in range(n)), encoding="utf-8")
    return path


def test_judge_out_refuses_a_users_file_before_any_request(tmp_path: Path, cli) -> None:
    from tests.openai_stub import OpenAIStub, serve

    corpus = _corpus(tmp_path / "c.jsonl")
    stub = OpenAIStub()
    theirs = tmp_path / "labels.parquet"
    pq.write_table(pa.table({"doc_id": ["x"], "note": ["mine"]}), theirs)
    before = theirs.read_bytes(), theirs.stat().st_mtime_ns
    with serve(stub) as api:
        args = ["judge", "--input", corpus, "--model", "m", "--api-base", api, "--max-retries", 0]
        res = cli(*args, "--out", theirs)
        assert res.code == 1 and stub.n_requests == 0
        _one_error(res.err, f"--out {theirs}", "curate did not write it", "choose another --out")
        assert _untouched(theirs, before)
        out = tmp_path / "mine.parquet"
        assert cli(*args, "--out", out).code == 0
        assert pq.read_schema(out).metadata[b"curate.output"] == b"judge"
        os.utime(out, ns=(1, 1))
        again = cli(*args, "--out", out)  # a rerun on its own output: replaced, answers from the cache
        assert again.code == 0, again.err
        assert out.stat().st_mtime_ns != 1 and pq.read_table(out).num_rows == 4
        # labels from a curate that did not mark its parquet: known by their columns
        pq.write_table(pq.read_table(out).replace_schema_metadata(None), out)
        assert cli(*args, "--out", out).code == 0


def test_judges_agree_out_refuses_a_users_folder(tmp_path: Path, cli) -> None:
    from curate.judges.run import write_labels

    rows = [{"doc_id": f"d{i}", "lang": "en", "text": "t", "judge": j, "model": j, "score": float((i + k) % 6)}
            for i in range(6) for k, j in enumerate(("a", "b"))]
    labels = write_labels(rows, tmp_path / "labels.parquet")
    folder = tmp_path / "mine"
    before = _user_file(folder / "agreement.json", b'{"my": "numbers"}')
    res = cli("judges", "agree", labels, "--bootstrap", 0, "--out", folder)
    assert res.code == 1
    _one_error(res.err, f"--out {folder}", "not marked as written by curate")
    assert _untouched(folder / "agreement.json", before) and len(list(folder.iterdir())) == 1
    out = tmp_path / "agree"
    assert cli("judges", "agree", labels, "--bootstrap", 0, "--out", out).code == 0
    os.utime(out / "agreement.json", ns=(1, 1))
    assert cli("judges", "agree", labels, "--bootstrap", 0, "--out", out).code == 0
    assert (out / "agreement.json").stat().st_mtime_ns != 1 and (out / "heatmap.png").is_file()


# ---- contamination --save-doc-ids -----------------------------------------------------------------------


def test_save_doc_ids_refuses_an_existing_file_unless_overwrite(tmp_path: Path, cli, db_path: Path) -> None:
    words = " ".join(f"w{k}" for k in range(20))
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"id": "q", "text": words}) + "\n", encoding="utf-8")
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"id": "d1", "text": words}) + "\n", encoding="utf-8")
    ids = tmp_path / "ids.txt"
    before = _user_file(ids)
    args = ["contamination", "--benchmark", bench, "--corpus", corpus, "--workers", "1", "--db", db_path,
            "--save-doc-ids", ids]
    res = cli(*args[:4], tmp_path / "missing.jsonl", *args[5:])  # refused before the corpus is read
    assert res.code == 1
    _one_error(res.err, f"--save-doc-ids {ids} already exists", "pass --overwrite")
    assert _untouched(ids, before) and not db_path.exists()
    res = cli(*args, "--overwrite")
    assert res.code == 0, res.err
    assert ids.read_text(encoding="utf-8") == "d1\n"
    assert cli(*args).code == 0  # now curate's, as it left it: a rerun replaces it without --overwrite
    edited = _user_file(ids, b"d1\nmine\n")  # changed by hand since: the user's now
    res = cli(*args)
    assert res.code == 1 and "pass --overwrite" in res.err and _untouched(ids, edited)


# ---- annotate ---------------------------------------------------------------------------------------------


def test_annotate_out_refuses_a_users_file_and_resumes_its_own(tmp_path: Path, cli) -> None:
    from curate.annotators.annotate import annotate_corpus
    from tests.annotate_corpus import ZeroAnnotator

    corpus = _corpus(tmp_path / "c.jsonl", 6)
    theirs = tmp_path / "scores.parquet"
    before = _user_file(theirs, b"PAR1 not really")
    res = cli("annotate", "--input", corpus, "--annotator", tmp_path / "no-annotator", "--out", theirs)
    assert res.code == 1
    _one_error(res.err, f"--out {theirs}", "curate did not write it")
    assert _untouched(theirs, before) and not (tmp_path / "scores.parquet.work").exists()
    out = tmp_path / "mine.parquet"
    annotate_corpus(corpus, ZeroAnnotator(), out)
    assert pq.read_schema(out).metadata[b"curate.output"] == b"annotate"
    os.utime(out, ns=(1, 1))
    summary = annotate_corpus(corpus, ZeroAnnotator(), out)
    assert summary.documents == 6 and out.stat().st_mtime_ns != 1


# ---- filter ------------------------------------------------------------------------------------------------


def test_filter_out_refuses_a_users_folder_even_with_overwrite(tmp_path: Path, cli, db_path: Path) -> None:
    from tests.filter_fixtures import make_corpus, make_scores

    corpus = make_corpus(tmp_path / "corpus", per_lang=5, files=1)
    scores = make_scores(tmp_path / "scores.parquet", corpus)
    folder = tmp_path / "site"
    before = _user_file(folder / "README.md")
    args = ["filter", "--input", corpus, "--scores", scores, "--keep-top", "0.5", "--db", db_path]
    for extra in ([], ["--overwrite"]):
        res = cli(*args, "--out", folder, *extra)
        assert res.code == 1
        _one_error(res.err, f"--out {folder}", "not marked as written by curate")
    assert _untouched(folder / "README.md", before) and [p.name for p in folder.iterdir()] == ["README.md"]
    out = tmp_path / "export"
    assert cli(*args, "--out", out).code == 0
    assert cli(*args, "--out", out).code == 1  # its own export: replaced only with --overwrite
    (out / OUTPUT_MARKER).unlink()  # an export from before the marker: known by its manifest.json
    res = cli(*args, "--out", out, "--overwrite")
    assert res.code == 0, res.err
    assert (out / OUTPUT_MARKER).is_file()


# ---- train-annotator, demo, work folders ---------------------------------------------------------------


def test_train_annotator_writes_into_a_folder_another_command_marked(tmp_path: Path) -> None:
    from curate.annotators.heads import check_annotator_target

    claim_output_dir(tmp_path / "models", "report")
    (tmp_path / "models" / "report.md").write_text("x", encoding="utf-8")
    check_annotator_target(tmp_path / "models")
    before = _user_file(tmp_path / "mine" / "config.json", b'{"model_type": "bert"}')
    with pytest.raises(CurateError, match="not marked as written by curate"):
        check_annotator_target(tmp_path / "mine")
    assert _untouched(tmp_path / "mine" / "config.json", before)


def test_demo_out_refuses_a_users_folder_before_any_work(tmp_path: Path, cli) -> None:
    folder = tmp_path / "work"
    before = _user_file(folder / "report" / "report.md")  # the demo writes its report to OUT/report
    res = cli("demo", "--quick", "--out", folder)
    assert res.code == 1
    _one_error(res.err, f"--out {folder}", "not marked as written by curate")
    assert _untouched(folder / "report" / "report.md", before)
    assert [p.relative_to(folder).as_posix() for p in folder.rglob("*")] == ["report", "report/report.md"]


def test_restart_never_deletes_a_users_manifest_in_a_work_dir(tmp_path: Path) -> None:
    from curate.annotators.annotate import annotate_corpus
    from tests.annotate_corpus import ZeroAnnotator

    corpus = _corpus(tmp_path / "c.jsonl")
    work = tmp_path / "project"
    before = _user_file(work / "manifest.json", b'{"name": "my project"}')
    for restart in (False, True):
        with pytest.raises(CurateError, match=r"holds a manifest\.json that no curate run wrote"):
            annotate_corpus(corpus, ZeroAnnotator(), tmp_path / "s.parquet", work_dir=work, restart=restart)
        assert _untouched(work / "manifest.json", before)
