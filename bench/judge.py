"""Benchmark: `curate judge` against a plain sequential loop, both talking to the same slow judge.

The judge is the loopback OpenAI-compatible stub (`tests/openai_stub.py`) in its own process, answering every
request after a fixed delay (200 ms by default, a realistic time for a short answer from a served LLM).
curate is run end to end through its CLI entry point (read the corpus, stratified sample, language ID for
documents without a language, prompts, requests, parquet) with an empty cache, then once more to show a
rerun costs no requests; the plain loop is what a
notebook does: one `httpx` request after the other with the same prompt, parsing the JSON answer.

The sequential loop is timed on a subset (its cost is linear); both are reported as documents per second.

    python bench/judge.py [--n 1280] [--sequential-n 50] [--latency 0.2] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import pyarrow.parquet as pq

from curate.cli import main as curate_main
from curate.judges.rubrics import load_rubric

ROOT = Path(__file__).resolve().parents[1]
TEXTS = {
    "en": "Photosynthesis turns light into chemical energy; plants store it as glucose. Document {i}.",
    "ko": "광합성은 빛 에너지를 화학 에너지로 바꾸는 과정입니다. 문서 {i}.",
    "ja": "光合成は光のエネルギーを化学エネルギーに変える働きです。文書 {i}。",
    "zh": "光合作用把光能转化为化学能，植物把它储存为葡萄糖。文档 {i}。",
    "es": "La fotosíntesis convierte la luz en energía química que la planta almacena. Documento {i}.",
}


def write_corpus(path: Path, n: int) -> None:
    langs = list(TEXTS)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            lang = langs[i % len(langs)]
            record = {"id": f"doc{i}", "text": TEXTS[lang].format(i=i)}
            if i % 2:  # half the corpus carries a language, the rest goes through language ID
                record["lang"] = lang
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def start_stub(latency: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "openai_stub.py"), "--latency", str(latency)],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http"):
        proc.kill()
        raise SystemExit("stub server did not start")
    return proc, url


def sequential(url: str, texts: list[str]) -> int:
    rubric = load_rubric("educational")
    scored = 0
    with httpx.Client(timeout=60) as client:
        for text in texts:
            body = {"model": "bench", "temperature": 0, "max_tokens": 512,
                    "messages": [{"role": "user", "content": rubric.prompt(text, "en")}]}
            answer = client.post(url + "/chat/completions", json=body).json()
            json.loads(answer["choices"][0]["message"]["content"])["score"]
            scored += 1
    return scored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1280, help="documents curate judges")
    parser.add_argument("--sequential-n", type=int, default=50, help="documents the sequential loop judges")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds the judge takes per answer")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    proc, url = start_stub(args.latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            corpus, out = Path(tmp) / "corpus.jsonl", Path(tmp) / "labels.parquet"
            write_corpus(corpus, args.n)
            texts = [json.loads(line)["text"] for line in corpus.read_text(encoding="utf-8").splitlines()]

            started = time.perf_counter()
            sequential(url, texts[: args.sequential_n])
            seq_s = time.perf_counter() - started

            def run_curate(api: str, *extra: str) -> float:
                started = time.perf_counter()
                try:
                    curate_main(["judge", "--input", str(corpus), "--sample", str(args.n), "--model", "bench",
                                 "--api-base", api, "--concurrency", str(args.concurrency), "--out", str(out),
                                 *extra])
                except SystemExit as exc:
                    if exc.code:
                        raise
                return time.perf_counter() - started

            cache = str(Path(tmp) / "cache")
            curate_s = run_curate(url, "--cache", cache)  # cold cache: every document is asked
            labels = pq.read_table(out)
            scored = labels.num_rows - labels.column("score").null_count
            # Warm cache, judge pointed at a closed port: it only succeeds if nothing is asked.
            rerun_s = run_curate("http://127.0.0.1:9/v1", "--cache", cache, "--max-retries", "0")
            rerun = pq.read_table(out)
            assert rerun.column("score").to_pylist() == labels.column("score").to_pylist()
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    seq_rate = args.sequential_n / seq_s
    curate_rate = scored / curate_s
    ideal = args.concurrency / args.latency
    print(f"judge latency {args.latency * 1000:.0f} ms, concurrency {args.concurrency}")
    print(f"sequential loop: {args.sequential_n} docs in {seq_s:.2f}s = {seq_rate:.1f} docs/s")
    print(f"curate judge:    {scored}/{args.n} docs in {curate_s:.2f}s = {curate_rate:.1f} docs/s "
          f"(ceiling {ideal:.0f} docs/s)")
    print(f"speed-up: {curate_rate / seq_rate:.1f}x (target >= 20x)")
    print(f"rerun from the cache: {rerun_s:.2f}s, no requests")


if __name__ == "__main__":
    main()
