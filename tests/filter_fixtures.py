"""Small multilingual corpora and scores files for the filter and Ray tests (deterministic, offline)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SENTENCES = {
    "en": ["The library opens at nine and closes late on Fridays.",
           "Photosynthesis turns light, water and carbon dioxide into sugar.",
           "She explained the proof step by step so everyone could follow it.",
           "Rivers carry sediment from the mountains down to the sea."],
    "ko": ["도서관은 아홉 시에 문을 열고 금요일에는 늦게 닫습니다.",
           "광합성은 빛과 물과 이산화탄소를 당으로 바꿉니다.",
           "그녀는 모두가 따라올 수 있도록 증명을 차근차근 설명했습니다.",
           "강은 산에서 바다까지 퇴적물을 운반합니다."],
    "ja": ["図書館は九時に開き、金曜日は遅くまで開いています。",
           "光合成は光と水と二酸化炭素から糖を作ります。",
           "彼女は誰もが理解できるように証明を一歩ずつ説明しました。",
           "川は山から海へ土砂を運びます。"],
    "zh": ["图书馆九点开门，星期五很晚才关门。",
           "光合作用把光、水和二氧化碳变成糖。",
           "她一步一步地解释了证明，让每个人都能听懂。",
           "河流把泥沙从山上带到大海。"],
}
LANGS = list(SENTENCES)


def make_docs(per_lang: int, seed: int = 0, max_sentences: int = 12) -> list[dict]:
    rng = random.Random(seed)
    docs = []
    for lang in LANGS:
        for i in range(per_lang):
            n = rng.randint(2, max_sentences)
            docs.append({"id": f"{lang}-{i}", "text": " ".join(rng.choice(SENTENCES[lang]) for _ in range(n)),
                         "true_lang": lang})
    rng.shuffle(docs)
    return docs


def make_corpus(folder: Path, per_lang: int = 50, files: int = 2, with_lang: bool = False, seed: int = 0) -> Path:
    """JSONL files (docs spread round-robin); records carry ``lang`` only with ``with_lang``."""
    folder.mkdir(parents=True, exist_ok=True)
    docs = make_docs(per_lang, seed)
    for k in range(files):
        with (folder / f"part-{k}.jsonl").open("w", encoding="utf-8") as fh:
            for d in docs[k::files]:
                rec = {"id": d["id"], "text": d["text"]}
                if with_lang:
                    rec["lang"] = d["true_lang"]
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return folder


def make_scores(path: Path, corpus: Path | None = None, null_lang_share: float = 0.0, seed: int = 1,
                ids: list[str] | None = None) -> Path:
    """A scores parquet in the annotate contract for every ``lang-i`` id of the corpus (or ``ids``).

    Head ``a`` is uniform with an offset for English (so a global cut favours English); head ``b`` is ``a``
    plus noise on another scale, so the heads agree on ranking only roughly, as real heads do.
    """
    if ids is None:
        assert corpus is not None
        ids = []
        for file in sorted(corpus.glob("*.jsonl")):
            ids += [json.loads(line)["id"] for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = np.random.default_rng(seed)
    langs = [i.split("-")[0] for i in ids]
    a = rng.random(len(ids)) + np.array([0.5 if lang == "en" else 0.0 for lang in langs])
    b = 3.0 * a + rng.normal(0, 0.4, len(ids))
    lang_col = [None if rng.random() < null_lang_share else lang for lang in langs]
    table = pa.table({
        "doc_id": pa.array(ids, pa.string()),
        "lang": pa.array(lang_col, pa.string()),
        "n_chars": pa.array([100] * len(ids), pa.int32()),
        "truncated": pa.array([False] * len(ids), pa.bool_()),
        "score_a": pa.array(a, pa.float32()),
        "score_b": pa.array(b, pa.float32()),
        "score": pa.array(((a.astype(np.float32) + b.astype(np.float32)) / 2).astype(np.float32), pa.float32()),
    })
    pq.write_table(table, path)
    return path
