"""The engine's feeder (campaigns/fair_feed.py): senders share the account, nobody books far
ahead, a row waiting for its pair lets the rows behind it go. On the virtual-time loop, with
the scripted CAMS of test_engine."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from cams_notebook.campaigns.fair_feed import FairFeed
from cams_notebook.campaigns.layered_pacing import LayeredPacer
from tests.campaigns.test_engine import (
    ScriptedClient,
    busiest_second,
    numbers,
    plans_for,
    run_engine,
)
from tests.virtual_time import VirtualTime

A, B, C = "8613800000000", "8613800000011", "8613800000012"


@pytest.fixture
def vt() -> Iterator[VirtualTime]:
    virtual = VirtualTime()
    yield virtual
    virtual.close()


class Senders(ScriptedClient):
    """Records each request's sender too."""

    def __init__(self) -> None:
        super().__init__()
        self.froms: list[tuple[float, str]] = []

    async def send(self, message):  # type: ignore[no-untyped-def]
        import asyncio

        self.froms.append((asyncio.get_running_loop().time(), message.from_ or ""))
        return await super().send(message)


def test_three_senders_grouped_in_the_input_share_the_account_at_once(vt: VirtualTime) -> None:
    # the usual CSV: every row of sender A, then B's, then C's
    plans = (plans_for(numbers(240), from_=A) + plans_for(numbers(240, 1000), from_=B)
             + plans_for(numbers(240, 2000), from_=C))
    client = Senders()
    began = vt.loop.time()
    _, results = vt.run(run_engine(client, [plans], qps=250, sender_mps=80))
    assert Counter(row.status for _, row in results.values()) == {"sent": 720}
    elapsed = vt.loop.time() - began
    assert elapsed < 720 / (3 * 80 / 1.04) + 1.0  # together: ~3 s, not ~9 s in turns
    first_second = Counter(s for t, s in client.froms if t - began < 1.0)
    assert set(first_second) == {A, B, C} and min(first_second.values()) >= 70
    for sender in (A, B, C):
        assert busiest_second([t for t, s in client.froms if s == sender]) <= 80


def test_a_slow_sender_does_not_hold_the_others_back(vt: VirtualTime) -> None:
    plans = plans_for(numbers(100), from_=A) + plans_for(numbers(600, 1000), from_=B)
    client = Senders()
    began = vt.loop.time()
    vt.run(run_engine(client, [plans], qps=250, sender_mps={A: 20, B: 200}))
    b_times = [t - began for t, s in client.froms if s == B]
    assert max(b_times) < 600 / (200 / 1.04) + 0.5  # B at its own pace, A's 20/s aside
    assert busiest_second([t for t, s in client.froms if s == A]) <= 20


def test_a_row_waiting_for_its_pair_lets_the_rows_behind_it_go() -> None:
    pacer = LayeredPacer(account_limit=250, sender_mps=80)
    feed = FairFeed(pacer)
    rows = numbers(3)
    # two campaigns' rows (a row is its recipient within a campaign): rows[0] twice
    plans = plans_for([rows[0]], campaign="one", from_=A) + \
        plans_for([rows[0], rows[1], rows[2]], campaign="two", from_=A)
    names = dict(zip((p.key for p in plans), "wxyz", strict=True))
    feed.add(plans)
    order, now = [], 0.0
    while len(feed):
        plan, when = feed.take(now)
        if plan is None:
            now = when
            continue
        order.append((names[plan.key], round(when, 3)))
    assert [k for k, _ in order] == ["w", "y", "z", "x"]
    assert order[-1][1] >= 6.0  # the second message to the same person, 6 s after the first


def test_nothing_is_booked_beyond_the_horizon() -> None:
    pacer = LayeredPacer(account_limit=250, sender_mps=80)
    feed = FairFeed(pacer, horizon=0.05)
    feed.add(plans_for(numbers(200), from_=A))
    taken = 0
    while True:
        plan, when = feed.take(0.0)
        if plan is None:
            assert when > 0.05
            break
        assert when <= 0.05
        taken += 1
    assert 0 < taken < 10 and len(feed) == 200 - taken


def test_drain_gives_back_every_row_left() -> None:
    pacer = LayeredPacer()
    feed = FairFeed(pacer)
    plans = plans_for(numbers(5), from_=A) + plans_for(numbers(5, 100), from_=B)
    feed.add(plans)
    feed.take(0.0)
    assert len(list(feed.drain())) == 9 and len(feed) == 0
