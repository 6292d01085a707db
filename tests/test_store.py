from datetime import UTC, datetime
from pathlib import Path

import pytest

from curate.errors import CurateError
from curate.store import Store, migrations


def test_new_store_applies_every_migration(db_path: Path) -> None:
    with Store(db_path) as store:
        assert store.version == migrations()[-1][0]
        tables = {r[0] for r in store.con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"snapshots", "listings", "datasets", "cards", "errors", "authors", "schema_version"} <= tables


def test_reopening_is_idempotent(db_path: Path) -> None:
    with Store(db_path) as store:
        v = store.version
    with Store(db_path) as store:
        assert store.version == v
        assert store.con.execute("SELECT count(*) FROM schema_version").fetchone()[0] == len(migrations())


def test_read_only_missing_store_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CurateError, match="no store at"):
        Store(tmp_path / "missing.duckdb", read_only=True)


def test_a_first_version_store_migrates_forward_with_its_data(db_path: Path) -> None:
    """A store made by the first schema version (only 0001 applied, by hand, as an old curate did) opens,
    gains every later table, and keeps its snapshot rows; the typed queries read them."""
    import duckdb

    version, name, sql = migrations()[0]
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR, "
                "applied_at TIMESTAMPTZ DEFAULT now())")
    con.execute(sql)
    con.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", [version, name])
    con.execute("INSERT INTO snapshots (taken_at, endpoint, query, status) VALUES "
                "('2024-05-01 00:00:00+00', 'https://huggingface.co', '{}', 'complete')")
    con.execute("INSERT INTO listings VALUES (1, 'ko', 1, 'a/b'), (1, 'ja', 1, 'c/d')")
    con.execute("INSERT INTO datasets (snapshot_id, repo_id, downloads) VALUES (1, 'a/b', 10), (1, 'c/d', 5)")
    con.close()
    with Store(db_path, read_only=True) as old:  # a reader does not migrate: the old tables only
        assert old.version == 1 and not old.has_table("pipeline_runs")
        assert old.runs().is_empty() and old.latest_contamination().is_empty()
    with Store(db_path) as store:
        assert store.version == migrations()[-1][0]
        assert all(store.has_table(t) for t in ("contamination_runs", "pipeline_runs", "contamination_docs"))
        snap = store.resolve_snapshot("latest")
        assert (snap.id, snap.status) == (1, "complete")
        assert store.languages(1) == ["ja", "ko"]
        assert store.listings(1, ["ko"])["repo_id"].to_list() == ["a/b"]
        assert store.snapshots().select("datasets").item() == 2
        assert store.runs().is_empty()


def test_snapshot_errors_speak_of_the_store(db_path: Path) -> None:
    with Store(db_path) as store:
        with pytest.raises(CurateError, match="holds no snapshot yet"):
            store.resolve_snapshot()
        with pytest.raises(CurateError, match="a snapshot is an id or 'latest'") as bad:
            store.resolve_snapshot("newest")
        assert "--" not in str(bad.value)
        with pytest.raises(CurateError, match="no snapshot 3 in the store"):
            store.resolve_snapshot(3)


def test_queries_over_a_bare_connection(db_path: Path) -> None:
    from curate.store import StoreQueries, queries

    with Store(db_path) as store:
        assert queries(store) is store
        wrapped = queries(store.con)
        assert isinstance(wrapped, StoreQueries) and wrapped.has_table("snapshots")
        run = wrapped.add_run(datetime.now(UTC),
                              "judge", ["in"], "/out", "{}")
        assert store.runs("judge")["id"].to_list() == [run]


def test_contamination_sources_of_an_older_store_are_empty(db_path: Path) -> None:
    """A reader does not migrate: a store without the sources column answers with no sources, not an error."""
    import duckdb

    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR, "
                "applied_at TIMESTAMPTZ DEFAULT now())")
    for version, name, sql in migrations()[:4]:
        con.execute(sql)
        con.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", [version, name])
    con.execute("INSERT INTO contamination_runs (created_at, benchmarks, corpora, settings, n_docs, n_bytes, seconds, "
                "n_errors) VALUES (now(), ['b'], ['c'], '{}', 1, 1, 0.1, 0)")
    con.close()
    with Store(db_path, read_only=True) as old:
        assert not old.has_column("contamination_runs", "sources")
        assert old.contamination_sources(1) == []
    with Store(db_path) as store:
        assert store.has_column("contamination_runs", "sources") and store.contamination_sources(1) == []
