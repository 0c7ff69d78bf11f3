"""Pure pacing arithmetic: when may the next request start, and how long to back off.

:class:`WindowPacer` enforces the service's own rule on the client side: at most ``limit``
request starts in any window of ``window`` seconds. It keeps the start times of the last
``limit`` requests; the next start is allowed once the oldest of them is a full window
old. The window is a little longer than the service's second (``margin``), so that the
jitter between our clock and the moment a request arrives cannot push ``limit + 1``
arrivals into one server-side second.

Bookings are plans; a request may leave later than booked (the event loop was busy, the
process paused for garbage collection), and a late group leaves together. So right before a
request goes out, :meth:`WindowPacer.admit` checks the same rule against the times requests
actually left, and holds it back until the window allows it: a stall longer than the margin
cannot put ``limit + 1`` actual starts into one window. That check uses half the margin, so
ordinary lateness (a millisecond or two) is left to the margin instead of being turned into
more waiting: with the full margin, 5,000 sends at 250/s were held back 16,000 times.

Starts are also spread out: consecutive starts are at least ``span / limit`` apart (4.08 ms
at 250/s), never a burst of ``limit`` at once. A burst is legal by the window rule, but the
requests in it leave (and arrive) over however long the CPU takes to build and sign them,
so the next window's burst can overlap it at the server; measured against the loopback
sandbox, bursts drew hundreds of throttle answers per 5,000 messages, even spacing none.

On throttle answers (``react_after`` of them within a window: the engine asks for a tenth
of the limit, so the odd throttle a gateway hands out at any rate only delays its own row;
reacting to every few, a campaign under 3 % random throttles sank to a fifth of its limit)
it pauses until the service's ``retry_after`` and lowers its limit for a while
(multiplicative decrease, at most once per window: the throttles answering one burst are
one signal, not one each, or a single burst would collapse the rate to 1/s), then
climbs back one step per quiet window (additive increase), so a shared account or a lower
real limit settles instead of hammering the gateway.

Why not aiolimiter: its leaky bucket allows a burst of ``max_rate`` and then a steady
drip, which is right for "about N per second" but cannot promise "never more than N in
any one-second window"; the sandbox (like the gateway) counts exactly that. The code
here is small, takes the time as an argument and never sleeps, so tests drive it with a
fake clock.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

__all__ = ["Backoff", "WindowPacer"]


class WindowPacer:
    """At most ``limit`` starts in any ``window + margin`` seconds; no I/O, no sleeping.

    >>> pacer = WindowPacer(limit=2)
    >>> pacer.reserve(0.0), pacer.reserve(0.0), pacer.reserve(0.0)
    (0.0, 0.5125, 1.025)
    """

    def __init__(self, limit: int, *, window: float = 1.0, margin: float = 0.025,
                 cooldown: float = 5.0, spread: bool = True, react_after: int = 1) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1 request per window")
        self.ceiling = limit
        self.limit = limit
        self.span = window + margin
        # admit() checks actual starts against a window halfway between the service's and
        # ours: lateness that varies by less than half the margin is the margin's to absorb
        # (holding those back only makes more lateness), a stall beyond that is held back.
        self._admit_span = window + margin / 2
        self.cooldown = cooldown
        self.spread = spread
        self.react_after = react_after
        self._starts: deque[float] = deque()
        self._sent: deque[float] = deque()
        self._paused_until = 0.0
        # equivalent mutants: _reduced_until is read only below the ceiling, which throttled()
        # reaches after setting it; float() reads any spelling of "-inf"
        self._reduced_until = 0.0  # pragma: no mutate
        self._decreased_at = float("-inf")  # pragma: no mutate
        self._recent: deque[float] = deque()
        self.throttles = 0

    def reserve(self, now: float) -> float:
        """Book the earliest start at or after ``now``; return that start time."""
        self._recover(now)
        start = max(now, self._paused_until)
        while len(self._starts) > self.limit:
            self._starts.popleft()
        if len(self._starts) >= self.limit:
            start = max(start, self._starts[-self.limit] + self.span)
        if self.spread and self._starts:
            start = max(start, self._starts[-1] + self.span / self.limit)
        self._starts.append(start)
        return start

    def admit(self, now: float) -> float:
        """Right before a request leaves: ``0.0`` (and its start recorded) when leaving ``now``
        keeps at most ``limit`` actual starts in the window, else the seconds to wait first.
        """
        sent = self._sent
        span = self._admit_span
        while sent and sent[0] <= now - span:
            sent.popleft()
        if len(sent) >= self.limit:
            return max(1e-4, sent[-self.limit] + span - now)
        sent.append(now)
        return 0.0

    def throttled(self, now: float, retry_after: float | None = None) -> None:
        """The service said 'too fast': pause, and lower the limit for ``cooldown`` seconds.

        With ``react_after`` above 1, stray throttle answers (the gateway has bursts of its
        own) only delay their rows; the pacer reacts once that many arrive within one window.
        """
        self.throttles += 1
        self._recent.append(now)
        while self._recent and self._recent[0] <= now - self.span:
            self._recent.popleft()
        if len(self._recent) < self.react_after:
            return
        self._paused_until = max(self._paused_until, now + (retry_after if retry_after else 0.2))
        self._reduced_until = now + self.cooldown
        if now >= self._decreased_at + self.span:  # one decrease per window, not per answer
            self._decreased_at = now
            self.limit = max(1, int(self.limit * 0.8))

    def _recover(self, now: float) -> None:
        if self.limit < self.ceiling and now >= self._reduced_until:
            self.limit = min(self.ceiling, self.limit + max(1, self.ceiling // 20))
            self._reduced_until = now + self.span

    @property
    def rate(self) -> float:
        """The current limit in requests per second."""
        return self.limit / self.span


@dataclass
class Backoff:
    """Exponential backoff with full jitter for retries that are safe to make."""

    base: float = 0.2
    cap: float = 10.0
    max_attempts: int = 5
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt number ``attempt + 1`` (``attempt`` starts at 1)."""
        return self.rng.uniform(0.0, min(self.cap, self.base * (2 ** (attempt - 1))))

    def gives_up(self, attempt: int) -> bool:
        return attempt >= self.max_attempts
