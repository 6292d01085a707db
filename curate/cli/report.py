"""`curate report`: the Hub study's measurements for a snapshot, as tables, JSON, Markdown or HTML."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from curate.api.hub import DEFAULT_MIN_DATASETS
from curate.cli.app import DbOption, app, store_to_read

if TYPE_CHECKING:
    from analyses.trends import Trends


class Format(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"
    html = "html"


@app.command()
def report(
    lang: Annotated[list[str] | None, typer.Option("--lang", help="Language code; repeat. [default: all listed] With --all-languages: the languages to point out. [default: ko, ja, zh, en]")] = None,
    all_languages: Annotated[bool, typer.Option("--all-languages", help="A league table of every language with at least --min-datasets datasets, plus a figure.")] = False,
    min_datasets: Annotated[int, typer.Option(help="With --all-languages: leave out languages with fewer datasets.", min=1)] = DEFAULT_MIN_DATASETS,
    snapshot: Annotated[str, typer.Option(help="Snapshot id or 'latest'.")] = "latest",
    fmt: Annotated[Format, typer.Option("--format", help="What to print on stdout.")] = Format.table,
    out: Annotated[Path | None, typer.Option(help="Also write report.json/.md/.html, details.json and figures (PNG, SVG) here (a league: report.json/.md/.html and fig_league).")] = None,
    ownership_overrides: Annotated[
        Path | None, typer.Option(help="CSV author,ownership (individual|institute|company|unknown) to correct ownership.")
    ] = None,
    compare: Annotated[str | None, typer.Option(help="An older snapshot id to diff against (new/removed datasets, license changes, download movers).")] = None,
    trends: Annotated[bool, typer.Option("--trends", help="Instead, trends by month up to --snapshot over the snapshots of its source (past revisions of a dump, or crawls): datasets, license families, documentation per language.")] = False,
    db: DbOption = None,
) -> None:
    """Measure a snapshot: size, language make-up, tasks, licenses, ownership, documentation, instruction
    datasets over time and domain focus, per language.

    Examples:

      curate report --lang ko --lang ja

      curate report --format json > report.json

      curate report --out report/ --compare 1

      curate report --all-languages --min-datasets 100 --lang ko --out league/

      curate report --trends --lang ko --out trends/     # after snapshots of several dump revisions
    """
    from analyses import render
    from curate import api

    if trends:
        if compare is not None:
            raise typer.BadParameter("--trends already compares every snapshot; leave --compare out",
                                     param_hint="--compare")
        for given, flag in ((all_languages, "--all-languages"), (ownership_overrides is not None, "--ownership-overrides"),
                            (min_datasets != DEFAULT_MIN_DATASETS, "--min-datasets")):
            if given:  # said, not silently ignored
                raise typer.BadParameter(f"--trends does not take {flag}; leave it out", param_hint=flag)
        _print_trends(api.trends(db=store_to_read(db), langs=lang, snapshot=snapshot, out=out), fmt, out)
        return
    if min_datasets != DEFAULT_MIN_DATASETS and not all_languages:
        raise typer.BadParameter("--min-datasets goes with --all-languages", param_hint="--min-datasets")
    result = api.report(db=store_to_read(db), langs=lang, snapshot=snapshot, out=out,
                        ownership_overrides=ownership_overrides, compare=compare, all_languages=all_languages,
                        min_datasets=min_datasets)
    result_report, details = result.report, result.details
    if fmt is Format.json:
        typer.echo(json.dumps(result_report, ensure_ascii=False, indent=2))
    elif fmt is Format.markdown:
        typer.echo(render.to_markdown(result_report, details))
    elif fmt is Format.html:
        typer.echo(render.to_html(result_report, details))
    else:
        render.print_tables(result_report, details)
        if "diff" in details:
            for code, d in details["diff"]["languages"].items():
                typer.echo(f"{code}: {len(d['new'])} new, {len(d['removed'])} removed, "
                           f"{len(d['license_changes'])} license changes since snapshot {details['diff']['old']}")
    if out is not None:
        typer.echo(f"report and figures written to {out}", err=fmt is not Format.table)


def _print_trends(result: Trends, fmt: Format, out: Path | None) -> None:
    """`curate report --trends`: the trends in ``fmt``; the files are already in ``out`` when given."""
    from analyses import render, trends

    if fmt is Format.json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    elif fmt is Format.markdown:
        typer.echo(render.sections_markdown(trends.title(result), trends.sections(result)))
    elif fmt is Format.html:
        typer.echo(render.sections_html(trends.title(result), trends.sections(result)))
    else:
        render.print_sections(trends.title(result), trends.sections(result))
    if out is not None:
        typer.echo(f"trends and figure written to {out}", err=fmt is not Format.table)
