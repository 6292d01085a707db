"""The dashboard's views render a real store without a browser (Streamlit's AppTest); the browser tests
(tests/test_dashboard_browser.py) drive the same views in Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from collectors.hub_server import serve
from collectors.snapshot import SnapshotOptions, take_snapshot
from curate.store import Store
from tests.hubdir import make_hub, record

APP = str(Path(__file__).resolve().parents[1] / "dashboards" / "app.py")


def _view(name: str) -> None:
    """One view of the dashboard as a script (AppTest cannot switch to a page that is a function)."""
    from dashboards import app

    found = app.context()
    if found is not None:
        ctx, recorded = found
        app.sidebar(ctx)
        app.views(ctx, recorded)[name]()


def view(name: str, timeout: float = 60) -> AppTest:
    return AppTest.from_function(_view, args=(name,), default_timeout=timeout)


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
        pages = [store.listed_datasets(1, None, limit=4, offset=o)["repo_id"].to_list() for o in (0, 4, 8)]
        assert [len(p) for p in pages] == [4, 4, 1] and len({r for p in pages for r in p}) == 9
        assert pages[0] + pages[1] + pages[2] == store.listed_datasets(1)["repo_id"].to_list()
        assert store.count_listed(1) == 9 and store.count_listed(1, "ko") == 5 and store.count_listed(1, "ko", "0001") == 1
        row = store.dataset(1, "user1/ko-set-0001")
        assert row is not None and row["listed_for"] == ["ko"] and "license:mit" in row["tags"]
        assert store.dataset(1, "no/such") is None


def test_app_opens_on_the_compare_view(store_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURATE_DB", str(store_path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert at.sidebar.title[0].value == "curate"
    assert at.header[0].value == "Compare languages"
    assert {m.label: m.value for m in at.metric} == {"ja": "4 datasets", "ko": "5 datasets"}
    assert len(at.get("vega_lite_chart")) >= 10  # every chart of the view, cards included


def test_app_reports_missing_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURATE_DB", str(tmp_path / "none.duckdb"))
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert "no store at" in at.error[0].value


def test_datasets_view_searches_and_pages(store_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURATE_DB", str(store_path))
    at = view("datasets").run()
    assert not at.exception
    assert any(c.value == "9 datasets" for c in at.caption)
    at.selectbox(key="lang").select("ko").run()
    assert any(c.value == "5 datasets" for c in at.caption)  # 4 + the one without a card
    at.text_input(key="search").input("0002").run()
    assert any(c.value == "1 datasets" for c in at.caption)


def test_card_view_explains_one_card(store_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURATE_DB", str(store_path))
    at = view("card").run()
    assert not at.exception
    at.text_input(key="card_repo").input("user1/ko-set-0001").run()
    assert not at.exception
    assert at.subheader[0].value == "user1/ko-set-0001"
    assert any("mit" in s.value and "permissive" in s.value for s in at.success)
    tables = {tuple(df.value.columns) for df in at.dataframe}
    assert ("template", "section", "present", "filled") in tables and ("key", "value") in tables
    at.text_input(key="card_repo").input("x/nocard").run()
    assert any("No card was fetched" in w.value for w in at.warning)


def test_contamination_view_shows_the_match(store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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
        sources = store.contamination_sources(1)
        assert [(s["role"], s["location"]) for s in sources] == [("benchmark", str(tmp_path / "bench.jsonl")),
                                                                  ("corpus", str(tmp_path / "web.jsonl"))]
    monkeypatch.setenv("CURATE_DB", str(store_path))
    at = view("contamination").run()
    assert not at.exception
    assert any(c.value == "1 items" for c in at.caption)
    marked = [m.value for m in at.markdown if "<mark>" in m.value]
    assert len(marked) == 2 and all(f"<mark>{item}</mark>" in m for m in marked)  # in the item and the document
    at.checkbox[0].check().run()
    assert any(c.value == "2 items" for c in at.caption)


def test_longest_match_finds_the_shared_stretch() -> None:
    from dashboards.contamination import longest_match

    assert longest_match("abc", "xxabcxx") == (0, 2, 3)
    i, j, n = longest_match("the cat sat on the mat today", "yesterday the cat sat on a mat")
    assert "the cat sat on the mat today"[i:i + n] == "yesterday the cat sat on a mat"[j:j + n] == "the cat sat on "


def _scores(tmp_path: Path, store_path: Path) -> Path:
    from curate.runs import record as record_run

    corpus = tmp_path / "corpus.jsonl"
    rows = [{"id": f"{lang}-{i}", "lang": lang, "text": f"{lang} document {i}"} for lang in ("ko", "en") for i in range(20)]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    path = tmp_path / "scores.parquet"
    pl.DataFrame({"doc_id": [r["id"] for r in rows], "lang": [r["lang"] for r in rows],
                  "score_a": [float(i % 20) for i in range(40)], "score_b": [float((7 * i) % 20) for i in range(40)]}
                 ).with_columns(pl.mean_horizontal("score_a", "score_b").alias("score")).write_parquet(path)
    record_run(store_path, "annotate", [str(corpus)], path, {"annotator": "x/"}, n_docs=40, seconds=0.1)
    return path


def test_tune_view_counts_follow_the_slider(store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from curate.filtering.preview import preview
    from curate.filtering.rules import Rule
    from curate.filtering.scores import read_scores

    path = _scores(tmp_path, store_path)
    monkeypatch.setenv("CURATE_DB", str(store_path))
    monkeypatch.delenv("CURATE_SCORES", raising=False)
    at = view("tune").run()
    assert not at.exception
    assert at.selectbox(key="scores_path").value == str(path.resolve())  # the recorded annotate run's output

    def shown() -> dict[str, int]:
        table = at.table[0].value
        return dict(zip(table["lang"], table["kept"], strict=True))

    scores = read_scores([path], lambda _m: None)
    for pct, heads in ((30, False), (55, False), (55, True)):
        at.slider(key="keep_top").set_value(pct).run()
        if heads and not at.toggle(key="all_heads").value:
            at.toggle(key="all_heads").set_value(True).run()
        assert not at.exception
        want = preview(scores, Rule(keep_top=pct / 100, per_language=True, all_heads=heads)).languages
        assert shown() == {lang: row["kept"] for lang, row in want.items()}
    texts = [m.value for m in at.markdown if 'class="curate-text"' in m.value]
    assert texts and all(' lang="' in t for t in texts)  # sample documents, read from the recorded corpus
    at.button(key="show_command").click().run()
    assert "--keep-top 0.55 --per-language --all-heads" in at.code[0].value


def test_many_languages_open_on_the_largest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A whole-Hub snapshot lists hundreds of languages: the compare view opens on the 8 with the most datasets
    and the tune view charts the 12 with the most documents (its table still lists every language)."""
    from curate.runs import record as record_run
    from dashboards.compare import DEFAULT_LANGUAGES
    from dashboards.tune import CHART_LANGUAGES
    from tests.store_rows import Hub

    db = tmp_path / "many.duckdb"
    langs = [f"l{i:02d}" for i in range(14)]
    with Store(db) as store:
        hub = Hub(store)
        for i, lang in enumerate(langs):  # l13 lists the most datasets
            for k in range(i + 1):
                hub.add(f"o/{lang}-{k}", langs=[lang])
    scores = tmp_path / "scores.parquet"
    pl.DataFrame({"doc_id": [f"{lang}-{k}" for i, lang in enumerate(langs) for k in range(i + 2)],
                  "lang": [lang for i, lang in enumerate(langs) for _ in range(i + 2)]}
                 ).with_columns(pl.int_range(pl.len()).cast(pl.Float64).alias("score")).write_parquet(scores)
    record_run(db, "annotate", ["corpus/"], scores, {}, n_docs=1, seconds=0.1)
    monkeypatch.setenv("CURATE_DB", str(db))
    monkeypatch.setenv("CURATE_SCORES", "")
    at = view("compare").run()
    assert not at.exception
    assert at.multiselect(key="compare_langs").value == sorted(langs[-DEFAULT_LANGUAGES:])
    assert any("8 languages with the most datasets of the 14" in c.value for c in at.caption)
    at = view("tune").run()
    assert not at.exception
    assert any(f"show the {CHART_LANGUAGES} languages with the most documents of the 14" in c.value for c in at.caption)
    assert sorted(at.table[0].value["lang"]) == langs


def test_tune_view_reads_only_what_the_store_records(store_path: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    stray = tmp_path / "elsewhere.parquet"
    pl.DataFrame({"doc_id": ["a"], "score": [1.0]}).write_parquet(stray)
    monkeypatch.setenv("CURATE_DB", str(store_path))
    monkeypatch.setenv("CURATE_SCORES", "")
    at = view("tune")
    at.query_params["scores"] = str(stray)  # a link anyone could send: ?scores=/some/path
    at.run()
    assert not at.exception
    assert any("not a scores parquet this dashboard may read" in w.value for w in at.warning)
    assert not at.table


@pytest.mark.parametrize(("name", "key", "what"), [("judges", "judge_labels", "labels file"),
                                                   ("tune", "scores_path", "scores parquet")])
def test_file_pickers_share_one_empty_state(store_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, key: str,
                                            what: str) -> None:
    """With no run recorded, the judges and tune views offer the same picker: a select box that takes a typed
    path, and one line saying what to type."""
    monkeypatch.setenv("CURATE_DB", str(store_path))
    monkeypatch.setenv("CURATE_SCORES", "")
    at = view(name).run()
    assert not at.exception
    assert at.selectbox(key=key).value is None
    assert [i.value for i in at.info] == [f"No {what} is recorded in this store yet: type the path of one."]


def test_judges_view(store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from curate.runs import record as record_run

    labels = tmp_path / "labels.parquet"
    rows = [{"doc_id": f"d{i}", "lang": "ko" if i % 2 else "en", "text": f"text {i}", "judge": judge,
             "score": float((i + shift) % 6)} for i in range(30) for judge, shift in (("a", 0), ("b", i % 3 == 0))]
    pl.DataFrame(rows).write_parquet(labels)
    record_run(store_path, "judge", ["corpus/"], labels, {}, n_docs=30, seconds=0.1)
    monkeypatch.setenv("CURATE_DB", str(store_path))
    at = view("judges", timeout=120).run()
    assert not at.exception
    assert "30 documents, judges: a, b" in at.caption[0].value
    pairs = next(df.value for df in at.dataframe if "kappa_low" in df.value.columns)
    assert set(pairs["scope"]) == {"overall", "en", "ko"}
    assert any('class="curate-text"' in m.value for m in at.markdown)  # a disagreement to read


def test_runs_view(store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _scores(tmp_path, store_path)
    monkeypatch.setenv("CURATE_DB", str(store_path))
    at = view("runs").run()
    assert not at.exception
    assert "annotate" in at.markdown[0].value or any("annotate" in m.value for m in at.markdown)
    assert any(s.value.startswith("Error rows in snapshot 1 (1)") for s in at.subheader)


def test_report_view_figures_leave_nothing_in_a_shared_temp_folder(store_path: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Figures are drawn in a private folder that is gone afterwards: a fixed /tmp path could be planted."""
    import tempfile

    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    monkeypatch.setenv("CURATE_DB", str(store_path))
    at = view("report").run()
    assert not at.exception
    titles = [h.value for h in at.subheader]
    assert "Language make-up" in titles and "Figures" in titles
    assert len(at.get("image")) >= 5  # the figures are shown
    assert list(shared.iterdir()) == []


def test_every_bar_lists_as_many_datasets_as_it_counts(store_path: Path) -> None:
    """What a chart counts and what a click on it lists come from one frame by one rule."""
    from analyses import study
    from analyses.reference import FAMILIES
    from dashboards import data

    with Store(store_path, read_only=True) as store:
        frame = study.dataset_frame(store, 1, ["ko", "ja"])
    for facet, table in (("license_family", data.shares(frame, "license_family", FAMILIES)),
                         ("tasks", data.list_shares(frame, "tasks")),
                         ("docs", data.flag_shares(frame, data.DOC_FLAGS)),
                         ("overlap", data.overlap(frame).rename({"other": "value"})),
                         ("domains", data.domain_shares(frame))):
        assert table.height or facet == "tasks", facet  # the small Hub tags no task
        for row in table.iter_rows(named=True):
            assert data.drill(frame, facet, row["lang"], row["value"]).height == row["n"], (facet, row)
    points, _ = data.downloads_curve(frame)
    assert set(points["lang"]) == {"ko", "ja"} and points["rank"].min() == 1


def test_metadata_features_never_wait_behind_a_card_read() -> None:
    """A snapshot's card read can take a minute; the metadata features of another snapshot run on their own
    worker meanwhile (one worker for both would make the compare view wait for the card read)."""
    import threading

    from dashboards import data

    release = threading.Event()
    blocked = data.jobs("cards").submit(("test", "slow"), release.wait, 30)
    try:
        quick = data.jobs("metadata").submit(("test", "quick"), lambda: "measured")
        assert quick.result(timeout=10) == "measured" and not blocked.done()
    finally:
        release.set()
    assert blocked.result(timeout=10) is True
