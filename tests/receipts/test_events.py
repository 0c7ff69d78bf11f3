"""Receipt records, body decoding, the status state machine and the join onto a result."""

from __future__ import annotations

import base64
import json
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cams_notebook.campaigns.frames import CampaignResult
from cams_notebook.receipts.events import (
    DELIVERY_COLUMNS,
    BodyError,
    InboundMessage,
    Receipt,
    classify,
    decode_body,
    dedupe_key,
    fold,
    join_receipts,
    parse_event,
)
from cams_notebook.receipts.store import ReceiptStore
from tests.receipt_helpers import receipt

EVENT = {"MessageId": "2023078469463703000003", "Status": "Delivered", "From": "8613100000008",
         "To": "8613800000008", "Timestamp": 1691043638000, "MsgFrameType": "template",
         "TaskId": "t-1"}


# -- records --------------------------------------------------------------------------------------


def test_a_receipt_reads_the_documented_fields_and_keeps_unknown_ones() -> None:
    r = Receipt.model_validate({**EVENT, "Status": "FAILED", "ErrorCode": 131026,
                                "ErrorDescription": "131026:Receiver is incapable",
                                "ConversationType": "utility", "TemplateCode": "830174529611842305",
                                "TemplateName": "order_shipped", "Language": "en", "NewField": [1]})
    assert r.status == "Failed" and r.error_code == "131026" and r.template_name == "order_shipped"
    assert r.at is not None and r.at.isoformat() == "2023-08-03T06:20:38+00:00"
    assert r.model_extra == {"NewField": [1]} and r.wire()["NewField"] == [1]


@pytest.mark.parametrize("raw, canonical", [("sent", "Sent"), ("READ", "Read"),
                                            ("Delivered", "Delivered"),
                                            ("Unsubscribe", "unsubscribe"), ("Weird", "Weird")])
def test_status_is_compared_case_insensitively(raw: str, canonical: str) -> None:
    assert Receipt.model_validate({**EVENT, "Status": raw}).status == canonical


def test_viber_subscription_events_are_recognised() -> None:
    assert Receipt.model_validate({**EVENT, "Status": "unsubscribe"}).is_subscription


def test_inbound_messages_decode_json_string_content() -> None:
    audio = {"MessageId": "i1", "From": "15550100001", "Type": "AUDIO",
             "Message": json.dumps({"id": "3214", "mimeType": "audio/ogg", "url": "https://x/y.ogg"})}
    event = parse_event(audio)
    assert isinstance(event, InboundMessage) and event.content["mimeType"] == "audio/ogg"
    assert parse_event({"MessageId": "i2", "Message": "hello,it's me"}).content == "hello,it's me"


@pytest.mark.parametrize("item, kind", [({"Status": "Read"}, "status"),
                                        ({"Message": "hi"}, "inbound"),
                                        ({"NoticeType": "inbound"}, "inbound"),
                                        ({"x": 1}, "unknown")])
def test_events_are_classified_by_their_fields(item: dict[str, Any], kind: str) -> None:
    assert classify(item) == kind


@pytest.mark.parametrize("item", [["not", "an", "object"], {"Status": "Read"}, {"MessageId": "m"},
                                  {"MessageId": "", "Status": "Read"}])
def test_invalid_events_are_body_errors(item: Any) -> None:
    with pytest.raises(BodyError):
        parse_event(item)


# -- bodies ---------------------------------------------------------------------------------------


def test_bodies_decode_from_raw_or_base64_json_object_or_array() -> None:
    text = json.dumps(EVENT)
    b64 = base64.b64encode(text.encode()).decode()
    assert decode_body(text) == [EVENT] == decode_body(b64) == decode_body(f"  {b64}\n".encode())
    assert decode_body(json.dumps([EVENT, EVENT])) == [EVENT, EVENT]
    assert decode_body(base64.b64encode(json.dumps([EVENT]).encode())) == [EVENT]


@pytest.mark.parametrize("body", ["", "not base64 !", base64.b64encode(b"not json").decode(),
                                  "{broken", base64.b64encode(b"\xff\xfe").decode()])
def test_undecodable_bodies_are_body_errors(body: str) -> None:
    with pytest.raises(BodyError):
        decode_body(body)


def test_a_push_must_be_an_array() -> None:
    with pytest.raises(BodyError, match="array"):
        decode_body(json.dumps(EVENT), require_list=True)


def test_dedupe_keys() -> None:
    a = Receipt.model_validate(EVENT)
    assert dedupe_key(a) == dedupe_key(Receipt.model_validate({**EVENT, "Status": "delivered"}))
    assert dedupe_key(a) != dedupe_key(Receipt.model_validate({**EVENT, "Timestamp": 1}))
    assert dedupe_key(parse_event({"MessageId": "i1", "Message": "x"})) == "inbound|i1"


# -- the state machine ----------------------------------------------------------------------------


def events_for(mid: str, statuses: list[str]) -> list[Receipt]:
    return [Receipt.model_validate({"MessageId": mid, "Status": s, "Timestamp": 1000 * (i + 1),
                                    **({"ErrorCode": "131026", "ErrorDescription": "why"}
                                       if s == "Failed" else {})})
            for i, s in enumerate(statuses)]


@pytest.mark.parametrize("statuses, final", [
    (["Sent"], "sent"),
    (["Sent", "Delivered"], "delivered"),
    (["Sent", "Delivered", "Read"], "read"),
    (["Read", "Sent"], "read"),  # a late Sent never overwrites Read
    (["Read", "Delivered", "Sent", "Read"], "read"),
    (["Sent", "Failed"], "failed"),
    (["Failed", "Delivered", "Read"], "failed"),  # Failed is terminal
    (["Sent", "Deleted"], "sent"),
])
def test_final_status(statuses: list[str], final: str) -> None:
    assert fold(events_for("m", statuses))["m"].status == final


def test_read_without_delivered_implies_delivery_at_read_time() -> None:
    state = fold(events_for("m", ["Sent", "Read"]))["m"]
    assert state.delivered_at_ms == state.read_ms == 2000 and state.sent_ms == 1000


def test_a_failure_keeps_its_code_and_reason() -> None:
    state = fold(events_for("m", ["Sent", "Failed"]))["m"]
    assert (state.failed_code, state.failed_reason, state.failed_ms) == ("131026", "why", 2000)


STATUS = st.sampled_from(["Sent", "Delivered", "Read", "Failed", "Deleted"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(STATUS, st.integers(1, 5)), min_size=1, max_size=12), st.randoms(),
       st.integers(0, 3))
def test_duplicates_and_order_never_change_the_outcome(
        events: list[tuple[str, int]], rng: Any, copies: int) -> None:
    receipts = [Receipt.model_validate({"MessageId": "m", "Status": s, "Timestamp": t,
                                        "ErrorCode": f"c{t}"}) for s, t in events]
    shuffled = receipts + receipts[:copies]
    rng.shuffle(shuffled)
    a, b = fold(receipts)["m"], fold(shuffled)["m"]
    assert (a.status, a.sent_ms, a.delivered_at_ms, a.read_ms, a.failed_code, a.failed_ms) == \
        (b.status, b.sent_ms, b.delivered_at_ms, b.read_ms, b.failed_code, b.failed_ms)
    statuses = {s for s, _ in events}
    expected = ("failed" if "Failed" in statuses else "read" if "Read" in statuses
                else "delivered" if "Delivered" in statuses
                else "sent" if "Sent" in statuses else None)
    assert a.status == expected


# -- the join -------------------------------------------------------------------------------------


def campaign_result() -> CampaignResult:
    rows = [
        {"status": "sent", "message_id": "m1", "to": "1", "sent_at": "2023-08-03T06:20:37Z"},
        {"status": "sent", "message_id": "m2", "to": "2", "sent_at": "2023-08-03T06:20:37Z"},
        {"status": "sent", "message_id": "m3", "to": "3", "sent_at": "2023-08-03T06:20:37Z"},
        {"status": "failed", "message_id": None, "to": "4", "sent_at": None},
    ]
    result = CampaignResult(rows, index=pd.Index([10, 11, 12, 13]))
    result["sent_at"] = pd.to_datetime(result["sent_at"], utc=True)
    return result


def store_with(events: list[dict[str, Any]]) -> ReceiptStore:
    store = ReceiptStore()
    store.add(events)
    return store


def test_join_adds_the_delivery_columns_row_by_row() -> None:
    base = 1691043638000
    store = store_with([
        {"MessageId": "m1", "Status": "Read", "Timestamp": base + 3000},
        {"MessageId": "m1", "Status": "Delivered", "Timestamp": base + 1000},
        {"MessageId": "m1", "Status": "Sent", "Timestamp": base},
        {"MessageId": "m2", "Status": "Failed", "Timestamp": base + 500, "ErrorCode": "131049",
         "ErrorDescription": "131049:not delivered"},
    ])
    joined = join_receipts(campaign_result(), store)
    assert isinstance(joined, CampaignResult) and list(joined.index) == [10, 11, 12, 13]
    assert list(joined.columns[-6:]) == DELIVERY_COLUMNS
    assert joined["delivery_status"].tolist() == ["read", "failed", "pending", None]
    assert joined.loc[10, "delivered_at"] == pd.Timestamp(base + 1000, unit="ms", tz="UTC")
    assert joined.loc[10, "read_at"] == pd.Timestamp(base + 3000, unit="ms", tz="UTC")
    assert (joined.loc[11, "failed_code"], joined.loc[11, "failed_reason"]) == \
        ("131049", "131049:not delivered")
    assert joined["fallback_triggered"].tolist() == [False] * 4  # no fallback configured


def test_join_accepts_the_raw_frame_or_receipt_dicts() -> None:
    events = [receipt(1, "Read", MessageId="m1"), receipt(2, "Delivered", MessageId="m3")]
    from_store = join_receipts(campaign_result(), store_with(events))
    for other in (store_with(events).to_frame(), events):
        assert join_receipts(campaign_result(), other)["delivery_status"].equals(
            from_store["delivery_status"])


def test_fallback_is_triggered_by_failure_or_a_late_delivery_when_configured() -> None:
    base = pd.Timestamp("2023-08-03T06:20:37Z").value // 10**6
    store = store_with([
        {"MessageId": "m1", "Status": "Delivered", "Timestamp": base + 30_000},  # in time
        {"MessageId": "m2", "Status": "Failed", "Timestamp": base + 1_000},
        {"MessageId": "m3", "Status": "Sent", "Timestamp": base + 1_000},  # never delivered
    ])
    now = pd.Timestamp("2023-08-03T07:00:00Z")
    joined = join_receipts(campaign_result(), store, fallback=True, fallback_duration=60, now=now)
    assert joined["fallback_triggered"].tolist() == [False, True, True, False]
    only_failed = join_receipts(campaign_result(), store, fallback=[True, True, False, False])
    assert only_failed["fallback_triggered"].tolist() == [False, True, False, False]
