"""`curate snapshot`: a dated snapshot of the Hub's top datasets per language, crawled or read from a dump."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from curate.cli.app import DbOption, EndpointOption, app, state
from curate.http import DEFAULT_MAX_CARD_BYTES, DEFAULT_MAX_WAIT_S

if TYPE_CHECKING:
    from collectors.dump import DumpSummary


@app.command()
def snapshot(
    dump_repo: Annotated[
        str | None, typer.Argument(metavar="REPO", show_default=False,
                                   help="With --from-dump: the dump's dataset repo [default: "
                                        "librarian-bots/dataset_cards_with_metadata].")
    ] = None,
    from_dump: Annotated[
        bool, typer.Option("--from-dump", help="Read every dataset from a published dump of dataset cards (parquet "
                                               "files on the Hub) instead of crawling: minutes for the whole Hub.")
    ] = False,
    revision: Annotated[
        str, typer.Option(help="With --from-dump: the dump's branch, tag or commit; a past commit is the Hub as it "
                               "was then.")
    ] = "main",
    lang: Annotated[
        list[str] | None, typer.Option("--lang", "-l", help="Language code (Hub tag language:<code>); repeat. "
                                                            "With --from-dump [default: every language].")
    ] = None,
    top: Annotated[
        int | None, typer.Option(help="How many datasets per language [default: 700; with --from-dump: all].",
                                 min=1, show_default=False)
    ] = None,
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
    authors: Annotated[
        bool | None, typer.Option("--authors/--no-authors", show_default=False,
                                  help="Look up whether authors are users or organizations [default: on; with "
                                       "--from-dump: off, kinds known from earlier snapshots are reused].")
    ] = None,
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

    With --from-dump, read every dataset of every language from a published dump of dataset cards instead (a few
    requests, minutes for the whole Hub); the snapshot records the dump's repo and commit (docs/dump.md).

    Examples:

      curate snapshot --lang ko --top 700

      curate snapshot --lang zh --lang ja --lang ko --lang en --db hub.duckdb

      curate snapshot --resume            # finish a run that was interrupted

      curate snapshot --from-dump         # every dataset of the Hub, from librarian-bots/dataset_cards_with_metadata

      curate snapshot --from-dump --revision <commit> --lang ko   # the Hub as a past dump saw it

    HF_ENDPOINT (or --endpoint) selects the Hub or a mirror; HF_TOKEN opens gated datasets, is never stored, and is
    only sent to that endpoint's origin (a listing page linking elsewhere is not followed). --resume goes back to the
    endpoint the snapshot was taken from. Credentials in an endpoint URL are used but never stored or shown.
    """
    from curate import api, config
    from curate.progress import setup_logging

    if dump_repo and not from_dump:
        raise typer.BadParameter(f"a repo ({dump_repo}) is only read with --from-dump", param_hint="REPO")
    if not lang and not (resume or resume_id or from_dump):
        raise typer.BadParameter("give at least one --lang (or --resume, or --from-dump)", param_hint="--lang")
    setup_logging(state.debug)
    console = Console(stderr=True)
    if from_dump:
        dumped = api.snapshot_from_dump(dump_repo, revision=revision, langs=lang or [], top=top, db=db,
                                        endpoint=endpoint, resume=resume_id or resume, authors=bool(authors),
                                        concurrency=concurrency, rate=rate or None, timeout=timeout,
                                        max_wait=max_wait)
        _print_dump(dumped, config.db_path(db))
        return
    summary = api.snapshot(lang or [], top=top or 700, sort=sort, db=db, endpoint=endpoint,
                           resume=resume_id or resume, concurrency=concurrency, rate=rate or None,
                           authors=authors is not False, timeout=timeout, max_wait=max_wait,
                           max_card_bytes=max_card_bytes,
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


def _print_dump(summary: DumpSummary, path: Path) -> None:
    """What a dump snapshot holds: the languages with most datasets, then the counts."""
    table = Table(title=f"snapshot {summary.snapshot_id}{' (resumed)' if summary.resumed else ''}: "
                        f"{summary.repo} at {summary.revision[:12]}"
                        f"{f' ({summary.date:%Y-%m-%d})' if summary.date else ''}")
    for col in ("language", "listed"):
        table.add_column(col)
    shown = sorted(summary.listed.items(), key=lambda kv: (-kv[1], kv[0]))
    for code, n in shown[:30]:
        table.add_row(code, f"{n:,}")
    if len(shown) > 30:
        table.add_row(f"... {len(shown) - 30} more languages", f"{sum(n for _, n in shown[30:]):,}")
    Console().print(table)
    typer.echo(f"{summary.rows:,} dump rows in {summary.files} files: {summary.datasets:,} datasets stored, "
               f"{summary.cards:,} cards, {summary.missing_cards:,} without a card in the dump, "
               f"{summary.bad_rows:,} bad rows, {summary.errors:,} error rows in {summary.seconds:.1f}s; store: {path}")
