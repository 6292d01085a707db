"""Benchmark: `curate snapshot` against a plain sequential huggingface_hub loop, side by side.

Both run in this process against the same loopback Hub (a synthetic mirror of N datasets tagged
language:ko) with a fixed latency added to every request, as a remote Hub has. The plain loop is what a
notebook does: `HfApi.list_datasets` then one `hf_hub_download` of README.md at a time. curate is run with a
request-rate cap, and the bench checks the cap held by counting requests per one-second window at the server.

    python bench/snapshot.py [--n 700] [--latency 0.02] [--rate 400] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from huggingface_hub import HfApi, hf_hub_download

from collectors.hub_server import serve
from collectors.snapshot import SnapshotOptions, take_snapshot
from collectors.synthetic_hub import write_sample
from curate.store import Store


def plain_loop(url: str, n: int, cache: Path) -> int:
    api = HfApi(endpoint=url, token=False)
    fetched = 0
    for info in api.list_datasets(filter="language:ko", sort="downloads", limit=n, full=True):
        try:
            hf_hub_download(info.id, "README.md", repo_type="dataset", revision=info.sha, endpoint=url,
                            cache_dir=cache, token=False)
            fetched += 1
        except Exception:  # gated, missing: the plain loop skips them
            pass
    return fetched


def max_per_second(times: list[float]) -> int:
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - 1.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=700, help="datasets in the listing")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds added to every request")
    parser.add_argument("--rate", type=float, default=400.0, help="curate's request-rate cap (per second)")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        hub = tmpdir / "hub"
        write_sample(hub, n_per_lang=args.n, seed=1, langs=("ko",))
        with serve(hub, latency=args.latency) as server:
            t0 = time.perf_counter()
            plain = plain_loop(server.url, args.n, tmpdir / "hf-cache")
            plain_s = time.perf_counter() - t0
            plain_requests = len(server.hits)

            server.hits.clear()
            opts = SnapshotOptions(langs=["ko"], top=args.n, endpoint=server.url, concurrency=args.concurrency,
                                   rate=args.rate, authors=False)
            with Store(tmpdir / "bench.duckdb") as store:
                t0 = time.perf_counter()
                summary = take_snapshot(store, opts, token="")
                curate_s = time.perf_counter() - t0
            peak = max_per_second([t for t, p in server.hits if "/resolve/" in p])

    print(f"datasets listed: {args.n}; latency per request: {args.latency * 1000:.0f} ms")
    print(f"plain huggingface_hub loop : {plain_s:7.2f} s  ({plain} cards, {plain_requests} requests)")
    print(f"curate snapshot            : {curate_s:7.2f} s  ({summary.cards} cards, {summary.errors} error rows)")
    print(f"speed-up (plain / curate)  : {plain_s / curate_s:7.1f}x   (target >= 8x)")
    print(f"peak card requests in any 1 s window: {peak} (cap {args.rate:.0f}/s)")


if __name__ == "__main__":
    main()
