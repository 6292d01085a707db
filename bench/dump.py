"""Benchmark: `curate snapshot --from-dump` on a generated dump of N rows, against loading the dump whole.

A synthetic dump of dataset cards (`collectors.synthetic_dump`, the real dump's columns) is written into a mirror
and served by the loopback Hub in this process. Then, side by side, each in its own process so peak memory is its
own:

- curate: ``python -m curate snapshot --from-dump --endpoint URL`` into a fresh store (download into a fresh HF
  cache, schema check, record batches, listings);
- whole: what a script that loads the dump does (``pyarrow.parquet.read_table`` of every shard, then every row as
  Python), the memory curate's record batches avoid.

It prints wall time, rows per second and peak RSS of each, their ratio, and the crawl the dump replaces: one card
request per dataset at the anonymous Hub quota of 3,000 file requests per 5 minutes.

    python bench/dump.py [--rows 400000] [--card-bytes 4000] [--mirror DIR]   # --mirror: reuse (or keep) it
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow.parquet as pq

from collectors.hub_server import serve
from collectors.synthetic_dump import DEFAULT_REPO, write_history

ROOT = Path(__file__).resolve().parents[1]
WHOLE = """
import sys, pyarrow.parquet as pq
from pathlib import Path
rows = 0
tables = [pq.read_table(p) for p in sorted(Path(sys.argv[1]).rglob("*.parquet"))]
for t in tables:
    rows += len(t.to_pylist())
print(rows)
"""


def run(cmd: list[str], env: dict[str, str], work: Path) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MiB, stdout) of a child process, its own rusage (``os.wait4``)."""
    out, err = work / "stdout", work / "stderr"
    started = time.perf_counter()
    with out.open("w") as fo, err.open("w") as fe:
        proc = subprocess.Popen(cmd, env=env, stdout=fo, stderr=fe)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}... failed:\n{err.read_text()[-2000:]}")
    return wall, usage.ru_maxrss / 1024, out.read_text()


def card_text_bytes(path: Path) -> int:
    """Uncompressed bytes of a shard's ``card`` column, from its parquet metadata."""
    meta = pq.ParquetFile(path).metadata
    col = meta.schema.to_arrow_schema().get_field_index("card")
    return sum(meta.row_group(g).column(col).total_uncompressed_size for g in range(meta.num_row_groups))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=400_000, help="datasets in the dump")
    parser.add_argument("--mirror", type=Path, help="mirror folder to reuse (generated there when empty)")
    parser.add_argument("--card-bytes", type=int, default=4000,
                        help="pad generated cards to about this many bytes (real cards run to kilobytes)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        mirror = args.mirror or work / "hub"
        if not (mirror / "history" / DEFAULT_REPO / "commits.jsonl").is_file():
            started = time.perf_counter()
            write_history(mirror, args.rows, dates=["2026-01-01T00:00:00.000Z"], card_bytes=args.card_bytes)
            print(f"generated a {args.rows:,}-row dump in {time.perf_counter() - started:.0f}s")
        shards = sorted((mirror / "history" / DEFAULT_REPO).rglob("*.parquet"))
        size = sum(p.stat().st_size for p in shards)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HOME": str(work / "hf-home"), "CURATE_DB": "",
               "HF_HUB_OFFLINE": "0"}
        with serve(mirror) as server:
            curate_wall, curate_rss, out = run(
                [sys.executable, "-m", "curate", "snapshot", "--from-dump", "--endpoint", server.url,
                 "--db", str(work / "bench.duckdb")], env, work)
        whole_wall, whole_rss, whole_out = run([sys.executable, "-c", WHOLE, str(shards[0].parent)], env, work)
        rows = int(whole_out.strip())
        summary = out.strip().splitlines()[-1]
        cards = sum(card_text_bytes(p) for p in shards)
        print(f"dump: {rows:,} rows in {len(shards)} shards, {size / 2**20:.0f} MiB of parquet, "
              f"{cards / 2**20:,.0f} MiB of card text")
        print(f"curate snapshot --from-dump: {curate_wall:.1f}s wall ({rows / curate_wall:,.0f} rows/s), "
              f"peak RSS {curate_rss:.0f} MiB")
        print(f"  {summary}")
        print(f"load the dump whole:         {whole_wall:.1f}s wall, peak RSS {whole_rss:.0f} MiB")
        print(f"memory ratio whole/curate: {whole_rss / curate_rss:.2f}x")
        crawl = rows / (3000 / 300)
        print(f"a crawl of {rows:,} cards at the anonymous file quota (10/s) needs at least {crawl / 3600:.1f} h: "
              f"{crawl / curate_wall:.0f}x the dump import")


if __name__ == "__main__":
    main()
