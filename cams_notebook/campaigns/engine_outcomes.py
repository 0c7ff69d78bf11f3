"""What a campaign row's send comes to: the engine's answers to errors, and to the receipts.

A part of :class:`~.engine.CampaignEngine` (its base), apart so that each file reads on its own:
the engine waits, books and sends; this decides what each outcome means for the row (see the
table in :mod:`.engine`): throttled, failed with or without effect, unknown, refused or capped
by the platform after acceptance, stopped by bad news.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..errors import (
    AuthError,
    CamsError,
    NotSubscribedError,
    OutcomeUnknownError,
    PlatformStopError,
    ThrottledError,
)
from .bookkeeping import Counts, RowBook
from .delivery_follow import Decision, DeliveryFollower
from .journal import JournalRow
from .layered_pacing import LayeredPacer
from .pacing import Backoff
from .plan import RowPlan

__all__ = ["RowOutcomes", "Tries"]

_Item = tuple[RowPlan, float | None] | None
"""What the workers take: a row and the start the feeder booked for it (None: a resend,
which books its own); None tells a worker to end."""


@dataclass
class Tries:
    """How often one row has been sent, throttled, and failed in a way worth a retry."""

    attempts: int = 0
    throttles: int = 0
    failures: int = 0


class RowOutcomes:
    """The engine's decisions on outcomes (mixed into :class:`~.engine.CampaignEngine`)."""

    book: RowBook
    pacer: LayeredPacer
    counts: Counts
    clock: Callable[[], float]
    backoff: Backoff
    max_throttle_retries: int
    follower: DeliveryFollower | None
    on_progress: Callable[[Counts], None] | None
    stop_reason: CamsError | None
    _proven: asyncio.Event | None
    _queue: asyncio.Queue[_Item] | None
    _open_rows: int
    _resending: set[str]
    _resend_tasks: set[asyncio.Task[None]]
    _prior: dict[str, int]

    @property
    def stopping(self) -> bool:
        raise NotImplementedError  # the engine's

    def _halt(self) -> None:
        raise NotImplementedError  # the engine's

    def _pause(self, seconds: float) -> Awaitable[None]:
        raise NotImplementedError  # the engine's

    def _not_sent(self, plan: RowPlan, **extra: Any) -> JournalRow:
        """``plan`` was not sent: the run stopped. When the platform stopped it, say why."""
        reason = self.stop_reason
        if isinstance(reason, PlatformStopError):
            extra.setdefault("error", f"not sent: the campaign stopped: {reason}")
        return self.book.row(plan, "not_sent", **extra)

    async def _follow_to_the_end(self) -> None:
        """After the last row is handed out: keep following the receipts until every row has
        its verdict and no refused row is waiting to go again (or ``follow_for`` passed)."""
        follower = self.follower
        assert follower is not None
        while not self.stopping and not follower.done(
                self.clock(), self._open_rows + len(self._resending)):
            if self.on_progress is not None:
                self.on_progress(self.counts)  # the bar says what it waits for
            await self._pause(follower.poll)

    def _stop_for(self, reason: str) -> None:
        """The platform said to stop (bad news on the receipts): no new requests."""
        if self.stop_reason is None:
            self.stop_reason = PlatformStopError(reason)
        self._halt()

    async def _revise(self, decision: Decision) -> None:
        """A row this run sent came back refused or capped (see :mod:`.delivery_follow`)."""
        plan, row = decision.plan, decision.row
        message = plan.message
        assert message is not None  # pragma: no mutate (a planned row has its message)
        if decision.action != "resend" or self.stopping:
            self.book.revise(plan, row, again=False)
            return
        self.book.revise(plan, row, again=True)
        if decision.code == "130429":
            self.pacer.throttled(self.clock(), sender=message.from_ or "",
                                 channel=message.channel_type)
        self._resending.add(plan.key)
        self._prior[plan.key] = row.attempts
        self._resend_tasks.add(asyncio.create_task(self._resend(plan, row, decision.wait)))

    async def _resend(self, plan: RowPlan, row: JournalRow, wait: float) -> None:
        """Send a refused row again after ``wait`` seconds; on a stop it keeps its refused
        record (``failed``, retry-safe: a later run sends it)."""
        try:
            await self._pause(wait)
            if not self.stopping and self._queue is not None:
                self._open_rows += 1
                self._resending.discard(plan.key)
                await self._queue.put((plan, None))
                return
        except asyncio.CancelledError:
            pass
        self._resending.discard(plan.key)
        self.book.finish(plan, row)

    async def _after_error(self, plan: RowPlan, row: JournalRow, error: Exception, began: float,
                           tries: Tries) -> bool:
        """What a send that raised ``error`` comes to (see the module docstring's table); True
        when the row is to be sent again."""
        assert self._proven is not None
        if isinstance(error, ThrottledError):
            self._proven.set()
            self.counts.throttled += 1
            self.pacer.throttled(self.clock(), retry_after=error.retry_after)
            tries.throttles += 1
            if tries.throttles > self.max_throttle_retries:
                self._fail(plan, row, error, began)
                return False
            self._took_no_effect(plan)
            # the row waits as told even when the pacer (seeing a stray throttle, not a
            # rate that is too high) lets the others go on
            await self._pause(error.retry_after or 0.0)
            return True
        if isinstance(error, OutcomeUnknownError):
            self._proven.set()
            self.book.finish(plan, self.book.with_error(row, "unknown", error, self._since(began)))
            return False
        if isinstance(error, CamsError):
            return await self._after_service_error(plan, row, error, began, tries)
        self._proven.set()
        row.status, row.error = "unknown", f"{type(error).__name__}: {error}"
        row.latency_ms = self._since(began)
        self.book.finish(plan, row)
        return False

    async def _after_service_error(self, plan: RowPlan, row: JournalRow, error: CamsError,
                                   began: float, tries: Tries) -> bool:
        """An auth or subscription error stops the campaign; a retry-safe one is retried with
        backoff; any other fails the row. True when the row is to be sent again."""
        assert self._proven is not None
        if isinstance(error, (AuthError, NotSubscribedError)):
            self._fail(plan, row, error, began)
            if self.stop_reason is None:
                self.stop_reason = error
            self._halt()
            return False
        self._proven.set()
        tries.failures += 1  # throttles have their own budget; only these use the backoff's
        if error.retry_safe and not self.backoff.gives_up(tries.failures) and not self.stopping:
            self._took_no_effect(plan)
            await self._pause(self.backoff.delay(tries.failures))
            return True
        self._fail(plan, row, error, began)
        return False

    # -- bookkeeping (see RowBook) ----------------------------------------------------------

    def _took_no_effect(self, plan: RowPlan) -> None:
        """The attempt surely reached no one and the row goes again: the journal forgets the
        intent, and the pair owes nothing for it."""
        self.book.retry(plan.key)
        message = plan.message
        assert message is not None  # pragma: no mutate (a planned row has its message)
        self.pacer.unbook_pair(message.from_ or "", message.to, message.channel_type)

    def _since(self, began: float) -> float:
        """Milliseconds since ``began`` on the engine's clock: a row's latency."""
        return round((self.clock() - began) * 1000.0, 3)

    def _fail(self, plan: RowPlan, row: JournalRow, error: CamsError, began: float) -> None:
        self.book.finish(plan, self.book.with_error(row, "failed", error, self._since(began)))

    def _row(self, plan: RowPlan, status: str, **extra: Any) -> JournalRow:
        """A journal record of ``plan`` (see :meth:`RowBook.row`)."""
        return self.book.row(plan, status, **extra)
