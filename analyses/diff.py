"""Change between two snapshots: datasets that appeared or left a language's listing, license changes,
and the biggest download movers."""

from __future__ import annotations

from typing import Any

from curate.store import StoreSource, queries


def compare(source: StoreSource, old: str | int, new: str | int, *, langs: list[str] | None = None,
            movers: int = 10) -> dict[str, Any]:
    """New and removed datasets, license changes and the biggest download movers per language between two
    snapshots (ids or ``latest``) of the store (or its connection)."""
    store = queries(source)
    a = store.resolve_snapshot(old).id
    b = store.resolve_snapshot(new).id
    out: dict[str, Any] = {"old": a, "new": b, "languages": {}}
    for lang in store.languages(a, b):
        if langs and lang not in langs:
            continue
        before = set(store.listings(a, [lang])["repo_id"].to_list())
        after = set(store.listings(b, [lang])["repo_id"].to_list())
        changed = store.dataset_changes(a, b, lang)
        lic = changed.filter(changed["old_license"].list.sort() != changed["new_license"].list.sort())
        top = changed.sort(changed["delta"].abs(), descending=True).head(movers)
        out["languages"][lang] = {
            "new": sorted(after - before), "removed": sorted(before - after),
            "license_changes": [{"repo_id": r["repo_id"], "old": [t[8:] for t in r["old_license"]],
                                 "new": [t[8:] for t in r["new_license"]]} for r in lic.to_dicts()],
            "download_movers": top.select("repo_id", "old_downloads", "new_downloads", "delta").to_dicts(),
        }
    return out
