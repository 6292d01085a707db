"""A corpus field name the records do not have: one rule for every command that reads a corpus.

The run stops before it writes anything, exit code 2, with one line naming the option, the value given and
the fields the records have (`curate.corpus.ReadSpec.check_fields`). Bad records among good ones are still
reported one by one and skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from curate.corpus import SURVEY_RECORDS, ReadSpec
from curate.errors import UsageError
from tests.filter_fixtures import make_corpus, make_scores

HAVE = "(records have: id, text, lang)"


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    corpus = make_corpus(tmp_path / "corpus", per_lang=5, with_lang=True)
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"id": "q1", "text": "The library opens at nine and closes late on Fridays."})
                     + "\n", encoding="utf-8")
    (tmp_path / "ann").mkdir()  # never loaded: the fields are checked first
    return {"corpus": corpus, "bench": bench, "scores": make_scores(tmp_path / "scores.parquet", corpus),
            "ann": tmp_path / "ann", "out": tmp_path / "out"}


def _command(name: str, p: dict[str, Path]) -> list[str | Path]:
    if name == "filter":
        return ["filter", "--input", p["corpus"], "--scores", p["scores"], "--keep-top", "0.5", "--out", p["out"]]
    if name in ("annotate", "annotate-ray"):
        ray = ["--engine", "ray"] if name == "annotate-ray" else []
        return ["annotate", "--input", p["corpus"], "--annotator", p["ann"], "--out", p["out"], *ray]
    if name == "judge":
        return ["judge", "--input", p["corpus"], "--model", "m", "--api-base", "http://127.0.0.1:9/v1",
                "--out", p["out"]]
    assert name == "contamination"
    return ["contamination", "--benchmark", p["bench"], "--corpus", p["corpus"], "--workers", "1",
            "--save-doc-ids", p["out"], "--db", p["out"].with_suffix(".duckdb")]


def _assert_refused(result, option: str, value: str, tmp_path: Path, before: set[Path]) -> None:
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: ") and f"'{value}' given by {option}" in lines[0], lines[0]
    assert HAVE in lines[0] and "part-0.jsonl" in lines[0]
    assert set(tmp_path.rglob("*")) == before  # no output, work folder, store or cache


@pytest.mark.parametrize("command", ["filter", "annotate", "annotate-ray", "judge", "contamination"])
@pytest.mark.parametrize(("option", "value"), [("--text-field", "body"), ("--id-field", "doc")])
def test_a_field_the_records_lack_stops_the_run_in_one_line(command: str, option: str, value: str, cli,
                                                            inputs: dict[str, Path], tmp_path: Path) -> None:
    if command == "annotate-ray":
        pytest.importorskip("ray")
    extra = ["--benchmark-text-field", "text"] if command == "contamination" and option == "--text-field" else []
    before = set(tmp_path.rglob("*"))
    result = cli(*_command(command, inputs), option, value, *extra)
    _assert_refused(result, option, value, tmp_path, before)


def test_a_benchmark_field_is_named_by_the_option_that_gave_it(cli, inputs: dict[str, Path],
                                                               tmp_path: Path) -> None:
    before = set(tmp_path.rglob("*"))
    base = _command("contamination", inputs)
    # --benchmark-text-field defaults to --text-field: the message says so, naming both.
    r = cli(*base, "--text-field", "body")
    assert r.code == 2 and r.err.strip() == (
        f"error: {inputs['bench']}: no record has the field 'body' given by --text-field "
        "(the default of --benchmark-text-field; records have: id, text)")
    r = cli(*base, "--benchmark-text-field", "question,choices")
    assert r.code == 2 and r.err.strip() == (
        f"error: {inputs['bench']}: no record has any of the fields 'question', 'choices' given by "
        "--benchmark-text-field (records have: id, text)")
    r = cli(*base, "--benchmark-id-field", "qid")
    assert r.code == 2 and "'qid' given by --benchmark-id-field (records have: id, text)" in r.err
    assert len(r.err.strip().splitlines()) == 1
    assert set(tmp_path.rglob("*")) == before


def test_an_inherited_id_field_may_be_missing_from_a_benchmark(cli, tmp_path: Path) -> None:
    text = "the library opens at nine and closes late on fridays every week"
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"doc": "d1", "text": text}) + "\n", encoding="utf-8")
    bench = tmp_path / "b.jsonl"
    bench.write_text(json.dumps({"text": text}) + "\n", encoding="utf-8")
    r = cli("contamination", "--benchmark", bench, "--corpus", corpus, "--id-field", "doc", "--workers", "1",
            "--format", "json", "--db", tmp_path / "s.duckdb")
    assert r.code == 0, r.err
    (item,) = json.loads(r.out)["benchmarks"]["b"]["items"]
    assert (item["id"], item["doc_ids"]) == ("b:1", ["d1"])


def test_a_corpus_file_of_bad_records_does_not_crash_the_contamination_scan(cli, tmp_path: Path) -> None:
    """A batch with reader messages only passed the scan without its columns: KeyError 'n_bytes'."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.jsonl").write_text("{broken\n" * 3, encoding="utf-8")
    text = "the library opens at nine and closes late on fridays every week"
    (corpus / "b.jsonl").write_text(json.dumps({"id": "d1", "text": text}) + "\n", encoding="utf-8")
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"id": "q1", "text": text}) + "\n", encoding="utf-8")
    r = cli("contamination", "--benchmark", bench, "--corpus", corpus, "--workers", "1", "--format", "json",
            "--db", tmp_path / "s.duckdb")
    assert r.code == 0, r.err
    assert json.loads(r.out)["benchmarks"]["bench"]["items"][0]["doc_ids"] == ["d1"]
    assert "3 skipped records" in r.err and "a.jsonl:1: invalid JSON" in r.err


def _check(spec: ReadSpec, path: Path) -> str | None:
    try:
        spec.check_fields([path])
    except UsageError as exc:
        assert exc.param == "--text-field" or exc.param == "--id-field"
        return str(exc)
    return None


def test_parquet_and_csv_are_judged_by_their_columns(tmp_path: Path) -> None:
    table = pa.table({"id": ["a", "b"], "content": ["x", "y"]})
    pq.write_table(table, tmp_path / "c.parquet")
    pcsv.write_csv(table, tmp_path / "c.csv")
    for path in (tmp_path / "c.parquet", tmp_path / "c.csv"):
        assert _check(ReadSpec(), path) == \
            f"{path}: no record has the field 'text' given by --text-field (records have: id, content)"
        assert _check(ReadSpec(text_field="content"), path) is None
        assert "'doc' given by --id-field" in str(_check(ReadSpec(text_field="content", id_field="doc"), path))


def test_what_stays_a_per_record_matter(tmp_path: Path) -> None:
    # Records without the field among records with it, an empty file, unreadable lines only, a corpus
    # without ids under the default id field, and one field of several missing are not refused.
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"title": "x"}) + "\n" + json.dumps({"text": "y"}) + "\n", encoding="utf-8")
    assert _check(ReadSpec(), path) is None
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    assert _check(ReadSpec(text_field="body"), tmp_path / "empty.jsonl") is None
    (tmp_path / "broken.jsonl").write_text("{broken\n[1, 2]\n", encoding="utf-8")
    assert _check(ReadSpec(text_field="body"), tmp_path / "broken.jsonl") is None
    assert _check(ReadSpec(text_field="text,choices"), path) is None
    # Only the first SURVEY_RECORDS records are read: a field absent from all of them is refused.
    many = tmp_path / "many.jsonl"
    many.write_text(json.dumps({"title": "x"}) + "\n" * 1 + (json.dumps({"title": "x"}) + "\n")
                    * SURVEY_RECORDS + json.dumps({"text": "late"}) + "\n", encoding="utf-8")
    assert _check(ReadSpec(), many) == (f"{many}: none of the first {SURVEY_RECORDS} records has the field "
                                        "'text' given by --text-field (records have: title)")


def test_a_stray_file_among_good_ones_is_skipped_with_a_warning(tmp_path: Path, cli) -> None:
    """A corpus folder that also holds a file without the text field (a stats or metadata file) is one bad
    source, not a mistyped option: one warning, its records skipped, the run goes on."""
    corpus = make_corpus(tmp_path / "corpus", per_lang=5, with_lang=True)
    scores = make_scores(tmp_path / "scores.parquet", corpus)
    stray = corpus / "stats.jsonl"
    stray.write_text(json.dumps({"files": 2, "docs": 20}) + "\n", encoding="utf-8")
    warnings: list[str] = []
    sources, spec = ReadSpec().sources([corpus])
    spec.check_fields(sources, on_warning=warnings.append)
    assert warnings == [f"{stray}: no record has the field 'text' given by --text-field (records have: files, "
                        "docs); its records are skipped"]
    result = cli("filter", "--input", corpus, "--scores", scores, "--keep-top", "0.5", "--out", tmp_path / "out")
    assert result.code == 0, result.err
    assert "stats.jsonl: no record has the field 'text'" in result.err
