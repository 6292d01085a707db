"""`curate snapshot`: a dated snapshot of the Hub's top datasets per language."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from curate.cli.app import DbOption, EndpointOption, app, state
from curate.http import DEFAULT_MAX_CARD_BYTES, DEFAULT_MAX_WAIT_S


@app.command()
def snapshot(
    lang: Annotated[
        list[str] | None, typer.Option("--lang", "-l", help="Language code (Hub tag language:<code>); repeat.")
    ] = None,
    top: Annotated[int, typer.Option(help="How many datasets per language.", min=1)] = 700,
    sort: Annotated[str, typer.Option(help="Hub sort key (always descending).")] = "downloads",
    db: DbOption = None,
    endpoint: EndpointOption = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Finish the latest unfinished snapshot instead of starting one.")
    ] = False,
    resume_id: Annotated[int | None, typer.Option("--resume-id", help="Finish this snapshot id.")] = None,
    concurrency: Annotated[int, typer.Option(help="Parallel requests for cards and authors.", min=1)] = 16,
    rate: Annotated[
        float, typer.Option(help="Most requests per second, on top of the quota the Hub announces, which is "
                                 "always followed (0: no cap beyond it).", min=0)
    ] = 0.0,
    authors: Annotated[bool, typer.Option(help="Look up whether authors are users or organizations.")] = True,
    timeout: Annotated[
        float, typer.Option(help="Seconds for a whole request (connect, headers, body) before it is retried.")
    ] = 30.0,
    max_wait: Annotated[
        float, typer.Option(help="Longest wait a server may ask for (Retry-After, rate-limit reset); a longer "
                                 "one stops the run at once, to be resumed later.", min=0)
    ] = DEFAULT_MAX_WAIT_S,
    max_card_bytes: Annotated[
        int, typer.Option(help="Largest card (README.md) stored; a bigger one is an error row.", min=1)
    ] = DEFAULT_MAX_CARD_BYTES,
) -> None:
    """List the most-downloaded datasets of each language and store metadata and cards in a dated snapshot.

    Examples:

      curate snapshot --lang ko --top 700

      curate snapshot --lang zh --lang ja --lang ko --lang en --db hub.duckdb

      curate snapshot --resume            # finish a run that was interrupted

    HF_ENDPOINT (or --endpoint) selects the Hub or a mirror; HF_TOKEN opens gated datasets, is never stored, and is
    only sent to that endpoint's origin (a listing page linking elsewhere is not followed). --resume goes back to the
    endpoint the snapshot was taken from. Credentials in an endpoint URL are used but never stored or shown.
    """
    from curate import api, config
    from curate.progress import setup_logging

    if not lang and not (resume or resume_id):
        raise typer.BadParameter("give at least one --lang (or --resume)", param_hint="--lang")
    setup_logging(state.debug)
    console = Console(stderr=True)
    summary = api.snapshot(lang or [], top=top, sort=sort, db=db, endpoint=endpoint, resume=resume_id or resume,
                           concurrency=concurrency, rate=rate or None, authors=authors, timeout=timeout,
                           max_wait=max_wait, max_card_bytes=max_card_bytes,
                           on_listed=lambda code, n: console.print(f"listed {n} datasets for language:{code}"))
    path = config.db_path(db)
    table = Table(title=f"snapshot {summary.snapshot_id}{' (resumed)' if summary.resumed else ''}")
    for col in ("language", "listed"):
        table.add_column(col)
    for code, n in sorted(summary.listed.items()):
        table.add_row(code, str(n))
    Console().print(table)
    typer.echo(f"{summary.cards} cards, {summary.authors} authors, {summary.errors} error rows "
               f"in {summary.seconds:.1f}s; store: {path}")
