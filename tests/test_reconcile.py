"""Reconciliation: every ``unknown`` row becomes ``sent`` (with its MessageId) or ``not_sent``
from evidence, the journal follows, and ``resend`` sends exactly the ``not_sent`` rows.

The sandbox runs in-process. Unknown rows are made precisely: a request that reached the
service (sent with the row's TaskId, its answer "lost") or one that never did.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cams_notebook import Client, Message, reconcile, resend, send_frame
from cams_notebook.frames import RESULT_COLUMNS, CampaignResult
from cams_notebook.ledger import INTENT, LedgerRow, MemoryLedger, SqliteLedger
from cams_notebook.receipt_store import ReceiptStore
from cams_notebook.sandbox import Sandbox

T0 = 1_800_000_000.0
CAMPAIGN: dict[str, Any] = {
    "channel_type": "whatsapp", "type": "template", "from_": "8613800000000",
    "template_code": "830174529611842305", "language": "en", "params": ["name", "order_id"],
}


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def counting(client: Client) -> list[dict[str, str]]:
    """Every ListChatappMessage call the client makes, by its parameters."""
    calls: list[dict[str, str]] = []
    call = client.call

    def counted(action: str, params: Any) -> Any:
        if action == "ListChatappMessage":
            calls.append(dict(params))
        return call(action, params)

    client.call = counted  # type: ignore[method-assign]
    return calls


def deliver(client: Client, to: str, task_id: str) -> str:
    """Send one message as a campaign row would; return its MessageId (the 'lost' answer)."""
    return client.send(Message(channel_type="whatsapp", type="template", from_="8613800000000",
                               to=to, template_code="830174529611842305", language="en",
                               template_params={"name": "Ada", "order_id": "A-1"},
                               task_id=task_id)).message_id  # type: ignore[return-value]


def row(i: int, status: str = "unknown", message_id: str | None = None,
        sent_at: float | None = None, task_id: str | None = "default", to: str | None = None
        ) -> dict[str, Any]:
    return {"status": status, "message_id": message_id, "code": "OK" if message_id else None,
            "message": None, "request_id": None, "attempts": 1, "latency_ms": 5.0,
            "sent_at": None if sent_at is None else pd.Timestamp(sent_at, unit="s", tz="UTC"),
            "error": None if status == "sent" else "OutcomeUnknownError: timed out",
            "to": to or f"86139{i:08d}",
            "task_id": f"cn-test-{i:016d}" if task_id == "default" else task_id,
            "key": f"key-{i}"}


def frame_of(rows: list[dict[str, Any]], index: list[Any] | None = None) -> pd.DataFrame:
    result = pd.DataFrame(rows, columns=RESULT_COLUMNS, index=index)
    result["sent_at"] = pd.to_datetime(result["sent_at"], utc=True)
    return result


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock: Clock) -> Sandbox:
    sb = Sandbox(clock=clock, receipt_delay=0.0, qps=100_000)
    sb.transport._sleep = lambda s: None
    return sb


@pytest.fixture
def client(sandbox: Sandbox, clock: Clock) -> Client:
    return sandbox.client(clock=clock)


# -- settling unknown rows -----------------------------------------------------------------------


@pytest.mark.parametrize("unknown", [3, 30])  # one query per row / one listing and confirmations
def test_accepted_rows_become_sent_with_their_message_id_and_the_rest_not_sent(
        client: Client, unknown: int) -> None:
    ids = {i: deliver(client, f"86139{i:08d}", f"cn-test-{i:016d}") for i in range(0, unknown, 2)}
    result = frame_of([row(i, sent_at=T0) for i in range(unknown)] +
                      [row(unknown, "sent", "m-known", sent_at=T0)])
    settled = reconcile(result, client=client, journal=False, settle=0)
    for i in range(unknown):
        if i in ids:
            assert (settled["status"].iat[i], settled["message_id"].iat[i]) == ("sent", ids[i])
        else:
            assert settled["status"].iat[i] == "not_sent" and pd.isna(settled["message_id"].iat[i])
    assert settled["status"].iat[unknown] == "sent"  # untouched
    assert "reconciled" in settled["error"].iat[0] and settled["code"].iat[0] == "OK"
    assert (result["status"] == "unknown").sum() == unknown  # the input is left alone


def test_few_unknown_rows_cost_one_exact_query_each(client: Client) -> None:
    calls = counting(client)
    reconcile(frame_of([row(i) for i in range(5)]), client=client, journal=False, settle=0)
    assert len(calls) == 5 and all(set(c) >= {"TaskId", "ClientNumber"} for c in calls)


def test_row_by_row_questions_are_asked_several_at_once(client: Client) -> None:
    # each question takes a round trip; a thousand rows must not take a thousand in a row
    lock, busy, most = threading.Lock(), [0], [0]
    call = client.call

    def slow(action: str, params: Any) -> Any:
        with lock:
            busy[0] += 1
            most[0] = max(most[0], busy[0])
        try:
            time.sleep(0.05)
            return call(action, params)
        finally:
            with lock:
                busy[0] -= 1

    client.call = slow  # type: ignore[method-assign]
    settled = reconcile(frame_of([row(i) for i in range(12)]), client=client, journal=False,
                        settle=0)
    assert set(settled["status"]) == {"not_sent"}
    assert most[0] >= 4


def test_many_unknown_rows_are_found_by_one_listing_of_the_campaigns_window(client: Client,
                                                                            clock: Clock) -> None:
    for i in range(60):
        deliver(client, f"86139{i:08d}", f"cn-test-{i:016d}")
    calls = counting(client)
    settled = reconcile(frame_of([row(i, sent_at=T0) for i in range(60)]), client=client,
                        journal=False, settle=0)
    assert set(settled["status"]) == {"sent"}
    assert len(calls) == 1 and calls[0]["StartTime"] == str(int(T0 * 1000) - 600_000)


def test_rows_sent_long_before_the_others_are_still_found_not_sent_again(
        client: Client, clock: Clock) -> None:
    # a first run whose 30 answers were all lost (its rows are unknown), then a run two days
    # later that sent the rest: a listing of the later window alone would miss the first 30
    for i in range(30):
        deliver(client, f"86139{i:08d}", f"cn-test-{i:016d}")
    clock.now = T0 + 2 * 86400
    later = [row(i, "sent", f"m-{i}", sent_at=clock.now) for i in range(30, 40)]
    settled = reconcile(frame_of([row(i) for i in range(30)] + later), client=client,
                        journal=False, settle=0)
    assert set(settled["status"]) == {"sent"}


def test_a_task_id_shared_by_many_rows_settles_each_row_by_its_own_number(client: Client) -> None:
    # the frame gave every row the same TaskId (a campaign name): one accepted message must
    # not settle the other rows, whose requests never arrived
    delivered = deliver(client, "8613900000003", "spring-sale")
    for n in (5, 40):  # exact queries, and the listing path
        result = frame_of([row(i, task_id="spring-sale", sent_at=T0) for i in range(n)])
        settled = reconcile(result, client=client, journal=False, settle=0)
        assert settled.loc[settled["status"] == "sent", "to"].tolist() == ["8613900000003"]
        assert settled["message_id"].iat[3] == delivered
        assert (settled["status"] == "not_sent").sum() == n - 1


def test_two_rows_for_one_number_and_task_get_one_message_each_at_most(client: Client) -> None:
    first = deliver(client, "8613900000001", "same")
    result = frame_of([row(0, task_id="same", to="8613900000001"),
                       row(1, task_id="same", to="8613900000001")])
    settled = reconcile(result, client=client, journal=False, settle=0)
    assert settled["status"].tolist() == ["sent", "not_sent"]
    assert settled["message_id"].tolist()[0] == first


def test_a_message_id_already_on_a_sent_row_is_not_given_to_another(client: Client) -> None:
    mid = deliver(client, "8613900000001", "same")
    result = frame_of([row(0, "sent", mid, task_id="same", to="8613900000001"),
                       row(1, task_id="same", to="8613900000001")])
    assert reconcile(result, client=client, journal=False, settle=0)["status"].tolist() == \
        ["sent", "not_sent"]


def test_a_row_without_a_task_id_stays_unknown_and_says_why(client: Client) -> None:
    settled = reconcile(frame_of([row(0, task_id=None)]), client=client, journal=False, settle=0)
    assert settled["status"].iat[0] == "unknown" and "TaskId" in settled["error"].iat[0]


def test_a_result_without_unknown_rows_is_returned_as_it_is_without_a_query(client: Client) -> None:
    calls = counting(client)
    result = frame_of([row(0, "sent", "m-0"), row(1, "failed")])
    pd.testing.assert_frame_equal(reconcile(result, client=client, settle=0), result)
    assert calls == []


def test_settling_waits_at_most_settle_seconds_whatever_the_clocks_say(client: Client) -> None:
    waited: list[float] = []
    future = pd.Timestamp.now(tz="UTC").timestamp() + 3600  # a sent_at an hour ahead
    reconcile(frame_of([row(0), row(1, "sent", "m-1", sent_at=future)]), client=client,
              journal=False, settle=2.0, sleep=waited.append)
    assert waited and max(waited) <= 2.0


# -- receipts as evidence ------------------------------------------------------------------------


def receipt(message_id: str, task_id: str, to: str) -> dict[str, Any]:
    return {"MessageId": message_id, "TaskId": task_id, "To": to, "Status": "Sent",
            "Timestamp": int(T0 * 1000)}


@pytest.mark.parametrize("shape", ["dicts", "frame", "store"])
def test_receipts_settle_rows_without_asking_the_service(client: Client, shape: str) -> None:
    events = [receipt(f"m-{i}", f"cn-test-{i:016d}", f"+86 139{i:08d}") for i in range(3)]
    receipts: Any = events
    if shape == "frame":
        receipts = pd.DataFrame(events)
    elif shape == "store":
        receipts = ReceiptStore()
        receipts.add(events)
    calls = counting(client)
    settled = reconcile(frame_of([row(i) for i in range(3)]), client=client, receipts=receipts,
                        journal=False, settle=0)
    assert settled["message_id"].tolist() == ["m-0", "m-1", "m-2"] and calls == []


def test_a_receipt_for_another_number_is_no_evidence(client: Client) -> None:
    settled = reconcile(frame_of([row(0)]), client=client, journal=False, settle=0,
                        receipts=[receipt("m-x", "cn-test-0000000000000000", "8613999999999")])
    assert settled["status"].iat[0] == "not_sent"


# -- the journal follows -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite", "ledger", "session"])
def test_the_journal_records_sent_rows_and_forgets_not_sent_ones(
        client: Client, tmp_path: Path, kind: str) -> None:
    mid = deliver(client, "8613900000000", "cn-test-0000000000000000")
    result = CampaignResult(frame_of([row(0), row(1)]))
    result.campaign = "c1"
    ledger: Any = SqliteLedger(tmp_path / "j.db") if kind == "sqlite" else MemoryLedger()
    for i in range(2):
        ledger.intent(LedgerRow(key=f"key-{i}", status=INTENT, index=str(i), to=f"86139{i:08d}",
                                task_id=f"cn-test-{i:016d}", attempts=1))
    journal: Any = ledger
    if kind == "sqlite":
        ledger.close()
        journal = str(tmp_path / "j.db")
    elif kind == "session":
        from cams_notebook import frames

        frames._SESSION_JOURNALS["c1"] = ledger
        journal = None
    reconcile(result, client=client, journal=journal, settle=0)
    reader: Any = SqliteLedger(tmp_path / "j.db") if kind == "sqlite" else ledger
    rows = {r.key: r for r in reader.rows()}
    assert set(rows) == {"key-0"}
    assert (rows["key-0"].status, rows["key-0"].message_id, rows["key-0"].attempts) == ("sent", mid, 1)
    assert rows["key-0"].index == "0" and rows["key-0"].to == "8613900000000"


# -- resend, and the whole loop ------------------------------------------------------------------


def test_resend_sends_exactly_the_not_sent_rows_even_with_repeated_labels(
        sandbox: Sandbox, client: Client) -> None:
    frame = pd.DataFrame({"to": [f"86139{i:08d}" for i in range(6)], "name": "Ada",
                          "order_id": "A"}, index=[7, 7, 7, 8, 8, 8])
    settled = frame_of([row(i, "not_sent" if i % 2 else "sent", None if i % 2 else f"m-{i}")
                        for i in range(6)], index=list(frame.index))
    combined = resend(frame, settled, client=client, journal=False, progress=False, **CAMPAIGN)
    assert sorted(m["to"] for m in sandbox.messages()) == [f"86139{i:08d}" for i in (1, 3, 5)]
    assert combined["status"].tolist() == ["sent"] * 6
    assert combined["message_id"].tolist()[::2] == ["m-0", "m-2", "m-4"]
    assert list(combined.index) == list(frame.index)


def test_resend_needs_the_campaigns_frame_row_for_row(client: Client) -> None:
    with pytest.raises(ValueError, match="row for row"):
        resend(pd.DataFrame({"to": ["1"]}), frame_of([row(0), row(1)]), client=client)


def test_nothing_to_resend_sends_nothing(sandbox: Sandbox, client: Client) -> None:
    result = frame_of([row(0, "sent", "m-0")])
    assert resend(pd.DataFrame({"to": ["8613900000000"]}), result, client=client) is result
    assert sandbox.messages() == []


@pytest.mark.parametrize("journal", ["file", None])
def test_send_reconcile_resend_ends_with_every_row_sent_once(tmp_path: Path,
                                                             journal: str | None) -> None:
    sandbox = Sandbox(faults="harsh", seed=4, qps=100_000, receipt_delay=0.0)
    client = sandbox.client(timeout=0.2)  # the in-process 'hang' waits out the read timeout
    frame = pd.DataFrame({"to": [f"86139{i:08d}" for i in range(400)], "name": "Ada",
                          "order_id": "A"})
    where = str(tmp_path / "send.db") if journal else None
    kwargs: dict[str, Any] = dict(client=client, qps=100_000, journal=where, progress=False,
                                  **CAMPAIGN)
    result = send_frame(frame, **kwargs)
    assert (result["status"] == "unknown").any()
    for _ in range(6):
        result = reconcile(result, client=client, journal=where, settle=0)
        assert "unknown" not in set(result["status"])
        if not (result["status"] == "not_sent").any():
            break
        result = resend(frame, result, **kwargs)
    accepted = sandbox.messages()
    assert set(result["status"]) <= {"sent", "failed"}
    assert max(Counter(m["to"] for m in accepted).values()) == 1
    by_to = {m["to"]: m["message_id"] for m in accepted}
    sent = result[result["status"] == "sent"]
    assert dict(zip(sent["to"], sent["message_id"])) == by_to
    # and once more with the same journal: nothing is sent again
    again = send_frame(frame, **kwargs)
    assert len(sandbox.messages()) == len(accepted)
    assert set(again["status"]) <= {"sent", "failed"}


def test_a_journal_path_that_does_not_exist_is_an_error_not_a_new_journal(
        client: Client, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no journal"):
        reconcile(frame_of([row(0)]), client=client, journal=str(tmp_path / "typo.db"), settle=0)
    assert not (tmp_path / "typo.db").exists()
