"""A small multilingual corpus whose quality is learnable from content, for the annotator tests.

The documents come from the demo's generator (`curate.demo_corpus`): each mixes explanatory and spam
sentences of its language, and its true quality is the share of explanatory ones on a 0-5 scale. Here two
simulated judges add their own noise, as LLM judges do.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

from curate.demo_corpus import LANGS, make_docs, pools

EDU = pools()["edu"]
SPAM = pools()["spam"]
__all__ = ["EDU", "LANGS", "SPAM", "ZeroAnnotator", "judge_rows", "make_docs", "write_judged_corpus"]


def write_judged_corpus(folder: Path, n_per_lang: int, seed: int, planted: int) -> tuple[list[dict], Path, Path]:
    """(documents, corpus.jsonl, bench.jsonl) in ``folder``: each document carries a ``[score=N]`` marker that
    steers the stub judge (`tests.openai_stub`) to its true quality, and the one-item benchmark is the text of
    document ``planted``, so a contamination check finds exactly that document."""
    docs = make_docs(n_per_lang, seed=seed)
    corpus = folder / "corpus.jsonl"
    with corpus.open("w", encoding="utf-8") as f:
        for d in docs:
            text = f"{d['text']} [score={round(d['quality'])}]"
            f.write(json.dumps({"id": d["id"], "lang": d["lang"], "text": text}, ensure_ascii=False) + "\n")
    bench = folder / "bench.jsonl"
    bench.write_text(json.dumps({"id": "q0", "text": docs[planted]["text"]}, ensure_ascii=False) + "\n",
                     encoding="utf-8")
    return docs, corpus, bench


def judge_rows(docs: list[dict], seed: int) -> list[dict]:
    """Label rows in the `curate judge` schema from two noisy simulated judges (one failed call each)."""
    rng = random.Random(seed)
    rows = []
    for judge, noise in (("judge-a", 0.5), ("judge-b", 0.8)):
        for j, d in enumerate(docs):
            failed = j == 0
            score = None if failed else float(min(5, max(0, round(d["quality"] + rng.gauss(0, noise)))))
            rows.append({"doc_id": d["id"], "lang": d["lang"], "text": d["text"], "judge": judge,
                         "model": f"{judge}-model", "score": score, "raw": "" if failed else str(score),
                         "error": "timeout" if failed else None, "latency_s": 0.1, "prompt_tokens": 100,
                         "completion_tokens": 5, "rubric": "educational", "prompt_language": "en"})
    return rows


class ZeroAnnotator:
    """The smallest object annotate accepts: one head that scores 0."""

    config: dict = {"label_source": {"x": 1}}  # noqa: RUF012
    head_names = ["h"]  # noqa: RUF012

    def score_texts_with_info(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros((len(texts), 1), np.float32), np.zeros(len(texts), bool)

    def describe(self) -> dict:
        return {}
