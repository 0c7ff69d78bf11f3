"""Receipt records and bodies as the store and the user see them: the event kept as it arrived,
how an event is recognised, the exact error a bad body gets, the de-duplication key written
into store files, and the status of a message that has only non-delivery events."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from cams_notebook.receipts.events import (
    BodyError,
    InboundMessage,
    Receipt,
    classify,
    decode_body,
    dedupe_key,
    fold,
    parse_event,
)

EVENT = {"MessageId": "m1", "Status": "Delivered", "To": "8613800000008",
         "Timestamp": 1691043638000, "TaskId": "t-1", "NewField": [1]}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# -- the event as it arrived ----------------------------------------------------------------------


def test_a_model_gives_back_the_event_under_its_wire_names_without_absent_fields() -> None:
    """``wire()`` is what the store keeps as ``raw`` for a model: the names CAMS used, unknown
    fields included, and no ``None`` for fields the event never had."""
    assert Receipt.model_validate(EVENT).wire() == EVENT
    inbound = {"MessageId": "i1", "From": "15550100001", "Message": "hi", "DisplayName": "Ann"}
    assert InboundMessage.model_validate(inbound).wire() == inbound


# -- recognising an event -------------------------------------------------------------------------


@pytest.mark.parametrize("item", [{"MessageId": "i1", "DisplayName": "Ann"},
                                  {"MessageId": "i1", "NoticeType": "INBOUND"}])
def test_an_inbound_event_is_recognised_without_a_message_field(item: dict[str, Any]) -> None:
    """A ChatAppInbound event with only a display name (a contact card, a profile change) is
    still inbound, not rejected as unknown."""
    assert classify(item) == "inbound"
    assert isinstance(parse_event(item), InboundMessage)


@pytest.mark.parametrize(("item", "message"), [
    (["not", "an", "object"], "an event must be a JSON object, not list"),
    ("text", "an event must be a JSON object, not str"),
    ({"MessageId": "m"}, "an event needs Status (ChatAppStatus), Message (ChatAppInbound), or "
     "Type or AuditStatus with TemplateCode (ChatAppAudit)"),
    ({"MessageId": "", "Status": "Read"},
     "invalid status event: String should have at least 1 character"),
    ({"Message": "hi"}, "invalid inbound event: Field required"),
])
def test_a_bad_event_is_rejected_with_the_rule_it_breaks(item: Any, message: str) -> None:
    """The reason is what the queue consumer records for an undecodable item, so it names the
    rule in plain words rather than a pydantic dump."""
    with pytest.raises(BodyError) as caught:
        parse_event(item)
    assert str(caught.value) == message


# -- bodies ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "message"), [
    ("   \n", "empty body"),
    (b"", "empty body"),
    ("not base64 !", "body is neither JSON nor base64 JSON"),
    ("XYZ!", "body is neither JSON nor base64 JSON"),  # X is a base64 letter, not JSON
    (b64(json.dumps(EVENT)) + "!", "body is neither JSON nor base64 JSON"),  # strict base64
    (base64.b64encode(b"\xff\xfe").decode(), "body is neither JSON nor base64 JSON"),  # not UTF-8
])
def test_an_undecodable_body_says_why(body: str | bytes, message: str) -> None:
    with pytest.raises(BodyError) as caught:
        decode_body(body)
    assert str(caught.value) == message


def test_a_body_that_is_not_json_carries_the_parser_message() -> None:
    with pytest.raises(BodyError, match=r"^body is not JSON: Expecting .+ line 1 column 2"):
        decode_body("{broken")
    with pytest.raises(BodyError, match=r"^body is not JSON: "):
        decode_body(b64("[1, 2"))


def test_a_push_of_one_object_names_what_it_got_instead_of_an_array() -> None:
    with pytest.raises(BodyError) as caught:
        decode_body(json.dumps(EVENT), require_list=True)
    assert str(caught.value) == "body must be a JSON array of events, not dict"


def test_a_utf8_body_decodes_from_bytes_and_from_base64() -> None:
    event = {**EVENT, "ErrorDescription": "n\u00e3o entregue \u2014 \u6d88\u606f"}
    text = json.dumps(event, ensure_ascii=False)
    assert decode_body(text.encode("utf-8")) == [event] == decode_body(b64(text))


# -- the de-duplication key (written into store files) --------------------------------------------


def test_the_dedupe_key_has_the_documented_shape() -> None:
    """Store files keep these keys: a redelivery into a file written earlier must produce the
    same key, so the shape is pinned, not only its equality."""
    assert dedupe_key(Receipt.model_validate({**EVENT, "Status": "READ"})) == \
        "status|m1|read|1691043638000"
    assert dedupe_key(Receipt.model_validate({"MessageId": "m1", "Status": "Sent"})) == \
        "status|m1|sent|"


# -- folding --------------------------------------------------------------------------------------


def test_a_message_with_only_non_delivery_events_has_no_status() -> None:
    """A Deleted receipt alone says nothing about delivery: the message is known, its status
    is not (the join shows it as pending)."""
    state = fold([Receipt.model_validate({"MessageId": "m", "Status": "Deleted",
                                          "Timestamp": 5})])["m"]
    assert (state.status, state.events, state.delivered_at_ms) == (None, 1, None)
