"""The pacer's edges after a throttle: the default cooldown, small ceilings, one step per
window, and the react-after window's boundary.

Oracle: the pacing rule in ``../shared/reference/platform_rules.md`` (a per-second request
limit, throttle answers ``System.LimitControl``/``Throttling*`` when it is passed) and the
recovery policy written in ``cams_notebook/campaigns/pacing.py``'s docstring (multiplicative
decrease at most once per window, then one additive step per quiet window after the
cooldown); the numbers below are worked out by hand from that text, with a fake clock.
"""

from __future__ import annotations

import pytest

from cams_notebook.campaigns.pacing import WindowPacer


def test_the_default_cooldown_is_five_seconds() -> None:
    pacer = WindowPacer(limit=100)
    pacer.throttled(0.0)
    pacer.reserve(4.999)
    assert pacer.limit == 80
    pacer.reserve(5.0)
    assert pacer.limit == 85


@pytest.mark.parametrize(("ceiling", "reduced", "climb"), [
    (10, 8, [9, 10]),            # a twentieth of 10 is 0: the step is still one request
    (30, 24, [25, 26, 27, 28, 29, 30]),  # 30 // 20 == 1: whole requests, never 1.5
    (40, 32, [34, 36, 38, 40]),  # 40 // 20 == 2
])
def test_the_limit_climbs_back_in_whole_steps_of_a_twentieth_and_at_least_one(
        ceiling: int, reduced: int, climb: list[int]) -> None:
    pacer = WindowPacer(limit=ceiling, cooldown=5.0)
    pacer.throttled(0.0)
    assert pacer.limit == reduced
    seen, now = [], 5.0
    while pacer.limit < ceiling:
        pacer.reserve(now)
        seen.append(pacer.limit)
        assert type(pacer.limit) is int
        now += pacer.span
    assert seen == climb


def test_one_step_per_window_however_many_reservations_it_holds() -> None:
    pacer = WindowPacer(limit=100, cooldown=5.0)
    pacer.throttled(0.0)
    for _ in range(5):
        pacer.reserve(5.0)
    assert pacer.limit == 85
    pacer.reserve(5.0 + pacer.span / 2)
    assert pacer.limit == 85
    pacer.reserve(5.0 + pacer.span)
    assert pacer.limit == 90


def test_react_after_counts_throttles_within_one_window_and_not_one_window_ago() -> None:
    """A throttle exactly one window old no longer counts towards ``react_after``."""
    edge = WindowPacer(limit=100, react_after=2)
    edge.throttled(0.0)
    edge.throttled(edge.span)
    assert edge.limit == 100
    assert edge.reserve(edge.span) == edge.span  # not paused either
    inside = WindowPacer(limit=100, react_after=2)
    inside.throttled(0.0)
    inside.throttled(inside.span - 0.001)
    assert inside.limit == 80


def test_a_limit_below_one_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match=r"^limit must be at least 1 request per window$"):
        WindowPacer(limit=0)
