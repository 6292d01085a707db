import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.corpus import batched, iter_documents
from curate.errors import CurateError


def _jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_jsonl_bad_lines_are_reported_and_skipped(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "c.jsonl",
        [
            json.dumps({"id": "a", "text": "안녕하세요"}),
            "{broken",
            json.dumps({"id": "b"}),
            json.dumps({"id": "c", "text": "   "}),
            json.dumps({"text": "no id here"}),
        ],
    )
    errors: list[str] = []
    docs = list(iter_documents(path, on_error=errors.append))
    assert [(d.id, d.text) for d in docs] == [("a", "안녕하세요"), ("c:5", "no id here")]
    assert errors[0].startswith(f"{path}:2: invalid JSON")
    assert errors[1] == f"{path}:3: missing text field 'text'"
    assert errors[2] == f"{path}:4: empty text"


def test_multi_field_items_are_joined_in_order(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "b.jsonl", [json.dumps({"q": "2+2?", "choices": ["3", "4"], "answer": None})])
    (doc,) = iter_documents(path, text_field="q,choices,answer")
    assert doc.text == "2+2?\n3\n4"


def test_directory_of_mixed_formats(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "a.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "g1", "text": "gz doc", "lang": "en"}) + "\n")
    pq.write_table(pa.table({"id": ["p1", "p2"], "text": ["日本語の文書", ""]}), tmp_path / "b.parquet")
    (tmp_path / "c.csv").write_text("id,text\nc1,csv doc\n", encoding="utf-8")
    (tmp_path / "ignored.txt").write_text("not a corpus file")
    errors: list[str] = []
    docs = list(iter_documents(tmp_path, lang_field="lang", on_error=errors.append))
    assert [d.id for d in docs] == ["g1", "p1", "c1"]
    assert docs[0].lang == "en"
    assert errors == [f"{tmp_path / 'b.parquet'}:2: empty text"]


def test_corrupt_parquet_is_reported_and_run_goes_on(tmp_path: Path) -> None:
    (tmp_path / "a.parquet").write_bytes(b"PAR1 this is not parquet")
    _jsonl(tmp_path / "b.jsonl", [json.dumps({"id": "ok", "text": "fine"})])
    errors: list[str] = []
    docs = list(iter_documents(tmp_path, on_error=errors.append))
    assert [d.id for d in docs] == ["ok"]
    assert "unreadable parquet" in errors[0] and "a.parquet" in errors[0]


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CurateError, match="no such file"):
        list(iter_documents(tmp_path / "nope.jsonl"))


@pytest.mark.parametrize("typed", ["corpus/", "demo/corpsu", "demo/sub/x", "bad id!", "./x", "x.jsonl"])
def test_a_mistyped_path_is_not_asked_of_the_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, typed: str) -> None:
    """A path that does not exist is a local path whenever it looks like one, starts in a local folder or is
    no valid repo id: one line at once, not Hub retries and an error about the Hub."""
    from curate.corpus import expand_source

    (tmp_path / "demo").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CurateError, match=r"^.*: no such file or directory$"):
        expand_source(typed)


def test_an_owner_slash_name_that_is_not_local_is_a_hub_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from curate.corpus import expand_source

    monkeypatch.chdir(tmp_path)
    assert expand_source("HAERAE-HUB/HRM8K") == "HAERAE-HUB/HRM8K" and expand_source("wikitext") == "wikitext"


def test_batched() -> None:
    assert [len(b) for b in batched(range(5), 2)] == [2, 2, 1]  # type: ignore[arg-type]


def test_records_without_ids_in_same_named_files_get_distinct_ids(tmp_path: Path) -> None:
    for lang in ("en", "ko"):
        (tmp_path / "c" / lang).mkdir(parents=True)
        (tmp_path / "c" / lang / "train.jsonl").write_text('{"text": "one"}\n{"text": "two"}\n', encoding="utf-8")
    ids = [d.id for d in iter_documents(tmp_path / "c")]
    assert ids == ["en/train:1", "en/train:2", "ko/train:1", "ko/train:2"]
    # Read file by file (as the filter and Ray engines do), the ids are the same when the folder is named.
    one = tmp_path / "c" / "ko" / "train.jsonl"
    assert [d.id for d in iter_documents(one, id_root=tmp_path / "c")] == ["ko/train:1", "ko/train:2"]
    assert [d.id for d in iter_documents(one)] == ["train:1", "train:2"]


def test_find_documents_stops_when_everything_is_found(tmp_path: Path) -> None:
    from curate.corpus import find_documents

    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.jsonl").write_text('{"id": "1", "text": "one"}\n{"id": "2", "text": "two"}\n', encoding="utf-8")
    (folder / "b.jsonl").write_text('{"id": "3", "text": "three"}\nnot json\n', encoding="utf-8")
    found = find_documents([str(folder)], ["3", "1", "missing"])
    assert {k: d.text for k, d in found.items()} == {"1": "one", "3": "three"}
    assert set(find_documents([str(folder)], ["2", "3"], max_docs=2)) == {"2"}  # a bounded scan
    assert find_documents(["someone/hub-dataset"], ["1"]) == {}  # never the network
