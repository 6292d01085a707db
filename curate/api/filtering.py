"""`filter_corpus`: keep the best documents by annotator score and export parquet shards with a card."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curate import config
from curate.errors import CurateError, UsageError


@dataclass
class FilterRun:
    """A finished export: the output folder, its manifest (counts per language, thresholds, shards, the rule,
    decontamination; docs/filter.md) and the recorded run id (None for a dry run, which writes nothing)."""

    out: Path
    manifest: dict[str, Any]
    run_id: int | None = None

    @property
    def n_kept(self) -> int:
        return int(self.manifest["counts"]["kept"])


def filter_corpus(inputs: str | Path | Sequence[str | Path], scores: str | Path | Sequence[str | Path], *,
                  keep_top: float | None = None, min_score: float | None = None, per_language: bool = False,
                  langs: Sequence[str] | None = None, all_heads: bool = False, heads: Sequence[str] | None = None,
                  column: str = "score", decontaminate: bool = False, contaminated_ids: str | Path | None = None,
                  contamination_run: int | None = None, out: str | Path = "filtered", shard_size_mb: float = 256.0,
                  overwrite: bool = False, text_field: str = "text", id_field: str = "id",
                  lang_field: str | None = "lang", split: str = "train", lid_model: str | Path | None = None,
                  engine: str = "local", ray_address: str | None = None, db: str | Path | None = None,
                  command: str | None = None, dry_run: bool = False,
                  on_message: Callable[[str], None] | None = None) -> FilterRun:
    """Keep the top documents by score (``keep_top`` share, per language with ``per_language``; or on every
    head, as JQL does, with ``all_heads``), above ``min_score``, optionally without contaminated documents,
    and export them to ``out`` as bounded parquet shards with a dataset card and manifest; record the run.

    ``decontaminate`` drops the ids in ``contaminated_ids`` (a file, or the JSON report), or else those of the
    newest stored contamination run that checked these inputs (``contamination_run`` picks another).
    ``command`` is the command line the card records as provenance. ``dry_run`` decides and counts (the same
    passes, the same manifest, ``"dry_run": true`` and no shards) and writes nothing: no ``out`` folder, no
    export, no recorded run.
    """
    from curate.corpus import ReadSpec, source_name
    from curate.engines import make_engine
    from curate.files import path_text, refuse_output_over_input
    from curate.filtering.pipeline import FilterOptions, plan_sources, run_filter
    from curate.filtering.rules import Rule
    from curate.runs import record
    from curate.store import Store

    sources = [str(i) for i in ([inputs] if isinstance(inputs, (str, Path)) else inputs)]
    score_files = [Path(s) for s in ([scores] if isinstance(scores, (str, Path)) else scores)]
    out = Path(out)
    refuse_output_over_input(out, [*sources, *score_files], "--out")  # before any work: never over the corpus
    if keep_top is None and min_score is None:
        raise UsageError("give --keep-top, --min-score or both", "--keep-top")
    stored: list[str] | None = None
    stored_source = None
    if decontaminate and contaminated_ids is None:
        store_path = config.db_path(db)
        with Store(store_path, read_only=True) as store:
            try:
                run_id = store.contamination_run_for([source_name(i) for i in sources], contamination_run)
            except CurateError as exc:
                if contamination_run is not None:
                    raise
                raise CurateError(f"{exc}: run `curate contamination --corpus ...` first, or pass "
                                  "--contaminated-ids FILE") from None
            stored = store.contaminated_ids(run_id)
        stored_source = f"contamination run {run_id} in {store_path}"
    options = FilterOptions(
        inputs=sources, scores=score_files, out=out,
        rule=Rule(keep_top=keep_top, min_score=min_score, per_language=per_language, all_heads=all_heads,
                  column=column, heads=tuple(heads) if heads else None),
        langs=list(langs) if langs else None,
        contaminated_ids=Path(contaminated_ids) if contaminated_ids is not None else None,
        contaminated=stored, contaminated_source=stored_source,
        read=ReadSpec(text_field=text_field, id_field=id_field, lang_field=lang_field or None, split=split),
        lid_model=Path(lid_model) if lid_model is not None else None, shard_size_mb=shard_size_mb,
        overwrite=overwrite, command=command, dry_run=dry_run,
    )
    options, planned = plan_sources(options)  # a field the records lack fails here, before Ray starts
    if engine == "ray":
        from curate.engines.ray import ray_session

        with ray_session(ray_address):  # one Ray for both passes
            result = run_filter(options, make_engine("ray", address=ray_address), on_message=on_message,
                                sources=planned)
    else:
        result = run_filter(options, make_engine(engine), on_message=on_message, sources=planned)
    manifest = result.manifest
    if dry_run:  # nothing was written, so there is no run to record
        return FilterRun(out, manifest, None)
    # Valid text for the store: a path argument may not be (a file name that is not UTF-8).
    run_id = record(db, "filter", [path_text(i) for i in [*sources, *map(str, score_files)]], out,
                    {"rule": manifest.get("rule"), "engine": engine}, n_docs=manifest["counts"].get("kept"))
    return FilterRun(out, manifest, run_id)
