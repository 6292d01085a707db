"""The dataset card (README.md with a YAML header the Hub reads) and the manifest JSON of a filter run.

The manifest is the machine-readable record: inputs, scores files with checksums, the rule, the cuts per
language and head, counts and retention per language, the shards with checksums. The card says the same
for people, and its YAML ``configs`` entry lets ``datasets.load_dataset(DIR)`` find the shards directly.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from curate import markdown
from curate.files import clean_json, write_text_atomic
from curate.filtering.langs import UNKNOWN
from curate.sizes import size_category

if TYPE_CHECKING:
    import polars as pl

    from curate.filtering.pipeline import FilterOptions
    from curate.filtering.rules import Rule
    from curate.filtering.scores import Scores
    from curate.filtering.shards import Shard
    from curate.progress import Messages


def _version() -> str:
    try:
        return importlib_metadata.version("curate")
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


def manifest(*, options: FilterOptions, engine: str, sources: list[str], scores: Scores, rule: Rule,
             columns: list[str], thresholds: dict[str, dict[str, float | None]], counts: dict[str, int],
             languages: dict[str, dict[str, Any]], contaminated: pl.Series | None, detected: int,
             shards: list[Shard], messages: Messages) -> dict[str, Any]:
    """The manifest, every string in it valid UTF-8: input paths and the messages naming files may hold
    names that are not (`curate.files.clean_text`), and the card and the JSON must still be writable."""
    from curate.langid import default_model_path

    return clean_json({
        "tool": "curate filter",
        "curate_version": _version(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "engine": engine,
        "command": options.command,
        "inputs": list(options.inputs),
        "sources": sources,
        "read": {"text_field": options.read.text_field, "id_field": options.read.id_field,
                 "lang_field": options.read.lang_field},
        "scores": {"files": scores.files, "skipped_files": scores.skipped_files, "heads": scores.heads,
                   "rows": scores.frame.height, "duplicate_ids": scores.n_duplicates, "annotator": scores.metadata},
        "rule": {"keep_top": rule.keep_top, "min_score": rule.min_score, "per_language": rule.per_language,
                 "all_heads": rule.all_heads, "columns": columns, "description": rule.describe()},
        "languages_selected": sorted(options.langs) if options.langs else None,
        "decontamination": None if contaminated is None else {
            "ids_file": str(options.contaminated_ids or options.contaminated_source), "ids": contaminated.len(),
            "dropped": counts["contaminated_dropped"]},
        "language_id": {"model": str(options.lid_model or default_model_path()), "documents_detected": detected},
        "thresholds": thresholds,
        "counts": counts,
        "languages": languages,
        "shards": [{"path": f"data/{s.path.name}", "rows": s.rows, "bytes": s.bytes, "sha256": s.sha256}
                   for s in shards],
        "shard_size_limit_bytes": int(options.shard_size_mb * 1024 * 1024),
        "messages": {"count": messages.count, "first": messages.lines},
    })


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def render(m: dict[str, Any], name: str) -> str:
    """README.md text for a manifest."""
    counts = m["counts"]
    kept_langs = [code for code, row in m["languages"].items() if row["kept"] and code != UNKNOWN]
    header = {
        "language": kept_langs or None,
        "pretty_name": f"{name} (quality-filtered with curate)",
        "tags": ["curate", "quality-filtering", "jql"],
        "task_categories": ["text-generation"],
        "size_categories": [size_category(counts["kept"])],
        "configs": [{"config_name": "default",
                     "data_files": [{"split": "train", "path": "data/train-*.parquet"}]}],
    }
    header = {k: v for k, v in header.items() if v is not None}
    share = counts["kept"] / counts["unique"] if counts["unique"] else 0.0
    rule = m["rule"]
    cols = rule["columns"]
    parts = [
        "---\n" + yaml.safe_dump(header, allow_unicode=True, sort_keys=False) + "---",
        f"# {name}",
        f"Quality-filtered with `curate filter`: **{counts['kept']:,} of {counts['unique']:,} documents kept "
        f"({share:.1%})**, in {len(m['shards'])} parquet shard(s) under `data/`.",
        "## Loading\n\n```python\nfrom datasets import load_dataset\n\n"
        'ds = load_dataset("parquet", data_files="data/*.parquet", split="train")\n```\n\n'
        "Columns: `id`, `text`, `lang` (the language the thresholds used), `score` (mean of the annotator's "
        "heads) and one `score_<head>` per head.",
        "## How it was filtered",
        "\n".join([
            f"- Rule: {rule['description']}.",
            "- Languages: " + (", ".join(m["languages_selected"]) if m["languages_selected"] else "all") + ".",
            "- A document's language: the scores file's `lang`, else the corpus's language field, else fastText "
            f"language id (`{Path(m['language_id']['model']).name}`, used for "
            f"{m['language_id']['documents_detected']:,} documents); `{UNKNOWN}` when none could tell.",
            "- Decontamination: " + (
                f"{m['decontamination']['dropped']:,} documents dropped, listed in "
                f"`{m['decontamination']['ids_file']}` ({m['decontamination']['ids']:,} ids)."
                if m["decontamination"] else "not applied."),
            f"- Documents without a score: {counts['unscored']:,} (not exported); repeated ids: "
            f"{counts['duplicates']:,} (first kept); scored ids missing from the corpus: "
            f"{counts['scores_not_in_corpus']:,}.",
        ]),
    ]
    if m["thresholds"]:
        rows = [[code, *(_fmt(cuts.get(c)) for c in cols)] for code, cuts in m["thresholds"].items()]
        parts += ["## Thresholds", "Cut per " + ("language" if rule["per_language"] else "corpus")
                  + " and column (a document is kept at or above it):", markdown.table(["language", *cols], rows)]
    lang_rows = [[code, f"{r['docs']:,}", f"{r['scored']:,}", f"{r['contaminated']:,}", f"{r['kept']:,}",
                  f"{r['retention']:.1%}", f"{r['char_retention']:.1%}" + ("" if r["selected"] else " (not selected)")]
                 for code, r in m["languages"].items()]
    parts += ["## Counts and retention per language",
              markdown.table(["language", "documents", "scored", "contaminated", "kept", "retention", "characters kept"],
                     lang_rows)]
    score_files = "\n".join(f"  - `{f['path']}`: {f['rows']:,} rows, sha256 `{f['sha256'][:16]}…`"
                            for f in m["scores"]["files"])
    annotator = json.dumps(m["scores"]["annotator"], ensure_ascii=False) if m["scores"]["annotator"] else "not recorded"
    parts += ["## Provenance", "\n".join([
        "- Inputs: " + ", ".join(f"`{x}`" for x in m["inputs"]) + f" ({len(m['sources'])} source(s))",
        "- Scores (from `curate annotate`), heads " + ", ".join(f"`{h}`" for h in m["scores"]["heads"]) + ":",
        score_files,
        f"- Annotator: {annotator}",
        f"- Command: `{m['command']}`" if m["command"] else "- Command: (library call)",
        f"- curate {m['curate_version']}, engine `{m['engine']}`, {m['created_at']}",
        "- Full record: `manifest.json` (shard checksums, every count and threshold).",
    ])]
    return "\n\n".join(parts) + "\n"


def write_files(folder: Path, m: dict[str, Any]) -> None:
    """manifest.json and README.md into ``folder`` (the staging directory)."""
    write_text_atomic(folder / "manifest.json", json.dumps(m, ensure_ascii=False, indent=2) + "\n")
    name = Path(m["inputs"][0]).name if m["inputs"] else "filtered"
    write_text_atomic(folder / "README.md", render(m, f"{name}-filtered"))
