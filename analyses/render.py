"""The report as terminal tables (rich), Markdown or HTML, and ``write_report`` for a folder with figures."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from curate import markdown
from curate.files import check_output_dir, claim_output_dir, write_text_atomic
from curate.store import StoreSource

if TYPE_CHECKING:
    from analyses.league import League, Measure

Section = tuple[str, list[str], list[list[str]]]  # title, header, rows


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _value(measure: Measure, v: float) -> str:
    return _pct(v) if measure.share else f"{v:.0f}"


def league_sections(report: dict[str, Any], highlight: list[str] | None = None) -> list[Section]:
    """The league of languages (``curate report --all-languages``): one row per language, then where the
    highlighted languages stand by each measure (rank 1 = highest share)."""
    from analyses.league import MEASURES

    lg = report["league"]
    marked = set(highlight or [])
    n = len(lg["rows"])
    out: list[Section] = []
    for group in dict.fromkeys(m.group for m in MEASURES):
        cols = [m for m in MEASURES if m.group == group]
        rows = [[str(r["rank"]), f"{r['lang']} ◀" if r["lang"] in marked else r["lang"], str(r["n_datasets"]),
                 *(_value(m, r["values"][m.key]) for m in cols)] for r in lg["rows"]]
        about = "" if out else (f" ({n} with at least {lg['min_datasets']} datasets, of {lg['languages_listed']} "
                                "languages listed)")
        out.append((f"League of languages: {group}{about}", ["#", "lang", "datasets", *(m.title for m in cols)], rows))
    by_lang = {r["lang"]: r for r in lg["rows"]}
    shown = [lang for lang in highlight or [] if lang in by_lang]
    if shown:
        med = lg["medians"]
        place = [["datasets", f"{med['n_datasets']:.0f}",
                  *(f"{by_lang[x]['n_datasets']} (#{by_lang[x]['rank']})" for x in shown)]]
        place += [[m.title, _value(m, med[m.key]),
                   *(f"{_value(m, by_lang[x]['values'][m.key])} (#{by_lang[x]['ranks'][m.key]})" for x in shown)]
                  for m in MEASURES]
        out.append((f"Where {', '.join(shown)} stand{'s' if len(shown) == 1 else ''} among {n} languages "
                    "(#rank, 1 = highest)", ["measure", "median", *shown], place))
    return out


def sections(report: dict[str, Any], details: dict[str, Any] | None = None) -> list[Section]:
    """The report's tables, one row per language; shared by every text format. A league report (one with a
    ``league`` part) gets `league_sections`, highlighting ``details["highlight"]``."""
    if "league" in report:
        return league_sections(report, (details or {}).get("highlight"))
    L = report["languages"]
    langs = list(L)
    out: list[Section] = []

    def counts(title: str, key: str) -> None:
        keys = list(next(iter(L.values()))[key]) if L else []
        rows = [[lang, *(f"{L[lang][key][k]} ({_pct(L[lang][key][k] / max(L[lang]['n_datasets'], 1))})"
                         for k in keys)] for lang in langs]
        out.append((title, ["lang", *keys], rows))

    out.append(("Datasets", ["lang", "datasets", "instruction", "suggested cutoff (rank)"],
                [[lang, str(L[lang]["n_datasets"]), str(L[lang]["instruction"]["n"]),
                  str(((details or {}).get("languages", {}).get(lang, {}).get("cutoff") or {}).get("rank", "-"))]
                 for lang in langs]))
    counts("Language make-up", "makeup")
    counts("Size categories (Table 2)", "size")
    counts("License families", "license_family")
    counts("Ownership", "ownership")
    counts("Task categories", "tasks")
    counts("Domain focus", "domains")
    out.append(("Documentation", ["lang", "arXiv", "all 5 sections", "all 5 filled", "mean words", "median words"],
                [[lang, _pct(d["arxiv_share"]), _pct(d["all_sections_share"]), _pct(d["filled_sections_share"]),
                  f"{d['mean_words']:.0f}", f"{d['median_words']:.0f}"]
                 for lang, d in ((x, L[x]["docs"]) for x in langs)]))
    if details:
        out.append(("Provenance view", ["lang", "commercial", "non-commercial", "academic-only", "unspecified",
                                        "license text disagrees"],
                    [[lang, *(str(v) for v in details["languages"][lang]["provenance"].values()),
                      str(len(details["languages"][lang]["license_mismatch"]))] for lang in langs]))
    contamination = (details or {}).get("contamination") or []
    if contamination:
        out.append(("Contamination (newest run per benchmark)",
                    ["benchmark", "run", "corpora", "items", "checked", "contaminated", "exact", "rate"],
                    [[c["benchmark"], str(c["run_id"]), c["corpora"], str(c["n_items"]), str(c["n_checked"]),
                      str(c["n_contaminated"]), str(c["n_exact"]), _pct(c["rate"])] for c in contamination]))
    return out


def _title(report: dict[str, Any]) -> str:
    s = report["snapshot"]
    dump = f", dump {s['dump']['repo']} at {s['dump']['revision'][:12]}" if s.get("dump") else ""
    return f"curate report: snapshot {s['id']} ({s['taken_at']}, {s['endpoint']}{dump})"


def print_sections(title: str, tables: list[Section], console: Console | None = None) -> None:
    """Tables on the terminal (rich), under a bold title; shared by the report and the trends."""
    console = console or Console()
    console.print(f"[bold]{title}[/bold]")
    for name, header, rows in tables:
        table = Table(title=name, title_justify="left")
        for i, h in enumerate(header):
            # As narrow as its longest cell or header word: a long header wraps between words instead of
            # widening the table past the terminal, where rich would cut numbers short.
            widest = max([len(w) for w in h.split()] + [len(str(r[i])) for r in rows if i < len(r)], default=1)
            table.add_column(h, justify="left" if i == 0 else "right", max_width=widest)
        for row in rows:
            table.add_row(*row)
        console.print(table)


def sections_markdown(title: str, tables: list[Section], figures: list[str] | None = None) -> str:
    lines = [f"# {title}", ""]
    for name, header, rows in tables:
        lines += [f"## {name}", "", markdown.table(header, rows), ""]
    for f in figures or []:
        lines += [f"![{f}]({f})", ""]
    return "\n".join(lines)


def sections_html(title: str, tables: list[Section], figures: list[str] | None = None) -> str:
    e = html.escape
    parts = ["<!doctype html><html><head><meta charset='utf-8'>", f"<title>{e(title)}</title>",
             "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1.5em}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child{text-align:left}"
             "</style></head><body>", f"<h1>{e(title)}</h1>"]
    for name, header, rows in tables:
        parts.append(f"<h2>{e(name)}</h2><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows]
        parts.append("</table>")
    parts += [f"<figure><img src='{e(f)}' style='max-width:900px'></figure>" for f in figures or []]
    parts.append("</body></html>")
    return "\n".join(parts)


def is_report_folder(out: Path) -> bool:
    """A report, league or trends folder written by a curate that left no marker yet: its report.json (or
    trends.json) has the fields docs/report.schema.json (docs/trends.schema.json) requires."""
    for name, check in (("report.json", _is_report), ("trends.json", _is_trends)):
        try:
            data = json.loads((out / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and check(data):
            return True
    return False


def _is_report(data: dict[str, Any]) -> bool:
    snap = data.get("snapshot")
    return isinstance(snap, dict) and {"id", "taken_at", "endpoint"} <= snap.keys() and "languages" in data


def _is_trends(data: dict[str, Any]) -> bool:
    return isinstance(data.get("snapshots"), list) and "languages" in data


def write_league(result: League, out: Path) -> Path:
    """report.json (the docs/report.md object with its ``league`` part), report.md, report.html and the league
    figure (PNG, SVG) of an `analyses.league.League`, in ``out``."""
    from analyses import figures

    claim_output_dir(out, "report", written_by_curate=is_report_folder)  # refuses a folder curate did not write
    pngs = [p.name for p in figures.write_league(result.report, result.highlight, out) if p.suffix == ".png"]
    details = {"highlight": result.highlight}
    write_text_atomic(out / "report.json", json.dumps(result.report, ensure_ascii=False, indent=2))
    write_text_atomic(out / "report.md", to_markdown(result.report, details, pngs))
    write_text_atomic(out / "report.html", to_html(result.report, details, pngs))
    return out


def print_tables(report: dict[str, Any], details: dict[str, Any] | None = None,
                 console: Console | None = None) -> None:
    print_sections(_title(report), sections(report, details), console)


def to_markdown(report: dict[str, Any], details: dict[str, Any] | None = None,
                figures: list[str] | None = None) -> str:
    return sections_markdown(_title(report), sections(report, details), figures)


def to_html(report: dict[str, Any], details: dict[str, Any] | None = None, figures: list[str] | None = None) -> str:
    return sections_html(_title(report), sections(report, details), figures)


def write_report(source: StoreSource, out: Path, *, langs: list[str] | None = None,
                 snapshot: str | int = "latest", overrides_file: Path | None = None,
                 compare: str | int | None = None) -> Path:
    """report.json (the docs/report.md object), details.json, report.md, report.html and the figures, in ``out``."""
    from analyses import diff, figures, study

    check_output_dir(out, written_by_curate=is_report_folder)  # before the measurements
    result = study.compute(source, snapshot=snapshot, langs=langs, overrides_file=overrides_file)
    claim_output_dir(out, "report", written_by_curate=is_report_folder)  # refuses a folder curate did not write
    pngs = [p.name for p in figures.write_figures(result.report, result.details, out) if p.suffix == ".png"]
    details = dict(result.details)
    if compare is not None:
        details["diff"] = diff.compare(source, compare, result.report["snapshot"]["id"], langs=langs)
    write_text_atomic(out / "report.json", json.dumps(result.report, ensure_ascii=False, indent=2))
    write_text_atomic(out / "details.json", json.dumps(details, ensure_ascii=False, indent=2, default=str))
    write_text_atomic(out / "report.md", to_markdown(result.report, details, pngs))
    write_text_atomic(out / "report.html", to_html(result.report, details, pngs))
    return out
