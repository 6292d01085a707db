"""`check_contamination`: benchmark items inside training corpora, stored as a run."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curate import config
from curate.errors import CurateError, UsageError

if TYPE_CHECKING:
    from analyses.contamination import CheckResult, Source

log = logging.getLogger("curate")
MAX_ERROR_LINES = 20
WRITTEN_LEDGER = "written-files.json"  # in the work folder: ids files curate wrote, with their sha256


@dataclass
class ContaminationRun:
    """A stored check: its run id in the store, the result per benchmark item, and, with ``hub_mentions``,
    the Hub datasets (of the chosen snapshot) whose id or card names each benchmark."""

    run_id: int
    result: CheckResult
    mentions: dict[str, list[str]] | None = None
    doc_ids_file: Path | None = None
    store: Path | None = None

    def summary(self) -> dict[str, dict[str, float | int]]:
        """Per benchmark: items, checked, contaminated, exact, rate."""
        return self.result.summary()

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape (docs/contamination.md), with ``hub_mentions`` when they were looked up."""
        out = self.result.to_json()
        if self.mentions is not None:
            for name in self.result.benchmarks:
                out["benchmarks"][name]["hub_mentions"] = self.mentions.get(name, [])
        return out


def check_contamination(benchmarks: Sequence[str | Path | Source], corpora: Sequence[str | Path | Source], *,
                        text_field: str = "text", id_field: str = "id", benchmark_text_field: str | None = None,
                        benchmark_id_field: str | None = None, split: str = "train",
                        benchmark_split: str = "test", ngram: int = 13, char_ngram: int = 15,
                        min_tokens: int = 8, threshold: float = 0.5, workers: int = 0, engine: str = "local",
                        ray_address: str | None = None, save_doc_ids: str | Path | None = None,
                        overwrite: bool = False, hub_mentions: bool = False, snapshot: str | int = "latest",
                        work_dir: str | Path | None = None, restart: bool = False, store_wait: float = 60.0,
                        db: str | Path | None = None, on_error: Callable[[str], None] | None = None,
                        advance: Callable[[int], None] | None = None) -> ContaminationRun:
    """Check every benchmark item against every corpus document (exact normalized match and word or
    character n-gram overlap, CJK-aware) and store the run.

    Benchmarks and corpora are files, folders or Hub dataset ids (a benchmark optionally ``NAME=SOURCE``), or
    `analyses.contamination.Source` objects. The scan is resumable in ``work_dir`` (default ``.curate-work``
    beside the store); the ids of contaminated documents go to ``save_doc_ids`` before the store is touched
    (an existing file is replaced when a check of this store wrote it and it is unchanged since, or with
    ``overwrite``; otherwise it is refused before any work), and a store locked for longer than ``store_wait``
    seconds keeps the finished scan for a rerun.
    """
    from analyses.contamination import Settings, persist, run_check
    from analyses.contamination import Source as SourceType
    from analyses.contamination.mentions import find_mentions
    from curate.corpus import FieldOptions
    from curate.engines import make_engine
    from curate.files import check_output_file, record_written, written_as_recorded
    from curate.progress import Messages
    from curate.store import Store, StoreLocked

    store_path = config.db_path(db)
    root = Path(work_dir) if work_dir else store_path.parent / ".curate-work"
    ledger = root / WRITTEN_LEDGER  # ids files this store's checks wrote: a rerun may replace them
    if save_doc_ids is not None:  # before reading anything
        check_output_file(save_doc_ids, "--save-doc-ids", overwrite=overwrite,
                          written_by_curate=written_as_recorded(ledger))
    try:
        settings = Settings(word_n=ngram, char_n=char_ngram, min_tokens=min_tokens, threshold=threshold)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    # A benchmark's fields default to the corpus's; a field its records lack is reported under the option
    # the user typed (an inherited id field may be missing: items are then named NAME:LINE).
    options = FieldOptions(text="--benchmark-text-field" if benchmark_text_field else "--text-field",
                           id="--benchmark-id-field" if benchmark_id_field else None,
                           text_for=None if benchmark_text_field else "--benchmark-text-field")
    benches = [b if isinstance(b, SourceType) else
               SourceType.parse(str(b), text_field=benchmark_text_field or text_field,
                                id_field=benchmark_id_field or id_field, split=benchmark_split, options=options)
               for b in benchmarks]
    sources = [c if isinstance(c, SourceType) else
               SourceType.parse(str(c), text_field=text_field, id_field=id_field, split=split) for c in corpora]
    report = on_error or Messages(lambda message: log.warning("skipped: %s", message), limit=MAX_ERROR_LINES)
    n_workers = workers or os.cpu_count() or 1
    result = run_check(benches, sources, settings, workers=n_workers,
                       engine=make_engine(engine, workers=n_workers, address=ray_address),
                       on_error=report, advance=advance,
                       work_root=root,
                       restart=restart, keep_progress=True)
    if not any(result.benchmarks.values()):
        result.discard_progress()
        raise CurateError("no benchmark items could be read (see the messages above)")
    # The ids file needs no store: written first, so a store that cannot take the run does not cost it.
    ids_file = Path(save_doc_ids) if save_doc_ids is not None else None
    if ids_file is not None:
        persist.write_doc_ids(ids_file, result.contaminated_doc_ids)
        record_written(ledger, ids_file)
    try:
        with Store(store_path, wait=store_wait) as store:
            found = find_mentions(store.con, [b.name for b in benches], snapshot) if hub_mentions else None
            run_id = persist.save(store.con, result, found)
    except StoreLocked as exc:
        written = f"; the ids are written to {ids_file}" if ids_file is not None else ""
        raise CurateError(f"{exc}; the finished scan is kept in {result.progress}: rerun the same command to "
                          f"store it without scanning again{written}") from None
    result.discard_progress()  # only now: the results are stored
    mentions = None if found is None else {
        b.name: found.filter(found["benchmark"] == b.name)["repo_id"].to_list() for b in benches}
    return ContaminationRun(run_id, result, mentions, ids_file, store_path)
