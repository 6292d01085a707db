"""Parquet shards of bounded size, written so that nothing half-written is ever left under its final name.

A shard is filled row group by row group. Before each row group is written the writer predicts the shard's
size after it, from the bytes on disk so far and the compression ratio seen so far (1.0, the pessimistic
guess, until there is data), and starts a new shard if the prediction would pass the limit. Row groups are
kept to about a sixteenth of the limit, so a misprediction overshoots by little; a single document larger
than the limit gets a shard of its own (it cannot be split).

Shards are written into a staging directory as ``part-NNNNN.parquet.tmp``; `ShardWriter.finish` renames them
to the Hub's ``train-NNNNN-of-MMMMM.parquet`` naming once the total is known, and the caller moves the
staging directory's contents into place only after the whole run has succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.files import sha256_file

FOOTER_BASE = 2048  # bytes: parquet footer with the schema, before per-row-group entries
FOOTER_PER_ROW_GROUP = 96  # bytes per column chunk entry (no string statistics are written for the text)


@dataclass
class Shard:
    path: Path
    rows: int
    bytes: int
    sha256: str = ""


class ShardWriter:
    """Append Arrow tables; get shards no bigger than ``max_bytes`` (unless one document is)."""

    def __init__(self, staging: Path, schema: pa.Schema, max_bytes: int, compression: str = "zstd") -> None:
        if max_bytes < 16 * 1024:
            raise ValueError("shard size limit below 16 KiB")
        self.staging = staging
        self.schema = schema
        self.max_bytes = max_bytes
        self.compression = compression
        self.row_group_bytes = max(max_bytes // 16, 4096)
        self.shards: list[Shard] = []
        self._pending: list[pa.Table] = []
        self._pending_bytes = 0
        self._writer: pq.ParquetWriter | None = None
        self._sink: pa.NativeFile | None = None
        self._raw = 0  # uncompressed bytes in the open shard
        self._rows = 0
        self._row_groups = 0
        self._ratio = 1.0  # on-disk / in-memory bytes, learnt from finished row groups
        # Statistics on long texts would put whole documents in the footer; keep them for the small columns.
        self._stats_columns = [f.name for f in schema if f.name != "text"]
        staging.mkdir(parents=True, exist_ok=True)

    def write(self, table: pa.Table) -> None:
        """Queue rows; row groups are cut from the row sequence alone, so how the caller batches its tables
        (the local and the Ray engine batch differently) does not change the files written."""
        if table.num_rows == 0:
            return
        table = table.cast(self.schema)
        sizes = self._row_sizes(table)
        start, acc = 0, 0
        for i, size in enumerate(sizes):
            if self._pending_bytes + acc > 0 and self._pending_bytes + acc + size > self.row_group_bytes:
                if i > start:
                    self._pending.append(table.slice(start, i - start))
                    self._pending_bytes += acc
                self._flush()
                start, acc = i, 0
            acc += size
        if start < table.num_rows:
            self._pending.append(table.slice(start))
            self._pending_bytes += acc

    def _row_sizes(self, table: pa.Table) -> list[int]:
        """Approximate in-memory bytes per row, from the row's own values only (not from how it is batched)."""
        total = np.full(table.num_rows, 8 * len(self.schema), dtype=np.int64)
        for field in self.schema:
            if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
                lengths = pc.binary_length(table.column(field.name)).fill_null(0)
                total += lengths.to_numpy(zero_copy_only=False).astype(np.int64)
        return total.tolist()

    def _footer(self, row_groups: int) -> int:
        return FOOTER_BASE + FOOTER_PER_ROW_GROUP * row_groups * len(self.schema)

    def _flush(self) -> None:
        if not self._pending:
            return
        table = pa.concat_tables(self._pending).combine_chunks()
        size = self._pending_bytes
        self._pending, self._pending_bytes = [], 0
        if self._writer is not None:
            assert self._sink is not None
            predicted = self._sink.tell() + size * self._ratio * 1.05 + self._footer(self._row_groups + 1)
            if predicted > self.max_bytes:
                self._close_shard()
        if self._writer is None:
            self._open_shard()
        assert self._writer is not None and self._sink is not None
        before = self._sink.tell()
        self._writer.write_table(table, row_group_size=table.num_rows)
        self._raw += size
        self._rows += table.num_rows
        self._row_groups += 1
        self._ratio = max(self._ratio_estimate(self._sink.tell() - before, size), 0.02)

    def _ratio_estimate(self, written: int, raw: int) -> float:
        last = written / max(raw, 1)
        # Lean on the worse of the running and the last ratio: text compressibility varies between batches.
        return max(last, (self._sink.tell() if self._sink else written) / max(self._raw, 1))

    def _open_shard(self) -> None:
        path = self.staging / f"part-{len(self.shards):05d}.parquet.tmp"
        self._sink = pa.OSFile(str(path), "wb")
        self._writer = pq.ParquetWriter(self._sink, self.schema, compression=self.compression,
                                        write_statistics=self._stats_columns)
        self.shards.append(Shard(path, 0, 0))
        self._raw = self._rows = self._row_groups = 0

    def _close_shard(self) -> None:
        if self._writer is None:
            return
        assert self._sink is not None
        self._writer.close()
        self._sink.close()
        shard = self.shards[-1]
        shard.rows = self._rows
        shard.bytes = shard.path.stat().st_size
        self._writer = self._sink = None

    def finish(self) -> list[Shard]:
        """Flush, close and rename shards to ``train-NNNNN-of-MMMMM.parquet`` (still in the staging dir).

        With no rows at all, one shard with the schema and no row groups is written, so pyarrow, polars and
        DuckDB read an empty table (`datasets` refuses empty splits whatever the files hold).
        """
        self._flush()
        if not self.shards:
            self._open_shard()
        self._close_shard()
        total = len(self.shards)
        for i, shard in enumerate(self.shards):
            final = self.staging / f"train-{i:05d}-of-{total:05d}.parquet"
            shard.path.replace(final)
            shard.path = final
            shard.sha256 = sha256_file(final)
        return self.shards

    def abort(self) -> None:
        """Close and delete whatever was written (the staging dir itself is the caller's)."""
        if self._writer is not None:
            try:
                self._writer.close()
            finally:
                if self._sink is not None:
                    self._sink.close()
            self._writer = self._sink = None
        for shard in self.shards:
            shard.path.unlink(missing_ok=True)
        self.shards = []
