"""The campaign engine: sends planned rows at the account's rate, retrying only where safe.

One asyncio engine serves every face: ``await asend_frame(...)`` runs it on the caller's
loop; ``send_frame(...)`` runs it on a private loop in a worker thread, so it works the same
from a plain script and from a notebook cell whose kernel already runs a loop (no
nest_asyncio), and Ctrl-C in the calling thread becomes a clean stop.

For each row: wait for a slot from the campaign's :class:`~.layered_pacing.LayeredPacer`
(the account's quota, shared by every CustSpaceId and AccessKey of the account; the row's
sender number's ``sender_mps``; its recipient's pair rate), write the intent to the journal,
send, write the outcome.
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
beyond the unique-user allowance       ``deferred`` with ``eligible_at``, not sent; a
                                       later run sends it once eligible
refused after acceptance (receipts     sent again (130429 lowers the sender's rate);
130429, 131056; with ``receipts=``)    131049 ``capped``, eligible 24 h later
bad news on the receipts (a sender     stops like Ctrl-C; ``stop_reason`` says why
RED or flagged, a template paused)
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
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Hashable,
    Iterable,
    Mapping,
)
from datetime import datetime, timezone
from typing import Any

from ..client import AsyncClient
from ..errors import (
    CamsError,
)
from ..models import Message
from .bookkeeping import Counts, RowBook
from .delivery_follow import DeliveryFollower, follow
from .engine_outcomes import RowOutcomes, Tries, _Item
from .fair_feed import FairFeed
from .journal import INTENT, Journal, JournalRow
from .layered_pacing import DEFAULT_SENDER_MPS, LayeredPacer, SenderLimits
from .loop_thread import run_in_thread
from .pacing import Backoff
from .plan import RowPlan

__all__ = ["PAIR_MARGIN", "SENDER_MARGIN", "CampaignEngine", "Counts", "run_in_thread"]

SENDER_MARGIN = 0.04
"""A sender number's window: 80 starts per 1.04 s (76.9/s), where the account's is 2.5 %. The
platform counts a number's messages on its own clock, after the network and its own queues:
measured against the sandbox (which counts the same way) at 3 x 80/s, a 2.5 % margin let 81
or 83 through in some second about once per 6,000 messages (130429); 4 % did not."""

PAIR_MARGIN = 0.15
"""Seconds added to the pair rate's 6 s: the platform counts on its own clock, and the time
between our start and its count varies (a request held by its connection, a busy event loop)
by more than the windows' 2.5 % margin covers over 6 s. Measured: without it, about one in
ten second messages to a pair was refused (131056) by the sandbox at 240 messages/s."""


def _loop_time() -> float:
    """The running loop's clock (what ``asyncio.sleep`` counts in), else ``time.monotonic``."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds")


class CampaignEngine(RowOutcomes):
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
        sender_mps: SenderLimits = DEFAULT_SENDER_MPS,
        follower: DeliveryFollower | None = None,
        defer: Callable[[list[RowPlan]], Mapping[str, str]] | None = None,
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
                            on_progress=on_progress, wall=wall)
        self.follower = follower
        if follower is not None:
            follower.clock = self.clock  # "follow_for after the last request" on one clock
        """Reads the receipts while the run goes on (see :mod:`.delivery_follow`); None: the
        run ends with its last answer."""
        self.defer = defer
        """Given the rows of a chunk that would go out, the ones to leave for later (row key ->
        ``eligible_at``): the unique-user allowance (see :mod:`.allowance`)."""
        self._queue: asyncio.Queue[_Item] | None = None
        self._resending: set[str] = set()
        self._resend_tasks: set[asyncio.Task[None]] = set()
        self._prior: dict[str, int] = {}
        self._open_rows = 0
        """Rows handed to the workers and not finished yet."""
        self.results: dict[str, tuple[Hashable, JournalRow]] = self.book.results
        self.stop_reason: CamsError | None = None
        """Why the run stopped early by itself (refused credentials, bad news from the
        platform); None when it ran to the end or was stopped by the user."""
        self.pacer = LayeredPacer(account_limit=qps, sender_mps=sender_mps,
                                  react_after=max(2, qps // 10), pair_margin=PAIR_MARGIN,
                                  sender_margin=SENDER_MARGIN)
        """Every limit a row falls under: the account's ``qps`` (one quota for the whole
        account, whatever the CustSpaceId), the sender number's ``sender_mps`` (WhatsApp) and
        the pair rate; see :mod:`.layered_pacing`."""
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
        queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=self.concurrency * 2)
        self._queue = queue
        in_flight: dict[str, RowPlan] = {}
        workers = [asyncio.create_task(self._worker(queue, in_flight))
                   for _ in range(self.concurrency)]
        watcher = None
        if self.follower is not None:
            watcher = asyncio.create_task(follow(
                self.follower, stopping=lambda: self.stopping, stop=self._stop_for,
                act=self._revise, sleep=self.sleep))
        try:
            failure = await self._feed(plans, queue)
            if failure is None and self.follower is not None:
                await self._follow_to_the_end()
        finally:
            if watcher is not None:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
        await self._wind_down(workers, queue, in_flight)
        failure = failure or self._failure
        if failure is not None:
            raise failure
        return self.results

    async def _feed(self, plans: Iterable[list[RowPlan]] | AsyncIterable[list[RowPlan]],
                    queue: asyncio.Queue[_Item]) -> BaseException | None:
        """Hand the workers every row that goes out, booked fairly across senders (see
        :mod:`.fair_feed`); what reading the chunks raised, if any."""
        feed = FairFeed(self.pacer)
        try:
            async for chunk in _chunks(plans):
                known = self.ledger.get_many([p.key for p in chunk if p.valid])
                going = [plan for plan in chunk  # invalid rows are reported by the caller
                         if plan.valid and self.book.to_send(plan, known.get(plan.key))]
                later = self.defer(going) if self.defer is not None and going else {}
                for plan in going:
                    if plan.key in later:
                        self.book.finish(plan, self.book.row(
                            plan, "deferred", eligible_at=later[plan.key],
                            error=f"beyond the sender's unique-user allowance; eligible from "
                                  f"{later[plan.key]}"))
                feed.add(plan for plan in going if plan.key not in later)
                await self._hand_out(feed, queue, to_the_end=False)
            await self._hand_out(feed, queue, to_the_end=True)
        except asyncio.CancelledError:
            self._halt()
        except BaseException as exc:  # noqa: BLE001 - re-raised once the rows are recorded
            self._halt()
            return exc
        finally:
            for plan in feed.drain():  # stopped: what was never handed out
                self.book.finish(plan, self._not_sent(plan))
        return None

    async def _hand_out(self, feed: FairFeed, queue: asyncio.Queue[_Item], *,
                        to_the_end: bool) -> None:
        """Book and hand out rows as their time comes; return when the feed is empty (or,
        unless ``to_the_end``, holds only rows waiting for their pair: the next chunk may
        come), or on a stop."""
        while len(feed) and not self.stopping:
            if not to_the_end and feed.only_waiting:
                return
            plan, start = feed.take(self.clock())
            if plan is None:
                # wake when that row comes within the horizon, so it is booked at its own
                # time, not at the (later) moment the feeder woke: lateness would add up
                await self._pause(start - feed.horizon - self.clock())
                continue
            self._open_rows += 1
            await queue.put((plan, start))

    async def _wind_down(self, workers: list[asyncio.Task[None]],
                         queue: asyncio.Queue[_Item],
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
        for task in self._resend_tasks:
            task.cancel()
        await asyncio.gather(*self._resend_tasks, return_exceptions=True)
        for plan in in_flight.values():
            self.book.finish(plan, self.book.row(plan, "unknown", attempts=1,
                                                 error="stopped while the request was in flight"))
        while not queue.empty():
            left = queue.get_nowait()
            if left is not None:
                self.book.finish(left[0], self._not_sent(left[0]))

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

    async def _worker(self, queue: asyncio.Queue[_Item],
                      in_flight: dict[str, RowPlan]) -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            plan, start = item
            try:
                if self.stopping:
                    self.book.finish(plan, self._not_sent(plan))
                else:
                    await self._send_row(plan, in_flight, start)
            except Exception as exc:  # noqa: BLE001 - the journal (or on_progress) failed
                # Without a journal write the at-most-once promise is gone: stop, and let
                # run() raise it once the other rows are wound down.
                if self._failure is None:
                    self._failure = exc
                self._halt()
            finally:
                self._open_rows -= 1

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

    async def _send_row(self, plan: RowPlan, in_flight: dict[str, RowPlan],
                        start: float | None = None) -> None:
        """Send ``plan`` until it has its outcome; ``start``: the slot the feeder booked for
        its first attempt (None: book one, as every retry does)."""
        assert plan.message is not None
        tries = Tries(attempts=self._prior.pop(plan.key, 0))  # a resend counts on
        while await self._attempt(plan, tries, in_flight, start):
            start = None

    async def _slot(self, message: Message, start: float | None) -> bool:
        """Wait to be let out (see :meth:`_admitted`); unless the feeder booked ``start``,
        wait for the recipient's pair rate (holding no booking, so the rows behind go on) and
        book the slot every limit allows; then wait for it. False: the campaign is stopping."""
        if not await self._admitted():
            return False
        pacer, sender = self.pacer, message.from_ or ""
        channel, to = message.channel_type, message.to
        if start is None:
            await self._pause(pacer.pair_ready(self.clock(), sender, to, channel)
                              - self.clock())
            if self.stopping:
                return False
            start = pacer.reserve(self.clock(), sender, to, channel)
        await self._pause(start - self.clock())
        while (late := pacer.admit(self.clock(), sender, channel)) and not self.stopping:
            await self._pause(late)  # others left late, together: keep the window rule
        return not self.stopping

    async def _attempt(self, plan: RowPlan, tries: Tries, in_flight: dict[str, RowPlan],
                       start: float | None = None) -> bool:
        """Send ``plan`` once, the intent journaled first; True when it is to be sent again."""
        message = plan.message
        # pragma: no mutate start (equivalent: an assert for mypy; run() set _proven)
        assert message is not None and self._proven is not None
        # pragma: no mutate end
        if not await self._slot(message, start):
            self.book.finish(plan, self._not_sent(plan, attempts=tries.attempts))
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
            return await self._after_error(plan, row, error, began, tries)
        in_flight.pop(plan.key, None)  # pragma: no mutate (the key is in it: see above)
        self._proven.set()
        row.status, row.message_id, row.code = "sent", result.message_id, result.code
        row.message, row.request_id = result.message, result.request_id
        row.latency_ms = self._since(began)
        row.sent_at = _utc(self.wall())
        self.book.finish(plan, row)
        if self.follower is not None:
            self.follower.track(plan, row)
        return False


async def _chunks(plans: Iterable[list[RowPlan]] | AsyncIterable[list[RowPlan]]
                  ) -> AsyncIterator[list[RowPlan]]:
    if isinstance(plans, AsyncIterable):
        async for chunk in plans:
            yield chunk
    else:
        for chunk in plans:
            yield chunk
