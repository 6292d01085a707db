"""Generate a synthetic Hub mirror: realistic spread of metadata and cards, no real dataset copied.

The bundled offline sample (``data/hub-sample``) is made by this module, and benchmarks and tests use it to
build mirrors of any size. Everything is seeded, so a mirror is reproducible byte for byte.

The spread follows what Hub audits report for the top datasets of a language: heavy-tailed downloads, many
small datasets, a long tail of licenses with a large unknown share, individuals next to institutes and
companies, cards from complete template fills down to a title line. Edge cases a collector must survive are
planted on purpose: malformed YAML, non-UTF-8 bytes, gated and disabled repos, missing cards, old
``languages``/``licenses`` keys, ``other`` licenses with a ``license_name``, uppercase license ids and
multi-config cards.

    python -m collectors.synthetic_hub OUT_DIR [--n-per-lang 120] [--seed 0] [--lang ko --lang ja ...]
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

LANGS = ("ko", "ja", "zh", "en")
# libyaml's emitter writes the same YAML as PyYAML's (the bundled sample is byte-identical) about 5x faster, which
# matters for dumps of hundreds of thousands of cards.
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
LEGACY_CREATED_AT = "2022-03-02T23:29:04.000Z"

# (license id as authors write it, weight). Unknown/missing dominate, as audits find.
LICENSES: list[tuple[str | None, float]] = [
    (None, 30), ("mit", 12), ("apache-2.0", 12), ("cc-by-4.0", 9), ("cc-by-sa-4.0", 6), ("cc-by-nc-4.0", 6),
    ("cc-by-nc-sa-4.0", 5), ("cc-by-nc-nd-4.0", 2), ("cc0-1.0", 3), ("odc-by", 2), ("gpl-3.0", 1),
    ("openrail", 1), ("llama2", 1), ("other", 4), ("unknown", 4), ("MIT", 1), ("bsd-3-clause", 1),
]
SIZES = [("n<1K", 18), ("1K<n<10K", 28), ("10K<n<100K", 24), ("100K<n<1M", 15), ("1M<n<10M", 7),
         ("10M<n<100M", 3), ("100M<n<1B", 1.5), ("1B<n<10B", 0.5), (None, 10)]
TASKS = [("text-generation", 20), ("question-answering", 12), ("text-classification", 14),
         ("translation", 6), ("summarization", 4), ("token-classification", 5), ("fill-mask", 2),
         ("multiple-choice", 3), ("automatic-speech-recognition", 5), ("image-to-text", 3),
         ("text-retrieval", 4), ("sentence-similarity", 3), ("feature-extraction", 2), ("text-to-image", 1),
         ("visual-question-answering", 2), ("video-classification", 1)]
DOMAINS = {
    "medical": {"en": "clinical notes and medical exam questions", "ko": "의료 상담과 의학 시험 문제",
                "ja": "医療相談と医学試験の問題", "zh": "医疗问诊和医学考试题"},
    "legal": {"en": "court rulings and legal statutes", "ko": "법률 판례와 법령 조문", "ja": "法律の判例と条文",
              "zh": "法律判决书和法规条文"},
    "finance": {"en": "financial news and earnings reports", "ko": "금융 뉴스와 기업 공시", "ja": "金融ニュースと決算報告",
                "zh": "金融新闻和财报"},
    "entertainment": {"en": "anime and game dialogue", "ko": "애니메이션과 게임 대사", "ja": "アニメとゲームの台詞",
                      "zh": "动漫和游戏对白"},
    "moderation": {"en": "hate speech and toxicity labels", "ko": "혐오 표현과 악성 댓글 라벨",
                   "ja": "ヘイトスピーチと有害コメントのラベル", "zh": "仇恨言论和有害内容标注"},
    "education": {"en": "school textbooks and exam problems", "ko": "교과서와 교육 자료", "ja": "教科書と教育用教材",
                  "zh": "教材和教育练习题"},
    "code": {"en": "source code and programming problems", "ko": "소스 코드와 프로그래밍 문제",
             "ja": "ソースコードとプログラミング問題", "zh": "源代码和编程题"},
    "math": {"en": "math word problems with solutions", "ko": "수학 문장제와 풀이", "ja": "数学の文章題と解答",
             "zh": "数学应用题及解答"},
    "general": {"en": "web text and news articles", "ko": "웹 문서와 뉴스 기사", "ja": "ウェブ文書とニュース記事",
                "zh": "网页文本和新闻文章"},
}
SUMMARY = {
    "en": "This dataset collects {topic} for research on language models.",
    "ko": "이 데이터셋은 언어 모델 연구를 위해 {topic}를 모은 것입니다.",
    "ja": "このデータセットは言語モデルの研究のために{topic}を集めたものです。",
    "zh": "本数据集收集了{topic}，用于语言模型研究。",
}
FILLER = {
    "en": "Texts were deduplicated and filtered before release.",
    "ko": "공개 전에 중복을 제거하고 품질을 점검했습니다.",
    "ja": "公開前に重複を除去し、品質を確認しました。",
    "zh": "发布前已去重并进行了质量检查。",
}
INSTRUCT_NAMES = ["instruct", "alpaca", "sft", "chat", "dolly", "orca"]
NAME_PARTS = ["corpus", "bench", "qa", "dialogue", "news", "reviews", "wiki", "eval", "pairs", "speech", "captions"]

# Authors: (name, kind, fullname). Institutes and companies carry name cues or sit in the registry.
AUTHORS: dict[str, list[tuple[str, str, str]]] = {
    "ko": [("hanul-nlp", "org", "Hanul University NLP Lab"), ("mirae-ai", "org", "Mirae AI Inc."),
           ("kdata-institute", "org", "한국데이터연구원"), ("seoyeon", "user", "Seo Yeon"),
           ("jihoon-k", "user", "Jihoon Kim"), ("ko-open-community", "org", "Korean Open Data Community"),
           ("baram-tech", "org", "바람테크 주식회사"), ("minsu99", "user", "minsu")],
    "ja": [("tohoku-fict-univ", "org", "架空大学 自然言語処理研究室"), ("sakura-ai", "org", "株式会社サクラAI"),
           ("nlp-institute-jp", "org", "Japan Language Research Institute"), ("haruto", "user", "Haruto"),
           ("yui-data", "user", "Yui"), ("jp-llm-community", "org", "Japanese LLM Community")],
    "zh": [("huaxia-univ-nlp", "org", "华夏大学自然语言处理实验室"), ("longmen-tech", "org", "Longmen Technology Co., Ltd."),
           ("zh-ai-research", "org", "中文人工智能研究所"), ("xiaoming", "user", "Xiao Ming"),
           ("lin-wei", "user", "Lin Wei"), ("open-zh-data", "org", "Open Chinese Data")],
    "en": [("northfield-university", "org", "Northfield University"), ("acme-ai", "org", "Acme AI Corp"),
           ("lang-research-institute", "org", "Language Research Institute"), ("alice-data", "user", "Alice"),
           ("bob-nlp", "user", "Bob"), ("open-data-collective", "org", "Open Data Collective"),
           ("dataworks", "org", "DataWorks Inc")],
}


def _pick(rng: random.Random, table: Sequence[tuple[Any, float]]) -> Any:
    values, weights = zip(*table, strict=True)
    return rng.choices(values, weights=weights)[0]


def _section(rng: random.Random, body: str, quality: float) -> str:
    """Real content with probability ``quality``, else the template placeholder."""
    return body if rng.random() < quality else "[More Information Needed]"


def _card_body(rng: random.Random, rid: str, lang: str, domain: str, template: str, quality: float,
               arxiv: str | None) -> str:
    topic = DOMAINS[domain][lang]
    summary = SUMMARY[lang].format(topic=topic)
    extra = " ".join(FILLER[lang] for _ in range(rng.randint(0, 6)))
    cite = f"\n\nSee the paper: https://arxiv.org/abs/{arxiv}" if arxiv else ""
    fields = "Each example has the fields `id` and `text`."
    if template == "old":
        return "\n".join([
            f"# Dataset Card for {rid}", "", "## Dataset Description", "", "### Dataset Summary", "",
            summary + " " + extra, "", "## Dataset Structure", "", _section(rng, fields, quality), "",
            "## Dataset Creation", "", _section(rng, "Collected from public sources and cleaned.", quality), "",
            "## Considerations for Using the Data", "", _section(rng, "May contain biased text.", quality), "",
            "## Additional Information", "", _section(rng, "Released by the authors." + cite, quality), ""])
    if template == "new":
        return "\n".join([
            f"# Dataset Card for {rid}", "", "## Dataset Details", "", summary + " " + extra, "", "## Uses", "",
            _section(rng, "Intended for training and evaluation.", quality), "", "## Dataset Structure", "",
            _section(rng, fields, quality), "", "## Dataset Creation", "",
            _section(rng, "Curated by the authors from public text.", quality), "", "## Citation", "",
            _section(rng, "Please cite the dataset page." + cite, quality), ""])
    if template == "cjk-only":
        return f"# {rid}\n\n{summary}{extra}\n"
    return f"# {rid}\n\n{summary}{cite}\n"


def _record(rng: random.Random, idx: int, lang: str, tag_lang: str | None = None) -> tuple[dict[str, Any], bytes | None]:
    """One dataset written in ``lang``; ``tag_lang`` (when given) is the language it is tagged with instead
    (``""``: no language tag at all, as most Hub datasets have), so dumps can spread over many languages."""
    author, kind, _ = rng.choice(AUTHORS[lang])
    domain = rng.choice(list(DOMAINS)) if rng.random() < 0.55 else "general"
    instruct = rng.random() < 0.15
    base = rng.choice(INSTRUCT_NAMES) if instruct else rng.choice(NAME_PARTS)
    rid = f"{author}/{lang}-{domain}-{base}-{idx:04d}"
    langs = [lang]
    r = rng.random()
    if r < 0.2 and lang != "en":
        langs.append("en")
    elif r < 0.3:
        langs.extend(rng.sample([x for x in ("en", "ko", "ja", "zh", "fr", "de", "es", "vi") if x != lang],
                                rng.randint(2, 5)))
    if tag_lang is not None:
        langs = [tag_lang, *(x for x in langs[1:] if x != tag_lang)] if tag_lang else []
    license_id = _pick(rng, LICENSES)
    size = _pick(rng, SIZES)
    tasks = sorted({_pick(rng, TASKS) for _ in range(rng.randint(1, 2))})
    if instruct:
        tasks = sorted(set(tasks) | {"text-generation"})
    arxiv = f"23{rng.randint(1, 12):02d}.{rng.randint(10000, 99999)}" if rng.random() < 0.3 else None
    downloads = int(rng.paretovariate(0.8) * 20) + rng.randint(0, 5)
    if rng.random() < 0.08:
        created = LEGACY_CREATED_AT
    else:
        created = f"{rng.randint(2022, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T10:00:00.000Z"
    tags = [f"language:{x}" for x in langs] + [f"task_categories:{t}" for t in tasks]
    card_data: dict[str, Any] = {"language": langs, "task_categories": tasks} if langs else {"task_categories": tasks}
    if license_id:
        tags.append(f"license:{license_id.lower()}")
        card_data["license"] = license_id if rng.random() < 0.8 else [license_id]
        if license_id == "other":
            card_data["license_name"] = rng.choice(["research-only", "custom-terms", "ai-hub-terms"])
    if size:
        tags.append(f"size_categories:{size}")
        card_data["size_categories"] = [size]
    if arxiv:
        tags.append(f"arxiv:{arxiv}")
    if rng.random() < 0.1 and "language" in card_data:  # older cards use the plural keys
        card_data = {"languages": card_data.pop("language"), **card_data}
        if "license" in card_data:
            card_data["licenses"] = [card_data.pop("license")] if isinstance(card_data.get("license"), str) \
                else card_data.pop("license")
    if rng.random() < 0.1:
        card_data["configs"] = [{"config_name": c, "data_files": f"{c}/*.parquet"} for c in ("default", "extra")]
    template = rng.choices(["old", "new", "cjk-only", "minimal"], weights=[30, 30, 15 if lang != "en" else 0, 25])[0]
    quality = rng.choice([0.2, 0.6, 0.95])
    body = _card_body(rng, rid, lang, domain, template, quality, arxiv)
    gated: Any = rng.choices([False, "auto", "manual"], weights=[92, 5, 3])[0]
    rec = {
        "id": rid, "author": author, "sha": f"{rng.getrandbits(160):040x}", "downloads": downloads,
        "downloadsAllTime": downloads * rng.randint(2, 40), "likes": int(downloads ** 0.5 * rng.random()),
        "tags": tags, "cardData": card_data, "createdAt": created,
        "lastModified": created if created != LEGACY_CREATED_AT else "2024-06-01T00:00:00.000Z",
        "gated": gated, "private": False, "disabled": False, "description": SUMMARY[lang].format(
            topic=DOMAINS[domain][lang]),
    }
    header = yaml.dump(card_data, Dumper=_DUMPER, allow_unicode=True, sort_keys=False)
    card: bytes | None = f"---\n{header}---\n\n{body}".encode()
    if kind == "user" and rng.random() < 0.1:
        card = None  # individuals often publish without a card
    return rec, card


def _edge_cases(lang: str) -> list[tuple[dict[str, Any], bytes | None]]:
    """One of each failure a collector meets, per language, ranked mid-list."""
    def rec(name: str, **over: Any) -> dict[str, Any]:
        base = {"id": f"edge-cases/{lang}-{name}", "author": "edge-cases", "sha": "e" * 40, "downloads": 50,
                "downloadsAllTime": 500, "likes": 1, "tags": [f"language:{lang}"], "cardData": {"language": [lang]},
                "createdAt": "2024-03-03T00:00:00.000Z", "lastModified": "2024-03-03T00:00:00.000Z",
                "gated": False, "private": False, "disabled": False}
        base.update(over)
        return base
    return [
        (rec("bad-yaml"), b"---\nlicense: [mit\nlanguage: : -\n---\n# Broken header\n"),
        # The Hub tags and parses what the header says, whatever the bytes of the body.
        (rec("latin1-card", tags=[f"language:{lang}", "license:mit"], cardData={"language": [lang], "license": "mit"}),
         "---\nlicense: mit\n---\n# Caf\u00e9 na\u00efve\n".encode("latin-1")),
        (rec("gated-manual", gated="manual"), b"---\nlicense: other\n---\n# Gated\n"),
        (rec("missing-card"), None),
        (rec("disabled", disabled=True), b"# Disabled\n"),
    ]


def iter_records(n_per_lang: int = 120, langs: Sequence[str] = LANGS, seed: int = 0,
                 edge_cases: bool = True) -> Iterator[tuple[dict[str, Any], bytes | None]]:
    """Yield ``(Hub record, card bytes or None)``; ``n_per_lang`` primary datasets per language."""
    rng = random.Random(seed)
    for lang in langs:
        for i in range(n_per_lang):
            yield _record(rng, i, lang)
        if edge_cases:
            yield from _edge_cases(lang)


def write_sample(out: str | Path, n_per_lang: int = 120, seed: int = 0, langs: Sequence[str] = LANGS,
                 edge_cases: bool = True) -> Path:
    """Write a mirror that ``collectors.hub_server`` serves: datasets.jsonl, cards/, authors.jsonl."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    authors = {name: {"name": name, "type": kind, "fullname": full}
               for group in AUTHORS.values() for name, kind, full in group}
    authors["edge-cases"] = {"name": "edge-cases", "type": "org", "fullname": "Edge Cases"}
    with (out / "datasets.jsonl").open("w", encoding="utf-8") as fh:
        for rec, card in iter_records(n_per_lang, langs, seed, edge_cases):
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            if card is not None:
                path = out / "cards" / rec["id"] / "README.md"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(card)
    with (out / "authors.jsonl").open("w", encoding="utf-8") as fh:
        for a in sorted(authors.values(), key=lambda a: a["name"]):
            fh.write(json.dumps(a, ensure_ascii=False) + "\n")
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a synthetic Hub mirror (see module docstring).")
    parser.add_argument("out", type=Path)
    parser.add_argument("--n-per-lang", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lang", action="append", dest="langs")
    args = parser.parse_args(argv)
    write_sample(args.out, args.n_per_lang, args.seed, tuple(args.langs or LANGS))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
