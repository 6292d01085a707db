"""``curate annotate --engine ray``: score a corpus with a Ray Data pipeline and an actor pool.

The corpus is split by source (file, or a Hub id as one source); Ray tasks read the sources in parallel with
the same reader as every other command (`curate.corpus.iter_documents`), and a pool of actors, each holding
one loaded annotator, scores batches of documents. One actor per GPU when the device is CUDA (Ray hands each
actor its own GPU), else one per CPU slot with one compute thread each, so actors do not fight over cores.
Loading the embedding model once per actor, not once per batch, is what makes the pool worth it.

Blocks come back to the driver in corpus order with the schema of the local engine's scores parquet
(doc_id, lang, n_chars int32, truncated bool, one score_<head> float32 per head, score float32 = mean of the
heads). The per-batch arithmetic lives in `scores_table`, so both engines produce the same numbers.

Resumable by source: the scores of each source go to ``<out>.work/shard-NNNNNN.parquet`` (NNNNNN = the
source's place in the sorted list of sources) through a temp file and a rename, as soon as a later source's
rows show the source is complete. A rerun with the same input, annotator and settings sends only the
sources without a shard to Ray; when all exist they are concatenated into ``out`` and the work folder goes.
The work folder's manifest names the engine, so local and Ray shards (cut differently) never mix.

Which cluster: ``address`` (``--ray-address``), else ``RAY_ADDRESS``, else a local Ray for the run; a Ray
already initialised in the process (a notebook, a test) is used as it is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import CurateError
from curate.files import atomic_path

AnnotatorFactory = Callable[[str, str], Any]  # (spec, device) -> object with head_names and score_texts

# As the local engine (curate.annotators.annotate.HOLD_CHARS): texts are cut to this many characters as they
# are read, so huge pages never travel whole; n_chars keeps the original length and such a text counts as
# truncated. Far above any backbone's own character cut, so it never changes a score.
HOLD_CHARS = 200_000
DESCRIBE = "\x00curate.annotator:"  # prefix of the one message row each actor sends with its annotator's description


def _column_name(head: str) -> str:
    """The head's column suffix, sanitised as the local engine does it."""
    try:
        from curate.annotators.heads import column_name
    except ImportError:  # heads module absent (an annotator injected in tests): names are used as they are
        return head
    return column_name(head)


def scores_schema(head_names: Sequence[str]) -> pa.Schema:
    """The scores parquet contract: ids, language, length, truncation, one column per head, their mean."""
    return pa.schema([("doc_id", pa.string()), ("lang", pa.string()), ("n_chars", pa.int32()),
                      ("truncated", pa.bool_()), *((f"score_{h}", pa.float32()) for h in head_names),
                      ("score", pa.float32())])


def score_with_info(annotator: Any, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(scores float32 (n, heads), truncated bool (n,)); annotators that cannot tell report no truncation."""
    if hasattr(annotator, "score_texts_with_info"):
        scores, truncated = annotator.score_texts_with_info(texts)
    else:
        scores, truncated = annotator.score_texts(texts), np.zeros(len(texts), dtype=bool)
    scores = np.asarray(scores, dtype=np.float32).reshape(len(texts), len(annotator.head_names))
    return scores, np.asarray(truncated, dtype=bool)


def scores_table(ids: list[str], langs: list[str | None], n_chars: list[int], scores: np.ndarray,
                 truncated: np.ndarray, head_names: Sequence[str]) -> pa.Table:
    """One batch of scores in the contract schema; ``score`` is the float32 mean of the heads."""
    columns: dict[str, Any] = {
        "doc_id": pa.array(ids, pa.string()),
        "lang": pa.array(langs, pa.string()),
        "n_chars": pa.array(n_chars, pa.int32()),
        "truncated": pa.array(truncated, pa.bool_()),
    }
    for j, head in enumerate(head_names):
        columns[f"score_{head}"] = pa.array(scores[:, j], pa.float32())
    columns["score"] = pa.array(scores.mean(axis=1, dtype=np.float32), pa.float32())
    return pa.table(columns, schema=scores_schema(head_names))


DOCS_SCHEMA = pa.schema([("doc_id", pa.string()), ("lang", pa.string()), ("text", pa.string()),
                         ("n_chars", pa.int32()), ("message", pa.string()), ("source", pa.int64())])


def _read_udf(batch: pa.Table, text_field: str, id_field: str, lang_field: str | None, split: str,
              batch_size: int) -> Iterator[pa.Table]:
    """Documents of each source row, in batches; reader messages travel as rows with a null doc_id."""
    from curate.annotators.annotate import clean_document
    from curate.corpus import batched, iter_documents
    from curate.files import clean_text

    # Sources travel as bytes (os.fsencode): a file name need not be valid UTF-8, and Arrow strings must be.
    rows = zip(batch.column("source").to_pylist(), batch.column("root").to_pylist(),
               batch.column("index").to_pylist(), strict=True)
    for source, root, index in rows:
        messages: list[str] = []
        # Named relative to the folder input, as the local engine's read of the whole folder names them.
        docs = map(clean_document, iter_documents(os.fsdecode(source), text_field=text_field, id_field=id_field,
                                                  lang_field=lang_field, split=split, on_error=messages.append,
                                                  id_root=os.fsdecode(root) or None))
        for chunk in batched(docs, batch_size):
            n = len(chunk)
            yield pa.table({"doc_id": [d.id for d in chunk], "lang": [d.lang for d in chunk],
                            "text": [d.text[:HOLD_CHARS] for d in chunk], "n_chars": [len(d.text) for d in chunk],
                            "message": pa.nulls(n, pa.string()), "source": [index] * n}, schema=DOCS_SCHEMA)
        if messages:
            messages = [clean_text(m) for m in messages]
            n = len(messages)
            yield pa.table({"doc_id": pa.nulls(n, pa.string()), "lang": pa.nulls(n, pa.string()),
                            "text": pa.nulls(n, pa.string()), "n_chars": pa.nulls(n, pa.int32()),
                            "message": messages, "source": pa.nulls(n, pa.int64())}, schema=DOCS_SCHEMA)


class _ScoreActor:
    """Holds one annotator for its lifetime; scores document batches, passes reader messages through."""

    def __init__(self, spec: str, device: str, factory: AnnotatorFactory | None, threads: int | None,
                 load_kwargs: dict[str, Any] | None = None) -> None:
        if threads:
            try:
                import torch

                torch.set_num_threads(threads)
            except ImportError:
                pass
        if factory is None:
            from curate.annotators import load_annotator

            self.annotator = load_annotator(spec, device, **(load_kwargs or {}))
        else:
            self.annotator = factory(spec, device)
        self.heads = [_column_name(h) for h in self.annotator.head_names]
        self._described = False

    def __call__(self, batch: pa.Table) -> pa.Table:
        is_doc = batch.column("doc_id").is_valid()
        docs = batch.filter(is_doc)
        texts = docs.column("text").to_pylist()
        n_chars = docs.column("n_chars").to_pylist()
        if texts:
            scores, truncated = score_with_info(self.annotator, texts)
            truncated = truncated | np.array([n > len(t) for t, n in zip(texts, n_chars, strict=True)], dtype=bool)
        else:
            scores, truncated = np.zeros((0, len(self.heads)), np.float32), np.zeros(0, bool)
        out = scores_table(docs.column("doc_id").to_pylist(), docs.column("lang").to_pylist(), n_chars, scores,
                           truncated, self.heads)
        out = out.append_column("message", pa.nulls(out.num_rows, pa.string()))
        out = out.append_column("source", docs.column("source"))
        messages = batch.filter(pc.invert(is_doc)).column("message")
        if not self._described:  # the driver writes the same provenance as the local engine
            self._described = True
            describe = getattr(self.annotator, "describe", dict)()
            messages = pa.concat_arrays([pa.array([DESCRIBE + json.dumps(describe, ensure_ascii=False)], pa.string()),
                                         messages.combine_chunks() if len(messages) else pa.array([], pa.string())])
        if len(messages):  # reader messages ride along as rows with a null doc_id
            extra = {f.name: pa.nulls(len(messages), f.type) for f in out.schema if f.name != "message"}
            # First, so the description reaches the driver before the first scores do.
            out = pa.concat_tables([pa.table({**extra, "message": messages}, schema=out.schema), out])
        return out


def plan_actors(ray: Any, device: str, num_actors: int | None, cpus_per_actor: float) -> tuple[int, str, dict[str, Any]]:
    """(pool size, device for the actors, Ray resources per actor) from the cluster's GPUs and CPUs."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    use_gpu = device.startswith("cuda") or (device == "auto" and gpus > 0)
    if use_gpu:
        if gpus == 0:
            raise CurateError("--device cuda with --engine ray, but the Ray cluster has no GPUs")
        return num_actors or gpus, "cuda", {"num_gpus": 1, "num_cpus": cpus_per_actor}
    cpus = int(resources.get("CPU", 1))
    return num_actors or max(1, int(cpus // cpus_per_actor)), "cpu", {"num_cpus": cpus_per_actor}


def annotate_ray(
    input: str | Path | Sequence[str | Path],
    annotator_spec: str | Path | None = None,
    out: str | Path | None = None,
    device: str = "auto",
    *,
    annotator: str | Path | None = None,
    address: str | None = None,
    backbone: str | None = None,
    batch_tokens: int | None = None,
    text_field: str = "text",
    id_field: str = "id",
    lang_field: str | None = "lang",
    split: str = "train",
    batch_size: int = 512,  # documents per actor call, as the local engine's chunks (CHUNK_DOCS)
    num_actors: int | None = None,
    cpus_per_actor: float = 1.0,
    annotator_factory: AnnotatorFactory | None = None,
    on_message: Callable[[str], None] | None = None,
    work_dir: str | Path | None = None,
    restart: bool = False,
    keep_work: bool = False,
    trust_remote_code: bool | None = None,
) -> dict[str, Any]:
    """Score every document of ``input`` on Ray and write ``out`` (scores parquet); returns a summary.

    The annotator is ``annotator_spec`` (or ``annotator=``, the name `curate annotate` uses): anything
    `curate.annotators.load_annotator` takes, loaded once in each actor with ``backbone`` and ``batch_tokens``.
    ``annotator_factory(spec, device)`` replaces that loader (tests, custom models); it runs inside the
    actors, so it must be importable or picklable there. ``address`` (else ``RAY_ADDRESS``) picks the cluster.
    ``work_dir`` (default ``<out>.work``), ``restart`` and ``keep_work`` work as in the local engine.
    """
    from curate.annotators.annotate import (
        combine_shards,
        guard_outputs,
        prepare_work_dir,
        remove_work,
        run_manifest,
        shard_ok,
    )
    from curate.filtering.sources import list_sources

    spec = annotator_spec if annotator_spec is not None else annotator
    if spec is None or out is None:
        raise CurateError("annotate_ray needs an annotator and an output path")
    inputs = [str(x) for x in input] if isinstance(input, (list, tuple)) else [str(input)]
    out = Path(out)
    work = Path(work_dir) if work_dir else out.with_name(out.name + ".work")
    guard_outputs(out, work, list(inputs), spec)
    sources = list_sources(inputs)  # a missing input fails here, before a work folder is made
    settings = {"engine": "ray", "text_field": text_field, "id_field": id_field, "lang_field": lang_field,
                "split": split, "backbone": backbone}
    runs = [run_manifest(i, str(spec), {}) for i in inputs]
    manifest = {**runs[0], **settings} if len(runs) == 1 else {"inputs": runs, **settings}
    prepare_work_dir(work, manifest, restart)
    shards = [work / f"shard-{i:06d}.parquet" for i in range(len(sources))]
    todo = [i for i, path in enumerate(shards) if not shard_ok(path)]
    summary: dict[str, Any] = {"out": str(out), "documents": 0, "messages": 0, "heads": None, "actors": 0,
                               "device": None, "resumed_sources": len(sources) - len(todo)}
    try:
        if todo:
            _score_sources(summary, sources, todo, shards, inputs, spec, device, address=address,
                           backbone=backbone, batch_tokens=batch_tokens, text_field=text_field, id_field=id_field,
                           lang_field=lang_field, split=split, batch_size=batch_size, num_actors=num_actors,
                           cpus_per_actor=cpus_per_actor, annotator_factory=annotator_factory,
                           warn=on_message or (lambda m: None), trust_remote_code=trust_remote_code)
    except BaseException:
        if not any(path.is_file() for path in shards):  # nothing to resume: leave no trace
            remove_work(work)
        raise
    rows = combine_shards(shards, out)
    if not keep_work:
        remove_work(work)
    if rows == 0:
        out.unlink(missing_ok=True)
        raise CurateError(f"no documents to annotate in {', '.join(inputs)}")
    import pyarrow.parquet as pq

    summary["documents"] = rows
    summary["heads"] = [c.removeprefix("score_") for c in pq.read_schema(out).names if c.startswith("score_")]
    return summary


def _score_sources(summary: dict[str, Any], sources: list[str], todo: list[int], shards: list[Path],
                   inputs: list[str], spec: str | Path, device: str, *, address: str | None, backbone: str | None,
                   batch_tokens: int | None, text_field: str, id_field: str, lang_field: str | None, split: str,
                   batch_size: int, num_actors: int | None, cpus_per_actor: float,
                   annotator_factory: AnnotatorFactory | None, warn: Callable[[str], None],
                   trust_remote_code: bool | None = None) -> None:
    """Run the Ray pipeline over the ``todo`` sources, writing each source's shard once it is complete."""
    import pyarrow.parquet as pq

    from curate.files import clean_text
    from curate.filtering.ray_engine import ordered_quiet_data, ray_session
    from curate.progress import track

    done = [path for path in shards if path.is_file()]
    schema: pa.Schema | None = pq.read_schema(done[0]) if done else None  # resumed: the first run's provenance
    described: str | None = None
    waiting: list[int] = list(todo)  # sources not yet written, in corpus order
    parts: dict[int, list[pa.Table]] = {}

    def write_through(last: int) -> None:
        """Write every waiting source up to ``last``: Ray returns rows in corpus order, so they are complete."""
        while waiting and waiting[0] <= last and schema is not None:
            i = waiting.pop(0)
            tables = [t.cast(schema) for t in parts.pop(i, [])]
            with atomic_path(shards[i]) as tmp:
                pq.write_table(pa.concat_tables(tables) if tables else schema.empty_table(), tmp)

    with ray_session(address) as ray, ordered_quiet_data():
        size, actor_device, resources = plan_actors(ray, device, num_actors, cpus_per_actor)
        summary.update(actors=size, device=actor_device)
        folders = [i for i in inputs if Path(i).is_dir()]
        roots = [max((f for f in folders if Path(sources[i]).is_relative_to(f)), key=len, default="") for i in todo]
        ds = ray.data.from_items([{"source": os.fsencode(sources[i]), "root": os.fsencode(r), "index": i}
                                  for i, r in zip(todo, roots, strict=True)],
                                 override_num_blocks=len(todo))
        # Reading is light next to embedding: it takes no CPU slot, so it never waits behind the actors.
        ds = ds.map_batches(_read_udf, batch_size=1, batch_format="pyarrow", num_cpus=0,
                            fn_kwargs={"text_field": text_field, "id_field": id_field, "lang_field": lang_field,
                                       "split": split, "batch_size": batch_size})
        ds = ds.map_batches(_ScoreActor, batch_size=batch_size, batch_format="pyarrow",
                            compute=ray.data.ActorPoolStrategy(size=size),
                            fn_constructor_kwargs={"spec": str(spec), "device": actor_device,
                                                   "factory": annotator_factory,
                                                   "threads": max(1, int(cpus_per_actor)),
                                                   "load_kwargs": {"backbone": backbone,
                                                                   "batch_tokens": batch_tokens,
                                                                   "trust_remote_code": trust_remote_code}},
                            **resources)
        with track(f"annotate (ray, {size} {actor_device} actors)", unit="docs") as tracker:
            for block in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
                is_doc = block.column("doc_id").is_valid()
                for line in block.filter(pc.invert(is_doc)).column("message").to_pylist():
                    if line.startswith(DESCRIBE):
                        described = described or line[len(DESCRIBE):]
                        continue
                    summary["messages"] += 1
                    warn(line)
                table = block.filter(is_doc).drop_columns(["message"])
                if not table.num_rows:
                    continue
                if schema is None:
                    heads = [c.removeprefix("score_") for c in table.column_names if c.startswith("score_")]
                    meta = {"curate.annotator": clean_text(described or "{}"),
                            "curate.annotator_spec": clean_text(str(spec)),
                            "curate.input": clean_text(str(Path(inputs[0]).resolve())) if len(inputs) == 1
                            and Path(inputs[0]).exists() else json.dumps(inputs)}
                    schema = scores_schema(heads).with_metadata(meta)
                source = table.column("source").to_numpy()
                for i in np.unique(source).tolist():  # a batch may span sources; corpus order within it
                    write_through(i - 1)
                    parts.setdefault(i, []).append(table.filter(pa.array(source == i)).drop_columns(["source"]))
                tracker.advance(table.num_rows)
        if schema is None:
            raise CurateError(f"no documents to annotate in {', '.join(inputs)}")
        write_through(len(sources))
