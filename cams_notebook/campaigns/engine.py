"""The campaign engine: sends planned rows at the account's rate, retrying only where safe.

One asyncio engine serves every face: ``await asend_frame(...)`` runs it on the caller's
loop; ``send_frame(...)`` runs it on a private loop in a worker thread, so it works the same
from a plain script and from a notebook cell whose kernel already runs a loop (no
nest_asyncio), and Ctrl-C in the calling thread becomes a clean stop.

For each row: wait for a slot from the row's :class:`~.pacing.WindowPacer` (one per
AccessKey and CustSpaceId), write the intent to the journal, send, write the outcome.
The first request of a run goes out alone; the others wait for its answer, so wrong
credentials cost one request, not one per worker.

=====================================  ==============================================
what happened                          what the engine does
=====================================  ==============================================
``OK``                                 ``sent``
throttled (``System.LimitControl``)    pause as told, lower the rate, send again; the
                                       row is never lost (gives up only after
                                       ``max_throttle_retries``, as ``failed``)
surely not sent (connect error, 5xx)   back off with jitter and retry, up to
                                       ``backoff.max_attempts``, then ``failed``; the
                                       journal records that it took no effect, so the
                                       next run sends it again
outcome unknown (timeout, reset)       ``unknown``; never resent (reconcile it later)
auth or subscription error             ``failed``, and the whole campaign stops: the
                                       remaining rows are ``not_sent``
any other service error                ``failed`` at once
any other exception from the client    ``unknown`` (the request may have gone out)
already in the journal, same message   its recorded result (``skipped`` in the counts)
already sent, message changed since    ``changed``, not sent; sent again only with
                                       ``on_changed="send"`` (or when it had failed)
stop (Ctrl-C, Stop button)             no new requests (waits for a slot or a backoff
                                       end at once); in-flight ones get ``grace``
                                       seconds, then are ``unknown``; the rest
                                       ``not_sent``
=====================================  ==============================================

A row's record, result and count are kept by :class:`~.bookkeeping.RowBook`; ``send_frame``
runs the engine in a worker thread with :func:`~.loop_thread.run_in_thread` (both re-exported
here, with :class:`~.bookkeeping.Counts`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..client import AsyncClient
from ..errors import (
    AuthError,
    CamsError,
    NotSubscribedError,
    OutcomeUnknownError,
    ThrottledError,
)
from .bookkeeping import Counts, RowBook
from .journal import INTENT, Journal, JournalRow
from .loop_thread import run_in_thread
from .pacing import Backoff, WindowPacer
from .plan import RowPlan

__all__ = ["CampaignEngine", "Counts", "run_in_thread"]


def _loop_time() -> float:
    """The running loop's clock (what ``asyncio.sleep`` counts in), else ``time.monotonic``."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class _Tries:
    """How often one row has been sent, throttled, and failed in a way worth a retry."""

    attempts: int = 0
    throttles: int = 0
    failures: int = 0


class CampaignEngine:
    """Sends :class:`~.plan.RowPlan` rows through an :class:`~cams_notebook.client.AsyncClient`."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        qps: int,
        ledger: Journal,
        concurrency: int | None = None,
        backoff: Backoff | None = None,
        max_throttle_retries: int = 30,
        grace: float = 5.0,
        clock: Callable[[], float] | None = None,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_progress: Callable[[Counts], None] | None = None,
        campaign: str | None = None,
        on_changed: str = "skip",
    ) -> None:
        if on_changed not in ("skip", "send"):
            raise ValueError("on_changed must be 'skip' or 'send'")
        self.client = client
        self.campaign = campaign
        self.on_changed = on_changed
        self.qps = qps
        self.ledger = ledger
        self.concurrency = concurrency or max(16, min(512, qps))
        self.backoff = backoff or Backoff()
        self.max_throttle_retries = max_throttle_retries
        self.grace = grace
        # by default the clock is the one ``asyncio.sleep`` counts in, so that pacing and
        # sleeping agree on any event loop (a test's virtual-time loop included)
        self.clock = clock if clock is not None else _loop_time
        self.wall, self.sleep = wall, sleep
        self.on_progress = on_progress
        self.counts = Counts(started_at=self.clock())
        self.book = RowBook(ledger, self.counts, campaign=campaign, on_changed=on_changed,
                            on_progress=on_progress)
        self.results: dict[str, tuple[Hashable, JournalRow]] = self.book.results
        self.stop_reason: CamsError | None = None
        self._pacers: dict[tuple[str, str], WindowPacer] = {}
        self._stop: asyncio.Event | None = None
        self._stop_requested = False
        self._proven: asyncio.Event | None = None
        self._probing = False
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- control --------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop issuing requests (thread-safe; also what Ctrl-C and a Stop button call).

        Called before :meth:`run` has started (Ctrl-C during the dry run), it still holds:
        the run then sends nothing.
        """
        self._stop_requested = True
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._halt)

    def _halt(self) -> None:
        assert self._stop is not None and self._proven is not None
        self._stop.set()
        self._proven.set()  # wake the rows waiting behind the first request; they see the stop

    @property
    def stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def pacer_for(self, cust_space_id: str | None) -> WindowPacer:
        key = (self.client.access_key_id, cust_space_id or "")
        pacer = self._pacers.get(key)
        if pacer is None:
            pacer = self._pacers[key] = WindowPacer(self.qps, react_after=max(2, self.qps // 10))
        return pacer

    # -- running --------------------------------------------------------------------------

    async def run(self, plans: Iterable[list[RowPlan]] | AsyncIterable[list[RowPlan]]
                  ) -> dict[str, tuple[Hashable, JournalRow]]:
        """Send every valid, not-yet-journaled row of each chunk; return results by row key.

        ``plans`` may be an async iterable, so chunks are planned while earlier ones are
        sent; a stop (or an auth error) holds for every chunk that follows. If reading the
        chunks fails, the rows already handed out are wound down and recorded first, then
        the error is raised.
        """
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._proven = asyncio.Event()
        self._probing = False
        self._failure = None
        if self._stop_requested:
            self._halt()
        queue: asyncio.Queue[RowPlan | None] = asyncio.Queue(maxsize=self.concurrency * 2)
        in_flight: dict[str, RowPlan] = {}
        workers = [asyncio.create_task(self._worker(queue, in_flight))
                   for _ in range(self.concurrency)]
        failure = await self._feed(plans, queue)
        await self._wind_down(workers, queue, in_flight)
        failure = failure or self._failure
        if failure is not None:
            raise failure
        return self.results

    async def _feed(self, plans: Iterable[list[RowPlan]] | AsyncIterable[list[RowPlan]],
                    queue: asyncio.Queue[RowPlan | None]) -> BaseException | None:
        """Hand the workers every row that goes out; what reading the chunks raised, if any."""
        try:
            async for chunk in _chunks(plans):
                known = self.ledger.get_many([p.key for p in chunk if p.valid])
                for plan in chunk:
                    if not plan.valid:
                        continue  # invalid rows are reported by the caller
                    if not self.book.to_send(plan, known.get(plan.key)):
                        continue  # the journal knows it: replayed
                    if self.stopping:
                        self.book.finish(plan, self.book.row(plan, "not_sent"))
                    else:
                        await queue.put(plan)
        except asyncio.CancelledError:
            self._halt()
        except BaseException as exc:  # noqa: BLE001 - re-raised once the rows are recorded
            self._halt()
            return exc
        return None

    async def _wind_down(self, workers: list[asyncio.Task[None]],
                         queue: asyncio.Queue[RowPlan | None],
                         in_flight: dict[str, RowPlan]) -> None:
        """Let the workers end; a row still in flight is ``unknown``, one still queued
        ``not_sent``."""
        try:
            for _ in workers:
                await queue.put(None)
            await self._wait_workers(workers)
        except asyncio.CancelledError:
            self._halt()
            await self._wait_workers(workers)
        for plan in in_flight.values():
            self.book.finish(plan, self.book.row(plan, "unknown", attempts=1,
                                                 error="stopped while the request was in flight"))
        while not queue.empty():
            left = queue.get_nowait()
            if left is not None:
                self.book.finish(left, self.book.row(left, "not_sent"))

    async def _wait_workers(self, workers: list[asyncio.Task[None]]) -> None:
        """Wait for the workers; once stopping, give in-flight requests ``grace`` seconds."""
        assert self._stop is not None
        stop_wait = asyncio.ensure_future(self._stop.wait())
        try:
            pending: set[asyncio.Future[Any]] = {w for w in workers if not w.done()}
            while pending:
                done, _ = await asyncio.wait(pending | {stop_wait},
                                             return_when=asyncio.FIRST_COMPLETED)
                pending -= done
                if stop_wait in done and pending:
                    _, pending = await asyncio.wait(pending, timeout=self.grace)
                    for task in pending:
                        task.cancel()
                    await asyncio.gather(*pending, return_exceptions=True)
                    return
        finally:
            stop_wait.cancel()

    async def _worker(self, queue: asyncio.Queue[RowPlan | None],
                      in_flight: dict[str, RowPlan]) -> None:
        while True:
            plan = await queue.get()
            if plan is None:
                return
            if self.stopping:
                self.book.finish(plan, self.book.row(plan, "not_sent"))
                continue
            try:
                await self._send_row(plan, in_flight)
            except Exception as exc:  # noqa: BLE001 - the journal (or on_progress) failed
                # Without a journal write the at-most-once promise is gone: stop, and let
                # run() raise it once the other rows are wound down.
                if self._failure is None:
                    self._failure = exc
                self._halt()

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, but wake at once on a stop (so Stop does not wait out a backoff)."""
        if seconds <= 0 or self.stopping:
            return
        assert self._stop is not None
        sleeper = asyncio.ensure_future(self.sleep(seconds))
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            stopper.cancel()

    async def _admitted(self) -> bool:
        """Until one answer has come back, let a single request out, so that wrong credentials
        cost one request instead of ``concurrency`` of them. False: the campaign is stopping."""
        assert self._proven is not None
        while not self._proven.is_set():
            if not self._probing:
                self._probing = True
                return True
            await self._proven.wait()
        return not self.stopping

    async def _send_row(self, plan: RowPlan, in_flight: dict[str, RowPlan]) -> None:
        assert plan.message is not None
        pacer = self.pacer_for(plan.message.cust_space_id)
        tries = _Tries()
        while await self._attempt(plan, pacer, tries, in_flight):
            pass

    async def _slot(self, pacer: WindowPacer) -> bool:
        """Wait to be let out (see :meth:`_admitted`) and for the pacer's slot; False: the
        campaign is stopping."""
        if not await self._admitted():
            return False
        start = pacer.reserve(self.clock())
        await self._pause(start - self.clock())
        while (late := pacer.admit(self.clock())) and not self.stopping:
            await self._pause(late)  # others left late, together: keep the window rule
        return not self.stopping

    async def _attempt(self, plan: RowPlan, pacer: WindowPacer, tries: _Tries,
                       in_flight: dict[str, RowPlan]) -> bool:
        """Send ``plan`` once, the intent journaled first; True when it is to be sent again."""
        message = plan.message
        # pragma: no mutate start (equivalent: an assert for mypy; run() set _proven)
        assert message is not None and self._proven is not None
        # pragma: no mutate end
        if not await self._slot(pacer):
            self.book.finish(plan, self.book.row(plan, "not_sent", attempts=tries.attempts))
            return False
        tries.attempts += 1
        row = self.book.row(plan, INTENT,  # pragma: no mutate (intent() records INTENT anyway)
                            attempts=tries.attempts, attempted_at=_utc(self.wall()))
        self.ledger.intent(row)
        in_flight[plan.key] = plan
        began = self.clock()
        try:
            result = await self.client.send(message)
        except Exception as error:  # noqa: BLE001 - a row's failure is a result, not a crash
            in_flight.pop(plan.key, None)  # pragma: no mutate (the key is in it: see above)
            return await self._after_error(plan, row, error, began, pacer, tries)
        in_flight.pop(plan.key, None)  # pragma: no mutate (the key is in it: see above)
        self._proven.set()
        row.status, row.message_id, row.code = "sent", result.message_id, result.code
        row.message, row.request_id = result.message, result.request_id
        row.latency_ms = self._since(began)
        row.sent_at = _utc(self.wall())
        self.book.finish(plan, row)
        return False

    async def _after_error(self, plan: RowPlan, row: JournalRow, error: Exception, began: float,
                           pacer: WindowPacer, tries: _Tries) -> bool:
        """What a send that raised ``error`` comes to (see the module docstring's table); True
        when the row is to be sent again."""
        assert self._proven is not None
        if isinstance(error, ThrottledError):
            self._proven.set()
            self.counts.throttled += 1
            pacer.throttled(self.clock(), error.retry_after)
            tries.throttles += 1
            if tries.throttles > self.max_throttle_retries:
                self._fail(plan, row, error, began)
                return False
            self.book.retry(plan.key)
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
                                   began: float, tries: _Tries) -> bool:
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
            self.book.retry(plan.key)
            await self._pause(self.backoff.delay(tries.failures))
            return True
        self._fail(plan, row, error, began)
        return False

    # -- bookkeeping (see RowBook) ----------------------------------------------------------

    def _since(self, began: float) -> float:
        """Milliseconds since ``began`` on the engine's clock: a row's latency."""
        return round((self.clock() - began) * 1000.0, 3)

    def _fail(self, plan: RowPlan, row: JournalRow, error: CamsError, began: float) -> None:
        self.book.finish(plan, self.book.with_error(row, "failed", error, self._since(began)))

    def _row(self, plan: RowPlan, status: str, **extra: Any) -> JournalRow:
        """A journal record of ``plan`` (see :meth:`RowBook.row`)."""
        return self.book.row(plan, status, **extra)


async def _chunks(plans: Iterable[list[RowPlan]] | AsyncIterable[list[RowPlan]]
                  ) -> AsyncIterator[list[RowPlan]]:
    if isinstance(plans, AsyncIterable):
        async for chunk in plans:
            yield chunk
    else:
        for chunk in plans:
            yield chunk
