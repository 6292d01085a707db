"""report.json is what docs/report.md and docs/report.schema.json say it is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "docs" / "report.schema.json").read_text())


def validate(doc: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(doc)


def test_the_schema_rejects_a_wrong_report() -> None:
    bad = {"snapshot": {"id": 1, "taken_at": "2026-01-01T00:00:00+00:00", "endpoint": None},
           "languages": {"ko": {"n_datasets": 1}}}
    try:
        validate(bad)
    except jsonschema.ValidationError:
        return
    raise AssertionError("a report without its measurements passed the schema")


def test_report_on_the_offline_sample_follows_the_schema(tmp_path: Path, cli: Any) -> None:
    from tests.hubdir import snapshot_bundled_sample

    db = snapshot_bundled_sample(tmp_path / "s.duckdb")
    printed = cli("report", "--db", db, "--format", "json")
    assert printed.code == 0, printed.err
    validate(json.loads(printed.out))
    written = cli("report", "--db", db, "--out", tmp_path / "report")
    assert written.code == 0, written.err
    doc = json.loads((tmp_path / "report" / "report.json").read_text())
    validate(doc)
    assert doc == json.loads(printed.out)


def test_the_league_in_the_schema_is_the_league_in_the_code() -> None:
    from analyses.league import MEASURES

    row = SCHEMA["$defs"]["league"]["properties"]["rows"]["items"]["properties"]
    assert row["values"]["required"] == row["ranks"]["required"] == [m.key for m in MEASURES]
    bad = {"snapshot": {"id": 1, "taken_at": "2026-01-01T00:00:00+00:00", "endpoint": None}, "languages": {},
           "league": {"min_datasets": 50, "languages_listed": 1, "measures": {}, "medians": {"n_datasets": 1},
                      "rows": [{"lang": "ko", "rank": 1, "n_datasets": 60, "values": {}, "ranks": {}}]}}
    try:
        validate(bad)
    except jsonschema.ValidationError:
        return
    raise AssertionError("a league without its measures passed the schema")


def test_league_on_the_offline_sample_follows_the_schema(tmp_path: Path, cli: Any) -> None:
    from tests.hubdir import snapshot_bundled_sample

    db = snapshot_bundled_sample(tmp_path / "s.duckdb")
    printed = cli("report", "--db", db, "--all-languages", "--min-datasets", "10", "--format", "json")
    assert printed.code == 0, printed.err
    doc = json.loads(printed.out)
    validate(doc)
    assert set(doc["languages"]) == {"ko", "ja", "zh", "en"} and len(doc["league"]["rows"]) == 4

def test_report_of_a_dump_snapshot_names_the_dump(tmp_path: Path, cli: Any) -> None:
    from tests.hubdir import dump_bundled_sample

    db = dump_bundled_sample(tmp_path / "s.duckdb", tmp_path / "hub")
    printed = cli("report", "--db", db, "--format", "json")
    assert printed.code == 0, printed.err
    doc = json.loads(printed.out)
    validate(doc)
    assert doc["snapshot"]["dump"]["repo"] == "librarian-bots/dataset_cards_with_metadata"
    assert len(doc["snapshot"]["dump"]["revision"]) == 40
