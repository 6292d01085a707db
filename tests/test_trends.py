"""`curate report --trends` over snapshots of three generated dump revisions: one point per month, each the
report of its snapshot, counts checked against the dump files themselves, tables, JSON, figure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow.parquet as pq
import pytest
from PIL import Image

from analyses import study, trends
from collectors.dump import DumpOptions, take_dump_snapshot
from collectors.hub_server import serve
from collectors.snapshot import SnapshotOptions, take_snapshot
from collectors.synthetic_dump import DEFAULT_REPO, write_history
from curate.store import Store
from tests.hubdir import make_hub

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "docs" / "trends.schema.json").read_text())
LANGS = ["en", "ko"]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A store with snapshots of three revisions of a dump (read newest first, so ids and dates disagree), and a
    crawl, which a dump's trend leaves out."""
    root = tmp_path_factory.mktemp("trends")
    shas = write_history(root / "hub", 800)
    make_hub(root / "hub", n_per_lang=3)  # a few crawlable datasets in the same mirror
    db = root / "s.duckdb"
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HOME", str(root / "hf-home"))
    try:
        with serve(root / "hub") as server, Store(db) as store:
            for sha in (shas[2], shas[0], shas[1]):
                take_dump_snapshot(store, DumpOptions(endpoint=server.url, revision=sha, langs=LANGS), token="")
            take_snapshot(store, SnapshotOptions(langs=["ko"], endpoint=server.url, rate=None), token="")
    finally:
        mp.undo()
    return db, shas


def _expected_counts(root: Path, sha: str, lang: str) -> int:
    """Datasets tagged ``lang`` in one revision's files, read with pyarrow: valid ids, counts that are counts,
    each id once."""
    rows = pq.read_table(root / "hub" / "history" / DEFAULT_REPO / sha / "data").to_pylist()
    ids = {r["datasetId"] for r in rows if f"language:{lang}" in r["tags"] and r["datasetId"].count("/") == 1
           and " " not in r["datasetId"] and r["downloads"] >= 0}
    return len(ids)


def test_one_point_per_revision_each_the_report_of_its_snapshot(history: tuple[Path, list[str]]) -> None:
    db, shas = history
    with Store(db, read_only=True) as store:
        result = trends.compute(store, snapshot=1, langs=LANGS)  # snapshot 1 is the newest revision's
        reports = {s: study.compute(store, snapshot=s, langs=LANGS).report for s in (1, 2, 3)}
    assert [s["month"] for s in result.snapshots] == ["2024-06", "2025-03", "2026-01"]
    assert [s["id"] for s in result.snapshots] == [2, 3, 1]
    assert [s["dump"]["revision"] for s in result.snapshots] == shas
    for lang in LANGS:
        points = result.languages[lang]
        assert [p["snapshot"] for p in points] == [2, 3, 1]
        counts = [p["n_datasets"] for p in points]
        assert counts == [_expected_counts(db.parent, sha, lang) for sha in shas]
        assert counts[0] < counts[1] < counts[2]
        for p in points:
            rep = reports[p["snapshot"]]["languages"][lang]
            assert p["n_datasets"] == rep["n_datasets"]
            assert p["license_family"] == {k: v / rep["n_datasets"] for k, v in rep["license_family"].items()}
            assert p["docs"] == {k: rep["docs"][k] for k in trends.DOCS}
    en = result.languages["en"]  # later revisions add licenses and fill sections (collectors.synthetic_dump)
    unknown = [p["license_family"]["unknown"] for p in en]
    filled = [p["docs"]["filled_sections_share"] for p in en]
    assert unknown[0] > unknown[1] > unknown[2]
    assert filled[0] < filled[1] < filled[2]


def test_an_older_snapshot_ends_the_trend_there(history: tuple[Path, list[str]]) -> None:
    db, _ = history
    with Store(db, read_only=True) as store:
        result = trends.compute(store, snapshot=3, langs=["ko"])
    assert [s["id"] for s in result.snapshots] == [2, 3]


def test_cli_json_tables_and_files(history: tuple[Path, list[str]], cli: Any, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    db, _ = history
    monkeypatch.setenv("COLUMNS", "80")
    printed = cli("report", "--db", db, "--trends", "--snapshot", "1", "--format", "json")
    assert printed.code == 0, printed.err
    doc = json.loads(printed.out)
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(doc)
    assert set(doc["languages"]) == set(LANGS)  # the languages with most datasets, without --lang
    table = cli("report", "--db", db, "--trends", "--snapshot", "1", "--lang", "ko")
    assert table.code == 0, table.err
    text = " ".join(table.out.split())  # rich wraps titles to the table's width
    assert "Datasets per language by month" in text and "2025-03" in text
    assert "ko: license families by month" in text and "ko: documentation by month" in text
    assert "…" not in table.out  # every number fits an 80-column terminal
    md = cli("report", "--db", db, "--trends", "--snapshot", "1", "--lang", "ko", "--format", "markdown",
             "--out", tmp_path / "out")
    assert md.code == 0, md.err
    assert md.out.startswith("# curate trends: 3 snapshots of dump librarian-bots/dataset_cards_with_metadata")
    assert json.loads((tmp_path / "out" / "trends.json").read_text())["languages"]["ko"] == doc["languages"]["ko"]
    with Image.open(tmp_path / "out" / "fig_trends.png") as img:
        assert img.size[0] > 400 and img.size[1] > 400
    assert "fig_trends.png" in (tmp_path / "out" / "trends.md").read_text()


def test_a_crawl_s_trend_is_drawn_from_crawls(history: tuple[Path, list[str]], cli: Any) -> None:
    db, _ = history
    result = cli("report", "--db", db, "--trends", "--format", "json")  # latest: the crawl
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert [s["source"] for s in doc["snapshots"]] == ["crawl"]
    assert list(doc["languages"]) == ["ko"] and doc["languages"]["ko"][0]["n_datasets"] == 3


@pytest.mark.parametrize("extra", [["--trends", "--all-languages"], ["--trends", "--min-datasets", "3"],
                                   ["--trends", "--ownership-overrides", "o.csv"], ["--min-datasets", "3"]])
def test_options_that_do_not_apply_are_said_not_ignored(tmp_path: Path, cli: Any, extra: list[str]) -> None:
    """An option the chosen mode does not use is a usage error naming it (exit 2), not silently dropped."""
    result = cli("report", "--db", tmp_path / "none.duckdb", *extra)
    flag = next(a for a in extra[1:] if a.startswith("--")) if extra[0] == "--trends" else "--min-datasets"
    assert result.code == 2 and flag in result.err
