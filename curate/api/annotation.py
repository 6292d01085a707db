"""`train_annotator` and `annotate`: JQL-style quality heads, trained on judge labels and applied to a corpus."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from curate.annotators.annotate import AnnotateSummary

DEFAULT_BACKBONE = "Snowflake/snowflake-arctic-embed-m-v2.0"  # JQL's; embedders.DEFAULT_BACKBONE (kept equal by a test)


@dataclass
class TrainedAnnotator:
    """An annotator folder written by `train_annotator`: its config (backbone, heads, held-out metrics)."""

    out: Path
    config: dict[str, Any]
    run_id: int | None = None

    @property
    def heads(self) -> list[str]:
        """The heads' names: one per judge, then ``ensemble`` (their mean)."""
        return [head["name"] for head in self.config.get("heads", [])]

    @property
    def metrics(self) -> dict[str, Any]:
        """Per head: held-out Spearman, MSE and keep-top-x% precision, overall (``all``) and ``by_language``."""
        return dict(self.config.get("metrics", {}))


def train_annotator(labels: str | Path, out: str | Path, *, backbone: str = DEFAULT_BACKBONE,
                    device: str = "auto", seed: int = 0, epochs: int = 20, batch_tokens: int | None = None,
                    trust_remote_code: bool = False, db: str | Path | None = None,
                    progress: Callable[[int], None] | None = None) -> TrainedAnnotator:
    """Embed the labeled documents with the frozen ``backbone``, train one head per judge plus their
    ensemble (70/15/15 split by language, early stopping on validation Spearman), write the annotator folder
    ``out`` (config.json + heads.safetensors) and record the run."""
    from curate.annotators.training import train_annotator as train
    from curate.runs import record

    config = train(Path(labels), backbone, Path(out), device=device, seed=seed, epochs=epochs,
                   batch_tokens=batch_tokens, progress=progress, trust_remote_code=trust_remote_code or None)
    run_id = record(db, "train-annotator", [str(labels)], out,
                    {"backbone": backbone, "seed": seed, "epochs": epochs, "heads": config.get("heads")})
    return TrainedAnnotator(Path(out), config, run_id)


def annotate(input: str | Path | Sequence[str | Path], annotator: str | Path, out: str | Path, *,
             device: str = "auto", batch_tokens: int | None = None, text_field: str = "text",
             id_field: str = "id", lang_field: str | None = "lang", backbone: str | None = None,
             engine: str = "local", ray_address: str | None = None, shard_size: int = 10_000,
             work_dir: str | Path | None = None, restart: bool = False, split: str = "train",
             endpoint: str | None = None, trust_remote_code: bool = False,
             db: str | Path | None = None) -> AnnotateSummary:
    """Score every document of ``input`` with an annotator's heads (a folder from `train_annotator`,
    ``hub:OWNER/NAME`` or JQL ``.ckpt`` heads) into the scores parquet ``out``; record the run.

    Resumable: parts of ``shard_size`` documents are kept in ``work_dir`` (default ``OUT.work``) until the
    run ends, and a rerun scores only what is missing. ``engine="ray"`` runs on Ray (``ray_address`` or
    ``RAY_ADDRESS``, else a local Ray) with the same scores; ``endpoint`` reaches the actors as their
    ``HF_ENDPOINT``.
    """
    from curate.annotators.annotate import annotate_corpus
    from curate.engines import make_engine
    from curate.runs import record

    ray_options: dict[str, Any] = {"env": {"HF_ENDPOINT": endpoint}} if engine == "ray" and endpoint else {}
    runner = make_engine(engine, address=ray_address, **ray_options)
    summary = annotate_corpus(input, annotator, out, engine=runner, device=device,
                              backbone=backbone, batch_tokens=batch_tokens, text_field=text_field,
                              id_field=id_field, lang_field=lang_field or None, shard_size=shard_size,
                              work_dir=work_dir, restart=restart, split=split, endpoint=endpoint,
                              trust_remote_code=trust_remote_code or None)
    inputs = [str(i) for i in input] if isinstance(input, (list, tuple)) else [str(input)]
    # How the corpus was read, so whoever reads the scores later (the dashboard's samples and the `curate filter`
    # command it writes) reads the same documents under the same ids.
    reading = {"text_field": text_field, "id_field": id_field, "lang_field": lang_field or None, "split": split}
    summary.run_id = record(db, "annotate", inputs, out,
                            {"annotator": str(annotator), "engine": engine, "device": device,
                             "backbone": backbone, "heads": summary.heads, **reading},
                            n_docs=summary.documents, seconds=summary.seconds)
    return summary
