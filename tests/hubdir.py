"""Build small Hub mirrors on disk for collector tests (layout: collectors/hub_server.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

LANGS = ("ko", "ja", "zh", "en")


def make_hub(root: Path, n_per_lang: int = 30, extra: list[tuple[dict[str, Any], bytes | None]] | None = None) -> Path:
    """``n_per_lang`` monolingual datasets per language with valid cards, plus ``extra`` (record, card)."""
    root.mkdir(parents=True, exist_ok=True)
    records: list[tuple[dict[str, Any], bytes | None]] = []
    for li, lang in enumerate(LANGS):
        for i in range(n_per_lang):
            author = f"user{i % 7}" if i % 3 else f"org{i % 4}"
            rid = f"{author}/{lang}-set-{i:04d}"
            rec = {
                "id": rid, "author": author, "sha": f"{li:02d}{i:038d}", "downloads": 10_000 - i * 3 - li,
                "downloadsAllTime": 20_000 - i, "likes": i, "tags": [f"language:{lang}", "license:mit"],
                "cardData": {"language": [lang], "license": "mit"}, "createdAt": "2024-01-02T03:04:05.000Z",
                "lastModified": "2024-02-02T03:04:05.000Z", "gated": False, "private": False, "disabled": False,
            }
            card = f"---\nlanguage:\n- {lang}\nlicense: mit\n---\n# {rid}\n\nA card for {rid}.\n".encode()
            records.append((rec, card))
    records.extend(extra or [])
    authors = {}
    with (root / "datasets.jsonl").open("w", encoding="utf-8") as fh:
        for rec, card in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            authors[rec["author"]] = {"name": rec["author"], "type": "org" if rec["author"].startswith("org") else
                                      "user", "fullname": rec["author"].title()}
            if card is not None:
                path = root / "cards" / rec["id"] / "README.md"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(card)
    with (root / "authors.jsonl").open("w", encoding="utf-8") as fh:
        for a in authors.values():
            fh.write(json.dumps(a) + "\n")
    return root


def record(rid: str, lang: str = "ko", downloads: int = 1, **over: Any) -> dict[str, Any]:
    rec = {"id": rid, "author": rid.split("/")[0], "sha": "f" * 40, "downloads": downloads,
           "downloadsAllTime": downloads, "likes": 0, "tags": [f"language:{lang}"], "createdAt":
           "2023-05-06T00:00:00.000Z", "lastModified": "2023-05-06T00:00:00.000Z", "gated": False,
           "private": False, "disabled": False}
    rec.update(over)
    return rec


def snapshot_bundled_sample(db: Path, langs: tuple[str, ...] = ("ko", "ja", "zh", "en"), top: int = 700,
                            authors: bool = True) -> Path:
    """A store holding one snapshot of the bundled offline Hub sample, taken through the loopback Hub."""
    from collectors.hub_server import serve
    from collectors.snapshot import SnapshotOptions, take_snapshot
    from curate import config
    from curate.store import Store

    with serve(config.data_dir() / "hub-sample") as server, Store(db) as store:
        take_snapshot(store, SnapshotOptions(langs=list(langs), top=top, endpoint=server.url, rate=None,
                                             authors=authors), token="")
    return db


def dump_bundled_sample(db: Path, work: Path, langs: tuple[str, ...] = ("ko", "ja", "zh", "en")) -> Path:
    """A store holding one snapshot of the bundled offline Hub sample read as a dump of dataset cards (the sample
    copied to ``work`` with a dump of its own datasets added), through the loopback Hub."""
    import shutil

    from collectors.dump import DumpOptions, take_dump_snapshot
    from collectors.hub_server import serve
    from collectors.synthetic_dump import dump_mirror
    from curate import config
    from curate.store import Store

    hub = shutil.copytree(config.data_dir() / "hub-sample", work)
    dump_mirror(hub)
    with serve(hub) as server, Store(db) as store:
        take_dump_snapshot(store, DumpOptions(endpoint=server.url, langs=list(langs)), token="")
    return db
