"""Change between two snapshots: datasets that appeared or left a language's listing, license changes,
and the biggest download movers."""

from __future__ import annotations

from typing import Any

import polars as pl

from curate.store import StoreSource, queries


def compare(source: StoreSource, old: str | int, new: str | int, *, langs: list[str] | None = None,
            movers: int = 10) -> dict[str, Any]:
    """New and removed datasets, license changes and the biggest download movers per language between two
    snapshots (ids or ``latest``) of the store (or its connection).

    The counting is `Store.changes` (three queries over every language at once); this shapes it into the
    ``diff`` object of the report's details (docs/report.md).
    """
    store = queries(source)
    a = store.resolve_snapshot(old).id
    b = store.resolve_snapshot(new).id
    found = store.changes(a, b, langs, movers)
    listed, licenses, top = (_by_language(found[k]) for k in ("listed", "licenses", "movers"))
    out: dict[str, Any] = {"old": a, "new": b, "languages": {}}
    for lang in store.languages(a, b):
        if langs and lang not in langs:
            continue
        moved = listed.get(lang, [])
        out["languages"][lang] = {
            "new": [r["repo_id"] for r in moved if r["change"] == "new"],
            "removed": [r["repo_id"] for r in moved if r["change"] == "removed"],
            "license_changes": [{"repo_id": r["repo_id"], "old": [t[8:] for t in r["old_license"]],
                                 "new": [t[8:] for t in r["new_license"]]} for r in licenses.get(lang, [])],
            "download_movers": top.get(lang, []),
        }
    return out


def _by_language(frame: pl.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """{lang: its rows without the lang column, in the frame's order}."""
    return {str(key[0]): part.drop("lang").to_dicts()
            for key, part in frame.partition_by("lang", as_dict=True, maintain_order=True).items()}
