"""Receipts in any order: the final status and the failure reason never depend on arrival.

Oracle: the reference, not the package. ``../shared/reference/smq_receipts.md`` and
``cams_api.md`` section 5 say receipts come at least once and in no promised order; the
expected outcome per message is taken from the sandbox's own record of what it scheduled
(``Sandbox.messages()[i]["statuses"]``, written when the message was accepted), never from
folding receipts, and the failure cases are written out by hand.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from cams_notebook import Message
from cams_notebook.campaigns.frames import CampaignResult
from cams_notebook.receipts.events import DeliveryState, Receipt, fold, join_receipts
from cams_notebook.receipts.store import ReceiptStore
from cams_notebook.sandbox import MAGIC_NUMBERS, Sandbox
from tests.helpers import template_fields
from tests.receipt_helpers import FakeClock, sandbox_at

T0 = 1_691_043_638_000
RANK = {"Sent": 1, "Delivered": 2, "Read": 3}


def failed(ms: int | None, code: str, why: str) -> dict[str, Any]:
    event: dict[str, Any] = {"MessageId": "m", "Status": "Failed", "ErrorCode": code,
                             "ErrorDescription": why}
    if ms is not None:
        event["Timestamp"] = ms
    return event


# -- which failure reason is kept ---------------------------------------------------------


@pytest.mark.parametrize(("events", "kept"), [
    # the earliest failure names the reason, whichever arrives first
    ([failed(T0 + 5000, "131049", "late"), failed(T0 + 1000, "131026", "early")],
     ("131026", "early", T0 + 1000)),
    # three failures, the earliest in the middle
    ([failed(T0 + 3000, "b", "second"), failed(T0 + 1000, "a", "first"),
      failed(T0 + 9000, "c", "third")], ("a", "first", T0 + 1000)),
    # a failure without a Timestamp never beats one with
    ([failed(None, "x", "no time"), failed(T0 + 7000, "y", "timed")], ("y", "timed", T0 + 7000)),
    # the same time: the text breaks the tie, so the choice is still the same every time
    ([failed(T0, "131049", "b"), failed(T0, "131026", "a")], ("131026", "a", T0)),
])
def test_the_earliest_failure_names_the_reason_in_every_arrival_order(
        events: list[dict[str, Any]], kept: tuple[str, str, int]) -> None:
    """With several Failed receipts, the reason is the earliest one's, in every order
    (the mutant that kept the latest, or the last to arrive, fails here)."""
    for order in itertools.permutations(events):
        receipts = [Receipt.model_validate(e) for e in (*order, {"MessageId": "m",
                                                               "Status": "Sent",
                                                               "Timestamp": T0 - 1})]
        state = fold(receipts)["m"]
        assert (state.failed_code, state.failed_reason, state.failed_ms) == kept, order
        assert state.status == "failed"


def test_the_join_reports_the_earliest_failure_whatever_the_store_saw_last() -> None:
    result = CampaignResult({"status": ["sent"], "message_id": ["m"], "to": ["1"]})
    late_first = [failed(T0 + 5000, "131049", "late"), failed(T0 + 1000, "131026", "early")]
    for events in (late_first, late_first[::-1]):
        store = ReceiptStore()
        store.add(events)
        joined = join_receipts(result, store)
        assert (joined.loc[0, "failed_code"], joined.loc[0, "failed_reason"]) == \
            ("131026", "early")


# -- the sandbox's shuffled receipt order -------------------------------------------------


def _send_all(sb: Sandbox, clock: FakeClock) -> None:
    client = sb.client(clock=clock)
    numbers = [*MAGIC_NUMBERS][:5] + [f"86139{i:08d}" for i in range(60)]
    for to in numbers:
        client.send(Message(**template_fields(to=to)))
    clock.advance(600)  # every receipt is due


def _expected(record: dict[str, Any]) -> str | None:
    statuses = [status for _, status in record["statuses"]]
    if "Failed" in statuses:
        return "failed"
    best = max((RANK[s] for s in statuses if s in RANK), default=0)
    return {3: "read", 2: "delivered", 1: "sent"}.get(best)


def test_with_shuffled_receipts_every_message_ends_in_its_true_status() -> None:
    """``Sandbox(receipt_order="shuffled", seed=...)`` hands receipts over out of order; the
    fold must still give each message the status the sandbox scheduled for it (the mutant
    where the last receipt's status wins fails here)."""
    clock = FakeClock()
    sb = sandbox_at(clock, seed=5, receipt_delay=1.0, receipt_order="shuffled")
    _send_all(sb, clock)
    receipts = sb.receipts()

    # the order really is shuffled: some message has a later status before an earlier one
    position: dict[tuple[str, str], int] = {}
    for i, r in enumerate(receipts):
        position.setdefault((r["MessageId"], r["Status"]), i)
    inverted = {m for (m, s), i in position.items() if s in ("Delivered", "Read", "Failed")
                and position.get((m, "Sent"), -1) > i}
    assert len(inverted) >= 5

    store = ReceiptStore()
    store.add(receipts)
    states = store.states()
    records = sb.messages()
    expected = {r["message_id"]: _expected(r) for r in records}
    got = {m: (states[m].status if m in states else None) for m in expected}
    assert got == expected
    assert {"read", "delivered", "failed"} <= set(expected.values())

    result = CampaignResult({"status": ["sent"] * len(records),
                             "message_id": [r["message_id"] for r in records],
                             "to": [r["to"] for r in records]})
    joined = join_receipts(result, receipts)
    assert joined["delivery_status"].tolist() == [expected[r["message_id"]] or "pending"
                                                  for r in records]


def test_the_shuffled_order_is_seeded_and_holds_the_same_receipts_as_the_due_order() -> None:
    """The keyword changes the order only: the same seed gives the same receipts, and the same
    shuffle every time; an unknown order is refused."""
    start = FakeClock().now  # one start for every run: the receipts' timestamps must match

    def run(order: str) -> list[dict[str, Any]]:
        clock = FakeClock(start=start)
        sb = sandbox_at(clock, seed=9, receipt_delay=1.0, receipt_order=order)
        _send_all(sb, clock)
        return sb.receipts()

    due, shuffled = run("due"), run("shuffled")

    def key(r: dict[str, Any]) -> tuple[str, str, int]:
        return r["MessageId"], r["Status"], r["Timestamp"]

    assert sorted(map(key, due)) == sorted(map(key, shuffled))
    assert shuffled != due and shuffled == run("shuffled")
    with pytest.raises(ValueError, match="receipt_order"):
        Sandbox(receipt_order="newest-first")


def test_apply_says_when_the_status_changed_and_keeps_the_first_known_details() -> None:
    """The fold's bookkeeping (what the live funnel and join read): every event counted, the
    first TaskId/To kept, a subscription event skipped without stopping the fold."""
    state = DeliveryState("m")
    sent = Receipt.model_validate({"MessageId": "m", "Status": "Sent", "Timestamp": T0,
                                   "TaskId": "t-1", "To": "8613900000000"})
    assert state.apply(sent) is True
    assert state.apply(sent) is False  # a duplicate changes nothing
    later = Receipt.model_validate({"MessageId": "m", "Status": "Delivered",
                                    "Timestamp": T0 + 1, "TaskId": "t-2", "To": "1"})
    assert state.apply(later) is True
    assert (state.events, state.task_id, state.to, state.status) == \
        (3, "t-1", "8613900000000", "delivered")
    states = fold([Receipt.model_validate({"MessageId": "u", "Status": "subscribe"}), sent])
    assert list(states) == ["m"] and states["m"].message_id == "m"
