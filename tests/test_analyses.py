"""The study's measurements on hand-made datasets and cards with known answers."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from analyses import render, study
from curate.store import Store
from tests.store_rows import Hub

OLD_CARD = """---
license: mit
---
# Card
## Dataset Description
A corpus of news.
## Dataset Structure
Fields: id, text.
## Dataset Creation
Crawled in 2023.
## Considerations for Using the Data
Biased sources.
## Additional Information
See https://arxiv.org/abs/2401.00001
"""
PLACEHOLDER_CARD = """# Card
## Dataset Details
<!-- Provide a summary -->
- **Curated by:** [More Information Needed]
## Uses
[More Information Needed]
## Dataset Structure
[More Information Needed]
## Dataset Creation
[More Information Needed]
## Citation
[More Information Needed]
"""


def features(store: Store, **kw: Any) -> dict[str, dict[str, Any]]:
    res = study.compute(store.con, **kw)
    return {r["repo_id"]: r for r in res.frame.to_dicts()}


@pytest.fixture
def store(db_path: Path) -> Store:
    with Store(db_path) as s:
        yield s


def test_license_families(store: Store) -> None:
    h = Hub(store)
    h.add("a/str", card_data={"license": "cc-by-4.0"})
    h.add("a/list", card_data={"license": ["mit", "cc-by-nc-4.0"]})
    h.add("a/old-key", card_data={"licenses": ["gpl-3.0"]})
    h.add("a/other", card_data={"license": "other", "license_name": "custom"})
    h.add("a/upper", tags=["license:MIT"])
    h.add("a/none")
    h.add("a/unknown", tags=["license:unknown"])
    h.add("a/unmapped", card_data={"license": "my-own-license"})
    h.add("a/cc0", tags=["license:cc0-1.0", "license:apache-2.0"])
    h.add("a/mismatch", tags=["license:mit"], card="# x\nReleased for non-commercial research only.\n")
    f = features(store)
    fam = {k: v["license_family"] for k, v in f.items()}
    assert fam == {"a/str": "permissive", "a/list": "noncommercial", "a/old-key": "copyleft", "a/other": "other",
                   "a/upper": "permissive", "a/none": "unknown", "a/unknown": "unknown", "a/unmapped": "other",
                   "a/cc0": "permissive", "a/mismatch": "permissive"}
    assert f["a/list"]["provenance"] == "non-commercial" and f["a/none"]["provenance"] == "unspecified"
    assert [k for k, v in f.items() if v["license_mismatch"]] == ["a/mismatch"]
    counts = study.compute(store.con).report["languages"]["ko"]["license_family"]
    assert counts == {"permissive": 4, "public_domain": 0, "copyleft": 1, "noncommercial": 1, "unknown": 2,
                      "other": 2}


def test_makeup_size_and_tasks(store: Store) -> None:
    h = Hub(store)
    h.add("a/mono", tags=["size_categories:1K<n<10K", "size_categories:10M<n<100M"])
    h.add("a/paired", langs=["ko", "en"], tags=["task_categories:question-answering", "task_ids:extractive-qa"])
    h.add("a/multi", langs=["ko", "ja"], tags=["task_categories:robotics", "size_categories:1B<n<10B"])
    h.add("a/yaml-langs", langs=[], card_data={"languages": ["ko", "en", "zh"]}, listed=["ko"])
    lang = study.compute(store.con, langs=["ko"]).report["languages"]["ko"]
    assert lang["n_datasets"] == 4
    assert lang["makeup"] == {"monolingual": 1, "english_paired": 1, "multilingual": 2}
    assert lang["size"] == {"S": 0, "M": 1, "L": 0, "XL": 1, "unknown": 2}
    assert lang["tasks"]["Question Answering"] == 1 and lang["tasks"]["Other"] == 1
    assert sum(lang["tasks"].values()) == 2


def test_ownership(store: Store, tmp_path: Path) -> None:
    h = Hub(store)
    h.add("allenai/x", kind="org")                                   # registry
    h.add("snu-lab/x", kind="org", fullname="가나다대학교 언어연구실")     # Korean cue
    h.add("sakura/x", kind="org", fullname="株式会社サクラ")              # Japanese company cue
    h.add("acme/x", kind="org", fullname="Acme Corp")
    h.add("alice/x", kind="user")
    h.add("friends/x", kind="org", fullname="Open Data Friends")     # community organization
    h.add("ghost/x", kind=None)
    own = {k: v["ownership"] for k, v in features(store).items()}
    assert own == {"allenai/x": "institute", "snu-lab/x": "institute", "sakura/x": "company", "acme/x": "company",
                   "alice/x": "individual", "friends/x": "individual", "ghost/x": "unknown"}
    overrides = tmp_path / "own.csv"
    overrides.write_text("author,ownership\nfriends,institute\n")
    assert features(store, overrides_file=overrides)["friends/x"]["ownership"] == "institute"
    overrides.write_text("author,ownership\nfriends,government\n")
    with pytest.raises(Exception, match="row 2"):
        features(store, overrides_file=overrides)


def test_documentation(store: Store) -> None:
    h = Hub(store)
    h.add("a/old", card=OLD_CARD)
    h.add("a/placeholder", card=PLACEHOLDER_CARD, tags=["arxiv:2301.00001"])
    h.add("a/cjk", card="---\nlicense: mit\n---\n本数据集收集新闻。")
    h.add("a/mixed", card="hello world 한국어 문장 です")
    h.add("a/nocard")
    f = features(store)
    assert (f["a/old"]["all_sections"], f["a/old"]["filled_sections"], f["a/old"]["has_arxiv"]) == (True, True, True)
    assert (f["a/placeholder"]["all_sections"], f["a/placeholder"]["filled_sections"]) == (True, False)
    assert f["a/placeholder"]["has_arxiv"] and not f["a/cjk"]["has_arxiv"]
    assert f["a/cjk"]["words"] == 8          # 本数据集收集新闻: one word per Han character, front matter and 。 excluded
    assert f["a/mixed"]["words"] == 6        # hello, world, 한국어, 문장, で, す
    docs = study.compute(store.con).report["languages"]["ko"]["docs"]
    assert docs["arxiv_share"] == pytest.approx(2 / 5)
    assert docs["all_sections_share"] == pytest.approx(2 / 5)
    assert docs["filled_sections_share"] == pytest.approx(1 / 5)


def test_instruction_domains_and_legacy_dates(store: Store) -> None:
    h = Hub(store)
    h.add("a/ko-alpaca", created="2023-04-10T00:00:00")
    h.add("a/plain", card="이 데이터는 인스트럭션 튜닝용입니다.", created="2023-04-20T00:00:00")
    h.add("a/old-chat-set", created="2022-03-02T23:29:04")            # legacy createdAt: no month
    h.add("a/med", card="의료 상담 대화 모음")
    h.add("a/encoder", card="An encoder benchmark")                    # 'code' must not match inside words
    h.add("a/python-problems")
    lang = study.compute(store.con).report["languages"]["ko"]
    assert lang["instruction"] == {"n": 3, "by_month": {"2023-04": 2}}
    assert lang["domains"]["medical"] == 1 and lang["domains"]["code"] == 1


def test_report_json_figures_and_diff(store: Store, tmp_path: Path, db_path: Path, cli: Any) -> None:
    h = Hub(store)
    h.add("a/one", tags=["license:mit"], downloads=100)
    h.add("a/two", langs=["ko", "en"], downloads=5)
    h2 = Hub(store, sid=2)
    h2.add("a/one", tags=["license:cc-by-nc-4.0"], downloads=300)
    h2.add("a/three", downloads=7)
    out = render.write_report(store.con, tmp_path / "rep", compare=1)
    store.close()
    for name in ("fig1_downloads", "fig3_tasks", "fig4_licenses", "fig6_docs", "fig7_ownership", "table2_sizes"):
        png = out / f"{name}.png"
        assert png.stat().st_size > 0 and (out / f"{name}.svg").stat().st_size > 0
        with Image.open(png) as im:
            assert im.size[0] > 300 and im.size[1] > 150
    d = json.loads((out / "details.json").read_text())["diff"]["languages"]["ko"]
    assert d["new"] == ["a/three"] and d["removed"] == ["a/two"]
    assert d["license_changes"] == [{"repo_id": "a/one", "old": ["mit"], "new": ["cc-by-nc-4.0"]}]
    res = cli("report", "--db", db_path, "--format", "json", "--snapshot", "1")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert set(doc) == {"snapshot", "languages"} and set(doc["snapshot"]) == {"id", "taken_at", "endpoint"}
    assert set(doc["languages"]) == {"ko", "en"}
    bad = cli("report", "--db", db_path, "--lang", "xx")
    assert bad.code == 1 and bad.err.startswith("error: ") and "no listing for xx" in bad.err


def test_diff_counts_every_language_at_once(store: Store) -> None:
    """`Store.changes` behind `diff.compare`: listing moves per language, license changes as sets (order and
    repeats of tags do not count), the top movers per language either way, a language filter."""
    from analyses import diff

    old, new = Hub(store), Hub(store, sid=2)
    old.add("a/stay", langs=["ko", "ja"], tags=["license:mit", "license:apache-2.0"], downloads=100)
    new.add("a/stay", langs=["ko", "ja"], tags=["license:apache-2.0", "license:mit", "license:mit"], downloads=40)
    old.add("a/relicensed", tags=["license:mit"], downloads=10)
    new.add("a/relicensed", tags=["license:cc-by-nc-4.0"], downloads=1010)
    old.add("a/moved", langs=["ja"], downloads=5)
    new.add("a/moved", langs=["ko"], downloads=6)     # left ja's listing, joined ko's
    old.add("a/gone", langs=["ja"])
    for i in range(3):
        new.add(f"a/new{i}", langs=["ja"], downloads=i)
    result = diff.compare(store, 1, 2, movers=2)
    ko, ja = result["languages"]["ko"], result["languages"]["ja"]
    assert ko["new"] == ["a/moved"] and ko["removed"] == []
    assert ja["new"] == ["a/new0", "a/new1", "a/new2"] and ja["removed"] == ["a/gone", "a/moved"]
    assert ko["license_changes"] == [{"repo_id": "a/relicensed", "old": ["mit"], "new": ["cc-by-nc-4.0"]}]
    assert ja["license_changes"] == []
    assert [(m["repo_id"], m["delta"]) for m in ko["download_movers"]] == [("a/relicensed", 1000), ("a/stay", -60)]
    assert [m["repo_id"] for m in ja["download_movers"]] == ["a/stay"]
    only = diff.compare(store, 1, 2, langs=["ja"])
    assert list(only["languages"]) == ["ja"] and only["languages"]["ja"] == ja


SPEC_KEYS = {
    "n_datasets": None, "makeup": {"monolingual", "english_paired", "multilingual"},
    "size": {"S", "M", "L", "XL", "unknown"},
    "license_family": {"permissive", "public_domain", "copyleft", "noncommercial", "unknown", "other"},
    "ownership": {"individual", "institute", "company", "unknown"}, "tasks": None,
    "docs": {"arxiv_share", "all_sections_share", "filled_sections_share", "mean_words", "median_words"},
    "instruction": {"n", "by_month"}, "domains": None,
}


def test_report_on_the_offline_sample_matches_the_spec(tmp_path: Path, cli: Any) -> None:
    from tests.hubdir import snapshot_bundled_sample

    db = snapshot_bundled_sample(tmp_path / "s.duckdb")
    res = cli("report", "--db", db, "--format", "json")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert isinstance(doc["snapshot"]["id"], int) and datetime.fromisoformat(doc["snapshot"]["taken_at"])
    for lang in ("ko", "ja", "zh", "en"):
        entry = doc["languages"][lang]
        assert set(entry) == set(SPEC_KEYS)
        for key, keys in SPEC_KEYS.items():
            if keys:
                assert set(entry[key]) == keys, key
        assert sum(entry["makeup"].values()) == entry["n_datasets"] == sum(entry["size"].values())
        assert sum(entry["license_family"].values()) == entry["n_datasets"] == sum(entry["ownership"].values())
        assert all(isinstance(v, int) for v in entry["tasks"].values())
        assert all(len(m) == 7 for m in entry["instruction"]["by_month"])
        assert 0 < entry["docs"]["filled_sections_share"] < entry["docs"]["all_sections_share"] < 1


def test_report_without_snapshot_is_one_clear_line(db_path: Path, cli: Any) -> None:
    Store(db_path).close()
    res = cli("report", "--db", db_path)
    assert res.code == 1 and "no snapshot yet" in res.err and len(res.err.strip().splitlines()) == 1


def test_section_report_explains_all_sections() -> None:
    from analyses.features import section_report
    from analyses.reference import load

    older = ["Dataset Description", "Dataset Structure", "Dataset Creation", "Considerations for Using the Data",
             "Additional Information"]
    card = "---\nlicense: mit\n---\n" + "".join(f"## {name}\n\nReal words about {name}.\n\n" for name in older[:4])
    card += "## Additional Information\n\n[More Information Needed]\n"
    table = section_report(card, load())
    rows = {(r["template"], r["section"]): (r["present"], r["filled"]) for r in table.iter_rows(named=True)}
    assert all(rows[("older", name)] == (True, True) for name in older[:4])
    assert rows[("older", "Additional Information")] == (True, False)  # a placeholder is not content
    assert rows[("current", "Uses")] == (False, False)
