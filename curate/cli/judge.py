"""`curate judge` (label a corpus sample with LLM judges) and `curate judges agree` (how far they agree)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from curate.cli.app import DbOption, app
from curate.http import DEFAULT_MAX_WAIT_S
from curate.judges.client import DEFAULT_KEY_ENV, DEFAULT_MAX_RESPONSE_BYTES
from curate.judges.rubrics import PromptLanguage

judges_app = typer.Typer(
    name="judges",
    help="Inspect LLM judge labels: agreement between judges, per language and against gold labels.",
    no_args_is_help=True,
)
app.add_typer(judges_app, name="judges")


class Format(StrEnum):
    table = "table"
    json = "json"


@app.command()
def judge(
    input: Annotated[str, typer.Option("--input", help="Corpus: .jsonl[.gz]/.parquet/.csv file, a directory of them, or a Hub dataset id.")],
    out: Annotated[Path, typer.Option(help="Labels parquet to write.")] = Path("labels.parquet"),
    sample: Annotated[int, typer.Option(help="Documents to label, split evenly across languages (0 = all).")] = 1000,
    model: Annotated[str | None, typer.Option(help="Model name for the main judge (with --api-base).")] = None,
    api_base: Annotated[str | None, typer.Option(help="OpenAI-compatible API base of the main judge, e.g. http://localhost:8000/v1.")] = None,
    judges: Annotated[list[str] | None, typer.Option("--judge", help="Another judge as NAME=MODEL@URL; repeat.")] = None,
    rubric: Annotated[str, typer.Option(help="Shipped rubric name, or a directory of <lang>.md rubric files.")] = "educational",
    prompt_language: Annotated[PromptLanguage, typer.Option(help="'en': English rubric, document in its own language; 'native': rubric in the document's language where localized.")] = PromptLanguage.en,
    concurrency: Annotated[int, typer.Option(min=1, help="Requests in flight per judge.")] = 32,
    text_field: Annotated[str, typer.Option(help="Text field(s) of the corpus, comma-separated.")] = "text",
    id_field: Annotated[str, typer.Option(help="Document id field.")] = "id",
    lang_field: Annotated[str, typer.Option(help="Language field; documents without one get fastText language ID.")] = "lang",
    lang: Annotated[list[str] | None, typer.Option("--lang", help="Only sample these languages; repeat.")] = None,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    cache: Annotated[Path | None, typer.Option(help="Cache directory [default: next to --out].")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the answer cache.")] = False,
    api_key_env: Annotated[str, typer.Option(help="Environment variable holding the API key (never stored).")] = DEFAULT_KEY_ENV,
    judge_key_env: Annotated[list[str] | None, typer.Option("--judge-key-env", help="NAME=VAR: judge NAME reads its key from VAR instead; repeat.")] = None,
    max_chars: Annotated[int, typer.Option(min=1, help="Characters of each document sent to the judge.")] = 12_000,
    max_tokens: Annotated[int, typer.Option(min=1, help="Completion token limit per answer.")] = 512,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds for one request, answer read in full, before it is retried.")] = 120.0,
    max_retries: Annotated[int, typer.Option(min=0, help="Retries per document on 429/5xx/timeouts.")] = 5,
    max_wait: Annotated[float, typer.Option(min=0, help="Longest Retry-After honoured, in seconds; a server asking for longer fails the document at once and gets no more requests this run.")] = DEFAULT_MAX_WAIT_S,
    max_response_kb: Annotated[int, typer.Option(min=1, help="Largest answer read, in KB; a larger one fails its document (not retried).")] = DEFAULT_MAX_RESPONSE_BYTES // 1024,
    structured: Annotated[bool, typer.Option(help="Ask for a JSON-schema answer (response_format); falls back automatically.")] = True,
    db: DbOption = None,
) -> None:
    """Label a seeded, language-stratified sample of a corpus with one or more LLM judges (0-5 scores).

    Any OpenAI-compatible server works (vLLM, llama.cpp, Ollama, SGLang, hosted APIs). Answers are cached by
    content, so re-running (or resuming an interrupted run) sends no request twice. Failed documents are kept
    in the parquet with an empty score and the error.

    Examples:

      curate judge --input corpus/ --sample 2000 --model google/gemma-3-27b-it --api-base http://gpu1:8000/v1

      curate judge --input web.parquet --judge gemma=google/gemma-3-27b-it@http://gpu1:8000/v1 --judge llama=meta-llama/Llama-3.3-70B-Instruct@http://gpu2:8000/v1 --prompt-language native --out labels.parquet
    """
    from rich.console import Console
    from rich.table import Table

    from curate import api
    from curate.progress import setup_logging

    key_envs: dict[str, str] = {}
    for item in judge_key_env or []:
        name, sep, var = item.partition("=")
        if not sep or not name or not var:
            raise typer.BadParameter(f"--judge-key-env {item!r}: expected NAME=VAR", param_hint="--judge-key-env")
        key_envs[name] = var
    setup_logging()
    run = api.judge(input, out=out, model=model, api_base=api_base, judges=judges or [], key_envs=key_envs,
                    sample=sample, rubric=rubric, prompt_language=prompt_language.value, concurrency=concurrency,
                    text_field=text_field, id_field=id_field, lang_field=lang_field or None, langs=lang,
                    seed=seed, cache=cache, use_cache=not no_cache, api_key_env=api_key_env,
                    max_chars=max_chars, max_tokens=max_tokens, timeout=timeout, max_retries=max_retries,
                    max_wait=max_wait, max_response_kb=max_response_kb, structured=structured, db=db,
                    on_sample=_print_sample)
    console = Console(stderr=True)
    table = Table(title=f"{run.n_docs} documents, {len(run.tallies)} judge(s), {run.seconds:.1f}s")
    for column in ("judge", "labels", "scored", "failed", "from cache", "requests"):
        table.add_column(column, justify="left" if column == "judge" else "right")
    for name, t in run.tallies.items():
        table.add_row(name, str(t.labels), str(t.scored), str(t.failed), str(t.cached), str(t.requests))
    console.print(table)
    typer.echo(f"labels written to {out}")
    for name, t in run.failed.items():
        typer.echo(f"warning: {name}: {t.failed} of {t.labels} documents failed (first: {t.first_error})", err=True)


def _print_sample(per_lang: dict[str, int], skipped: list[str]) -> None:
    """What was drawn, before the judges are asked (a long run shows at once what it works on)."""
    if skipped:
        typer.echo(f"skipped {len(skipped)} unreadable records (first: {skipped[0]})", err=True)
    typer.echo("sample: " + ", ".join(f"{code} {n}" for code, n in per_lang.items()), err=True)


def _fmt(stat: dict | None) -> str:
    if not stat or stat.get("value") is None:
        return "n/a"
    lo, hi = stat["ci"]
    ci = f" [{round(lo, 2) + 0.0:.2f}, {round(hi, 2) + 0.0:.2f}]" if lo is not None and hi is not None else ""
    return f"{round(stat['value'], 3) + 0.0:.3f}{ci}"


def _print_tables(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    level = int(report["bootstrap"]["level"] * 100)
    intervals = f"{level}% bootstrap CI" if report["bootstrap"]["resamples"] else "no bootstrap: --bootstrap 0"
    scored = Table(title="Judges")
    for column in ("scope", "judge", "scored", "failed labels", "mean score"):
        scored.add_column(column, justify="left" if column in ("scope", "judge") else "right")
    multi = Table(title=f"Agreement between judges ({intervals})")
    for column in ("scope", "docs", "failed labels", "Fleiss' kappa", "Krippendorff's alpha", "mean Spearman"):
        multi.add_column(column, justify="left" if column == "scope" else "right")
    pairs = Table(title="Pairs of judges")
    for column in ("scope", "judges", "n", "weighted kappa", "Spearman", "exact"):
        pairs.add_column(column, justify="left" if column in ("scope", "judges") else "right")
    gold = Table(title=f"Judges against gold labels ({intervals})")
    for column in ("scope", "judge", "n", "Pearson", "Spearman", "MSE"):
        gold.add_column(column, justify="left" if column in ("scope", "judge") else "right")
    for scope, s in report["scopes"].items():
        for judge in report["judges"]:
            mean = s["mean_score"][judge]
            scored.add_row(scope, judge, str(s["n_scored"][judge]), str(s["n_failed"][judge]),
                           "n/a" if mean is None else f"{mean:.2f}")
        ms = s.get("mean_spearman")
        multi.add_row(scope, str(s["n_docs"]), str(sum(s["n_failed"].values())), _fmt(s.get("fleiss_kappa")), _fmt(s.get("krippendorff_alpha")),
                      "n/a" if ms is None else f"{ms:.3f}")
        for p in s["pairs"]:
            exact = p["exact_agreement"]
            pairs.add_row(scope, " / ".join(p["judges"]), str(p["n"]), _fmt(p["weighted_kappa"]),
                          _fmt(p["spearman"]), "n/a" if exact is None else f"{exact:.2f}")
        for judge, g in (s.get("gold") or {}).items():
            gold.add_row(scope, judge, str(g["n"]), _fmt(g["pearson"]), _fmt(g["spearman"]), _fmt(g["mse"]))
    console.print(scored)
    if len(report["judges"]) >= 2:
        console.print(multi)
        console.print(pairs)
    if report["gold"]:
        console.print(gold)
    failed = {j: n for j, n in report["failed"].items() if n}
    if failed:
        console.print("failed labels (left out): " + ", ".join(f"{j}: {n}" for j, n in failed.items()))
    for scope, s in report["scopes"].items():
        for note in s["notes"]:
            console.print(f"note ({scope}): {note}")


@judges_app.command("agree")
def agree(
    labels: Annotated[list[Path], typer.Argument(metavar="LABELS", help="Labels parquet file(s) from `curate judge` (doc_id, judge, score[, lang]).")],
    gold: Annotated[Path | None, typer.Option(help="Gold labels (.parquet/.csv/.jsonl with doc_id, score).")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="What to print on stdout.")] = Format.table,
    out: Annotated[Path | None, typer.Option(help="Also write agreement.json and the judge x language heatmap (PNG, SVG) here.")] = None,
    lang: Annotated[list[str] | None, typer.Option("--lang", help="Only report these languages (overall still uses all); repeat.")] = None,
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap resamples for confidence intervals (0 = none).")] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
) -> None:
    """Agreement of LLM judges, overall and per language: weighted Cohen's kappa, Fleiss' kappa, Krippendorff's
    alpha and Spearman between judges; Pearson, Spearman and MSE against gold labels; bootstrap CIs.

    Examples:

      curate judges agree labels.parquet

      curate judges agree labels.parquet --gold human.parquet --format json --out agreement/
    """
    import json

    from curate import api

    result = api.agreement(labels, gold=gold, langs=lang, bootstrap=bootstrap, seed=seed, out=out)
    report = result.data
    text = json.dumps(report, ensure_ascii=False, indent=2)
    if fmt is Format.json:
        typer.echo(text)
    else:
        _print_tables(report)
    if out is not None:
        typer.echo(f"agreement.json and heatmap written to {out}", err=fmt is Format.json)
