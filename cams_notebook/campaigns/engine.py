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
                                       ``backoff.max_attempts``, then ``failed``
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
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

from ..client import AsyncClient
from ..errors import (
    ApiError,
    AuthError,
    CamsError,
    NotSubscribedError,
    OutcomeUnknownError,
    ThrottledError,
)
from .journal import INTENT, Journal, JournalRow, encode_index
from .pacing import Backoff, WindowPacer
from .plan import RowPlan

__all__ = ["CampaignEngine", "Counts", "run_in_thread"]

T = TypeVar("T")


@dataclass
class Counts:
    """Live tallies for the progress bar and the panel."""

    sent: int = 0
    failed: int = 0
    unknown: int = 0
    throttled: int = 0
    retries: int = 0
    skipped: int = 0
    changed: int = 0
    done: int = 0
    started_at: float = field(default_factory=time.monotonic)

    def rate(self, now: float) -> float:
        return self.sent / max(now - self.started_at, 1e-9)


def _loop_time() -> float:
    """The running loop's clock (what ``asyncio.sleep`` counts in), else ``time.monotonic``."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds")


class CampaignEngine:
    """Sends :class:`~.batch.RowPlan` rows through an :class:`~.client.AsyncClient`."""

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
        self.stop_reason: CamsError | None = None
        self._pacers: dict[tuple[str, str], WindowPacer] = {}
        self._stop: asyncio.Event | None = None
        self._stop_requested = False
        self._proven: asyncio.Event | None = None
        self._probing = False
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.results: dict[str, tuple[Hashable, JournalRow]] = {}
        self._previous: dict[str, JournalRow] = {}
        """Journal records of rows sent again in a new version, put back if the new one never
        leaves."""

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
        failure: BaseException | None = None
        try:
            async for chunk in _chunks(plans):
                known = self.ledger.get_many([p.key for p in chunk if p.valid])
                for plan in chunk:
                    if not plan.valid:
                        continue  # invalid rows are reported by the caller
                    record = known.get(plan.key)
                    if record is not None and not self._sends_again(plan, record):
                        self._replay(plan, record)
                        continue
                    if record is not None:
                        self._previous[plan.key] = record
                    if self.stopping:
                        self._finish(plan, self._row(plan, "not_sent"))
                    else:
                        await queue.put(plan)
        except asyncio.CancelledError:
            self._halt()
        except BaseException as exc:  # noqa: BLE001 - re-raised once the rows are recorded
            self._halt()
            failure = exc
        try:
            for _ in workers:
                await queue.put(None)
            await self._wait_workers(workers)
        except asyncio.CancelledError:
            self._halt()
            await self._wait_workers(workers)
        for plan in in_flight.values():
            self._finish(plan, self._row(plan, "unknown", attempts=1,
                                         error="stopped while the request was in flight"))
        while not queue.empty():
            left = queue.get_nowait()
            if left is not None:
                self._finish(left, self._row(left, "not_sent"))
        failure = failure or self._failure
        if failure is not None:
            raise failure
        return self.results

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
                self._finish(plan, self._row(plan, "not_sent"))
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
        message = plan.message
        assert message is not None and self._proven is not None
        pacer = self.pacer_for(message.cust_space_id)
        attempts = throttles = failures = 0
        while True:
            if not await self._admitted():
                self._finish(plan, self._row(plan, "not_sent", attempts=attempts))
                return
            start = pacer.reserve(self.clock())
            await self._pause(start - self.clock())
            while (late := pacer.admit(self.clock())) and not self.stopping:
                await self._pause(late)  # others left late, together: keep the window rule
            if self.stopping:
                self._finish(plan, self._row(plan, "not_sent", attempts=attempts))
                return
            attempts += 1
            row = self._row(plan, INTENT, attempts=attempts, attempted_at=_utc(self.wall()))
            self.ledger.intent(row)
            in_flight[plan.key] = plan
            began = self.clock()
            try:
                result = await self.client.send(message)
            except ThrottledError as error:
                in_flight.pop(plan.key, None)
                self._proven.set()
                self.counts.throttled += 1
                pacer.throttled(self.clock(), error.retry_after)
                throttles += 1
                if throttles > self.max_throttle_retries:
                    self._fail(plan, row, error, began)
                    return
                self._undo_intent(plan.key)
                # the row waits as told even when the pacer (seeing a stray throttle, not a
                # rate that is too high) lets the others go on
                await self._pause(error.retry_after or 0.0)
                continue
            except OutcomeUnknownError as error:
                in_flight.pop(plan.key, None)
                self._proven.set()
                self._finish(plan, self._with_error(row, "unknown", error, began))
                return
            except CamsError as error:
                in_flight.pop(plan.key, None)
                if isinstance(error, (AuthError, NotSubscribedError)):
                    self._fail(plan, row, error, began)
                    if self.stop_reason is None:
                        self.stop_reason = error
                    self._halt()
                    return
                self._proven.set()
                failures += 1  # throttles have their own budget; only these use the backoff's
                if error.retry_safe and not self.backoff.gives_up(failures) and not self.stopping:
                    self._undo_intent(plan.key)
                    self.counts.retries += 1
                    await self._pause(self.backoff.delay(failures))
                    continue
                self._fail(plan, row, error, began)
                return
            except Exception as error:  # noqa: BLE001 - a row's failure is a result, not a crash
                in_flight.pop(plan.key, None)
                self._proven.set()
                row.status, row.error = "unknown", f"{type(error).__name__}: {error}"
                row.latency_ms = round((self.clock() - began) * 1000.0, 3)
                self._finish(plan, row)
                return
            in_flight.pop(plan.key, None)
            self._proven.set()
            row.status, row.message_id, row.code = "sent", result.message_id, result.code
            row.message, row.request_id = result.message, result.request_id
            row.latency_ms = round((self.clock() - began) * 1000.0, 3)
            row.sent_at = _utc(self.wall())
            self._finish(plan, row)
            return

    # -- bookkeeping ----------------------------------------------------------------------

    def _row(self, plan: RowPlan, status: str, **extra: Any) -> JournalRow:
        message = plan.message
        if message is None:
            return JournalRow(key=plan.key, status=status, index=encode_index(plan.index),
                             campaign=self.campaign, **extra)
        return JournalRow(key=plan.key, status=status, index=encode_index(plan.index),
                         to=message.to, task_id=message.task_id, campaign=self.campaign,
                         channel=message.channel_type, sender=message.from_,
                         cust_space_id=message.cust_space_id,
                         template_code=message.template_code or message.template_name,
                         digest=plan.digest, **extra)

    def _with_error(self, row: JournalRow, status: str, error: CamsError,
                    began: float) -> JournalRow:
        row.status = status
        row.error = f"{type(error).__name__}: {error}"
        row.latency_ms = round((self.clock() - began) * 1000.0, 3)
        row.retry_safe = error.retry_safe
        if isinstance(error, ApiError):
            row.code, row.message, row.request_id = error.code, error.message, error.request_id
        return row

    def _fail(self, plan: RowPlan, row: JournalRow, error: CamsError, began: float) -> None:
        self._finish(plan, self._with_error(row, "failed", error, began))

    def _undo_intent(self, key: str) -> None:
        """The request surely did not take effect: the journal goes back to what it knew."""
        previous = self._previous.get(key)
        if previous is None:
            self.ledger.forget(key)
        else:
            self.ledger.outcome(previous)

    def _sends_again(self, plan: RowPlan, record: JournalRow) -> bool:
        """Whether a row the journal knows goes out (again): only when its message changed
        since, and it either failed (the person got nothing) or ``on_changed="send"``."""
        if record.digest is None or record.digest == plan.digest:
            return False
        return record.status == "failed" or (record.status == "sent" and self.on_changed == "send")

    def _replay(self, plan: RowPlan, row: JournalRow) -> None:
        """A row the journal already knows: report it, never send it again."""
        changed = row.digest is not None and row.digest != plan.digest
        if row.status == INTENT:
            error = "a request may have gone out before the previous run stopped"
            if changed:
                error += "; the row's message has changed since"
            row = JournalRow(**{**row.__dict__, "status": "unknown", "error": error})
        elif changed and row.status == "sent":
            self.counts.changed += 1
            row = JournalRow(**{**row.__dict__, "status": "changed", "message_id": None,
                               "code": None, "message": None, "error": (
                                   f"already sent in this campaign at {row.sent_at} (MessageId "
                                   f"{row.message_id}) with a different message; the new version "
                                   "was not sent (pass on_changed='send' to send it)")})
            self._finish(plan, row, journal=False)
            return
        self.counts.skipped += 1
        self._finish(plan, row, journal=False)

    def _finish(self, plan: RowPlan, row: JournalRow, journal: bool = True) -> None:
        if journal and row.status not in ("not_sent",):
            previous = self._previous.get(plan.key)
            if row.status == "failed" and previous is not None and previous.status == "sent":
                # a new version that failed leaves the record of the one that arrived
                self.ledger.outcome(previous)
            else:
                self.ledger.outcome(row)
        self.results[plan.key] = (plan.index, row)
        counts = self.counts
        counts.done += 1
        if row.status == "sent":
            counts.sent += 1
        elif row.status == "failed":
            counts.failed += 1
        elif row.status == "unknown":
            counts.unknown += 1
        if self.on_progress is not None:
            self.on_progress(counts)


async def _chunks(plans: Iterable[list[RowPlan]] | AsyncIterable[list[RowPlan]]
                  ) -> AsyncIterator[list[RowPlan]]:
    if isinstance(plans, AsyncIterable):
        async for chunk in plans:
            yield chunk
    else:
        for chunk in plans:
            yield chunk


def run_in_thread(make: Callable[[], Awaitable[T]], on_interrupt: Callable[[], None]) -> T:
    """Run a coroutine on a private event loop in a worker thread and wait for it.

    Works whether or not the calling thread runs a loop (a notebook kernel does). A
    ``KeyboardInterrupt`` in the calling thread (Ctrl-C, a kernel interrupt) calls
    ``on_interrupt`` and keeps waiting for the coroutine to wind down, so what was done is
    kept; a second interrupt is passed on. One that comes before the coroutine started
    cancels it outright: it is passed on, and nothing runs.
    """
    box: dict[str, Any] = {}
    # Events, not thread.join()/is_alive(): before Python 3.12 a KeyboardInterrupt inside
    # join() can mark a running thread as stopped (bpo-45274's fix), which would return
    # before the campaign has finished.
    done = threading.Event()
    go = threading.Event()  # the worker starts only once this thread can take a Ctrl-C

    def target() -> None:
        try:
            while not go.wait(0.05):
                pass
            if not box.get("cancelled"):
                box["value"] = asyncio.run(make())  # type: ignore[arg-type]
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=target, name="cams-campaign", daemon=True)
    interrupted = False
    while not done.is_set():
        try:
            if not go.is_set():
                if thread.ident is None:
                    thread.start()
                go.set()
            done.wait(0.1)
        except KeyboardInterrupt:
            if not go.is_set():  # nothing has run: the Ctrl-C cancels the call itself
                box["cancelled"] = True
                go.set()
                raise
            if interrupted:
                raise
            interrupted = True
            on_interrupt()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]
