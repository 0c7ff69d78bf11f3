"""What the engine does with each answer of one attempt: which are sent again, after how long,
what the journal holds while a row waits, and what a row ends with.

Oracle: the table in ``cams_notebook/campaigns/engine.py``'s docstring (throttled: pause as
told and send again; surely not sent: back off and retry, up to the limit; outcome unknown:
``unknown``, never resent; auth or subscription error: ``failed`` and the campaign stops; any
other service error: ``failed`` at once) and the journal's promise (a row whose request surely
did not take effect is not on record as possibly sent, so the next run sends it; nothing is sent
twice). The client is scripted per recipient and the loop runs on virtual time, so waits are
exact and take no real time.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from typing import Any

import pytest

from cams_notebook.campaigns.engine import CampaignEngine
from cams_notebook.campaigns.journal import INTENT, JournalRow, MemoryJournal
from cams_notebook.campaigns.pacing import Backoff
from cams_notebook.errors import (
    AuthError,
    InvalidRequestError,
    NotSubscribedError,
    OutcomeUnknownError,
    ServerError,
    ThrottledError,
)
from tests.campaigns.test_engine import ScriptedClient, numbers, plans_for, run_engine, unavailable
from tests.virtual_time import VirtualTime

A, B = numbers(2)
WALL = 1_767_225_600.0  # 2026-01-01T00:00:00Z
AT = "2026-01-01T00:00:00.000+00:00"


@pytest.fixture
def vt() -> Iterator[VirtualTime]:
    virtual = VirtualTime()
    yield virtual
    virtual.close()


def throttle(retry_after: float | None) -> ThrottledError:
    return ThrottledError("flow control", code="System.LimitControl", status_code=400,
                          retry_after=retry_after)


class LongestJitter(random.Random):
    """Backoff's jitter at its top: each retry waits the full ``base * 2 ** (n - 1)``."""

    def uniform(self, a: float, b: float) -> float:
        return b


def call_times(client: ScriptedClient, to: str) -> list[float]:
    return [t for t, n, _ in client.calls if n == to]


def rows_by_to(results: dict[str, tuple[Any, JournalRow]]) -> dict[str | None, JournalRow]:
    return {row.to: row for _, row in results.values()}


# -- what a row ends with ----------------------------------------------------------------------


def test_a_sent_row_records_what_the_service_answered_and_when(vt: VirtualTime) -> None:
    ledger = MemoryJournal()
    _, results = vt.run(run_engine(ScriptedClient(), [plans_for([A])], ledger=ledger,
                                   wall=lambda: WALL))
    [(_, row)] = results.values()
    assert (row.status, row.message_id, row.code, row.message, row.request_id) == \
        ("sent", "msg-1", "OK", "OK", "req-1")
    assert (row.attempts, row.attempted_at, row.sent_at) == (1, AT, AT)
    assert row.latency_ms == pytest.approx(10.0)  # the scripted client answers in 10 ms
    assert ledger.get_many([row.key])[row.key] == row


def test_the_intent_is_on_record_with_its_attempt_time_while_the_request_is_out(
        vt: VirtualTime) -> None:
    # reconcile finds a lost answer by this time: it must be the time the attempt began
    ledger = MemoryJournal()
    seen: list[JournalRow] = []
    client = ScriptedClient(latency=5.0)
    plans = [plans_for([A])]
    clock = iter([WALL, WALL + 5.0])

    async def look_while_out() -> Any:
        asyncio.get_running_loop().call_later(1.0, lambda: seen.extend(ledger.rows()))
        return await run_engine(client, plans, ledger=ledger, wall=lambda: next(clock))

    _, results = vt.run(look_while_out())
    [before] = seen
    assert (before.status, before.attempts, before.attempted_at) == (INTENT, 1, AT)
    [(_, row)] = results.values()
    assert (row.attempted_at, row.sent_at) == (AT, "2026-01-01T00:00:05.000+00:00")


def test_an_answer_that_may_have_been_lost_is_unknown_and_never_sent_again(
        vt: VirtualTime) -> None:
    client = ScriptedClient({A: [OutcomeUnknownError("read timed out")]})
    _, results = vt.run(run_engine(client, [plans_for([A, B])]))
    rows = rows_by_to(results)
    assert (rows[A].status, rows[A].attempts, rows[A].error) == \
        ("unknown", 1, "OutcomeUnknownError: read timed out")
    assert rows[A].latency_ms == pytest.approx(10.0) and not rows[A].retry_safe
    assert len(call_times(client, A)) == 1 and rows[B].status == "sent"


def test_an_unexpected_exception_leaves_the_row_unknown_with_its_latency(vt: VirtualTime) -> None:
    client = ScriptedClient({A: [KeyError("Data")]})
    _, results = vt.run(run_engine(client, [plans_for([A])]))
    [(_, row)] = results.values()
    assert (row.status, row.error, row.attempts) == ("unknown", "KeyError: 'Data'", 1)
    assert row.latency_ms == pytest.approx(10.0)
    assert len(client.calls) == 1


def test_a_request_the_service_refused_fails_at_once(vt: VirtualTime) -> None:
    refused = InvalidRequestError("bad To", code="InvalidParameter.To", status_code=400,
                                  request_id="req-x")
    client = ScriptedClient({A: [refused]})
    engine, results = vt.run(run_engine(client, [plans_for([A, B])]))
    rows = rows_by_to(results)
    assert (rows[A].status, rows[A].code, rows[A].request_id, rows[A].attempts) == \
        ("failed", "InvalidParameter.To", "req-x", 1)
    assert len(call_times(client, A)) == 1 and rows[B].status == "sent"
    assert engine.stop_reason is None


# -- throttles -----------------------------------------------------------------------------------


def test_a_throttled_row_waits_the_retry_after_it_was_given_then_is_sent(vt: VirtualTime) -> None:
    client = ScriptedClient({A: [throttle(2.5)]})
    engine, results = vt.run(run_engine(client, [plans_for([A])]))
    first, second = call_times(client, A)
    assert second - first == pytest.approx(0.01 + 2.5)  # its answer, then the wait it was told
    [(_, row)] = results.values()
    assert (row.status, row.attempts) == ("sent", 2)
    assert engine.counts.throttled == 1


def test_a_throttle_without_retry_after_is_sent_again_at_the_next_slot(vt: VirtualTime) -> None:
    client = ScriptedClient({A: [throttle(None)]})
    vt.run(run_engine(client, [plans_for([A])], qps=10))
    first, second = call_times(client, A)
    assert second - first == pytest.approx(1.025 / 10)  # the pacer's spacing, nothing more


def test_a_throttle_storm_holds_every_row_for_the_retry_after_given(vt: VirtualTime) -> None:
    # two throttles within a window (qps=10 reacts after two): the pacer pauses everyone,
    # for as long as the service said, not for its own default
    client = ScriptedClient({A: [throttle(3.0)], B: [throttle(3.0)]})
    rows = numbers(6)
    engine, results = vt.run(run_engine(client, [plans_for(rows)], qps=10, concurrency=2))
    storm = call_times(client, B)[0] + 0.01  # the second throttle's answer
    later = [t for t, _, _ in client.calls if t > storm]
    assert later and min(later) >= storm + 3.0 - 1e-9
    assert {row.status for _, row in results.values()} == {"sent"}
    assert engine.counts.throttled == 2


def test_each_throttle_is_counted(vt: VirtualTime) -> None:
    client = ScriptedClient({A: [throttle(0.1)] * 3, B: [throttle(0.1)]})
    engine, results = vt.run(run_engine(client, [plans_for([A, B])]))
    assert engine.counts.throttled == 4
    assert {row.to: row.attempts for _, row in results.values()} == {A: 4, B: 2}


def test_a_row_throttled_just_up_to_the_limit_is_still_sent(vt: VirtualTime) -> None:
    client = ScriptedClient({A: [throttle(0.1)] * 3})
    _, results = vt.run(run_engine(client, [plans_for([A])], max_throttle_retries=3))
    [(_, row)] = results.values()
    assert (row.status, row.attempts) == ("sent", 4)


# -- retries with backoff ------------------------------------------------------------------------


def test_a_retry_safe_failure_waits_the_backoff_each_time(vt: VirtualTime) -> None:
    client = ScriptedClient({A: [unavailable(), unavailable(), unavailable()]})
    backoff = Backoff(base=1.0, max_attempts=5, rng=LongestJitter())
    _, results = vt.run(run_engine(client, [plans_for([A])], backoff=backoff))
    times = call_times(client, A)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert gaps == pytest.approx([0.01 + 1.0, 0.01 + 2.0, 0.01 + 4.0])
    [(_, row)] = results.values()
    assert (row.status, row.attempts) == ("sent", 4)


def test_a_failure_after_the_stop_is_failed_not_retried(vt: VirtualTime) -> None:
    client = ScriptedClient({A: [unavailable()] * 3}, latency=0.5)
    engine = CampaignEngine(client, qps=100, ledger=MemoryJournal())

    async def stop_while_out() -> Any:
        asyncio.get_running_loop().call_later(0.1, engine.stop)
        return await engine.run([plans_for([A])])

    results = vt.run(stop_while_out())
    [(_, row)] = results.values()
    assert (row.status, row.code, row.attempts) == ("failed", "ServiceUnavailable", 1)
    assert len(client.calls) == 1


# -- a stop (or a killed process) while a row waits to be sent again -------------------------


@pytest.mark.parametrize("answer", ["throttled", "503"])
def test_a_row_waiting_to_be_sent_again_at_a_stop_is_sent_by_the_next_run_once(
        vt: VirtualTime, answer: str) -> None:
    first_answer = throttle(60.0) if answer == "throttled" else unavailable()
    client = ScriptedClient({A: [first_answer]})
    ledger = MemoryJournal()
    engine = CampaignEngine(client, qps=100, ledger=ledger,
                            backoff=Backoff(base=60.0, rng=LongestJitter()))
    seen: list[list[JournalRow]] = []

    async def stop_while_waiting() -> Any:
        loop = asyncio.get_running_loop()
        loop.call_later(1.0, lambda: seen.append(ledger.rows()))  # what a kill -9 would leave
        loop.call_later(2.0, engine.stop)
        return await engine.run([plans_for([A, B])])

    results = vt.run(stop_while_waiting())
    rows = rows_by_to(results)
    assert (rows[A].status, rows[A].attempts) == ("not_sent", 1)
    assert [r.to for r in seen[0]] == [B]  # not on record as possibly sent while it waits

    again = ScriptedClient()
    _, results = vt.run(run_engine(again, [plans_for([A, B])], ledger=ledger))
    assert rows_by_to(results)[A].status == "sent"
    assert [n for _, n, _ in again.calls] == [A]


# -- errors that stop the campaign -------------------------------------------------------------


def test_the_first_subscription_error_is_the_reason_the_campaign_stopped(vt: VirtualTime) -> None:
    # the subscription lapses mid-campaign: the requests already out all come back refused
    rows = numbers(12)
    lapsed = {to: [NotSubscribedError(f"lapsed ({to})", code="Product.Unsubscript")]
              for to in rows[4:]}
    client = ScriptedClient(lapsed)  # type: ignore[arg-type]
    engine, results = vt.run(run_engine(client, [plans_for(rows)], concurrency=3))
    assert isinstance(engine.stop_reason, NotSubscribedError)
    assert engine.stop_reason.message == f"lapsed ({rows[4]})"
    statuses = [rows_by_to(results)[to].status for to in rows]
    assert statuses[:4] == ["sent"] * 4 and statuses[4] == "failed"
    assert set(statuses[4:]) <= {"failed", "not_sent"} and statuses[-1] == "not_sent"


def test_an_auth_error_fails_its_row_with_the_service_s_code_and_stops(vt: VirtualTime) -> None:
    denied = AuthError("no permission", code="Forbidden.RAM", status_code=403, request_id="r-9")
    client = ScriptedClient({A: [denied]})
    engine, results = vt.run(run_engine(client, [plans_for([A, B])]))
    rows = rows_by_to(results)
    assert (rows[A].status, rows[A].code, rows[A].request_id) == ("failed", "Forbidden.RAM", "r-9")
    assert rows[B].status == "not_sent" and engine.stop_reason is denied
    assert len(client.calls) == 1


def test_a_server_error_that_is_not_retry_safe_is_not_retried(vt: VirtualTime) -> None:
    class Unsafe(ServerError):
        retry_safe = False

    client = ScriptedClient({A: [Unsafe("half done", code="InternalError", status_code=500)]})
    _, results = vt.run(run_engine(client, [plans_for([A])]))
    [(_, row)] = results.values()
    assert (row.status, row.attempts, row.retry_safe) == ("failed", 1, False)
