"""`curate report`: the Hub study's measurements for a snapshot, as tables, JSON, Markdown or HTML."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from curate.cli.app import DbOption, app, store_to_read


class Format(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"
    html = "html"


@app.command()
def report(
    lang: Annotated[list[str] | None, typer.Option("--lang", help="Language code; repeat. [default: all listed]")] = None,
    snapshot: Annotated[str, typer.Option(help="Snapshot id or 'latest'.")] = "latest",
    fmt: Annotated[Format, typer.Option("--format", help="What to print on stdout.")] = Format.table,
    out: Annotated[Path | None, typer.Option(help="Also write report.json/.md/.html, details.json and figures (PNG, SVG) here.")] = None,
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

      curate report --trends --lang ko --out trends/     # after snapshots of several dump revisions
    """
    from analyses import diff, render, study
    from curate.store import Store

    if trends:
        if compare is not None:
            raise typer.BadParameter("--trends already compares every snapshot; leave --compare out",
                                     param_hint="--compare")
        _trends(db, lang, snapshot, fmt, out)
        return
    with Store(store_to_read(db), read_only=True) as store:
        if out is not None:
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


def _trends(db: Path | None, lang: list[str] | None, snapshot: str, fmt: Format, out: Path | None) -> None:
    """`curate report --trends`: compute, print in ``fmt``, and write the files when ``out`` is given."""
    from analyses import render, trends
    from curate.store import Store

    with Store(store_to_read(db), read_only=True) as store:
        result = trends.compute(store, snapshot=snapshot, langs=lang)
    if fmt is Format.json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    elif fmt is Format.markdown:
        typer.echo(render.sections_markdown(trends.title(result), trends.sections(result)))
    elif fmt is Format.html:
        typer.echo(render.sections_html(trends.title(result), trends.sections(result)))
    else:
        render.print_sections(trends.title(result), trends.sections(result))
    if out is not None:
        trends.write(result, out)
        typer.echo(f"trends and figure written to {out}", err=fmt is not Format.table)
