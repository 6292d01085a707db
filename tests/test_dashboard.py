"""The dashboard renders a real store without a browser (Streamlit's AppTest)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from collectors.hub_server import serve
from collectors.snapshot import SnapshotOptions, take_snapshot
from curate.store import Store
from tests.hubdir import make_hub, record

APP = str(Path(__file__).resolve().parents[1] / "dashboards" / "app.py")


@pytest.fixture
def store_path(tmp_path: Path, db_path: Path) -> Path:
    hub = make_hub(tmp_path / "hub", n_per_lang=4, extra=[(record("x/nocard", downloads=5), None)])
    with serve(hub) as server, Store(db_path) as store:
        take_snapshot(store, SnapshotOptions(langs=["ko", "ja"], endpoint=server.url, rate=None), token="")
    return db_path


def test_store_queries_the_dashboard_shows(store_path: Path) -> None:
    with Store(store_path, read_only=True) as store:
        snaps = store.snapshots()
        assert snaps.select("languages", "datasets", "cards", "errors").row(0) == ("ja, ko", 9, 8, 1)
        frame = store.listed_datasets(1, "ko", search="set-0001")
        assert frame["repo_id"].to_list() == ["user1/ko-set-0001"]
        assert store.card_text(1, "user1/ko-set-0001").startswith("---")


def test_app_renders_snapshot(store_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURATE_DB", str(store_path))
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert at.title[0].value == "curate"
    assert any(c.value == "9 datasets" for c in at.caption)
    at.selectbox(key="lang").select("ko").run()
    assert any(c.value == "5 datasets" for c in at.caption)  # 4 + the one without a card


def test_app_reports_missing_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURATE_DB", str(tmp_path / "none.duckdb"))
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert "no store at" in at.error[0].value


def test_scores_tab(store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import polars as pl

    from dashboards import scores

    path = tmp_path / "scores.parquet"
    pl.DataFrame({"doc_id": ["a", "b", "c", "d"], "lang": ["ko", "ko", "en", "en"],
                  "score_judge1": [1.0, 3.0, 2.0, 4.0], "score": [1.5, 2.5, 2.0, 5.0]}).write_parquet(path)
    table = scores.summary(path)
    row = table.filter((pl.col("lang") == "en") & (pl.col("column") == "score")).row(0, named=True)
    assert row["n"] == 2 and row["mean"] == pytest.approx(3.5)
    assert scores.histogram(path, "score", bins=4)["count"].sum() == 4
    monkeypatch.setenv("CURATE_DB", str(store_path))
    monkeypatch.setenv("CURATE_SCORES", str(path))
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert at.text_input(key="scores_path").value == str(path)
    assert any(df.value.shape[0] == 4 for df in at.dataframe)  # 2 languages x 2 score columns


def test_contamination_tab(store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from analyses.contamination import Source, run_check
    from analyses.contamination.persist import save

    item = " ".join(f"word{i}" for i in range(30))
    (tmp_path / "bench.jsonl").write_text(f'{{"id": "q1", "text": "{item}"}}\n{{"id": "q2", "text": "{item[::-1]}"}}\n')
    (tmp_path / "web.jsonl").write_text(f'{{"id": "d1", "text": "intro {item} outro"}}\n')
    result = run_check([Source.parse(str(tmp_path / "bench.jsonl"))], [Source.parse(str(tmp_path / "web.jsonl"))])
    with Store(store_path) as store:
        save(store.con, result)
    with Store(store_path, read_only=True) as store:
        summary = store.latest_contamination()
        assert summary.select("benchmark", "n_items", "n_contaminated").row(0) == ("bench", 2, 1)
        assert store.contamination_items(1, "bench")["doc_ids"].to_list() == ["d1"]
    monkeypatch.setenv("CURATE_DB", str(store_path))
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert any(c.value == "1 items" for c in at.caption)
    at.checkbox[0].check().run()
    assert any(c.value == "2 items" for c in at.caption)


def test_scores_tab_defaults_to_the_newest_recorded_annotate_run(store_path: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import polars as pl

    from curate.runs import record

    path = tmp_path / "scores.parquet"
    pl.DataFrame({"doc_id": ["a", "b"], "lang": ["ko", "en"], "score": [1.0, 2.0]}).write_parquet(path)
    record(store_path, "annotate", ["corpus/"], path, {"annotator": "x/"}, n_docs=2, seconds=0.1)
    monkeypatch.setenv("CURATE_DB", str(store_path))
    monkeypatch.delenv("CURATE_SCORES", raising=False)
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert at.text_input(key="scores_path").value == str(path.resolve())


def test_analyses_tab(store_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURATE_DB", str(store_path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    titles = [h.value for h in at.subheader]
    assert "Language make-up" in titles and "Figures" in titles


def test_analyses_figures_leave_nothing_in_a_shared_temp_folder(store_path: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Figures are drawn in a private folder that is gone afterwards: a fixed /tmp path could be planted."""
    import tempfile

    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    monkeypatch.setenv("CURATE_DB", str(store_path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert len(at.get("image")) >= 5  # the figures are shown
    assert list(shared.iterdir()) == []
