"""Benchmark `curate snapshot`: speed and CPU against a plain huggingface_hub loop, and pacing against a quota.

Part 1, speed and CPU per request. A loopback Hub (a synthetic mirror of N datasets tagged language:ko, with
a fixed latency added to every request, as a remote Hub has) runs in a child process, so that what is measured
here is the client alone. Side by side in this process: the plain loop a notebook would write
(`HfApi.list_datasets`, then one `hf_hub_download` of README.md at a time) and a default `curate snapshot`
(cards and author look-ups). Each first does a warm-up run of 20 datasets (imports, first connections); then
its wall time and its CPU time (`time.process_time`, all threads) per request the server saw are printed.
``--profile FILE`` adds a profiled curate run (every thread, CPU time) and prints where the time goes.

Part 2, pacing. The loopback Hub enforces and announces a fixed-window quota per bucket (``RateLimit`` and
``RateLimit-Policy`` headers, 429 beyond the quota), as the Hub does. A default snapshot (no ``--rate``)
should spend the quota as it comes: a bucket with N requests and a quota of q per w seconds cannot finish
before (ceil(N/q) - 1) * w seconds (the fixed-window lower bound: every window but the last used up, the last
one at once); the bench prints the run's wall time over that bound, and the 429s it met.

    python bench/snapshot.py [--n 500] [--latency 0.02] [--concurrency 16] [--rate R]
                             [--window 4] [--resolver-quota 100] [--api-quota 10]
                             [--skip-plain] [--skip-quota] [--profile FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import math
import multiprocessing
import pstats
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from huggingface_hub import HfApi, hf_hub_download

from collectors.synthetic_hub import write_sample

WARM_UP = 20  # datasets in each client's warm-up run


def _hub_child(conn: Any, root: str, kwargs: dict[str, Any]) -> None:
    """The loopback Hub in its own process: sends its URL, then answers "hits", "clear" and "stop"."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from collectors.hub_server import serve

    with serve(root, **kwargs) as server:
        conn.send(server.url)
        while True:
            command = conn.recv()
            if command == "hits":
                conn.send((list(server.hits), list(getattr(server, "refusals", []))))
            elif command == "clear":
                server.hits.clear()
                getattr(server, "refusals", []).clear()
                conn.send(True)
            else:
                return


class Hub:
    """A loopback Hub served by a child process (its CPU is not this process's)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.url: str = conn.recv()

    def hits(self) -> tuple[list[tuple[float, str]], list[tuple[float, str]]]:
        """(every request, the ones refused for being over a quota) as (monotonic time, path)."""
        self.conn.send("hits")
        return self.conn.recv()

    def clear(self) -> None:
        self.conn.send("clear")
        self.conn.recv()


@contextmanager
def hub_process(root: Path, **kwargs: Any) -> Iterator[Hub]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_hub_child, args=(child, str(root), kwargs), daemon=True)
    proc.start()
    try:
        yield Hub(parent)
    finally:
        parent.send("stop")
        proc.join(timeout=10)


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


def curate_run(url: str, n: int, db: Path, concurrency: int, rate: float | None) -> Any:
    from collectors.snapshot import SnapshotOptions, take_snapshot
    from curate.store import Store

    opts = SnapshotOptions(langs=["ko"], top=n, endpoint=url, concurrency=concurrency, rate=rate)
    with Store(db) as store:
        return take_snapshot(store, opts, token="")


def curate_measured(hub: Hub, n: int, db: Path, concurrency: int, rate: float | None
                    ) -> tuple[Any, float, float, int]:
    """`measured` around `take_snapshot` alone: opening and closing the store are not the crawl's."""
    from collectors.snapshot import SnapshotOptions, take_snapshot
    from curate.store import Store

    opts = SnapshotOptions(langs=["ko"], top=n, endpoint=hub.url, concurrency=concurrency, rate=rate)
    with Store(db) as store:
        return measured(hub, lambda: take_snapshot(store, opts, token=""))


def bare_gets(url: str, hub_dir: Path, concurrency: int) -> int:
    """GET every card with `curate.http.get` from ``concurrency`` threads and nothing else: the HTTP client's
    own cost per request, the floor under curate's."""
    import json
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from curate import http

    records = [json.loads(line) for line in (hub_dir / "datasets.jsonl").read_text().splitlines()]
    urls = [f"{url}/datasets/{r['id']}/resolve/{r.get('sha') or 'main'}/README.md" for r in records]
    client = http.sync_client(timeout=30, max_connections=concurrency + 1, stop=threading.Event())
    policy = http.RetryPolicy()
    with client, ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda u: http.get(client, u, limit=10_000_000, policy=policy), urls))
    return len(urls)


def measured(hub: Hub, run: Callable[[], Any]) -> tuple[Any, float, float, int]:
    """(run's result, wall seconds, CPU seconds of this process, requests the server saw)."""
    hub.clear()
    c0, t0 = time.process_time(), time.perf_counter()
    result = run()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return result, wall, cpu, len(hub.hits()[0])


@contextmanager
def profile_all_threads(out: Path) -> Iterator[None]:
    """cProfile every thread started inside the block (and this one), counting CPU time; stats to ``out``."""
    profiles: list[cProfile.Profile] = []

    def start(frame: Any, event: str, arg: Any) -> None:
        profile = cProfile.Profile(time.thread_time)
        profiles.append(profile)
        sys.setprofile(None)
        profile.enable()

    main = cProfile.Profile(time.thread_time)
    threading.setprofile(start)
    main.enable()
    try:
        yield
    finally:
        main.disable()
        threading.setprofile(None)  # type: ignore[arg-type]
        stats = pstats.Stats(main)
        for profile in profiles:
            stats.add(profile)
        stats.dump_stats(out)


def part_speed(args: argparse.Namespace, tmp: Path, rate: float | None) -> None:
    hub_dir = tmp / "hub"
    write_sample(hub_dir, n_per_lang=args.n, seed=1, langs=("ko",))
    with hub_process(hub_dir, latency=args.latency) as hub:
        rows = []
        if not args.skip_plain:
            plain_loop(hub.url, WARM_UP, tmp / "hf-warm")
            plain, wall, cpu, requests = measured(hub, lambda: plain_loop(hub.url, args.n, tmp / "hf-cache"))
            rows.append(("plain huggingface_hub loop", wall, cpu, requests, f"{plain} cards"))
        curate_run(hub.url, WARM_UP, tmp / "warm.duckdb", args.concurrency, rate)
        summary, wall, cpu, requests = curate_measured(hub, args.n, tmp / "bench.duckdb", args.concurrency, rate)
        rows.append(("curate snapshot", wall, cpu, requests, f"{summary.cards} cards, {summary.authors} authors, "
                     f"{summary.errors} error rows"))
        bare_gets(hub.url, hub_dir, args.concurrency)  # warm-up
        got, wall, cpu, requests = measured(hub, lambda: bare_gets(hub.url, hub_dir, args.concurrency))
        rows.append(("bare GETs (curate.http.get)", wall, cpu, requests, f"{got} card URLs, nothing stored"))
        if args.profile:
            with profile_all_threads(Path(args.profile)):
                curate_run(hub.url, args.n, tmp / "profiled.duckdb", args.concurrency, rate)
    print(f"-- speed and CPU: {args.n} datasets, {args.latency * 1000:.0f} ms latency per request, "
          f"concurrency {args.concurrency}, rate cap {rate or 'none'}; server in a child process")
    for name, wall, cpu, requests, what in rows:
        print(f"{name:<27}: {wall:7.2f} s wall, {cpu:6.2f} s CPU, {requests:5d} requests, "
              f"{cpu / requests * 1000:5.2f} ms CPU/request  ({what})")
    per = {name: cpu / requests for name, _, cpu, requests, _ in rows}
    walls = {name: wall for name, wall, _, _, _ in rows}
    curate, bare = per["curate snapshot"], per["bare GETs (curate.http.get)"]
    print(f"curate's own CPU per request (curate - bare GETs): {(curate - bare) * 1000:5.2f} ms")
    if "plain huggingface_hub loop" in per:
        plain = per["plain huggingface_hub loop"]
        print(f"speed-up (plain / curate wall)  : {walls['plain huggingface_hub loop'] / walls['curate snapshot']:6.1f}x"
              "   (target >= 8x)")
        print(f"CPU per request (curate / plain): {curate / plain:6.2f}")
    if args.profile:
        print(f"-- profile of one more curate run (CPU time, every thread): {args.profile}")
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(25)


def part_quota(args: argparse.Namespace, tmp: Path, rate: float | None) -> None:
    from collectors.hub_server import Quota
    from collectors.pacing import bucket_of

    hub_dir = tmp / "hub-quota"
    write_sample(hub_dir, n_per_lang=args.n, seed=1, langs=("ko",))
    quotas = {"resolvers": Quota(args.resolver_quota, args.window), "api": Quota(args.api_quota, args.window)}
    with tempfile.TemporaryDirectory() as warm_dir, hub_process(hub_dir, latency=args.latency) as warm:
        curate_run(warm.url, WARM_UP, Path(warm_dir) / "warm.duckdb", args.concurrency, rate)  # imports
    with hub_process(hub_dir, latency=args.latency, quotas=quotas) as hub:
        summary, wall, _, _ = curate_measured(hub, args.n, tmp / "quota.duckdb", args.concurrency, rate)
        hits, refused = hub.hits()
    print(f"-- pacing: {args.n} datasets, {args.latency * 1000:.0f} ms latency, quotas "
          + ", ".join(f"{b} {q.requests}/{q.window}s" for b, q in quotas.items())
          + f", rate cap {rate or 'none'}")
    bound = 0.0
    for bucket, quota in quotas.items():
        sent = sum(bucket_of(p) == bucket for _, p in hits)
        over = sum(bucket_of(p) == bucket for _, p in refused)
        needed = sent - over
        floor = (math.ceil(needed / quota.requests) - 1) * quota.window if needed else 0
        bound = max(bound, floor)
        print(f"{bucket:<10}: {needed:5d} requests in {math.ceil(needed / quota.requests)} windows, {over} answered "
              f"429; lower bound {floor:.0f} s")
    print(f"curate snapshot: {wall:.2f} s wall ({summary.cards} cards, {summary.authors} authors, "
          f"{summary.errors} error rows), {len(refused)} 429s")
    if bound:
        print(f"wall / fixed-window lower bound: {wall / bound:.2f}x   (target <= 1.2x)")
    else:
        print("every bucket fits in one window: no lower bound to compare with (raise --n or lower the quotas)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500, help="datasets in the listing")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds added to every request")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=0.0, help="curate's --rate cap (0: none, the default)")
    parser.add_argument("--window", type=int, default=4, help="quota window, seconds (the Hub's: 300)")
    parser.add_argument("--resolver-quota", type=int, default=100, help="resolver requests per window")
    parser.add_argument("--api-quota", type=int, default=10, help="API requests per window")
    parser.add_argument("--skip-plain", action="store_true", help="part 1 without the plain loop")
    parser.add_argument("--skip-quota", action="store_true", help="part 1 only")
    parser.add_argument("--skip-speed", action="store_true", help="part 2 only")
    parser.add_argument("--profile", metavar="FILE", help="also profile a curate run, stats to FILE")
    args = parser.parse_args()
    rate = args.rate or None
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_speed:
            part_speed(args, Path(tmp), rate)
        if not args.skip_quota:
            part_quota(args, Path(tmp), rate)


if __name__ == "__main__":
    main()
