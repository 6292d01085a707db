"""Quota pacing: `collectors.pacing.Pacer` against the Hub's rate-limit headers, and the loopback Hub's quotas.

No durations are asserted: what is checked is counted (requests let through before a window is spent, 429s
met, requests a window admitted), or that a blocked thread stays blocked until something releases it.
"""

from __future__ import annotations

import itertools
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub.utils import parse_ratelimit_headers

from collectors.hub_server import Quota, serve
from collectors.pacing import Pacer, Ticket, bucket_of
from collectors.snapshot import SnapshotOptions, take_snapshot
from curate import http
from curate.store import Store
from tests.hubdir import make_hub


def _rl(bucket: str, remaining: int, reset: int, quota: int = 100, window: int = 300) -> dict[str, str]:
    return {"RateLimit": f'"{bucket}";r={remaining};t={reset}',
            "RateLimit-Policy": f'"fixed window";"{bucket}";q={quota};w={window}'}


def _blocked_wait(pacer: Pacer, bucket: str) -> tuple[threading.Thread, list[Any]]:
    """A thread waiting for ``bucket``; its outcome (a ticket or the exception) lands in the list."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(pacer.wait(bucket))
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def _waits_until_stopped(pacer: Pacer, bucket: str) -> None:
    """The next request of ``bucket`` is held (the window is spent) until the run stops, and then cancelled."""
    thread, outcome = _blocked_wait(pacer, bucket)
    thread.join(0.5)
    assert thread.is_alive() and not outcome
    pacer.stop()
    thread.join(2)
    assert isinstance(outcome[0], http.Cancelled)


def test_buckets_follow_the_hub() -> None:
    assert bucket_of("https://huggingface.co/datasets/a/b/resolve/main/README.md") == "resolvers"
    assert bucket_of("https://huggingface.co/api/datasets?filter=language:ko") == "api"
    assert bucket_of("https://huggingface.co/api/users/a/overview") == "api"


def test_never_more_than_what_remains_in_the_window() -> None:
    pacer = Pacer(max_wait=900)
    pacer.plan("resolvers", 3)  # fits in what remains: no need to spread it
    probe = pacer.wait("resolvers")
    assert probe.probe
    pacer.observe(probe, 200, _rl("resolvers", remaining=4, reset=600))
    tickets = [pacer.wait("resolvers") for _ in range(4)]  # 4 remain; the fifth request must wait
    assert [t.probe for t in tickets] == [False] * 4
    thread, outcome = _blocked_wait(pacer, "resolvers")
    thread.join(0.5)
    assert thread.is_alive() and not outcome  # held until the window resets
    ticket = pacer.wait("api")  # another bucket is not held
    assert isinstance(ticket, Ticket) and ticket.bucket == "api"
    pacer.stop()
    thread.join(2)
    assert not thread.is_alive() and isinstance(outcome[0], http.Cancelled)


def test_requests_in_flight_count_against_the_window() -> None:
    pacer = Pacer(max_wait=900)
    pacer.plan("api", 5)  # fits: no spreading, so the count is all that holds requests back
    probe = pacer.wait("api")
    pacer.observe(probe, 200, _rl("api", remaining=5, reset=600))
    first = [pacer.wait("api") for _ in range(3)]  # in flight, their answers not back yet
    # An answer to the first of them says 4 remain: the two sent after it may not be counted yet, so 2 more.
    pacer.observe(first[0], 200, _rl("api", remaining=4, reset=600))
    more = [pacer.wait("api") for _ in range(2)]
    assert len(more) == 2
    _waits_until_stopped(pacer, "api")


def test_the_first_request_of_a_window_goes_alone() -> None:
    pacer = Pacer(max_wait=900)
    probe = pacer.wait("resolvers")
    thread, outcome = _blocked_wait(pacer, "resolvers")
    thread.join(0.5)
    assert thread.is_alive() and not outcome  # waits for the probe's answer
    pacer.observe(probe, 200, _rl("resolvers", remaining=50, reset=300))
    thread.join(2)
    assert outcome and isinstance(outcome[0], Ticket) and not outcome[0].probe


def test_a_server_that_announces_nothing_is_not_paced() -> None:
    pacer = Pacer(max_wait=900)
    probe = pacer.wait("api")
    pacer.observe(probe, 200, {})
    assert not any(pacer.wait("api").probe for _ in range(50))


def test_a_lost_probe_lets_the_next_request_probe() -> None:
    pacer = Pacer(max_wait=900)
    probe = pacer.wait("api")
    pacer.observe(probe, None, None)  # the request failed: no answer to learn from
    assert pacer.wait("api").probe


@pytest.mark.parametrize("headers", [{"Retry-After": "600"}, _rl("resolvers", remaining=0, reset=600)],
                         ids=["retry-after", "ratelimit"])
def test_a_429_holds_its_bucket_until_stopped(headers: dict[str, str]) -> None:
    pacer = Pacer(max_wait=900)
    probe = pacer.wait("resolvers")
    assert pacer.observe(probe, 429, headers) == 600
    assert pacer.pauses == 1
    thread, outcome = _blocked_wait(pacer, "resolvers")
    thread.join(0.5)
    assert thread.is_alive() and not outcome
    pacer.stop()  # Ctrl-C: every waiting thread wakes within a quarter of a second
    thread.join(2)
    assert isinstance(outcome[0], http.Cancelled)


def test_a_policy_announced_only_on_a_429_is_assumed_for_the_next_window() -> None:
    pacer = Pacer(max_wait=900)
    pacer.plan("api", 4)  # fits in a window: nothing is spread, so only the count holds requests back
    first = pacer.wait("api")
    pacer.observe(first, 429, _rl("api", remaining=0, reset=1, quota=3, window=5))
    probe = pacer.wait("api")  # after the reset, one request alone
    assert probe.probe
    pacer.observe(probe, 200, {})  # the server says nothing on a 200: q=3 per window is assumed
    assert len([pacer.wait("api") for _ in range(2)]) == 2
    _waits_until_stopped(pacer, "api")


def test_a_reset_beyond_max_wait_ends_the_run_at_once() -> None:
    pacer = Pacer(max_wait=60, hint="; resume later")
    probe = pacer.wait("api")
    with pytest.raises(http.WaitTooLong, match="RateLimit reset"):
        pacer.observe(probe, 200, _rl("api", remaining=0, reset=10**9))


def test_rate_caps_requests_across_buckets() -> None:
    pacer = Pacer(rate=1000.0)
    tickets = []
    for i in range(10):
        tickets.append(pacer.wait("api" if i % 2 else "resolvers"))
        pacer.observe(tickets[-1], 200, {})  # a server that announces nothing: only the cap paces
    starts = [t.sent_at for t in tickets]
    # Slots are handed out one rate interval apart, whichever the bucket (the reserved times, not a clock).
    assert all(b - a >= 0.001 - 1e-9 for a, b in itertools.pairwise(starts))


# -- the loopback Hub's quotas ----------------------------------------------------------------------------

def test_loopback_hub_announces_and_enforces_a_fixed_window(tmp_path: Path) -> None:
    hub = make_hub(tmp_path / "hub", n_per_lang=3)
    with serve(hub, quotas={"resolvers": Quota(3, 60)}) as server, httpx.Client() as client:
        card = f"{server.url}/datasets/user1/ko-set-0001/resolve/main/README.md"
        answers = [client.get(card) for _ in range(4)]
        listing = client.get(f"{server.url}/api/datasets")
    infos = [parse_ratelimit_headers(r.headers) for r in answers]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [i.remaining for i in infos if i] == [2, 1, 0, 0]
    assert all(i and i.resource_type == "resolvers" and i.limit == 3 and i.window_seconds == 60
               and 1 <= i.reset_in_seconds <= 60 for i in infos)
    assert answers[3].headers["Retry-After"] == str(infos[3].reset_in_seconds)  # type: ignore[union-attr]
    assert listing.status_code == 200 and "RateLimit" not in listing.headers  # api is not limited here
    assert len(server.refusals) == 1


def test_quota_parse() -> None:
    assert Quota.parse("api=500/300") == ("api", Quota(500, 300))
    for bad in ("api=500", "pages=1/1", "api=0/300", "resolvers=a/b"):
        with pytest.raises(ValueError, match="api"):
            Quota.parse(bad)


@pytest.mark.timeout(120)
def test_a_default_snapshot_spends_a_small_quota_without_429s(tmp_path: Path, db_path: Path) -> None:
    hub = make_hub(tmp_path / "hub", n_per_lang=45)  # ko: 45 cards; 3 languages listed
    quotas = {"resolvers": Quota(40, 2), "api": Quota(12, 2)}
    with serve(hub, quotas=quotas) as server, Store(db_path) as store:
        summary = take_snapshot(store, SnapshotOptions(langs=["ko", "ja"], endpoint=server.url,
                                                       base_wait=0.01), token="")
        hits, refused = list(server.hits), list(server.refusals)
    assert summary.cards == 90 and summary.errors == 0 and summary.authors == 11
    cards = sum(bucket_of(p) == "resolvers" for _, p in hits)
    api = sum(bucket_of(p) == "api" for _, p in hits)
    assert cards > 2 * 40 and api > 12  # each bucket needed more than one window
    assert len(refused) <= 2
