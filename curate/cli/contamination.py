"""`curate contamination`: find benchmark items inside training corpora (registered on import by `curate.cli`)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from curate.cli.app import DbOption, OverwriteOption, app, state


class Engine(StrEnum):
    local = "local"
    ray = "ray"


class Format(StrEnum):
    table = "table"
    json = "json"


@app.command()
def contamination(
    benchmark: Annotated[list[str], typer.Option(
        help="Benchmark: file, folder or Hub dataset id, optionally NAME=SOURCE (NAME may be a Hub id); repeat.")],
    corpus: Annotated[list[str], typer.Option(help="Corpus: file, folder or Hub dataset id; repeat.")],
    text_field: Annotated[str, typer.Option(help="Corpus text field.")] = "text",
    id_field: Annotated[str, typer.Option(help="Corpus id field (missing ids become NAME:LINE, NAME the file, or its path below a folder input, without extension).")] = "id",
    benchmark_text_field: Annotated[str | None, typer.Option(
        help="Benchmark text field(s), comma-separated and joined with newlines, e.g. question,choices "
             "[default: --text-field].")] = None,
    benchmark_id_field: Annotated[str | None, typer.Option(help="Benchmark id field [default: --id-field].")] = None,
    split: Annotated[str, typer.Option(help="Split to read from Hub datasets.")] = "train",
    benchmark_split: Annotated[str, typer.Option(help="Split to read from Hub benchmarks.")] = "test",
    ngram: Annotated[int, typer.Option(help="n-gram length in words, for space-delimited scripts.")] = 13,
    char_ngram: Annotated[int, typer.Option(
        help="n-gram length in characters, for Chinese, Japanese, Korean and other unsegmented scripts.")] = 15,
    min_tokens: Annotated[int, typer.Option(
        help="Items with fewer tokens are not checked; shorter than their n-gram length: exact match only.")] = 8,
    threshold: Annotated[float, typer.Option(
        help="Share of an item's distinct n-grams one document must hold to count as an n-gram match.")] = 0.5,
    workers: Annotated[int, typer.Option(help="Worker processes of the local engine [default: all cores].",
                                         show_default=False)] = 0,
    engine: Annotated[Engine, typer.Option(help="local: worker processes here; ray: Ray tasks and actors "
                                                "(same results).")] = Engine.local,
    ray_address: Annotated[str | None, typer.Option(
        "--ray-address", envvar="RAY_ADDRESS",
        help="Ray cluster to join, e.g. ray://head:10001 or auto (default: a local Ray).")] = None,
    save_doc_ids: Annotated[Path | None, typer.Option(
        help="Write the ids of contaminated documents here, one per line (for `curate filter --decontaminate`).")] = None,
    overwrite: OverwriteOption = False,
    hub_mentions: Annotated[bool, typer.Option(
        help="Also list datasets of a stored snapshot whose id or card names each benchmark.")] = False,
    snapshot: Annotated[str, typer.Option(help="Snapshot for --hub-mentions: id or 'latest'.")] = "latest",
    fmt: Annotated[Format, typer.Option("--format", help="What to print on stdout.")] = Format.table,
    work_dir: Annotated[Path | None, typer.Option(
        help="Where progress is saved so a killed run resumes [default: .curate-work/ beside the store].",
        show_default=False)] = None,
    restart: Annotated[bool, typer.Option("--restart", help="Discard the saved progress of this check.")] = False,
    store_wait: Annotated[float, typer.Option(
        help="Seconds to wait for the store while another process (a report, the dashboard, another run) "
             "holds it; the finished scan is kept meanwhile, and after a timeout a rerun stores it without "
             "scanning again.")] = 60.0,
    db: DbOption = None,
) -> None:
    """Check benchmark items against corpora: exact normalized matches and n-gram overlap, CJK-aware.

    Text is compared after NFKC, lower-casing and collapsing punctuation and whitespace; Chinese, Japanese,
    Korean and Thai are compared by characters, other scripts by words. Results are stored in the store and
    shown by `curate report` and the dashboard.

    Examples:

      curate contamination --benchmark hrm8k=bench/hrm8k.jsonl --corpus corpus/ --save-doc-ids contaminated.txt

      curate contamination --benchmark mmlu.parquet --benchmark-text-field question,choices --corpus web.jsonl.gz --format json

      curate contamination --benchmark hrm8k=bench/hrm8k.jsonl --corpus corpus/ --engine ray --ray-address auto
    """
    from rich.console import Console
    from rich.table import Table

    from curate import api
    from curate.progress import setup_logging, track

    setup_logging(state.debug)
    with track("scanning corpora", unit="docs") as tracker:
        run = api.check_contamination(
            benchmark, corpus, text_field=text_field, id_field=id_field,
            benchmark_text_field=benchmark_text_field, benchmark_id_field=benchmark_id_field, split=split,
            benchmark_split=benchmark_split, ngram=ngram, char_ngram=char_ngram, min_tokens=min_tokens,
            threshold=threshold, workers=workers, engine=engine.value, ray_address=ray_address,
            save_doc_ids=save_doc_ids, overwrite=overwrite, hub_mentions=hub_mentions, snapshot=snapshot,
            work_dir=work_dir, restart=restart, store_wait=store_wait, db=db, advance=tracker.advance)
    result, run_id = run.result, run.run_id
    mb = result.n_bytes / 1e6
    resumed = f", {result.resumed_docs} of them checked by an interrupted run" if result.resumed_docs else ""
    rate = (result.n_bytes - result.resumed_bytes) / 1e6 / max(result.seconds, 1e-9)
    typer.echo(f"run {run_id}: {result.n_docs} documents{resumed} ({mb:.1f} MB) in {result.seconds:.1f} s "
               f"({rate:.1f} MB/s, {result.workers} workers), {len(result.errors)} skipped "
               f"records", err=True)
    if fmt is Format.json:
        typer.echo(json.dumps(run.to_json(), ensure_ascii=False, indent=2))
        return
    table = Table(title="Contamination per benchmark", title_justify="left")
    for h in ("benchmark", "items", "checked", "contaminated", "exact", "rate"):
        table.add_column(h, justify="left" if h == "benchmark" else "right")
    for name, s in result.summary().items():
        table.add_row(name, str(s["n_items"]), str(s["n_checked"]), str(s["n_contaminated"]), str(s["n_exact"]),
                      f"{100 * s['rate']:.1f}%")
    console = Console()
    console.print(table)
    for name, repos in (run.mentions or {}).items():
        console.print(f"{name}: {len(repos)} Hub datasets name it" + (f": {', '.join(repos[:10])}" if repos else ""))
    if save_doc_ids is not None:
        typer.echo(f"{len(result.contaminated_doc_ids)} contaminated document ids written to {save_doc_ids}")
