"""Reconciliation as a user meets it: a campaign loses some answers, ``reconcile`` finds each
``unknown`` row in the service's record (``ListChatappMessage`` in its official shape) or
proves it absent, and ``resend`` sends exactly the rows that never went out.

The promise checked throughout: nobody gets a message twice, and no row is reported ``sent``
that the service did not accept. Unknown rows are made precisely with :class:`Losing`, a
transport in front of the in-process sandbox that loses the answer of chosen requests,
either after the sandbox accepted them or before they reached it. Services that answer
badly are ``httpx.MockTransport`` handlers. Nothing sleeps for real: ``sleep`` is a list.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from cams_notebook import Client, reconcile, resend, send_frame
from cams_notebook.campaigns.frames import RESULT_COLUMNS, session_journal
from cams_notebook.campaigns.journal import SqliteJournal
from cams_notebook.campaigns.reconcile import WINDOW_MS
from cams_notebook.receipts.store import ReceiptStore
from cams_notebook.sandbox import DEFAULT_CUST_SPACE_ID, Sandbox

SENDER, SHIPPED, WELCOME = "8613800000000", "830174529611842305", "830174529611842417"
CAMPAIGN: dict[str, Any] = {
    "channel_type": "whatsapp", "type": "template", "from_": SENDER,
    "template_code": SHIPPED, "language": "en", "params": ["name", "order_id"],
}
SPACE = {"cust_space_id": DEFAULT_CUST_SPACE_ID}


def number(i: int) -> str:
    return f"86139{i:08d}"


def people(n: int, **columns: Any) -> pd.DataFrame:
    return pd.DataFrame({"to": [number(i) for i in range(n)], "name": "Ada",
                         "order_id": [f"A-{i}" for i in range(n)], **columns})


class Losing(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """The sandbox behind a network that loses SendChatappMessage answers for chosen numbers:
    ``after`` the sandbox accepted the message, or ``before`` it reached the sandbox."""

    def __init__(self, sandbox: Sandbox, after: Iterable[str] = (), before: Iterable[str] = ()
                 ) -> None:
        self.inner = sandbox.transport
        self.after, self.before = set(after), set(before)

    def _fate(self, request: httpx.Request) -> str | None:
        if request.headers.get("x-acs-action") != "SendChatappMessage":
            return None
        to = request.url.params.get("To", "")
        return "after" if to in self.after else "before" if to in self.before else None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        fate = self._fate(request)
        if fate == "before":
            raise httpx.ReadTimeout("lost on the way", request=request)
        response = self.inner.handle_request(request)
        if fate == "after":
            response.read()
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        fate = self._fate(request)
        if fate == "before":
            raise httpx.ReadTimeout("lost on the way", request=request)
        response = await self.inner.handle_async_request(request)
        if fate == "after":
            await response.aread()
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


@pytest.fixture
def fast_sandbox() -> Sandbox:
    """A sandbox on the real clock (the journals' windows are real time) that allows 100 000
    requests a second and waits for nothing (its sleeps return at once)."""
    return Sandbox(receipt_delay=0.0, qps=100_000, sleep=lambda _: None)


def campaign(sandbox: Sandbox, frame: pd.DataFrame, *, after: Iterable[str] = (),
             before: Iterable[str] = (), base: dict[str, Any] = CAMPAIGN, **kwargs: Any
             ) -> tuple[pd.DataFrame, Client]:
    """send_frame through a network that loses the chosen answers; (result, that client)."""
    client = sandbox.client(transport=Losing(sandbox, after, before))
    settings = {**base, **kwargs}
    return send_frame(frame, client=client, qps=100_000, progress=False, **settings), client


def listing_calls(client: Client) -> list[dict[str, str]]:
    """Every ListChatappMessage call the client makes from now on, by its parameters."""
    calls: list[dict[str, str]] = []
    call = client.call

    def counted(action: str, params: Any) -> Any:
        if action == "ListChatappMessage":
            calls.append(dict(params))
        return call(action, params)

    client.call = counted  # type: ignore[method-assign]
    return calls


@contextlib.contextmanager
def opened(path: str) -> Iterator[SqliteJournal]:
    """A journal opened for a look and closed after (an open journal is locked)."""
    ledger = SqliteJournal(path)
    try:
        yield ledger
    finally:
        ledger.close()


def accepted(sandbox: Sandbox) -> dict[str, str]:
    """Recipient -> MessageId of every message the sandbox accepted (one each, or it fails)."""
    messages = sandbox.messages()
    twice = [to for to, n in Counter(m["to"] for m in messages).items() if n > 1]
    assert not twice, f"sent twice to {twice}"
    return {m["to"]: m["message_id"] for m in messages}


def assert_true(result: pd.DataFrame, sandbox: Sandbox) -> None:
    """Every `sent` row is a message the sandbox accepted, with its MessageId, and back."""
    sent = result[result["status"] == "sent"]
    assert dict(zip(sent["to"], sent["message_id"], strict=True)) == accepted(sandbox)


# -- the workflow: lost answers, reconcile, resend -------------------------------------------


@pytest.mark.parametrize("journal", ["file", "session"])
def test_lost_answers_are_found_or_proven_absent_and_resend_sends_only_the_absent(
        fast_sandbox: Sandbox, tmp_path: Path, journal: str) -> None:
    frame = people(8)
    where = str(tmp_path / "send.db") if journal == "file" else None
    result, client = campaign(fast_sandbox, frame, after=[number(1), number(3)],
                              before=[number(2), number(4)], journal=where)
    assert result["status"].tolist().count("unknown") == 4

    settled = reconcile(result, client=client, journal=where, settle=0, **SPACE)
    assert settled["status"].tolist() == ["sent", "sent", "not_sent", "sent", "not_sent",
                                          "sent", "sent", "sent"]
    assert_true(settled, fast_sandbox)
    assert "accepted it" in settled["error"].iat[1] and settled["code"].iat[1] == "OK"
    assert (result["status"] == "unknown").sum() == 4  # the input is left alone

    final = resend(frame, settled, client=fast_sandbox.client(), journal=where, qps=100_000,
                   progress=False, **CAMPAIGN)
    assert set(final["status"]) == {"sent"} and list(final.index) == list(frame.index)
    assert_true(final, fast_sandbox)
    assert len(fast_sandbox.messages()) == 8


def test_a_campaign_under_harsh_faults_ends_true_after_reconcile_and_resend(
        tmp_path: Path) -> None:
    sandbox = Sandbox(faults="harsh", seed=4, qps=100_000, receipt_delay=0.0)
    client = sandbox.client(timeout=0.2)  # the in-process 'hang' waits out the read timeout
    frame = people(400)
    where = str(tmp_path / "send.db")
    kwargs: dict[str, Any] = dict(client=client, qps=100_000, journal=where, progress=False,
                                  **CAMPAIGN)
    result = send_frame(frame, **kwargs)
    assert (result["status"] == "unknown").any()
    first = reconcile(result, client=client, journal=where, settle=0, **SPACE)
    took = set(accepted(sandbox))  # before anything is resent: reconciliation tells the truth
    assert set(first.loc[first["status"] == "sent", "to"]) == took
    assert not took & set(first.loc[first["status"] == "not_sent", "to"])
    result = first
    for _ in range(6):
        assert "unknown" not in set(result["status"])
        if not (result["status"] == "not_sent").any():
            break
        result = reconcile(resend(frame, result, **kwargs), client=client, journal=where,
                           settle=0, **SPACE)
    assert set(result["status"]) <= {"sent", "failed"}
    assert_true(result, sandbox)
    count = len(sandbox.messages())
    again = send_frame(frame, **kwargs)  # the same journal once more: nothing goes out
    assert set(again["status"]) <= {"sent", "failed"} and len(sandbox.messages()) == count


def test_the_listing_asks_by_sender_number_space_and_attempt_window(fast_sandbox: Sandbox) -> None:
    result, client = campaign(fast_sandbox, people(2), after=[number(0)])
    calls = listing_calls(client)
    reconcile(result, client=client, settle=0, **SPACE)
    [call] = calls
    attempted = session_journal(result).get_many([result["key"].iat[0]])  # type: ignore[union-attr]
    at = int(pd.Timestamp(attempted[result["key"].iat[0]].attempted_at).timestamp() * 1000)
    assert {k: v for k, v in call.items() if k != "Page"} == {
        "ChannelType": "whatsapp", "CustSpaceId": DEFAULT_CUST_SPACE_ID, "BusinessNumber": SENDER,
        "UserNumber": number(0), "EventAction": "DOWN", "StartTime": str(at - WINDOW_MS),
        "EndTime": str(at + WINDOW_MS)}
    assert json.loads(call["Page"]) == {"Index": 1, "Size": 100}
    assert WINDOW_MS == 16 * 60 * 1000  # the gateway's 15-minute rule, and a minute


def test_a_row_sent_without_cust_space_id_stays_unknown_until_one_is_given(
        fast_sandbox: Sandbox) -> None:
    result, client = campaign(fast_sandbox, people(2), after=[number(0)])
    calls = listing_calls(client)
    left = reconcile(result, client=client, settle=0)
    assert left["status"].iat[0] == "unknown" and "CustSpaceId" in left["error"].iat[0]
    assert calls == []
    assert reconcile(left, client=client, settle=0, **SPACE)["status"].iat[0] == "sent"


def test_a_result_without_its_journal_stays_unknown_and_says_so(fast_sandbox: Sandbox) -> None:
    result, client = campaign(fast_sandbox, people(2), before=[number(0)])
    left = reconcile(result, client=client, journal=False, settle=0, **SPACE)
    assert left["status"].iat[0] == "unknown" and "journal" in left["error"].iat[0]


def test_rows_of_one_person_share_one_listing_and_are_told_apart_by_template(
        fast_sandbox: Sandbox) -> None:
    frame = pd.DataFrame({"to": [number(0), number(0)], "order": ["o-1", "o-2"],
                          "template_code": [SHIPPED, WELCOME],
                          "template_params": [{"name": "Ada", "order_id": "A-1"},
                                              {"name": "Ada", "code": "HELLO",
                                               "banner_url": "https://example.com/b.png"}]})
    settings = {k: v for k, v in CAMPAIGN.items() if k not in ("template_code", "params")}
    result, client = campaign(fast_sandbox, frame, after=[number(0)], key="order", base=settings)
    calls = listing_calls(client)
    settled = reconcile(result, client=client, settle=0, **SPACE)
    assert len(calls) == 1
    ids = {m["params"]["TemplateCode"]: m["message_id"] for m in fast_sandbox.messages()}
    assert settled["message_id"].tolist() == [ids[SHIPPED], ids[WELCOME]]


def test_two_messages_to_one_person_are_told_apart_by_the_journal_s_other_sends(
        fast_sandbox: Sandbox, tmp_path: Path) -> None:
    where = str(tmp_path / "send.db")
    earlier, _ = campaign(fast_sandbox, people(1), journal=where, campaign="spring")
    later, client = campaign(fast_sandbox, people(1), after=[number(0)], journal=where,
                             campaign="summer")
    assert earlier["status"].iat[0] == "sent" and later["status"].iat[0] == "unknown"
    settled = reconcile(later, client=client, journal=where, settle=0, **SPACE)
    [mine] = [m["message_id"] for m in fast_sandbox.messages()
              if m["message_id"] != earlier["message_id"].iat[0]]
    assert (settled["status"].iat[0], settled["message_id"].iat[0]) == ("sent", mine)


def test_two_messages_to_one_person_the_journal_cannot_tell_apart_stay_unknown(
        fast_sandbox: Sandbox, tmp_path: Path) -> None:
    campaign(fast_sandbox, people(1), journal=False, campaign="spring")  # sent, but not journaled
    where = str(tmp_path / "send.db")
    later, client = campaign(fast_sandbox, people(1), after=[number(0)], journal=where,
                             campaign="summer")
    settled = reconcile(later, client=client, journal=where, settle=0, **SPACE)
    assert settled["status"].iat[0] == "unknown"
    assert "2 messages to this person in the window" in settled["error"].iat[0]
    with opened(where) as ledger:
        assert [r.status for r in ledger.rows()] == ["unknown"]  # the journal keeps the row


def test_another_campaign_s_unsettled_send_to_the_person_keeps_the_row_unknown(
        fast_sandbox: Sandbox, tmp_path: Path) -> None:
    # spring's answer was lost after acceptance, summer's before: one message exists, and
    # either row could own it; a receipt for spring's TaskId then tells whose it is
    where = str(tmp_path / "send.db")
    spring, client = campaign(fast_sandbox, people(1), after=[number(0)], journal=where,
                              campaign="spring")
    summer, _ = campaign(fast_sandbox, people(1), before=[number(0)], journal=where,
                         campaign="summer")
    left = reconcile(summer, client=client, journal=where, settle=0, **SPACE)
    assert left["status"].iat[0] == "unknown" and "could own" in left["error"].iat[0]
    [message] = fast_sandbox.messages()
    receipts = [{"MessageId": message["message_id"], "TaskId": message["task_id"],
                 "To": number(0), "Status": "Sent"}]
    assert reconcile(spring, client=client, journal=where, settle=0, receipts=receipts,
                     **SPACE)["status"].iat[0] == "sent"
    assert reconcile(summer, client=client, journal=where, settle=0,
                     **SPACE)["status"].iat[0] == "not_sent"


# -- answers that prove nothing ---------------------------------------------------------------


def service(answer: Callable[[httpx.Request], httpx.Response]) -> tuple[Client, list[str]]:
    """A client of a service whose ListChatappMessage answers come from ``answer``."""
    pages: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        pages.append(request.url.params.get("Page", ""))
        return answer(request)

    return Client(access_key_id="k", access_key_secret="s",
                  transport=httpx.MockTransport(handle)), pages


def ok(data: Any, **extra: Any) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(200, json={"RequestId": "r", "Code": "OK",
                                                     "Data": data, **extra})


def unknown_rows(sandbox: Sandbox, tmp_path: Path) -> tuple[pd.DataFrame, str]:
    """A campaign whose two answers were lost, one accepted and one not, and its journal."""
    where = str(tmp_path / "send.db")
    result, _ = campaign(sandbox, people(2), after=[number(0)], before=[number(1)], journal=where)
    return result, where


UNREADABLE = {
    "the old invented shape": ok({"Total": 0, "List": []}),
    "no Data": ok(None),
    "Data as text": ok("[]"),
    "a record without MessageId": ok([{"UserNumber": number(0), "BusinessNumber": SENDER}]),
    "a record that is no object": ok(["m-1"]),
    "Success false": ok([], Success=False),
    "not JSON": lambda request: httpx.Response(200, text="<html>maintenance</html>"),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_an_answer_that_cannot_be_read_leaves_rows_unknown_never_not_sent(
        fast_sandbox: Sandbox, tmp_path: Path, case: str) -> None:
    result, where = unknown_rows(fast_sandbox, tmp_path)
    client, _ = service(UNREADABLE[case])
    waited: list[float] = []
    settled = reconcile(result, client=client, journal=where, settle=0, sleep=waited.append,
                        **SPACE)
    assert settled["status"].tolist() == ["unknown", "unknown"]
    assert settled["error"].str.contains("ListChatappMessage page 1").all()
    with opened(where) as ledger:
        assert len(ledger.rows()) == 2  # nothing forgotten: both rows stay out of a re-run


def test_a_page_that_fails_after_the_safe_retries_leaves_rows_unknown(
        fast_sandbox: Sandbox, tmp_path: Path) -> None:
    result, where = unknown_rows(fast_sandbox, tmp_path)
    others = [{"MessageId": f"m-{i}", "UserNumber": number(0), "BusinessNumber": SENDER,
               "TemplateCode": WELCOME} for i in range(100)]  # a full page, none of them ours

    def answer(request: httpx.Request) -> httpx.Response:
        if json.loads(request.url.params["Page"])["Index"] == 1:
            return ok(others)(request)
        return httpx.Response(503, json={"Code": "ServiceUnavailable", "Message": "busy"})

    client, pages = service(answer)
    waited: list[float] = []
    settled = reconcile(result, client=client, journal=where, settle=0, sleep=waited.append,
                        **SPACE)
    assert settled["status"].tolist() == ["unknown", "unknown"]
    assert "page 2 failed" in settled["error"].iat[0]
    assert len(waited) == 2 * 4 and len(pages) == 2 * (1 + 5)  # five tries per failing page


def test_a_page_that_fails_once_is_asked_again(fast_sandbox: Sandbox, tmp_path: Path) -> None:
    result, where = unknown_rows(fast_sandbox, tmp_path)
    failures = [0]

    def answer(request: httpx.Request) -> httpx.Response:
        if failures[0] < 2:
            failures[0] += 1
            return httpx.Response(503, json={"Code": "ServiceUnavailable", "Message": "busy"})
        return ok([])(request)

    client, _ = service(answer)
    settled = reconcile(result, client=client, journal=where, settle=0, sleep=lambda s: None,
                        **SPACE)
    assert settled["status"].tolist() == ["not_sent", "not_sent"]  # an empty, readable listing


def test_a_service_that_serves_the_same_full_page_forever_proves_nothing(
        fast_sandbox: Sandbox, tmp_path: Path) -> None:
    result, where = unknown_rows(fast_sandbox, tmp_path)
    same = [{"MessageId": f"m-{i}", "UserNumber": number(0), "TemplateCode": WELCOME}
            for i in range(100)]
    client, pages = service(ok(same))
    settled = reconcile(result, client=client, journal=where, settle=0, **SPACE)
    assert settled["status"].tolist() == ["unknown", "unknown"]
    assert "repeats earlier pages" in settled["error"].iat[0] and len(pages) == 4


def test_a_record_for_another_person_or_template_is_no_evidence(fast_sandbox: Sandbox,
                                                                tmp_path: Path) -> None:
    result, where = unknown_rows(fast_sandbox, tmp_path)
    client, _ = service(ok([
        {"MessageId": "m-1", "UserNumber": "8613999999999", "TemplateCode": SHIPPED},
        {"MessageId": "m-2", "UserNumber": number(0), "TemplateCode": WELCOME},
        {"MessageId": "m-3", "UserNumber": number(0), "TemplateCode": SHIPPED,
         "SendTime": "2001-01-01T00:00:00.000+00:00"}]))
    settled = reconcile(result, client=client, journal=where, settle=0, **SPACE)
    assert settled["status"].tolist() == ["not_sent", "not_sent"]


# -- receipts, settling time, concurrency ----------------------------------------------------


@pytest.mark.parametrize("shape", ["dicts", "frame", "store"])
def test_receipts_settle_rows_without_asking_the_service(fast_sandbox: Sandbox, shape: str) -> None:
    result, client = campaign(fast_sandbox, people(3), after=[number(i) for i in range(3)])
    by_to = {m["to"]: m for m in fast_sandbox.messages()}
    events = [{"MessageId": by_to[number(i)]["message_id"], "TaskId": by_to[number(i)]["task_id"],
               "To": f"+86 139{i:08d}", "Status": "Sent"} for i in range(3)]
    receipts: Any = events
    if shape == "frame":
        receipts = pd.DataFrame(events)
    elif shape == "store":
        receipts = ReceiptStore()
        receipts.add(events)
    calls = listing_calls(client)
    settled = reconcile(result, client=client, receipts=receipts, settle=0)  # no space needed
    assert settled["message_id"].tolist() == [e["MessageId"] for e in events] and calls == []
    assert "receipt" in settled["error"].iat[0]


def test_a_receipt_for_another_number_is_no_evidence(fast_sandbox: Sandbox) -> None:
    result, client = campaign(fast_sandbox, people(1), before=[number(0)])
    receipts = [{"MessageId": "m-x", "TaskId": result["task_id"].iat[0], "To": "8613999999999"}]
    settled = reconcile(result, client=client, receipts=receipts, settle=0, **SPACE)
    assert settled["status"].iat[0] == "not_sent"


def test_settling_waits_at_most_settle_seconds_whatever_the_clocks_say(
        fast_sandbox: Sandbox) -> None:
    result, client = campaign(fast_sandbox, people(1), before=[number(0)])
    waited: list[float] = []
    reconcile(result, client=client, settle=2.0, sleep=waited.append,
              clock=lambda: time.time() - 3600, **SPACE)  # a clock an hour behind
    assert waited == [2.0]
    waited.clear()
    reconcile(result, client=client, settle=2.0, sleep=waited.append,
              clock=lambda: time.time() + 60, **SPACE)
    assert waited == []


def test_the_questions_are_asked_several_at_once(fast_sandbox: Sandbox) -> None:
    result, client = campaign(fast_sandbox, people(12), before=[number(i) for i in range(12)])
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
    settled = reconcile(result, client=client, settle=0, **SPACE)
    assert set(settled["status"]) == {"not_sent"} and most[0] >= 4


# -- the journal follows ---------------------------------------------------------------------


@pytest.mark.parametrize("journal", ["file", "session"])
def test_the_journal_records_sent_rows_and_forgets_not_sent_ones(
        fast_sandbox: Sandbox, tmp_path: Path, journal: str) -> None:
    where = str(tmp_path / "send.db") if journal == "file" else None
    result, client = campaign(fast_sandbox, people(2), after=[number(0)], before=[number(1)],
                              journal=where)
    reconcile(result, client=client, journal=where, settle=0, **SPACE)
    if where:
        with opened(where) as ledger:
            rows = {r.to: r for r in ledger.rows()}
    else:
        rows = {r.to: r for r in session_journal(result).rows()}  # type: ignore[union-attr]
    assert set(rows) == {number(0)}
    assert (rows[number(0)].status, rows[number(0)].message_id) == \
        ("sent", accepted(fast_sandbox)[number(0)])


def test_a_journal_path_that_does_not_exist_is_an_error_not_a_new_journal(
        fast_sandbox: Sandbox, tmp_path: Path) -> None:
    result, client = campaign(fast_sandbox, people(1), before=[number(0)])
    with pytest.raises(FileNotFoundError, match="no journal"):
        reconcile(result, client=client, journal=str(tmp_path / "typo.db"), settle=0)
    assert not (tmp_path / "typo.db").exists()


def test_a_result_without_unknown_rows_is_returned_as_it_is_without_a_query(
        fast_sandbox: Sandbox) -> None:
    result, client = campaign(fast_sandbox, people(2))
    calls = listing_calls(client)
    pd.testing.assert_frame_equal(reconcile(result, client=client, settle=0), result)
    assert calls == []


# -- resend matches rows by label ------------------------------------------------------------


def test_resend_takes_a_re_sorted_frame_by_label(fast_sandbox: Sandbox) -> None:
    frame = people(5)
    result, client = campaign(fast_sandbox, frame, before=[number(2)])
    settled = reconcile(result, client=client, settle=0, **SPACE)
    assert settled["status"].tolist() == ["sent", "sent", "not_sent", "sent", "sent"]
    shuffled = frame.sort_values("to", ascending=False)
    combined = resend(shuffled, settled, client=fast_sandbox.client(), qps=100_000, progress=False,
                      **CAMPAIGN)
    assert list(combined.index) == list(shuffled.index)
    assert combined["to"].tolist() == shuffled["to"].tolist()
    assert set(combined["status"]) == {"sent"}
    assert_true(combined, fast_sandbox)
    assert len(fast_sandbox.messages()) == 5  # the absent row once, nothing else again


def test_resend_with_repeated_labels_in_the_same_order_goes_row_for_row(
        fast_sandbox: Sandbox) -> None:
    frame = people(6).set_axis([7, 7, 7, 8, 8, 8])
    result, client = campaign(fast_sandbox, frame, before=[number(1), number(3)])
    settled = reconcile(result, client=client, settle=0, **SPACE)
    combined = resend(frame, settled, client=fast_sandbox.client(), qps=100_000, progress=False,
                      **CAMPAIGN)
    assert combined["status"].tolist() == ["sent"] * 6 and list(combined.index) == [7] * 3 + [8] * 3
    assert_true(combined, fast_sandbox)


@pytest.mark.parametrize("change, named", [
    (lambda f: f.rename(index={4: 40}), "label.s. 4 of the result .* label.s. 40 of the frame"),
    (lambda f: f.iloc[::-1].set_axis([0, 1, 1, 3, 4]), "label.s. 1 appear more than once"),
    (lambda f: f.iloc[[0, 2, 1, 3, 4]].set_axis([0, 0, 1, 3, 4]), "label.s. 0 appear more"),
])
def test_resend_refuses_a_frame_whose_labels_do_not_match_the_result(
        fast_sandbox: Sandbox, change: Callable[[pd.DataFrame], pd.DataFrame], named: str) -> None:
    frame = people(5)
    result, client = campaign(fast_sandbox, frame, before=[number(2)])
    settled = reconcile(result, client=client, settle=0, **SPACE)
    with pytest.raises(ValueError, match=named):
        resend(change(frame), settled, client=fast_sandbox.client(), progress=False, **CAMPAIGN)
    assert len(fast_sandbox.messages()) == 4  # nothing sent


def test_resend_refuses_repeated_labels_shuffled_among_themselves(fast_sandbox: Sandbox) -> None:
    frame = people(4).set_axis([7, 7, 8, 8])
    result, client = campaign(fast_sandbox, frame, before=[number(1)])
    settled = reconcile(result, client=client, settle=0, **SPACE)
    swapped = frame.iloc[[1, 0, 2, 3]]  # same labels, same order of labels, rows swapped
    with pytest.raises(ValueError, match="7"):
        resend(swapped, settled, client=fast_sandbox.client(), progress=False, **CAMPAIGN)


def test_resend_with_nothing_to_send_sends_nothing(fast_sandbox: Sandbox) -> None:
    result, client = campaign(fast_sandbox, people(2))
    assert resend(people(2), result, client=client) is result
    shuffled = people(2).iloc[::-1]
    assert list(resend(shuffled, result, client=client).index) == [1, 0]
    assert len(fast_sandbox.messages()) == 2


def test_resend_needs_the_campaign_s_frame(fast_sandbox: Sandbox) -> None:
    result, client = campaign(fast_sandbox, people(2))
    with pytest.raises(ValueError, match="one row for each"):
        resend(people(3), result, client=client)
    assert list(RESULT_COLUMNS) == list(result.columns)
