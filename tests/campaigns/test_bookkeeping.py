"""The counts of a run: this run's sends only, rows waiting for a retry, one meaningful rate;
and what a run would send given the journal (the confirmation's count)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from cams_notebook.campaigns.bookkeeping import Counts, left_to_send
from cams_notebook.campaigns.engine import CampaignEngine
from cams_notebook.campaigns.journal import MemoryJournal
from cams_notebook.campaigns.plan import RowPlan
from cams_notebook.campaigns.progress_bar import ProgressBar
from cams_notebook.errors import ApiError, AuthError, CamsError, RequestNotSentError
from tests.campaigns.test_engine import (
    ScriptedClient,
    numbers,
    plans_for,
    run_engine,
    statuses,
    throttled,
    unavailable,
)
from tests.virtual_time import VirtualTime


@pytest.fixture
def vt() -> Iterator[VirtualTime]:
    virtual = VirtualTime()
    yield virtual
    virtual.close()


def snapshots(vt: VirtualTime, client: ScriptedClient, plans: list[RowPlan]
              ) -> tuple[CampaignEngine, list[Counts]]:
    """Run the engine (on virtual time: backoff pauses cost nothing) and keep a copy of the
    counts at every report."""
    seen: list[Counts] = []

    def record(counts: Counts) -> None:
        seen.append(Counts(**counts.__dict__))

    engine, _ = vt.run(run_engine(client, [plans], on_progress=record))
    return engine, seen


def test_a_throttled_row_counts_as_retrying_until_it_is_sent(vt: VirtualTime) -> None:
    to = numbers(1)[0]
    client = ScriptedClient({to: [throttled(), throttled()]})
    engine, seen = snapshots(vt, client, plans_for([to, *numbers(3, 1)]))
    assert engine.counts.sent == 4 and engine.counts.throttled == 2
    assert engine.counts.retries == 2
    assert max(c.retrying for c in seen) == 1  # said while it waited
    assert seen[-1].retrying == 0 and engine.counts.retrying == 0


def test_a_failure_worth_a_retry_counts_as_retrying_then_failed(vt: VirtualTime) -> None:
    to = numbers(1)[0]
    client = ScriptedClient({to: [unavailable()] * 20})
    engine, seen = snapshots(vt, client, plans_for([to]))
    assert engine.counts.failed == 1 and engine.counts.retrying == 0
    assert any(c.retrying == 1 and c.done == 0 for c in seen)  # the counts froze: it said why


def test_rows_replayed_from_the_journal_are_counted_once_as_skipped() -> None:
    ledger = MemoryJournal()
    plans = plans_for(numbers(5))
    asyncio.run(run_engine(ScriptedClient(), [plans[:3]], ledger=ledger))
    engine, results = asyncio.run(run_engine(ScriptedClient(), [plans], ledger=ledger))
    assert statuses(results) == {"sent": 5}  # the result says what each row is
    counts = engine.counts
    assert (counts.sent, counts.skipped, counts.done) == (2, 3, 5)  # the counts, what ran


def test_the_rate_is_of_this_run_and_needs_two_answers() -> None:
    counts = Counts(started_at=100.0)
    assert counts.rate(101.0) is None
    counts.skipped = 300  # replayed: nothing was sent
    assert counts.rate(100.01) is None
    counts.sent, counts.failed = 19, 1
    assert counts.rate(102.0) == 10.0


def test_left_to_send_leaves_out_what_the_journal_has_unless_it_changed_and_failed(
        vt: VirtualTime) -> None:
    ledger = MemoryJournal()
    plans = plans_for(numbers(4))
    refused = ApiError("bad parameter", code="InvalidParameter", status_code=400)
    script: dict[str, list[BaseException | str]] = {numbers(2)[1]: [refused]}
    vt.run(run_engine(ScriptedClient(script), [plans[:2]], ledger=ledger))
    known = ledger.get_many(p.key for p in plans)
    assert known[plans[1].key].status == "failed" and not known[plans[1].key].retry_safe
    assert [p.index for p in left_to_send(plans, known)] == [2, 3]
    edited = plans_for(numbers(4), template_params={"name": "Bo", "order_id": "A-1"})
    known = ledger.get_many(p.key for p in edited)
    assert [p.index for p in left_to_send(edited, known)] == [1, 2, 3]  # failed, now changed


@pytest.mark.parametrize("error", [unavailable(), throttled(),
                                   RequestNotSentError("connection refused"),
                                   AuthError("bad key", code="InvalidAccessKeyId.NotFound",
                                             status_code=404)],
                         ids=["a 5xx", "throttled to the end", "never reached", "auth refused"])
def test_a_row_that_failed_without_taking_effect_is_sent_by_the_next_run(
        vt: VirtualTime, error: CamsError) -> None:
    """A row whose request surely took no effect (the journal says ``retry_safe``) is left
    to send by the next run with the same journal, unchanged; once sent, it is not again."""
    ledger = MemoryJournal()
    plans = plans_for(numbers(3))
    script: dict[str, list[BaseException | str]] = {numbers(3)[1]: [error] * 40}
    vt.run(run_engine(ScriptedClient(script), [plans[:2]], ledger=ledger))
    known = ledger.get_many(p.key for p in plans)
    assert known[plans[1].key].status == "failed" and known[plans[1].key].retry_safe
    assert [p.index for p in left_to_send(plans, known)] == [1, 2]
    engine, results = vt.run(run_engine(ScriptedClient(), [plans], ledger=ledger))
    assert statuses(results) == {"sent": 3}
    assert (engine.counts.sent, engine.counts.skipped) == (2, 1)
    known = ledger.get_many(p.key for p in plans)
    assert left_to_send(plans, known) == []


def test_the_progress_line_has_one_rate_and_says_retrying() -> None:
    assert "rate" not in ProgressBar.BAR_FORMAT  # tqdm's own rate would count replayed rows
    counts = Counts(sent=40, throttled=3, retrying=2, skipped=10, started_at=0.0)
    line = ProgressBar.postfix(counts, 4.0)
    assert line == {"sent": 40, "failed": 0, "unknown": 0, "throttled": 3, "retrying": 2,
                    "done_before": 10, "rate": "10 msg/s"}
    assert "rate" not in ProgressBar.postfix(Counts(skipped=294, started_at=0.0), 0.01)
