"""`curate snapshot --from-dump` against a loopback Hub serving generated dumps: rows, error rows, revisions,
schema checks, interruption and resume, and the same report as a crawl of the same datasets."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from collectors.dump import DumpOptions, take_dump_snapshot
from collectors.hub_server import serve
from collectors.snapshot import SnapshotInterrupted, SnapshotOptions, take_snapshot
from collectors.synthetic_dump import (
    DEFAULT_REPO,
    SCHEMA,
    commit_id,
    dump_mirror,
    write_history,
    write_revision,
)
from curate import config
from curate.errors import CurateError
from curate.store import Store

WHEN = datetime(2025, 5, 6, tzinfo=UTC)


def _row(rid: str, downloads: int | None = 10, card: str | None = "---\nlicense: mit\n---\n# Card\n",
         tags: list[str] | None = None, **over: Any) -> dict[str, Any]:
    tags = ["language:ko", "license:mit"] if tags is None else tags
    row = {"datasetId": rid, "author": rid.split("/")[0], "last_modified": WHEN, "downloads": downloads,
           "likes": 2, "tags": tags, "task_categories": [], "createdAt": WHEN, "card": card}
    row.update(over)
    return row


def _small_hub(root: Path) -> Path:
    (root / "datasets.jsonl").parent.mkdir(parents=True, exist_ok=True)
    (root / "datasets.jsonl").write_text("")
    rows = [
        _row("a/ko-top", downloads=500, card="---\nlicense: mit\nlanguage:\n- ko\npretty_name: Top\n---\n# Top\n"),
        _row("b/ko-second", downloads=40, tags=["language:ko", "language:en"]),
        _row("c/ja-only", downloads=7, tags=["language:ja"]),
        _row("d/no-language", downloads=1000, tags=["license:mit"]),  # not in any listing: not stored
        _row("e/no-card", downloads=3, card=None),
        _row("f/broken-yaml", downloads=2, card="---\nlicense: [mit\n  : x\n---\n# Broken\n"),
        _row("not an id", downloads=1),
        _row("g/negative", downloads=-1),
        _row("a/ko-top", downloads=1, card="# a second row for the same id\n"),
        _row("h/odd-header", downloads=5, card="---\n1: one\nlicense: mit\n---\n# Keys that are not names\n"),
    ]
    write_revision(root, rows, date="2025-05-06T00:00:00.000Z", rows_per_file=4, row_group_rows=2)
    return root


def test_a_small_dump_fills_the_tables_a_crawl_fills(tmp_path: Path) -> None:
    hub = _small_hub(tmp_path / "hub")
    with serve(hub) as server, Store(tmp_path / "s.duckdb") as store:
        summary = take_dump_snapshot(store, DumpOptions(endpoint=server.url, batch_rows=3), token="")
        con = store.con
        snap = con.execute("SELECT status, repo, revision, data_date, endpoint FROM snapshots "
                           "JOIN dump_snapshots ON snapshot_id = id").fetchall()
        listings = con.execute("SELECT lang, rank, repo_id FROM listings ORDER BY lang, rank").fetchall()
        datasets = {r[0]: r[1:] for r in con.execute(
            "SELECT repo_id, author, downloads, likes, tags, card_data, created_at FROM datasets").fetchall()}
        cards = dict(con.execute("SELECT repo_id, text FROM cards").fetchall())
        errors = sorted(con.execute("SELECT stage, repo_id FROM errors").fetchall(), key=str)
        files = con.execute("SELECT path, rows, rows_done FROM dump_files ORDER BY path").fetchall()
    sha = commit_id(DEFAULT_REPO, "2025-05-06T00:00:00.000Z")
    assert snap == [("complete", DEFAULT_REPO, sha, WHEN, server.url)]
    assert (summary.revision, summary.date, summary.files, summary.rows) == (sha, WHEN, 3, 10)
    assert files == [(f"data/train-0000{i}-of-00003.parquet", n, n) for i, n in enumerate((4, 4, 2))]
    assert listings == [("en", 1, "b/ko-second"), ("ja", 1, "c/ja-only"), ("ko", 1, "a/ko-top"),
                        ("ko", 2, "b/ko-second"), ("ko", 3, "h/odd-header"), ("ko", 4, "e/no-card"),
                        ("ko", 5, "f/broken-yaml")]
    assert set(datasets) == {"a/ko-top", "b/ko-second", "c/ja-only", "e/no-card", "f/broken-yaml", "h/odd-header"}
    author, downloads, likes, tags, card_data, created = datasets["a/ko-top"]
    assert (author, downloads, likes, tags, created) == ("a", 500, 2, ["language:ko", "license:mit"], WHEN)
    assert json.loads(card_data) == {"license": "mit", "language": ["ko"], "pretty_name": "Top"}
    assert datasets["f/broken-yaml"][4] is None and datasets["h/odd-header"][4] is None
    assert cards["a/ko-top"].endswith("# Top\n")  # the first row of a repeated id wins
    assert "f/broken-yaml" in cards and "e/no-card" not in cards
    assert errors == sorted([("card", "e/no-card"), ("dump", "a/ko-top"), ("dump", "g/negative"),
                             ("dump", "not an id"), ("yaml", "f/broken-yaml"), ("yaml", "h/odd-header")], key=str)
    assert (summary.datasets, summary.cards, summary.missing_cards, summary.bad_rows) == (6, 5, 1, 3)


def test_a_past_revision_is_the_hub_as_it_was(tmp_path: Path) -> None:
    shas = write_history(tmp_path / "hub", 300)
    with serve(tmp_path / "hub") as server, Store(tmp_path / "s.duckdb") as store:
        old = take_dump_snapshot(store, DumpOptions(endpoint=server.url, revision=shas[0]), token="")
        new = take_dump_snapshot(store, DumpOptions(endpoint=server.url), token="")
        dates = dict(store.con.execute("SELECT revision, data_date FROM dump_snapshots").fetchall())
    first = pq.read_table(tmp_path / "hub" / "history" / DEFAULT_REPO / shas[0] / "data").to_pylist()
    in_scope = {r["datasetId"] for r in first if any(t.startswith("language:") for t in r["tags"])
                and "/" in r["datasetId"] and r["downloads"] >= 0}
    assert (old.revision, new.revision) == (shas[0], shas[-1])
    assert old.datasets == len(in_scope) < new.datasets
    assert dates[shas[0]] < dates[shas[-1]]


def test_a_missing_column_fails_in_one_line_naming_it(tmp_path: Path, cli: Any) -> None:
    hub = _small_hub(tmp_path / "hub")
    folder = hub / "history" / DEFAULT_REPO / commit_id(DEFAULT_REPO, "2025-05-06T00:00:00.000Z") / "data"
    for path in folder.glob("*.parquet"):
        table = pq.read_table(path)
        pq.write_table(table.drop_columns(["card"]), path)
    with serve(hub) as server:
        result = cli("snapshot", "--from-dump", "--endpoint", server.url, "--db", tmp_path / "s.duckdb")
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "no column 'card'" in lines[0] and "Traceback" not in result.err
    with Store(tmp_path / "s.duckdb") as store:  # the snapshot it started is not claimed complete
        assert store.con.execute("SELECT status FROM snapshots").fetchall() == [("interrupted",)]


def test_a_column_of_the_wrong_type_is_named(tmp_path: Path) -> None:
    hub = tmp_path / "hub"
    (hub).mkdir()
    (hub / "datasets.jsonl").write_text("")
    write_revision(hub, [_row("a/x")], date="2025-01-01T00:00:00.000Z")
    path = next((hub / "history" / DEFAULT_REPO).rglob("*.parquet"))
    table = pq.read_table(path)
    pq.write_table(table.set_column(table.schema.get_field_index("downloads"), "downloads",
                                    pa.array(["ten"])), path)
    with serve(hub) as server, Store(tmp_path / "s.duckdb") as store, \
            pytest.raises(CurateError, match="column 'downloads' is string, not integer"):
        take_dump_snapshot(store, DumpOptions(endpoint=server.url), token="")


def test_unknown_repo_or_revision_is_one_clear_line(tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = _small_hub(tmp_path / "hub")
    with serve(hub) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)  # honoured like a crawl's
        missing = cli("snapshot", "--from-dump", "nobody/nothing", "--db", tmp_path / "s.duckdb")
        bad_rev = cli("snapshot", "--from-dump", "--revision", "f" * 40, "--db", tmp_path / "s.duckdb")
        fine = cli("snapshot", "--from-dump", "--db", tmp_path / "s.duckdb")
    assert missing.code == 1 and "no such dataset repo" in missing.err and len(missing.err.splitlines()) == 1
    assert bad_rev.code == 1 and "no such revision" in bad_rev.err
    assert fine.code == 0, fine.err
    assert "10 dump rows in 3 files: 6 datasets stored" in fine.out


def test_an_interrupted_import_resumes_to_what_a_whole_run_stores(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    write_history(tmp_path / "hub", 400, dates=["2025-01-01T00:00:00.000Z"], rows_per_file=150)

    def tables(store: Store) -> tuple[Any, ...]:
        q = store.con.execute
        return (q("SELECT * EXCLUDE (snapshot_id) FROM datasets ORDER BY repo_id").fetchall(),
                q("SELECT repo_id, text FROM cards ORDER BY repo_id").fetchall(),
                q("SELECT stage, repo_id, message FROM errors ORDER BY ALL").fetchall(),
                q("SELECT * EXCLUDE (snapshot_id) FROM listings ORDER BY ALL").fetchall())

    with serve(tmp_path / "hub") as server:
        with Store(tmp_path / "whole.duckdb") as store:
            take_dump_snapshot(store, DumpOptions(endpoint=server.url, batch_rows=40), token="")
            whole = tables(store)
        calls = {"n": 0}
        original = Store.add_dump_batch

        def dies_on_the_fifth(self: Store, *args: Any) -> None:
            calls["n"] += 1
            if calls["n"] == 5:
                raise KeyboardInterrupt
            original(self, *args)

        with Store(tmp_path / "cut.duckdb") as store:
            monkeypatch.setattr(Store, "add_dump_batch", dies_on_the_fifth)
            with pytest.raises(SnapshotInterrupted, match="--from-dump --resume-id 1"):
                take_dump_snapshot(store, DumpOptions(endpoint=server.url, batch_rows=40), token="")
            status, stored = store.con.execute(
                "SELECT status, (SELECT count(*) FROM datasets) FROM snapshots").fetchone()
            assert status == "interrupted" and 0 < stored < len(whole[0])
            assert store.con.execute("SELECT count(*) FROM listings").fetchone()[0] == 0
            monkeypatch.setattr(Store, "add_dump_batch", original)
            summary = take_dump_snapshot(store, DumpOptions(batch_rows=40), resume=True, token="")
            assert summary.resumed and store.con.execute("SELECT status FROM snapshots").fetchone()[0] == "complete"
            assert tables(store) == whole


def test_a_crawl_resume_leaves_dump_snapshots_alone(tmp_path: Path) -> None:
    hub = _small_hub(tmp_path / "hub")
    with serve(hub) as server, Store(tmp_path / "s.duckdb") as store:
        take_dump_snapshot(store, DumpOptions(endpoint=server.url), token="")
        store.set_snapshot_status(1, "interrupted")
        with pytest.raises(CurateError, match="nothing to resume"):
            take_snapshot(store, SnapshotOptions(langs=[], endpoint=server.url), resume=True, token="")
        with pytest.raises(CurateError, match="read from a dump"):
            take_snapshot(store, SnapshotOptions(langs=[], endpoint=server.url), resume=1, token="")


def test_crawl_and_dump_of_the_bundled_sample_give_the_same_report(tmp_path: Path) -> None:
    from analyses import study

    hub = shutil.copytree(config.data_dir() / "hub-sample", tmp_path / "hub")
    dump_mirror(hub)
    langs = ["ko", "ja", "zh", "en"]
    with serve(hub) as server:
        with Store(tmp_path / "crawl.duckdb") as store:
            take_snapshot(store, SnapshotOptions(langs=langs, endpoint=server.url, rate=None), token="")
            crawl = study.compute(store, langs=langs)
        with Store(tmp_path / "dump.duckdb") as store:
            lookups = SnapshotOptions(langs=[], endpoint=server.url, rate=None)
            summary = take_dump_snapshot(store, DumpOptions(endpoint=server.url, langs=langs, authors=lookups),
                                         token="")
            dump = study.compute(store, langs=langs)
    assert summary.authors > 0 and summary.missing_cards > 0
    assert dump.report["languages"] == crawl.report["languages"]
    assert {k: v for k, v in dump.details.items() if k != "contamination"} == \
        {k: v for k, v in crawl.details.items() if k != "contamination"}
    assert dump.report["snapshot"]["dump"]["repo"] == DEFAULT_REPO
    assert "dump" not in crawl.report["snapshot"]


def test_the_loopback_hub_serves_a_dump_s_history_as_the_hub_does(tmp_path: Path) -> None:
    from huggingface_hub import HfApi, HfFileSystem, hf_hub_download

    shas = write_history(tmp_path / "hub", 50)
    with serve(tmp_path / "hub") as server:
        api = HfApi(endpoint=server.url, token=False)
        commits = api.list_repo_commits(DEFAULT_REPO, repo_type="dataset")
        assert [c.commit_id for c in commits] == shas[::-1]
        assert api.dataset_info(DEFAULT_REPO, revision=shas[1]).sha == shas[1]
        assert api.dataset_info(DEFAULT_REPO).last_modified == datetime(2026, 1, 1, tzinfo=UTC)
        path = f"datasets/{DEFAULT_REPO}@{shas[0]}/data/train-00000-of-00001.parquet"
        fs = HfFileSystem(endpoint=server.url, token=False)
        with fs.open(path, "rb") as fh:  # range requests, streamed from disk by the server
            rows = pq.read_table(fh).to_pylist()
        local = tmp_path / "hub" / "history" / DEFAULT_REPO / shas[0] / "data" / "train-00000-of-00001.parquet"
        assert rows == pq.read_table(local).to_pylist()
        assert pq.read_schema(local).equals(SCHEMA)
        card = hf_hub_download(DEFAULT_REPO, "README.md", repo_type="dataset", revision=shas[0], endpoint=server.url,
                               token=False, cache_dir=tmp_path / "cache")
        assert Path(card).read_text().startswith("---\ndataset_info:")


@pytest.mark.slow
def test_a_400k_row_dump_is_imported_whole(tmp_path: Path) -> None:
    """The size of the whole Hub: every row stored or an error row (time and memory: bench/dump.py)."""
    import polars as pl

    from collectors.records import repo_id_problem

    write_history(tmp_path / "hub", 400_000, dates=["2026-01-01T00:00:00.000Z"])
    files = tmp_path / "hub" / "history" / DEFAULT_REPO
    rows = pl.read_parquet(files / "*" / "data" / "*.parquet", columns=["datasetId", "tags", "downloads"])
    tagged = rows.filter(pl.col("tags").list.eval(pl.element().str.starts_with("language:")).list.any())
    valid = {r for r, d in zip(tagged["datasetId"], tagged["downloads"], strict=True)
             if not repo_id_problem(r) and d >= 0}
    with serve(tmp_path / "hub") as server, Store(tmp_path / "s.duckdb") as store:
        summary = take_dump_snapshot(store, DumpOptions(endpoint=server.url), token="")
        status = store.con.execute("SELECT status FROM snapshots").fetchone()[0]
        stored = store.con.execute("SELECT count(DISTINCT repo_id) FROM listings").fetchone()[0]
    assert status == "complete" and summary.rows == rows.height == 400_006
    assert summary.datasets == stored == len(valid)
    assert summary.bad_rows == tagged.height - len(valid)


def test_the_import_caps_duckdb_s_cache_and_gives_it_back(tmp_path: Path) -> None:
    with Store(tmp_path / "s.duckdb") as store:
        def limit() -> str:
            return store.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]

        before = limit()
        with store.memory_limit("256MB"):
            assert limit() == "244.1 MiB"
        assert limit().split()[1] == before.split()[1]
        with pytest.raises(CurateError, match="not a memory size"), store.memory_limit("1GB'; DROP TABLE x; --"):
            pass
