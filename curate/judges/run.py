"""A labelling run: every sampled document through every judge, cached, into one labels parquet.

Each judge gets its own client and its own pool of ``concurrency`` workers, so a slow or rate-limited
endpoint does not hold the others back. Cache hits are answered before any request is sent; answers are
cached as they arrive, so an interrupted run loses nothing already paid for.

The labels parquet (the contract with ``curate train-annotator``) has one row per (document, judge):
doc_id, lang, text, judge, model, score (null when the judge failed), raw, error, latency_s,
prompt_tokens, completion_tokens, rubric, prompt_language. Failures stay in the file, with the reason.

The cache saves money; it is not the product. When it cannot be read or written (disk full, read-only,
locked by another run) the run warns once and goes on without it: the labels are still written.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curate.corpus import Document
from curate.files import atomic_path, parquet_mark
from curate.judges.cache import AnswerCache, CachedAnswer, cache_key
from curate.judges.client import DEFAULT_KEY_ENV, Answer, ClientOptions, JudgeClient, JudgeSpec
from curate.judges.rubrics import PromptLanguage, Rubric
from curate.progress import Tracker

log = logging.getLogger(__name__)

LABEL_SCHEMA = pa.schema([
    ("doc_id", pa.string()),
    ("lang", pa.string()),
    ("text", pa.string()),
    ("judge", pa.string()),
    ("model", pa.string()),
    ("score", pa.float64()),
    ("raw", pa.string()),
    ("error", pa.string()),
    ("latency_s", pa.float64()),
    ("prompt_tokens", pa.int64()),
    ("completion_tokens", pa.int64()),
    ("rubric", pa.string()),
    ("prompt_language", pa.string()),
])


@dataclass(frozen=True)
class RunOptions:
    rubric: Rubric
    prompt_mode: PromptLanguage = PromptLanguage.en
    client: ClientOptions = field(default_factory=ClientOptions)
    max_chars: int = 12_000  # judges see the start of long documents; the parquet keeps the full text
    api_key_env: str = DEFAULT_KEY_ENV


@dataclass
class JudgeTally:
    """What one judge did in a run."""

    labels: int = 0
    scored: int = 0
    failed: int = 0
    cached: int = 0
    requests: int = 0
    first_error: str | None = None


@dataclass
class RunResult:
    rows: list[dict[str, Any]]
    tallies: dict[str, JudgeTally]
    elapsed_s: float


class _RunCache:
    """The answer cache as one run uses it: the first failure to read or write costs a warning, then the run
    goes on without the cache instead of aborting with every answer it already paid for."""

    def __init__(self, cache: AnswerCache | None) -> None:
        self.cache = cache
        self.error: str | None = None

    def get(self, key: str) -> CachedAnswer | None:
        if self.cache is None:
            return None
        try:
            return self.cache.get(key)
        except (sqlite3.Error, OSError) as exc:
            self._give_up(exc)
            return None

    def put(self, key: str, model: str, answer: CachedAnswer) -> None:
        if self.cache is None:
            return
        try:
            self.cache.put(key, model, answer)
        except (sqlite3.Error, OSError) as exc:
            self._give_up(exc)

    def _give_up(self, exc: Exception) -> None:
        self.error = f"{type(exc).__name__}: {exc}"
        log.warning("answer cache %s unusable (%s); going on without it: this run's answers are not cached",
                    getattr(self.cache, "path", ""), self.error)
        self.cache = None


@dataclass(slots=True)
class _Job:
    row: int
    key: str
    prompt: str


def _row(doc: Document, judge: JudgeSpec, options: RunOptions, prompt_language: str) -> dict[str, Any]:
    return {"doc_id": doc.id, "lang": doc.lang, "text": doc.text, "judge": judge.name, "model": judge.model,
            "score": None, "raw": "", "error": None, "latency_s": 0.0, "prompt_tokens": None,
            "completion_tokens": None, "rubric": options.rubric.name, "prompt_language": prompt_language}


def _fill(row: dict[str, Any], answer: Answer | CachedAnswer) -> None:
    row.update(score=answer.score, raw=answer.raw, latency_s=answer.latency_s,
               prompt_tokens=answer.prompt_tokens, completion_tokens=answer.completion_tokens)
    row["error"] = getattr(answer, "error", None)


async def _judge_all(judge: JudgeSpec, jobs: list[_Job], rows: list[dict[str, Any]], options: RunOptions,
                     cache: _RunCache, tally: JudgeTally, tracker: Tracker | None) -> None:
    async with JudgeClient(judge, options.client, api_key_env=judge.api_key_env or options.api_key_env) as client:
        queue = iter(jobs)  # shared by the workers; next() never awaits, so no two take the same job

        async def worker() -> None:
            for job in queue:
                answer = await client.score(job.prompt)
                row = rows[job.row]
                _fill(row, answer)
                if answer.score is None:
                    tally.failed += 1
                    tally.first_error = tally.first_error or answer.error
                else:
                    tally.scored += 1
                    cache.put(job.key, judge.model, CachedAnswer(answer.score, answer.raw, answer.latency_s,
                                                                 answer.prompt_tokens, answer.completion_tokens))
                if tracker is not None:
                    tracker.advance()

        await asyncio.gather(*(worker() for _ in range(min(max(1, options.client.concurrency), len(jobs)))))
        tally.requests = client.requests


async def label_documents(docs: Sequence[Document], judges: Sequence[JudgeSpec], options: RunOptions,
                          cache: AnswerCache | None = None, tracker: Tracker | None = None) -> RunResult:
    """Score every document with every judge; rows come back in (document, judge) order."""
    started = time.monotonic()
    run_cache = _RunCache(cache)
    rows: list[dict[str, Any]] = []
    jobs: dict[str, list[_Job]] = {j.name: [] for j in judges}
    tallies = {j.name: JudgeTally() for j in judges}
    for doc in docs:
        prompt_language = options.rubric.language_for(doc.lang, options.prompt_mode)
        template = options.rubric.template(prompt_language)
        sent = doc.text[: options.max_chars]
        for judge in judges:
            row = _row(doc, judge, options, prompt_language)
            rows.append(row)
            tally = tallies[judge.name]
            tally.labels += 1
            key = cache_key(judge.model, options.rubric.name, template, prompt_language, sent)
            hit = run_cache.get(key)
            if hit is not None:
                _fill(row, hit)
                tally.cached += 1
                tally.scored += 1
                if tracker is not None:
                    tracker.advance()
                continue
            jobs[judge.name].append(_Job(len(rows) - 1, key, options.rubric.prompt(sent, prompt_language)))
    await asyncio.gather(*(_judge_all(j, jobs[j.name], rows, options, run_cache, tallies[j.name], tracker)
                           for j in judges if jobs[j.name]))
    return RunResult(rows, tallies, time.monotonic() - started)


def run_judges(docs: Sequence[Document], judges: Sequence[JudgeSpec], options: RunOptions,
               cache: AnswerCache | None = None, tracker: Tracker | None = None) -> RunResult:
    """Synchronous entry point (the CLI and the bench): runs `label_documents` in a fresh event loop."""
    return asyncio.run(label_documents(docs, judges, options, cache, tracker))


def labels_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=LABEL_SCHEMA)


def write_labels(rows: list[dict[str, Any]], out: str | Path) -> Path:
    """Write the labels parquet atomically (temp file in the same directory, then rename), marked as curate's
    (`curate.files.parquet_mark`) so a rerun may replace it."""
    out = Path(out)
    with atomic_path(out) as tmp:
        pq.write_table(labels_table(rows).replace_schema_metadata(parquet_mark("judge")), tmp, compression="zstd")
    return out


def is_labels_file(path: Path) -> bool:
    """A labels parquet written by a curate that did not mark its parquet yet: exactly the labels columns."""
    try:
        return pq.read_schema(path).names == LABEL_SCHEMA.names
    except Exception:
        return False
