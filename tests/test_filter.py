"""`curate filter`: thresholds per language, the all-heads rule, decontamination, shards, card, bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
import yaml
from filter_fixtures import make_corpus, make_scores

import curate.cli.filter  # noqa: F401  registers `curate filter` (wired into curate.cli on merge)
from curate.errors import CurateError
from curate.filtering.pipeline import FilterOptions, LocalEngine, run_filter
from curate.filtering.rules import Rule
from curate.filtering.sources import ExportReader, ScanReader


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return make_corpus(tmp_path / "corpus", per_lang=50, files=2, with_lang=True)


@pytest.fixture
def scores(tmp_path: Path, corpus: Path) -> Path:
    return make_scores(tmp_path / "scores.parquet", corpus)


def _scores_frame(path: Path) -> pl.DataFrame:
    return pl.read_parquet(path).with_columns(pl.col("doc_id").str.split("-").list.first().alias("true_lang"))


def _kept(out: Path) -> pl.DataFrame:
    return pl.read_parquet(sorted((out / "data").glob("*.parquet")))


def _expected_top(frame: pl.DataFrame, columns: list[str], keep_top: float, per_language: bool) -> set[str]:
    """Independent reference: numpy quantiles, document kept when at or above every column's cut."""
    groups = frame.partition_by("true_lang") if per_language else [frame]
    keep: set[str] = set()
    for g in groups:
        ok = np.ones(g.height, dtype=bool)
        for c in columns:
            values = g.get_column(c).to_numpy().astype(np.float64)
            ok &= values >= np.quantile(values, 1 - keep_top)
        keep |= set(g.filter(pl.Series(ok)).get_column("doc_id").to_list())
    return keep


def test_keep_top_per_language_keeps_that_share_of_each_language(tmp_path: Path, corpus: Path, scores: Path) -> None:
    out = tmp_path / "out"
    result = run_filter(FilterOptions([str(corpus)], [scores], out, Rule(keep_top=0.3, per_language=True)))
    kept = _kept(out)
    frame = _scores_frame(scores)
    assert set(kept.get_column("id")) == _expected_top(frame, ["score"], 0.3, per_language=True)
    for lang in ("en", "ko", "ja", "zh"):
        row = result.manifest["languages"][lang]
        assert row["docs"] == 50 and row["kept"] == 15 and row["retention"] == pytest.approx(0.3)
        assert set(result.manifest["thresholds"]) == {"en", "ko", "ja", "zh"}
    assert kept.get_column("lang").to_list() == [i.split("-")[0] for i in kept.get_column("id")]

    # One global cut instead: English scores run higher, so it takes far more than its 30%.
    out2 = tmp_path / "out-global"
    glob = run_filter(FilterOptions([str(corpus)], [scores], out2, Rule(keep_top=0.3)))
    assert set(_kept(out2).get_column("id")) == _expected_top(frame, ["score"], 0.3, per_language=False)
    assert glob.manifest["languages"]["en"]["kept"] > 30 > glob.manifest["languages"]["ko"]["kept"]
    assert list(glob.manifest["thresholds"]) == ["*"]


def test_all_heads_keeps_only_documents_above_every_heads_cut(tmp_path: Path, corpus: Path, scores: Path) -> None:
    out = tmp_path / "out"
    result = run_filter(FilterOptions([str(corpus)], [scores], out,
                                      Rule(keep_top=0.3, per_language=True, all_heads=True)))
    kept = set(_kept(out).get_column("id"))
    frame = _scores_frame(scores)
    assert kept == _expected_top(frame, ["score_a", "score_b"], 0.3, per_language=True)
    # Every head's own top 30% contains the kept set, and the intersection is smaller than either.
    top_a = _expected_top(frame, ["score_a"], 0.3, per_language=True)
    top_b = _expected_top(frame, ["score_b"], 0.3, per_language=True)
    assert kept == top_a & top_b and len(kept) < len(top_a)
    cuts = result.manifest["thresholds"]["ko"]
    assert set(cuts) == {"score_a", "score_b"} and cuts["score_b"] > 2 * cuts["score_a"]  # per-head scales
    assert result.manifest["rule"]["columns"] == ["score_a", "score_b"]


def test_min_score_is_an_absolute_floor_alone_or_with_the_percentile(tmp_path: Path, corpus: Path,
                                                                     scores: Path) -> None:
    frame = _scores_frame(scores)
    run_filter(FilterOptions([str(corpus)], [scores], tmp_path / "a", Rule(min_score=1.5)))
    assert set(_kept(tmp_path / "a").get_column("id")) == set(frame.filter(pl.col("score") >= 1.5)["doc_id"])
    run_filter(FilterOptions([str(corpus)], [scores], tmp_path / "b", Rule(keep_top=0.5, min_score=1.5,
                                                                           per_language=True)))
    both = set(_kept(tmp_path / "b").get_column("id"))
    assert both == _expected_top(frame, ["score"], 0.5, True) & set(frame.filter(pl.col("score") >= 1.5)["doc_id"])
    with pytest.raises(CurateError, match="keep-top"):
        run_filter(FilterOptions([str(corpus)], [scores], tmp_path / "c", Rule(keep_top=1.5)))


def test_decontamination_drops_listed_documents(tmp_path: Path, corpus: Path, scores: Path, cli) -> None:
    frame = _scores_frame(scores)
    best = frame.sort("score", descending=True).get_column("doc_id").head(4).to_list()  # surely kept otherwise
    ids = tmp_path / "contaminated.txt"
    ids.write_text("\n".join([*best, "", "not-in-corpus"]) + "\n", encoding="utf-8")
    res = cli("filter", "--input", corpus, "--scores", scores, "--keep-top", "0.3", "--per-language",
              "--decontaminate", "--contaminated-ids", ids, "--out", tmp_path / "out")
    assert res.code == 0, res.err
    kept = set(_kept(tmp_path / "out").get_column("id"))
    assert not kept & set(best)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["decontamination"]["dropped"] == 4 and manifest["decontamination"]["ids"] == 5
    assert sum(r["contaminated"] for r in manifest["languages"].values()) == 4
    assert "4 documents dropped" in (tmp_path / "out" / "README.md").read_text(encoding="utf-8")

    # The JSON report of `curate contamination --format json` works as the ids file too.
    report = {"benchmarks": {"b": {"items": [{"id": "q1", "contaminated": True, "doc_ids": best[:2]}]}}}
    (tmp_path / "report.json").write_text(json.dumps(report), encoding="utf-8")
    res = cli("filter", "--input", corpus, "--scores", scores, "--keep-top", "0.3", "--contaminated-ids",
              tmp_path / "report.json", "--out", tmp_path / "out2")
    assert res.code == 0, res.err
    assert not set(_kept(tmp_path / "out2").get_column("id")) & set(best[:2])

    # Without an ids file the store must hold a contamination run over this corpus.
    res = cli("filter", "--input", corpus, "--scores", scores, "--keep-top", "0.3", "--decontaminate",
              "--out", tmp_path / "out3", "--db", tmp_path / "empty.duckdb")
    assert res.code == 1 and "no store at" in res.err


def test_decontaminate_from_the_newest_stored_run(tmp_path: Path, corpus: Path, scores: Path, cli) -> None:
    from curate.corpus import iter_documents

    db = tmp_path / "store.duckdb"
    frame = _scores_frame(scores)
    best = frame.sort("score", descending=True).get_column("doc_id").head(3).to_list()
    texts = {d.id: d.text for d in iter_documents(corpus) if d.id in best}
    bench = tmp_path / "bench.jsonl"
    bench.write_text("".join(json.dumps({"id": f"q{i}", "text": t}) + "\n" for i, t in enumerate(texts.values())),
                     encoding="utf-8")
    res = cli("filter", "--input", corpus, "--scores", scores, "--keep-top", "0.3", "--decontaminate",
              "--out", tmp_path / "o0", "--db", db)
    assert res.code == 1 and "no store at" in res.err
    res = cli("contamination", "--benchmark", bench, "--corpus", corpus, "--workers", "1", "--min-tokens", "3",
              "--db", db)
    assert res.code == 0, res.err
    res = cli("filter", "--input", corpus, "--scores", scores, "--keep-top", "0.3", "--decontaminate",
              "--out", tmp_path / "o1", "--db", db)
    assert res.code == 0, res.err
    from curate.store import Store

    with Store(db, read_only=True) as store:
        stored = store.contaminated_ids(1)
    assert set(best) <= set(stored)  # the synthetic corpus repeats text, so other documents match too
    assert not set(_kept(tmp_path / "o1").get_column("id")) & set(stored)
    manifest = json.loads((tmp_path / "o1" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["decontamination"]["ids"] == len(stored)
    assert "contamination run 1" in manifest["decontamination"]["ids_file"]
    res = cli("filter", "--input", corpus, "--scores", scores, "--keep-top", "0.3", "--decontaminate",
              "--contamination-run", "7", "--out", tmp_path / "o2", "--db", db)
    assert res.code == 1 and "no contamination run 7" in res.err


def test_shards_are_bounded_ordered_and_reload_with_datasets(tmp_path: Path) -> None:
    import datasets

    corpus = make_corpus(tmp_path / "corpus", per_lang=150, files=3, with_lang=True)
    scores = make_scores(tmp_path / "scores.parquet", corpus)
    out = tmp_path / "out"
    limit = 0.016  # MiB: the minimum, to get several shards from a small corpus
    result = run_filter(FilterOptions([str(corpus)], [scores], out, Rule(keep_top=1.0), shard_size_mb=limit))
    shards = sorted((out / "data").glob("*.parquet"))
    assert len(shards) >= 3
    assert [p.name for p in shards] == [f"train-{i:05d}-of-{len(shards):05d}.parquet" for i in range(len(shards))]
    sizes = [p.stat().st_size for p in shards]
    assert max(sizes) <= limit * 1024 * 1024
    assert min(sizes[:-1]) >= 0.5 * limit * 1024 * 1024  # bounded, and not wastefully small either
    assert [s["bytes"] for s in result.manifest["shards"]] == sizes
    assert not list(out.glob(".curate-filter-*")) and not list(out.rglob("*.tmp"))

    ds = datasets.load_dataset("parquet", data_files=[str(p) for p in shards], split="train",
                               cache_dir=str(tmp_path / "cache"))
    assert ds.num_rows == result.n_kept == 600
    assert ds.column_names == ["id", "text", "lang", "score", "score_a", "score_b"]
    corpus_ids = [json.loads(line)["id"] for f in sorted(corpus.glob("*.jsonl"))
                  for line in f.read_text(encoding="utf-8").splitlines()]
    assert ds["id"] == corpus_ids  # corpus order
    # The card's YAML `configs` lets datasets open the folder itself.
    ds2 = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "cache2"))
    assert ds2.num_rows == 600


def test_language_id_fills_languages_the_inputs_lack(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "corpus", per_lang=30, files=2, with_lang=False)
    scores = make_scores(tmp_path / "scores.parquet", corpus, null_lang_share=1.0)
    out = tmp_path / "out"
    result = run_filter(FilterOptions([str(corpus)], [scores], out, Rule(keep_top=0.5, per_language=True),
                                      langs=["ko", "JA-jp"]))
    m = result.manifest
    assert m["language_id"]["documents_detected"] == 120
    assert {k: v["docs"] for k, v in m["languages"].items()} == {"en": 30, "ja": 30, "ko": 30, "zh": 30}
    assert m["languages"]["en"]["kept"] == 0 and not m["languages"]["en"]["selected"]
    kept = _kept(out)
    assert set(kept.get_column("lang")) == {"ko", "ja"} and kept.height == 30
    assert all(i.startswith(lang) for i, lang in zip(kept["id"], kept["lang"], strict=True))


def test_bad_inputs_are_reported_and_the_rest_goes_on(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "corpus", per_lang=20, files=2, with_lang=True)
    (corpus / "zz-broken.parquet").write_bytes(b"PAR1 not really parquet")
    score_dir = tmp_path / "scores"
    score_dir.mkdir()
    make_scores(score_dir / "part-0.parquet", corpus)
    make_scores(score_dir / "part-1.parquet", ids=["x-1", "x-2", "ghost-1"], null_lang_share=1.0)
    (score_dir / "part-2.parquet").write_bytes(b"garbage, a half-copied shard")
    with (corpus / "part-0.jsonl").open("a", encoding="utf-8") as fh:
        fh.write('{"id": "x-1", "text": "Ein Dokument in einer Sprache mit Code xx.", "lang": "xx"}\n')
        fh.write('{"id": "x-2", "text": "Another one with an unknown code.", "lang": "xx"}\n')
        fh.write('{"id": "no-text"}\n')
        fh.write('{"id": "unscored-1", "text": "Nobody scored this document.", "lang": "en"}\n')
    messages: list[str] = []
    result = run_filter(FilterOptions([str(corpus)], [score_dir], tmp_path / "out",
                                      Rule(keep_top=0.5, per_language=True)), on_message=messages.append)
    text = "\n".join(messages)
    assert "part-2.parquet: unreadable scores parquet" in text
    assert "zz-broken.parquet: unreadable parquet" in text
    assert "missing text field" in text
    assert "1 corpus documents have no score" in text and "'unscored-1'" in text
    assert "1 scored ids are not in the corpus" in text and "ghost-1" in text
    assert "does not know" in text and "xx" in text
    assert all("\n" not in m for m in messages)
    m = result.manifest
    assert m["languages"]["xx"]["docs"] == 2 and m["languages"]["xx"]["kept"] == 1
    assert m["counts"]["unscored"] == 1 and m["scores"]["skipped_files"][0].endswith("part-2.parquet")
    assert m["languages"]["en"]["kept"] == 10  # the other files were processed normally
    assert "unscored-1" not in set(_kept(tmp_path / "out").get_column("id"))


class _FailingEngine(LocalEngine):
    """Fails at the end of pass 2 (the export), as a full disk would."""

    def run(self, tasks, read, *args, **kwargs):
        yield from super().run(tasks, read, *args, **kwargs)
        if isinstance(read, ExportReader):
            raise RuntimeError("disk full")


class _KilledEngine(LocalEngine):
    """Dies during pass 1 inside source ``survive``, as a killed run would; records what it was asked to read."""

    def __init__(self, survive: int | None = None) -> None:
        super().__init__()
        self.survive = survive
        self.scanned: list[str] = []

    def run(self, tasks, read, *args, **kwargs):
        if not isinstance(read, ScanReader):
            yield from super().run(tasks, read, *args, **kwargs)
            return
        self.scanned = [t.source for t in tasks]
        for table in super().run(tasks, read, *args, **kwargs):
            yield table
            if self.survive is not None and max(table.column("source").to_pylist()) >= self.survive:
                raise KeyboardInterrupt


def test_a_rerun_skips_the_first_pass_of_files_already_read(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "corpus", per_lang=15, files=4, with_lang=False)
    scores = make_scores(tmp_path / "scores.parquet", corpus, null_lang_share=1.0)  # language id on every doc
    fresh = run_filter(FilterOptions([str(corpus)], [scores], tmp_path / "fresh", Rule(keep_top=0.5,
                                                                                      per_language=True)))
    out = tmp_path / "out"
    options = FilterOptions([str(corpus)], [scores], out, Rule(keep_top=0.5, per_language=True))
    with pytest.raises(KeyboardInterrupt):
        run_filter(options, _KilledEngine(survive=2))
    assert len(list((out / ".curate-filter-scan").glob("*.parquet"))) == 2
    again = _KilledEngine()
    result = run_filter(options, again)
    files = sorted(str(p) for p in corpus.rglob("*.jsonl"))
    assert again.scanned == files[2:]  # the first two files came from the saved pass
    assert result.manifest["counts"] == fresh.manifest["counts"]
    assert result.manifest["languages"] == fresh.manifest["languages"]
    assert [s["sha256"] for s in result.manifest["shards"]] == [s["sha256"] for s in fresh.manifest["shards"]]
    assert not (out / ".curate-filter-scan").exists()

    # A file changed in place is read again.
    with pytest.raises(KeyboardInterrupt):
        run_filter(FilterOptions([str(corpus)], [scores], tmp_path / "b", Rule(keep_top=0.5)), _KilledEngine(2))
    Path(files[0]).write_text(Path(files[0]).read_text(encoding="utf-8"), encoding="utf-8")
    import os

    os.utime(files[0], ns=(1, 1))
    again = _KilledEngine()
    run_filter(FilterOptions([str(corpus)], [scores], tmp_path / "b", Rule(keep_top=0.5)), again)
    assert again.scanned == [files[0], *files[2:]]


def test_nothing_half_written(tmp_path: Path, corpus: Path, scores: Path, cli) -> None:
    out = tmp_path / "out"
    options = FilterOptions([str(corpus)], [scores], out, Rule(keep_top=1.0), shard_size_mb=0.016)
    with pytest.raises(RuntimeError, match="disk full"):
        run_filter(options, _FailingEngine())
    # No shard, card, manifest or staging folder left; only the saved first pass, for the rerun.
    assert sorted(p.name for p in out.iterdir()) == [".curate-filter-scan"]

    first = run_filter(options)
    assert len(first.manifest["shards"]) >= 2
    assert not (out / ".curate-filter-scan").exists()
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    res = cli("filter", "--input", corpus, "--scores", scores, "--keep-top", "0.1", "--out", out)
    errors = [line for line in res.err.splitlines() if line.startswith("error:")]  # log lines may precede it
    assert res.code == 1 and len(errors) == 1 and "--overwrite" in errors[0]
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before

    res = cli("filter", "--input", corpus, "--scores", scores, "--keep-top", "0.1", "--out", out, "--overwrite")
    assert res.code == 0, res.err
    assert len(list((out / "data").glob("*.parquet"))) == 1  # the old, longer shard series is gone
    assert _kept(out).height == 20


def test_cli_summary_card_and_json(tmp_path: Path, corpus: Path, scores: Path, cli) -> None:
    out = tmp_path / "out"
    res = cli("filter", "--input", corpus, "--scores", scores, "--keep-top", "0.3", "--per-language",
              "--all-heads", "--out", out)
    assert res.code == 0, res.err
    assert "kept" in res.out and "ko:" in res.out and "score_a>=" in res.out
    card = (out / "README.md").read_text(encoding="utf-8")
    header = yaml.safe_load(card.split("---")[1])
    assert sorted(header["language"]) == ["en", "ja", "ko", "zh"]
    assert header["configs"][0]["data_files"][0]["path"] == "data/train-*.parquet"
    assert "## Thresholds" in card and "| ko |" in card and "score_b" in card
    assert "## Counts and retention per language" in card and str(scores) in card
    res = cli("filter", "--input", corpus, "--scores", scores, "--min-score", "1", "--out", tmp_path / "o2",
              "--format", "json")
    assert res.code == 0, res.err
    manifest = json.loads(res.out)
    assert manifest["rule"]["min_score"] == 1 and manifest["counts"]["kept"] == _kept(tmp_path / "o2").height
    assert cli("filter", "--input", corpus, "--scores", scores, "--out", tmp_path / "o3").code == 2
    percent = cli("filter", "--input", corpus, "--scores", scores, "--keep-top", "30", "--out", tmp_path / "o3")
    assert percent.code == 2 and "got 30 (for the top 30%, give 0.3)" in percent.err  # a usage error, as typed
    missing = cli("filter", "--input", tmp_path / "nope.jsonl", "--scores", scores, "--keep-top", "0.3",
                  "--out", tmp_path / "o4")
    assert missing.code == 1 and "no such file" in missing.err


def test_the_card_records_a_command_that_runs_again(tmp_path: Path, corpus: Path, scores: Path, cli) -> None:
    """The card and manifest record the command as typed (whatever started curate: the console script,
    `python -m curate`, or `curate demo` calling filter); run again, it keeps the same documents."""
    import shlex

    out = tmp_path / "out"
    res = cli("filter", "--input", corpus, "--scores", scores, "--keep-top", "0.3", "--per-language",
              "--all-heads", "--lang", "ko", "--lang", "ja", "--out", out)
    assert res.code == 0, res.err
    command = json.loads((out / "manifest.json").read_text())["command"]
    assert command == shlex.join(["curate", "filter", "--input", str(corpus), "--scores", str(scores), "--keep-top",
                                  "0.3", "--per-language", "--lang", "ko", "--lang", "ja", "--all-heads",
                                  "--out", str(out)])
    assert f"- Command: `{command}`" in (out / "README.md").read_text(encoding="utf-8")
    again = shlex.split(command)
    again[again.index("--out") + 1] = str(tmp_path / "again")
    assert cli(*again[1:]).code == 0
    assert _kept(tmp_path / "again")["id"].to_list() == _kept(out)["id"].to_list()


def test_a_dry_run_counts_what_the_export_keeps_and_writes_nothing(tmp_path: Path, corpus: Path, scores: Path,
                                                                    cli, db_path: Path) -> None:
    """--dry-run: the same decision and counts as the real run, per language; no --out folder, no export,
    no run in the store."""
    from curate.store import Store

    args = ["filter", "--input", corpus, "--scores", scores, "--keep-top", "0.3", "--per-language", "--all-heads",
            "--db", db_path]
    dry = cli(*args, "--out", tmp_path / "dry", "--dry-run", "--format", "json")
    assert dry.code == 0, dry.err
    planned = json.loads(dry.out)
    assert planned["dry_run"] is True and planned["shards"] == []
    assert not (tmp_path / "dry").exists() and not db_path.exists()
    real = cli(*args, "--out", tmp_path / "real", "--format", "json")
    assert real.code == 0, real.err
    done = json.loads(real.out)
    assert planned["counts"] == done["counts"] and planned["languages"] == done["languages"]
    assert planned["thresholds"] == done["thresholds"] and _kept(tmp_path / "real").height == planned["counts"]["kept"]
    table = cli(*args, "--out", tmp_path / "real", "--dry-run")  # into an existing export: still reads only
    assert table.code == 0 and table.out.startswith(f"would keep {done['counts']['kept']:,} of ")
    with Store(db_path, read_only=True) as store:
        assert store.runs()["kind"].to_list() == ["filter"]


def test_scores_without_mean_column_and_heads_check(tmp_path: Path, corpus: Path, scores: Path) -> None:
    table = pq.read_table(scores).drop_columns(["score"])
    pq.write_table(table, tmp_path / "heads-only.parquet")
    result = run_filter(FilterOptions([str(corpus)], [tmp_path / "heads-only.parquet"], tmp_path / "out",
                                      Rule(keep_top=0.3, per_language=True)))
    assert result.n_kept == 60
    pq.write_table(table.select(["doc_id", "lang", "score_a"]).rename_columns(["doc_id", "lang", "score"]),
                   tmp_path / "mean-only.parquet")
    with pytest.raises(CurateError, match="--all-heads needs"):
        run_filter(FilterOptions([str(corpus)], [tmp_path / "mean-only.parquet"], tmp_path / "out2",
                                 Rule(keep_top=0.3, all_heads=True)))


def test_nothing_kept_gives_one_readable_empty_shard(tmp_path: Path, corpus: Path, scores: Path) -> None:
    messages: list[str] = []
    result = run_filter(FilterOptions([str(corpus)], [scores], tmp_path / "out", Rule(min_score=100)),
                        on_message=messages.append)
    assert result.n_kept == 0 and any("no document passed" in m for m in messages)
    frame = _kept(tmp_path / "out")
    assert frame.height == 0 and frame.columns == ["id", "text", "lang", "score", "score_a", "score_b"]


def test_shard_bytes_do_not_depend_on_how_rows_are_batched(tmp_path: Path) -> None:
    import pyarrow as pa

    from curate.filtering.shards import ShardWriter
    from curate.filtering.sources import output_schema

    rows = 700
    table = pa.table({"id": [f"d{i}" for i in range(rows)],
                      "text": [("word " * (i % 97 + 1)) + str(i) for i in range(rows)],
                      "lang": ["en"] * rows, "score": pa.array([i / rows for i in range(rows)], pa.float32())})
    digests = []
    for name, step in (("one", rows), ("sevens", 7), ("uneven", 123)):
        writer = ShardWriter(tmp_path / name, output_schema(["score"]), 20 * 1024)
        for start in range(0, rows, step):
            writer.write(table.slice(start, step))
        shards = writer.finish()
        assert all(s.bytes <= 20 * 1024 for s in shards) and sum(s.rows for s in shards) == rows
        digests.append([s.sha256 for s in shards])
    assert len(digests[0]) >= 2 and digests[0] == digests[1] == digests[2]


def test_language_codes_are_normalised() -> None:
    import polars as pl

    from curate.filtering.langs import base_language_expr
    from curate.langid import base_language

    codes = ["ko-KR", "zh_Hant", " JA ", "", None, "und", "kor_Hang"]
    expected = ["ko", "zh", "ja", None, None, "und", "ko"]
    assert [base_language(c) for c in codes] == expected
    assert pl.DataFrame({"c": codes}).select(base_language_expr("c"))["c"].to_list() == expected


def test_all_heads_can_be_limited_to_some_heads(tmp_path: Path, corpus: Path, scores: Path, cli) -> None:
    res = cli("filter", "--input", corpus, "--scores", scores, "--keep-top", "0.3", "--per-language", "--all-heads",
              "--head", "a", "--out", tmp_path / "out", "--format", "json")
    assert res.code == 0, res.err
    assert json.loads(res.out)["rule"]["columns"] == ["score_a"]
    assert set(_kept(tmp_path / "out")["id"]) == _expected_top(_scores_frame(scores), ["score_a"], 0.3, True)
    res = cli("filter", "--input", corpus, "--scores", scores, "--keep-top", "0.3", "--all-heads", "--head", "zz",
              "--out", tmp_path / "out2")
    assert res.code == 1 and "--head zz: not in the scores file (heads: a, b)" in res.err


def test_parquet_corpus_with_other_field_names(tmp_path: Path, corpus: Path, scores: Path, cli) -> None:
    rows = [json.loads(line) for f in sorted(corpus.glob("*.jsonl")) for line in f.read_text(encoding="utf-8").splitlines()]
    frame = pl.DataFrame({"doc": [r["id"] for r in rows], "body": [r["text"] for r in rows],
                          "language": [r["lang"].upper() + "-XX" for r in rows]})
    (tmp_path / "pq").mkdir()
    frame.write_parquet(tmp_path / "pq" / "corpus.parquet")
    no_lang = pl.read_parquet(scores).with_columns(pl.lit(None, pl.Utf8).alias("lang"))
    no_lang.write_parquet(tmp_path / "scores-nolang.parquet")
    res = cli("filter", "--input", tmp_path / "pq", "--scores", tmp_path / "scores-nolang.parquet", "--keep-top", "0.3",
              "--per-language", "--text-field", "body", "--id-field", "doc", "--lang-field", "language",
              "--out", tmp_path / "out", "--format", "json")
    assert res.code == 0, res.err
    m = json.loads(res.out)
    assert m["language_id"]["documents_detected"] == 0  # the corpus field, normalised, was enough
    assert set(m["languages"]) == {"en", "ja", "ko", "zh"}
    assert set(_kept(tmp_path / "out")["id"]) == _expected_top(_scores_frame(scores), ["score"], 0.3, True)


def test_filter_run_is_recorded(tmp_path: Path, corpus: Path, scores: Path, cli, db_path: Path) -> None:
    from curate.store import Store

    res = cli("filter", "--input", corpus, "--scores", scores, "--keep-top", "0.5", "--out", tmp_path / "o",
              "--db", db_path)
    assert res.code == 0, res.err
    with Store(db_path, read_only=True) as store:
        row = store.runs().row(0, named=True)
    assert row["kind"] == "filter" and row["output"] == str((tmp_path / "o").resolve()) and row["n_docs"] > 0


def test_folder_without_ids_keeps_same_named_files_apart(tmp_path: Path, cli) -> None:
    from curate.corpus import iter_documents

    corpus = tmp_path / "c"
    for lang in ("en", "ko"):
        (corpus / lang).mkdir(parents=True)
        (corpus / lang / "train.jsonl").write_text(
            "".join(json.dumps({"text": f"{lang} document {i}", "lang": lang}) + "\n" for i in range(4)), encoding="utf-8")
    ids = [d.id for d in iter_documents(corpus)]
    pl.DataFrame({"doc_id": ids, "lang": [i[:2] for i in ids], "score": [float(i) for i in range(8)]}).write_parquet(
        tmp_path / "scores.parquet")
    res = cli("filter", "--input", corpus, "--scores", tmp_path / "scores.parquet", "--keep-top", "0.5",
              "--per-language", "--out", tmp_path / "out")
    assert res.code == 0, res.err
    kept = _kept(tmp_path / "out")
    assert sorted(kept["id"].to_list()) == ["en/train:3", "en/train:4", "ko/train:3", "ko/train:4"]


def test_contaminated_ids_file_with_a_bom(tmp_path: Path) -> None:
    from curate.filtering.contaminated import read_contaminated_ids

    path = tmp_path / "ids.txt"
    path.write_bytes("\ufeffdoc-1\ndoc-2\n".encode())
    assert read_contaminated_ids(path).to_list() == ["doc-1", "doc-2"]
