"""Hand-made snapshots written straight into a store, for analyses tests with known answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from curate.store import Store


class Hub:
    """Writes snapshot rows straight into a store, one hand-made dataset at a time."""

    def __init__(self, store: Store, sid: int = 1) -> None:
        self.con, self.sid, self.rank = store.con, sid, 0
        self.con.execute("INSERT INTO snapshots VALUES (?, ?, ?, 'http://hub', '{}', 'complete')",
                         [sid, datetime(2026, 1, sid, tzinfo=UTC), None])

    def add(self, rid: str, langs: list[str] | None = None, tags: list[str] | None = None,
            card_data: dict[str, Any] | None = None, card: str | None = None, downloads: int = 10,
            created: str = "2024-05-01T00:00:00", kind: str | None = "user", fullname: str | None = None,
            listed: list[str] | None = None) -> None:
        langs = ["ko"] if langs is None else langs
        all_tags = [f"language:{x}" for x in langs] + (tags or [])
        author = rid.split("/")[0]
        self.con.execute("INSERT INTO datasets VALUES (?, ?, ?, 'sha', ?, ?, 0, ?, ?, ?, ?, 'false', false, false)",
                         [self.sid, rid, author, downloads, downloads, all_tags, json.dumps(card_data or {}),
                          created + "+00:00", created + "+00:00"])
        for lang in listed or langs or ["ko"]:
            self.rank += 1
            self.con.execute("INSERT INTO listings VALUES (?, ?, ?, ?)", [self.sid, lang, self.rank, rid])
        if card is not None:
            self.con.execute("INSERT INTO cards VALUES (?, ?, 'sha', ?, ?, false, now())",
                             [self.sid, rid, card, len(card.encode())])
        if kind and not self.con.execute("SELECT 1 FROM authors WHERE snapshot_id = ? AND name = ?",
                                         [self.sid, author]).fetchone():
            self.con.execute("INSERT INTO authors VALUES (?, ?, ?, ?)", [self.sid, author, kind, fullname])
