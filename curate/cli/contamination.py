"""`curate contamination`: find benchmark items inside training corpora (registered on import by `curate.cli`)."""

from __future__ import annotations

import json
import logging
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from curate.cli.app import DbOption, app, state

log = logging.getLogger("curate")
MAX_ERROR_LINES = 20


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

    from analyses.contamination import Settings, Source, persist, run_check
    from analyses.contamination.mentions import find_mentions
    from curate import config
    from curate.engines import make_engine
    from curate.errors import CurateError
    from curate.progress import Messages, setup_logging, track
    from curate.store import Store, StoreLocked

    setup_logging(state.debug)
    try:
        settings = Settings(word_n=ngram, char_n=char_ngram, min_tokens=min_tokens, threshold=threshold)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    benches = [Source.parse(b, text_field=benchmark_text_field or text_field, id_field=benchmark_id_field or id_field,
                            split=benchmark_split) for b in benchmark]
    corpora = [Source.parse(c, text_field=text_field, id_field=id_field, split=split) for c in corpus]
    on_error = Messages(lambda message: log.warning("skipped: %s", message), limit=MAX_ERROR_LINES)

    store_path = config.db_path(db)
    with track("scanning corpora", unit="docs") as tracker:
        n_workers = workers or os.cpu_count() or 1
        result = run_check(benches, corpora, settings, workers=n_workers,
                           engine=make_engine(engine.value, workers=n_workers, address=ray_address),
                           on_error=on_error, advance=tracker.advance,
                           work_root=work_dir or store_path.parent / ".curate-work", restart=restart,
                           keep_progress=True)
    if not any(result.benchmarks.values()):
        result.discard_progress()
        raise CurateError("no benchmark items could be read (see the messages above)")
    # The ids file needs no store: written first, so a store that cannot take the run does not cost it.
    if save_doc_ids is not None:
        persist.write_doc_ids(save_doc_ids, result.contaminated_doc_ids)
    try:
        with Store(store_path, wait=store_wait) as store:
            mentions = find_mentions(store.con, [b.name for b in benches], snapshot) if hub_mentions else None
            run_id = persist.save(store.con, result, mentions)
    except StoreLocked as exc:
        written = f"; the ids are written to {save_doc_ids}" if save_doc_ids is not None else ""
        raise CurateError(f"{exc}; the finished scan is kept in {result.progress}: rerun the same command to "
                          f"store it without scanning again{written}") from None
    result.discard_progress()  # only now: the results are stored
    mb = result.n_bytes / 1e6
    resumed = f", {result.resumed_docs} of them checked by an interrupted run" if result.resumed_docs else ""
    rate = (result.n_bytes - result.resumed_bytes) / 1e6 / max(result.seconds, 1e-9)
    typer.echo(f"run {run_id}: {result.n_docs} documents{resumed} ({mb:.1f} MB) in {result.seconds:.1f} s "
               f"({rate:.1f} MB/s, {result.workers} workers), {len(result.errors)} skipped "
               f"records", err=True)
    if fmt is Format.json:
        out = result.to_json()
        if mentions is not None:
            for name in result.benchmarks:
                out["benchmarks"][name]["hub_mentions"] = (
                    mentions.filter(mentions["benchmark"] == name)["repo_id"].to_list())
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    table = Table(title="Contamination per benchmark", title_justify="left")
    for h in ("benchmark", "items", "checked", "contaminated", "exact", "rate"):
        table.add_column(h, justify="left" if h == "benchmark" else "right")
    for name, s in result.summary().items():
        table.add_row(name, str(s["n_items"]), str(s["n_checked"]), str(s["n_contaminated"]), str(s["n_exact"]),
                      f"{100 * s['rate']:.1f}%")
    console = Console()
    console.print(table)
    if mentions is not None:
        for bench in benches:
            repos = mentions.filter(mentions["benchmark"] == bench.name)["repo_id"].to_list()
            console.print(f"{bench.name}: {len(repos)} Hub datasets name it" + (f": {', '.join(repos[:10])}" if repos else ""))
    if save_doc_ids is not None:
        typer.echo(f"{len(result.contaminated_doc_ids)} contaminated document ids written to {save_doc_ids}")
