"""A demo-sized store with something in every view of the dashboard, built in seconds without a model.

- two snapshots of the bundled Hub sample, taken through the loopback Hub: the second from a copy where some
  datasets left, some arrived, some changed license and downloads moved (the Changes view);
- a contamination run of the demo benchmark against the demo corpus (items planted in documents), with its
  sources recorded, so the item and the document can be shown side by side;
- a labels file from three judges whose scores follow the corpus's true quality with different noise, recorded
  as a `curate judge` run;
- a scores file (two heads and their mean) in the `curate annotate` contract, recorded as an annotate run over
  the demo corpus, so the filter view can read sample texts and `curate filter` can run on the same files.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from curate import config
from curate.demo_corpus import DemoInputs, make_docs, write_demo_inputs

JUDGES = ("alpha", "beta", "gamma")


@dataclass
class DashboardStore:
    db: Path
    inputs: DemoInputs
    labels: Path
    scores: Path


def changed_sample(out: Path, seed: int = 3) -> Path:
    """A copy of the bundled Hub sample a month later: 5% gone, a few new, licenses changed, downloads moved."""
    source = config.data_dir() / "hub-sample"
    shutil.copytree(source, out)
    rng = random.Random(seed)
    rows = [json.loads(line) for line in (source / "datasets.jsonl").read_text(encoding="utf-8").splitlines() if line]
    kept = []
    for rec in rows:
        if rng.random() < 0.05:
            continue
        rec["downloads"] = int(rec["downloads"] * rng.choice([0.5, 1, 1, 1.5, 3]))
        if rng.random() < 0.05:
            rec["tags"] = [t for t in rec["tags"] if not t.startswith("license:")] + ["license:cc-by-nc-4.0"]
        kept.append(rec)
    for i, rec in enumerate(rng.sample(rows, 8)):
        new = dict(rec, id=f"newcomer/{rec['id'].split('/')[1]}-v2-{i}", author="newcomer", downloads=500 + i)
        kept.append(new)
        card = source / "cards" / rec["id"] / "README.md"
        if card.is_file():
            target = out / "cards" / new["id"] / "README.md"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(card, target)
    (out / "datasets.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept),
                                        encoding="utf-8")
    return out


def build(root: Path, n_per_lang: int = 60, seed: int = 0) -> DashboardStore:
    """The demo-sized store of the module docstring, under ``root``."""
    from collectors.hub_server import serve
    from collectors.snapshot import SnapshotOptions, take_snapshot
    from curate.store import Store

    root.mkdir(parents=True, exist_ok=True)
    db = root / "curate.duckdb"
    for sample in (config.data_dir() / "hub-sample", changed_sample(root / "hub-later")):
        with serve(sample) as server, Store(db) as store:
            take_snapshot(store, SnapshotOptions(langs=["ko", "ja", "zh", "en"], top=700, endpoint=server.url,
                                                 rate=None), token="")
    return add_pipeline(db, root, n_per_lang, seed)


def add_pipeline(db: Path, root: Path, n_per_lang: int = 60, seed: int = 0, n_scores: int | None = None
                 ) -> DashboardStore:
    """A contamination run, a judge run and an annotate run (see the module) in the store ``db``. With
    ``n_scores`` the scores file holds that many documents (a large corpus's scores; only the demo corpus's
    first ones have texts)."""
    from analyses.contamination import Source, persist, run_check
    from curate.runs import record
    from curate.store import Store

    inputs = write_demo_inputs(root / "inputs", n_per_lang=n_per_lang, seed=seed)
    result = run_check([Source.parse(f"demo-bench={inputs.benchmark}")], [Source.parse(str(inputs.corpus))])
    with Store(db) as store:
        persist.save(store, result)

    docs = make_docs(n_per_lang, seed, prefix="demo")  # the same documents write_demo_inputs wrote
    rng = random.Random(seed + 7)
    labels = []
    for doc in docs[::3]:  # a judged sample, as `curate judge --sample` takes
        for judge, noise in zip(JUDGES, (0.3, 0.8, 1.6), strict=True):
            score = min(5.0, max(0.0, round(doc["quality"] + rng.gauss(0, noise))))
            labels.append({"doc_id": doc["id"], "lang": doc["lang"], "text": doc["text"], "judge": judge,
                           "model": f"stand-in-{judge}", "score": score, "raw": json.dumps({"score": score})})
    labels_path = root / "labels.parquet"
    pl.DataFrame(labels).write_parquet(labels_path)
    record(db, "judge", [str(inputs.corpus)], labels_path, {"judges": {j: f"stand-in-{j}" for j in JUDGES}},
           n_docs=len(labels) // len(JUDGES), seconds=1.0)

    extra = max(0, (n_scores or 0) - len(docs))
    ids = [d["id"] for d in docs] + [f"bulk-{i}" for i in range(extra)]
    langs = [d["lang"] for d in docs] + [("en", "ko", "ja", "zh")[i % 4] for i in range(extra)]
    quality = [d["quality"] for d in docs] + [5.0 * rng.random() for _ in range(extra)]
    heads = {"edu": 0.4, "style": 0.9}
    frame = pl.DataFrame({
        "doc_id": ids, "lang": langs, "n_chars": [400] * len(ids), "truncated": [False] * len(ids),
        **{f"score_{h}": [q + rng.gauss(0, s) for q in quality] for h, s in heads.items()},
    }).with_columns(pl.col("^score_.*$").cast(pl.Float32))
    frame = frame.with_columns(pl.mean_horizontal([f"score_{h}" for h in heads]).cast(pl.Float32).alias("score"))
    scores_path = root / "scores.parquet"
    frame.write_parquet(scores_path)
    record(db, "annotate", [str(inputs.corpus)], scores_path, {"annotator": "stand-in", "heads": list(heads)},
           n_docs=frame.height, seconds=1.0)
    return DashboardStore(db, inputs, labels_path, scores_path)
