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
