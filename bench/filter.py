"""Benchmark: `curate filter` throughput and peak memory on a synthetic multilingual corpus.

Generates N documents (en/ko/ja/zh, 0.2 to 4 KB each) in JSONL files plus a scores parquet with two heads,
then times, each in a fresh process so peak memory is per run:

- local, languages given by the scores file (no language id);
- local, no languages anywhere (fastText language id on every document);
- ray, same as the first, on a local Ray (``--ray`` to include it; it pays Ray's start-up).

    python bench/filter.py [--docs 200000] [--files 8] [--ray]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

WORDS = {lang: words.split() for lang, words in {
    "en": "the of and to in is that for it as with was on be by this are from at or an which have not",
    "ko": "그리고 하지만 학교 도서관 공부 시간 사람 문제 생각 오늘 내일 우리 이것 저것 많이 조금 아주",
    "ja": "これ それ 学校 図書館 勉強 時間 人 問題 考え 今日 明日 私たち とても 少し です ます",
    "zh": "这个 那个 学校 图书馆 学习 时间 人们 问题 想法 今天 明天 我们 非常 一点 是 的",
}.items()}


def build(folder: Path, n: int, files: int) -> tuple[Path, Path]:
    rng = random.Random(0)
    corpus = folder / "corpus"
    corpus.mkdir()
    handles = [(corpus / f"part-{k:03d}.jsonl").open("w", encoding="utf-8") for k in range(files)]
    ids, langs = [], []
    for i in range(n):
        lang = ("en", "ko", "ja", "zh")[i % 4]
        sep = " " if lang in ("en", "ko") else ""
        text = sep.join(rng.choices(WORDS[lang], k=rng.randint(40, 800)))
        handles[i % files].write(json.dumps({"id": f"d{i}", "text": text}, ensure_ascii=False) + "\n")
        ids.append(f"d{i}")
        langs.append(lang)
    for h in handles:
        h.close()
    g = np.random.default_rng(1)
    a = g.random(n).astype(np.float32)
    b = (3 * a + g.normal(0, 0.3, n)).astype(np.float32)
    table = pa.table({"doc_id": ids, "lang": langs, "n_chars": pa.array([0] * n, pa.int32()),
                      "truncated": [False] * n, "score_a": a, "score_b": b, "score": (a + b) / 2})
    pq.write_table(table, folder / "scores.parquet")
    table = table.set_column(1, "lang", pa.nulls(n, pa.string()))
    pq.write_table(table, folder / "scores-nolang.parquet")
    return corpus, folder / "scores.parquet"


def run(args: tuple[str, str, str, str], queue: mp.Queue) -> None:
    import logging

    logging.getLogger("curate").setLevel(logging.ERROR)
    corpus, scores, out, engine_name = args
    from curate.filtering.pipeline import FilterOptions, LocalEngine, run_filter
    from curate.filtering.rules import Rule

    engine = LocalEngine()
    if engine_name == "ray":
        from curate.filtering.ray_engine import RayEngine, ray_session

        session = ray_session()
        session.__enter__()
        engine = RayEngine()
    start = time.perf_counter()
    result = run_filter(FilterOptions([corpus], [Path(scores)], Path(out),
                                      Rule(keep_top=0.3, per_language=True, all_heads=True), shard_size_mb=64),
                        engine, on_message=lambda m: None)
    elapsed = time.perf_counter() - start
    if engine_name == "ray":
        session.__exit__(None, None, None)
    queue.put({"seconds": elapsed, "kept": result.n_kept, "docs": result.manifest["counts"]["unique"],
               "shards": len(result.manifest["shards"]),
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--ray", action="store_true")
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        corpus, scores = build(folder, args.docs, args.files)
        size = sum(p.stat().st_size for p in corpus.iterdir()) / 1e6
        print(f"corpus: {args.docs:,} docs, {size:,.0f} MB in {args.files} files (built in {time.perf_counter() - t0:.1f}s)")
        runs = [("local, langs in scores", str(scores), "local"),
                ("local, language id on all", str(folder / "scores-nolang.parquet"), "local")]
        if args.ray:
            runs += [("ray (local Ray), langs in scores", str(scores), "ray"),
                     ("ray (local Ray), language id on all", str(folder / "scores-nolang.parquet"), "ray")]
        for i, (name, score_file, engine) in enumerate(runs):
            queue = ctx.Queue()
            proc = ctx.Process(target=run, args=((str(corpus), score_file, str(folder / f"out{i}"), engine), queue))
            proc.start()
            r = queue.get()
            proc.join()
            print(f"{name:36s} {r['seconds']:7.1f}s  {r['docs'] / r['seconds']:9,.0f} docs/s  "
                  f"{size / r['seconds']:6.1f} MB/s  kept {r['kept']:,} in {r['shards']} shards  "
                  f"peak RSS {r['peak_rss_mb']:,.0f} MB")


if __name__ == "__main__":
    main()
