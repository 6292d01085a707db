"""Benchmark: `curate annotate` on a GPU against a JQL-style loop and sentence-transformers, from the first pass.

Everything is built here, so it runs where nothing can be downloaded: a seeded, length-skewed multilingual
corpus (Latin-script, Hangul, CJK and kana text, character lengths log-normal), a BPE tokenizer trained on it
with the ``tokenizers`` library, a randomly initialised XLM-R-base-shaped backbone (278M parameters, 512
tokens; ``--tiny``: a two-layer toy that runs on a CPU in seconds; ``--long``: 8,192 positions, documents
ten times longer) and random heads (`curate.annotators.random_backbone`). Speed and memory depend on the
shapes, not on the weights. Then, in one process, on the same documents, each method runs a cold pass (the
first over these documents, with the CUDA cache emptied before it) and a warm pass (the same again):

* ``curate``: `annotate_corpus` as ``curate annotate`` runs it: JSONL in, windows sorted and batched on the
  device's terms, heads, scores parquet out (the annotator folder loaded as users load it);
* ``jql``: the JQL reference loop: documents in input order, fixed batches of 64 padded to the longest, bf16
  on a GPU (fp32 on the CPU), mean pooling, the same heads on the device;
* ``st``: ``SentenceTransformer.encode(batch_size=64)`` over all documents (it sorts by length inside the
  call), the same model object and heads.

Each pass reports docs/s, real tokens/s, padded/real tokens, the share of its wall time spent in forward
passes (CUDA events on a GPU, wall clock on the CPU), peak GPU memory, and curate's speed over the others.
On CUDA it also checks out-of-memory recovery under ``torch.cuda.set_per_process_memory_fraction`` and
compares bf16 scores with CPU fp32 scores. Results go to ``--json`` (default ``$OUT/annotate_gpu.json`` when
``$OUT`` is set).

    python bench/annotate_gpu.py --tiny                      # CPU: end to end, well under a minute
    python bench/annotate_gpu.py --docs 20000                # GPU: XLM-R-base shape, 512 tokens
    python bench/annotate_gpu.py --docs 2000 --long          # GPU: 8,192 positions

Needs torch, transformers, sentence-transformers, tokenizers, safetensors, pyarrow, typer, rich, httpx and
huggingface-hub, and curate importable from this checkout (no duckdb, polars or datasets).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

LANGS = ("en", "de", "fr", "ko", "zh", "ja")
LANG_P = (0.35, 0.10, 0.05, 0.20, 0.20, 0.10)
REF_BATCH = 64


# ---- corpus ------------------------------------------------------------------------------------------------

def _zipf(n: int, s: float = 1.05) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** s
    return np.cumsum(w / w.sum())


def _draw(rng: np.random.Generator, items: np.ndarray, cdf: np.ndarray, n: int) -> np.ndarray:
    return items[np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(items) - 1)]


def make_corpus(n: int, seed: int, median_chars: float, sigma: float = 1.1,
                max_chars: int = 20_000) -> tuple[list[str], list[str]]:
    """``n`` documents and their languages, deterministic for a seed: Zipf-distributed words or characters
    of each script, character lengths log-normal around ``median_chars`` (web text: many short pages, a long
    tail)."""
    vrng = np.random.default_rng(12345)  # the same words whatever the corpus seed
    syllables = np.array([c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ei", "ou", "é")])
    latin = {}
    for lang in ("en", "de", "fr"):
        parts = syllables[vrng.integers(0, len(syllables), size=(5000, 4))]
        k = vrng.integers(1, 5, size=5000)
        words = np.array(["".join(p[:j]) for p, j in zip(parts.tolist(), k.tolist(), strict=True)])
        latin[lang] = (words, _zipf(len(words)))
    hangul = np.array([chr(c) for c in vrng.choice(np.arange(0xAC00, 0xD7A4), size=900, replace=False)])
    hangul_words = np.array(["".join(vrng.choice(hangul, size=int(k))) for k in vrng.integers(1, 5, size=4000)])
    latin["ko"] = (hangul_words, _zipf(len(hangul_words)))
    hanzi = np.array([chr(c) for c in vrng.choice(np.arange(0x4E00, 0x9FA6), size=4000, replace=False)])
    hanzi_cdf = _zipf(len(hanzi), 0.95)
    kana = np.array([chr(c) for c in range(0x3041, 0x3097)])
    kana_cdf = _zipf(len(kana), 0.7)

    rng = np.random.default_rng(seed)
    langs = rng.choice(np.array(LANGS), size=n, p=np.array(LANG_P)).tolist()
    lengths = np.clip(rng.lognormal(np.log(median_chars), sigma, size=n), 50, max_chars).astype(int).tolist()
    texts = []
    for lang, size in zip(langs, lengths, strict=True):
        if lang in latin:
            words, cdf = latin[lang]
            texts.append(" ".join(_draw(rng, words, cdf, size // 5 + 4).tolist())[:size])
        elif lang == "zh":
            chars = _draw(rng, hanzi, hanzi_cdf, size)
            chars[rng.random(size) < 0.05] = "。"
            texts.append("".join(chars.tolist()))
        else:
            chars = np.where(rng.random(size) < 0.4, _draw(rng, hanzi, hanzi_cdf, size),
                             _draw(rng, kana, kana_cdf, size))
            texts.append("".join(chars.tolist()))
    return texts, langs


# ---- timing helpers -----------------------------------------------------------------------------------------

class ForwardMeter:
    """Counts the forward passes of a module: padded tokens, and time (CUDA events, or the wall clock)."""

    def __init__(self, module: Any, cuda: bool) -> None:
        import torch

        self.module, self.cuda, self.torch = module, cuda, torch
        self.inner = module.forward
        module.forward = self._forward
        self.reset()

    def reset(self) -> None:
        self.events: list[tuple[Any, Any]] = []
        self.seconds = 0.0
        self.padded = 0

    def _forward(self, *args: Any, **kwargs: Any) -> Any:
        first = args[0] if args else kwargs
        ids = first.get("input_ids") if isinstance(first, dict) else kwargs.get("input_ids")
        if ids is not None:
            self.padded += int(ids.numel())
        if self.cuda:
            start, end = self.torch.cuda.Event(enable_timing=True), self.torch.cuda.Event(enable_timing=True)
            start.record()
            out = self.inner(*args, **kwargs)
            end.record()
            self.events.append((start, end))
            return out
        t = time.perf_counter()
        out = self.inner(*args, **kwargs)
        self.seconds += time.perf_counter() - t
        return out

    def forward_seconds(self) -> float:
        if self.cuda:
            self.torch.cuda.synchronize()
            return sum(s.elapsed_time(e) for s, e in self.events) / 1000
        return self.seconds

    def close(self) -> None:
        self.module.forward = self.inner


# ---- the bench ----------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=None, help="documents (default 20,000; --long 2,000; "
                                                               "--tiny 400, --tiny --long 40)")
    parser.add_argument("--tiny", action="store_true", help="a two-layer toy model: the whole bench on a CPU")
    parser.add_argument("--long", action="store_true", help="8,192 positions and documents ten times longer")
    parser.add_argument("--device", default="auto", help="auto|cpu|cuda (--tiny runs on the CPU)")
    parser.add_argument("--work", default=None, help="folder for the corpus, model and outputs (default: temp)")
    parser.add_argument("--json", default=None, help="write the results here (default $OUT/annotate_gpu.json)")
    parser.add_argument("--compare-docs", type=int, default=None,
                        help="CUDA: documents scored again on the CPU in fp32 to compare (default 200, --long 20; "
                             "0: skip)")
    parser.add_argument("--no-oom-check", action="store_true", help="CUDA: skip the out-of-memory recovery check")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        work = Path(args.work) if args.work else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        work.mkdir(parents=True, exist_ok=True)
        results = run(args, work)
    out = args.json or (str(Path(os.environ["OUT"]) / f"annotate_gpu{'_long' if args.long else ''}.json")
                        if os.environ.get("OUT") else None)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    print_report(results)


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    import torch

    from curate.annotators import load_annotator
    from curate.annotators.annotate import annotate_corpus
    from curate.annotators.embedders import select_device
    from curate.annotators.heads import FORMAT, VERSION, make_head, save_annotator
    from curate.annotators.random_backbone import build_backbone

    choice = select_device("cpu" if args.tiny else args.device)
    cuda = choice.device.startswith("cuda")
    max_tokens = 8192 if args.long else 512
    n_docs = args.docs or {(False, False): 20_000, (False, True): 2000, (True, False): 400,
                           (True, True): 40}[(args.tiny, args.long)]
    started = time.monotonic()
    results: dict[str, Any] = {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                               "env": environment(torch, cuda), "args": vars(args), "device": choice.__dict__}

    texts, langs = make_corpus(n_docs, args.seed, median_chars=9000 if args.long else 900,
                               max_chars=200_000 if args.long else 20_000)
    corpus = work / "corpus.jsonl"
    with corpus.open("w", encoding="utf-8") as fh:
        for i, (text, lang) in enumerate(zip(texts, langs, strict=True)):
            fh.write(json.dumps({"id": f"d{i}", "text": text, "lang": lang}, ensure_ascii=False) + "\n")
    sample, _ = make_corpus(500 if args.tiny else 3000, args.seed + 1, median_chars=900)
    model_dir = build_backbone(work / "model", sample, shape="tiny" if args.tiny else "base", max_tokens=max_tokens,
                               vocab_size=8000 if args.tiny else 32_000, seed=args.seed)
    dim = 64 if args.tiny else 768
    torch.manual_seed(args.seed + 1)
    spec = {"kind": "sentence-transformers", "name": str(model_dir), "dim": dim, "max_tokens": max_tokens,
            "pooling": "mean"}
    ann_dir = work / "annotator"
    save_annotator(ann_dir, {"format": FORMAT, "version": VERSION, "backbone": spec, "dim": dim, "hidden": 1000,
                             "label_source": {"kind": "random heads (bench)"},
                             "heads": [{"name": "edu"}, {"name": "quality"}]},
                   {"edu": make_head(dim), "quality": make_head(dim)})
    results["setup_s"] = round(time.monotonic() - started, 1)

    annotator = load_annotator(ann_dir, device=choice.device)
    embedder = annotator.embedder
    lengths = embedder.token_ids(texts).lengths
    real = int(lengths.sum())
    results["corpus"] = {"docs": n_docs, "real_tokens": real, "mean_tokens": round(float(lengths.mean()), 1),
                         "share_at_cap": round(float(np.mean(lengths >= max_tokens)), 3),
                         "max_tokens": max_tokens, "langs": {k: langs.count(k) for k in LANGS}}
    results["model"] = {"shape": "tiny" if args.tiny else "xlm-r-base", "params_m": round(
        sum(p.numel() for p in embedder._model.parameters()) / 1e6, 1), "dtype": choice.dtype}

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    def fresh() -> None:
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()

    def measure(name: str, meter: ForwardMeter, fn: Callable[[], Any]) -> Any:
        rows = []
        value = None
        for label in ("cold", "warm"):
            if label == "cold":
                fresh()
            elif cuda:
                torch.cuda.reset_peak_memory_stats()
            meter.reset()
            sync()
            t = time.perf_counter()
            value = fn()
            sync()
            wall = time.perf_counter() - t
            fwd = meter.forward_seconds()
            rows.append({"method": name, "pass": label, "seconds": round(wall, 3),
                         "docs_per_s": round(n_docs / wall, 1), "real_tokens_per_s": round(real / wall),
                         "padded_per_real": round(meter.padded / real, 3) if meter.padded else None,
                         "forward_share": round(fwd / wall, 3),
                         "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None})
            print(json.dumps(rows[-1]), flush=True)
        results.setdefault("runs", []).extend(rows)
        return value

    # curate: the annotate path as users run it (the annotator loaded above, its first window warms it up)
    meter = ForwardMeter(embedder._model, cuda)
    k = iter(range(2))

    def curate_run() -> np.ndarray:
        import pyarrow.parquet as pq

        out = work / f"scores-{next(k)}.parquet"
        summary = annotate_corpus(corpus, annotator, out, restart=True)
        results["curate_truncated"] = summary.truncated
        table = pq.read_table(out)
        return np.stack([table.column(f"score_{h}").to_numpy() for h in annotator.head_names], axis=1)

    curate_scores = measure("curate", meter, curate_run)
    results["curate_batch_tokens"] = embedder.batch_tokens
    results["curate_shapes_per_window"] = len({(len(b.rows), b.width) for b in embedder.plan(lengths)})

    # st: SentenceTransformer.encode on the same model object, heads on the device
    def st_run() -> np.ndarray:
        emb = embedder._model.encode(texts, batch_size=REF_BATCH, convert_to_tensor=True,
                                     normalize_embeddings=True, show_progress_bar=False)
        with torch.inference_mode():
            return annotator.heads(emb.float()).cpu().numpy()

    st_scores = measure("st", meter, st_run)
    meter.close()

    # jql: the reference loop on a model loaded with plain transformers
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    loaded = {"model": AutoModel.from_pretrained(str(model_dir), dtype=getattr(torch, choice.dtype))}
    model = loaded["model"].to(choice.device).eval()
    meter = ForwardMeter(model, cuda)

    def jql_run() -> np.ndarray:
        scores = []
        with torch.inference_mode():
            for i in range(0, n_docs, REF_BATCH):
                enc = tokenizer(texts[i:i + REF_BATCH], padding=True, truncation=True, max_length=max_tokens,
                                return_tensors="pt").to(choice.device)
                hidden = loaded["model"](**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = ((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).float()
                pooled = pooled / pooled.norm(dim=1, keepdim=True).clamp_min(1e-12)
                scores.append(annotator.heads(pooled).cpu().numpy())
        return np.concatenate(scores)

    jql_scores = measure("jql", meter, jql_run)
    meter.close()
    loaded.clear()  # its GPU memory back before the out-of-memory check
    del model

    results["ratios"] = ratios(results["runs"])
    results["agreement"] = agreement(curate_scores, {"jql": jql_scores, "st": st_scores})
    if cuda and not args.no_oom_check:
        results["oom_check"] = oom_check(torch, annotator, texts, lengths, max_tokens)
    compare = (20 if args.long else 200) if args.compare_docs is None else args.compare_docs
    if cuda and compare:
        results["bf16_vs_cpu_fp32"] = compare_cpu(annotator, ann_dir, texts, compare, args.seed)
    results["total_s"] = round(time.monotonic() - started, 1)
    return results


def environment(torch: Any, cuda: bool) -> dict[str, Any]:
    import sentence_transformers
    import tokenizers
    import transformers

    env = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
           "transformers": transformers.__version__, "sentence_transformers": sentence_transformers.__version__,
           "tokenizers": tokenizers.__version__, "cpu_threads": torch.get_num_threads()}
    if cuda:
        props = torch.cuda.get_device_properties(0)
        env.update(gpu=props.name, gpu_gib=round(props.total_memory / 2**30, 1))
    return env


def ratios(runs: list[dict[str, Any]]) -> dict[str, float]:
    """curate's docs/s over each other method's, pass by pass."""
    rate = {(r["method"], r["pass"]): r["docs_per_s"] for r in runs}
    return {f"curate/{m} {p}": round(rate[("curate", p)] / rate[(m, p)], 2)
            for m in ("jql", "st") for p in ("cold", "warm") if (m, p) in rate}


def agreement(curate: np.ndarray, others: dict[str, np.ndarray]) -> dict[str, Any]:
    """Same scores whatever the batching (a speed-up must not come from doing other work)."""
    from curate.stats import spearman

    return {name: {"spearman_mean_score": round(spearman(curate.mean(1), s.mean(1)), 5),
                   "max_abs_diff": float(np.abs(curate - s).max())} for name, s in others.items()}


def oom_check(torch: Any, annotator: Any, texts: list[str], lengths: np.ndarray, max_tokens: int) -> dict[str, Any]:
    """The 1,024 longest documents at a budget far above what 1.5 GiB over the model holds: halving recovers,
    with the embeddings of an unconstrained run."""
    embedder = annotator.embedder
    docs = [texts[i] for i in np.argsort(-lengths, kind="stable")[:1024]]
    expected = embedder.embed(docs)
    budget, known = embedder.batch_tokens, embedder._oom_tokens
    gc.collect()
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated()
    total = torch.cuda.get_device_properties(0).total_memory
    result: dict[str, Any] = {"docs": len(docs), "cap_gib_over_model": 1.5, "baseline_gib": round(base / 2**30, 2)}
    embedder.batch_tokens, embedder._oom_tokens = 512 * max_tokens, None
    torch.cuda.set_per_process_memory_fraction((base + 1.5 * 2**30) / total)
    torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    try:
        got = embedder.embed(docs)
        result.update(ok=True, min_cosine_vs_uncapped=float(np.sum(got * expected, axis=1).min()))
    except Exception as exc:  # recorded, not raised: the bench reports it
        result.update(ok=False, error=f"{type(exc).__name__}: {exc}")
    finally:
        result.update(seconds=round(time.perf_counter() - t, 2), budget_after=embedder.batch_tokens,
                      peak_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2))
        torch.cuda.set_per_process_memory_fraction(1.0)
        embedder.batch_tokens, embedder._oom_tokens = budget, known
    return result


def compare_cpu(annotator: Any, ann_dir: Path, texts: list[str], n: int, seed: int) -> dict[str, Any]:
    """Heads' scores of CUDA bf16 (heads on the GPU) against CPU fp32 (heads on the CPU), same documents."""
    from curate.annotators import load_annotator
    from curate.stats import spearman

    idx = np.sort(np.random.default_rng(seed + 7).choice(len(texts), size=min(n, len(texts)), replace=False))
    docs = [texts[i] for i in idx]
    gpu = annotator.score_texts(docs)
    cpu = load_annotator(ann_dir, device="cpu").score_texts(docs)
    return {"docs": len(docs), **{h: {"spearman": round(spearman(gpu[:, j], cpu[:, j]), 5),
                                      "max_abs_diff": float(np.abs(gpu[:, j] - cpu[:, j]).max())}
                                  for j, h in enumerate(annotator.head_names)}}


def print_report(results: dict[str, Any]) -> None:
    env, corpus = results["env"], results["corpus"]
    where = env.get("gpu") or f"CPU ({env['cpu_threads']} torch threads)"
    print(f"\n{results['model']['shape']} backbone ({results['model']['params_m']}M parameters, "
          f"{results['model']['dtype']}) on {where}; torch {env['torch']}, transformers {env['transformers']}; "
          f"{results['date']}")
    print(f"{corpus['docs']:,} documents, {corpus['real_tokens']:,} real tokens (mean {corpus['mean_tokens']}, "
          f"{corpus['share_at_cap']:.0%} at the {corpus['max_tokens']}-token cap); curate budget "
          f"{results['curate_batch_tokens']:,} padded tokens, {results['curate_shapes_per_window']} batch shapes "
          f"over the corpus, {results['curate_truncated']} truncated")
    print(f"{'method':8s} {'pass':5s} {'s':>8s} {'docs/s':>9s} {'real tok/s':>11s} {'padded/real':>11s} "
          f"{'forward':>8s} {'peak GiB':>8s}")
    for r in results["runs"]:
        pad = "-" if r["padded_per_real"] is None else f"{r['padded_per_real']:.2f}"
        peak = "n/a" if r["peak_gib"] is None else f"{r['peak_gib']:.2f}"
        print(f"{r['method']:8s} {r['pass']:5s} {r['seconds']:8.2f} {r['docs_per_s']:9.1f} "
              f"{r['real_tokens_per_s']:11,d} {pad:>11s} {r['forward_share']:8.0%} {peak:>8s}")
    print("ratios (docs/s): " + ", ".join(f"{k} {v:.2f}x" for k, v in results["ratios"].items()))
    print("score agreement with curate: " + ", ".join(
        f"{k} Spearman {v['spearman_mean_score']:.4f}, max |diff| {v['max_abs_diff']:.1e}"
        for k, v in results["agreement"].items()))
    for key in ("oom_check", "bf16_vs_cpu_fp32"):
        if key in results:
            print(f"{key}: {json.dumps(results[key])}")
    print(f"total {results['total_s']} s")


if __name__ == "__main__":
    main()
