"""Layered pacing: a row goes out only when every limit it falls under allows it.

CAMS limits the account (250 requests/s for SendChatappMessage, per Alibaba Cloud account,
region and API); behind it Meta limits each WhatsApp sender number and each (sender,
recipient) pair. Those later limits do not show in CAMS's answer (it says ``OK``); they
come back as failed receipts (130429, 131056). So :class:`LayeredPacer` paces all three on
the client side (numbers from ``shared/reference/platform_rules.md``, every one a setting):

- **account**: ``account_limit`` starts per window (default 250/s), a
  :class:`~.pacing.WindowPacer` (sliding window, margin, even spreading, throttle recovery);
- **sender** (section 1): ``sender_mps`` per sender number, default 80/s, a
  :class:`~.pacing.WindowPacer` each; a number, or a mapping per sender (``None`` in it: no
  limit, e.g. an upgraded number; numbers missing from it get 80/s). Numbers shared with
  the WhatsApp Business app ("coexistence") are fixed at 20/s, but neither CAMS nor the
  reference says how to tell one, so give them :data:`COEXISTENCE_MPS` in the mapping.
  Only the channels in ``limited_channels`` (WhatsApp) have a per-sender limit;
- **pair** (section 2): "about one message every 6 seconds to the same user from the same
  number; short bursts are tolerated (up to about 45 within 6 s), but they borrow from the
  future: after a burst of 20, about 2 minutes must pass before the next message to that
  user". Read as: each message adds ``pair_interval`` (6 s) of debt; a burst of up to
  ``pair_burst`` messages may start when there is no debt and lasts at most one interval;
  after it, nothing goes until the debt is repaid (a burst of 20 at t: next at t + 120 s).
  The default ``pair_burst`` is 1 (one message every 6 s, never a burst): the limit is
  "about" 45 and bursting only brings a second message forward. A row to someone just
  messaged is not refused: its time is later.

:meth:`LayeredPacer.reserve` books every layer at one time, the earliest one all allow, so
no row reserved later can take a slot that breaks a limit of an earlier one. Windows are
booked in time order (``WindowPacer`` spreads starts evenly and never books backwards), so
a row reserved far in the future for its pair would hold every later row behind it. The
caller therefore asks :meth:`~LayeredPacer.pair_ready` first and sets such a row aside
until then, or lets :meth:`~LayeredPacer.schedule` do it for a batch.

Fair, here: among senders that have a row ready, the account's next slot goes to the one
served least recently (round robin); a sender with nothing ready (its own limit, or its
rows waiting for their pairs) is skipped, and takes its turn when it is ready again. Over
a long backlog each sender gets ``min(its own limit, an equal share of what the others
leave)`` (max-min fairness): one busy sender cannot starve the others. Within a sender,
rows keep their order, except that a row waiting for its pair lets the ones behind pass.
A sender held by its own limit loses up to one account slot (4.1 ms at 250/s) per send, as
the account's starts are evenly spaced: a 20/s number sharing a full account gets 18-19/s.

Why not a library: aiolimiter's leaky bucket cannot promise "never more than N in any
window" (see :mod:`.pacing`), and none of limits, pyrate-limiter or aiolimiter books several
limits at one time or plans a batch across keys; this is arithmetic on the existing
``WindowPacer`` plus a small debt rule, with time as an argument.

Wiring: the campaign engine keeps one ``LayeredPacer`` per run, for the client's account
(the quota is the account's, not the CustSpaceId's or the AccessKey's), built with
``account_limit=qps`` and the user's ``sender_mps``. Each row first waits for
:meth:`~LayeredPacer.pair_ready` holding no booking, then :meth:`~LayeredPacer.reserve`,
then :meth:`~LayeredPacer.admit` right before it leaves; ``System.LimitControl`` calls
``throttled(now, retry_after=...)`` and a 130429 refusal ``throttled(now, sender=...)``.
A whole frame can be planned up front with :meth:`~LayeredPacer.schedule` (the dry run's
"how long will it take"), with ``PlannedRow(from_, to, channel_type)`` per row.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .pacing import WindowPacer

__all__ = [
    "COEXISTENCE_MPS",
    "DEFAULT_ACCOUNT_LIMIT",
    "DEFAULT_PAIR_BURST",
    "DEFAULT_PAIR_INTERVAL",
    "DEFAULT_SENDER_MPS",
    "LayeredPacer",
    "PlannedRow",
]

DEFAULT_ACCOUNT_LIMIT = 250
"""SendChatappMessage requests per second per account, region and API."""
DEFAULT_SENDER_MPS = 80
"""Messages per second per WhatsApp sender number (Meta's default throughput)."""
COEXISTENCE_MPS = 20
"""Messages per second of a number shared with the WhatsApp Business app."""
DEFAULT_PAIR_INTERVAL = 6.0
"""Seconds of debt each message to one user from one number adds."""
DEFAULT_PAIR_BURST = 1
"""Messages a pair may send at once when it has no debt (Meta tolerates about 45)."""

SenderLimits = int | Mapping[str, int | None] | None


@dataclass(frozen=True)
class PlannedRow:
    """One row to plan: its sender number, recipient and channel, in the batch's order."""

    sender: str
    recipient: str
    channel: str = "whatsapp"


class _Window(WindowPacer):
    """A WindowPacer that can also say when it would grant a start without booking it."""

    def peek(self, now: float) -> float:
        start = self.reserve(now)
        self._starts.pop()  # undo the booking; the time is the one reserve() would grant
        return start

    def book(self, start: float) -> None:
        """Book ``start``, right after :meth:`peek` granted exactly ``start`` (what
        ``reserve(start)`` would do, without working it out a second time)."""
        self._starts.append(start)


@dataclass
class _Pair:
    repaid: float  # when the pair's debt is repaid (a new burst may start)
    burst_start: float
    count: int


class LayeredPacer:
    """Account, sender-number and pair limits booked together; pure, time is an argument.

    >>> pacer = LayeredPacer(account_limit=250, sender_mps=80)
    >>> pacer.reserve(0.0, "A", "u1"), pacer.reserve(0.0, "A", "u2")
    (0.0, 0.0128125)
    >>> pacer.pair_ready(0.0, "A", "u1")
    6.0
    """

    def __init__(self, *, account_limit: int = DEFAULT_ACCOUNT_LIMIT,
                 sender_mps: SenderLimits = DEFAULT_SENDER_MPS,
                 limited_channels: Iterable[str] = ("whatsapp",),
                 pair_interval: float = DEFAULT_PAIR_INTERVAL,
                 pair_burst: int = DEFAULT_PAIR_BURST, pair_margin: float = 0.0,
                 sender_margin: float | None = None,
                 window: float = 1.0, margin: float = 0.025, cooldown: float = 5.0,
                 react_after: int = 1) -> None:
        if isinstance(sender_mps, int) and sender_mps < 1:
            raise ValueError("sender_mps must be at least 1 message per second, or None")
        if isinstance(sender_mps, Mapping):
            for number, mps in sender_mps.items():
                if mps is not None and mps < 1:
                    raise ValueError(f"sender_mps[{number!r}] must be at least 1 message per "
                                     f"second, or None for no limit (got {mps!r})")
        if pair_interval <= 0:
            raise ValueError("pair_interval must be a positive number of seconds")
        if pair_margin < 0:
            raise ValueError("pair_margin must be 0 or more seconds")
        if pair_burst < 1:
            raise ValueError("pair_burst must be at least 1 message")
        self._window, self._margin = window, margin
        self._sender_margin = margin if sender_margin is None else sender_margin
        self._cooldown, self._react_after = cooldown, react_after
        self.account = self._new_window(account_limit)
        self.sender_mps = sender_mps
        self.limited_channels = frozenset(c.lower() for c in limited_channels)
        self.pair_interval = pair_interval
        self._pair_step = pair_interval + pair_margin
        """The debt one message adds: the interval, and ``pair_margin`` for the jitter between
        our start and the platform's count (the engine asks for one; see engine.py)."""
        self.pair_burst = pair_burst
        self._senders: dict[str, _Window | None] = {}
        self._pairs: dict[tuple[str, str], _Pair] = {}
        self._expiry: deque[tuple[float, tuple[str, str]]] = deque()
        self._last = float("-inf")  # the latest start booked (bookings never go backwards)

    # -- the layers -----------------------------------------------------------------------

    def _new_window(self, limit: int, react_after: int | None = None,
                    margin: float | None = None) -> _Window:
        margin = self._margin if margin is None else margin
        return _Window(limit, window=self._window, margin=margin, cooldown=self._cooldown,
                       react_after=self._react_after if react_after is None else react_after)

    def _new_sender_window(self, limit: int) -> _Window:
        """A sender number's window. Its refusals (130429) come back as receipts, a second or
        more late, after the platform counted on its own clock: so it reacts to the first one
        (the platform's word, not a gateway's stray hiccup), and its last check before a row
        leaves counts the whole margin, which absorbs more of the jitter between our start
        and the platform's count (a stalled event loop, a request held by its connection)."""
        return self._new_window(limit, react_after=1, margin=self._sender_margin)

    def _limited(self, channel: str) -> bool:
        return channel.lower() in self.limited_channels

    def sender_window(self, sender: str, channel: str = "whatsapp") -> WindowPacer | None:
        """The sender number's window on ``channel`` (``None``: no per-sender limit)."""
        return self._sender_on(sender, channel)

    def _sender_on(self, sender: str, channel: str) -> _Window | None:
        if not self._limited(channel):
            return None
        return self._sender(sender)

    def _sender(self, sender: str) -> _Window | None:
        if sender in self._senders:
            return self._senders[sender]
        limits = self.sender_mps
        if isinstance(limits, Mapping):
            mps = limits.get(sender, DEFAULT_SENDER_MPS)
        else:
            mps = limits
        window = None if mps is None else self._new_sender_window(int(mps))
        self._senders[sender] = window
        return window

    def pair_ready(self, now: float, sender: str, recipient: str,
                   channel: str = "whatsapp") -> float:
        """The earliest time at or after ``now`` the pair rule lets a message to
        ``recipient`` from ``sender`` go (``now`` on channels without the rule)."""
        if not self._limited(channel):
            return now
        pair = self._pairs.get((sender, recipient))
        if pair is None or now >= pair.repaid:
            return now
        if pair.count < self.pair_burst and now < pair.burst_start + self.pair_interval:
            return now  # within a burst that may still grow
        return pair.repaid

    def _book_pair(self, start: float, sender: str, recipient: str) -> None:
        key = (sender, recipient)
        pair = self._pairs.get(key)
        if pair is None or start >= pair.repaid:
            pair = self._pairs[key] = _Pair(start + self._pair_step, start, 1)
        else:  # pair_ready() allowed it: the burst grows, and so does the debt
            pair.count += 1
            pair.repaid += self._pair_step
        self._expiry.append((pair.repaid, key))

    def unbook_pair(self, sender: str, recipient: str, channel: str = "whatsapp") -> None:
        """The last message booked to ``recipient`` from ``sender`` surely never reached the
        platform (throttled by CAMS, refused before acceptance): it owes no pair debt, so
        sending it again does not wait ``pair_interval`` behind itself."""
        if not self._limited(channel):
            return
        key = (sender, recipient)
        pair = self._pairs.get(key)
        if pair is None:
            return
        pair.count -= 1
        pair.repaid -= self._pair_step
        if pair.count <= 0:
            del self._pairs[key]

    def _prune(self, upto: float) -> None:
        """Forget pairs whose debt is repaid by ``upto``: no later start can be earlier, so
        they no longer hold anything back. Expiry entries are in booking order, not in
        repayment order; one still owing stops the sweep, so the map holds at most the pairs
        booked within the longest debt (``pair_interval * pair_burst``) plus that lag."""
        expiry, pairs = self._expiry, self._pairs
        while expiry and expiry[0][0] <= upto:
            repaid, key = expiry.popleft()
            pair = pairs.get(key)
            if pair is not None and pair.repaid <= upto:
                del pairs[key]

    @property
    def tracked_pairs(self) -> int:
        """How many (sender, recipient) pairs the pacer remembers (they are pruned)."""
        return len(self._pairs)

    # -- booking --------------------------------------------------------------------------

    def earliest(self, now: float, sender: str, recipient: str,
                 channel: str = "whatsapp") -> float:
        """The time :meth:`reserve` would grant, without booking anything."""
        window = self._sender_on(sender, channel)
        account = self.account
        limited = self._limited(channel)
        layers = 1 + (window is not None) + limited
        t, agreed, turn = now, 0, 0
        # Ask the layers in turn; each only ever pushes the time later, so once all of them
        # in a row accept the same time it is the earliest all allow (a step or two).
        while agreed < layers:
            if turn == 0:
                later = account.peek(t)
            elif turn == 1 and window is not None:
                later = window.peek(t)
            elif turn == 2 and limited:
                later = self.pair_ready(t, sender, recipient, channel)
            else:
                turn = (turn + 1) % 3
                continue
            agreed = agreed + 1 if later == t else 1
            t, turn = later, (turn + 1) % 3
        return t

    def reserve(self, now: float, sender: str, recipient: str,
                channel: str = "whatsapp") -> float:
        """Book the earliest start at or after ``now`` that the account, the sender number
        and the pair all allow; return it. Ask :meth:`pair_ready` first: a row booked far
        ahead for its pair holds later rows behind it (see the module docstring)."""
        # earliest() asked every layer last at ``start`` and each granted it: book it as is
        start = self.earliest(now, sender, recipient, channel)
        self.account.book(start)
        window = self._sender_on(sender, channel)
        if window is not None:
            window.book(start)
        if self._limited(channel):
            self._book_pair(start, sender, recipient)
        self._last = max(self._last, start)
        self._prune(self._last)
        return start

    def admit(self, now: float, sender: str, channel: str = "whatsapp") -> float:
        """Right before a row leaves (see ``WindowPacer.admit``): ``0.0`` when the actual
        starts keep the sender's and the account's windows, else the seconds to wait.

        The sender is asked first; when it agrees and the account does not, the sender has
        recorded a start that waits: that only makes it a little more careful afterwards.
        """
        window = self.sender_window(sender, channel)
        if window is not None and (wait := window.admit(now)):
            return wait
        return self.account.admit(now)

    def throttled(self, now: float, sender: str | None = None, retry_after: float | None = None,
                  channel: str = "whatsapp") -> None:
        """'Too fast' from the account (``sender=None``; ``System.LimitControl``) or from one
        sender number (130429): pause and lower that layer as ``WindowPacer.throttled`` does;
        it climbs back one step per quiet window after the cooldown. A number set to no
        limit that is told so gets a window at the account's limit, lowered from there: it
        backs off like any other and climbs back to "no limit of its own"."""
        if sender is None:
            self.account.throttled(now, retry_after)
            return
        if not self._limited(channel):
            return  # a channel without per-sender limits: the account's throttles cover it
        window = self._sender_on(sender, channel)
        if window is None:
            window = self._senders[sender] = self._new_sender_window(self.account.ceiling)
        window.throttled(now, retry_after)

    # -- planning a batch -----------------------------------------------------------------

    def schedule(self, rows: Sequence[PlannedRow], now: float) -> list[float]:
        """Book every row of ``rows`` from ``now`` on, fairly across senders; return the send
        time of each row, in the rows' order (see the module docstring for "fairly")."""
        plan = _Plan(self, rows, now)
        return plan.run()


class _Plan:
    """One batch: per sender, its rows in order and the ones set aside for their pairs."""

    def __init__(self, pacer: LayeredPacer, rows: Sequence[PlannedRow], now: float) -> None:
        self.pacer, self.rows, self.now = pacer, rows, now
        self.times = [now] * len(rows)
        self.queues: dict[str, deque[int]] = {}
        for index, row in enumerate(rows):
            self.queues.setdefault(row.sender, deque()).append(index)
        self.aside: dict[str, list[tuple[float, int]]] = {s: [] for s in self.queues}

    def _next(self, sender: str) -> tuple[float, int] | None:
        """The sender's next row and the earliest its own window and pair allow it (the
        account left out: it is the same for all), setting aside rows whose pair is not
        ready by then; ``None`` when the sender has no rows left."""
        pacer, rows = self.pacer, self.rows
        queue, aside = self.queues[sender], self.aside[sender]
        while True:
            best: tuple[float, int] | None = None
            while queue:
                index = queue[0]
                row = rows[index]
                window = pacer._sender_on(sender, row.channel)
                at = window.peek(self.now) if window is not None else self.now
                ready = pacer.pair_ready(at, sender, row.recipient, row.channel)
                if ready <= at:
                    best = (at, index)
                    break
                heapq.heappush(aside, (ready, queue.popleft()))
            if aside and (best is None or aside[0][0] < best[0]):
                ready, index = aside[0]
                row = rows[index]
                again = pacer.pair_ready(ready, sender, row.recipient, row.channel)
                if again > ready:  # a row to the same person went first: wait longer
                    heapq.heapreplace(aside, (again, index))
                    continue
                window = pacer._sender_on(sender, row.channel)
                at = window.peek(ready) if window is not None else ready
                best = (at, index)
            return best

    def run(self) -> list[float]:
        pacer = self.pacer
        waiting: list[tuple[float, int, str]] = []  # (own earliest, turn, sender)
        turn = 0
        for sender in self.queues:
            found = self._next(sender)
            if found is not None:
                heapq.heappush(waiting, (found[0], turn, sender))
                turn += 1
        # senders whose row could go at the account's next slot, least recently served first
        ready: list[tuple[int, str]] = []
        while waiting or ready:
            slot = pacer.account.peek(self.now)
            while waiting and waiting[0][0] <= slot:
                _, served, name = heapq.heappop(waiting)
                heapq.heappush(ready, (served, name))
            sender = heapq.heappop(ready)[1] if ready else heapq.heappop(waiting)[2]
            found = self._next(sender)
            assert found is not None  # only senders with rows are queued
            index = found[1]
            if self.queues[sender] and self.queues[sender][0] == index:
                self.queues[sender].popleft()
            else:
                heapq.heappop(self.aside[sender])
            row = self.rows[index]
            self.times[index] = pacer.reserve(max(self.now, found[0]), sender, row.recipient,
                                              row.channel)
            found = self._next(sender)
            if found is not None:  # back of the line: it was just served
                heapq.heappush(waiting, (found[0], turn, sender))
                turn += 1
        return self.times

