"""Reading a scores parquet written by ``curate annotate`` (or several shards of one).

The contract (docs/annotate.md): ``doc_id`` (str), ``lang`` (str|null), ``n_chars``, ``truncated``, one
``score_<head>`` float32 column per head and ``score`` = mean of heads. Only the id, the language and the score
columns are loaded, so memory is a few dozen bytes per document whatever the corpus size.

A corrupted shard is reported in one line and skipped: its documents then count as unscored and are not
exported, which is the safe side for a quality filter. Duplicate ids keep their first row (in file order),
because a resumed annotate run may have scored a shard twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from curate.errors import CurateError
from curate.files import sha256_file

SCORE = "score"
HEAD_PREFIX = "score_"


@dataclass
class Scores:
    """The scores of a corpus, one row per document id, with where they came from."""

    frame: pl.DataFrame  # doc_id, lang (normalised later), score, score_<head>...
    heads: list[str]  # head names (the ``score_<head>`` columns without the prefix)
    files: list[dict[str, Any]] = field(default_factory=list)  # path, rows, bytes, sha256
    metadata: dict[str, Any] = field(default_factory=dict)  # key-value metadata of the first readable file
    n_duplicates: int = 0
    skipped_files: list[str] = field(default_factory=list)

    @property
    def head_columns(self) -> list[str]:
        return [HEAD_PREFIX + h for h in self.heads]


def score_files(sources: list[Path]) -> list[Path]:
    """Expand files and directories (read recursively, sorted) into parquet files."""
    files: list[Path] = []
    for source in sources:
        if source.is_dir():
            found = sorted(p for p in source.rglob("*.parquet") if p.is_file())
            if not found:
                raise CurateError(f"{source}: no .parquet files in this directory")
            files.extend(found)
        elif source.is_file():
            files.append(source)
        else:
            raise CurateError(f"{source}: no such scores file or directory")
    return files


def _decode_metadata(raw: dict[bytes, bytes] | None) -> dict[str, Any]:
    """Parquet key-value metadata, minus the bulky Arrow schema, JSON-decoded where it is JSON."""
    out: dict[str, Any] = {}
    for key, value in (raw or {}).items():
        name = key.decode("utf-8", "replace")
        if name in ("ARROW:schema", "pandas", "huggingface"):
            continue
        text = value.decode("utf-8", "replace")
        try:
            out[name] = json.loads(text)
        except ValueError:
            out[name] = text
    return out


def _read_one(path: Path) -> tuple[pl.DataFrame, dict[str, Any]]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    names = pf.schema_arrow.names
    if "doc_id" not in names:
        raise CurateError(f"{path}: not a scores file (no doc_id column; columns: {', '.join(names)})")
    heads = [n for n in names if n.startswith(HEAD_PREFIX)]
    if SCORE not in names and not heads:
        raise CurateError(f"{path}: not a scores file (no score or score_<head> columns)")
    wanted = ["doc_id", *(["lang"] if "lang" in names else []), *([SCORE] if SCORE in names else []), *heads]
    table = pf.read(columns=wanted)
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    casts = [pl.col("doc_id").cast(pl.Utf8)]
    casts.append(pl.col("lang").cast(pl.Utf8) if "lang" in names else pl.lit(None, pl.Utf8).alias("lang"))
    casts += [pl.col(c).cast(pl.Float32) for c in heads]
    if SCORE in names:
        casts.append(pl.col(SCORE).cast(pl.Float32))
    else:  # the contract says score is the mean of the heads; rebuild it for files that lack it
        casts.append(pl.mean_horizontal(heads).cast(pl.Float32).alias(SCORE))
    frame = frame.with_columns(casts).select(["doc_id", "lang", SCORE, *heads])
    return frame, _decode_metadata(pf.schema_arrow.metadata)


def read_scores(sources: list[Path], on_error: Callable[[str], None]) -> Scores:
    """Load every readable scores file; report unreadable ones through ``on_error`` and go on."""
    frames: list[pl.DataFrame] = []
    files: list[dict[str, Any]] = []
    skipped: list[str] = []
    metadata: dict[str, Any] = {}
    heads: list[str] | None = None
    for path in score_files(sources):
        try:
            frame, meta = _read_one(path)
        except CurateError as exc:
            on_error(str(exc))
            skipped.append(str(path))
            continue
        except Exception as exc:  # pyarrow raises several types for a damaged file
            on_error(f"{path}: unreadable scores parquet, skipped ({type(exc).__name__}: {exc})")
            skipped.append(str(path))
            continue
        these = [c.removeprefix(HEAD_PREFIX) for c in frame.columns if c.startswith(HEAD_PREFIX)]
        if heads is None:
            heads, metadata = these, meta
        elif set(these) != set(heads):
            on_error(f"{path}: heads {these} differ from the first scores file's {heads}; skipped")
            skipped.append(str(path))
            continue
        frames.append(frame.select(["doc_id", "lang", SCORE, *(HEAD_PREFIX + h for h in heads)]))
        files.append({"path": str(path), "rows": frame.height, "bytes": path.stat().st_size, "sha256": sha256_file(path)})
    if not frames or heads is None:
        raise CurateError("no readable scores file: " + ", ".join(str(s) for s in sources))
    frame = pl.concat(frames, how="vertical")
    before = frame.height
    frame = frame.unique(subset="doc_id", keep="first", maintain_order=True)
    n_dup = before - frame.height
    if n_dup:
        on_error(f"scores: {n_dup} duplicate doc_id rows; the first row of each id is used")
    return Scores(frame, heads, files, metadata, n_dup, skipped)
