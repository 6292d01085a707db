"""The dashboard's filter preview counts what `curate filter` keeps, rule for rule; and its command line is one
`curate filter` understands."""

from __future__ import annotations

import shlex
from pathlib import Path

import polars as pl
import pytest

from curate.filtering.pipeline import FilterOptions, run_filter
from curate.filtering.preview import filter_command, preview
from curate.filtering.rules import Rule
from curate.filtering.scores import read_scores
from tests.filter_fixtures import make_corpus, make_scores

RULES = [
    Rule(keep_top=0.3, per_language=True),
    Rule(keep_top=0.3),
    Rule(keep_top=0.5, per_language=True, all_heads=True),
    Rule(keep_top=0.4, all_heads=True, heads=("b",)),
    Rule(keep_top=0.6, per_language=True, min_score=1.0),
    Rule(min_score=0.8, all_heads=True),
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("preview")
    corpus = make_corpus(root / "corpus", per_lang=40, with_lang=True)
    return corpus, make_scores(root / "scores.parquet", corpus)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.describe())
@pytest.mark.parametrize("langs", [None, ["ko", "ja"]])
def test_preview_counts_are_the_filters(inputs: tuple[Path, Path], tmp_path: Path, rule: Rule,
                                        langs: list[str] | None) -> None:
    corpus, scores_path = inputs
    shown = preview(read_scores([scores_path], lambda _m: None), rule, langs)
    result = run_filter(FilterOptions(inputs=[str(corpus)], scores=[scores_path], out=tmp_path / "out", rule=rule,
                                      langs=langs))
    manifest = result.manifest
    assert {k: v["kept"] for k, v in shown.languages.items()} == {k: v["kept"] for k, v in manifest["languages"].items()}
    assert shown.kept == result.n_kept > 0
    assert shown.thresholds == manifest["thresholds"]


def test_near_cut_straddles_the_cut(inputs: tuple[Path, Path]) -> None:
    _, scores_path = inputs
    shown = preview(read_scores([scores_path], lambda _m: None), Rule(keep_top=0.3, per_language=True, all_heads=True))
    for lang in shown.languages:
        above, below = shown.near_cut(lang, 3)
        assert above.height == below.height == 3
        assert above["keep"].all() and not below["keep"].any()
        assert (above["margin"] >= 0).all() and (below["margin"] < 0).all()
        kept = shown.frame.filter((shown.frame["lang"] == lang) & shown.frame["keep"])
        assert above["margin"].min() == kept["margin"].min()  # the closest kept document comes first


def test_the_command_is_the_rule(inputs: tuple[Path, Path]) -> None:
    corpus, scores_path = inputs
    rule = Rule(keep_top=0.45, per_language=True, all_heads=True, heads=("a",))
    args = filter_command([str(corpus)], [scores_path], rule, ["ko"], out="kept/")
    line = shlex.join(args)
    assert line == (f"curate filter --input {corpus} --scores {scores_path} --keep-top 0.45 --per-language "
                    "--all-heads --head a --lang ko --out kept/")
    assert shlex.split(line) == args


def test_the_command_reads_the_corpus_as_the_annotate_run_did(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    """Reading options an annotate run recorded go into the command when they differ from the filter's
    defaults; run, the command finds the scored documents under those fields."""
    import json

    from typer.testing import CliRunner

    from curate.cli import app

    corpus, scores_path = inputs
    renamed = tmp_path / "renamed.jsonl"
    rows = [json.loads(line) for f in sorted(corpus.glob("*.jsonl")) for line in f.read_text().splitlines()]
    renamed.write_text("".join(json.dumps({"key": r["id"], "body": r["text"]}) + "\n" for r in rows))
    rule = Rule(keep_top=0.5)
    reading = {"text_field": "body", "id_field": "key", "lang_field": None, "split": "train"}
    args = filter_command([str(renamed)], [scores_path], rule, out=str(tmp_path / "kept"), reading=reading)
    assert args[args.index("--text-field") + 1] == "body" and args[args.index("--id-field") + 1] == "key"
    assert args[args.index("--lang-field") + 1] == "" and "--split" not in args
    assert "--text-field" not in filter_command([str(corpus)], [scores_path], rule, reading={"text_field": "text"})
    result = CliRunner().invoke(app, args[1:])
    assert result.exit_code == 0, result.output
    shown = preview(read_scores([scores_path], lambda _m: None), rule)
    kept = pl.read_parquet(sorted((tmp_path / "kept" / "data").glob("*.parquet")))
    assert kept.height == shown.kept > 0
    assert set(kept["id"].to_list()) == set(shown.frame.filter(pl.col("keep"))["id"].to_list())
