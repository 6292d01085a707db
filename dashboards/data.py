"""What the dashboard shows, as plain functions from a read-only store connection to polars frames.

Kept apart from the Streamlit script so it can be tested without a browser and reused in notebooks.
"""

from __future__ import annotations

import duckdb
import polars as pl

from curate.http import public_url


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                            [name]).fetchall()[0][0])


def snapshots(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every snapshot with its languages and counts, newest first."""
    frame = con.sql("""
        SELECT s.id, s.taken_at, s.status, s.endpoint,
               (SELECT string_agg(DISTINCT lang, ', ' ORDER BY lang) FROM listings l WHERE l.snapshot_id = s.id)
                   AS languages,
               (SELECT count(*) FROM datasets d WHERE d.snapshot_id = s.id) AS datasets,
               (SELECT count(*) FROM cards c WHERE c.snapshot_id = s.id) AS cards,
               (SELECT count(*) FROM errors e WHERE e.snapshot_id = s.id) AS errors
        FROM snapshots s ORDER BY s.id DESC""").pl()
    # An endpoint given as https://user:token@host is shown without its credentials.
    return frame.with_columns(pl.col("endpoint").map_elements(public_url, return_dtype=pl.Utf8))


def languages(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> list[str]:
    rows = con.execute("SELECT DISTINCT lang FROM listings WHERE snapshot_id = ? ORDER BY lang",
                       [snapshot_id]).fetchall()
    return [r[0] for r in rows]


def datasets(con: duckdb.DuckDBPyConnection, snapshot_id: int, lang: str | None = None,
             search: str = "") -> pl.DataFrame:
    """The listed datasets of a snapshot (one language or all), most downloaded first."""
    return con.sql("""
        SELECT l.lang, l.rank, d.repo_id, d.author, d.downloads, d.downloads_all_time, d.likes,
               list_filter(d.tags, lambda t: t LIKE 'license:%') AS licenses,
               list_filter(d.tags, lambda t: t LIKE 'size_categories:%') AS sizes,
               d.created_at, c.bytes AS card_bytes
        FROM listings l JOIN datasets d USING (snapshot_id, repo_id)
        LEFT JOIN cards c USING (snapshot_id, repo_id)
        WHERE l.snapshot_id = $1 AND ($2 IS NULL OR l.lang = $2)
          AND ($3 = '' OR d.repo_id ILIKE '%' || $3 || '%')
        ORDER BY d.downloads DESC NULLS LAST, d.repo_id""", params=[snapshot_id, lang, search]).pl()


def card_text(con: duckdb.DuckDBPyConnection, snapshot_id: int, repo_id: str) -> str | None:
    rows = con.execute("SELECT text FROM cards WHERE snapshot_id = ? AND repo_id = ?", [snapshot_id, repo_id]
                       ).fetchall()
    return rows[0][0] if rows else None


def errors(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> pl.DataFrame:
    return con.sql("""SELECT repo_id, stage, status, message, recorded_at FROM errors
                      WHERE snapshot_id = ? ORDER BY stage, repo_id""", params=[snapshot_id]).pl()


def contamination_summary(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Newest contamination run per benchmark: items, contaminated, exact, rate."""
    from analyses.contamination.persist import latest_summary

    return latest_summary(con)


def contamination_items(con: duckdb.DuckDBPyConnection, run_id: int, benchmark: str,
                        only_contaminated: bool = True) -> pl.DataFrame:
    where = "AND contaminated" if only_contaminated else ""
    return con.sql(f"""SELECT item_id, match, round(overlap, 3) AS overlap, longest_match_chars, n_docs,
                                  array_to_string(doc_ids[1:20], ', ') AS doc_ids
                           FROM contamination_items WHERE run_id = ? AND benchmark = ? {where}
                           ORDER BY overlap DESC, item_id""", params=[run_id, benchmark]).pl()


def contamination_mentions(con: duckdb.DuckDBPyConnection, run_id: int) -> pl.DataFrame:
    return con.sql("SELECT benchmark, repo_id, in_id, in_card FROM contamination_mentions WHERE run_id = ? "
                   "ORDER BY benchmark, repo_id", params=[run_id]).pl()
