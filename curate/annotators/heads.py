"""Quality heads: small MLPs on frozen embeddings, trained on judge labels (the JQL recipe).

One head per judge, plus an ``ensemble`` head trained on the mean of the judges' scores when there are
several judges: heads trained on different judges rank alike but differ in scale, so keeping them apart
lets a filter threshold each one on its own. Each head is ``Linear(dim, 1000) -> ReLU -> Linear(1000, 1)``
(the layer names match the published JQL heads, so one module loads both), trained with AdamW and a
cosine learning-rate schedule, seeded, and early-stopped on the validation split's Spearman correlation.

An annotator is saved as a self-describing folder:

* ``config.json``: format/version, the backbone spec (enough to rebuild the embedder), dimensions, label
  source (path, sha256, rows, judges), the heads, the training settings and the held-out metrics.
* ``heads.safetensors``: every head's tensors under ``<head>.layer1.weight`` and so on.

The pair is also the folder's marker: config.json's ``"format": "curate-annotator"`` with heads.safetensors
metadata saying the same is how ``train-annotator --out`` knows it may replace them; any other non-empty
folder (a Hugging Face model folder has a config.json too) is refused, and only the two files are replaced.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from curate import stats
from curate.errors import CurateError
from curate.files import check_output_dir
from curate.stats import finite_or_none

FORMAT = "curate-annotator"
VERSION = 1
HIDDEN = 1000
WEIGHTS_FILE = "heads.safetensors"
CONFIG_FILE = "config.json"
KEEP_TOP = (0.1, 0.3, 0.5)
# Fewest documents a head's Spearman is reported for: the rho of two documents is +-1 whatever the head learned.
MIN_RANKED = 3


def _torch() -> Any:
    import torch

    return torch


def make_head(dim: int, hidden: int = HIDDEN) -> Any:
    """``Linear(dim, hidden) -> ReLU -> Linear(hidden, 1)``, with JQL's parameter names."""
    torch = _torch()
    nn = torch.nn

    class MLPHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer1 = nn.Linear(dim, hidden)
            self.relu = nn.ReLU()
            self.layer2 = nn.Linear(hidden, 1)

        def forward(self, x: Any) -> Any:
            return self.layer2(self.relu(self.layer1(x))).squeeze(-1)

    return MLPHead()


def head_from_state(state: dict[str, Any]) -> Any:
    """Rebuild a head from its tensors (``layer1.weight`` etc.), reading the sizes off the weights."""
    try:
        w1 = state["layer1.weight"]
    except KeyError as exc:
        raise CurateError(f"head weights lack layer1.weight (found: {sorted(state)[:6]})") from exc
    hidden, dim = int(w1.shape[0]), int(w1.shape[1])
    head = make_head(dim, hidden)
    head.load_state_dict({k: v.float() for k, v in state.items() if k.startswith(("layer1.", "layer2."))})
    head.eval()
    return head


@dataclass
class TrainSettings:
    """Training knobs; the defaults follow the JQL paper, except that small label sets get smaller batches
    (at least ~8 optimizer steps per epoch) so a few hundred labels can still train."""

    seed: int = 0
    epochs: int = 20
    lr: float = 5e-4
    weight_decay: float = 0.01
    batch_size: int = 1024
    patience: int = 4
    min_steps: int = 40
    hidden: int = HIDDEN
    val_fraction: float = 0.15
    test_fraction: float = 0.15


def keep_top_precision(pred: np.ndarray, labels: np.ndarray, fraction: float) -> float | None:
    """Of the documents a filter keeping the top ``fraction`` by prediction would keep, the share that
    are also in the top ``fraction`` by label (label ties at the cut-off count as top)."""
    n = len(pred)
    k = max(1, round(n * fraction))
    if n < 2 or k >= n:
        return None
    kept = np.argsort(-pred, kind="stable")[:k]
    cutoff = np.sort(labels)[::-1][k - 1]
    return float(np.mean(labels[kept] >= cutoff))


def metrics(pred: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    pred, labels = np.asarray(pred, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    out: dict[str, Any] = {"n": len(pred), "spearman": finite_or_none(stats.spearman(pred, labels, min_n=MIN_RANKED)),
                           "mse": float(np.mean((pred - labels) ** 2)) if len(pred) else None}
    out["keep_top_precision"] = {f"{int(f * 100)}%": keep_top_precision(pred, labels, f) for f in KEEP_TOP}
    return out


def metrics_by_language(pred: np.ndarray, labels: np.ndarray, langs: Sequence[str | None]) -> dict[str, Any]:
    """Metrics over all documents and per language (``und`` for documents without one)."""
    langs_arr = np.asarray([lang or "und" for lang in langs], dtype=object)
    result = {"all": metrics(pred, labels), "by_language": {}}
    for lang in sorted(set(langs_arr)):
        mask = langs_arr == lang
        result["by_language"][lang] = metrics(pred[mask], labels[mask])
    return result


def predict(head: Any, x: np.ndarray) -> np.ndarray:
    torch = _torch()
    with torch.inference_mode():
        return head(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).numpy()


def train_head(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
               settings: TrainSettings) -> tuple[Any, dict[str, Any]]:
    """Train one head; returns the best head by validation Spearman and its training history."""
    torch = _torch()
    if len(x_train) < 2:
        raise CurateError(f"too few labeled documents to train a head ({len(x_train)})")
    torch.manual_seed(settings.seed)
    gen = torch.Generator().manual_seed(settings.seed)
    head = make_head(x_train.shape[1], settings.hidden)
    xt = torch.from_numpy(np.ascontiguousarray(x_train, dtype=np.float32))
    yt = torch.from_numpy(np.asarray(y_train, dtype=np.float32))
    batch = max(16, min(settings.batch_size, math.ceil(len(xt) / 8)))
    # An "epoch" is at least `min_steps` optimizer steps (several passes over a small label set), so a few
    # hundred labels train as far as the paper's 500k do in their first epochs.
    passes = max(1, math.ceil(settings.min_steps / math.ceil(len(xt) / batch)))
    steps_per_epoch = passes * math.ceil(len(xt) / batch)
    opt = torch.optim.AdamW(head.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, settings.epochs * steps_per_epoch))
    loss_fn = torch.nn.MSELoss()
    best_rho, best_state, best_epoch, stale = -math.inf, None, 0, 0
    history: list[dict[str, Any]] = []
    for epoch in range(1, settings.epochs + 1):
        head.train()
        total = 0.0
        for _ in range(passes):
            perm = torch.randperm(len(xt), generator=gen)
            for start in range(0, len(xt), batch):
                idx = perm[start:start + batch]
                opt.zero_grad()
                loss = loss_fn(head(xt[idx]), yt[idx])
                loss.backward()
                opt.step()
                sched.step()
                total += loss.item() * len(idx) / passes
        head.eval()
        val_pred = predict(head, x_val) if len(x_val) else np.zeros(0)
        rho = stats.spearman(val_pred, y_val, min_n=MIN_RANKED)
        history.append({"epoch": epoch, "train_mse": total / len(xt), "val_spearman": finite_or_none(rho)})
        score = rho if math.isfinite(rho) else -math.inf
        if len(x_val) == 0:  # nothing to stop on: train every epoch and keep the last state
            best_state = {k: v.detach().clone() for k, v in head.state_dict().items()}
            best_epoch = epoch
            continue
        if best_state is None or score > best_rho:
            best_rho, best_epoch, stale = score, epoch, 0
            best_state = {k: v.detach().clone() for k, v in head.state_dict().items()}
        else:
            stale += 1
            if stale >= settings.patience:
                break
    assert best_state is not None
    head.load_state_dict(best_state)
    head.eval()
    return head, {"best_epoch": best_epoch, "epochs_run": len(history), "batch_size": batch,
                  "best_val_spearman": None if best_rho == -math.inf else best_rho, "history": history}


def split_indices(langs: Sequence[str | None], settings: TrainSettings) -> dict[str, np.ndarray]:
    """A seeded train/val/test split, stratified by language so every language is in every part."""
    rng = np.random.default_rng(settings.seed)
    parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    groups: dict[str, list[int]] = {}
    for i, lang in enumerate(langs):
        groups.setdefault(lang or "und", []).append(i)
    for lang in sorted(groups):
        idx = np.array(groups[lang])
        rng.shuffle(idx)
        n_val = round(len(idx) * settings.val_fraction) if len(idx) >= 5 else 0
        n_test = round(len(idx) * settings.test_fraction) if len(idx) >= 5 else 0
        parts["val"] += idx[:n_val].tolist()
        parts["test"] += idx[n_val:n_val + n_test].tolist()
        parts["train"] += idx[n_val + n_test:].tolist()
    return {k: np.array(sorted(v), dtype=np.int64) for k, v in parts.items()}


def column_name(head: str) -> str:
    """A head name safe for a parquet column suffix and a safetensors key."""
    return re.sub(r"[^0-9A-Za-z_.-]+", "_", head).strip("_") or "head"


def is_annotator_folder(folder: Path) -> bool:
    """Whether curate wrote ``folder``: a config.json whose ``format`` is curate's, next to a
    heads.safetensors whose metadata says the same.

    This is the marker that lets ``train-annotator --out`` replace a folder (every version of curate wrote
    both), so a Hugging Face model folder, which also has a config.json, is never taken for an annotator.
    """
    from safetensors import safe_open

    folder = Path(folder)
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    if not (config_path.is_file() and weights_path.is_file()):
        return False
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        with safe_open(str(weights_path), framework="pt") as fh:
            metadata = fh.metadata() or {}
    except Exception:
        return False
    return isinstance(config, dict) and config.get("format") == FORMAT and metadata.get("format") == FORMAT


def check_annotator_target(out: Path) -> None:
    """Refuse, before any work, an ``--out`` that is a file or a non-empty folder curate did not write
    (`curate.files.check_output_dir`; an annotator folder is recognised by its own pair of files, which is
    why train-annotator leaves no other marker in it)."""
    check_output_dir(out, "--out", written_by_curate=is_annotator_folder)


def save_annotator(out: Path, config: dict[str, Any], heads: dict[str, Any]) -> None:
    """Write config.json and heads.safetensors into ``out``.

    ``out`` must be new, empty, or an annotator folder curate wrote (`is_annotator_folder`); only those two
    files are replaced and anything else in the folder stays. Both are written in full to temp files first
    and then renamed into place, weights first, so a killed run leaves the old pair or the new one, except in
    the moment between the two renames.
    """
    from safetensors.torch import save_file

    out = Path(out)
    check_annotator_target(out)
    out.mkdir(parents=True, exist_ok=True)
    weights_tmp = out / f".{WEIGHTS_FILE}.{os.getpid()}.tmp"
    config_tmp = out / f".{CONFIG_FILE}.{os.getpid()}.tmp"
    try:
        tensors = {f"{name}.{k}": v.detach().float().contiguous() for name, head in heads.items()
                   for k, v in head.state_dict().items()}
        save_file(tensors, str(weights_tmp), metadata={"format": FORMAT, "version": str(VERSION)})
        config_tmp.write_text(json.dumps(config, indent=2, ensure_ascii=False, default=_json_default),
                              encoding="utf-8")
        os.replace(weights_tmp, out / WEIGHTS_FILE)
        os.replace(config_tmp, out / CONFIG_FILE)
    finally:
        weights_tmp.unlink(missing_ok=True)
        config_tmp.unlink(missing_ok=True)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def load_heads_folder(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read an annotator folder: its config and ``{head name: head module}`` in config order."""
    from safetensors.torch import load_file

    folder = Path(folder)
    try:
        config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CurateError(f"{folder}: not a readable annotator folder ({exc})") from exc
    if config.get("format") != FORMAT:
        raise CurateError(f"{folder}/{CONFIG_FILE}: format is {config.get('format')!r}, expected {FORMAT!r}")
    weights = config.get("weights", WEIGHTS_FILE)
    if not isinstance(weights, str) or Path(weights).name != weights or weights in ("", ".", ".."):
        raise CurateError(f"{folder}/{CONFIG_FILE}: weights must name a file in the folder, got {weights!r}")
    try:
        tensors = load_file(str(folder / weights))
    except Exception as exc:
        raise CurateError(f"{folder}: cannot read head weights ({type(exc).__name__}: {exc})") from exc
    heads: dict[str, Any] = {}
    for spec in config.get("heads", []):
        key = spec.get("key", spec["name"])
        state = {k[len(key) + 1:]: v for k, v in tensors.items() if k.startswith(f"{key}.")}
        if not state:
            raise CurateError(f"{folder}: no weights for head {spec['name']!r}")
        heads[spec["name"]] = head_from_state(state)
    if not heads:
        raise CurateError(f"{folder}: the annotator has no heads")
    return config, heads
