"""The sandbox's queue side: QueryTokenForMnsQueue, the SMQ endpoint's checks and semantics
(long poll, visibility, redelivery, stale handles), and the official MNS SDK consuming it."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pytest

from cams_notebook import Client, InvalidRequestError, Message
from cams_notebook.sandbox import MAGIC_SENDERS, Sandbox
from cams_notebook.smq import (
    MnsClient,
    MnsCredentials,
    MnsError,
    format_mns_date,
    mns_authorization,
)
from cams_notebook.testing import FakeClock
from tests.helpers import sandbox_at, template_fields
from tests.receipt_helpers import receipt

STATUS_QUEUE = "Alicom-Queue-1234567890123456-ChatAppStatus"
INBOUND_QUEUE = "Alicom-Queue-1234567890123456-ChatAppInbound"


def token(sb: Sandbox, clock: FakeClock, message_type: str = "ChatAppStatus") -> MnsCredentials:
    dto = sb.core.mns.issue_token(message_type, None, clock())
    return MnsCredentials.of(dto["AccessKeyId"], dto["AccessKeySecret"], dto["SecurityToken"])


def mns_for(sb: Sandbox, clock: FakeClock, creds: MnsCredentials | None = None) -> MnsClient:
    return MnsClient("http://sandbox", creds or token(sb, clock), transport=sb.transport,
                     clock=clock)


def signed(creds: MnsCredentials, clock: FakeClock, method: str, target: str,
           **headers: str) -> httpx.Request:
    base = {"date": format_mns_date(clock()), "x-mns-version": "2015-06-06", **headers}
    auth = mns_authorization(creds.access_key_id, creds.access_key_secret.get_secret_value(),
                             method, base, target)
    token_header = {"security-token": creds.security_token.get_secret_value()} \
        if creds.security_token else {}
    return httpx.Request(method, "http://sandbox" + target,
                         headers={**base, "authorization": auth, **token_header})


def send_as_is(client: Client, request: httpx.Request,
               transport: httpx.BaseTransport | None = None) -> httpx.Response:
    """``request`` signed by ``client`` as it stands (headers changed after it was built)."""
    client.auth.sign(request)
    with httpx.Client(transport=transport) as http:
        return http.send(request)


def error_code(sb: Sandbox, request: httpx.Request) -> tuple[int, str]:
    resp = httpx.Client(transport=sb.transport).send(request)
    return resp.status_code, resp.text.split("<Code>")[1].split("</Code>")[0]


# -- Dybaseapi and discovery --------------------------------------------------------------------


def test_query_token_for_mns_queue_is_served_with_its_own_api_version(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    client = sb.client(clock=clock)
    request = client.build_request("QueryTokenForMnsQueue", {"MessageType": "ChatAppStatus"})
    request.headers["x-acs-version"] = "2017-05-25"
    resp = send_as_is(client, request, sb.transport)
    dto = resp.json()["MessageTokenDTO"]
    assert resp.json()["Code"] == "OK" and dto["AccessKeyId"].startswith("STS.")
    assert set(dto) == {"AccessKeyId", "AccessKeySecret", "SecurityToken", "CreateTime",
                        "ExpireTime"}
    with pytest.raises(InvalidRequestError, match="version"):  # CAMS's version is not Dybaseapi's
        client.call("QueryTokenForMnsQueue", {"MessageType": "ChatAppStatus"})


def test_send_chatapp_message_still_needs_the_cams_version(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    client = sb.client(clock=clock)
    request = client.build_request("SendChatappMessage", Message(**template_fields()).to_query())
    request.headers["x-acs-version"] = "2017-05-25"
    assert send_as_is(client, request, sb.transport).json()["Code"] == "InvalidVersion"


def test_phone_numbers_name_the_queues_for_every_sender_seen(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    client = sb.client(clock=clock)
    client.send(Message(**template_fields(from_="8613800000009")))
    rows = client.call("QueryChatappPhoneNumbers", {})["PhoneNumbers"]
    listed = [r["PhoneNumber"] for r in rows]
    assert [n for n in listed if n not in MAGIC_SENDERS] == ["8613800000000", "8613800000009"]
    assert {(r["StatusQueue"], r["UpQueue"]) for r in rows} == {(STATUS_QUEUE, INBOUND_QUEUE)}


# -- the endpoint's checks ----------------------------------------------------------------------


def test_a_good_request_on_an_empty_queue_is_message_not_exist_with_the_full_error(
        clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    creds = token(sb, clock)
    resp = httpx.Client(transport=sb.transport).send(
        signed(creds, clock, "GET",
               f"/queues/{STATUS_QUEUE}/messages?numOfMessages=16&waitseconds=0"))
    assert resp.status_code == 404 and resp.headers["x-mns-request-id"]
    for field in ("<Code>MessageNotExist</Code>", "<Message>Message not exist.</Message>",
                  "<RequestId>", "<HostId>"):
        assert field in resp.text


@pytest.mark.parametrize("tamper, expected", [
    ("signature", (403, "SignatureDoesNotMatch")),
    ("token", (403, "AccessDenied")),
    ("key", (403, "InvalidAccessKeyId")),
    ("version", (400, "MissingVersionHeader")),
    ("skew", (408, "TimeExpired")),
    ("queue", (404, "QueueNotExist")),
    ("other_queue", (403, "AccessDenied")),
])
def test_the_endpoint_verifies_signature_token_time_and_queue(
        clock: FakeClock, tamper: str, expected: tuple[int, str]) -> None:
    sb = sandbox_at(clock)
    creds = token(sb, clock)
    target = f"/queues/{STATUS_QUEUE}/messages?waitseconds=0"
    if tamper == "queue":
        target = "/queues/Alicom-Queue-0000000000000000-ChatAppStatus/messages"
    if tamper == "other_queue":
        target = f"/queues/{INBOUND_QUEUE}/messages"
    request = signed(creds, clock, "GET", target)
    if tamper == "signature":
        request = signed(MnsCredentials.of(creds.access_key_id, "wrong", "x"), clock, "GET", target)
    if tamper == "token":
        request.headers["security-token"] = "not-the-token"
    if tamper == "key":
        request = signed(MnsCredentials.of("STS.unknown", "s", "t"), clock, "GET", target)
    if tamper == "version":
        del request.headers["x-mns-version"]
    if tamper == "skew":
        clock.now += 16 * 60
        request = signed(creds, FakeClock(clock.now - 16 * 60), "GET", target)
    assert error_code(sb, request) == expected


def test_an_expired_token_is_refused(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    sb.core.mns.token_ttl = 60
    mns = mns_for(sb, clock)
    assert mns.batch_receive(STATUS_QUEUE, wait_seconds=0) == []
    clock.now += 61
    with pytest.raises(MnsError) as info:
        mns.batch_receive(STATUS_QUEUE, wait_seconds=0)
    assert info.value.is_auth and info.value.code == "AccessDenied"


# -- queue semantics ----------------------------------------------------------------------------


def test_bodies_are_base64_json_with_the_md5_of_the_stored_text(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    event = {"MessageId": "2023078469463703000003", "Status": "Delivered", "From": "8613100000008",
             "To": "8613800000008", "Timestamp": 1691043638000, "MsgFrameType": "template",
             "TaskId": "t-1"}
    sb.core.mns.enqueue("ChatAppStatus", event, clock())
    [msg] = mns_for(sb, clock).batch_receive(STATUS_QUEUE, wait_seconds=0)
    assert msg.body.startswith(
        "eyJNZXNzYWdlSWQiOiIyMDIzMDc4NDY5NDYzNzAzMDAwMDAzIiwiU3RhdHVzIjoiRGVs")
    assert msg.body_md5 == "DACA29321D261D2EDF8334EFADE12373"  # the reference's test vector
    assert json.loads(base64.b64decode(msg.body)) == event
    assert msg.dequeue_count == 1 and msg.first_dequeue_time == msg.enqueue_time


def test_raw_body_mode_stores_plain_json(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    sb.core.mns.raw_bodies = True
    sb.core.mns.enqueue("ChatAppStatus", receipt(1), clock())
    [msg] = mns_for(sb, clock).batch_receive(STATUS_QUEUE, wait_seconds=0)
    assert json.loads(msg.body) == receipt(1)


def test_the_long_poll_answers_when_the_first_receipt_becomes_due(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    start = clock()
    sb.core.mns.enqueue("ChatAppStatus", receipt(1), start + 2.5)
    sb.core.mns.enqueue("ChatAppStatus", receipt(2), start + 9.0)
    mns = mns_for(sb, clock)
    [first] = mns.batch_receive(STATUS_QUEUE, wait_seconds=5)
    assert clock() == pytest.approx(start + 2.5)  # waited until it was due, not the whole 5 s
    assert json.loads(base64.b64decode(first.body))["MessageId"] == receipt(1)["MessageId"]
    assert mns.batch_receive(STATUS_QUEUE, wait_seconds=5) == []
    assert clock() == pytest.approx(start + 7.5)  # an empty poll waits it out, then 404
    assert len(mns.batch_receive(STATUS_QUEUE, wait_seconds=5)) == 1


def test_sent_receipts_reach_the_status_queue_and_inbound_messages_the_inbound_queue(
        clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    sb.core.duplicate_rate = 0.0
    sb.client(clock=clock).send(Message(**template_fields(to="15550100001")))
    sb.record_inbound("+15550100002", text="hello")
    statuses = [json.loads(base64.b64decode(m.body))["Status"]
                for m in mns_for(sb, clock).batch_receive(STATUS_QUEUE, wait_seconds=0)]
    assert sorted(statuses) == ["Delivered", "Read", "Sent"]
    inbound = mns_for(sb, clock, token(sb, clock, "ChatAppInbound"))
    [msg] = inbound.batch_receive(INBOUND_QUEUE, wait_seconds=0)
    body = json.loads(base64.b64decode(msg.body))
    assert body["From"] == "15550100002" and body["Message"] == "hello" and body["MessageId"]


def test_an_undeleted_message_comes_back_with_a_new_handle_and_the_old_one_is_stale(
        clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    sb.core.mns.visibility_timeout = 10
    sb.core.mns.enqueue("ChatAppStatus", receipt(1), clock())
    mns = mns_for(sb, clock)
    [first] = mns.batch_receive(STATUS_QUEUE, wait_seconds=0)
    assert first.next_visible_time == int((clock() + 10) * 1000)
    assert mns.batch_receive(STATUS_QUEUE, wait_seconds=0) == []  # invisible while in flight
    clock.now += 10
    [again] = mns.batch_receive(STATUS_QUEUE, wait_seconds=0)
    assert again.message_id == first.message_id and again.dequeue_count == 2
    assert again.receipt_handle != first.receipt_handle
    assert mns.delete(STATUS_QUEUE, first.receipt_handle) is False  # MessageNotExist: gone
    assert mns.delete(STATUS_QUEUE, again.receipt_handle) is True
    assert sb.core.mns.depth() == 0


def test_batch_delete_reports_stale_handles_per_handle(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    for i in range(3):
        sb.core.mns.enqueue("ChatAppStatus", receipt(i), clock())
    mns = mns_for(sb, clock)
    messages = mns.batch_receive(STATUS_QUEUE, wait_seconds=0)
    assert mns.delete(STATUS_QUEUE, messages[0].receipt_handle)
    result = mns.batch_delete(STATUS_QUEUE, [m.receipt_handle for m in messages])
    assert result.gone == [messages[0].receipt_handle] and result.ok
    assert sb.core.mns.depth() == 0


def test_a_malformed_handle_is_receipt_handle_error(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    with pytest.raises(MnsError) as info:
        mns_for(sb, clock).delete(STATUS_QUEUE, "not-a-handle")
    assert (info.value.status_code, info.value.code) == (400, "ReceiptHandleError")


def test_change_visibility_returns_a_new_handle_and_runs_from_the_call(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    sb.core.mns.enqueue("ChatAppStatus", receipt(1), clock())
    mns = mns_for(sb, clock)
    [msg] = mns.batch_receive(STATUS_QUEUE, wait_seconds=0)
    clock.now += 5
    handle, next_visible = mns.change_visibility(STATUS_QUEUE, msg.receipt_handle, 100)
    assert handle != msg.receipt_handle and next_visible == int((clock() + 100) * 1000)
    clock.now += 50  # past the original 30 s, within the new 100 s
    assert mns.batch_receive(STATUS_QUEUE, wait_seconds=0) == []
    assert mns.delete(STATUS_QUEUE, handle)


def test_duplicate_injection_redelivers_at_once(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    sb.core.mns.duplicate_rate = 1.0
    sb.core.mns.enqueue("ChatAppStatus", receipt(1), clock())
    mns = mns_for(sb, clock)
    [one] = mns.batch_receive(STATUS_QUEUE, wait_seconds=0)
    [two] = mns.batch_receive(STATUS_QUEUE, wait_seconds=0)
    assert one.message_id == two.message_id and two.dequeue_count == 2


def test_reset_empties_the_queues(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    sb.core.mns.enqueue("ChatAppStatus", receipt(1), clock())
    sb.reset()
    assert sb.core.mns.depth() == 0


# -- the official SDK ---------------------------------------------------------------------------


def test_the_official_mns_sdk_consumes_from_the_sandbox_unmodified() -> None:
    from mns.account import Account
    from mns.mns_exception import MNSServerException

    sb = Sandbox(seed=5, receipt_delay=0.0)
    server = sb.serve()
    client = sb.client(endpoint=server.url, transport=None)
    try:
        for i in range(3):
            client.send(Message(**template_fields(to=f"1555010000{i + 1}")))
        request = client.build_request("QueryTokenForMnsQueue", {"MessageType": "ChatAppStatus"})
        request.headers["x-acs-version"] = "2017-05-25"
        dto = send_as_is(client, request).json()["MessageTokenDTO"]
        account = Account(server.url, dto["AccessKeyId"], dto["AccessKeySecret"],
                          dto["SecurityToken"])
        queue = account.get_queue(STATUS_QUEUE)
        bodies: list[dict[str, Any]] = []
        first = queue.receive_message(1)  # ReceiveMessage, base64-decoded by the SDK
        bodies.append(json.loads(first.message_body))
        changed = queue.change_message_visibility(first.receipt_handle, 60)
        queue.delete_message(changed.receipt_handle)
        while True:
            try:
                batch = queue.batch_receive_message(16, 1)
            except MNSServerException as exc:
                assert exc.type == "MessageNotExist"
                break
            bodies += [json.loads(m.message_body) for m in batch]
            queue.batch_delete_message([m.receipt_handle for m in batch])
        with pytest.raises(MNSServerException) as info:
            queue.delete_message(first.receipt_handle)
        assert info.value.type == "MessageNotExist"
        account.mns_client.close_connection()
    finally:
        client.close()
        sb.stop()
    expected = {(r["MessageId"], r["Status"], r["Timestamp"]) for r in sb.receipts()}
    assert {(b["MessageId"], b["Status"], b["Timestamp"]) for b in bodies} == expected
    assert sb.core.mns.depth() == 0


def test_a_real_clock_long_poll_over_loopback_waits_then_answers() -> None:
    sb = Sandbox(seed=5, receipt_delay=0.0)
    server = sb.serve()
    try:
        dto = sb.core.mns.issue_token("ChatAppStatus", None, time.time())
        creds = MnsCredentials.of(dto["AccessKeyId"], dto["AccessKeySecret"], dto["SecurityToken"])
        due = time.time() + 0.5
        sb.core.mns.enqueue("ChatAppStatus", receipt(1), due)
        with MnsClient(server.url, creds) as mns:
            started = time.monotonic()
            assert len(mns.batch_receive(STATUS_QUEUE, wait_seconds=5)) == 1
            assert time.time() >= due - 0.01  # held until the receipt was due...
            assert time.monotonic() - started < 4  # ...not for the whole wait
    finally:
        sb.stop()
