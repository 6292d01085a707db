"""The demo's corpus and benchmark: small, seeded, multilingual, with a quality a model can learn.

Each document mixes sentences of its language from two pools (``data/demo/sentences.json``): explanatory
(educational) sentences and spam or boilerplate. Its true quality is the share of explanatory sentences on
the judges' 0-5 scale, so a judge, the heads trained on its labels and the filter can all be checked against
it. A tiny benchmark (questions that appear in no pool) goes beside the corpus, and a few of its items are
planted in corpus documents, so the contamination check has something real to find and the filter something
to drop. The annotator tests use the same generator.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from curate import config
from curate.files import claim_output_dir

LANGS = ("en", "ko", "ja", "zh")
PLANTED_PER_LANG = 2


@cache
def pools() -> dict[str, dict[str, list[str]]]:
    """The sentence pools: ``edu``, ``spam`` and ``benchmark``, each by language."""
    data = json.loads((config.data_dir() / "demo" / "sentences.json").read_text(encoding="utf-8"))
    return {key: data[key] for key in ("edu", "spam", "benchmark")}


def joiner(lang: str) -> str:
    """Chinese and Japanese run sentences together; English and Korean put a space between them."""
    return " " if lang in ("en", "ko") else ""


def make_docs(n_per_lang: int, seed: int, prefix: str = "d") -> list[dict[str, Any]]:
    """Documents with ``id``, ``lang``, ``text`` and their true ``quality`` in [0, 5] (4 sentences each)."""
    edu, spam = pools()["edu"], pools()["spam"]
    rng = random.Random(seed)
    docs = []
    for lang in LANGS:
        for i in range(n_per_lang):
            k = rng.randint(0, 4)
            sentences = rng.sample(edu[lang], k) + rng.sample(spam[lang], 4 - k)
            rng.shuffle(sentences)
            docs.append({"id": f"{prefix}-{lang}-{i}", "lang": lang, "text": joiner(lang).join(sentences),
                         "quality": 5.0 * k / 4})
    return docs


@dataclass
class DemoInputs:
    """Where the demo's inputs were written, and which documents hold a benchmark item."""

    corpus: Path
    benchmark: Path
    n_docs: int
    planted: dict[str, str] = field(default_factory=dict)  # benchmark item id -> document id


def claim_demo_folder(out: Path) -> Path:
    """The demo's ``--out`` folder, created and marked as curate's; a folder curate did not write is refused
    before the demo starts (`curate.files.check_output_dir`): the demo writes a store, inputs and outputs there."""
    return claim_output_dir(out, "demo")


def write_demo_inputs(out: Path, n_per_lang: int = 500, seed: int = 0) -> DemoInputs:
    """Write ``out/corpus/<lang>.jsonl`` and ``out/benchmark.jsonl``; plant a few benchmark items in documents."""
    docs = make_docs(n_per_lang, seed, prefix="demo")
    rng = random.Random(seed + 1)
    items = [{"id": f"q-{lang}-{i}", "lang": lang, "text": text}
             for lang in LANGS for i, text in enumerate(pools()["benchmark"][lang])]
    planted: dict[str, str] = {}
    for lang in LANGS:
        own = [d for d in docs if d["lang"] == lang]
        for item, doc in zip(rng.sample([q for q in items if q["lang"] == lang], PLANTED_PER_LANG),
                             rng.sample(own, PLANTED_PER_LANG), strict=True):
            doc["text"] = joiner(lang).join([doc["text"], item["text"]])
            planted[item["id"]] = doc["id"]
    corpus = out / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for lang in LANGS:
        lines = [json.dumps({"id": d["id"], "lang": d["lang"], "text": d["text"]}, ensure_ascii=False)
                 for d in docs if d["lang"] == lang]
        (corpus / f"{lang}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    benchmark = out / "benchmark.jsonl"
    benchmark.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in items), encoding="utf-8")
    return DemoInputs(corpus, benchmark, len(docs), planted)
