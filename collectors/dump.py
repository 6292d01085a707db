"""`curate snapshot --from-dump`: a snapshot of every dataset of the Hub from a published dump of dataset cards.

A crawl asks the Hub for one listing page and one card per dataset, so it is bounded by the Hub's quota (about
ten cards a second anonymously). Daily dumps of all dataset cards with their metadata are published as Hub
datasets of parquet files (``librarian-bots/dataset_cards_with_metadata``: one row per dataset with ``datasetId``,
``author``, ``last_modified``, ``downloads``, ``likes``, ``tags``, ``task_categories``, ``createdAt`` and
``card``, the README.md). Reading one takes a few requests and minutes, and its past revisions are the Hub as it
was then, so snapshots of them give history (`analyses.trends`).

How a dump is read:

- through huggingface_hub against the same endpoint as a crawl (``--endpoint``, else ``HF_ENDPOINT``; ``HF_TOKEN``
  is sent by huggingface_hub to that endpoint only): the revision asked for (``main`` by default) is resolved to
  its commit, which the snapshot records with the repo and the commit's date; the repo's parquet files at that
  commit are downloaded into the Hugging Face cache (resumed there when cut off);
- every file's schema is checked before anything is stored: a missing column or one of the wrong type ends the
  run in one line naming it (`REQUIRED` columns must be there; `OPTIONAL` ones are read when they are);
- files are read in record batches of ``batch_rows`` rows, so memory holds one batch of card texts (and one
  parquet row group being decoded), never the dump;
- each row becomes the Hub API record a crawl would have listed (``cardData`` is the card's YAML header) and goes
  through the crawl's own parsing (`collectors.records.record_row`): the same ``datasets`` rows, the card in
  ``cards``. A row that cannot be stored becomes an error row (stage ``dump``); a card the dump does not have
  becomes an error row (stage ``card``), not a guess; a broken YAML header an error row (stage ``yaml``) next to
  the stored card; a repeated id an error row. Datasets without a ``language:`` tag in scope are not stored;
- listings are made as a crawl's: per ``language:`` tag, ranked by downloads (``--lang`` to keep some languages,
  ``--top`` to keep the top of each);
- each batch is committed together with the count of rows done in its file, so a killed import keeps what it
  stored, the snapshot is marked ``interrupted`` and ``--resume`` carries on after the last batch. A snapshot is
  marked ``complete`` only once every row is stored and the listings are made.

Authors: a dump does not say whether an author is a user or an organization. Kinds learnt by earlier snapshots
in the store are reused; ``authors=True`` asks the Hub for the rest (two API requests each, paced as a crawl's),
which for a whole Hub is many hours of anonymous quota, so it is off by default.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from collectors.records import (
    DATASET_SCHEMA,
    ERROR_SCHEMA,
    BadRecord,
    card_metadata,
    error_row,
    one_line,
    record_row,
    repo_id_problem,
    shown,
)
from collectors.snapshot import SnapshotOptions, check_online, interruptible, look_up_authors, resume_endpoint
from curate import config, http
from curate.errors import CurateError
from curate.progress import track
from curate.store import DumpFile, Store

log = logging.getLogger("curate.snapshot")

DEFAULT_REPO = "librarian-bots/dataset_cards_with_metadata"
REQUIRED = {"datasetId": "string", "tags": "list of strings", "downloads": "integer", "card": "string"}
OPTIONAL = {"author": "string", "likes": "integer", "createdAt": "timestamp or string",
            "last_modified": "timestamp or string"}
CARD_SCHEMA = {"snapshot_id": pl.Int32, "repo_id": pl.Utf8, "sha": pl.Utf8, "text": pl.Utf8, "bytes": pl.Int64,
               "decode_errors": pl.Boolean, "fetched_at": pl.Datetime("us", "UTC")}


@dataclass
class DumpOptions:
    """Which dump to read and what to keep of it."""

    repo: str = DEFAULT_REPO
    revision: str = "main"  # a branch, tag or commit of the dump repo; past commits are the Hub as it was
    endpoint: str | None = None
    langs: list[str] = field(default_factory=list)  # empty: every language
    top: int | None = None  # per language; None: every dataset
    batch_rows: int = 2_000
    memory_limit: str | None = "512MB"  # DuckDB's cache while importing (`Store.memory_limit`); None: unchanged
    authors: SnapshotOptions | None = None  # look up unknown authors with these settings; None: reuse known kinds


@dataclass
class DumpSummary:
    snapshot_id: int
    endpoint: str  # without credentials
    repo: str
    revision: str  # the commit read
    date: datetime | None  # the commit's date: when the data describes the Hub
    files: int = 0
    rows: int = 0  # rows read from the dump (this run and earlier runs of a resumed import)
    listed: dict[str, int] = field(default_factory=dict)
    datasets: int = 0
    cards: int = 0
    missing_cards: int = 0
    bad_rows: int = 0
    errors: int = 0
    authors: int = 0
    seconds: float = 0.0
    resumed: bool = False


def check_schema(schema: pa.Schema, where: str) -> list[str]:
    """The columns to read from a dump file; a `CurateError` naming the first column that is missing or of the
    wrong type. Strings may be large strings and lists large lists; dates may be timestamps or ISO strings."""
    def kind(t: pa.DataType) -> str:
        if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
            return "string"
        if pa.types.is_integer(t):
            return "integer"
        if pa.types.is_timestamp(t):
            return "timestamp"
        if (pa.types.is_list(t) or pa.types.is_large_list(t)) and kind(t.value_type) == "string":
            return "list of strings"
        return str(t)

    names = set(schema.names)
    for name in REQUIRED:
        if name not in names:
            raise CurateError(f"{where}: no column '{name}', which a dump of dataset cards needs (it has "
                              f"{', '.join(schema.names) or 'none'})")
    columns = []
    for name, want in {**REQUIRED, **OPTIONAL}.items():
        if name not in names:
            log.warning("%s: no column '%s'; left empty", where, name)
            continue
        got = kind(schema.field(name).type)
        if got not in want.split(" or "):
            raise CurateError(f"{where}: column '{name}' is {got}, not {want}")
        columns.append(name)
    return columns


@dataclass
class _Batch:
    """The rows one batch of a dump file adds to each table."""

    datasets: list[dict[str, Any]] = field(default_factory=list)
    cards: dict[str, list[Any]] = field(default_factory=lambda: {k: [] for k in CARD_SCHEMA})
    errors: list[dict[str, Any]] = field(default_factory=list)

    def frames(self) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        return (pl.DataFrame(self.datasets, schema=DATASET_SCHEMA), pl.DataFrame(self.cards, schema=CARD_SCHEMA),
                pl.DataFrame(self.errors, schema=ERROR_SCHEMA))


def _in_scope(tags: object, langs: set[str]) -> bool:
    """Whether a row has a ``language:`` tag the snapshot keeps (any language when ``langs`` is empty)."""
    if tags is None:
        return False
    if not isinstance(tags, list):
        return True  # a bad row: kept, to become an error row
    codes = [t[9:] for t in tags if isinstance(t, str) and t.startswith("language:") and len(t) > 9]
    return bool(codes) and (not langs or any(c in langs for c in codes))


def add_row(batch: _Batch, snapshot_id: int, row: dict[str, Any], fetched_at: datetime) -> bool:
    """Turn one dump row into the rows it stores (dataset, card, error rows) in ``batch``; False when the row
    cannot be stored as a dataset (then it is one ``dump`` error row)."""
    rid = row.get("datasetId")
    card = row.get("card")
    has_card = isinstance(card, str) and card.strip() != ""
    meta: dict[str, Any] | None = None
    yaml_problem = None
    if has_card:
        try:
            meta = card_metadata(card) or None
        except Exception as exc:  # any header the YAML parser refuses, however broken
            yaml_problem = f"card YAML header: {shown(one_line(exc), 300)}"
    record = {"id": rid, "author": row.get("author"), "downloads": row.get("downloads"), "likes": row.get("likes"),
              "tags": row.get("tags"), "cardData": meta, "createdAt": row.get("createdAt"),
              "lastModified": row.get("last_modified")}
    try:
        dataset = record_row(snapshot_id, record)
    except BadRecord as exc:
        dataset = None
        if meta is not None:  # the row is fine but for what its card's header holds: keep the row without it
            try:
                dataset = record_row(snapshot_id, {**record, "cardData": None})
                yaml_problem = f"card metadata cannot be stored: {exc}"
            except BadRecord as again:
                exc = again
        if dataset is None:
            batch.errors.append(error_row(snapshot_id, _error_id(exc.repo_id if exc.repo_id else rid), "dump",
                                          f"row cannot be stored: {exc}", None))
            return False
    batch.datasets.append(dataset)
    if has_card:
        text: str = card  # type: ignore[assignment]
        for key, value in (("snapshot_id", snapshot_id), ("repo_id", dataset["repo_id"]), ("sha", None),
                           ("text", text), ("bytes", len(text.encode("utf-8"))),
                           ("decode_errors", False), ("fetched_at", fetched_at)):
            batch.cards[key].append(value)
    else:
        batch.errors.append(error_row(snapshot_id, dataset["repo_id"], "card", "the dump has no card for it", None))
    if yaml_problem:
        batch.errors.append(error_row(snapshot_id, dataset["repo_id"], "yaml", yaml_problem, None))
    return True


def _error_id(repo_id: object) -> str | None:
    if isinstance(repo_id, str):
        return repo_id if not repo_id_problem(repo_id) else shown(repo_id, 200)
    return None


def _hub_error(what: str, exc: Exception, secrets: list[str]) -> CurateError:
    """One line for a failed Hub call, without credentials."""
    name = type(exc).__name__
    detail = http.redact(one_line(exc), secrets)
    if "RepositoryNotFound" in name:
        detail = "no such dataset repo (or it is private or gated and HF_TOKEN cannot read it)"
    elif "RevisionNotFound" in name:
        detail = "no such revision"
    return CurateError(f"{what}: {detail}")


def _progress_class(advance: Callable[[float], None]) -> type:
    """A tqdm class for huggingface_hub's downloads that feeds curate's progress bar and prints nothing itself."""
    from huggingface_hub.utils import tqdm as hf_tqdm

    class _Bar(hf_tqdm):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            advance(n or 0)
            return None

    return _Bar


class _Dump:
    """The Hub side of one dump import: the repo at one commit, its files, downloads into the HF cache."""

    def __init__(self, endpoint: str, token: str | None, repo: str) -> None:
        from huggingface_hub import HfApi

        self.endpoint = endpoint
        self.token = token
        self.repo = repo
        self.secrets = [s for s in (token, *http.url_secrets(endpoint)) if s]
        self.api = HfApi(endpoint=endpoint, token=token or False)
        self.where = f"dump {repo} on {http.public_url(endpoint)}"

    def resolve(self, revision: str) -> tuple[str, datetime | None]:
        """The commit ``revision`` names and its date."""
        try:
            info = self.api.dataset_info(self.repo, revision=revision)
        except Exception as exc:
            raise _hub_error(f"cannot read {self.where} at revision {revision}", exc, self.secrets) from exc
        if not info.sha:
            raise CurateError(f"{self.where}: the Hub did not say which commit revision {revision} is")
        return info.sha, info.last_modified

    def parquet_files(self, sha: str) -> list[tuple[str, int | None]]:
        """(path, size) of every parquet file of the repo at ``sha``, in path order."""
        from huggingface_hub.hf_api import RepoFile

        try:
            entries = list(self.api.list_repo_tree(self.repo, repo_type="dataset", revision=sha, recursive=True))
        except Exception as exc:
            raise _hub_error(f"cannot list the files of {self.where} at {sha[:12]}", exc, self.secrets) from exc
        files = sorted((e.path, e.size) for e in entries if isinstance(e, RepoFile) and e.path.endswith(".parquet"))
        if not files:
            raise CurateError(f"{self.where} has no parquet files at {sha[:12]}: not a dump of dataset cards")
        return files

    def download(self, sha: str, path: str, advance: Callable[[float], None]) -> Path:
        """The file in the Hugging Face cache, downloaded (or resumed) there if need be."""
        from huggingface_hub import hf_hub_download

        try:
            return Path(hf_hub_download(self.repo, path, repo_type="dataset", revision=sha, endpoint=self.endpoint,
                                        token=self.token or False, cache_dir=config.hf_hub_cache(),
                                        tqdm_class=_progress_class(advance)))
        except Exception as exc:
            raise _hub_error(f"cannot download {path} of {self.where} at {sha[:12]}", exc, self.secrets) from exc


def _start(store: Store, opts: DumpOptions, resume: int | bool | None, token: str | None
           ) -> tuple[int, bool, str, _Dump, str, datetime | None]:
    """(snapshot id, resumed, endpoint, the dump, commit, its date). A resumed import keeps its endpoint, repo,
    commit and the languages and top it was started with."""
    if resume:
        found = store.unfinished_dump(None if resume is True else int(resume))
        if found is None:
            raise CurateError("nothing to resume: every dump snapshot in the store is complete")
        info, stored, query = found
        endpoint = resume_endpoint(info.id, stored, opts.endpoint)
        settings = json.loads(query)
        opts.repo, opts.langs, opts.top = str(info.dump_repo), list(settings["langs"]), settings["top"]
        store.set_snapshot_status(info.id, "running")
        return info.id, True, endpoint, _Dump(endpoint, token, opts.repo), str(info.dump_revision), info.data_date
    endpoint = config.hub_endpoint(opts.endpoint)
    dump = _Dump(endpoint, token, opts.repo)
    sha, date = dump.resolve(opts.revision)
    files = dump.parquet_files(sha)
    query = json.dumps({"langs": opts.langs, "top": opts.top, "sort": "downloads",
                        "dump": {"repo": opts.repo, "revision": opts.revision}})
    sid = store.start_dump_snapshot(datetime.now(UTC), http.public_url(endpoint), query, opts.repo, sha, date, files)
    return sid, False, endpoint, dump, sha, date


def take_dump_snapshot(store: Store, opts: DumpOptions, *, resume: int | bool | None = None,
                       token: str | None = None) -> DumpSummary:
    """Read a dump of dataset cards into a new snapshot (or, with ``resume``, finish one); return what it holds."""
    started = time.monotonic()
    check_online()
    token = token if token is not None else config.hub_token()
    sid, resumed, endpoint, dump, sha, date = _start(store, opts, resume, token)
    summary = DumpSummary(sid, http.public_url(endpoint), opts.repo, sha, date, resumed=resumed)
    finish_with = f"curate snapshot --from-dump --resume-id {sid}"
    with interruptible(store, sid, finish_with), store.memory_limit(opts.memory_limit):
        files = store.dump_files(sid)
        paths = _download(store, sid, dump, sha, files)
        files = store.dump_files(sid)
        summary.files = len(files)
        summary.rows = _read_all(store, sid, opts, files, paths)
        summary.listed = store.list_dump_datasets(sid, opts.langs, opts.top)
        hint = f"; snapshot {sid} is kept: finish it then with `{finish_with}`"
        look_up_authors(store, sid, opts.authors, endpoint, token, hint)
        store.set_snapshot_status(sid, "complete", datetime.now(UTC))
    counts = store.snapshot_counts(sid)
    summary.datasets, summary.cards, summary.authors = counts["datasets"], counts["cards"], counts["authors"]
    summary.errors, summary.bad_rows = counts["errors"], counts.get("errors_dump", 0)
    summary.missing_cards = summary.datasets - summary.cards
    summary.seconds = time.monotonic() - started
    return summary


def _download(store: Store, sid: int, dump: _Dump, sha: str, files: list[DumpFile]
              ) -> dict[str, tuple[Path, list[str]]]:
    """Every file of the dump in the local cache with the columns to read from it: its schema checked and its
    row count recorded."""
    total = sum(f.size or 0 for f in files) or None
    paths: dict[str, tuple[Path, list[str]]] = {}
    with track("downloading the dump", total=total, unit="bytes") as progress:
        for f in files:
            local = dump.download(sha, f.path, progress.advance)
            try:
                meta = pq.ParquetFile(local)
            except (pa.ArrowException, OSError) as exc:
                raise CurateError(f"{dump.where}: {f.path} is not a parquet file: {one_line(exc)}") from exc
            columns = check_schema(meta.schema_arrow, f"{dump.where}: {f.path}")
            if f.rows is None:
                store.set_dump_file_rows(sid, f.path, meta.metadata.num_rows)
            paths[f.path] = (local, columns)
    return paths


def _read_all(store: Store, sid: int, opts: DumpOptions, files: list[DumpFile],
              paths: dict[str, tuple[Path, list[str]]]) -> int:
    """Store every row of every file not stored yet, a batch at a time; return the rows of the dump."""
    langs = set(opts.langs)
    seen = store.dump_dataset_ids(sid)
    total = sum(f.rows or 0 for f in files)
    with track("reading the dump", total=total, unit="rows", show_rate=True) as progress:
        progress.advance(sum(f.rows_done for f in files))
        for f in files:
            if f.rows is not None and f.rows_done >= f.rows:
                continue
            local, columns = paths[f.path]
            _read_file(store, sid, f.path, local, columns, f.rows_done, langs, seen, opts.batch_rows,
                       progress.advance)
    return total


def _read_file(store: Store, sid: int, path: str, local: Path, columns: list[str], done: int, langs: set[str],
               seen: set[str], batch_rows: int, advance: Callable[[float], None]) -> None:
    """Store the rows of one file after the first ``done`` (stored by an earlier run)."""
    parquet = pq.ParquetFile(local)
    starts, offset = [], 0
    for i in range(parquet.metadata.num_row_groups):
        starts.append(offset)
        offset += parquet.metadata.row_group(i).num_rows
    groups = [i for i, start in enumerate(starts)
              if start + parquet.metadata.row_group(i).num_rows > done]  # row groups not wholly stored
    position = starts[groups[0]] if groups else offset
    for record_batch in parquet.iter_batches(batch_size=batch_rows, row_groups=groups, columns=columns):
        rows = record_batch.to_pylist()
        skip = max(0, done - position)
        position += len(rows)
        if skip >= len(rows):
            continue
        batch, fetched_at = _Batch(), datetime.now(UTC)
        for row in rows[skip:]:
            if not _in_scope(row.get("tags"), langs):
                continue
            rid = row.get("datasetId")
            if isinstance(rid, str) and rid in seen:
                batch.errors.append(error_row(sid, _error_id(rid), "dump", "repeated in the dump: only its first "
                                              "row is stored", None))
                continue
            if add_row(batch, sid, row, fetched_at):
                seen.add(batch.datasets[-1]["repo_id"])
        store.add_dump_batch(sid, path, position, *batch.frames())
        advance(len(rows) - skip)
