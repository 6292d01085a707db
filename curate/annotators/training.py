"""``curate train-annotator``: judge labels in, a self-describing annotator folder out.

Labels come from ``curate judge`` (doc_id, lang, text, judge, score, ...) or any parquet/JSONL/CSV with
``text`` and ``score`` columns, optionally ``judge``, ``lang`` and ``doc_id``. Rows with a null score (a
failed judge call) or an empty text are dropped and counted. Each distinct document is embedded once; a
judge's repeated scores for one document are averaged.

Documents are split once, seeded and stratified by language, into train / validation / test (70/15/15).
Heads train on train, early-stop on validation, and the metrics saved in config.json are measured on the
test part, which no head saw: per head and for ``score`` (the mean of the heads against the mean of the
judges), over all documents and per language.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from curate.annotators.heads import (
    FORMAT,
    VERSION,
    TrainSettings,
    check_annotator_target,
    column_name,
    metrics_by_language,
    predict,
    save_annotator,
    split_indices,
    train_head,
)
from curate.errors import CurateError
from curate.files import refuse_output_over_input
from curate.labels import read_labels_frame

log = logging.getLogger(__name__)

ENSEMBLE = "ensemble"
DEFAULT_HEAD = "label"


@dataclass
class LabelSet:
    """Distinct documents and, per head, a target per document (NaN where that judge gave none)."""

    doc_ids: list[str]
    texts: list[str]
    langs: list[str | None]
    targets: dict[str, np.ndarray]
    judges: list[str]
    source: dict[str, Any]


def read_labels(path: Path, text_field: str = "text", score_field: str = "score") -> LabelSet:
    """Read a labels file into distinct documents and per-judge targets (plus an ensemble target)."""
    import polars as pl

    path = Path(path)
    if not path.is_file():
        raise CurateError(f"{path}: no such labels file")
    df = read_labels_frame(path, required=(text_field, score_field), text_field=text_field,
                           score_field=score_field)
    n_rows = df.height
    df = df.with_columns(pl.col("text").alias("_text"), pl.col("score").alias("_score"),
                         pl.col("judge").fill_null(DEFAULT_HEAD).alias("_judge"), pl.col("lang").alias("_lang"),
                         pl.col("doc_id").alias("_id"))
    usable = df.filter(pl.col("_score").is_not_null() & pl.col("_score").is_finite()
                       & pl.col("_text").is_not_null() & (pl.col("_text").str.strip_chars() != ""))
    dropped = n_rows - usable.height
    if dropped:
        log.info("%s: %d of %d label rows dropped (null score or empty text)", path, dropped, n_rows)
    if usable.height == 0:
        raise CurateError(f"{path}: no usable labels (every row has a null score or an empty text)")
    docs = usable.group_by("_id", maintain_order=True).agg(pl.col("_text").first(), pl.col("_lang").first())
    per_judge = usable.group_by(["_id", "_judge"], maintain_order=True).agg(pl.col("_score").mean())
    judges = sorted(per_judge["_judge"].unique().to_list())
    index = {d: i for i, d in enumerate(docs["_id"].to_list())}
    targets: dict[str, np.ndarray] = {}
    for judge in judges:
        arr = np.full(docs.height, np.nan)
        sub = per_judge.filter(pl.col("_judge") == judge)
        arr[[index[d] for d in sub["_id"].to_list()]] = sub["_score"].to_numpy()
        targets[judge] = arr
    if len(judges) > 1:
        stacked = np.vstack([targets[j] for j in judges])
        with np.errstate(all="ignore"):
            targets[ENSEMBLE] = np.nanmean(stacked, axis=0)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    source = {"path": str(path), "sha256": digest, "rows": n_rows, "rows_used": usable.height,
              "documents": docs.height, "judges": judges,
              "rubric": _first(usable, "rubric"), "prompt_language": _first(usable, "prompt_language")}
    return LabelSet(docs["_id"].to_list(), docs["_text"].to_list(), docs["_lang"].to_list(), targets, judges, source)


def _first(df: Any, column: str) -> Any:
    if column not in df.columns:
        return None
    values = [v for v in df[column].unique().to_list() if v is not None]
    return values[0] if len(values) == 1 else (values or None)


def _lang_of(langs: list[str | None], idx: np.ndarray) -> list[str | None]:
    return [langs[i] for i in idx]


def train_annotator(labels: Path, backbone: str, out: Path, *, device: str = "auto", seed: int = 0,
                    epochs: int = 20, batch_tokens: int | None = None,
                    progress: Callable[[int], None] | None = None,
                    trust_remote_code: bool | None = None) -> dict[str, Any]:
    """Embed the labeled documents, train and evaluate the heads, write the annotator folder; returns its config.

    ``trust_remote_code`` is the user's ``--trust-remote-code`` for the backbone (see
    `embedders.remote_code_policy`).
    """
    from curate.annotators.embedders import make_embedder

    refuse_output_over_input(out, [labels], "--out")
    check_annotator_target(Path(out))  # before the embedding pass, not after it
    data = read_labels(Path(labels))
    settings = TrainSettings(seed=seed, epochs=epochs)
    embedder = make_embedder(backbone, device, batch_tokens=batch_tokens, trust_remote_code=trust_remote_code)
    # The labeled documents are one window, batched as `curate annotate` batches (curate.annotators.batching):
    # sorted by token length across the whole label set, the progress following the batches.
    emb, _ = embedder.embed_with_info(data.texts, progress)
    parts = split_indices(data.langs, settings)
    heads: dict[str, Any] = {}
    head_cfg: list[dict[str, Any]] = []
    test_preds: dict[str, np.ndarray] = {}
    for name, target in data.targets.items():
        have = ~np.isnan(target)
        tr, va, te = (parts[p][have[parts[p]]] for p in ("train", "val", "test"))
        if len(tr) < 2:
            log.warning("head %s: only %d training documents; skipped", name, len(tr))
            continue
        head, history = train_head(emb[tr], target[tr], emb[va], target[va], settings)
        key = column_name(name)
        heads[key] = head
        pred = predict(head, emb[te]) if len(te) else np.zeros(0, dtype=np.float32)
        test_preds[key] = np.full(len(target), np.nan)
        test_preds[key][te] = pred
        head_cfg.append({"name": key, "judge": name if name != ENSEMBLE else None,
                         "target": "mean of judges" if name == ENSEMBLE else f"scores of judge {name}",
                         "n_train": len(tr), "n_val": len(va), "n_test": len(te),
                         "training": {k: v for k, v in history.items() if k != "history"},
                         "val_spearman_by_epoch": [h["val_spearman"] for h in history["history"]],
                         "test_metrics": metrics_by_language(pred, target[te], _lang_of(data.langs, te))})
        log.info("head %s: best epoch %s, validation Spearman %s", key, history["best_epoch"],
                 history["best_val_spearman"])
    if not heads:
        raise CurateError(f"{labels}: not enough labeled documents to train any head")
    overall = _overall_metrics(data, parts["test"], test_preds)
    config = {
        "format": FORMAT, "version": VERSION, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "backbone": embedder.spec, "dim": embedder.dim, "hidden": settings.hidden,
        "label_source": data.source, "heads": head_cfg, "training": asdict(settings),
        "split": {k: len(v) for k, v in parts.items()},
        "metrics": {"score": overall, **{h["name"]: h["test_metrics"] for h in head_cfg}},
    }
    save_annotator(Path(out), config, heads)
    return config


def _overall_metrics(data: LabelSet, test: np.ndarray, preds: dict[str, np.ndarray]) -> dict[str, Any]:
    """The annotator's ``score`` (mean of its heads) against the mean of the judges, on the test part."""
    if not len(test) or not preds:
        return {}
    with np.errstate(all="ignore"):
        label = np.nanmean(np.vstack([data.targets[j] for j in data.judges]), axis=0)[test]
        score = np.nanmean(np.vstack([p[test] for p in preds.values()]), axis=0)
    ok = ~np.isnan(label) & ~np.isnan(score)
    return metrics_by_language(score[ok], label[ok], [data.langs[i] for i in test[ok]])
