"""LayeredPacer: account, sender-number and pair limits together, driven by a fake clock.

Oracle: ``shared/reference/platform_rules.md`` sections 1 (80 messages/s per WhatsApp
number, 20/s for coexistence numbers, 250/s per account) and 2 (about one message every
6 s per pair; bursts of up to about 45 borrow from the future: after a burst of 20, about
2 minutes before the next). The checkers below count what a service would count, on the
times produced, independently of the pacer's own bookkeeping.
"""

from __future__ import annotations

import heapq
import random
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cams_notebook.campaigns.layered_pacing import (
    COEXISTENCE_MPS,
    LayeredPacer,
    PlannedRow,
)
from cams_notebook.campaigns.pacing import WindowPacer
from tests.campaigns.test_pacing import busiest_second


def pair_rule_broken(times: list[float], interval: float = 6.0, burst: int = 1) -> str | None:
    """Replay one pair's sends against section 2: each send adds ``interval`` of debt; a burst
    of up to ``burst`` may start when no debt is left, within one interval; then nothing until
    the debt is repaid. The first send that breaks it, described, else None."""
    owed_until, burst_start, count = float("-inf"), float("-inf"), 0
    for t in sorted(times):
        if t >= owed_until - 1e-9:
            owed_until, burst_start, count = t + interval, t, 1
        elif count < burst and t < burst_start + interval:
            owed_until, count = owed_until + interval, count + 1
        else:
            return f"send at {t} before the debt is repaid at {owed_until}"
    return None


def by_key(rows: list[PlannedRow], times: list[float], key: str) -> dict[object, list[float]]:
    grouped: dict[object, list[float]] = defaultdict(list)
    for row, at in zip(rows, times, strict=True):
        k = row.sender if key == "sender" else (row.sender, row.recipient)
        grouped[k].append(at)
    return grouped


def assert_all_limits(rows: list[PlannedRow], times: list[float], *, account: int,
                      sender_limits: dict[str, int | None], burst: int = 1) -> None:
    assert busiest_second(times) <= account
    for sender, starts in by_key(rows, times, "sender").items():
        limited = [t for t, r in zip(times, rows, strict=True)
                   if r.sender == sender and r.channel == "whatsapp"]
        limit = sender_limits.get(str(sender), 80)
        if limit is not None:
            assert busiest_second(limited) <= limit, sender
        assert starts
    pairs: dict[object, list[float]] = defaultdict(list)
    for row, at in zip(rows, times, strict=True):
        if row.channel == "whatsapp":
            pairs[(row.sender, row.recipient)].append(at)
    for key, sends in pairs.items():
        assert pair_rule_broken(sends, burst=burst) is None, key


# -- the layers one at a time -------------------------------------------------------------

def test_one_sender_is_held_to_its_80_per_second_not_the_account_250() -> None:
    pacer = LayeredPacer()
    starts = [pacer.reserve(0.0, "A", f"u{i}") for i in range(800)]
    assert busiest_second(starts) == 79  # 80 per 1.025 s: the margin costs one a second
    assert starts[-1] == pytest.approx(799 * 1.025 / 80)


def test_a_coexistence_number_in_the_mapping_gets_20_per_second_others_the_default() -> None:
    pacer = LayeredPacer(sender_mps={"COEX": COEXISTENCE_MPS, "UPGRADED": None})
    coex = [pacer.reserve(0.0, "COEX", f"c{i}") for i in range(100)]
    assert busiest_second(coex) <= 20
    assert coex[-1] == pytest.approx(99 * 1.025 / 20)
    pacer = LayeredPacer(sender_mps={"COEX": COEXISTENCE_MPS, "UPGRADED": None})
    upgraded = [pacer.reserve(0.0, "UPGRADED", f"u{i}") for i in range(500)]
    assert busiest_second(upgraded) == 244  # only the account holds it (250 per 1.025 s)
    pacer = LayeredPacer(sender_mps={"COEX": COEXISTENCE_MPS})
    other = [pacer.reserve(0.0, "OTHER", f"o{i}") for i in range(200)]
    assert busiest_second(other) == 79  # not in the mapping: the default 80/s


@pytest.mark.parametrize("channel", ["viber", "messenger", "instagram", "telegram"])
def test_channels_without_a_sender_limit_run_at_the_account_rate(channel: str) -> None:
    pacer = LayeredPacer()
    assert pacer.sender_window("A", channel) is None
    starts = [pacer.reserve(0.0, "A", "same-user", channel) for _ in range(500)]
    assert busiest_second(starts) == 244  # no sender limit and no pair rule
    assert pacer.tracked_pairs == 0


def test_the_channel_name_is_matched_without_regard_to_case() -> None:
    pacer = LayeredPacer()
    assert pacer.sender_window("A", "WhatsApp") is not None


def test_a_row_to_someone_just_messaged_waits_six_seconds_instead_of_being_refused() -> None:
    pacer = LayeredPacer()
    assert pacer.reserve(0.0, "A", "ada") == 0.0
    assert pacer.pair_ready(0.1, "A", "ada") == 6.0
    assert pacer.reserve(0.1, "A", "ada") == 6.0
    assert pacer.pair_ready(6.1, "B", "ada") == 6.1  # another number: its own pair
    assert pacer.reserve(6.1, "B", "ada") == 6.1
    assert pacer.reserve(6.2, "A", "ada") == 12.0


def test_a_row_booked_ahead_for_its_pair_holds_later_rows_so_callers_ask_pair_ready_first(
        ) -> None:
    # Bookings never go backwards (each window spreads its starts evenly from the last one),
    # so the engine asks pair_ready() and sets such a row aside instead of reserving it now.
    pacer = LayeredPacer()
    pacer.reserve(0.0, "A", "ada")
    assert pacer.pair_ready(0.5, "A", "ada") == 6.0  # set aside until then
    assert pacer.reserve(0.5, "A", "bo") == 0.5  # the others keep flowing meanwhile
    assert pacer.reserve(6.0, "A", "ada") == 6.0
    held = LayeredPacer()
    held.reserve(0.0, "A", "ada")
    assert held.reserve(0.5, "A", "ada") == 6.0
    assert held.reserve(0.5, "A", "bo") >= 6.0  # reserved without asking: held behind it


def test_a_burst_borrows_from_the_future_a_burst_of_20_then_two_minutes() -> None:
    pacer = LayeredPacer(pair_burst=45)
    burst = [pacer.reserve(0.0, "A", "ada") for _ in range(20)]
    assert burst[-1] < 6.0  # all within one interval
    assert pacer.pair_ready(6.0, "A", "ada") == pytest.approx(120.0)  # 20 x 6 s of debt
    assert pacer.reserve(7.0, "A", "ada") == pytest.approx(120.0)


def test_a_burst_stops_at_its_allowance_and_at_the_end_of_its_interval() -> None:
    pacer = LayeredPacer(pair_burst=3, sender_mps=None)
    sends = [pacer.reserve(0.0, "A", "ada") for _ in range(4)]
    assert sends[:3] == [0.0, pytest.approx(1.025 / 250), pytest.approx(2 * 1.025 / 250)]
    assert sends[3] == pytest.approx(18.0)  # three in the burst, then the debt
    late = LayeredPacer(pair_burst=3)
    assert late.reserve(0.0, "A", "bo") == 0.0
    assert late.reserve(6.5, "A", "bo") == 6.5  # debt repaid: a new burst, not a continued one
    assert late.pair_ready(6.5, "A", "bo") == 6.5  # still within the new burst
    assert late.reserve(12.4, "A", "bo") == 12.4  # inside the interval, second of three: ok
    assert late.pair_ready(12.6, "A", "bo") == pytest.approx(6.5 + 12.0)  # burst over: debt


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"sender_mps": 0}, r"^sender_mps must be at least 1"),
    ({"sender_mps": {"+601": 0}}, r"^sender_mps\['\+601'\] must be at least 1 .*got 0"),
    ({"pair_interval": 0.0}, r"^pair_interval must be a positive"),
    ({"pair_burst": 0}, r"^pair_burst must be at least 1"),
    ({"account_limit": 0}, r"^limit must be at least 1"),
])
def test_bad_settings_are_refused_naming_the_setting(kwargs: dict[str, object],
                                                     message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LayeredPacer(**kwargs)  # type: ignore[arg-type]


# -- booking all layers at once -----------------------------------------------------------

def test_earliest_says_what_reserve_grants_without_booking() -> None:
    pacer = LayeredPacer()
    pacer.reserve(0.0, "A", "ada")
    assert pacer.earliest(0.0, "A", "ada") == 6.0
    assert pacer.earliest(0.0, "A", "ada") == 6.0  # asking twice books nothing
    assert pacer.reserve(0.0, "A", "ada") == 6.0


rows_strategy = st.lists(
    st.tuples(st.sampled_from(["A", "B", "C", "COEX", "UP"]),
              st.integers(0, 30),
              st.sampled_from(["whatsapp", "whatsapp", "whatsapp", "viber"])),
    min_size=1, max_size=400)
LIMITS: dict[str, int | None] = {"A": 80, "B": 30, "C": 5, "COEX": COEXISTENCE_MPS, "UP": None}


@settings(max_examples=80, deadline=None)
@given(raw=rows_strategy, account=st.integers(5, 250), burst=st.sampled_from([1, 1, 3, 45]))
def test_any_planned_batch_keeps_every_limit(raw: list[tuple[str, int, str]], account: int,
                                             burst: int) -> None:
    rows = [PlannedRow(s, f"u{r}", c) for s, r, c in raw]
    pacer = LayeredPacer(account_limit=account, sender_mps=LIMITS, pair_burst=burst)
    times = pacer.schedule(rows, 3.0)
    assert all(t >= 3.0 for t in times)
    assert_all_limits(rows, times, account=account, sender_limits=LIMITS, burst=burst)


@settings(max_examples=80, deadline=None)
@given(raw=rows_strategy, gaps=st.lists(st.floats(0.0, 0.5), min_size=400, max_size=400),
       burst=st.sampled_from([1, 4]))
def test_rows_reserved_one_by_one_as_they_arrive_keep_every_limit(
        raw: list[tuple[str, int, str]], gaps: list[float], burst: int) -> None:
    rows = [PlannedRow(s, f"u{r}", c) for s, r, c in raw]
    pacer = LayeredPacer(account_limit=40, sender_mps=LIMITS, pair_burst=burst)
    now, times = 0.0, []
    for row, gap in zip(rows, gaps, strict=False):
        now += gap
        start = pacer.reserve(now, row.sender, row.recipient, row.channel)
        assert start >= now
        assert not times or start >= times[-1]  # bookings never go backwards
        times.append(start)
    assert_all_limits(rows, times, account=40, sender_limits=LIMITS, burst=burst)


@settings(max_examples=60, deadline=None)
@given(raw=rows_strategy, gaps=st.lists(st.floats(0.0, 0.05), min_size=400, max_size=400))
def test_workers_that_set_a_row_aside_until_its_pair_is_ready_keep_every_limit(
        raw: list[tuple[str, int, str]], gaps: list[float]) -> None:
    # The engine's protocol: a row arrives; if pair_ready() is later, it waits (holding no
    # booking) and comes back then; then reserve(). Simulated in time order with a heap.
    rows = [PlannedRow(s, f"u{r}", c) for s, r, c in raw]
    pacer = LayeredPacer(account_limit=60, sender_mps=LIMITS)
    events, now = [], 0.0
    for index, gap in enumerate(gaps[:len(rows)]):
        now += gap
        events.append((now, index))
    heapq.heapify(events)
    times = [0.0] * len(rows)
    while events:
        now, index = heapq.heappop(events)
        row = rows[index]
        ready = pacer.pair_ready(now, row.sender, row.recipient, row.channel)
        if ready > now:
            heapq.heappush(events, (ready, index))
            continue
        times[index] = pacer.reserve(now, row.sender, row.recipient, row.channel)
        assert times[index] >= now
    assert_all_limits(rows, times, account=60, sender_limits=LIMITS)


# -- throughput and fairness --------------------------------------------------------------

def test_three_senders_at_80_share_a_250_account_at_full_speed() -> None:
    rows = [PlannedRow(s, f"{s}{i}") for i in range(6000) for s in "ABC"]
    times = LayeredPacer().schedule(rows, 0.0)
    rate = len(rows) / max(times)
    assert rate >= 0.95 * min(250, 3 * 80)
    per_sender = {s: len(ts) / max(ts) for s, ts in by_key(rows, times, "sender").items()}
    assert all(r >= 0.95 * 80 for r in per_sender.values())
    pacer = LayeredPacer()  # the same rows reserved one by one, as the engine's workers do
    one_by_one = [pacer.reserve(0.0, row.sender, row.recipient) for row in rows]
    assert len(rows) / max(one_by_one) >= 0.95 * min(250, 3 * 80)


def test_one_busy_sender_listed_first_cannot_starve_the_others() -> None:
    # Five upgraded numbers (no own limit) on a 250/s account; the first has most rows and
    # they come first in the frame. Fair: each gets an equal share while all have rows.
    busy = [PlannedRow("BUSY", f"b{i}") for i in range(5000)]
    others = [PlannedRow(s, f"{s}{i}") for s in "WXYZ" for i in range(500)]
    rows = busy + others
    times = LayeredPacer(sender_mps=None).schedule(rows, 0.0)
    everyone_busy_until = min(max(ts) for s, ts in by_key(rows, times, "sender").items())
    for sender, ts in by_key(rows, times, "sender").items():
        served = sum(1 for t in ts if t <= everyone_busy_until)
        assert served == pytest.approx(500, abs=2), sender  # round robin: one each in turn
    assert everyone_busy_until == pytest.approx(2500 * 1.025 / 250, rel=0.01)


@settings(max_examples=60, deadline=None)
@given(backlogs=st.lists(st.integers(1, 120), min_size=2, max_size=6),
       account=st.integers(5, 250))
def test_while_senders_all_have_rows_they_are_served_in_turn(backlogs: list[int],
                                                             account: int) -> None:
    # Upgraded numbers (no own limit), so only the account is shared: in time order, no two
    # senders that both still have rows are ever more than one send apart.
    rows = [PlannedRow(f"S{s}", f"S{s}-{i}") for s, n in enumerate(backlogs) for i in range(n)]
    times = LayeredPacer(account_limit=account, sender_mps=None).schedule(rows, 0.0)
    left = {f"S{s}": n for s, n in enumerate(backlogs)}
    served = dict.fromkeys(left, 0)
    for _, row in sorted(zip(times, rows, strict=True), key=lambda p: p[0]):
        served[row.sender] += 1
        left[row.sender] -= 1
        busy = [served[s] for s in left if left[s] > 0 or s == row.sender]
        assert max(busy) - min(busy) <= 1


def test_a_second_batch_planned_later_keeps_the_limits_across_both() -> None:
    # The user runs the cell again with more rows, some to the same people: the same pacer
    # plans them after the first batch, and the pair rule spans the two.
    pacer = LayeredPacer()
    first = [PlannedRow("ABC"[i % 3], f"u{i}") for i in range(600)]
    second = [PlannedRow("ABC"[i % 3], f"u{i}") for i in range(0, 1200, 2)]
    times = pacer.schedule(first, 0.0) + pacer.schedule(second, 1.0)
    assert_all_limits(first + second, times, account=250, sender_limits={})
    assert pacer.schedule([], 9.0) == []


def test_a_sender_with_a_lower_limit_gets_it_and_the_rest_is_shared_max_min() -> None:
    limits: dict[str, int | None] = {"SLOW": 20, "F1": None, "F2": None}
    rows = [PlannedRow(s, f"{s}{i}") for i in range(3000) for s in ("F1", "F2", "SLOW")]
    times = LayeredPacer(sender_mps=limits).schedule(rows, 0.0)
    horizon = 10.0  # all three still have rows then
    served = {s: sum(1 for t in ts if t < horizon)
              for s, ts in by_key(rows, times, "sender").items()}
    # its own limit, less up to one account slot (4.1 ms) per send: the account's starts
    # are evenly spaced, and SLOW's own earliest time falls between two of them
    assert 0.93 * 20 / 1.025 * horizon <= served["SLOW"] <= 20 / 1.025 * horizon + 1
    account = 250 / 1.025 * horizon
    for fast in ("F1", "F2"):  # what SLOW leaves, shared equally
        assert served[fast] == pytest.approx((account - served["SLOW"]) / 2, abs=3)


def test_duplicate_recipients_wait_while_the_others_keep_flowing() -> None:
    rng = random.Random(13)
    recipients = [f"u{i}" for i in range(4900)]
    recipients += rng.sample(recipients, 100)  # 2 % of rows to someone already in the list
    rng.shuffle(recipients)
    rows = [PlannedRow("ABC"[i % 3], r) for i, r in enumerate(recipients)]
    # one sender per recipient, so each duplicate is a repeated pair
    first_sender = {}
    for index, row in enumerate(rows):
        sender = first_sender.setdefault(row.recipient, row.sender)
        rows[index] = PlannedRow(sender, row.recipient)
    times = LayeredPacer().schedule(rows, 0.0)
    assert_all_limits(rows, times, account=250, sender_limits={})
    firsts: dict[str, float] = {}
    for row, at in zip(rows, times, strict=True):
        firsts[row.recipient] = min(at, firsts.get(row.recipient, at))
    end = max(firsts.values())
    assert len(firsts) / end >= 0.95 * 3 * 80  # no stall behind the duplicates
    # all along, each sender keeps sending (none stalls for a pair's 6 s); after the others
    # are done, only the duplicates of the last few seconds are left, waiting their turn
    for sender, ts in by_key(rows, times, "sender").items():
        ordered = sorted(t for t in ts if t <= end)
        assert max(b - a for a, b in zip(ordered, ordered[1:], strict=False)) < 0.05, sender
    assert max(times) <= end + 6.0 + 0.05
    seen: dict[str, float] = {}
    for row, at in sorted(zip(rows, times, strict=True), key=lambda p: p[1]):
        if row.recipient in seen:
            assert at >= seen[row.recipient] + 6.0
        seen[row.recipient] = at


# -- throttles ----------------------------------------------------------------------------

def test_a_sender_throttle_lowers_that_sender_only_and_recovers() -> None:
    pacer = LayeredPacer()
    pacer.throttled(0.0, sender="A", retry_after=1.0)
    window = pacer.sender_window("A")
    assert window is not None and window.limit == 64
    assert pacer.reserve(0.5, "A", "ada") == 1.0  # paused as told
    assert pacer.reserve(0.5, "B", "bo") == 1.0 + 1.025 / 250  # B is not paused: account order
    other = pacer.sender_window("B")
    assert other is not None and other.limit == 80
    now = 5.0
    while window.limit < 80:
        pacer.reserve(now, "A", f"x{now}")
        now += 1.025
    assert now < 5.0 + 6 * 1.025  # 64 -> 68 -> 72 -> 76 -> 80, one step per window


def test_an_account_throttle_pauses_and_lowers_every_sender_s_rows() -> None:
    pacer = LayeredPacer()
    pacer.throttled(10.0, retry_after=0.5)
    assert pacer.account.limit == 200
    assert pacer.reserve(10.1, "A", "ada") == 10.5
    assert pacer.reserve(10.1, "B", "bo") == pytest.approx(10.5 + 1.025 / 200)


def test_a_throttle_for_a_channel_without_a_sender_limit_changes_nothing() -> None:
    pacer = LayeredPacer()
    pacer.throttled(0.0, sender="A", channel="viber")
    assert pacer.reserve(0.0, "A", "ada", "viber") == 0.0


def test_a_number_without_a_limit_that_is_told_too_fast_backs_off_from_the_account_rate(
        ) -> None:
    pacer = LayeredPacer(sender_mps={"UP": None})
    assert pacer.sender_window("UP") is None
    pacer.throttled(0.0, sender="UP", retry_after=2.0)
    window = pacer.sender_window("UP")
    assert window is not None and window.ceiling == 250 and window.limit == 200
    assert pacer.reserve(0.0, "UP", "ada") == 2.0
    now = 5.0
    while window.limit < 250:
        pacer.reserve(now, "UP", f"x{now}")
        now += 1.025
    assert window.limit == 250  # back to the account's rate: no limit of its own


def test_admit_holds_a_row_back_when_its_sender_already_sent_its_limit() -> None:
    pacer = LayeredPacer(sender_mps=2)
    assert pacer.admit(0.0, "A") == 0.0
    assert pacer.admit(0.1, "A") == 0.0
    assert pacer.admit(0.2, "A") > 0  # the sender's window is full
    assert pacer.admit(0.2, "B") == 0.0  # another number is not
    assert pacer.admit(0.2, "A", "viber") == 0.0  # no sender limit there


# -- memory ------------------------------------------------------------------------------

@pytest.mark.slow
def test_pair_state_stays_bounded_over_a_million_distinct_recipients() -> None:
    pacer = LayeredPacer(sender_mps=None)
    bound = 250 / 1.025 * 6.0 + 2  # the pairs booked within one 6-s debt
    most = 0
    for i in range(1_000_000):
        pacer.reserve(0.0, "A", f"u{i}")
        if i % 997 == 0:
            most = max(most, pacer.tracked_pairs, len(pacer._expiry))
    assert most <= bound
    assert pacer.tracked_pairs <= bound


def test_pair_state_is_forgotten_once_its_six_seconds_are_over() -> None:
    pacer = LayeredPacer()
    for i in range(100):
        pacer.reserve(0.0, "A", f"u{i}")
    assert pacer.tracked_pairs == 100
    pacer.reserve(7.5, "A", "late")
    assert pacer.tracked_pairs == 1


def test_the_layered_pacer_books_the_account_like_a_window_pacer_alone() -> None:
    layered = LayeredPacer(sender_mps=None)
    alone = WindowPacer(250)
    ours = [layered.reserve(0.0, "A", f"u{i}") for i in range(1000)]
    assert ours == [alone.reserve(0.0) for _ in range(1000)]
