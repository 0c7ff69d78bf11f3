"""Settling from evidence: what a receipt proves, which records of a listing are a row's
candidates, which message is whose, and which rows share one listing.

Oracle: the rules of ``cams_notebook/campaigns/reconcile.py``'s docstring (a receipt for the row's
TaskId and recipient proves it accepted; exactly one candidate no other send could own is the
row's message; none in a complete listing is ``not_sent``; anything else ``unknown``, saying
why). The settler is driven directly, its listings answered by an ``httpx.MockTransport`` in
ListChatappMessage's official shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import pandas as pd
import pytest

from cams_notebook import Client
from cams_notebook.campaigns.settling import WINDOW_MS, Outcome, SendFacts, Settler, UnknownRow
from cams_notebook.campaigns.settling import _from_receipts as from_receipts
from cams_notebook.campaigns.settling import _queries as queries
from tests.campaigns.test_settling_rules import (
    AT_MS,
    SENDER,
    SPACE,
    TEMPLATE,
    TO,
    facts,
    listed,
)

# -- receipts --------------------------------------------------------------------------------


@dataclass
class Event:
    """A receipt as an object with attributes (a user's own event class)."""

    message_id: str | None
    task_id: str | None
    to: str | None = None


class Frames:
    """Anything with ``to_frame()``, like a ReceiptQueue."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def to_frame(self) -> pd.DataFrame:
        return self.frame


class HasStore:
    """Anything with a ``store`` that has ``to_frame()``, like a ReceiptReceiver."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.store = Frames(frame)


EVENTS = [{"MessageId": "m-1", "TaskId": "t-1", "To": "+86 139 0000 0000"},
          {"MessageId": "m-2", "TaskId": "t-1", "To": None},
          {"MessageId": "m-3", "TaskId": None, "To": TO},
          {"MessageId": None, "TaskId": "t-4", "To": TO},
          {"MessageId": "m-1", "TaskId": "t-1", "To": "8613999999999"}]  # a repeat: first wins
EVIDENCE = ({"t-1": {"m-1": TO, "m-2": None}}, {"m-1", "m-2", "m-3"})


def test_no_receipts_are_no_evidence() -> None:
    assert from_receipts(None) == ({}, set())
    assert from_receipts([]) == ({}, set())


@pytest.mark.parametrize("shape", ["dicts", "frame", "to_frame", "store"])
def test_receipts_in_every_shape_give_the_same_evidence(shape: str) -> None:
    receipts: Any = {"dicts": EVENTS, "frame": pd.DataFrame(EVENTS),
                     "to_frame": Frames(pd.DataFrame(EVENTS)),
                     "store": HasStore(pd.DataFrame(EVENTS))}[shape]
    assert from_receipts(receipts) == EVIDENCE


def test_receipts_are_read_by_any_of_their_field_names() -> None:
    events = [{"message_id": "m-1", "task_id": "t-1", "number": TO},
              {"MessageId": "", "message_id": "m-2", "TaskId": "", "task_id": "t-2",
               "To": "", "to": TO},
              Event("m-3", "t-3", "+8613900000000"), Event("m-4", "t-4")]
    assert from_receipts(events) == ({"t-1": {"m-1": TO}, "t-2": {"m-2": TO}, "t-3": {"m-3": TO},
                                      "t-4": {"m-4": None}}, {"m-1", "m-2", "m-3", "m-4"})


def unknown(position: int = 0, task_id: str | None = "t-1", message_id: str | None = None,
            to: str | None = TO, with_facts: bool = True, key: str = "k") -> UnknownRow:
    return UnknownRow(position, f"{key}{position}", to, task_id, message_id,
                      facts() if with_facts else None)


def settler(claimed: set[str] | None = None, client: Client | None = None) -> Settler:
    return Settler(client or listing_service([]), lambda _: None, set(claimed or ()))


def test_a_receipt_for_the_row_s_task_and_number_settles_it_sent() -> None:
    s = settler()
    s.receipts([unknown(0), unknown(1, task_id="t-9")],
               [{"MessageId": "m-1", "TaskId": "t-1", "To": "+86 139 0000 0000"}])
    assert s.settled == {0: Outcome("sent", "m-1", "a delivery receipt shows it")}
    assert s.claimed == {"m-1"}


def test_a_receipt_that_does_not_name_its_number_still_proves_its_task() -> None:
    s = settler()
    s.receipts([unknown(0)], [{"MessageId": "m-1", "TaskId": "t-1"}])
    assert s.settled == {0: Outcome("sent", "m-1", "a delivery receipt shows it")}


def test_a_receipt_for_another_number_or_a_claimed_message_proves_nothing() -> None:
    s = settler(claimed={"m-2"})
    s.receipts([unknown(0), unknown(1, task_id="t-2")],
               [{"MessageId": "m-1", "TaskId": "t-1", "To": "8613999999999"},
                {"MessageId": "m-2", "TaskId": "t-2", "To": TO}])
    assert s.settled == {}


def test_a_receipt_is_taken_past_a_claimed_message_of_the_same_task() -> None:
    s = settler(claimed={"m-1"})
    s.receipts([unknown(0)], [{"MessageId": "m-1", "TaskId": "t-1", "To": TO},
                              {"MessageId": "m-2", "TaskId": "t-1", "To": TO}])
    assert s.settled[0].message_id == "m-2"


def test_a_receipt_for_the_row_s_own_message_id_settles_it_once() -> None:
    # two rows holding the same MessageId: one message, so at most one row is sent
    s = settler()
    s.receipts([unknown(0, task_id=None, message_id="m-1"),
                unknown(1, task_id=None, message_id="m-1"),
                unknown(2, task_id=None, message_id="m-2")],
               [{"MessageId": "m-1", "TaskId": "t-other"}, {"MessageId": "m-2"}])
    assert s.settled == {0: Outcome("sent", "m-1", "a delivery receipt shows it"),
                         2: Outcome("sent", "m-2", "a delivery receipt shows it")}


def test_a_receipt_for_a_claimed_message_id_proves_nothing() -> None:
    s = settler(claimed={"m-1"})
    s.receipts([unknown(0, task_id=None, message_id="m-1")], [{"MessageId": "m-1"}])
    assert s.settled == {}


def test_one_task_s_receipts_go_to_one_row_each() -> None:
    s = settler()
    s.receipts([unknown(0), unknown(1)], [{"MessageId": "m-1", "TaskId": "t-1", "To": TO}])
    assert s.settled == {0: Outcome("sent", "m-1", "a delivery receipt shows it")}


# -- listings ----------------------------------------------------------------------------------


def listing_service(records: Any, calls: list[dict[str, str]] | None = None) -> Client:
    """A client whose every ListChatappMessage answer has ``records`` as its ``Data``."""

    def handle(request: httpx.Request) -> httpx.Response:
        if calls is not None:
            calls.append(dict(request.url.params))
        return httpx.Response(200, json={"RequestId": "r", "Code": "OK", "Data": records})

    return Client(access_key_id="k", access_key_secret="s", transport=httpx.MockTransport(handle))


def test_without_facts_nothing_is_asked() -> None:
    calls: list[dict[str, str]] = []
    s = settler(client=listing_service([], calls))
    s.listings([unknown(0, with_facts=False)])
    s.listings([])
    assert calls == [] and s.settled == {}


def test_a_listing_that_cannot_be_read_leaves_each_of_its_rows_unknown_saying_why() -> None:
    s = settler(client=listing_service("[]"))  # Data as text
    s.listings([unknown(0), unknown(1)])
    assert set(s.settled) == {0, 1}
    assert all(o.status == "unknown" and o.message_id is None for o in s.settled.values())
    assert s.settled[0].note == s.settled[1].note == (
        "ListChatappMessage page 1 cannot be read: Data is str, not a list of records")


def test_the_records_that_fit_and_are_not_claimed_are_candidates() -> None:
    cases = [unknown(0)]
    s = settler(claimed={"m-2"}, client=listing_service([
        listed(MessageId="m-1"), listed(MessageId="m-2"), listed(MessageId="m-3"),
        listed(MessageId="m-4", TemplateCode="other")]))
    s.listings(cases)
    assert cases[0].candidates == {"m-1", "m-3"} and s.contested == set() and s.settled == {}


def test_a_candidate_another_open_send_could_own_is_contested() -> None:
    cases = [unknown(0)]
    s = settler(client=listing_service([listed(MessageId="m-1"),
                                        listed(MessageId="m-2", SendTime=AT_MS + 5000)]))
    s.rivals.append(facts(start=AT_MS + 1000, end=AT_MS + 9000))
    s.listings(cases)
    assert cases[0].candidates == {"m-1", "m-2"} and s.contested == {"m-2"}


def test_every_candidate_to_a_number_of_a_send_without_its_window_is_contested() -> None:
    cases = [unknown(0), unknown(1, to="8613900000001", key="j")]
    cases[1].facts = facts(to="8613900000001")
    s = settler(client=listing_service([listed(MessageId="m-1", UserNumber="+86 139 0000 0000"),
                                        listed(MessageId="m-2", UserNumber="8613900000001")]))
    s.blind.add(TO)
    s.listings(cases)
    assert (cases[0].candidates, cases[1].candidates) == ({"m-1"}, {"m-2"})
    assert s.contested == {"m-1"}


def test_a_page_that_fails_once_is_asked_again_after_a_pause_on_the_settler_s_sleep() -> None:
    answers = iter([httpx.Response(503, json={"Code": "ServiceUnavailable", "Message": "busy"}),
                    httpx.Response(200, json={"RequestId": "r", "Code": "OK",
                                              "Data": [listed()]})])
    client = Client(access_key_id="k", access_key_secret="s",
                    transport=httpx.MockTransport(lambda request: next(answers)))
    waited: list[float] = []
    cases = [unknown(0)]
    Settler(client, waited.append, set()).listings(cases)
    assert len(waited) == 1 and waited[0] > 0  # paused on the settler's sleep, not time.sleep
    assert cases[0].candidates == {"m-1"}


def test_the_listing_asks_for_the_person_and_window_of_the_rows() -> None:
    calls: list[dict[str, str]] = []
    s = settler(client=listing_service([], calls))
    s.listings([unknown(0)])
    [call] = calls
    assert {k: call[k] for k in ("ChannelType", "BusinessNumber", "UserNumber", "CustSpaceId",
                                 "StartTime", "EndTime")} == {
        "ChannelType": "whatsapp", "BusinessNumber": SENDER, "UserNumber": TO,
        "CustSpaceId": SPACE, "StartTime": str(AT_MS - WINDOW_MS),
        "EndTime": str(AT_MS + WINDOW_MS)}
    assert json.loads(call["Page"])["Index"] == 1


# -- deciding ----------------------------------------------------------------------------------


def decided(*candidates: set[str], contested: set[str] = frozenset(),  # type: ignore[assignment]
            settled: dict[int, Outcome] | None = None) -> dict[int, Outcome]:
    cases = [unknown(i) for i in range(len(candidates))]
    for case, found in zip(cases, candidates, strict=True):
        case.candidates = set(found)
    s = settler()
    s.contested = set(contested)
    s.settled = dict(settled or {})
    s.decide(cases)
    return s.settled


LISTED = "ListChatappMessage lists it"
COULD_OWN = ("1 message to this person in the window, which another unsettled send to this "
             "person could own; cannot tell whose it is")


def test_one_candidate_no_one_else_could_own_is_the_row_s_message() -> None:
    assert decided({"m-1"}) == {0: Outcome("sent", "m-1", LISTED)}


def test_no_candidate_in_a_complete_listing_is_not_sent() -> None:
    assert decided(set()) == {0: Outcome("not_sent")}


def test_several_candidates_cannot_be_told_apart() -> None:
    assert decided({"m-1", "m-2", "m-3"}) == {0: Outcome(
        "unknown", note="3 messages to this person in the window; cannot tell which is this "
        "row's")}


def test_a_contested_candidate_is_nobody_s() -> None:
    assert decided({"m-1"}, contested={"m-1"}) == {0: Outcome("unknown", note=COULD_OWN)}


def test_one_message_two_rows_could_own_goes_to_neither() -> None:
    assert decided({"m-1"}, {"m-1"}) == {0: Outcome("unknown", note=COULD_OWN),
                                         1: Outcome("unknown", note=COULD_OWN)}


def test_each_row_takes_its_own_message_beside_a_shared_one() -> None:
    got = decided({"m-1"}, {"m-2", "m-3"}, {"m-3"}, {"m-4"})
    assert got[0] == Outcome("sent", "m-1", LISTED)
    assert got[1].status == "unknown" and got[1].note.startswith("2 messages")
    assert got[2] == Outcome("unknown", note=COULD_OWN)
    assert got[3] == Outcome("sent", "m-4", LISTED)


def test_rows_settled_already_are_left_as_they_are() -> None:
    receipt = Outcome("sent", "m-1", "a delivery receipt shows it")
    assert decided({"m-1"}, {"m-2"}, settled={0: receipt}) == {
        0: receipt, 1: Outcome("sent", "m-2", LISTED)}


def test_a_row_without_facts_is_not_decided_here() -> None:
    case = unknown(0, with_facts=False)
    s = settler()
    s.decide([case])
    assert s.settled == {}


# -- one listing per person and run of overlapping windows -----------------------------------


def windowed(position: int, start: int, end: int, to: str = TO) -> UnknownRow:
    case = unknown(position)
    case.facts = SendFacts("whatsapp", SENDER, to, SPACE, TEMPLATE, start, end)
    return case


def test_rows_of_one_person_with_overlapping_windows_share_one_listing() -> None:
    a, b, c, d = (windowed(0, 50, 150), windowed(1, 0, 100), windowed(2, 150, 160),
                  windowed(3, 161, 170))
    got = queries([a, b, c, d])
    person = ("whatsapp", SENDER, TO, SPACE)
    assert [(q[0], q[1], q[2], [m.position for m in q[3]]) for q in got] == [
        (person, 0, 160, [1, 0, 2]), (person, 161, 170, [3])]


def test_a_window_inside_another_keeps_the_longer_end() -> None:
    got = queries([windowed(0, 0, 1000), windowed(1, 10, 20)])
    assert [(q[1], q[2]) for q in got] == [(0, 1000)]


def test_each_person_gets_listings_of_their_own_in_a_fixed_order() -> None:
    got = queries([windowed(0, 0, 100, to="8613900000002"), windowed(1, 0, 100),
                   windowed(2, 50, 150, to="8613900000002")])
    assert [(q[0][2], q[1], q[2], [m.position for m in q[3]]) for q in got] == [
        (TO, 0, 100, [1]), ("8613900000002", 0, 150, [0, 2])]
