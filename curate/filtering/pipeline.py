"""One filter run: scores + corpus in, parquet shards + dataset card + manifest out.

Steps (each engine runs the two corpus passes of `curate.filtering.sources`; everything else is here, so the
local and the Ray engine cannot drift apart):

1. read the scores (a few columns, vectorised with polars);
2. pass 1 over the corpus: ids, languages, lengths; language id for documents with no language anywhere;
3. decide, in one vectorised join: which documents are scored, duplicated, in a selected language,
   contaminated; the per-language cuts; keep or not;
4. pass 2 over the corpus: the kept texts, in corpus order, into bounded-size shards;
5. card and manifest; then, and only then, everything is moved from the staging directory into ``out``.

Pass 1 of each local file is saved as it completes (`curate.filtering.scan_cache`), so a rerun after a kill
or a failure skips it; pass 2 starts over (it only reads the kept texts and writes shards).

A document's language is the first of: the scores file's ``lang``, the corpus's language field, fastText
language id on its text; codes are reduced to one spelling per language (`curate.langid.base_language`), and a document
with none of these is ``und``. Duplicate corpus ids keep their first occurrence.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from curate.engines import Engine, Task
from curate.engines.local import LocalEngine
from curate.errors import CurateError
from curate.files import LockHeld, check_output_dir, claim_output_dir, exclusive_lock, make_temp_dir
from curate.filtering import card
from curate.filtering.contaminated import read_contaminated_ids
from curate.filtering.langs import UNKNOWN, base_language_expr
from curate.filtering.rules import Rule, compute_thresholds, keep_mask
from curate.filtering.scan_cache import CACHE_DIR, cache_key, scan_workdir
from curate.filtering.scores import Scores, read_scores
from curate.filtering.shards import ShardWriter
from curate.filtering.sources import SCAN_SCHEMA, ExportReader, ReadSpec, ScanReader, output_schema
from curate.langid import base_language
from curate.progress import Messages, track
from curate.workdir import WorkDir, run_resumable

log = logging.getLogger(__name__)

MAX_MESSAGES = 20  # bad-input lines printed one by one; the rest are counted
LOCK_FILE = ".curate-filter.lock"  # in OUT while a run writes there
STAGING_PREFIX = ".curate-filter-"
_STAGING_NAME = re.compile(r"\.curate-filter-[a-z0-9_]{8}")  # what tempfile.mkdtemp makes of the prefix


@dataclass
class FilterOptions:
    inputs: list[str]
    scores: list[Path]
    out: Path
    rule: Rule
    langs: list[str] | None = None
    contaminated_ids: Path | None = None
    contaminated: list[str] | None = None  # ids given directly (from the store), instead of a file
    contaminated_source: str | None = None  # where `contaminated` came from, for the card
    read: ReadSpec = field(default_factory=ReadSpec)
    lid_model: Path | None = None
    shard_size_mb: float = 256.0
    overwrite: bool = False
    batch_size: int = 2048
    command: str | None = None  # the command line, for the card's provenance
    dry_run: bool = False  # decide and count, write nothing (no --out folder, no export, no saved first pass)


@dataclass
class FilterResult:
    out: Path
    manifest: dict[str, Any]

    @property
    def n_kept(self) -> int:
        return int(self.manifest["counts"]["kept"])


__all__ = ["Engine", "FilterOptions", "FilterResult", "LocalEngine", "run_filter"]  # engines: curate.engines


def _examples(ids: pl.Series, n: int = 3) -> str:
    return ", ".join(repr(x) for x in ids.head(n).to_list())


def is_filtered_dataset(out: Path) -> bool:
    """A folder holding a filtered dataset written by a curate that left no marker yet: its manifest.json
    has the fields every curate filter manifest has."""
    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and {"curate_version", "shards", "counts", "rule"} <= manifest.keys()


def _existing_output(out: Path) -> list[Path]:
    found = [p for p in (out / "manifest.json", out / "README.md") if p.exists()]
    data = out / "data"
    if data.is_dir():
        found += sorted(data.glob("train-*-of-*.parquet"))
    return found


def _lid_labels(lid_model: Path | None) -> set[str] | None:
    """The languages the language-ID model knows, to flag codes nobody will recognise."""
    try:
        from curate.langid import known_languages

        return known_languages(lid_model)
    except Exception:  # no model, or a model without labels: skip the check, it is advisory only
        return None


def decide(docs: pl.DataFrame, scores: Scores, rule: Rule, columns: list[str], langs: list[str] | None,
           contaminated: pl.Series | None) -> tuple[pl.DataFrame, dict[str, dict[str, float | None]]]:
    """Per corpus row: lang, scored, first, selected, contaminated, keep (plus the score columns)."""
    frame = scores.frame.rename({"lang": "score_lang"}).with_columns(pl.lit(True).alias("scored"))
    j = docs.with_columns(pl.col("id").is_first_distinct().alias("first")).join(
        frame, left_on="id", right_on="doc_id", how="left", maintain_order="left")
    wanted = sorted({lang for lang in (base_language(x) for x in langs or []) if lang})
    j = j.with_columns(
        pl.coalesce(base_language_expr("score_lang"), base_language_expr("corpus_lang"), base_language_expr("detected_lang"), pl.lit(UNKNOWN)).alias("lang"),
        pl.col("scored").fill_null(False),
    )
    j = j.with_columns(
        (pl.col("lang").is_in(wanted) if wanted else pl.lit(True)).alias("selected"),
        (pl.col("id").is_in(contaminated.implode()) if contaminated is not None else pl.lit(False)).alias("contaminated"),
    )
    j = j.with_columns((pl.col("scored") & pl.col("first") & pl.col("selected") & ~pl.col("contaminated"))
                       .alias("eligible"))
    pool = j.filter(pl.col("eligible"))
    thresholds = compute_thresholds(pool, rule, columns)
    passes = keep_mask(j, rule, columns, thresholds)
    j = j.with_columns((pl.col("eligible") & passes).alias("keep"))
    return j, thresholds


def language_table(j: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """Counts and retention per language, over unique corpus documents."""
    table = (
        j.filter(pl.col("first"))
        .group_by("lang")
        .agg(
            pl.len().alias("docs"),
            pl.col("scored").sum().alias("scored"),
            pl.col("selected").first().alias("selected"),
            pl.col("contaminated").sum().alias("contaminated"),
            pl.col("keep").sum().alias("kept"),
            pl.col("n_chars").sum().alias("chars"),
            pl.col("n_chars").filter(pl.col("keep")).sum().alias("kept_chars"),
        )
        .sort("lang")
    )
    out: dict[str, dict[str, Any]] = {}
    for row in table.iter_rows(named=True):
        lang = row.pop("lang")
        row = {k: (bool(v) if k == "selected" else int(v or 0)) for k, v in row.items()}
        row["retention"] = row["kept"] / row["docs"] if row["docs"] else 0.0
        row["char_retention"] = row["kept_chars"] / row["chars"] if row["chars"] else 0.0
        out[lang] = row
    return out


def _scan(engine: Engine, sources: list[str], options: FilterOptions, detect: bool,
          workdir: WorkDir) -> pl.DataFrame:
    """Pass 1 over every source, the ones a killed run finished loaded from the work folder."""
    lid_model = str(options.lid_model) if options.lid_model else None
    keys = [cache_key(s, options.read, detect, lid_model) for s in sources]
    read = ScanReader(options.read, detect, lid_model, options.batch_size)
    tables: list[pa.Table] = []
    with track("filter: reading ids", unit="docs") as tracker:
        for piece in run_resumable(engine, sources, read, workdir=workdir, keys=keys):
            table = piece.table
            if piece.resumed:  # saved under its own key, maybe at another place in another run's corpus
                table = table.set_column(0, "source", pa.array([piece.index] * table.num_rows, pa.int32()))
            tables.append(table)
            tracker.advance(table.num_rows)
    frame = pl.from_arrow(pa.concat_tables(tables) if tables else SCAN_SCHEMA.empty_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


@contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold ``OUT/.curate-filter.lock`` for a whole run, so two runs into one folder cannot mix their files.

    Without it both runs passed the "already holds a filtered dataset" check, both exited 0, and the folder
    ended with shards of one and the manifest of the other. The second run now fails at once, naming the
    first one's pid. Once the lock is held no other run is writing here, so staging folders left by a
    killed run (kill -9 skips every cleanup) are removed; the saved first pass is kept for the rerun. A
    folder this run created and leaves empty (it failed before writing anything) is removed again.
    """
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise CurateError(f"--out {out} is a file, not a folder") from exc
    except NotADirectoryError as exc:
        raise CurateError(f"--out {out}: a folder above it is a file") from exc
    try:
        with exclusive_lock(out / LOCK_FILE):
            for left in out.iterdir():
                if _STAGING_NAME.fullmatch(left.name) and left.is_dir() and not left.is_symlink():
                    log.info("filter: removing %s, left by a run that was killed", left)
                    shutil.rmtree(left, ignore_errors=True)
            yield
    except LockHeld as exc:
        if exc.path != out / LOCK_FILE:
            raise
        raise CurateError(f"another curate filter is writing {out}" + (f" (pid {exc.pid})" if exc.pid else "")
                          + "; wait for it to finish or choose another --out") from None
    finally:
        if created:
            with suppress(OSError):
                out.rmdir()  # only when empty


def plan_sources(options: FilterOptions) -> tuple[FilterOptions, list[str]]:
    """The sources a run reads (each file of a folder input, named relative to it when records have no id,
    as a whole-folder read names them) and the options reading them; a missing input or a field the records
    lack stops the run here (`curate.corpus.ReadSpec.check_fields`), before any output or engine starts; so
    does an --out folder curate did not write (`curate.files.check_output_dir`)."""
    sources, read = options.read.sources(options.inputs)
    read.check_fields(sources)
    if not options.dry_run:
        check_output_dir(options.out, written_by_curate=is_filtered_dataset)
    return replace(options, read=read), sources


def run_filter(options: FilterOptions, engine: Engine | None = None,
               on_message: Callable[[str], None] | None = None, *,
               sources: list[str] | None = None) -> FilterResult:
    """Filter and export; raises `CurateError` for failures of the whole run, reports bad inputs and goes on.

    ``sources``: what `plan_sources` returned for ``options`` (a caller that starts an engine plans first);
    planned here otherwise (which refuses an --out folder curate did not write). The output folder is locked
    for the whole run (`output_lock`): a second run into it fails at once.
    """
    rule = options.rule
    rule.validate()
    if int(options.shard_size_mb * 1024 * 1024) < 16 * 1024:
        raise CurateError(f"--shard-size-mb {options.shard_size_mb} is too small (minimum 0.016, i.e. 16 KiB)")
    if sources is None:
        options, sources = plan_sources(options)
    if options.dry_run:  # nothing is written, so no folder to lock
        return _run_filter(options, sources, engine or LocalEngine(), on_message)
    with output_lock(options.out):
        return _run_filter(options, sources, engine or LocalEngine(), on_message)


def _run_filter(options: FilterOptions, sources: list[str], engine: Engine,
                on_message: Callable[[str], None] | None) -> FilterResult:
    rule = options.rule
    existing = [] if options.dry_run else _existing_output(options.out)
    if existing and not options.overwrite:
        raise CurateError(f"{options.out} already holds a filtered dataset ({existing[0].name}); "
                          "pass --overwrite to replace it or choose another --out")
    messages = Messages(on_message, limit=MAX_MESSAGES, rest="the rest are counted in the manifest")
    scores = read_scores(options.scores, messages)
    columns = rule.columns(scores.head_columns)
    missing = [c for c in columns if c not in scores.frame.columns]
    if missing:
        raise CurateError(f"scores have no column {missing[0]!r} (columns: {', '.join(scores.frame.columns)})")
    if options.contaminated_ids:
        contaminated = read_contaminated_ids(options.contaminated_ids)
    elif options.contaminated is not None:
        contaminated = pl.Series("doc_id", options.contaminated, dtype=pl.Utf8).unique(maintain_order=True)
    else:
        contaminated = None
    detect = bool(scores.frame.get_column("lang").null_count())

    if options.dry_run:  # the first pass in a private folder, gone with the run
        with tempfile.TemporaryDirectory(prefix="curate-filter-dry-run-") as tmp, \
                scan_workdir(Path(tmp) / CACHE_DIR) as workdir:
            return _decide_and_export(options, engine, messages, scores, columns, sources, contaminated, detect,
                                      workdir)
    with scan_workdir(options.out / CACHE_DIR) as workdir:
        return _decide_and_export(options, engine, messages, scores, columns, sources, contaminated, detect, workdir)


def _decide_and_export(options: FilterOptions, engine: Engine, messages: Messages, scores: Scores,
                       columns: list[str], sources: list[str], contaminated: pl.Series | None, detect: bool,
                       workdir: WorkDir) -> FilterResult:
    rule = options.rule
    max_bytes = int(options.shard_size_mb * 1024 * 1024)
    scan = _scan(engine, sources, options, detect, workdir)
    for line in scan.filter(pl.col("row") < 0).get_column("message").to_list():
        messages(line)
    docs = scan.filter(pl.col("row") >= 0).drop("message")
    j, thresholds = decide(docs, scores, rule, columns, options.langs, contaminated)
    counts = _counts(j, docs, scores, contaminated, messages)
    languages = language_table(j)
    _check_languages(languages, options, messages)
    detected = int(j.get_column("detected_lang").is_not_null().sum())
    if options.dry_run:
        manifest = card.manifest(options=options, engine=engine.name, sources=sources, scores=scores, rule=rule,
                                 columns=columns, thresholds=thresholds, counts=counts, languages=languages,
                                 contaminated=contaminated, detected=detected, shards=[], messages=messages)
        return FilterResult(options.out, {**manifest, "dry_run": True})

    if counts["kept"] == 0:
        messages("no document passed the filter; the export holds one empty shard")
    kept = j.filter(pl.col("keep")).select(["source", "row", "id", "lang", *scores_output_columns(scores)])
    kept_by_source = {int(k[0]): v for k, v in kept.partition_by("source", as_dict=True, maintain_order=True).items()}
    staging = make_temp_dir(STAGING_PREFIX, options.out)
    writer = ShardWriter(staging / "data", output_schema(scores_output_columns(scores)), max_bytes)
    try:
        with track("filter: exporting", total=kept.height, unit="docs") as tracker:
            read = ExportReader(options.read, kept_by_source, scores_output_columns(scores), options.batch_size)
            for table in engine.run([Task(i, sources[i]) for i in sorted(kept_by_source)], read):
                writer.write(table)
                tracker.advance(table.num_rows)
        shards = writer.finish()
        written = sum(s.rows for s in shards)
        if written != kept.height:
            raise CurateError(f"exported {written} documents but {kept.height} were kept; nothing written")
        manifest = card.manifest(options=options, engine=engine.name, sources=sources, scores=scores, rule=rule,
                                 columns=columns, thresholds=thresholds, counts=counts, languages=languages,
                                 contaminated=contaminated, detected=detected, shards=shards, messages=messages)
        card.write_files(staging, manifest)
        _publish(staging, options.out, options.overwrite)
        workdir.remove()  # published: the saved first pass is not needed any more
    except BaseException:
        writer.abort()
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return FilterResult(options.out, manifest)


def scores_output_columns(scores: Scores) -> list[str]:
    """Exported score columns: the mean first, then each head (heads that equal the mean are still kept)."""
    return ["score", *scores.head_columns]


def _counts(j: pl.DataFrame, docs: pl.DataFrame, scores: Scores, contaminated: pl.Series | None,
            messages: Messages) -> dict[str, int]:
    first = j.filter(pl.col("first"))
    unscored = first.filter(~pl.col("scored"))
    if unscored.height:
        messages(f"{unscored.height} corpus documents have no score and are not exported "
                 f"(e.g. {_examples(unscored.get_column('id'))})")
    dups = j.height - first.height
    if dups:
        messages(f"{dups} corpus documents repeat an earlier id and are skipped "
                 f"(e.g. {_examples(j.filter(~pl.col('first')).get_column('id'))})")
    orphans = scores.frame.join(docs.select("id"), left_on="doc_id", right_on="id", how="anti")
    if orphans.height:
        messages(f"{orphans.height} scored ids are not in the corpus (e.g. {_examples(orphans.get_column('doc_id'))})")
    n_unknown = int((first.get_column("lang") == UNKNOWN).sum())
    if n_unknown:
        messages(f"{n_unknown} documents have no identifiable language; they are grouped as '{UNKNOWN}'")
    return {
        "read": j.height,
        "unique": first.height,
        "duplicates": dups,
        "scored": int(first.get_column("scored").sum()),
        "unscored": unscored.height,
        "scores_rows": scores.frame.height,
        "scores_not_in_corpus": orphans.height,
        "selected": int((first.get_column("selected") & first.get_column("scored")).sum()),
        "contaminated_ids": 0 if contaminated is None else contaminated.len(),
        "contaminated_dropped": int((first.get_column("contaminated") & first.get_column("scored")
                                     & first.get_column("selected")).sum()),
        "unknown_language": n_unknown,
        "eligible": int(first.get_column("eligible").sum()),
        "kept": int(first.get_column("keep").sum()),
    }


def _check_languages(languages: dict[str, dict[str, Any]], options: FilterOptions, messages: Messages) -> None:
    for code in options.langs or []:
        norm = base_language(code)
        if norm and norm not in languages:
            messages(f"--lang {code}: no documents in this language")
    known = _lid_labels(options.lid_model)
    if known:
        strange = sorted(lang for lang in languages if lang != UNKNOWN and lang not in known)
        if strange:
            messages("language codes the language-ID model does not know (kept as their own groups): "
                     + ", ".join(strange))


def _publish(staging: Path, out: Path, overwrite: bool) -> None:
    """Move the finished files into ``out``: each by an atomic rename, old shards the new series does not
    replace are removed afterwards (only with overwrite), and the manifest and card come last."""
    claim_output_dir(out, "filter", written_by_curate=is_filtered_dataset)  # checked again: nothing came meanwhile
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    new = sorted((staging / "data").glob("*.parquet"))
    for shard in new:
        shard.replace(data / shard.name)
    if overwrite:
        names = {p.name for p in new}
        for old in data.glob("train-*-of-*.parquet"):
            if old.name not in names:
                old.unlink()
    for name in ("manifest.json", "README.md"):
        (staging / name).replace(out / name)
