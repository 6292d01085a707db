"""`curate report`: the Hub study's measurements for a snapshot, as tables, JSON, Markdown or HTML."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from curate.cli.app import DbOption, app, store_to_read

DEFAULT_MIN_DATASETS = 50  # analyses.league.DEFAULT_MIN_DATASETS (not imported: keeps --help fast)


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
    db: DbOption = None,
) -> None:
    """Measure a snapshot: size, language make-up, tasks, licenses, ownership, documentation, instruction
    datasets over time and domain focus, per language.

    Examples:

      curate report --lang ko --lang ja

      curate report --format json > report.json

      curate report --out report/ --compare 1

      curate report --all-languages --min-datasets 100 --lang ko --out league/
    """
    from analyses import diff, league, render, study
    from curate.store import Store

    if all_languages and compare is not None:
        raise typer.BadParameter("--compare diffs per language; leave out --all-languages", param_hint="--compare")
    with Store(store_to_read(db), read_only=True) as store:
        if all_languages:
            ranked = league.compute(store, snapshot=snapshot, min_datasets=min_datasets, highlight=lang,
                                    overrides_file=ownership_overrides)
            result_report, details = ranked.report, {"highlight": ranked.highlight}
            if out is not None:
                render.write_league(ranked, out)
        elif out is not None:
            render.write_report(store.con, out, langs=lang, snapshot=snapshot, overrides_file=ownership_overrides,
                                compare=compare)
            result_report = json.loads((out / "report.json").read_text(encoding="utf-8"))
            details = json.loads((out / "details.json").read_text(encoding="utf-8"))
        else:
            result = study.compute(store.con, snapshot=snapshot, langs=lang, overrides_file=ownership_overrides)
            result_report, details = result.report, dict(result.details)
            if compare is not None:
                details["diff"] = diff.compare(store.con, compare, result_report["snapshot"]["id"], langs=lang)
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
