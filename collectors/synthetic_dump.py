"""Generate published dumps of dataset cards for the loopback Hub: parquet shards, one row per dataset.

The real dumps (``librarian-bots/dataset_cards_with_metadata`` is the best known) are Hub dataset repos holding
``data/train-0000k-of-0000n.parquet`` files with the columns of `SCHEMA`: ``datasetId``, ``author``,
``last_modified``, ``downloads``, ``likes``, ``tags``, ``task_categories``, ``createdAt`` and ``card`` (the whole
README.md, YAML header included). They are rebuilt daily, so each commit of the repo is the Hub as it was that day.

This module writes such a repo into a mirror's ``history/<owner>/<name>/`` folder (see `collectors.hub_server`),
one commit per revision, so `curate snapshot --from-dump` is tested offline:

- `dump_mirror` turns a mirror's own datasets (``datasets.jsonl`` and ``cards/``) into a dump revision: the same
  datasets served both ways, for checking that a crawl and a dump give the same report;
- `write_history` writes a synthetic Hub of any size at several dates (400,000 rows for the benchmark): datasets
  appear when they are created, downloads grow, and some licenses and card sections get filled in over time;
  rows a reader must survive are planted in every revision (a bad id, a negative count, a broken YAML header, a
  missing card, a repeated id).

Everything is seeded: the same arguments write the same files.

    python -m collectors.synthetic_dump MIRROR_DIR --from-mirror          # the mirror's datasets as a dump
    python -m collectors.synthetic_dump MIRROR_DIR --rows 400000 --revisions 3
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import zlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from collectors.synthetic_hub import LANGS, _record

DEFAULT_REPO = "librarian-bots/dataset_cards_with_metadata"
SCHEMA = pa.schema([
    ("datasetId", pa.string()), ("author", pa.string()), ("last_modified", pa.timestamp("us", tz="UTC")),
    ("downloads", pa.int64()), ("likes", pa.int64()), ("tags", pa.list_(pa.string())),
    ("task_categories", pa.list_(pa.string())), ("createdAt", pa.timestamp("us", tz="UTC")), ("card", pa.string()),
])
DEFAULT_DATES = ("2024-06-01T00:00:00.000Z", "2025-03-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z")
# Languages a synthetic Hub's datasets are tagged with, with weights; most Hub datasets carry no language tag.
TAG_LANGS: list[tuple[str, float]] = [
    ("", 40), ("en", 30), ("zh", 6), ("ko", 3), ("ja", 3), ("fr", 2.5), ("de", 2), ("es", 2), ("ru", 1.6),
    ("vi", 1.2), ("ar", 1.1), ("pt", 1), ("it", 0.8), ("id", 0.8), ("hi", 0.7), ("tr", 0.6), ("pl", 0.5),
    ("nl", 0.5), ("th", 0.4), ("fa", 0.4), ("uk", 0.3), ("sv", 0.3), ("bn", 0.3), ("he", 0.25), ("cs", 0.25),
    ("el", 0.2), ("ro", 0.2), ("hu", 0.2), ("fi", 0.15), ("da", 0.15), ("ms", 0.15), ("ta", 0.12), ("sw", 0.1),
    ("ur", 0.1), ("no", 0.1),
]
PLACEHOLDER = "[More Information Needed]"


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def dump_row(record: dict[str, Any], card: bytes | None) -> dict[str, Any]:
    """A Hub API record and its card bytes as a dump row (`SCHEMA`).

    The dump is made by reading the Hub anonymously, so the cards of gated ("manual") and disabled datasets are
    missing from it, as they are from an anonymous crawl; card bytes that are not UTF-8 are decoded with
    replacement characters, as a crawl stores them.
    """
    tags = [t for t in record.get("tags") or [] if isinstance(t, str)]
    readable = card is not None and record.get("gated") != "manual" and not record.get("disabled")
    return {
        "datasetId": record["id"], "author": record.get("author"),
        "last_modified": _timestamp(record.get("lastModified")), "downloads": record.get("downloads"),
        "likes": record.get("likes"), "tags": tags,
        "task_categories": [t.split(":", 1)[1] for t in tags if t.startswith("task_categories:")],
        "createdAt": _timestamp(record.get("createdAt")),
        "card": card.decode("utf-8", errors="replace") if readable and card is not None else None,
    }


def commit_id(repo: str, date: str) -> str:
    """The commit id of a generated revision: stable for the same repo and date."""
    return hashlib.sha1(f"{repo}@{date}".encode()).hexdigest()


def write_revision(root: str | Path, rows: Iterable[dict[str, Any]], *, date: str, repo: str = DEFAULT_REPO,
                   rows_per_file: int = 100_000, row_group_rows: int = 5_000, title: str = "Upload dataset") -> str:
    """Write one revision of a dump repo (its parquet shards, then its line in ``commits.jsonl``); return its
    commit id. Rows are written a row group at a time, so a dump of any size is generated in bounded memory."""
    base = Path(root) / "history" / repo
    sha = commit_id(repo, date)
    folder = base / sha / "data"
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    writer: pq.ParquetWriter | None = None
    in_file = 0
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal writer, in_file
        if not batch:
            return
        if writer is None:
            written.append(folder / f"part-{len(written):05d}.parquet")
            writer = pq.ParquetWriter(written[-1], SCHEMA)
        writer.write_table(pa.Table.from_pylist(batch, schema=SCHEMA))
        in_file += len(batch)
        batch.clear()
        if in_file >= rows_per_file:
            writer.close()
            writer, in_file = None, 0

    for row in rows:
        batch.append(row)
        if len(batch) >= min(row_group_rows, rows_per_file - in_file):
            flush()
    flush()
    if writer is not None:
        writer.close()
    if not written:  # an empty dump is still a dump: one shard without rows
        written.append(folder / "part-00000.parquet")
        pq.write_table(SCHEMA.empty_table(), written[-1])
    for i, path in enumerate(written):
        path.rename(folder / f"train-{i:05d}-of-{len(written):05d}.parquet")
    features = "".join(f"  - name: {f.name}\n    dtype: {f.type}\n" for f in SCHEMA)
    (base / sha / "README.md").write_text(  # a dump repo has its own card; readers take only the parquet files
        f"---\ndataset_info:\n  features:\n{features}configs:\n- config_name: default\n  data_files:\n"
        f"  - split: train\n    path: data/train-*\n---\n# Dataset cards with metadata\n\nGenerated for tests.\n",
        encoding="utf-8")
    commits = base / "commits.jsonl"
    existing = [json.loads(line) for line in commits.read_text(encoding="utf-8").splitlines() if line.strip()] \
        if commits.is_file() else []
    existing = [c for c in existing if c["id"] != sha] + [{"id": sha, "date": date, "title": title}]
    existing.sort(key=lambda c: c["date"])
    commits.write_text("".join(json.dumps(c) + "\n" for c in existing), encoding="utf-8")
    return sha


def mirror_rows(root: str | Path) -> Iterator[dict[str, Any]]:
    """The dump rows of a mirror's own datasets (``datasets.jsonl`` and ``cards/``), in file order."""
    root = Path(root)
    with (root / "datasets.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                record = json.loads(line)
                card = root / "cards" / record["id"] / "README.md"
                yield dump_row(record, card.read_bytes() if card.is_file() else None)


def dump_mirror(root: str | Path, *, repo: str = DEFAULT_REPO, date: str = DEFAULT_DATES[-1]) -> str:
    """Add a revision of ``repo`` to the mirror at ``root`` holding the mirror's own datasets; return its commit."""
    return write_revision(root, list(mirror_rows(root)), date=date, repo=repo)


def _share(repo_id: str, salt: str) -> int:
    """A stable number in 0..99 per dataset, to decide what changes for it between revisions."""
    return zlib.crc32(f"{salt}:{repo_id}".encode()) % 100


def _evolve(row: dict[str, Any], revision: int) -> dict[str, Any]:
    """A dataset as a later revision of the dump shows it: more downloads, and for some a license or filled
    sections added to the card since the first revision."""
    rid = row["datasetId"]
    row["downloads"] = int(row["downloads"] * (1 + 0.5 * revision)) if row["downloads"] is not None else None
    card = row["card"]
    if card is None or revision == 0:
        return row
    if not any(t.startswith("license:") for t in row["tags"]) and _share(rid, "license") < 30 * revision \
            and card.startswith("---\n") and "\nlicenses:" not in card:
        row["tags"] = [*row["tags"], "license:cc-by-4.0"]
        row["card"] = card = "---\nlicense: cc-by-4.0\n" + card[4:]
    if PLACEHOLDER in card and _share(rid, "docs") < 25 * revision:
        row["card"] = card.replace(PLACEHOLDER, "Described by the authors.")
    return row


def _planted(revision: int, date: str) -> list[dict[str, Any]]:
    """Rows a dump reader must turn into error rows (or rows) instead of failing on."""
    when = _timestamp(date)
    base = {"author": "edge-cases", "last_modified": when, "downloads": 3, "likes": 0,
            "tags": ["language:ko"], "task_categories": [], "createdAt": when}
    return [
        {**base, "datasetId": "not a valid id", "card": "# no\n"},
        {**base, "datasetId": "edge-cases/negative-downloads", "downloads": -5, "card": "# negative\n"},
        {**base, "datasetId": "edge-cases/broken-yaml", "card": "---\nlicense: [mit\n  : x\n---\n# Broken\n"},
        {**base, "datasetId": "edge-cases/no-card", "card": None},
        {**base, "datasetId": "edge-cases/repeated", "card": f"# first, revision {revision}\n"},
        {**base, "datasetId": "edge-cases/repeated", "card": "# second copy of the same id\n"},
    ]


def _pad(card: str | None, size: int, rid: str) -> str | None:
    """A card grown to about ``size`` bytes with prose paragraphs (real cards run to kilobytes; generated ones
    are a few hundred bytes), so memory use can be measured on realistic text volumes."""
    if card is None or len(card) >= size:
        return card
    sentence = f"The {rid.split('/')[-1]} texts were collected, deduplicated and checked before release. "
    return card + "\n## Details\n\n" + sentence * ((size - len(card)) // len(sentence) + 1)


def synthetic_rows(n: int, *, seed: int = 0, revision: int = 0, date: str = DEFAULT_DATES[-1],
                   card_bytes: int = 0) -> Iterator[dict[str, Any]]:
    """The dump of a synthetic Hub of ``n`` datasets (the last revision holds all of them) as of ``date``:
    only datasets created by then, changed as `_evolve` says for revision ``revision``, planted rows last;
    cards padded to ``card_bytes`` when given."""
    rng = random.Random(seed)
    until = _timestamp(date)
    langs, weights = zip(*TAG_LANGS, strict=True)
    for i in range(n):
        tag_lang = rng.choices(langs, weights=weights)[0]
        lang = tag_lang if tag_lang in LANGS else "en"
        record, card = _record(rng, i, lang, tag_lang=tag_lang)
        row = dump_row(record, card)
        if row["createdAt"] is not None and until is not None and row["createdAt"] > until:
            continue
        row = _evolve(row, revision)
        if card_bytes:
            row["card"] = _pad(row["card"], card_bytes, row["datasetId"])
        yield row
    yield from _planted(revision, date)


def write_history(root: str | Path, n: int, *, dates: Sequence[str] = DEFAULT_DATES, seed: int = 0,
                  repo: str = DEFAULT_REPO, rows_per_file: int = 100_000, card_bytes: int = 0) -> list[str]:
    """Write one revision of a synthetic dump per date (oldest first) into the mirror at ``root``; return the
    commit ids. The mirror gets an empty ``datasets.jsonl`` if it has none, so `curate hub serve` serves it."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "datasets.jsonl").exists():
        (root / "datasets.jsonl").write_text("", encoding="utf-8")
    return [write_revision(root, synthetic_rows(n, seed=seed, revision=r, date=d, card_bytes=card_bytes), date=d,
                           repo=repo, rows_per_file=rows_per_file)
            for r, d in enumerate(sorted(dates))]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a dump of dataset cards into a Hub mirror (module docstring).")
    parser.add_argument("mirror", type=Path)
    parser.add_argument("--repo", default=DEFAULT_REPO)
    parser.add_argument("--from-mirror", action="store_true", help="dump the mirror's own datasets (one revision)")
    parser.add_argument("--rows", type=int, default=10_000, help="datasets in a synthetic dump's last revision")
    parser.add_argument("--revisions", type=int, default=len(DEFAULT_DATES), choices=range(1, len(DEFAULT_DATES) + 1))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--card-bytes", type=int, default=0, help="pad synthetic cards to about this many bytes")
    args = parser.parse_args(argv)
    if args.from_mirror:
        shas = [dump_mirror(args.mirror, repo=args.repo)]
    else:
        shas = write_history(args.mirror, args.rows, dates=DEFAULT_DATES[-args.revisions:], seed=args.seed,
                             repo=args.repo, card_bytes=args.card_bytes)
    print(f"wrote {args.repo} at {', '.join(s[:8] for s in shas)} into {args.mirror}")


if __name__ == "__main__":
    main()
