"""Following a campaign's rows to delivery while it runs: refusals, caps and bad news.

CAMS answers ``OK`` when it accepts a message; whether the person gets it is decided after,
by the channel, and comes back on the receipt queue or the HTTP callback
(``shared/reference/platform_rules.md``). With ``receipts=`` (a
:class:`~cams_notebook.receipts.store.ReceiptStore` that a running
:class:`~cams_notebook.receipts.queue.ReceiptQueue` or
:class:`~cams_notebook.receipts.server.ReceiptServer` fills), a campaign reads it once per
``poll`` seconds while it sends, and for a while after its last request:

====================================  =================================================
news about a row this run sent        what the campaign does
====================================  =================================================
Failed 130429 (sender throughput)     the platform refused it: the sender number's rate is
                                      lowered and the row sent again (journaled ``failed``,
                                      retry-safe, in between, so a crash resends it too)
Failed 131056 (pair rate)             sent again after 4^n seconds (n: its refusals), the
                                      pair rule keeping it 6 s from the last one
either, ``max_refusals`` times        ``failed`` with that code
Failed 131049 (per-user marketing     ``capped``, ``eligible_at`` 24 h after the failure: a
cap)                                  later run (or ``resend``) sends it then
any other Failed code                 stays ``sent`` (accepted); ``delivery`` says failed
ChatAppAudit bad news (a sender       the campaign stops within one poll: no new requests,
RED or flagged, a template paused     the rest ``not_sent``, the reason in ``stop_reason``
or disabled)
====================================  =================================================

It stops following once every row this run sent has a verdict (delivered, read or failed),
or ``follow_for`` seconds after the last request, whichever is first: a receipt that never
comes (it happens) must not hold the campaign open forever.

Hand-written, because the rules are the platform's and the receipts' shapes this package's
own; the waiting is plain asyncio.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from .journal import JournalRow
from .plan import RowPlan

__all__ = ["CAPPED_CODE", "REFUSED_CODES", "Decision", "DeliveryFollower", "ReceiptSource",
           "follow"]

REFUSED_CODES = {
    "130429": "the sender number's throughput limit",
    "131056": "the pair rate (one message to the same person about every 6 s)",
}
"""Failed-receipt codes that mean "the platform refused it for now": send again."""
CAPPED_CODE = "131049"
"""Meta's per-user marketing cap: not delivered now, may be tried again after 24 hours."""
CAP_WAIT = timedelta(hours=24)
_FINAL = ("delivered", "read", "failed")


class ReceiptSource(Protocol):
    """What the follower asks of a receipt store (see ``ReceiptStore``)."""

    @property
    def version(self) -> int: ...

    def audits_after(self, seq: int = 0) -> list[tuple[int, Any]]: ...

    def states_of(self, message_ids: Iterable[str]) -> dict[str, Any]: ...


@dataclass
class _Tracked:
    plan: RowPlan
    row: JournalRow
    sent: float
    """When it was sent, on the engine's clock."""


@dataclass
class Decision:
    """What one refused or capped row comes to (the engine acts on it)."""

    plan: RowPlan
    row: JournalRow
    code: str
    action: str
    """``resend`` (after ``wait`` seconds), ``capped`` or ``failed``."""
    wait: float = 0.0


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="milliseconds")


class DeliveryFollower:
    """The receipts of one run's rows, read while it runs (see the module docstring)."""

    def __init__(self, source: ReceiptSource, *, senders: Iterable[str] = (),
                 templates: Iterable[str] = (), poll: float = 1.0, follow_for: float = 30.0,
                 max_refusals: int = 5, clock: Callable[[], float],
                 wall: Callable[[], float]) -> None:
        if poll <= 0:
            raise ValueError("poll must be a positive number of seconds")
        if follow_for < 0:
            raise ValueError("follow_for must be 0 or more seconds")
        self.source = source
        self.senders = {s.lstrip("+") for s in senders if s}
        self.templates = {t for t in templates if t}
        self.poll, self.follow_for, self.max_refusals = poll, follow_for, max_refusals
        self.clock, self.wall = clock, wall
        self._tracked: dict[str, _Tracked] = {}
        self._refusals: dict[str, int] = {}
        self._version = -1
        self._last_sent = 0.0
        self._seq = 0
        for seq, _ in source.audits_after(0):  # only news from now on stops this campaign
            self._seq = max(self._seq, seq)
        self.delivery: dict[str, tuple[str | None, str | None]] = {}
        """Verdicts seen, by row key: (delivery status, failure code)."""

    # -- what the engine tells it -----------------------------------------------------------

    def track(self, plan: RowPlan, row: JournalRow) -> None:
        """``row`` of ``plan`` was accepted (it has a MessageId): follow it."""
        if row.message_id:
            self._tracked[row.message_id] = _Tracked(plan, row, self.clock())
            self._last_sent = self.clock()
            self.delivery.pop(plan.key, None)  # a row sent again: its earlier verdict is old

    def refusals(self, key: str) -> int:
        return self._refusals.get(key, 0)

    @property
    def following(self) -> int:
        """Rows sent and still waiting for their verdict."""
        return len(self._tracked)

    def done(self, now: float, pending_sends: int) -> bool:
        """Nothing left to follow: every row has its verdict (and none is being sent again),
        or ``follow_for`` seconds passed since the last request."""
        if pending_sends:
            return False
        return not self._tracked or now - self._last_sent >= self.follow_for

    # -- reading the store -------------------------------------------------------------------

    def bad_news(self) -> str | None:
        """The reason to stop now, from ChatAppAudit events stored since the last look."""
        reason = None
        for seq, event in self.source.audits_after(self._seq):
            self._seq = max(self._seq, seq)
            why = getattr(event, "bad_news", None)
            if why and reason is None and self._concerns(event):
                reason = why
        return reason

    def _concerns(self, event: Any) -> bool:
        """Whether an audit event is about this campaign: its sender number or template, or
        the whole business (no number and no template named)."""
        number = (getattr(event, "phone_number", None) or "").lstrip("+")
        template = getattr(event, "template_code", None)
        if number:
            return number in self.senders
        if template:
            return template in self.templates
        return True

    def verdicts(self) -> list[Decision]:
        """Rows whose receipts came in since the last look; the refused and capped ones as
        decisions for the engine (the others are only remembered for the result)."""
        version = self.source.version
        if version == self._version or not self._tracked:
            return []
        self._version = version
        decisions = []
        for message_id, state in self.source.states_of(list(self._tracked)).items():
            status = getattr(state, "status", None)
            if status not in _FINAL:
                continue
            tracked = self._tracked.pop(message_id)
            code = getattr(state, "failed_code", None) if status == "failed" else None
            self.delivery[tracked.plan.key] = (status, code)
            decision = self._decide(tracked, code, getattr(state, "failed_ms", None))
            if decision is not None:
                decisions.append(decision)
        return decisions

    def _decide(self, tracked: _Tracked, code: str | None, failed_ms: int | None
                ) -> Decision | None:
        plan, row = tracked.plan, tracked.row
        if code in REFUSED_CODES:
            n = self._refusals[plan.key] = self._refusals.get(plan.key, 0) + 1
            row.code, row.retry_safe = code, True
            row.error = f"refused by the platform ({code}: {REFUSED_CODES[code]})"
            if n > self.max_refusals:
                row.status = "failed"
                row.error += f"; refused {n} times, not sent again"
                return Decision(plan, row, code, "failed")
            row.status = "failed"  # journaled so until it is sent again: a crash resends it
            wait = 4.0 ** n if code == "131056" else 0.0
            return Decision(plan, row, code, "resend", wait)
        if code == CAPPED_CODE:
            at = (datetime.fromtimestamp(failed_ms / 1000, timezone.utc) if failed_ms
                  else datetime.fromtimestamp(self.wall(), timezone.utc))
            row.status, row.code = "capped", code
            row.eligible_at = _iso(at + CAP_WAIT)
            row.error = ("not delivered: Meta's per-user marketing limit (131049); may be "
                         f"tried again from {row.eligible_at}")
            return Decision(plan, row, code, "capped")
        return None


async def follow(follower: DeliveryFollower, *, stopping: Callable[[], bool],
                 stop: Callable[[str], None], act: Callable[[Decision], Awaitable[None]],
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
    """Poll until cancelled: stop on bad news, hand each decision to ``act``."""
    while True:
        reason = follower.bad_news()
        if reason is not None and not stopping():
            stop(reason)
        for decision in follower.verdicts():
            await act(decision)
        await sleep(follower.poll)
