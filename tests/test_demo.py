"""`curate demo` runs every stage offline and ends with outputs a user can open."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from curate.demo_corpus import write_demo_inputs
from curate.judges.standin import serve_standin_judge, standin_score


def test_demo_inputs_plant_benchmark_items(tmp_path: Path) -> None:
    inputs = write_demo_inputs(tmp_path, n_per_lang=30, seed=0)
    docs = {}
    for path in sorted(inputs.corpus.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            doc = json.loads(line)
            docs[doc["id"]] = doc["text"]
    items = {json.loads(line)["id"]: json.loads(line)["text"] for line in inputs.benchmark.read_text().splitlines()}
    assert len(docs) == inputs.n_docs == 120 and len(inputs.planted) == 8
    for item, doc in inputs.planted.items():
        assert items[item] in docs[doc]
    planted = set(inputs.planted)
    assert not any(text in body for q, text in items.items() if q not in planted for body in docs.values())


def test_standin_judge_answers_like_an_openai_server() -> None:
    import httpx

    text = "Photosynthesis turns light energy into chemical energy stored in glucose. lol this is so random xD follow me"
    assert standin_score(text) == 2  # one explanatory sentence of two: 2.5 rounds to 2
    with serve_standin_judge() as base:
        response = httpx.post(f"{base}/chat/completions", timeout=10,
                              json={"model": "m", "messages": [{"role": "user", "content": f"<document>\n{text}\n</document>"}]})
    answer = json.loads(response.json()["choices"][0]["message"]["content"])
    assert answer["score"] == 2 and "stand-in" in answer["reason"]


@pytest.mark.timeout(240)
def test_demo_runs_every_stage(tmp_path: Path, cli: Any) -> None:
    pytest.importorskip("torch")
    out = tmp_path / "demo"
    result = cli("demo", "--out", out, "--docs-per-lang", "20")
    assert result.code == 0, result.err
    for path in ("curate.duckdb", "report/report.html", "labels.parquet", "annotator/config.json",
                 "scores.parquet", "export/manifest.json", "export/README.md"):
        assert (out / path).exists(), path
    assert "STAND-IN" in result.out
    assert f"curate dashboard --db {out / 'curate.duckdb'}" in " ".join(result.out.split())
    manifest = json.loads((out / "export" / "manifest.json").read_text())
    assert manifest["decontamination"]["dropped"] == 8  # every planted copy is found and dropped
    planted = write_demo_inputs(tmp_path / "again", n_per_lang=20).planted
    kept = pl.read_parquet(sorted((out / "export" / "data").glob("*.parquet")))
    assert not set(planted.values()) & set(kept["id"].to_list())
    from curate.store import Store

    with Store(out / "curate.duckdb", read_only=True) as store:
        assert store.runs()["kind"].to_list() == ["filter", "annotate", "train-annotator", "judge"]
