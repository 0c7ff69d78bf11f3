"""ChatAppAudit events in the sandbox: a number's rating and a template's status change (by a
Python call, by the sandbox's own judgement, or by a magic sender), the health answers follow,
and the event reaches the ``ChatAppAudit`` queue, the HTTP callback and ``/_sandbox/receipts``
in the contract's shape. The official SDK parses the changed answers.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from darabonba.runtime import RuntimeOptions

from cams_notebook import InvalidRequestError, Message
from cams_notebook.client import Client
from cams_notebook.sandbox import DEFAULT_CUST_SPACE_ID, Sandbox
from cams_notebook.sandbox.audit_events import GOES_RED_AFTER
from cams_notebook.sandbox.number_health import SANDBOX_WABA_ID
from cams_notebook.smq import MnsClient, MnsCredentials
from cams_notebook.testing import FakeClock
from tests.helpers import SENDER, TEMPLATE_CODE, sandbox_at, template_fields
from tests.sdk_reference import sdk_client, sdk_models

GOES_RED = "8613800000905"
AUDIT_QUEUE = "Alicom-Queue-1234567890123456-ChatAppAudit"
V2_FIELDS = {"Type", "PhoneNumber", "Status", "CurrentLimit", "QualityRating", "WabaId",
             "CustSpaceId", "EventTime"}
V1_FIELDS = {"TemplateCode", "TemplateName", "Language", "AuditStatus", "Reason", "CustSpaceId",
             "EventTime"}


def sandbox(clock: FakeClock, **kwargs: Any) -> tuple[Sandbox, Client]:
    sb = sandbox_at(clock, qps=100_000, **kwargs)
    return sb, sb.client(clock=clock)


def send(client: Client, **overrides: object) -> None:
    client.send(Message(**template_fields(**overrides)))


def phone_row(client: Client, number: str) -> dict[str, Any]:
    rows = client.call("QueryChatappPhoneNumbers", {})["PhoneNumbers"]
    row: dict[str, Any] = next(r for r in rows if r["PhoneNumber"] == number)
    return row


def phone_health(client: Client, number: str) -> str:
    data = client.call("GetWhatsappHealthStatus", {"NodeType": "phone", "PhoneNumber": number,
                                                   "CustSpaceId": DEFAULT_CUST_SPACE_ID})["Data"]
    return str(data["CanSendMessage"])


def detail(client: Client, code: str = TEMPLATE_CODE) -> dict[str, Any]:
    data: dict[str, Any] = client.call("GetChatappTemplateDetail", {
        "TemplateCode": code, "Language": "en", "CustSpaceId": DEFAULT_CUST_SPACE_ID})["Data"]
    return data


# -- a number's rating --------------------------------------------------------------------------


def test_set_quality_changes_the_answers_and_emits_phone_quality_update(
        clock: FakeClock) -> None:
    sb, client = sandbox(clock, tier="TIER_2K")
    send(client)
    event = sb.set_quality(SENDER, "RED")
    assert event == {"Type": "phoneQualityUpdate", "PhoneNumber": SENDER, "Status": "FLAGGED",
                     "CurrentLimit": "TIER_2K", "QualityRating": "RED",
                     "WabaId": SANDBOX_WABA_ID, "CustSpaceId": DEFAULT_CUST_SPACE_ID,
                     "EventTime": int(clock.now * 1000)}
    row = phone_row(client, SENDER)
    assert (row["Status"], row["QualityRating"]) == ("FLAGGED", "RED")
    assert phone_health(client, SENDER) == "LIMITED"
    assert sb.set_quality(SENDER, "RED") is None  # no change, no event
    assert sb.audit_events() == [event]
    sb.set_quality("+" + SENDER, "GREEN")
    assert (phone_row(client, SENDER)["Status"], phone_health(client, SENDER)) == \
        ("CONNECTED", "AVAILABLE")


def test_a_number_rated_before_it_sends_is_listed_with_its_rating(clock: FakeClock) -> None:
    sb, client = sandbox(clock)
    sb.set_quality("8613800000077", "YELLOW")
    assert phone_row(client, "8613800000077")["QualityRating"] == "YELLOW"


@pytest.mark.parametrize(("steps", "words"), [
    (["YELLOW", "RED", "GREEN"], ["DOWNGRADE", "FLAGGED", "UNFLAGGED"]),
    (["YELLOW", "GREEN"], ["DOWNGRADE", "UPGRADE"]),
])
def test_each_change_of_rating_has_meta_s_event_word(clock: FakeClock, steps: list[str],
                                                      words: list[str]) -> None:
    sb, _ = sandbox(clock)
    for rating in steps:
        sb.set_quality(SENDER, rating)
    assert [(e["QualityRating"], e["Status"]) for e in sb.audit_events()] == \
        list(zip(steps, words, strict=True))


@pytest.mark.parametrize(("number", "rating", "named"), [
    (SENDER, "ORANGE", "quality must be one of GREEN, YELLOW, RED, UNKNOWN, not 'ORANGE'"),
    ("sender one", "RED", "number must be a sender phone number"),
])
def test_a_bad_rating_or_number_is_refused_naming_it(clock: FakeClock, number: str,
                                                      rating: str, named: str) -> None:
    sb, _ = sandbox(clock)
    with pytest.raises(ValueError, match=named):
        sb.set_quality(number, rating)
    assert sb.audit_events() == []


def test_the_magic_sender_goes_red_by_itself_after_its_first_messages(clock: FakeClock) -> None:
    sb, client = sandbox(clock)  # no profile: the magic number works on a default sandbox
    for i in range(GOES_RED_AFTER - 1):
        send(client, from_=GOES_RED, to=f"86139{i:08d}")
    assert sb.audit_events() == [] and phone_row(client, GOES_RED)["QualityRating"] == "GREEN"
    send(client, from_=GOES_RED, to="8613977777777")
    [event] = sb.audit_events()
    assert (event["Type"], event["PhoneNumber"], event["Status"], event["QualityRating"]) == \
        ("phoneQualityUpdate", GOES_RED, "FLAGGED", "RED")
    assert phone_health(client, GOES_RED) == "LIMITED"
    for i in range(10):  # it stays RED and says so once
        send(client, from_=GOES_RED, to=f"86138{i:08d}")
    assert len(sb.audit_events()) == 1


def test_too_many_refusals_drop_a_sender_to_yellow_then_red(clock: FakeClock) -> None:
    sb, client = sandbox(clock, quality_drops=True, sender_mps=10)
    for i in range(100):  # one instant: 90 of 100 refused with 130429
        send(client, to=f"86139{i:08d}")
    assert [(e["Status"], e["QualityRating"]) for e in sb.audit_events()] == \
        [("DOWNGRADE", "YELLOW")]
    clock.advance(1.0)
    for i in range(100):
        send(client, to=f"86138{i:08d}")
    assert [(e["Status"], e["QualityRating"]) for e in sb.audit_events()] == \
        [("DOWNGRADE", "YELLOW"), ("FLAGGED", "RED")]
    assert phone_row(client, SENDER)["QualityRating"] == "RED"


def test_a_sender_within_its_limits_keeps_its_rating(clock: FakeClock) -> None:
    sb, client = sandbox(clock, profile="realistic", tier="TIER_250")
    for i in range(200):  # 10/s, all to different people, well within the tier
        clock.advance(0.1)
        send(client, to=f"86139{i:08d}")
    assert sb.audit_events() == []
    assert phone_row(client, SENDER)["QualityRating"] == "GREEN"


# -- a template's status and quality ------------------------------------------------------------


def test_pause_template_changes_the_detail_refuses_sends_and_emits_a_v1_event(
        clock: FakeClock) -> None:
    sb, client = sandbox(clock)
    event = sb.pause_template(TEMPLATE_CODE, "en")
    assert event is not None and set(event) == V1_FIELDS and "Type" not in event
    assert (event["TemplateName"], event["AuditStatus"], event["Language"]) == \
        ("order_shipped", "paused", "en")
    assert event["Reason"]
    data = detail(client)
    assert (data["AuditStatus"], data["AllowSend"]) == ("paused", False)
    listed = client.call("ListChatappTemplate", {"Page": '{"Index":1,"Size":50}',
                                                 "AuditStatus": "paused"})["ListTemplate"]
    assert [(t["TemplateName"], t["Language"]) for t in listed] == [("order_shipped", "en")]
    health = client.call("GetWhatsappHealthStatus", {
        "NodeType": "template", "TemplateCode": TEMPLATE_CODE, "Language": "en",
        "CustSpaceId": DEFAULT_CUST_SPACE_ID})["Data"]
    assert health["CanSendMessage"] == "BLOCKED"
    with pytest.raises(InvalidRequestError, match="paused"):
        send(client)
    send(client, language="es", template_params={"name": "Ana", "order_id": "A-2"})
    sb.set_template_status(TEMPLATE_CODE, "en", "pass")  # resumed
    send(client)
    assert detail(client)["AllowSend"] is True
    assert [e["AuditStatus"] for e in sb.audit_events()] == ["paused", "pass"]


def test_a_template_quality_score_emits_template_quality_update(clock: FakeClock) -> None:
    sb, client = sandbox(clock)
    event = sb.set_template_quality(TEMPLATE_CODE, "en", "RED")
    assert event is not None
    assert (event["Type"], event["TemplateCode"], event["Language"], event["QualityScore"]) == \
        ("templateQualityUpdate", TEMPLATE_CODE, "en", "RED")
    assert (detail(client)["QualityScore"], detail(client)["AllowSend"]) == ("RED", False)


def test_an_unknown_template_or_status_is_refused_naming_it(clock: FakeClock) -> None:
    sb, _ = sandbox(clock)
    with pytest.raises(ValueError, match="no template with TemplateCode '1' and Language 'en'"):
        sb.pause_template("1", "en")
    with pytest.raises(ValueError, match="status must be one of pass, fail, auditing"):
        sb.set_template_status(TEMPLATE_CODE, "en", "stopped")


def test_reset_forgets_ratings_statuses_and_events(clock: FakeClock) -> None:
    sb, client = sandbox(clock)
    send(client)
    sb.set_quality(SENDER, "RED")
    sb.pause_template(TEMPLATE_CODE, "en")
    sb.reset()
    send(client)
    assert sb.audit_events() == [] and phone_row(client, SENDER)["QualityRating"] == "GREEN"
    assert detail(client)["AuditStatus"] == "pass"


# -- where the events go: the queue, the callback, /_sandbox/receipts -------------------------


def test_events_reach_the_chat_app_audit_queue_and_only_it(clock: FakeClock) -> None:
    sb, client = sandbox(clock)
    send(client)
    sb.set_quality(SENDER, "RED")
    sb.pause_template(TEMPLATE_CODE, "en")
    dto = sb.core.mns.issue_token("ChatAppAudit", None, clock())
    creds = MnsCredentials.of(dto["AccessKeyId"], dto["AccessKeySecret"], dto["SecurityToken"])
    with MnsClient("http://sandbox", creds, transport=sb.transport, clock=clock) as mns:
        messages = mns.batch_receive(AUDIT_QUEUE, wait_seconds=0)
        bodies = [json.loads(base64.b64decode(m.body)) for m in messages]
        assert mns.batch_delete(AUDIT_QUEUE, [m.receipt_handle for m in messages]).ok
    assert bodies == sb.audit_events()
    assert set(bodies[0]) == V2_FIELDS and set(bodies[1]) == V1_FIELDS
    assert sb.core.mns.depth("ChatAppAudit") == 0
    assert all("Type" not in r or r["Type"] == "TEMPLATE" for r in sb.receipts())


def test_the_inspection_routes_list_and_change_audit_events(clock: FakeClock) -> None:
    sb, client = sandbox(clock, sender_mps=1)
    send(client, to="8613900000001")
    send(client, to="8613900000002")  # refused: 130429
    http = httpx.Client(transport=sb.transport, base_url="http://sandbox")
    receipts = http.get("/_sandbox/receipts").json()
    assert [r["ErrorCode"] for r in receipts if r.get("ErrorCode") == "130429"] == ["130429"]
    answer = http.post("/_sandbox/quality", json={"PhoneNumber": SENDER, "QualityRating": "RED"})
    assert answer.status_code == 200 and answer.json()["Event"]["Status"] == "FLAGGED"
    answer = http.post("/_sandbox/template", json={"TemplateCode": TEMPLATE_CODE,
                                                   "Language": "en", "AuditStatus": "paused"})
    assert answer.json()["Event"]["AuditStatus"] == "paused"
    listed = http.get("/_sandbox/receipts", params={"MessageType": "ChatAppAudit"}).json()
    assert listed == sb.audit_events() and len(listed) == 2
    assert http.get("/_sandbox/stats").json()["refusals_by_code"] == {"130429": 1}


@pytest.mark.parametrize(("route", "body", "field"), [
    ("/_sandbox/quality", {"PhoneNumber": SENDER}, "QualityRating"),
    ("/_sandbox/quality", {"PhoneNumber": SENDER, "QualityRating": "PINK"}, "QualityRating"),
    ("/_sandbox/quality", {"PhoneNumber": "abc", "QualityRating": "RED"}, "PhoneNumber"),
    ("/_sandbox/template", {"TemplateCode": "1", "Language": "en", "AuditStatus": "paused"},
     "TemplateCode"),
    ("/_sandbox/template", {"TemplateCode": TEMPLATE_CODE, "Language": "en"}, "AuditStatus"),
    ("/_sandbox/template", [1, 2], "body"),
])
def test_a_bad_change_is_a_400_naming_the_field(clock: FakeClock, route: str, body: Any,
                                                field: str) -> None:
    sb, _ = sandbox(clock)
    answer = httpx.Client(transport=sb.transport, base_url="http://sandbox").post(route,
                                                                                   json=body)
    assert (answer.status_code, answer.json()["Field"]) == (400, field)
    assert sb.audit_events() == []


def test_an_unknown_receipt_kind_is_a_400_naming_message_type(clock: FakeClock) -> None:
    sb, _ = sandbox(clock)
    answer = httpx.Client(transport=sb.transport, base_url="http://sandbox").get(
        "/_sandbox/receipts", params={"MessageType": "ChatAppInbound"})
    assert (answer.status_code, answer.json()["Field"]) == (400, "MessageType")


class _Collector(BaseHTTPRequestHandler):
    bodies: list[list[dict[str, Any]]]

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers["content-length"])
        self.server.bodies.append(json.loads(self.rfile.read(length)))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Any]:
    """A loopback HTTP receiver that keeps every pushed JSON body."""
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    server.bodies = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_events_reach_the_http_callback_in_batches_of_their_own(receiver: Any) -> None:
    url = f"http://127.0.0.1:{receiver.server_address[1]}/cams"
    sb = Sandbox(seed=3, receipt_delay=0.0, callback_url=url)
    sb.serve()
    try:
        client = sb.client()
        for i in range(3):
            client.send(Message(**template_fields(to=f"86139{i:08d}")))
        sb.set_quality(SENDER, "RED")
        sb.pause_template(TEMPLATE_CODE, "en")
        for _ in range(500):  # the pushes come on the server's own schedule
            audit = [b for b in receiver.bodies if "MessageId" not in b[0]]
            if sum(map(len, audit)) >= 2 and len(receiver.bodies) >= 2:
                break
            time.sleep(0.01)
    finally:
        sb.stop()
    audit = [item for body in receiver.bodies if "MessageId" not in body[0] for item in body]
    assert audit == sb.audit_events()
    assert audit[0]["Type"] == "phoneQualityUpdate" and audit[1]["AuditStatus"] == "paused"
    for body in receiver.bodies:  # never mixed: a body is all receipts or all audit events
        assert len({"MessageId" in item for item in body}) == 1


# -- the official SDK reads the changed answers --------------------------------------------------


def test_the_sdk_parses_the_answers_after_set_quality_and_pause_template() -> None:
    sb = Sandbox(access_key_id="audit-key", access_key_secret="audit-secret", seed=4)
    client = sb.client()
    client.send(Message(**template_fields()))
    sb.set_quality(SENDER, "RED")
    sb.pause_template(TEMPLATE_CODE, "en")
    server = sb.serve()
    try:
        sdk = sdk_client(endpoint=f"127.0.0.1:{server.port}", access_key_id="audit-key",
                         access_key_secret="audit-secret")
        runtime = RuntimeOptions()
        numbers = sdk.query_chatapp_phone_numbers_with_options(
            sdk_models.QueryChatappPhoneNumbersRequest(cust_space_id=DEFAULT_CUST_SPACE_ID),
            runtime).body
        [row] = [n for n in numbers.phone_numbers if n.phone_number == SENDER]
        assert isinstance(row, sdk_models.QueryChatappPhoneNumbersResponseBodyPhoneNumbers)
        assert (row.status, row.quality_rating, row.messaging_limit_tier) == \
            ("FLAGGED", "RED", "TIER_UNLIMITED")
        health = sdk.get_whatsapp_health_status_with_options(
            sdk_models.GetWhatsappHealthStatusRequest(
                cust_space_id=DEFAULT_CUST_SPACE_ID, node_type="phone", phone_number=SENDER),
            runtime).body
        assert isinstance(health.data, sdk_models.GetWhatsappHealthStatusResponseBodyData)
        assert health.data.can_send_message == "LIMITED"
        assert health.data.entities[0].errors[0].error_code == "Sandbox.QualityRed"
        template = sdk.get_chatapp_template_detail_with_options(
            sdk_models.GetChatappTemplateDetailRequest(
                cust_space_id=DEFAULT_CUST_SPACE_ID, template_code=TEMPLATE_CODE,
                language="en"), runtime).body
        assert isinstance(template.data, sdk_models.GetChatappTemplateDetailResponseBodyData)
        assert (template.data.audit_status, template.data.allow_send) == ("paused", False)
        assert template.data.reason
    finally:
        sb.stop()
