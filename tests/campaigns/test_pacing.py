"""WindowPacer and Backoff: pure arithmetic driven by a fake clock (no sleeping, no loop)."""

from __future__ import annotations

import heapq
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cams_notebook.campaigns.pacing import Backoff, WindowPacer

SERVICE_WINDOW = 1.0
"""The service counts requests in any window of one second."""


def busiest_second(starts: list[float]) -> int:
    """The most starts in any half-open one-second window (what the service counts)."""
    ordered = sorted(starts)
    most, low = 0, 0
    for high, t in enumerate(ordered):
        while ordered[low] <= t - SERVICE_WINDOW:
            low += 1
        most = max(most, high - low + 1)
    return most


def test_without_spreading_the_first_limit_starts_go_at_once_and_the_next_waits_a_window() -> None:
    pacer = WindowPacer(limit=2, spread=False)
    assert [pacer.reserve(0.0) for _ in range(3)] == [0.0, 0.0, pytest.approx(pacer.span)]


def test_starts_are_spread_evenly_instead_of_bursting() -> None:
    pacer = WindowPacer(limit=250)
    starts = [pacer.reserve(0.0) for _ in range(500)]
    gaps = {round(b - a, 9) for a, b in zip(starts, starts[1:], strict=False)}
    assert gaps == {round(pacer.span / 250, 9)}
    assert busiest_second(starts) <= 250


def test_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        WindowPacer(limit=0)


def test_a_steady_backlog_is_sent_at_the_full_limit() -> None:
    pacer = WindowPacer(limit=50)
    starts = [pacer.reserve(0.0) for _ in range(500)]
    assert busiest_second(starts) == 49  # 50 per 1.025 s: the margin costs one slot a second
    assert starts[-1] == pytest.approx(499 * pacer.span / 50)  # evenly spread, no time lost
    bursty = WindowPacer(limit=50, spread=False)
    starts = [bursty.reserve(0.0) for _ in range(500)]
    assert starts[-1] == pytest.approx(9 * bursty.span)  # ten windows' worth, no time lost


# Arrival patterns: gaps between calls (bursts of zeros, trickles, pauses longer than a window).
gaps = st.lists(st.one_of(st.just(0.0), st.floats(0.0, 0.05), st.floats(0.0, 2.5)),
                min_size=1, max_size=400)


@settings(max_examples=150, deadline=None)
@given(limit=st.integers(1, 40), gaps=gaps)
def test_no_one_second_window_ever_holds_more_than_the_limit(limit: int, gaps: list[float]) -> None:
    pacer = WindowPacer(limit=limit)
    now, starts = 0.0, []
    for gap in gaps:
        now += gap
        start = pacer.reserve(now)
        assert start >= now
        assert not starts or start >= starts[-1]  # granted in order
        starts.append(start)
    assert busiest_second(starts) <= limit


@settings(max_examples=150, deadline=None)
@given(limit=st.integers(1, 40), gaps=gaps, data=st.data())
def test_throttle_answers_pause_and_never_raise_the_limit(limit: int, gaps: list[float],
                                                           data: st.DataObject) -> None:
    pacer = WindowPacer(limit=limit, cooldown=1.5)
    now, starts, resume_at = 0.0, [], 0.0
    for gap in gaps:
        now += gap
        if data.draw(st.integers(0, 9)) == 0:  # about one call in ten is a throttle answer
            retry_after = data.draw(st.sampled_from([None, 0.0, 0.05, 0.7, 1.3]))
            pacer.throttled(now, retry_after)
            resume_at = max(resume_at, now + (retry_after or 0.2))
            assert 1 <= pacer.limit <= limit
            continue
        start = pacer.reserve(now)
        assert start >= max(now, resume_at)  # nothing starts while the service said wait
        starts.append(start)
        assert 1 <= pacer.limit <= pacer.ceiling == limit
    if starts:
        assert busiest_second(starts) <= limit


def test_admit_lets_an_on_time_start_go_and_records_it() -> None:
    pacer = WindowPacer(limit=3)
    assert [pacer.admit(t) for t in (0.0, 0.1, 0.2)] == [0.0, 0.0, 0.0]
    wait = pacer.admit(0.3)  # a fourth start within the window waits for the first to age
    assert wait == pytest.approx(1.0 + (pacer.span - 1.0) / 2 - 0.3)  # half the margin
    assert pacer.admit(0.3 + wait) == 0.0


def admitted(pacer: WindowPacer, wanted: list[float]) -> list[float]:
    """When each start leaves if each asks ``admit`` at ``wanted`` and retries after the wait
    it is told, the calls made in time order as an event loop would make them."""
    events = [(t, i) for i, t in enumerate(wanted)]
    heapq.heapify(events)
    left = [0.0] * len(wanted)
    while events:
        now, i = heapq.heappop(events)
        wait = pacer.admit(now)
        if wait:
            assert wait > 0
            heapq.heappush(events, (now + wait, i))
        else:
            left[i] = now
    return left


def test_a_group_that_left_late_holds_back_the_starts_booked_after_it() -> None:
    # Bookings are evenly spread; the loop stalls 0.2 s, so the starts booked in that time
    # all leave together at its end. Without admit() the next second would see them plus a
    # full second of on-time starts: more than the limit.
    limit = 50
    pacer = WindowPacer(limit=limit)
    booked = [pacer.reserve(0.0) for _ in range(200)]
    wanted = [1.2 if 1.0 <= start < 1.2 else start for start in booked]
    assert busiest_second(wanted) > limit
    left = admitted(pacer, wanted)
    assert busiest_second(left) <= limit
    assert max(left) - booked[-1] < 0.25  # the stall is made up for, not added up


@settings(max_examples=100, deadline=None)
@given(limit=st.integers(1, 40), lateness=st.lists(st.floats(0.0, 0.3), min_size=1, max_size=300))
def test_whatever_the_lateness_admitted_starts_keep_the_limit(limit: int,
                                                               lateness: list[float]) -> None:
    pacer = WindowPacer(limit=limit)
    wanted = [pacer.reserve(0.0) + late for late in lateness]
    assert busiest_second(admitted(pacer, wanted)) <= limit


def test_a_throttle_pauses_new_starts_until_retry_after() -> None:
    pacer = WindowPacer(limit=100)
    pacer.throttled(10.0, retry_after=0.75)
    assert pacer.reserve(10.1) == pytest.approx(10.75)
    assert pacer.throttles == 1


def test_a_throttle_without_retry_after_pauses_briefly() -> None:
    pacer = WindowPacer(limit=100)
    pacer.throttled(10.0, retry_after=None)
    assert pacer.reserve(10.0) == pytest.approx(10.2)


def test_a_throttle_lowers_the_limit_by_a_fifth() -> None:
    pacer = WindowPacer(limit=100)
    pacer.throttled(0.0)
    assert pacer.limit == 80
    assert pacer.rate == pytest.approx(80 / pacer.span)


def test_throttles_answering_one_burst_lower_the_limit_once() -> None:
    # 60 requests of one burst come back throttled within the same window: one signal.
    pacer = WindowPacer(limit=200)
    for i in range(60):
        pacer.throttled(5.0 + i * 0.001, retry_after=0.5)
    assert pacer.limit == 160
    assert pacer.throttles == 60
    pacer.throttled(5.0 + pacer.span, retry_after=0.5)  # still throttled a window later
    assert pacer.limit == 128


def test_the_limit_climbs_back_one_step_per_quiet_window_after_the_cooldown() -> None:
    pacer = WindowPacer(limit=100, cooldown=5.0)
    pacer.throttled(0.0)
    assert pacer.limit == 80
    pacer.reserve(4.9)
    assert pacer.limit == 80  # still cooling down
    seen, now = [], 5.0
    while pacer.limit < 100:
        pacer.reserve(now)
        seen.append(pacer.limit)
        now += pacer.span
    assert seen == [85, 90, 95, 100]  # +5 (a twentieth of the ceiling) per window
    pacer.reserve(now + 100.0)
    assert pacer.limit == 100  # never above the ceiling


def test_backoff_delays_grow_exponentially_with_full_jitter_and_a_cap() -> None:
    backoff = Backoff(base=0.2, cap=1.0, max_attempts=5, rng=random.Random(4))
    for attempt, ceiling in [(1, 0.2), (2, 0.4), (3, 0.8), (4, 1.0), (9, 1.0)]:
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # jitter covers the range, not just its start


def test_backoff_gives_up_at_max_attempts() -> None:
    backoff = Backoff(max_attempts=3)
    assert [backoff.gives_up(n) for n in (1, 2, 3, 4)] == [False, False, True, True]
