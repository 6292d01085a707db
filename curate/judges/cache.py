"""A content-hash cache of judge answers, so re-running a labelling job costs no API calls.

The key is the SHA-256 of the model name, the rubric (its name and the exact template text, so editing a
rubric invalidates its entries), the prompt language and the document text as sent. The endpoint URL is
not part of the key: the same model served elsewhere gives the same answer at temperature 0.

Only successful answers are stored: a failure (timeout, 5xx, unparseable answer) is retried on the next run.
An interrupted run therefore resumes for free: everything answered before the interruption is a cache hit.

Storage is one SQLite file (``judge-cache.sqlite``), written as answers arrive. A cache that cannot be opened
(read-only or full disk, a file that is not a database) is not a reason to stop: `open_cache` warns and the
run goes on without one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

FILENAME = "judge-cache.sqlite"
log = logging.getLogger(__name__)


def cache_key(model: str, rubric_name: str, template: str, prompt_language: str, text: str) -> str:
    payload = json.dumps([model, rubric_name, template, prompt_language, text], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    score: float
    raw: str
    latency_s: float
    prompt_tokens: int | None
    completion_tokens: int | None


class AnswerCache:
    """SQLite-backed map from `cache_key` to a successful answer."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(self.path)
        try:
            self._con.execute("PRAGMA journal_mode=WAL")
            self._con.execute("PRAGMA synchronous=NORMAL")
            self._con.execute(
                "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, model TEXT, score REAL NOT NULL, "
                "raw TEXT, latency_s REAL, prompt_tokens INTEGER, completion_tokens INTEGER, "
                "created_at TEXT DEFAULT CURRENT_TIMESTAMP)"
            )
            self._con.commit()
        except BaseException:
            self._con.close()
            raise
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> CachedAnswer | None:
        row = self._con.execute(
            "SELECT score, raw, latency_s, prompt_tokens, completion_tokens FROM answers WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return CachedAnswer(*row)

    def put(self, key: str, model: str, answer: CachedAnswer) -> None:
        self._con.execute(
            "INSERT OR REPLACE INTO answers (key, model, score, raw, latency_s, prompt_tokens, completion_tokens) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key, model, answer.score, answer.raw, answer.latency_s, answer.prompt_tokens, answer.completion_tokens),
        )
        self._con.commit()

    def __len__(self) -> int:
        return int(self._con.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> AnswerCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_cache(path: str | Path) -> AnswerCache | None:
    """`AnswerCache` at ``path``, or None with a warning when it cannot be opened: judging goes on uncached."""
    try:
        return AnswerCache(path)
    except (sqlite3.Error, OSError) as exc:
        log.warning("answer cache %s cannot be opened (%s: %s); judging without it: answers are not cached",
                    path, type(exc).__name__, exc)
        return None
