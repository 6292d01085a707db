"""Change between two snapshots: datasets that appeared or left a language's listing, license changes,
and the biggest download movers."""

from __future__ import annotations

from typing import Any

import duckdb

from analyses import study


def compare(con: duckdb.DuckDBPyConnection, old: str | int, new: str | int, *, langs: list[str] | None = None,
            movers: int = 10) -> dict[str, Any]:
    a = study.resolve_snapshot(con, old)["id"]
    b = study.resolve_snapshot(con, new)["id"]
    rows = con.execute("SELECT DISTINCT lang FROM listings WHERE snapshot_id IN (?, ?) ORDER BY lang", [a, b])
    out: dict[str, Any] = {"old": a, "new": b, "languages": {}}
    for (lang,) in rows.fetchall():
        if langs and lang not in langs:
            continue
        q = """SELECT repo_id FROM listings WHERE snapshot_id = ? AND lang = ?"""
        before = {r[0] for r in con.execute(q, [a, lang]).fetchall()}
        after = {r[0] for r in con.execute(q, [b, lang]).fetchall()}
        changed = con.sql("""
            SELECT o.repo_id, list_filter(o.tags, lambda t: starts_with(t, 'license:')) AS old_license,
                   list_filter(n.tags, lambda t: starts_with(t, 'license:')) AS new_license,
                   n.downloads - o.downloads AS delta, o.downloads AS old_downloads, n.downloads AS new_downloads
            FROM datasets o JOIN datasets n ON n.repo_id = o.repo_id AND n.snapshot_id = ?
            JOIN listings l ON l.snapshot_id = ? AND l.lang = ? AND l.repo_id = o.repo_id
            WHERE o.snapshot_id = ?""", params=[b, b, lang, a]).pl()
        lic = changed.filter(changed["old_license"].list.sort() != changed["new_license"].list.sort())
        top = changed.sort(changed["delta"].abs(), descending=True).head(movers)
        out["languages"][lang] = {
            "new": sorted(after - before), "removed": sorted(before - after),
            "license_changes": [{"repo_id": r["repo_id"], "old": [t[8:] for t in r["old_license"]],
                                 "new": [t[8:] for t in r["new_license"]]} for r in lic.to_dicts()],
            "download_movers": top.select("repo_id", "old_downloads", "new_downloads", "delta").to_dicts(),
        }
    return out
