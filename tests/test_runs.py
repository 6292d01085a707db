"""Pipeline runs are recorded in the store; a store that cannot take the record costs a warning, not the run."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from curate.runs import record
from curate.store import Store


def test_record_and_list(db_path: Path, tmp_path: Path) -> None:
    first = record(db_path, "annotate", ["corpus/"], tmp_path / "scores.parquet", {"annotator": "a/"}, 10, 1.5)
    second = record(db_path, "filter", ["corpus/", "scores.parquet"], tmp_path / "out", {"rule": {"keep_top": 0.3}})
    assert (first, second) == (1, 2)
    with Store(db_path, read_only=True) as store:
        table = store.runs()
        assert table["kind"].to_list() == ["filter", "annotate"]
        assert store.runs("annotate")["output"].to_list() == [str((tmp_path / "scores.parquet").resolve())]
    with pytest.raises(ValueError):
        record(db_path, "bogus", [], "x", {})


def test_unwritable_store_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with caplog.at_level(logging.WARNING, logger="curate"):
        assert record(blocker / "store.duckdb", "judge", ["c"], tmp_path / "labels.parquet", {}) is None
    assert "run not recorded in the store" in caplog.text
