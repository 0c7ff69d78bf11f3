"""Handing a campaign's rows to the engine's workers so that its senders share the account
fairly and nobody books far ahead.

Workers used to take rows in input order and book each with the
:class:`~.layered_pacing.LayeredPacer` themselves. With rows grouped by sender (the usual
CSV), the workers all took the first sender's rows and booked its 80/s seconds ahead, and
the senders took turns instead of sharing the account's 250/s. So the engine's feeder books
instead, and only what may start within ``horizon`` seconds:

- each sender has a lane (its rows in input order); a row whose pair (the same person, just
  messaged) is not ready moves aside into the lane's waiting heap, so the rows behind it go
  on, and comes back first once its time is near;
- :meth:`FairFeed.take` asks the lanes in turn, starting after the last one served, for a
  row every limit allows within ``horizon``, books it (``reserve``) and hands it out with
  its start; a sender held by its own limit is skipped and keeps its turn for later (max-min
  fairness, as :meth:`~.layered_pacing.LayeredPacer.schedule` plans it);
- when no lane has such a row, it says when the soonest will, and the feeder sleeps.

Hand-written: the lanes are the pacer's own arithmetic (``pair_ready``, ``earliest``,
``reserve``) in a round robin; no queueing library books several limits at once.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from .layered_pacing import LayeredPacer
from .plan import RowPlan

__all__ = ["HORIZON", "FairFeed"]

_SLACK = 1e-6

HORIZON = 0.05
"""Seconds ahead a row may be booked: a few of the account's slots at 250/s, so a worker
never holds a row long, and the feeder wakes at most about 20 times a second when idle."""


def _parts(plan: RowPlan) -> tuple[str, str, str]:
    message = plan.message
    assert message is not None  # pragma: no mutate (only valid rows are fed)
    return message.from_ or "", message.to, message.channel_type


@dataclass
class _Lane:
    rows: deque[RowPlan] = field(default_factory=deque)
    waiting: list[tuple[float, int, RowPlan]] = field(default_factory=list)
    """Rows set aside for their pair: (ready at, arrival order, row)."""

    def __len__(self) -> int:
        return len(self.rows) + len(self.waiting)


class FairFeed:
    """Rows waiting to be handed out, by sender (see the module docstring)."""

    def __init__(self, pacer: LayeredPacer, *, horizon: float = HORIZON) -> None:
        self.pacer, self.horizon = pacer, horizon
        self._lanes: dict[str, _Lane] = {}
        self._order: list[str] = []
        self._turn = 0
        self._count = 0
        self._seq = itertools.count()

    def __len__(self) -> int:
        return self._count

    def add(self, plans: Iterable[RowPlan]) -> None:
        """Queue ``plans`` (valid rows that go out), each in its sender's lane."""
        for plan in plans:
            sender = _parts(plan)[0]
            lane = self._lanes.get(sender)
            if lane is None:
                lane = self._lanes[sender] = _Lane()
                self._order.append(sender)
            lane.rows.append(plan)
            self._count += 1

    @property
    def only_waiting(self) -> bool:
        """Every row left waits for its pair (the feeder may read the next chunk)."""
        return all(not lane.rows for lane in self._lanes.values())

    def take(self, now: float) -> tuple[RowPlan | None, float]:
        """A row every limit allows to start by ``now + horizon``, booked, and its start; or
        ``(None, when)``: the soonest time one may (``inf``: nothing left)."""
        soonest = float("inf")
        senders = len(self._order)
        for step in range(senders):
            index = (self._turn + step) % senders
            sender = self._order[index]
            plan, when = self._from_lane(sender, self._lanes[sender], now)
            if plan is not None:
                self._turn = index + 1
                self._count -= 1
                self._tidy(sender)
                return plan, when
            soonest = min(soonest, when)
        return None, soonest

    def _from_lane(self, sender: str, lane: _Lane, now: float
                   ) -> tuple[RowPlan | None, float]:
        # a hair of slack: a feeder that slept until ``when - horizon`` must find the row
        # ready, whatever the float rounding of that subtraction
        pacer, ahead = self.pacer, now + self.horizon + _SLACK
        candidate, from_heap = None, False
        if lane.waiting and lane.waiting[0][0] <= ahead:
            candidate, from_heap = lane.waiting[0][2], True
        while candidate is None and lane.rows:
            plan = lane.rows[0]
            _, to, channel = _parts(plan)
            ready = pacer.pair_ready(now, sender, to, channel)
            if ready > ahead:  # someone just messaged: aside, the rows behind go on
                lane.rows.popleft()
                heapq.heappush(lane.waiting, (ready, next(self._seq), plan))
                continue
            candidate = plan
        if candidate is None:
            return None, lane.waiting[0][0] if lane.waiting else float("inf")
        _, to, channel = _parts(candidate)
        start = pacer.earliest(now, sender, to, channel)
        if start > ahead:
            return None, start
        if from_heap:
            heapq.heappop(lane.waiting)
        else:
            lane.rows.popleft()
        return candidate, pacer.reserve(now, sender, to, channel)

    def _tidy(self, sender: str) -> None:
        if not len(self._lanes[sender]):
            index = self._order.index(sender)
            del self._lanes[sender]
            self._order.pop(index)
            if self._turn > index:
                self._turn -= 1
            if self._order:
                self._turn %= len(self._order)
            else:
                self._turn = 0

    def drain(self) -> Iterator[RowPlan]:
        """Every row still waiting (a stop: they are ``not_sent``), emptying the feed."""
        for sender in list(self._order):
            lane = self._lanes.pop(sender)
            yield from lane.rows
            yield from (plan for _, _, plan in sorted(lane.waiting))
        self._order, self._turn, self._count = [], 0, 0
