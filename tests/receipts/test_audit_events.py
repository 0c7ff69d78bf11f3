"""ChatAppAudit events: both forms recognised by their fields (status and inbound items still
classified as before), their properties, and which of them stop a campaign or warn."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Any

import pytest

from cams_notebook.receipts.audit import V2_TYPES, AuditEvent, is_audit
from cams_notebook.receipts.events import (
    BodyError,
    InboundMessage,
    Receipt,
    classify,
    decode_body,
    dedupe_key,
    parse_event,
)
from tests.receipt_helpers import receipt

MS = 1_764_700_000_000  # 2025-12-02T18:26:40Z
SENDER = "8613800000000"

# Real-looking items, as CAMS writes them (field names from the ChatAppAudit pages and the
# shared contract), with what each one is: (item, kind, form).
REAL_LOOKING: list[tuple[dict[str, Any], str, str]] = [
    ({"WabaId": "9099999990123", "TemplateCode": "744c4b5c79c9432497a075bdfca31234",
      "Language": "en_US", "AuditStatus": "unaudit", "Reason": ""}, "template", "v1"),
    ({"TemplateCode": "744c4b5c79c9432497a075bdfca31234", "TemplateName": "order_update",
      "Language": "en_US", "AuditStatus": "pass", "Reason": "", "CustSpaceId": "cs-1",
      "EventTime": MS}, "template", "v1"),
    ({"TemplateCode": "744c4b5c79c9432497a075bdfca31234", "TemplateName": "order_update",
      "Language": "en_US", "AuditStatus": "paused", "Reason": "Template quality is low",
      "CustSpaceId": "cs-1", "EventTime": MS}, "template", "v1"),
    ({"Type": "phoneQualityUpdate", "PhoneNumber": SENDER, "Status": "DOWNGRADE",
      "CurrentLimit": "TIER_250", "QualityRating": "RED", "WabaId": "9099999990123",
      "CustSpaceId": "cs-1", "EventTime": MS}, "phone", "v2"),
    ({"Type": "phoneQualityUpdate", "PhoneNumber": SENDER, "Status": "UPGRADE",
      "CurrentLimit": "TIER_10K", "WabaId": "9099999990123", "EventTime": MS}, "phone", "v2"),
    ({"Type": "templateQualityUpdate", "TemplateCode": "744c4b5c79c9432497a075bdfca31234",
      "Language": "en_US", "QualityScore": "RED", "WabaId": "9099999990123", "EventTime": MS},
     "template", "v2"),
    ({"Type": "templateCategoryUpdate", "TemplateCode": "744c4b5c79c9432497a075bdfca31234",
      "Language": "en_US", "Reason": "now MARKETING", "EventTime": MS}, "template", "v2"),
    ({"Type": "wabaReviewUpdate", "WabaId": "9099999990123", "AuditStatus": "pass",
      "EventTime": MS}, "waba", "v2"),
    ({"Type": "wabaAccountUpdate", "WabaId": "9099999990123", "Status": "ACCOUNT_RESTRICTION",
      "EventTime": MS}, "waba", "v2"),
    ({"Type": "phoneNameUpdate", "PhoneNumber": SENDER, "Status": "APPROVED",
      "EventTime": MS}, "phone", "v2"),
]


@pytest.mark.parametrize(("item", "kind", "form"), REAL_LOOKING)
def test_real_looking_items_are_audit_events_of_their_kind(item: dict[str, Any], kind: str,
                                                          form: str) -> None:
    assert classify(item) == "audit" and is_audit(item)
    event = parse_event(item)
    assert isinstance(event, AuditEvent)
    assert (event.kind, event.form) == (kind, form)
    assert event.model_dump(by_alias=True, exclude_none=True).keys() == item.keys()


def test_an_audit_body_decodes_from_the_queue_s_base64_or_a_push_array() -> None:
    items = [item for item, _, _ in REAL_LOOKING]
    body = base64.b64encode(json.dumps(items[3]).encode()).decode()
    assert [parse_event(i).kind for i in decode_body(body)] == ["phone"]
    pushed = decode_body(json.dumps(items).encode(), require_list=True)
    assert [type(parse_event(i)) for i in pushed] == [AuditEvent] * len(items)


@pytest.mark.parametrize("item", [
    receipt(1),
    receipt(2, "Failed", ErrorCode="131049"),
    receipt(3, Type="TEMPLATE", TemplateCode="744c", Language="en_US"),  # HTTP samples' Type
    receipt(4, Type="image"),
    {"MessageId": "m5", "Status": "Read", "TemplateCode": "744c", "AuditStatus": "pass"},
])
def test_status_receipts_stay_receipts(item: dict[str, Any]) -> None:
    """A receipt may carry Type, TemplateCode, even an AuditStatus: its MessageId and a Type
    outside the V2 set keep it a receipt."""
    assert classify(item) == "status" and isinstance(parse_event(item), Receipt)


@pytest.mark.parametrize("item", [
    {"MessageId": "i1", "From": "15550100003", "Message": "hi", "Type": "TEXT"},
    {"MessageId": "i2", "NoticeType": "inbound", "Type": "SYSTEM"},
    {"MessageId": "i3", "DisplayName": "Ana", "Type": "REPLY", "TemplateCode": "744c"},
])
def test_inbound_messages_stay_inbound(item: dict[str, Any]) -> None:
    assert classify(item) == "inbound" and isinstance(parse_event(item), InboundMessage)


@pytest.mark.parametrize("item", [
    {"TemplateCode": "744c"},  # no AuditStatus, no Type
    {"AuditStatus": "pass"},  # no TemplateCode
    {"Type": "somethingElse", "PhoneNumber": SENDER},
])
def test_items_that_are_no_form_of_audit_event_are_unknown(item: dict[str, Any]) -> None:
    assert classify(item) == "unknown"
    with pytest.raises(BodyError, match=r"\(ChatAppAudit\)$"):
        parse_event(item)


@pytest.mark.parametrize("name", sorted(V2_TYPES))
def test_every_v2_type_is_recognised_in_any_capitalisation(name: str) -> None:
    for spelling in (name, name.upper(), f" {name.lower()} "):
        event = parse_event({"Type": spelling, "EventTime": MS})
        assert isinstance(event, AuditEvent) and event.type == name


def test_fields_read_as_text_and_times_as_utc() -> None:
    event = AuditEvent.model_validate({"Type": "phoneQualityUpdate", "PhoneNumber": 8613800000000,
                                       "Status": "flagged", "QualityRating": "red",
                                       "WabaId": 9099999990123, "EventTime": str(MS),
                                       "Operator": "kept"})
    assert (event.phone_number, event.waba_id) == (SENDER, "9099999990123")
    assert (event.status, event.quality_rating) == ("FLAGGED", "RED")
    assert event.at == datetime(2025, 12, 2, 18, 26, 40, tzinfo=timezone.utc)
    assert event.model_extra == {"Operator": "kept"}  # unknown fields are kept
    v1 = AuditEvent.model_validate({"TemplateCode": 744, "AuditStatus": "Audit", "Language": "en"})
    assert (v1.template_code, v1.audit_status, v1.at) == ("744", "audit", None)


@pytest.mark.parametrize(("item", "message"), [
    ({"Type": "phoneQualityUpdate", "EventTime": "soon"}, "invalid audit event: Input should "
     "be a valid integer, unable to parse string as an integer"),
    ({"Type": "templateQualityUpdate", "TemplateCode": ["a"]},
     "invalid audit event: Input should be a valid string"),
])
def test_a_malformed_audit_event_says_what_is_wrong(item: dict[str, Any], message: str) -> None:
    with pytest.raises(BodyError) as caught:
        parse_event(item)
    assert str(caught.value) == message


def test_a_model_needs_one_of_the_two_forms() -> None:
    with pytest.raises(ValueError, match="needs Type .V2. or TemplateCode and AuditStatus .V1."):
        AuditEvent.model_validate({"TemplateCode": "744c"})


# -- what an event means ----------------------------------------------------------------------


def phone(**fields: Any) -> AuditEvent:
    return AuditEvent.model_validate({"Type": "phoneQualityUpdate", "PhoneNumber": SENDER,
                                      "EventTime": MS, **fields})


def template(**fields: Any) -> AuditEvent:
    return AuditEvent.model_validate({"TemplateCode": "744c", "TemplateName": "order_update",
                                      "Language": "en_US", "EventTime": MS, **fields})


STOPS = [
    (phone(Status="FLAGGED", CurrentLimit="TIER_1K"),
     f"sender {SENDER} was FLAGGED for low quality (messaging limit now TIER_1K); Meta "
     "restricts it if it keeps getting negative feedback"),
    (phone(Status="DOWNGRADE", CurrentLimit="TIER_250", QualityRating="RED"),
     f"sender {SENDER}: quality rating fell to RED (messaging limit now TIER_250)"),
    (phone(QualityRating="RED"), f"sender {SENDER}: quality rating fell to RED"),
    (template(AuditStatus="paused", Reason="Template quality is low"),
     "template order_update (en_US) was paused: Template quality is low"),
    (template(AuditStatus="DISABLED"), "template order_update (en_US) was disabled"),
    (template(Type="templateQualityUpdate", AuditStatus="paused"),
     "template order_update (en_US) was paused"),
    (template(Type="templateQualityUpdate", QualityScore="RED"),
     "template order_update (en_US): quality score fell to RED"),
    (AuditEvent.model_validate({"Type": "wabaAccountUpdate", "WabaId": "909", "Status":
                                "DISABLED_UPDATE", "Reason": "policy"}),
     "business account 909 was disabled by Meta (DISABLED_UPDATE): policy"),
]
WARNS = [
    (phone(Status="DOWNGRADE", CurrentLimit="TIER_250"),
     f"sender {SENDER} was downgraded by Meta (messaging limit TIER_250)"),
    (phone(Status="DOWNGRADE", CurrentLimit="TIER_UNLIMITED", QualityRating="YELLOW"),
     f"sender {SENDER} was downgraded by Meta (quality rating YELLOW, messaging limit "
     "TIER_UNLIMITED)"),
    (phone(Status="DOWNGRADE"), f"sender {SENDER} was downgraded by Meta"),
    (phone(Status="UNFLAGGED", QualityRating="YELLOW"),
     f"sender {SENDER}: quality rating is YELLOW"),
    (phone(Status="UNFLAGGED", QualityRating="YELLOW", CurrentLimit="TIER_1K"),
     f"sender {SENDER}: quality rating is YELLOW (messaging limit TIER_1K)"),
    (template(Type="templateQualityUpdate", QualityScore="YELLOW"),
     "template order_update (en_US): quality score is YELLOW"),
    (template(Type="templateCategoryUpdate", Reason="now MARKETING"),
     "template order_update (en_US): category changed: now MARKETING"),
    (template(AuditStatus="fail", Reason="INVALID_FORMAT"),
     "template order_update (en_US) was rejected: INVALID_FORMAT"),
    (template(AuditStatus="auditing"),
     "template order_update (en_US) is in review again: CAMS sends only approved templates"),
    (AuditEvent.model_validate({"Type": "phoneNameUpdate", "PhoneNumber": SENDER,
                                "Status": "REJECTED", "Reason": "name mismatch"}),
     f"sender {SENDER}: display name not approved: name mismatch"),
    (AuditEvent.model_validate({"Type": "wabaAccountUpdate", "WabaId": "909",
                                "Status": "ACCOUNT_RESTRICTION"}),
     "business account 909: ACCOUNT_RESTRICTION"),
]
QUIET = [
    phone(Status="UPGRADE", CurrentLimit="TIER_10K", QualityRating="GREEN"),
    phone(Status="UNFLAGGED"),
    template(AuditStatus="pass"),
    template(Type="templateQualityUpdate", QualityScore="GREEN"),
    template(Type="templateQualityUpdate", QualityScore="UNKNOWN"),
    AuditEvent.model_validate({"Type": "wabaReviewUpdate", "WabaId": "909",
                               "AuditStatus": "pass"}),
    AuditEvent.model_validate({"Type": "phoneNameUpdate", "PhoneNumber": SENDER,
                               "Status": "APPROVED"}),
]


@pytest.mark.parametrize(("event", "reason"), STOPS)
def test_bad_news_stops_a_campaign_with_a_reason_in_plain_words(event: AuditEvent,
                                                                reason: str) -> None:
    assert event.bad_news == reason
    assert event.warning is None  # one message per event: the stop says it all


@pytest.mark.parametrize(("event", "warning"), WARNS)
def test_warnings_are_said_without_stopping(event: AuditEvent, warning: str) -> None:
    assert (event.bad_news, event.warning) == (None, warning)


@pytest.mark.parametrize("event", QUIET)
def test_good_news_is_neither(event: AuditEvent) -> None:
    assert (event.bad_news, event.warning) == (None, None)


def test_an_event_that_names_less_says_so() -> None:
    unnamed = AuditEvent.model_validate({"Type": "phoneQualityUpdate", "Status": "FLAGGED"})
    assert unnamed.bad_news is not None and unnamed.bad_news.startswith("a sender number was")
    code_only = AuditEvent.model_validate({"TemplateCode": "744c", "AuditStatus": "paused"})
    assert code_only.bad_news == "template 744c was paused"
    waba = AuditEvent.model_validate({"Type": "wabaAccountUpdate", "AuditStatus": "banned"})
    assert waba.bad_news == "the business account was disabled by Meta (BANNED)"


# -- which sender or template it is about ---------------------------------------------------


def test_a_number_event_concerns_that_sender_however_it_is_written() -> None:
    event = phone(Status="FLAGGED")
    assert event.concerns(phone_number="+86 138-0000-0000")
    assert not event.concerns(phone_number="8613800000001")
    # whatever template goes out from it: only the number narrows a number event
    assert event.concerns(phone_number=SENDER, template_code="744c", language="pt_BR")
    assert event.concerns()  # a caller that names no sender is told about every one


def test_a_template_event_concerns_that_template_and_language() -> None:
    event = template(AuditStatus="paused")
    assert event.concerns(template_code="744c")
    assert event.concerns(template_code="744c", language="en-us")
    assert not event.concerns(template_code="744c", language="pt_BR")
    assert not event.concerns(template_code="other")
    assert not event.concerns(phone_number=SENDER)  # no template named: not this campaign's
    any_language = AuditEvent.model_validate({"TemplateCode": "744c", "AuditStatus": "paused"})
    assert any_language.concerns(template_code="744c", language="pt_BR")


def test_an_account_event_or_an_unnamed_number_concerns_every_sender() -> None:
    account = AuditEvent.model_validate({"Type": "wabaAccountUpdate", "Status": "DISABLED"})
    unnamed = AuditEvent.model_validate({"Type": "phoneQualityUpdate", "Status": "FLAGGED"})
    for event in (account, unnamed):
        assert event.concerns(phone_number=SENDER, template_code="744c")


# -- de-duplication ---------------------------------------------------------------------------


def test_the_same_change_twice_has_one_key_and_another_change_another() -> None:
    first = phone(Status="FLAGGED", CurrentLimit="TIER_1K")
    again = AuditEvent.model_validate({"EventTime": MS, "CurrentLimit": "tier_1k",
                                       "Status": "flagged", "PhoneNumber": int(SENDER),
                                       "Type": "PHONEQUALITYUPDATE"})
    assert dedupe_key(first) == dedupe_key(again) and dedupe_key(first).startswith("audit|")
    assert dedupe_key(first) != dedupe_key(phone(Status="FLAGGED", CurrentLimit="TIER_250"))
    assert dedupe_key(first) != dedupe_key(phone(Status="FLAGGED", CurrentLimit="TIER_1K",
                                                 EventTime=MS + 1))
    assert dedupe_key(template(AuditStatus="paused")) != dedupe_key(template(AuditStatus="pass"))
