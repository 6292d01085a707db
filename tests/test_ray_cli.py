"""`curate filter --engine ray` as a user runs it: the command starts its own local Ray and stops it.

Kept apart from test_ray_engine.py, whose module-wide Ray would be reused instead of started here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from filter_fixtures import make_corpus, make_scores  # noqa: E402  (tests/ is on sys.path under pytest)

pytestmark = pytest.mark.ray


def test_cli_engine_ray_matches_local(tmp_path: Path, cli) -> None:
    import curate.cli.filter  # noqa: F401  registers `curate filter`

    assert not ray.is_initialized()
    corpus = make_corpus(tmp_path / "corpus", per_lang=20, files=2, with_lang=True)
    scores = make_scores(tmp_path / "scores.parquet", corpus)
    digests = []
    for engine in ("local", "ray"):
        res = cli("filter", "--input", corpus, "--scores", scores, "--keep-top", "0.3", "--per-language",
                  "--engine", engine, "--out", tmp_path / engine, "--format", "json")
        assert res.code == 0, res.err
        manifest = json.loads(res.out)  # stdout holds the manifest alone, whatever Ray printed
        assert manifest["engine"] == engine and manifest["counts"]["kept"] == 24
        digests.append([s["sha256"] for s in manifest["shards"]])
    assert digests[0] == digests[1]
    assert not ray.is_initialized()  # the command's Ray is shut down


def test_cli_contamination_engine_ray_matches_local(tmp_path: Path, cli) -> None:
    """`curate contamination --engine ray`: its own local Ray, the same JSON and doc ids as the local engine."""
    words = " ".join(f"term{k}" for k in range(30))
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"id": "q1", "text": words}) + "\n", encoding="utf-8")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("a", "b"):
        (corpus / f"{name}.jsonl").write_text("".join(
            json.dumps({"id": f"{name}{i}", "text": words if i % 4 == 0 else f"filler {i}"}) + "\n"
            for i in range(12)), encoding="utf-8")
    outputs = []
    for engine in ("local", "ray"):
        ids = tmp_path / f"{engine}.txt"
        res = cli("contamination", "--benchmark", bench, "--corpus", corpus, "--format", "json", "--workers", "1",
                  "--engine", engine, "--save-doc-ids", ids, "--work-dir", tmp_path / "work",
                  "--db", tmp_path / f"{engine}.duckdb")
        assert res.code == 0, res.err
        outputs.append((json.loads(res.out), ids.read_text(encoding="utf-8")))
    assert outputs[0] == outputs[1]
    assert outputs[0][0]["benchmarks"]["bench"]["items"][0]["n_docs"] == 6
    assert not ray.is_initialized()
