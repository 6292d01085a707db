"""Contamination checks: planted items in en/ko/zh/ja, near-threshold overlaps, clean negatives, bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest

from analyses.contamination import Settings, Source, run_check
from analyses.contamination.normalize import normalize, token_spans

EN_WORDS = ["alpha", "bravo", "cedar", "delta", "ember", "falcon", "garnet", "harbor", "indigo", "juniper", "kestrel", "lantern", "meadow", "nectar", "orchid", "pepper", "quartz", "raven", "saffron", "thistle", "umber", "velvet", "willow", "xenon", "yarrow", "zephyr", "amber", "basil", "cobalt", "dune", "elm", "fjord", "glacier", "hazel", "iris", "jade", "kelp", "lilac", "maple", "nutmeg"]
# Distinct characters, so every n-gram of an item is distinct and overlap shares are easy to compute.
ZH = "".join(chr(0x4E00 + 37 * k) for k in range(40))
KO = "".join(chr(0xAC00 + 97 * k) for k in range(40))
JA = "".join(chr(0x3042 + k) if k % 2 else chr(0x5000 + 53 * k) for k in range(40))
EN = " ".join(EN_WORDS)  # 40 distinct words: 28 13-grams


def _write(path: Path, rows: list[dict]) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def _check(tmp_path: Path, items: dict[str, str], docs: dict[str, str], **kw) -> dict[str, dict]:
    bench = _write(tmp_path / "bench.jsonl", [{"id": k, "text": v} for k, v in items.items()])
    corpus = _write(tmp_path / "corpus.jsonl", [{"id": k, "text": v} for k, v in docs.items()])
    result = run_check([Source.parse(str(bench))], [Source.parse(str(corpus))], **kw)
    return {i["id"]: i for i in result.to_json()["benchmarks"]["bench"]["items"]}


def test_normalization_makes_variants_equal() -> None:
    assert normalize("Ｈｅｌｌｏ,  WORLD!!\tＡ１") == normalize("hello world a1") == "hello world a1"
    assert normalize("日 本 語、です。") == normalize("日本語です") == "日本語です"
    assert normalize("다음 중  옳은 것을 고르시오.") == normalize("다음중 옳은것을 고르시오") == "다음중옳은것을고르시오"
    assert normalize("ｶﾀｶﾅ") == "カタカナ"
    assert normalize("zero\u200bwidth soft\u00adhyphen") == "zerowidth softhyphen"
    assert normalize("I \u2764\ufe0f it 1\ufe0f\u20e3") == normalize("I \u2764 it 1")  # variation selector, keycap
    assert normalize("\u0643\u0640\u0640\u062a\u0627\u0628") == normalize("\u0643\u062a\u0627\u0628")  # tatweel
    assert [normalize("中文 abc 测试")[a:b] for a, b in token_spans(normalize("中文 abc 测试"))] == \
        ["中", "文", "abc", "测", "试"]


@pytest.mark.parametrize("lang,item", [("en", EN), ("zh", ZH), ("ko", KO), ("ja", JA)])
def test_planted_variants_are_found(tmp_path: Path, lang: str, item: str) -> None:
    spaced = " ".join(item) if lang != "en" else item.replace(" ", "   \n ")
    fullwidth = item.upper().translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})  # ASCII -> full width
    punct = item.replace(" ", ", ") if lang == "en" else "、".join(item[i:i + 5] for i in range(0, len(item), 5))
    docs = {"copy": item, "spaced": spaced, "fullwidth": fullwidth, "punct": punct,
            "embedded": f"Intro text here. {item}. And a long tail of other words afterwards.",
            "clean": "nothing related at all, only filler words about the weather"}
    items = {"it": item}
    got = _check(tmp_path, items, docs)["it"]
    assert got["contaminated"] and got["match"] == "exact"
    assert set(got["doc_ids"]) == {"copy", "spaced", "fullwidth", "punct", "embedded"}
    assert got["longest_match_chars"] == len(normalize(item))


@pytest.mark.parametrize("item,unit,n", [(EN, " ", 13), (ZH, "", 15), (KO, "", 15)])
def test_partial_overlap_threshold(tmp_path: Path, item: str, unit: str, n: int) -> None:
    tokens = item.split(" ") if unit else list(item)
    grams = len(tokens) - n + 1
    # k leading tokens hold k - n + 1 of the item's n-grams.
    above = next(k for k in range(n, len(tokens)) if (k - n + 1) / grams >= 0.5)
    below = above - 2
    docs = {"above": "prefix words " + unit.join(tokens[:above]), "below": "prefix words " + unit.join(tokens[:below])}
    got = _check(tmp_path, {"it": item}, docs)["it"]
    assert got["match"] == "ngram" and got["doc_ids"] == ["above"]
    assert got["overlap"] == pytest.approx((above - n + 1) / grams, abs=1e-4)
    docs_below = {"below": docs["below"]}
    got = _check(tmp_path, {"it": item}, docs_below)["it"]
    assert not got["contaminated"] and got["match"] == "none"
    assert 0 < got["overlap"] < 0.5
    assert got["longest_match_chars"] == len(normalize(unit.join(tokens[:below])))


def test_clean_negatives_sharing_common_phrases(tmp_path: Path) -> None:
    common_en = "which of the following statements is correct according to the passage given above"
    items = {
        "en": f"{common_en} the mitochondria converts glucose into usable energy for the cell during respiration "
              "while chloroplasts capture light",
        "ko": "다음 중 옳은 것을 고르시오. 조선 시대의 과거 제도는 문과와 무과 그리고 잡과로 나뉘어 시행되었다",
        "zh": "根据以上材料，回答下列问题。北宋时期的交子是世界上最早的纸币之一，它最初出现在四川地区。",
    }
    docs = {
        "d_en": f"Exam tips: {common_en} is a question stem you will meet often; read every option carefully.",
        "d_ko": "다음 중 옳은 것을 고르시오. 이 문장은 시험 문제에서 자주 보이는 표현입니다.",
        "d_zh": "根据以上材料，回答下列问题。这是考试中常见的说法，与具体题目无关。",
    }
    got = _check(tmp_path, items, docs)
    for key in items:
        assert not got[key]["contaminated"], got[key]
    assert got["en"]["overlap"] > 0  # the shared stem was seen, and stayed below the threshold


def test_short_items_exact_only_and_too_short(tmp_path: Path) -> None:
    items = {"short": "the quick brown fox jumps over the lazy dog", "tiny": "yes or no"}
    docs = {"d1": "a story: The quick brown fox jumps over the lazy dog!", "d2": "the quick brown fox jumps over the"}
    got = _check(tmp_path, items, docs)
    assert got["short"]["match"] == "exact" and got["short"]["doc_ids"] == ["d1"]
    assert not got["tiny"]["checked"] and not got["tiny"]["contaminated"]


def test_bad_inputs_are_reported_and_skipped(tmp_path: Path) -> None:
    bench = _write(tmp_path / "b.jsonl", [{"id": "it", "text": EN}, {"id": "nofield"}, {"id": "e", "text": "  "}])
    corpus = tmp_path / "c.jsonl.gz"
    big = ("filler " * 7_200_000) + EN  # a single document of about 50 MB with the item at its end
    with gzip.open(corpus, "wt", encoding="utf-8") as f:
        f.write('{"id": "broken", "text": \n')
        f.write(json.dumps({"id": "nofield"}) + "\n")
        f.write(json.dumps({"id": "empty", "text": ""}) + "\n")
        f.write(json.dumps({"id": "big", "text": big}) + "\n")
        f.write(json.dumps({"id": "copy", "text": EN}) + "\n")
    errors: list[str] = []
    result = run_check([Source.parse(str(bench))], [Source.parse(str(corpus))], on_error=errors.append)
    item = result.to_json()["benchmarks"]["b"]["items"][0]
    assert item["doc_ids"] == ["big", "copy"]
    assert any(f"{corpus}:1: invalid JSON" in e for e in errors)
    assert any(f"{corpus}:2: missing text field" in e for e in errors)
    assert any(f"{corpus}:3: empty text" in e for e in errors)
    assert any(f"{bench}:2: missing text field" in e for e in errors)
    assert len(errors) == 5


def test_workers_give_the_same_result(tmp_path: Path) -> None:
    items = {"en": EN, "zh": ZH}
    docs = {f"d{i}": (EN if i % 7 == 0 else ZH[: 20 + i % 20]) + f" filler {i}" for i in range(60)}
    bench = _write(tmp_path / "bench.jsonl", [{"id": k, "text": v} for k, v in items.items()])
    corpus = _write(tmp_path / "corpus.jsonl", [{"id": k, "text": v} for k, v in docs.items()])
    one = run_check([Source.parse(str(bench))], [Source.parse(str(corpus))], workers=1, batch_chars=200)
    two = run_check([Source.parse(str(bench))], [Source.parse(str(corpus))], workers=2, batch_chars=200)
    assert one.to_json() == two.to_json()
    assert one.summary()["bench"]["n_contaminated"] == 2


def test_settings_validation() -> None:
    with pytest.raises(ValueError):
        Settings(min_tokens=20)
    with pytest.raises(ValueError):
        Settings(threshold=0)


def test_cli_json_store_and_doc_ids(tmp_path: Path, cli, db_path: Path) -> None:
    bench = _write(tmp_path / "hrm.jsonl", [{"qid": "q1", "question": KO[:20], "answer": KO[20:]},
                                            {"qid": "q2", "question": ZH, "answer": "42"}])
    corpus = _write(tmp_path / "web.jsonl", [{"id": "w1", "text": "앞부분 " + KO + " 뒷부분"},
                                             {"id": "w2", "text": "unrelated"}])
    ids = tmp_path / "out" / "ids.txt"
    r = cli("contamination", "--benchmark", f"hrm8k={bench}", "--benchmark-text-field", "question,answer",
            "--benchmark-id-field", "qid", "--corpus", corpus, "--format", "json", "--save-doc-ids", ids,
            "--workers", "1", "--db", db_path)
    assert r.code == 0, r.err
    out = json.loads(r.out)
    b = out["benchmarks"]["hrm8k"]
    assert {k: b[k] for k in ("n_items", "n_contaminated", "rate")} == {"n_items": 2, "n_contaminated": 1, "rate": 0.5}
    q1 = b["items"][0]
    assert (q1["id"], q1["contaminated"], q1["match"], q1["doc_ids"]) == ("q1", True, "exact", ["w1"])
    assert set(q1) >= {"id", "contaminated", "match", "doc_ids", "longest_match_chars"}
    assert ids.read_text() == "w1\n"
    con = duckdb.connect(str(db_path), read_only=True)
    assert con.execute("SELECT count(*), sum(contaminated::INT) FROM contamination_items").fetchone() == (2, 1)
    assert con.execute("SELECT benchmarks FROM contamination_runs").fetchone()[0] == ["hrm8k"]


def test_cli_errors(tmp_path: Path, cli, db_path: Path) -> None:
    r = cli("contamination", "--benchmark", tmp_path / "missing.jsonl", "--corpus", tmp_path, "--db", db_path)
    assert r.code == 1 and "missing.jsonl: no such file or directory" in r.err
    r = cli("contamination", "--benchmark", "x.jsonl", "--corpus", "y.jsonl", "--threshold", "2")
    assert r.code == 2


def test_report_shows_newest_run(tmp_path: Path, db_path: Path) -> None:
    from analyses import render
    from analyses.contamination.persist import save
    from curate.store import Store

    bench = _write(tmp_path / "bench.jsonl", [{"id": "a", "text": EN}])
    corpus = _write(tmp_path / "c.jsonl", [{"id": "d", "text": EN}])
    with Store(db_path) as store:
        for _ in range(2):
            save(store.con, run_check([Source.parse(str(bench))], [Source.parse(str(corpus))]))
        rows = store.latest_contamination().to_dicts()
    assert [(r["benchmark"], r["run_id"], r["n_contaminated"], r["rate"]) for r in rows] == [("bench", 2, 1, 1.0)]
    report = {"snapshot": {"id": 1, "taken_at": "2026-01-01", "endpoint": "x"}, "languages": {}}
    title, _header, table = render.sections(report, {"contamination": rows, "languages": {}})[-1]
    assert title.startswith("Contamination") and table[0][:2] == ["bench", "2"] and table[0][-1] == "100.0%"


def test_hub_mentions_list_copies(tmp_path: Path, db_path: Path, cli) -> None:
    from collectors.hub_server import serve
    from collectors.snapshot import SnapshotOptions, take_snapshot
    from curate.store import Store
    from tests.hubdir import make_hub, record

    extra = [(record("someone/HRM8K-ko-translated"), b"---\nlanguage: ko\n---\n# A copy\n"),
             (record("lab/math-mix"), b"---\nlanguage: ko\n---\n# Mix\nBuilt from GSM8K and hrm8k test items.\n"),
             (record("lab/hrm8kx"), b"---\nlanguage: ko\n---\n# Unrelated\nhrm8kx is another thing.\n"),
             (record("HAERAE-HUB/HRM8K"), b"---\nlanguage: ko\n---\n# HRM8K itself\n")]
    hub = make_hub(tmp_path / "hub", n_per_lang=2, extra=extra)
    with serve(hub) as server, Store(db_path) as store:
        take_snapshot(store, SnapshotOptions(langs=["ko"], endpoint=server.url, rate=None), token="")
    bench = _write(tmp_path / "b.jsonl", [{"id": "a", "text": EN}])
    corpus = _write(tmp_path / "c.jsonl", [{"id": "d", "text": "clean"}])
    r = cli("contamination", "--benchmark", f"HAERAE-HUB/HRM8K={bench}", "--corpus", corpus, "--hub-mentions",
            "--format", "json", "--workers", "1", "--db", db_path)
    assert r.code == 0, r.err
    assert json.loads(r.out)["benchmarks"]["HAERAE-HUB/HRM8K"]["hub_mentions"] == [
        "lab/math-mix", "someone/HRM8K-ko-translated"]
    from analyses.contamination.mentions import find_mentions
    with Store(db_path, read_only=True) as store:
        got = find_mentions(store.con, ["HAERAE-HUB/HRM8K"])
        assert got.select("repo_id", "in_id", "in_card").rows() == [
            ("lab/math-mix", False, True), ("someone/HRM8K-ko-translated", True, False)]


def test_killed_run_resumes_with_the_same_result(tmp_path: Path) -> None:
    items = {"en": EN, "zh": ZH, "ko": KO}
    docs = {f"d{i:03d}": (EN if i % 9 == 0 else KO if i % 13 == 0 else ZH[: 10 + i % 25]) + f" filler {i}"
            for i in range(120)}
    (tmp_path / "corpus").mkdir()
    _write(tmp_path / "corpus" / "a.jsonl", [{"id": k, "text": v} for k, v in list(docs.items())[:60]])
    _write(tmp_path / "corpus" / "b.jsonl", [{"id": k, "text": v} for k, v in list(docs.items())[60:]])
    bench = _write(tmp_path / "bench.jsonl", [{"id": k, "text": v} for k, v in items.items()])
    args = ([Source.parse(str(bench))], [Source.parse(str(tmp_path / "corpus"))])
    expected = run_check(*args, batch_chars=300).to_json()

    work = tmp_path / "work"
    seen = 0

    def kill_after_40(n: int) -> None:
        nonlocal seen
        seen += n
        if seen > 40:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_check(*args, batch_chars=300, work_root=work, save_every_s=0, advance=kill_after_40)
    assert list(work.iterdir())  # progress was kept
    resumed = run_check(*args, batch_chars=300, work_root=work, save_every_s=0)
    assert resumed.to_json() == expected
    assert 30 <= resumed.resumed_docs <= 40 and resumed.n_docs == 120
    assert not list(work.iterdir())  # a finished run leaves no work folder

    # --restart ignores saved progress; a changed setting is another check and starts afresh on its own.
    with pytest.raises(KeyboardInterrupt):
        seen = 0
        run_check(*args, batch_chars=300, work_root=work, save_every_s=0, advance=kill_after_40)
    again = run_check(*args, batch_chars=300, work_root=work, restart=True)
    assert again.resumed_docs == 0 and again.to_json() == expected


def test_corpora_with_the_same_name_are_both_checked(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _write(tmp_path / "a" / "web.jsonl", [{"id": "a-1", "text": "nothing here"}])
    _write(tmp_path / "b" / "web.jsonl", [{"id": "b-1", "text": EN}])
    bench = _write(tmp_path / "bench.jsonl", [{"id": "it", "text": EN}])
    corpora = [Source.parse(str(tmp_path / "a" / "web.jsonl")), Source.parse(str(tmp_path / "b" / "web.jsonl"))]
    result = run_check([Source.parse(str(bench))], corpora, work_root=tmp_path / "work")
    assert result.to_json()["benchmarks"]["bench"]["items"][0]["doc_ids"] == ["b-1"]


def test_tokenize_fast_paths_give_the_regex_tokens() -> None:
    """Latin-only texts are split at spaces and CJK-only texts cut into characters instead of running the
    TOKEN regex; the tokens (and so the hashes) must be the regex's, for every kind of text."""
    import numpy as np
    import polars as pl

    from analyses.contamination.hashing import SEED, tokenize
    from analyses.contamination.normalize import TOKEN, normalize_series

    texts = ["", None, "  ", "Hello, World!", "日本語 の テキスト", "日本 abc 語 2024年", "한국어 문장 입니다",
             "ｱｲｳ ＡＢＣ", "a", "日", "x 日 y", "สวัสดี ครับ", "Привет мир", "...", "1 2 3 4"]
    normalized = normalize_series(pl.Series(texts, dtype=pl.String))
    hashes, lengths = tokenize(normalized)
    regex = normalized.to_frame("t").select(pl.col("t").str.extract_all(TOKEN)).to_series()
    assert lengths.tolist() == regex.list.len().fill_null(0).to_list()
    assert lengths.tolist() == [0, 0, 0, 2, 8, 6, 8, 4, 1, 1, 3, 10, 2, 0, 4]
    assert np.array_equal(hashes, regex.explode().drop_nulls().hash(seed=SEED).to_numpy())


def test_punctuation_and_space_runs_become_one_space() -> None:
    """The punctuation pass against a plain per-character rule: every run of punctuation, symbols, control
    characters and whitespace becomes one space, except that a lone space stays as it is."""
    import itertools
    import random
    import unicodedata

    import polars as pl

    from analyses.contamination.normalize import _PUNCT_OR_SPACE

    def separator(c: str) -> bool:
        return unicodedata.category(c)[0] in "PS" or unicodedata.category(c) == "Cc" or c.isspace()

    def reference(text: str) -> str:
        return "".join(" " if sep and "".join(run) != " " else "".join(run)
                       for sep, run in ((k, list(g)) for k, g in itertools.groupby(text, separator)))

    rng = random.Random(0)
    alphabet = list("ab 日本한\t\n\r,.!?-—()「」・…\u3000\u00a0\x01\x7f+$€©ｱ1")
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 25))) for _ in range(5000)]
    got = pl.Series(texts, dtype=pl.String).str.replace_all(_PUNCT_OR_SPACE, " ").to_list()
    assert got == [reference(t) for t in texts]


def test_a_wrong_benchmark_text_field_fails_before_the_corpus_is_read(tmp_path: Path, cli, monkeypatch) -> None:
    import analyses.contamination.check as check

    bench = tmp_path / "bench.jsonl"
    bench.write_text('{"id": "q1", "question": "what is the boiling point of water at sea level in celsius"}\n',
                     encoding="utf-8")
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"id": "d1", "text": "water boils at one hundred degrees"}\n', encoding="utf-8")

    def never(*args, **kwargs):
        raise AssertionError("the corpus was scanned")

    monkeypatch.setattr(check, "run_resumable", never)
    result = cli("contamination", "--benchmark", bench, "--corpus", corpus, "--benchmark-text-field", "text",
                 "--db", tmp_path / "s.duckdb")
    assert result.code == 2  # a usage error: the field is not in the records (tests/test_field_errors.py)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "--benchmark-text-field" in lines[0] and "'text'" in lines[0]
    assert "records have: id, question" in lines[0]


_NO_PANDAS = """
import json, sys
from pathlib import Path
from analyses.contamination import Source, run_check
tmp = Path(sys.argv[1])
result = run_check([Source.parse(str(tmp / "bench.jsonl"))], [Source.parse(str(tmp / "corpus.jsonl"))],
                   workers=1, batch_chars=200, work_root=tmp / "work", save_every_s=0)
print(json.dumps({"pandas": "pandas" in sys.modules, "result": result.to_json(), "errors": result.errors}))
"""


def test_a_scan_never_loads_pandas(tmp_path: Path) -> None:
    """pyarrow imports pandas (about 50 MB and 0.15 s per process) when it converts Python values; the tables a
    scan sends between the driver and its workers are built without that (`curate.engines.arrays`)."""
    import subprocess
    import sys

    bench = _write(tmp_path / "bench.jsonl", [{"id": "en", "text": EN}, {"id": "zh", "text": ZH}])
    corpus = _write(tmp_path / "corpus.jsonl",
                    [{"id": f"d{i}", "text": (EN if i % 5 == 0 else ZH[:20]) + f" filler {i}"} for i in range(30)])
    with corpus.open("a", encoding="utf-8") as f:
        f.write('{"id": "broken", "text": \n')  # a message row travels with the documents
        f.write(json.dumps({"id": "bad\udcff", "text": ZH}) + "\n")  # an id that is not valid UTF-8
    # One worker: this process reads, runs the worker and saves parts, all that a scan does on the local engine.
    out = subprocess.run([sys.executable, "-c", _NO_PANDAS, str(tmp_path)], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    report = json.loads(out.stdout)
    assert report["result"] == run_check([Source.parse(str(bench))], [Source.parse(str(corpus))],
                                         batch_chars=200).to_json()
    assert report["result"]["benchmarks"]["bench"]["items"][1]["doc_ids"] == ["bad\\xff"]
    assert len(report["errors"]) == 1
    assert report["pandas"] is False
