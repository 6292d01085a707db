"""The DuckDB store: one embedded file for snapshots, cards, analyses, contamination and annotation runs.

The schema is versioned: ``curate/migrations/NNNN_name.sql`` files are applied in order, once each, and
the applied version is kept in ``schema_version``. A migration only ever moves forward; to change a
table, add a new file.

DuckDB lets one process write a file, and a process that reads it (``curate report``, the dashboard) keeps
writers out while it has it open. So a store that is in use is waited for, a while, before it is a clear
error (`Store`'s ``wait``), instead of throwing away the work of a run that only had its results to store.

The store owns its SQL: every query against its tables is a typed method of `StoreQueries` (which `Store`
is), returning a dataclass, plain values or a polars frame, so a table is read one way everywhere and a schema
change is made in one file. Errors the store raises speak of the store (a snapshot id, a run), never of the
command-line flag that happened to pass the value in.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import duckdb

from curate import config
from curate.errors import CurateError
from curate.http import public_url

if TYPE_CHECKING:  # polars is imported by the queries that return frames; the CLI imports this module early
    import polars as pl

_MIGRATION = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK_ERROR = re.compile(r"could not set lock|conflicting lock", re.IGNORECASE)
_LOCK_PID = re.compile(r"\(PID (\d+)\)")
DEFAULT_WAIT_S = 60.0  # how long a writer waits for a store another process has open
log = logging.getLogger("curate")


class StoreLocked(CurateError):
    """The store stayed locked by another process for the whole wait."""

    def __init__(self, path: Path, pid: int | None, waited: float) -> None:
        holder = f"another process (pid {pid})" if pid else "another process"
        super().__init__(f"store {path} is locked by {holder}, e.g. a `curate report`, the dashboard or another "
                         f"run; gave up after waiting {waited:g} s")
        self.path = path
        self.pid = pid


def is_lock_error(exc: BaseException) -> bool:
    """Whether a DuckDB error says another process holds the file's lock."""
    return isinstance(exc, duckdb.IOException) and bool(_LOCK_ERROR.search(str(exc)))


def migrations() -> list[tuple[int, str, str]]:
    """All shipped migrations as (version, name, sql), in version order."""
    found = []
    for entry in resources.files("curate.migrations").iterdir():
        m = _MIGRATION.match(entry.name)
        if m:
            found.append((int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions in curate/migrations: {versions}")
    return found


@dataclass(frozen=True)
class SnapshotInfo:
    """One snapshot as reports name it. ``endpoint`` is public: a mirror given as ``https://user:token@host``
    is stored as given (a resumed snapshot needs it) but never handed out with its credentials."""

    id: int
    taken_at: datetime
    endpoint: str
    status: str
    source: str = "crawl"  # crawl | dump
    dump_repo: str | None = None
    dump_revision: str | None = None  # the commit read
    data_date: datetime | None = None  # the dump revision's date

    @property
    def as_of(self) -> datetime:
        """The date the snapshot's data describes: a dump revision's commit date, or when a crawl was taken."""
        return self.data_date or self.taken_at

    def dump(self) -> dict[str, Any] | None:
        """The report's ``snapshot.dump`` object (repo, revision, date) for a snapshot read from a dump, else None."""
        if self.source != "dump":
            return None
        return {"repo": self.dump_repo, "revision": self.dump_revision,
                "date": self.data_date.isoformat() if self.data_date else None}

    def to_dict(self) -> dict[str, Any]:
        """The report's ``snapshot`` object (``taken_at`` in ISO 8601, ``dump`` for a dump's), plus the status."""
        out = {"id": self.id, "taken_at": self.taken_at.isoformat(), "endpoint": self.endpoint,
               "status": self.status}
        if self.source == "dump":
            out["dump"] = self.dump()
        return out


@dataclass(frozen=True)
class DumpFile:
    """A parquet file of a dump snapshot: its path in the dump repo, size, rows and how many rows are stored."""

    path: str
    size: int | None
    rows: int | None
    rows_done: int


@dataclass(frozen=True)
class ContaminationRun:
    """The run-level row of a contamination check; its items, documents and mentions are frames beside it."""

    created_at: datetime
    benchmarks: list[str]
    corpora: list[str]
    settings: str  # JSON
    n_docs: int
    n_bytes: int
    seconds: float
    n_errors: int
    sources: list[dict[str, Any]] = field(default_factory=list)  # `StoreQueries.contamination_sources`


class StoreQueries:
    """Typed reads and writes of the store's tables over one open DuckDB connection.

    `Store` is one of these over the file it opened. Code that was handed a bare connection (the CLI still
    passes ``store.con`` to the analyses) wraps it with `queries` instead of writing SQL of its own.
    Results are fetched completely: a half-read result stays pending on the shared connection, and DuckDB
    then refuses the caller's next query (``ResourceInUseException``).
    """

    con: duckdb.DuckDBPyConnection

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    # ---- schema ------------------------------------------------------------------------------------

    def has_table(self, name: str) -> bool:
        """Whether the store has table ``name`` (a store made before the migration that adds it has not)."""
        return bool(self.con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                                     [name]).fetchall()[0][0])

    def has_column(self, table: str, column: str) -> bool:
        """Whether ``table`` has ``column``: a reader (the dashboard) does not migrate an older store."""
        return bool(self.con.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = ? "
                                     "AND column_name = ?", [table, column]).fetchall()[0][0])

    # ---- snapshots ---------------------------------------------------------------------------------

    def snapshots(self) -> pl.DataFrame:
        """Every snapshot with its languages and counts, newest first; endpoints without credentials."""
        import polars as pl

        frame = self.con.sql("""
            SELECT s.id, s.taken_at, s.status, s.endpoint,
                   (SELECT string_agg(DISTINCT lang, ', ' ORDER BY lang) FROM listings l WHERE l.snapshot_id = s.id)
                       AS languages,
                   (SELECT count(*) FROM datasets d WHERE d.snapshot_id = s.id) AS datasets,
                   (SELECT count(*) FROM cards c WHERE c.snapshot_id = s.id) AS cards,
                   (SELECT count(*) FROM errors e WHERE e.snapshot_id = s.id) AS errors
            FROM snapshots s ORDER BY s.id DESC""").pl()
        return frame.with_columns(pl.col("endpoint").map_elements(public_url, return_dtype=pl.Utf8))

    def _snapshots(self, extra: str = "") -> str:
        """A SELECT of every snapshot (alias ``s``; dumps' rows alias ``d``) in the columns `_snapshot_info` reads,
        then ``extra`` ones. A store opened read-only is not migrated, so may not have the dump tables yet."""
        if self.has_table("dump_snapshots"):
            return ("SELECT s.id, s.taken_at, s.endpoint, s.status, CASE WHEN d.snapshot_id IS NULL THEN 'crawl' "
                    f"ELSE 'dump' END, d.repo, d.revision, d.data_date{extra} FROM snapshots s "
                    "LEFT JOIN dump_snapshots d ON d.snapshot_id = s.id")
        return f"SELECT s.id, s.taken_at, s.endpoint, s.status, 'crawl', NULL, NULL, NULL{extra} FROM snapshots s"

    @staticmethod
    def _snapshot_info(row: Sequence[Any]) -> SnapshotInfo:
        sid, taken_at, endpoint, status, source, repo, revision, data_date = row
        return SnapshotInfo(int(sid), taken_at, public_url(endpoint), status, source or "crawl", repo, revision,
                            data_date)

    def resolve_snapshot(self, snapshot: str | int = "latest") -> SnapshotInfo:
        """``"latest"`` is the newest snapshot that listed anything; an id (int or digits) must exist."""
        if str(snapshot) == "latest":
            rows = self.con.execute(f"""{self._snapshots()} WHERE s.id IN (SELECT snapshot_id FROM listings)
                                        ORDER BY s.id DESC LIMIT 1""").fetchall()
            if not rows:
                raise CurateError("the store holds no snapshot yet (take one with `curate snapshot`, or try "
                                  "`curate demo`)")
        else:
            try:
                sid = int(snapshot)
            except ValueError as exc:
                raise CurateError(f"a snapshot is an id or 'latest', not {snapshot!r}") from exc
            rows = self.con.execute(f"{self._snapshots()} WHERE s.id = ?", [sid]).fetchall()
            if not rows:
                raise CurateError(f"no snapshot {sid} in the store")
        return self._snapshot_info(rows[0])

    def snapshot_series(self, snapshot_id: int) -> list[SnapshotInfo]:
        """The snapshots a trend up to ``snapshot_id`` is drawn from, oldest data first: that snapshot and every
        complete one from the same source (the same dump repo, or crawls) whose data is not newer than its."""
        newest = self.resolve_snapshot(snapshot_id)
        rows = self.con.execute(f"""{self._snapshots()} WHERE (s.status = 'complete' OR s.id = ?)
                                    AND s.id IN (SELECT snapshot_id FROM listings)""", [snapshot_id]).fetchall()
        same = [s for s in map(self._snapshot_info, rows)
                if s.source == newest.source and s.dump_repo == newest.dump_repo and s.as_of <= newest.as_of]
        return sorted(same, key=lambda s: (s.as_of, s.id))

    def languages(self, *snapshot_ids: int) -> list[str]:
        """The languages any of the snapshots listed datasets for, sorted."""
        if not snapshot_ids:
            return []
        rows = self.con.execute("SELECT DISTINCT lang FROM listings WHERE list_contains(?, snapshot_id) "
                                "ORDER BY lang", [list(snapshot_ids)]).fetchall()
        return [r[0] for r in rows]

    def language_counts(self, snapshot_id: int) -> dict[str, int]:
        """{language: datasets the snapshot listed for it}, most datasets first (then by code)."""
        rows = self.con.execute("SELECT lang, count(*) AS n FROM listings WHERE snapshot_id = ? GROUP BY lang "
                                "ORDER BY n DESC, lang", [snapshot_id]).fetchall()
        return {lang: int(n) for lang, n in rows}

    def listings(self, snapshot_id: int, langs: Sequence[str] | None = None) -> pl.DataFrame:
        """(lang, rank, repo_id) of a snapshot's listings, for ``langs`` (default: every language)."""
        return self.con.sql("SELECT lang, rank, repo_id FROM listings WHERE snapshot_id = $sid "
                            "AND ($langs IS NULL OR list_contains($langs, lang))",
                            params={"sid": snapshot_id, "langs": list(langs) if langs else None}).pl()

    def listing_summary(self, snapshot_id: int) -> pl.DataFrame:
        """Per language of a snapshot: datasets listed, cards fetched and median downloads (lang, datasets,
        cards, median_downloads), by language code."""
        return self.con.sql("""
            SELECT l.lang, count(*) AS datasets, count(c.repo_id) AS cards,
                   median(d.downloads)::BIGINT AS median_downloads
            FROM listings l JOIN datasets d USING (snapshot_id, repo_id)
            LEFT JOIN cards c USING (snapshot_id, repo_id)
            WHERE l.snapshot_id = ? GROUP BY l.lang ORDER BY l.lang""", params=[snapshot_id]).pl()

    def listed_datasets(self, snapshot_id: int, lang: str | None = None, search: str = "", *,
                        limit: int | None = None, offset: int = 0) -> pl.DataFrame:
        """The listed datasets of a snapshot (one language or all), most downloaded first, with their license
        and size tags and card size; ``search`` keeps repo ids containing it (case-insensitive). ``limit`` and
        ``offset`` read one page (a language of a large snapshot has hundreds of thousands)."""
        return self.con.sql("""
            SELECT l.lang, l.rank, d.repo_id, d.author, d.downloads, d.downloads_all_time, d.likes,
                   list_filter(d.tags, lambda t: t LIKE 'license:%') AS licenses,
                   list_filter(d.tags, lambda t: t LIKE 'size_categories:%') AS sizes,
                   d.created_at, c.bytes AS card_bytes
            FROM listings l JOIN datasets d USING (snapshot_id, repo_id)
            LEFT JOIN cards c USING (snapshot_id, repo_id)
            WHERE l.snapshot_id = $1 AND ($2 IS NULL OR l.lang = $2)
              AND ($3 = '' OR d.repo_id ILIKE '%' || $3 || '%')
            ORDER BY d.downloads DESC NULLS LAST, d.repo_id, l.lang
            LIMIT $4 OFFSET $5""", params=[snapshot_id, lang, search, limit, offset]).pl()

    def download_ranks(self, snapshot_id: int) -> pl.DataFrame:
        """(lang, rank, downloads) of every listed dataset of a snapshot: the downloads curve, without features."""
        return self.con.sql("""SELECT l.lang, l.rank, coalesce(d.downloads, 0) AS downloads
                               FROM listings l JOIN datasets d USING (snapshot_id, repo_id)
                               WHERE l.snapshot_id = ? ORDER BY l.lang, l.rank""", params=[snapshot_id]).pl()

    def count_listed(self, snapshot_id: int, lang: str | None = None, search: str = "") -> int:
        """How many rows `listed_datasets` has for these arguments (without a page)."""
        rows = self.con.execute("""SELECT count(*) FROM listings l WHERE l.snapshot_id = $1
                                   AND ($2 IS NULL OR l.lang = $2) AND ($3 = '' OR l.repo_id ILIKE '%' || $3 || '%')""",
                                [snapshot_id, lang, search]).fetchall()
        return int(rows[0][0])

    def dataset(self, snapshot_id: int, repo_id: str) -> dict[str, Any] | None:
        """One dataset of a snapshot as stored (metadata, tags, card_data as JSON text), with the languages it
        was listed for and its card's size; None when the snapshot does not have it."""
        cur = self.con.execute("""
            SELECT d.repo_id, d.author, d.sha, d.downloads, d.downloads_all_time, d.likes, d.tags, d.card_data,
                   d.created_at, d.last_modified, d.gated, d.private, d.disabled, c.bytes AS card_bytes,
                   c.decode_errors AS card_decode_errors,
                   (SELECT list(l.lang ORDER BY l.lang) FROM listings l
                    WHERE l.snapshot_id = d.snapshot_id AND l.repo_id = d.repo_id) AS listed_for
            FROM datasets d LEFT JOIN cards c USING (snapshot_id, repo_id)
            WHERE d.snapshot_id = ? AND d.repo_id = ?""", [snapshot_id, repo_id])
        names = [col[0] for col in cur.description]
        rows = cur.fetchall()
        return dict(zip(names, rows[0], strict=True)) if rows else None

    def changes(self, old: int, new: int, langs: Sequence[str] | None = None, movers: int = 10
                ) -> dict[str, pl.DataFrame]:
        """What moved between two snapshots, per language (``langs``, default all), in three frames:

        - ``listed``: (lang, repo_id, change) with change ``new`` (listed for the language in ``new`` only) or
          ``removed`` (in ``old`` only);
        - ``licenses``: (lang, repo_id, old_license, new_license) for datasets listed in ``new`` that ``old`` also
          had, whose ``license:`` tags differ as sets;
        - ``movers``: (lang, repo_id, old_downloads, new_downloads, delta) of those datasets, the ``movers``
          largest changes in downloads (either way) per language.

        Each is sorted by language, then repo id (movers: by the size of the change). One query each, over every
        language at once: a 400,000-dataset pair of snapshots takes a second, not a query per language.
        """
        params = {"old": old, "new": new, "langs": list(langs) if langs else None, "top": movers}
        listed = self.con.sql("""
            WITH a AS (SELECT lang, repo_id FROM listings WHERE snapshot_id = $old),
                 b AS (SELECT lang, repo_id FROM listings WHERE snapshot_id = $new)
            SELECT coalesce(a.lang, b.lang) AS lang, coalesce(a.repo_id, b.repo_id) AS repo_id,
                   CASE WHEN a.repo_id IS NULL THEN 'new' ELSE 'removed' END AS change
            FROM a FULL OUTER JOIN b ON a.lang = b.lang AND a.repo_id = b.repo_id
            WHERE (a.repo_id IS NULL OR b.repo_id IS NULL)
              AND ($langs IS NULL OR list_contains($langs, coalesce(a.lang, b.lang)))
            ORDER BY lang, change, repo_id""", params={k: params[k] for k in ("old", "new", "langs")}).pl()
        kept = """
            WITH kept AS (
                SELECT l.lang, o.repo_id, list_filter(o.tags, lambda t: starts_with(t, 'license:')) AS old_license,
                       list_filter(n.tags, lambda t: starts_with(t, 'license:')) AS new_license,
                       o.downloads AS old_downloads, n.downloads AS new_downloads,
                       n.downloads - o.downloads AS delta
                FROM listings l JOIN datasets n ON n.snapshot_id = l.snapshot_id AND n.repo_id = l.repo_id
                JOIN datasets o ON o.snapshot_id = $old AND o.repo_id = l.repo_id
                WHERE l.snapshot_id = $new AND ($langs IS NULL OR list_contains($langs, l.lang)))"""
        licenses = self.con.sql(kept + """
            SELECT lang, repo_id, old_license, new_license FROM kept
            WHERE list_sort(list_distinct(old_license)) <> list_sort(list_distinct(new_license))
            ORDER BY lang, repo_id""", params={k: params[k] for k in ("old", "new", "langs")}).pl()
        top = self.con.sql(kept + """
            SELECT lang, repo_id, old_downloads, new_downloads, delta FROM kept WHERE delta IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY lang ORDER BY abs(delta) DESC, repo_id) <= $top
            ORDER BY lang, abs(delta) DESC, repo_id""", params=params).pl()
        return {"listed": listed, "licenses": licenses, "movers": top}

    def cards(self, snapshot_id: int) -> pl.DataFrame:
        """(repo_id, card) of every dataset of a snapshot; ``card`` is '' where none was fetched."""
        return self.con.sql("""SELECT d.repo_id, coalesce(c.text, '') AS card FROM datasets d
                               LEFT JOIN cards c USING (snapshot_id, repo_id) WHERE d.snapshot_id = ?""",
                            params=[snapshot_id]).pl()

    def card_text(self, snapshot_id: int, repo_id: str) -> str | None:
        """A dataset's README as fetched in a snapshot, or None when it has none."""
        rows = self.con.execute("SELECT text FROM cards WHERE snapshot_id = ? AND repo_id = ?",
                                [snapshot_id, repo_id]).fetchall()
        return rows[0][0] if rows else None

    def errors(self, snapshot_id: int) -> pl.DataFrame:
        """The error rows of a snapshot (gated, missing or malformed cards, failed listings)."""
        return self.con.sql("""SELECT repo_id, stage, status, message, recorded_at FROM errors
                               WHERE snapshot_id = ? ORDER BY stage, repo_id""", params=[snapshot_id]).pl()

    # ---- dump snapshots ----------------------------------------------------------------------------

    def start_dump_snapshot(self, taken_at: datetime, endpoint: str, query: str, repo: str, revision: str,
                            data_date: datetime | None, files: Sequence[tuple[str, int | None]]) -> int:
        """A new dump snapshot (status ``running``) and its files (path, size); return its id. ``endpoint`` is
        stored as given (see `SnapshotInfo`), ``query`` is JSON."""
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            sid = con.execute(
                "INSERT INTO snapshots (taken_at, endpoint, query, status) VALUES (?, ?, ?, 'running') RETURNING id",
                [taken_at, endpoint, query]).fetchall()[0][0]
            con.execute("INSERT INTO dump_snapshots VALUES (?, ?, ?, ?)", [sid, repo, revision, data_date])
            con.executemany("INSERT INTO dump_files (snapshot_id, path, size) VALUES (?, ?, ?)",
                            [[sid, path, size] for path, size in files])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return int(sid)

    def unfinished_dump(self, snapshot_id: int | None = None) -> tuple[SnapshotInfo, str, str] | None:
        """(snapshot, endpoint as stored, query JSON) of dump snapshot ``snapshot_id``, or of the newest dump
        snapshot that is not complete; None when there is none. A complete or crawled ``snapshot_id`` is an error."""
        where = "s.id = ?" if snapshot_id is not None else "d.snapshot_id IS NOT NULL AND s.status <> 'complete'"
        rows = self.con.execute(f"{self._snapshots(', s.endpoint, s.query')} WHERE {where} ORDER BY s.id DESC LIMIT 1",
                                [snapshot_id] if snapshot_id is not None else []).fetchall()
        if not rows:
            if snapshot_id is not None:
                raise CurateError(f"no snapshot {snapshot_id} in the store")
            return None
        info = self._snapshot_info(rows[0][:8])
        if info.source != "dump":
            raise CurateError(f"snapshot {info.id} is a crawl, not read from a dump: finish it with "
                              "`curate snapshot --resume-id` without --from-dump")
        if info.status == "complete":
            raise CurateError(f"snapshot {info.id} is complete: nothing to resume")
        return info, str(rows[0][8]), str(rows[0][9])

    @contextmanager
    def memory_limit(self, limit: str | None) -> Iterator[None]:
        """Cap DuckDB's memory (``"512MB"``) for the block, then restore it. DuckDB keeps the blocks it wrote
        cached up to its limit (80% of RAM by default), so a bulk import of card texts would grow with the data;
        capped, what is stored stays on disk. None leaves the limit as it is."""
        if limit is None:
            yield
            return
        before = self.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        self.con.execute(f"SET memory_limit = '{_size_setting(limit)}'")
        try:
            yield
        finally:
            self.con.execute(f"SET memory_limit = '{_size_setting(before)}'")

    def set_snapshot_status(self, snapshot_id: int, status: str, finished_at: datetime | None = None) -> None:
        """Mark a snapshot ``running``, ``interrupted`` or ``complete`` (with when it finished)."""
        self.con.execute("UPDATE snapshots SET status = ?, finished_at = coalesce(?, finished_at) WHERE id = ?",
                         [status, finished_at, snapshot_id])

    def dump_files(self, snapshot_id: int) -> list[DumpFile]:
        """The files of a dump snapshot, in path order, with the rows stored from each so far."""
        rows = self.con.execute("SELECT path, size, rows, rows_done FROM dump_files WHERE snapshot_id = ? "
                                "ORDER BY path", [snapshot_id]).fetchall()
        return [DumpFile(*r) for r in rows]

    def set_dump_file_rows(self, snapshot_id: int, path: str, rows: int) -> None:
        """Record how many rows a downloaded dump file holds."""
        self.con.execute("UPDATE dump_files SET rows = ? WHERE snapshot_id = ? AND path = ?",
                         [rows, snapshot_id, path])

    def dump_dataset_ids(self, snapshot_id: int) -> set[str]:
        """The ids of the datasets a snapshot holds (a resumed dump import skips repeats of them)."""
        return {r[0] for r in self.con.execute("SELECT repo_id FROM datasets WHERE snapshot_id = ?",
                                               [snapshot_id]).fetchall()}

    def add_dump_batch(self, snapshot_id: int, path: str, rows_done: int, datasets: pl.DataFrame,
                       cards: pl.DataFrame, errors: pl.DataFrame) -> None:
        """Store one batch of a dump file's rows (frames with the columns of their tables) and the file's new
        count of rows done, all in one transaction: a killed import keeps whole batches and knows where it was."""
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            for table, frame, verb in (("datasets", datasets, "INSERT OR IGNORE"),
                                       ("cards", cards, "INSERT OR IGNORE"), ("errors", errors, "INSERT")):
                if frame.height:
                    con.register("_batch", frame)
                    cols = ", ".join(frame.columns)
                    con.execute(f"{verb} INTO {table} ({cols}) SELECT {cols} FROM _batch")
                    con.unregister("_batch")
            con.execute("UPDATE dump_files SET rows_done = ? WHERE snapshot_id = ? AND path = ?",
                        [rows_done, snapshot_id, path])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def list_dump_datasets(self, snapshot_id: int, langs: Sequence[str] | None, top: int | None) -> dict[str, int]:
        """Rank a dump snapshot's datasets per ``language:`` tag by downloads (ties: repo id, descending, as the
        loopback Hub sorts), as a crawl's listings; keep ``langs`` (default: every language) and the ``top`` of
        each. With ``top``, datasets listed for no language are dropped with their cards and card errors.
        Re-running replaces the listings. Returns datasets listed per language."""
        con = self.con
        params = {"sid": snapshot_id, "langs": list(langs) if langs else None, "top": top}
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("DELETE FROM listings WHERE snapshot_id = $sid", {"sid": snapshot_id})
            con.execute("""
                INSERT INTO listings (snapshot_id, lang, rank, repo_id)
                SELECT $sid, lang, rank, repo_id FROM (
                    SELECT lang, repo_id,
                           row_number() OVER (PARTITION BY lang ORDER BY coalesce(downloads, 0) DESC,
                                              repo_id DESC) AS rank
                    FROM (SELECT DISTINCT repo_id, downloads, substr(tag, 10) AS lang
                          FROM (SELECT repo_id, downloads, unnest(tags) AS tag FROM datasets
                                WHERE snapshot_id = $sid)
                          WHERE starts_with(tag, 'language:') AND length(tag) > 9)
                    WHERE $langs IS NULL OR list_contains($langs, lang))
                WHERE $top IS NULL OR rank <= $top""", params)
            if top is not None:
                kept = "(SELECT repo_id FROM listings WHERE snapshot_id = $sid)"
                con.execute(f"DELETE FROM datasets WHERE snapshot_id = $sid AND repo_id NOT IN {kept}",
                            {"sid": snapshot_id})
                con.execute(f"DELETE FROM cards WHERE snapshot_id = $sid AND repo_id NOT IN {kept}",
                            {"sid": snapshot_id})
                con.execute(f"DELETE FROM errors WHERE snapshot_id = $sid AND stage IN ('card', 'yaml') "
                            f"AND repo_id NOT IN {kept}", {"sid": snapshot_id})
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return dict(con.execute("SELECT lang, count(*) FROM listings WHERE snapshot_id = ? GROUP BY lang "
                                "ORDER BY lang", [snapshot_id]).fetchall())

    def snapshot_counts(self, snapshot_id: int) -> dict[str, int]:
        """Datasets, cards, authors and error rows (in all, and per stage as ``errors_<stage>``) of a snapshot."""
        one = self.con.execute("""SELECT (SELECT count(*) FROM datasets WHERE snapshot_id = $1),
                                         (SELECT count(*) FROM cards WHERE snapshot_id = $1),
                                         (SELECT count(*) FROM authors WHERE snapshot_id = $1),
                                         (SELECT count(*) FROM errors WHERE snapshot_id = $1)""",
                               [snapshot_id]).fetchall()[0]
        out = dict(zip(("datasets", "cards", "authors", "errors"), map(int, one), strict=True))
        for stage, n in self.con.execute("SELECT stage, count(*) FROM errors WHERE snapshot_id = ? GROUP BY stage",
                                         [snapshot_id]).fetchall():
            out[f"errors_{stage}"] = int(n)
        return out

    # ---- contamination -----------------------------------------------------------------------------

    def add_contamination_run(self, run: ContaminationRun, items: pl.DataFrame, doc_ids: Sequence[str],
                              mentions: pl.DataFrame | None = None) -> int:
        """Write a run, its items (the contamination_items columns but run_id), its contaminated documents and
        its Hub mentions in one transaction; return the run id."""
        import polars as pl

        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            run_id = con.execute(
                "INSERT INTO contamination_runs (created_at, benchmarks, corpora, settings, n_docs, n_bytes, "
                "seconds, n_errors, sources) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [run.created_at, run.benchmarks, run.corpora, run.settings, run.n_docs, run.n_bytes, run.seconds,
                 run.n_errors, json.dumps(run.sources)]).fetchall()[0][0]
            rows = items.select(pl.lit(run_id, dtype=pl.Int32).alias("run_id"), pl.all())
            con.register("_items", rows)
            con.execute("INSERT INTO contamination_items SELECT * FROM _items")
            con.unregister("_items")
            docs = pl.DataFrame({"run_id": [run_id] * len(doc_ids), "doc_id": sorted(doc_ids)},
                                schema={"run_id": pl.Int32, "doc_id": pl.String})
            con.register("_docs", docs)
            con.execute("INSERT INTO contamination_docs SELECT * FROM _docs")
            con.unregister("_docs")
            if mentions is not None and mentions.height:
                con.register("_mentions", mentions.with_columns(pl.lit(run_id).alias("run_id")))
                con.execute("INSERT INTO contamination_mentions SELECT run_id, benchmark, snapshot_id, repo_id, "
                            "in_id, in_card FROM _mentions")
                con.unregister("_mentions")
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        return int(run_id)

    def latest_contamination(self) -> pl.DataFrame:
        """Per benchmark, its newest run: items, checked, contaminated, exact, rate, run id, corpora (an empty
        frame for stores older than the contamination tables)."""
        import polars as pl

        if not self.has_table("contamination_items"):
            return pl.DataFrame()
        return self.con.sql("""
            WITH latest AS (
                SELECT i.benchmark, max(i.run_id) AS run_id FROM contamination_items i GROUP BY i.benchmark)
            SELECT i.benchmark, i.run_id, array_to_string(r.corpora, ', ') AS corpora, r.created_at,
                   count(*) AS n_items, count(*) FILTER (WHERE i.checked) AS n_checked,
                   count(*) FILTER (WHERE i.contaminated) AS n_contaminated,
                   count(*) FILTER (WHERE i.match = 'exact') AS n_exact,
                   count(*) FILTER (WHERE i.contaminated) / count(*) AS rate
            FROM contamination_items i JOIN latest USING (benchmark, run_id)
            JOIN contamination_runs r ON r.id = i.run_id
            GROUP BY ALL ORDER BY i.benchmark""").pl()

    def contamination_items(self, run_id: int, benchmark: str, only_contaminated: bool = True) -> pl.DataFrame:
        """The items of one benchmark in one run, most overlapping first, with their first 20 document ids."""
        where = "AND contaminated" if only_contaminated else ""
        return self.con.sql(f"""SELECT item_id, match, round(overlap, 3) AS overlap, longest_match_chars, n_docs,
                                       array_to_string(doc_ids[1:20], ', ') AS doc_ids
                                FROM contamination_items WHERE run_id = ? AND benchmark = ? {where}
                                ORDER BY overlap DESC, item_id""", params=[run_id, benchmark]).pl()

    def contamination_item(self, run_id: int, benchmark: str, item_id: str) -> dict[str, Any] | None:
        """One item of a run: its match, overlap, longest match and document ids (at most 100, as stored)."""
        cur = self.con.execute("""SELECT item_id, checked, contaminated, match, overlap, longest_match_chars, n_docs,
                                         doc_ids FROM contamination_items
                                  WHERE run_id = ? AND benchmark = ? AND item_id = ?""", [run_id, benchmark, item_id])
        names = [col[0] for col in cur.description]
        rows = cur.fetchall()
        return dict(zip(names, rows[0], strict=True)) if rows else None

    def contamination_sources(self, run_id: int) -> list[dict[str, Any]]:
        """Where a run read its benchmarks and corpora: ``{"role": "benchmark"|"corpus", "name", "location",
        "text_field", "id_field", "split"}`` each; empty for runs (or stores) from before this was recorded."""
        if not self.has_column("contamination_runs", "sources"):
            return []
        rows = self.con.execute("SELECT sources FROM contamination_runs WHERE id = ?", [run_id]).fetchall()
        if not rows or rows[0][0] is None:
            return []
        found = json.loads(rows[0][0])
        return [s for s in found if isinstance(s, dict)] if isinstance(found, list) else []

    def contamination_mentions(self, run_id: int) -> pl.DataFrame:
        """(benchmark, repo_id, in_id, in_card): the Hub datasets a run found naming its benchmarks."""
        return self.con.sql("SELECT benchmark, repo_id, in_id, in_card FROM contamination_mentions "
                            "WHERE run_id = ? ORDER BY benchmark, repo_id", params=[run_id]).pl()

    def contamination_run_for(self, corpora: Sequence[str], run_id: int | None = None) -> int:
        """``run_id`` when the store has it, else the newest run that checked every one of ``corpora`` (names as
        the run recorded them)."""
        rows = self.con.execute("SELECT id, corpora FROM contamination_runs ORDER BY id DESC").fetchall()
        if run_id is not None:
            if run_id not in {r[0] for r in rows}:
                raise CurateError(f"no contamination run {run_id} in the store")
            return run_id
        for rid, names in rows:
            if set(corpora) <= set(names):
                return int(rid)
        raise CurateError(f"no contamination run in the store checked {', '.join(corpora)}")

    def contaminated_ids(self, run_id: int) -> list[str]:
        """Every contaminated document id of a run, sorted."""
        rows = self.con.execute("SELECT doc_id FROM contamination_docs WHERE run_id = ? ORDER BY doc_id",
                                [run_id]).fetchall()
        return [r[0] for r in rows]

    # ---- pipeline runs -----------------------------------------------------------------------------

    def add_run(self, created_at: datetime, kind: str, inputs: Sequence[str], output: str, settings: str,
                n_docs: int | None = None, seconds: float | None = None) -> int:
        """Record one pipeline run (``settings`` as JSON text); return its id."""
        row = self.con.execute(
            "INSERT INTO pipeline_runs (created_at, kind, inputs, output, settings, n_docs, seconds) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [created_at, kind, list(inputs), output, settings, n_docs, seconds]).fetchall()
        return int(row[0][0])

    def runs(self, kind: str | None = None) -> pl.DataFrame:
        """Recorded pipeline runs (of one kind, or all), newest first; an empty frame for stores older than
        the table."""
        import polars as pl

        if not self.has_table("pipeline_runs"):
            return pl.DataFrame()
        where = "WHERE kind = ?" if kind else ""
        return self.con.sql(f"SELECT id, created_at, kind, inputs, output, n_docs, round(seconds, 1) AS seconds, "
                            f"settings FROM pipeline_runs {where} ORDER BY id DESC",
                            params=[kind] if kind else None).pl()


def _size_setting(value: str) -> str:
    """A DuckDB size setting (``512MB``, ``1.5 GiB``), checked before it is put into a SET statement."""
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]?i?B", value.strip(), re.IGNORECASE):
        raise CurateError(f"not a memory size: {value!r} (e.g. 512MB, 2GB)")
    return value.strip()


StoreSource = StoreQueries | duckdb.DuckDBPyConnection


def queries(source: StoreSource) -> StoreQueries:
    """The typed queries over ``source``: a `Store` (or other `StoreQueries`) as it is, a bare connection
    wrapped (for callers that still hand analyses ``store.con``)."""
    return source if isinstance(source, StoreQueries) else StoreQueries(source)


class Store(StoreQueries):
    """An open store. Use as a context manager, or call `close()`.

    Its tables are read and written through the `StoreQueries` methods. `con`, the raw DuckDB connection,
    is still there for the snapshot collector and the CLI, which have not moved to the methods yet.

    ``wait``: seconds to wait while another process holds the store (a writer, or for a writer any reader),
    retrying with a growing pause and logging once that it waits; then `StoreLocked`. The default is
    `DEFAULT_WAIT_S` for writers, which hold results a run has already paid for, and 0 for readers (the
    dashboard and reports would rather say at once that the store is busy).
    """

    def __init__(self, path: str | Path | None = None, *, read_only: bool = False, wait: float | None = None) -> None:
        self.path = config.db_path(path)
        if read_only and not self.path.exists():
            raise CurateError(f"no store at {self.path} (run `curate snapshot` or `curate demo` first)")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = self._connect(read_only, (0.0 if read_only else DEFAULT_WAIT_S) if wait is None else wait)
        if not read_only:
            self.migrate()

    def _connect(self, read_only: bool, wait: float) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + max(wait, 0.0)
        pause = 0.05
        announced = False
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.IOException as exc:
                if not is_lock_error(exc):
                    raise CurateError(f"cannot open store {self.path}: {exc}") from exc
                found = _LOCK_PID.search(str(exc))
                pid = int(found.group(1)) if found else None
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StoreLocked(self.path, pid, wait) from None
                if not announced:
                    log.warning("store %s is in use by another process%s; waiting up to %g s", self.path,
                                f" (pid {pid})" if pid else "", wait)
                    announced = True
                time.sleep(min(pause, left))
                pause = min(pause * 2, 1.0)

    @property
    def version(self) -> int:
        """The newest migration applied (0 for a new file).

        Results are fetched completely: a half-read result stays pending on the shared connection, and
        DuckDB then refuses the caller's next query (``ResourceInUseException``).
        """
        if not self.has_table("schema_version"):
            return 0
        rows = self.con.execute("SELECT max(version) FROM schema_version").fetchall()
        return int(rows[0][0] or 0)

    def migrate(self) -> int:
        """Apply every migration newer than the store's version; return the new version."""
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS schema_version "
            "(version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ DEFAULT now())"
        )
        current = self.version
        for version, name, sql in migrations():
            if version <= current:
                continue
            self.con.execute("BEGIN TRANSACTION")
            try:
                self.con.execute(sql)
                self.con.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", [version, name])
                self.con.execute("COMMIT")
            except Exception:
                self.con.execute("ROLLBACK")
                raise
            current = version
        return current

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
