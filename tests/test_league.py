"""`curate report --all-languages`: the league of languages on a hand-made store with known answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from analyses import features, league, reference, render, study
from curate.errors import CurateError
from curate.store import Store
from tests.store_rows import Hub
from tests.test_report_schema import validate

CARD = "# Card\n\nSome words here.\n"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    """ko: 4 datasets (mit, mit, cc-by-nc, none; one 10M+ examples, one shared with en), en: 3 (all mit),
    ja: 2 (apache, gpl), fr: 1 (below a minimum of 2)."""
    with Store(db_path) as s:
        h = Hub(s)
        h.add("k/one", tags=["license:mit", "size_categories:10M<n<100M"], card=CARD)
        h.add("k/two", tags=["license:mit"], card=CARD)
        h.add("mirae/nc", tags=["license:cc-by-nc-4.0"], kind="org", fullname="Mirae AI Inc.")
        h.add("k/pair", langs=["ko", "en"])
        h.add("e/one", langs=["en"], tags=["license:mit"])
        h.add("e/two", langs=["en"], tags=["license:mit"])
        h.add("j/one", langs=["ja"], tags=["license:apache-2.0"])
        h.add("j/two", langs=["ja"], tags=["license:gpl-3.0"])
        h.add("f/one", langs=["fr"], tags=["license:mit"])
        yield s


def test_league_counts_and_ranks_by_hand(store: Store) -> None:
    lg = league.compute(store, min_datasets=2)
    rep = lg.report
    assert list(rep["languages"]) == ["ko", "en", "ja"]  # most datasets first; fr is below the minimum
    assert lg.highlight == ["ko", "ja", "en"]
    t = rep["league"]
    assert t["min_datasets"] == 2 and t["languages_listed"] == 4
    rows = {r["lang"]: r for r in t["rows"]}
    assert [(r["lang"], r["rank"], r["n_datasets"]) for r in t["rows"]] == [("ko", 1, 4), ("en", 2, 3), ("ja", 3, 2)]
    ko, en, ja = rows["ko"]["values"], rows["en"]["values"], rows["ja"]["values"]
    # k/pair has no license tag: ko is 2 mit, 1 non-commercial, 1 unknown; en has k/pair too (2 mit of 3).
    assert (ko["permissive_share"], ko["noncommercial_share"], ko["no_license_share"]) == (0.5, 0.25, 0.25)
    assert en["permissive_share"] == pytest.approx(2 / 3) and en["no_license_share"] == pytest.approx(1 / 3)
    assert (ja["permissive_share"], ja["noncommercial_share"]) == (0.5, 0.0)
    assert ko["large_share"] == 0.25 and ja["large_share"] == 0.0
    assert ko["monolingual_share"] == 0.75 and en["english_paired_share"] == pytest.approx(1 / 3)
    assert ko["company_share"] == 0.25  # "Inc." in the display name
    assert ko["median_words"] == 4.0  # over the two datasets with a card: "Card Some words here"
    # Ties share the best rank: ko and ja both 50% permissive, behind en.
    assert rows["en"]["ranks"]["permissive_share"] == 1
    assert rows["ko"]["ranks"]["permissive_share"] == rows["ja"]["ranks"]["permissive_share"] == 2
    assert rows["ko"]["ranks"]["noncommercial_share"] == 1
    assert t["medians"]["n_datasets"] == 3.0 and t["medians"]["permissive_share"] == 0.5


def test_league_languages_are_the_per_language_report(store: Store) -> None:
    """One definition of each measurement: the league's object for a language is the report's, exactly."""
    rep = league.compute(store, min_datasets=1).report
    assert set(rep["languages"]) == {"ko", "en", "ja", "fr"}
    for lang, obj in rep["languages"].items():
        assert obj == study.compute(store, langs=[lang]).report["languages"][lang]
    validate(rep)


def test_league_refuses_what_it_cannot_rank(store: Store) -> None:
    with pytest.raises(CurateError, match=r"no language of snapshot 1 has 5 datasets or more \(the most is 4 \(ko\)\)"):
        league.compute(store, min_datasets=5)
    with pytest.raises(CurateError, match="fr has 1 datasets in snapshot 1, fewer than the league's minimum of 2"):
        league.compute(store, min_datasets=2, highlight=["fr"])
    with pytest.raises(CurateError, match="no listing for xx"):
        league.compute(store, min_datasets=2, highlight=["xx"])


def test_features_in_parts_are_the_features_in_one(store: Store) -> None:
    ref = reference.load()
    whole = features.compute(store.con, 1, ref)
    parts = features.compute(store.con, 1, ref, part_rows=2)  # 9 datasets: 5 hash parts, some maybe empty
    assert whole.height == 9
    assert_frame_equal(whole.sort("repo_id"), parts.sort("repo_id"))
    only = features.compute(store.con, 1, ref, langs=["ja"], columns=["repo_id", "license_family"])
    assert only.sort("repo_id").rows() == [("j/one", "permissive"), ("j/two", "copyleft")]


def test_league_sections_point_out_the_chosen_language(store: Store) -> None:
    lg = league.compute(store, min_datasets=2, highlight=["ja"])
    secs = render.sections(lg.report, {"highlight": lg.highlight})
    titles = [title for title, _, _ in secs]
    assert titles[0].startswith("League of languages: make-up and instruction (3 with at least 2 datasets, of 4")
    licenses = next(rows for title, _, rows in secs if title == "League of languages: licenses")
    assert licenses == [["1", "ko", "4", "50.0%", "25.0%", "25.0%"], ["2", "en", "3", "66.7%", "0.0%", "33.3%"],
                        ["3", "ja ◀", "2", "50.0%", "0.0%", "0.0%"]]
    title, header, place = secs[-1]
    assert title.startswith("Where ja stands among 3 languages") and header == ["measure", "median", "ja"]
    assert place[0] == ["datasets", "3", "2 (#3)"]
    assert ["permissive", "50.0%", "50.0% (#2)"] in place


def test_cli_all_languages(store: Store, db_path: Path, tmp_path: Path, cli: Any) -> None:
    store.close()
    printed = cli("report", "--db", db_path, "--all-languages", "--min-datasets", "2", "--format", "json")
    assert printed.code == 0, printed.err
    doc = json.loads(printed.out)
    validate(doc)
    assert list(doc["languages"]) == ["ko", "en", "ja"]
    written = cli("report", "--db", db_path, "--all-languages", "--min-datasets", "2", "--lang", "ko",
                  "--out", tmp_path / "lg")
    assert written.code == 0, written.err
    assert "Where ko stands among 3 languages" in written.out
    assert json.loads((tmp_path / "lg" / "report.json").read_text()) == doc
    md = (tmp_path / "lg" / "report.md").read_text()
    assert "## League of languages: licenses" in md and "| 1 | ko ◀ | 4 |" in md and "fig_league.png" in md
    assert (tmp_path / "lg" / "fig_league.png").stat().st_size > 0 and (tmp_path / "lg" / "fig_league.svg").is_file()
    assert "<h2>Where ko stands" in (tmp_path / "lg" / "report.html").read_text()
    bad = cli("report", "--db", db_path, "--all-languages", "--compare", "1")
    assert bad.code == 2
    few = cli("report", "--db", db_path, "--all-languages", "--min-datasets", "0")
    assert few.code == 2
    none = cli("report", "--db", db_path, "--all-languages", "--min-datasets", "50")
    assert none.code == 1 and len(none.err.strip().splitlines()) == 1 and "lower the minimum" in none.err


def test_measure_of_a_language_without_rows_is_zeros(store: Store) -> None:
    ref = reference.load()
    none = features.compute(store.con, 1, ref, columns=league.MEASURED).head(0).with_columns(lang=pl.lit("xx"))
    empty = study.measure(none, ["xx"], ref)["xx"]
    assert empty["n_datasets"] == 0 and empty["docs"]["median_words"] == 0.0 and empty["instruction"]["n"] == 0


def test_the_cli_default_minimum_is_the_league_default() -> None:
    from curate.cli import report

    assert report.DEFAULT_MIN_DATASETS == league.DEFAULT_MIN_DATASETS
