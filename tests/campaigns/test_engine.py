"""CampaignEngine and run_in_thread: pacing, retries, unknown outcomes, stops and the journal.

The engine runs on a virtual-time event loop (:class:`VirtualLoop`): whenever every task
is waiting, the loop's clock jumps to the next timer instead of sleeping, so a campaign
of several virtual seconds, backoffs and grace periods included, takes milliseconds. The
sandbox and the client read the same virtual clock, so the sandbox's own rate limit
judges the engine's pacing.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import signal
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from cams_notebook.campaigns.engine import CampaignEngine, Counts, run_in_thread
from cams_notebook.campaigns.journal import (
    INTENT,
    Journal,
    JournalRow,
    MemoryJournal,
    SqliteJournal,
)
from cams_notebook.campaigns.pacing import Backoff
from cams_notebook.campaigns.plan import FrameMapping, RowPlan, plan_rows
from cams_notebook.errors import ServerError, ThrottledError
from cams_notebook.models import Message, SendResult
from cams_notebook.sandbox import Sandbox
from tests.virtual_time import VirtualTime

T = TypeVar("T")

SLOW = "15550100009"  # accepted, answered after 30 s
ALWAYS_503 = "15550100008"
TEMPLATE = {"channel_type": "whatsapp", "type": "template", "from_": "8613800000000",
            "template_code": "830174529611842305", "language": "en",
            "template_params": {"name": "Ada", "order_id": "A-1"}}


@pytest.fixture
def vt() -> Iterator[VirtualTime]:
    virtual = VirtualTime()
    yield virtual
    virtual.close()


# -- building blocks -------------------------------------------------------------------------------


def plans_for(numbers: list[str], campaign: str = "t", **constants: Any) -> list[RowPlan]:
    """One valid plan per recipient number (index = position)."""
    mapping = FrameMapping(["to"], {**TEMPLATE, **constants})
    plans = list(plan_rows(((i, [n]) for i, n in enumerate(numbers)), mapping, campaign))
    assert all(p.valid for p in plans)
    return plans


def numbers(n: int, start: int = 0) -> list[str]:
    return [f"86139{i:08d}" for i in range(start, start + n)]


def statuses(results: dict[str, tuple[Any, Any]]) -> Counter[str]:
    return Counter(row.status for _, row in results.values())


def busiest_second(times: list[float]) -> int:
    ordered = sorted(times)
    return max((bisect.bisect_left(ordered, t + 1.0) - i for i, t in enumerate(ordered)), default=0)


def accepted_per_recipient(sandbox: Sandbox) -> Counter[str]:
    return Counter(m["to"] for m in sandbox.messages())


class ScriptedClient:
    """Stands in for AsyncClient: per recipient, a list of what each attempt gets."""

    access_key_id = "scripted"

    def __init__(self, script: dict[str, list[BaseException | str]] | None = None,
                 latency: float = 0.01) -> None:
        self.script = {to: list(steps) for to, steps in (script or {}).items()}
        self.latency = latency
        self.calls: list[tuple[float, str, str | None]] = []
        self._ids = itertools.count(1)

    async def send(self, message: Message) -> SendResult:
        loop = asyncio.get_running_loop()
        self.calls.append((loop.time(), message.to, message.cust_space_id))
        await asyncio.sleep(self.latency)
        steps = self.script.get(message.to)
        step = steps.pop(0) if steps else "ok"
        if isinstance(step, BaseException):
            raise step
        n = next(self._ids)
        return SendResult(RequestId=f"req-{n}", Code="OK", Message="OK", MessageId=f"msg-{n}")


def throttled() -> ThrottledError:
    return ThrottledError("flow control", code="System.LimitControl", status_code=400,
                          retry_after=0.1)


def unavailable() -> ServerError:
    return ServerError("try later", code="ServiceUnavailable", status_code=503)


async def run_engine(client: Any, plans: Any, *, qps: int = 100, ledger: Journal | None = None,
                     **kwargs: Any) -> tuple[CampaignEngine, dict[str, tuple[Any, Any]]]:
    """Run an engine; these tests are about the account's limit, so the one sender number
    has no limit of its own unless a test asks (tests/campaigns/test_engine_layers.py)."""
    kwargs.setdefault("sender_mps", None)
    engine = CampaignEngine(client, qps=qps,
                            ledger=ledger if ledger is not None else MemoryJournal(), **kwargs)
    results = await engine.run(plans)
    return engine, results


# -- pacing against the sandbox's own rate limit --------------------------------------------------


def test_rows_go_out_at_the_rate_asked_and_never_faster(vt: VirtualTime) -> None:
    sandbox = vt.sandbox(qps=250, latency_ms=(80, 10))
    began = vt.loop.time()
    _, results = vt.run(run_engine(vt.client(sandbox), [plans_for(numbers(600))], qps=200))
    elapsed = vt.loop.time() - began
    assert statuses(results) == {"sent": 600}
    assert sandbox.core.stats["throttled"] == 0
    assert busiest_second([m["time"] for m in sandbox.messages()]) <= 200
    # 600 starts spread evenly at 200 per 1.025 s, plus the latency of the last ones
    assert 599 * 1.025 / 200 < elapsed < 599 * 1.025 / 200 + 0.4


def test_throttled_rows_are_retried_until_sent(vt: VirtualTime) -> None:
    # The account really allows 100/s, the campaign asks for 200/s: the sandbox throttles,
    # the pacer slows down, and every row still ends sent, exactly once.
    sandbox = vt.sandbox(qps=100)
    began = vt.loop.time()
    engine, results = vt.run(run_engine(vt.client(sandbox), [plans_for(numbers(600))], qps=200))
    assert statuses(results) == {"sent": 600}
    assert engine.counts.throttled == sandbox.core.stats["throttled"] > 0
    assert set(accepted_per_recipient(sandbox).values()) == {1}
    # One burst of throttles lowers the rate once: 600 rows at ~100/s take seconds, not minutes.
    assert vt.loop.time() - began < 12.0


def test_stray_throttles_delay_their_rows_but_not_the_campaign(vt: VirtualTime) -> None:
    # 3 % of rows are throttled once at random (the gateway's own hiccups, not our rate): the
    # pacer keeps the full rate, and each such row waits its retry_after and is sent.
    rows = numbers(2000)
    client = ScriptedClient({to: [throttled()] for to in rows[::33]})
    began = vt.loop.time()
    engine, results = vt.run(run_engine(client, [plans_for(rows)], qps=200))
    assert statuses(results) == {"sent": 2000}
    assert engine.counts.throttled == len(rows[::33])
    assert engine.pacer.account.limit == 200
    assert vt.loop.time() - began < 2000 * 1.025 / 200 + 1.0
    retried = {to: [t for t, n, _ in client.calls if n == to] for to in rows[::33]}
    assert all(len(ts) == 2 and ts[1] - ts[0] >= 0.01 + 0.1 - 1e-9 for ts in retried.values())


def test_a_throttle_storm_lowers_the_rate(vt: VirtualTime) -> None:
    # A third of the rows throttled: that is a rate problem, and the pacer slows down.
    rows = numbers(900)
    client = ScriptedClient({to: [throttled()] for to in rows[::3]})
    engine = CampaignEngine(client, qps=200, ledger=MemoryJournal(), sender_mps=None)
    pacer = engine.pacer.account
    limits: list[int] = []
    book = pacer.book
    pacer.book = lambda start: limits.append(pacer.limit) or book(start)  # type: ignore[method-assign]
    results = vt.run(engine.run([plans_for(rows)]))
    assert statuses(results) == {"sent": 900}
    assert min(limits) <= 200 * 0.8 * 0.8  # lowered, window after window, while it lasted


def test_a_row_throttled_too_often_fails(vt: VirtualTime) -> None:
    client = ScriptedClient({"8613900000000": [throttled() for _ in range(10)]})
    _, results = vt.run(run_engine(client, [plans_for(numbers(2))], max_throttle_retries=3))
    rows = {row.to: row for _, row in results.values()}
    assert rows["8613900000000"].status == "failed"
    assert rows["8613900000000"].code == "System.LimitControl"
    assert rows["8613900000000"].attempts == 4
    assert rows["8613900000001"].status == "sent"


def test_every_cust_space_id_of_the_account_shares_its_quota(vt: VirtualTime) -> None:
    # The quota is the Alibaba Cloud account's (all its spaces and keys together): two spaces
    # sending side by side get 10/s between them, not 10/s each.
    client = ScriptedClient()
    plans = [plans_for(numbers(20), cust_space_id="space-a") +
             plans_for(numbers(20, 100), cust_space_id="space-b")]
    began = vt.loop.time()
    _, results = vt.run(run_engine(client, plans, qps=10))
    assert statuses(results) == {"sent": 40}
    assert busiest_second([t for t, _, _ in client.calls]) == 10
    assert {s for _, _, s in client.calls} == {"space-a", "space-b"}
    assert vt.loop.time() - began > 3.5  # 40 rows at 10/s: four windows


# -- retries, failures and unknown outcomes ----------------------------------------------------


def test_retry_safe_failures_are_retried_up_to_the_limit_then_failed(vt: VirtualTime) -> None:
    sandbox = vt.sandbox()
    backoff = Backoff(max_attempts=4)
    _, results = vt.run(run_engine(vt.client(sandbox), [plans_for([ALWAYS_503, *numbers(3)])],
                                   backoff=backoff))
    rows = {row.to: row for _, row in results.values()}
    assert rows[ALWAYS_503].status == "failed"
    assert rows[ALWAYS_503].attempts == 4
    assert rows[ALWAYS_503].code == "ServiceUnavailable"
    assert rows[ALWAYS_503].retry_safe
    assert sum(1 for n in numbers(3) if rows[n].status == "sent") == 3
    assert sandbox.core.stats["requests"] == 4 + 3


def test_connect_errors_are_retried_up_to_the_limit_then_failed(vt: VirtualTime) -> None:
    attempts: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(request.url.params["To"])
        raise httpx.ConnectError("connection refused", request=request)

    client = Sandbox().async_client(transport=httpx.MockTransport(refuse))
    _, results = vt.run(run_engine(client, [plans_for(numbers(2))]))
    for _, row in results.values():
        assert (row.status, row.attempts) == ("failed", 5)  # Backoff's default max_attempts
        assert row.error.startswith("RequestNotSentError")
    assert len(attempts) == 10


def test_throttles_do_not_use_up_the_retry_budget(vt: VirtualTime) -> None:
    script: dict[str, list[BaseException | str]] = {
        "8613900000000": [throttled(), throttled(), throttled(), throttled(), unavailable(),
                          unavailable(), "ok"]}
    _, results = vt.run(run_engine(ScriptedClient(script), [plans_for(numbers(1))],
                                   backoff=Backoff(max_attempts=3)))
    [(_, row)] = results.values()
    assert (row.status, row.attempts) == ("sent", 7)


def test_an_unknown_outcome_is_never_resent(vt: VirtualTime) -> None:
    sandbox = vt.sandbox()
    client = vt.client(sandbox, timeout=0.5)  # the sandbox answers SLOW after 30 s
    ledger = MemoryJournal()
    plans = [plans_for([SLOW, *numbers(3)])]
    _, first = vt.run(run_engine(client, plans, ledger=ledger))
    rows = {row.to: row for _, row in first.values()}
    assert rows[SLOW].status == "unknown"
    assert rows[SLOW].error.startswith("OutcomeUnknownError")
    assert accepted_per_recipient(sandbox)[SLOW] == 1  # it did arrive

    engine, again = vt.run(run_engine(client, plans, ledger=ledger))
    assert {row.to: row.status for _, row in again.values()}[SLOW] == "unknown"
    assert engine.counts.skipped == 4
    assert accepted_per_recipient(sandbox)[SLOW] == 1
    assert sandbox.core.stats["requests"] == 4


def test_an_unexpected_client_exception_makes_the_row_unknown_not_the_campaign_crash(
        vt: VirtualTime) -> None:
    script: dict[str, list[BaseException | str]] = {"8613900000001": [RuntimeError("bug")]}
    _, results = vt.run(run_engine(ScriptedClient(script), [plans_for(numbers(40))],
                                   concurrency=4))
    rows = {row.to: row for _, row in results.values()}
    assert rows["8613900000001"].status == "unknown"
    assert rows["8613900000001"].error == "RuntimeError: bug"
    assert statuses(results) == {"sent": 39, "unknown": 1}


# -- auth errors and stops ---------------------------------------------------------------------


def test_an_auth_error_stops_the_campaign_after_one_request(vt: VirtualTime) -> None:
    sandbox = vt.sandbox(latency_ms=(50, 0))
    client = vt.client(sandbox, access_key_secret="not-the-secret")
    engine, results = vt.run(run_engine(client, [plans_for(numbers(300))], qps=250))
    assert statuses(results) == {"failed": 1, "not_sent": 299}
    assert type(engine.stop_reason).__name__ == "AuthError"
    failed = next(row for _, row in results.values() if row.status == "failed")
    assert failed.code == "SignatureDoesNotMatch"
    assert sandbox.core.stats["requests"] == 1


def test_an_auth_error_stops_every_chunk_that_follows(vt: VirtualTime) -> None:
    sandbox = vt.sandbox()
    client = vt.client(sandbox, access_key_secret="not-the-secret")

    async def chunks() -> AsyncIterator[list[RowPlan]]:
        for start in range(0, 200, 50):
            yield plans_for(numbers(50, start))

    _, results = vt.run(run_engine(client, chunks()))
    assert statuses(results) == {"failed": 1, "not_sent": 199}
    assert sandbox.core.stats["requests"] == 1


def test_stop_from_on_progress_then_rerun_sends_each_row_once(vt: VirtualTime,
                                                              tmp_path: Path) -> None:
    sandbox = vt.sandbox()
    plans = [plans_for(numbers(300))]
    ledger = SqliteJournal(tmp_path / "send.db")
    holder: dict[str, CampaignEngine] = {}

    def stop_at_100(counts: Counts) -> None:
        if counts.done >= 100:
            holder["engine"].stop()

    engine = CampaignEngine(vt.client(sandbox), qps=100, ledger=ledger, on_progress=stop_at_100)
    holder["engine"] = engine
    first = vt.run(engine.run(plans))
    before = statuses(first)
    assert before["sent"] >= 100 and before["not_sent"] > 0
    assert before["sent"] + before["not_sent"] + before["unknown"] == 300
    first_sent = {row.to for _, row in first.values() if row.status == "sent"}
    ledger.close()

    ledger = SqliteJournal(tmp_path / "send.db")  # a new process would open it like this
    engine, second = vt.run(run_engine(vt.client(sandbox), plans, ledger=ledger))
    ledger.close()
    after = {row.to: row.status for _, row in second.values()}
    assert set(after.values()) <= {"sent", "unknown"}
    assert {to for to, s in after.items() if s == "sent"} >= first_sent
    assert engine.counts.skipped == before["sent"] + before["unknown"]
    accepted = accepted_per_recipient(sandbox)
    assert set(accepted.values()) == {1}
    assert set(accepted) == {to for to, s in after.items() if s == "sent"}


def test_stop_before_run_sends_nothing(vt: VirtualTime) -> None:
    client = ScriptedClient()
    engine = CampaignEngine(client, qps=100, ledger=MemoryJournal())
    engine.stop()  # Ctrl-C while the dry run was still going
    results = vt.run(engine.run([plans_for(numbers(5))]))
    assert statuses(results) == {"not_sent": 5}
    assert client.calls == []


def test_stop_does_not_wait_for_rows_sleeping_until_their_slot(vt: VirtualTime) -> None:
    holder: dict[str, CampaignEngine] = {}
    engine = CampaignEngine(ScriptedClient(), qps=1, ledger=MemoryJournal(),
                            on_progress=lambda counts: holder["engine"].stop())
    holder["engine"] = engine
    began = vt.loop.time()
    results = vt.run(engine.run([plans_for(numbers(20))]))
    # qps=1 booked slots up to 16 s ahead; a stop is not a 5-second grace wait
    assert vt.loop.time() - began < 1.0
    assert statuses(results) == {"sent": 1, "not_sent": 19}


def test_a_request_in_flight_at_stop_gets_grace_then_is_unknown_in_the_journal(
        vt: VirtualTime) -> None:
    sandbox = vt.sandbox()
    client = vt.client(sandbox, timeout=60.0)  # waits the sandbox's full 30 s for SLOW
    ledger = MemoryJournal()
    engine = CampaignEngine(client, qps=10, ledger=ledger, grace=2.0)

    async def stop_soon() -> dict[str, tuple[Any, Any]]:
        asyncio.get_running_loop().call_later(5.0, engine.stop)
        return await engine.run([plans_for([*numbers(3), SLOW])])

    began = vt.loop.time()
    results = vt.run(stop_soon())
    assert 7.0 <= vt.loop.time() - began < 8.0  # stop at 5 s, then 2 s of grace
    rows = {row.to: row for _, row in results.values()}
    assert rows[SLOW].status == "unknown"
    assert rows[SLOW].error == "stopped while the request was in flight"
    assert ledger.get_many([rows[SLOW].key])[rows[SLOW].key].status == "unknown"
    assert accepted_per_recipient(sandbox)[SLOW] == 1


def test_journaled_rows_are_reported_even_after_a_stop(vt: VirtualTime) -> None:
    ledger = MemoryJournal()
    plans = [plans_for(numbers(10))]
    vt.run(run_engine(ScriptedClient(), [plans[0][:4]], ledger=ledger))
    engine = CampaignEngine(ScriptedClient(), qps=100, ledger=ledger)
    engine.stop()
    results = vt.run(engine.run(plans))
    assert statuses(results) == {"sent": 4, "not_sent": 6}


def test_an_intent_without_outcome_is_reported_unknown_and_not_sent(vt: VirtualTime) -> None:
    # what a killed process leaves behind: the intent was written, the answer never came
    ledger = MemoryJournal()
    plans = [plans_for(numbers(3))]
    engine = CampaignEngine(ScriptedClient(), qps=100, ledger=ledger)
    ledger.intent(engine._row(plans[0][1], INTENT, attempts=1))
    client = ScriptedClient()
    _, results = vt.run(run_engine(client, plans, ledger=ledger))
    rows = {row.to: row for _, row in results.values()}
    assert rows["8613900000001"].status == "unknown"
    assert [to for _, to, _ in client.calls] == ["8613900000000", "8613900000002"]


def test_invalid_plans_are_left_to_the_caller(vt: VirtualTime) -> None:
    mapping = FrameMapping(["to"], TEMPLATE)
    plans = list(plan_rows([(0, ["8613900000000"]), (1, [None])], mapping, "t"))
    client = ScriptedClient()
    _, results = vt.run(run_engine(client, [plans]))
    assert [row.to for _, row in results.values()] == ["8613900000000"]


def test_a_failing_chunk_source_winds_down_records_and_raises(vt: VirtualTime) -> None:
    async def chunks() -> AsyncIterator[list[RowPlan]]:
        yield plans_for(numbers(5))
        raise ValueError("row 7 is invalid")

    engine = CampaignEngine(ScriptedClient(), qps=100, ledger=MemoryJournal())
    with pytest.raises(ValueError, match="row 7"):
        vt.run(engine.run(chunks()))
    assert sum(statuses(engine.results).values()) == 5  # every handed-out row has a result


class FailingJournal(MemoryJournal):
    """A journal whose disk fills up after ``room`` intents."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def intent(self, row: JournalRow) -> None:
        if self.room == 0:
            raise OSError("No space left on device")
        self.room -= 1
        super().intent(row)


@pytest.mark.parametrize("room", [0, 5])
def test_a_journal_that_cannot_be_written_stops_the_campaign_and_raises(vt: VirtualTime,
                                                                        room: int) -> None:
    client = ScriptedClient()
    engine = CampaignEngine(client, qps=100, ledger=FailingJournal(room))
    with pytest.raises(OSError, match="No space"):
        vt.run(engine.run([plans_for(numbers(50))]))
    assert len(client.calls) == room  # nothing goes out without its intent on record


# -- run_in_thread -----------------------------------------------------------------------------


def _interrupt_main_thread_when(*conditions: Callable[[], bool]) -> threading.Thread:
    """SIGINT the main thread (a Ctrl-C) once each condition holds in turn.

    Waiting for a condition between two signals matters: signals are not queued, so two
    raised before the main thread handled the first would count as one Ctrl-C.
    """

    def fire() -> None:
        deadline = time.monotonic() + 10
        for condition in conditions:
            while not condition() and time.monotonic() < deadline:
                time.sleep(0.005)
            signal.raise_signal(signal.SIGINT)

    thread = threading.Thread(target=fire, daemon=True)
    thread.start()
    return thread


def test_run_in_thread_returns_the_coroutine_result() -> None:
    async def work() -> int:
        await asyncio.sleep(0)
        return 42

    assert run_in_thread(work, lambda: None) == 42


def test_run_in_thread_raises_the_coroutine_error_in_the_caller() -> None:
    async def work() -> None:
        raise LookupError("nope")

    with pytest.raises(LookupError, match="nope"):
        run_in_thread(work, lambda: None)


async def test_run_in_thread_works_inside_a_running_loop() -> None:
    async def work() -> str:
        await asyncio.sleep(0.01)
        return "done"

    assert run_in_thread(work, lambda: None) == "done"


def test_ctrl_c_calls_on_interrupt_and_waits_for_the_wind_down() -> None:
    started, stopped = threading.Event(), threading.Event()

    async def work() -> str:
        started.set()
        while not stopped.is_set():
            await asyncio.sleep(0.01)
        return "partial"

    thread = _interrupt_main_thread_when(started.is_set)
    assert run_in_thread(work, stopped.set) == "partial"
    thread.join()


def test_a_second_ctrl_c_is_passed_on() -> None:
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    async def work() -> None:
        started.set()
        while not release.is_set():
            await asyncio.sleep(0.01)

    thread = _interrupt_main_thread_when(started.is_set, lambda: bool(calls))
    with pytest.raises(KeyboardInterrupt):
        run_in_thread(work, lambda: calls.append(1))
    release.set()
    thread.join()
    assert calls == [1]


def test_a_changed_row_sent_again_keeps_its_old_record_when_the_new_one_never_leaves() -> None:
    # the new version is turned away as surely not sent (503 each time): the journal must
    # still say the old version went out, or a later run of the old version would send it again
    ledger = MemoryJournal()
    old = plans_for(numbers(1), template_params={"name": "Ada", "order_id": "A-1"})
    asyncio.run(run_engine(ScriptedClient(), [old], ledger=ledger))
    [before] = ledger.rows()
    assert before.status == "sent"
    new = plans_for(numbers(1), template_params={"name": "Ada Lovelace", "order_id": "A-1"})
    assert new[0].key == old[0].key and new[0].digest != old[0].digest
    client = ScriptedClient({numbers(1)[0]: [unavailable()] * 10})
    _, results = asyncio.run(run_engine(client, [new], ledger=ledger, on_changed="send",
                                             backoff=Backoff(max_attempts=2, base=0.001)))
    assert results[new[0].key][1].status == "failed"
    assert ledger.get_many([old[0].key])[old[0].key] == before  # what arrived is still known
    assert len(client.calls) == 2
    replay = ScriptedClient()
    _, results = asyncio.run(run_engine(replay, [old], ledger=ledger))
    assert results[old[0].key][1].status == "sent" and replay.calls == []  # never sent twice
    newer = ScriptedClient()
    _, results = asyncio.run(run_engine(newer, [new], ledger=ledger))
    assert results[new[0].key][1].status == "changed" and newer.calls == []


def test_a_changed_row_is_told_and_not_sent_by_default() -> None:
    ledger = MemoryJournal()
    ada = {"name": "Ada", "order_id": "A-1"}
    asyncio.run(run_engine(ScriptedClient(), [plans_for(numbers(2), template_params=ada)],
                           ledger=ledger))
    client = ScriptedClient()
    engine, results = asyncio.run(run_engine(
        client, [plans_for(numbers(2), template_params={**ada, "name": "Bo"})], ledger=ledger))
    assert {row.status for _, row in results.values()} == {"changed"}
    assert engine.counts.changed == 2 and engine.counts.sent == 0 and client.calls == []
    assert all("on_changed='send'" in (row.error or "") for _, row in results.values())
