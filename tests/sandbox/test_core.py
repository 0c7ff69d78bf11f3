"""The sandbox core: the gateway's checks, the rate window, request and template rules,
magic numbers, the 24-hour rule, receipts and faults. Time is the ``clock`` fixture's fake clock."""

from __future__ import annotations

import httpx
import pytest

from cams_notebook import AuthError, InvalidRequestError, Message, ServerError, ThrottledError
from cams_notebook.client import Client
from cams_notebook.errors import OutcomeUnknownError
from cams_notebook.sandbox import DEFAULT_CUST_SPACE_ID, Sandbox
from cams_notebook.sandbox.outcomes import MAGIC_NUMBERS
from cams_notebook.testing import FakeClock
from tests.helpers import RECIPIENT, SENDER, TEMPLATE_CODE, sandbox_at, template_fields


def client_for(sb: Sandbox, clock: FakeClock, **kwargs: object) -> Client:
    return sb.client(clock=clock, **kwargs)


def send(client: Client, **overrides: object) -> object:
    return client.send(Message(**template_fields(**overrides)))


def test_a_valid_template_send_is_accepted_and_recorded(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    result = send(client_for(sb, clock), task_id="T-1")
    [record] = sb.messages()
    assert record["message_id"] == result.message_id  # type: ignore[attr-defined]
    assert record["to"] == RECIPIENT and record["task_id"] == "T-1"
    assert record["params"]["TemplateCode"] == TEMPLATE_CODE


def test_message_ids_are_unique(clock: FakeClock) -> None:
    client = client_for(sandbox_at(clock), clock)
    ids = {send(client).message_id for _ in range(200)}  # type: ignore[attr-defined]
    assert len(ids) == 200


def test_wrong_secret_is_signature_does_not_match(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    with pytest.raises(AuthError) as info:
        send(client_for(sb, clock, access_key_secret="wrong"))
    assert info.value.code == "SignatureDoesNotMatch" and info.value.status_code == 400
    assert sb.messages() == []


def test_unknown_key_is_not_found(clock: FakeClock) -> None:
    with pytest.raises(AuthError) as info:
        send(client_for(sandbox_at(clock), clock, access_key_id="nobody"))
    assert (info.value.code, info.value.status_code) == ("InvalidAccessKeyId.NotFound", 404)


def test_a_stale_date_is_expired(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    stale = FakeClock(clock.now - 16 * 60)
    with pytest.raises(AuthError) as info:
        send(client_for(sb, stale))
    assert info.value.code == "InvalidTimeStamp.Expired"


def test_a_reused_nonce_is_refused(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    client = client_for(sb, clock, nonce=lambda: "same-nonce")
    send(client)
    with pytest.raises(AuthError) as info:
        send(client)
    assert info.value.code == "SignatureNonceUsed"
    assert len(sb.messages()) == 1


def test_tampered_parameters_fail_the_signature(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    client = client_for(sb, clock)
    request = client.build_request("SendChatappMessage", Message(**template_fields()).to_query())
    client.auth.sign(request)
    tampered = httpx.Request("POST", str(request.url).replace("8613900000000", "8613900000001"),
                             headers=request.headers)
    response = sb.transport.handle_request(tampered)
    assert response.status_code == 400 and response.json()["Code"] == "SignatureDoesNotMatch"


def test_unsigned_requests_are_incomplete(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    response = httpx.Client(transport=sb.transport).post(
        "https://cams.ap-southeast-1.aliyuncs.com/", params=Message(**template_fields()).to_query())
    assert response.status_code == 400 and response.json()["Code"] == "IncompleteSignature"
    assert set(response.json()) >= {"RequestId", "HostId", "Code", "Message", "Recommend"}


def test_exactly_qps_requests_are_accepted_in_any_one_second_window(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    client = client_for(sb, clock)
    outcomes = []
    for i in range(300):
        clock.now = 1_800_000_000.0 + i * (0.99 / 300)
        try:
            send(client)
            outcomes.append("ok")
        except ThrottledError as error:
            outcomes.append("throttled")
            assert error.retry_after is not None and error.retry_after > 0
    assert outcomes.count("ok") == 250 and outcomes[:250] == ["ok"] * 250
    clock.now = 1_800_000_000.0 + 1.0 + 1e-6  # the first request leaves the window
    send(client)


def test_the_window_slides_so_260_per_second_is_told_from_250(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    client = client_for(sb, clock)
    throttled = 0
    for i in range(520):
        clock.now = 1_800_000_000.0 + i / 260
        try:
            send(client)
        except ThrottledError:
            throttled += 1
    assert throttled > 0
    sb.reset()
    for i in range(500):
        clock.now = 1_800_100_000.0 + i / 250 + 1e-9
        send(client)


def test_rate_limits_are_per_access_key(clock: FakeClock) -> None:
    sb = Sandbox(clock=clock, qps=2, receipt_delay=0)
    sb.core.keys["second-key"] = "second-secret"
    first = client_for(sb, clock)
    second = client_for(sb, clock, access_key_id="second-key", access_key_secret="second-secret")
    send(first), send(first), send(second), send(second)
    with pytest.raises(ThrottledError):
        send(first)


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        (dict(template_code="999"), "InvalidParameter.TemplateNotExist"),
        (dict(language="fr"), "InvalidParameter.LanguageNotSupport"),
        (dict(template_params={"name": "Ada"}), "InvalidParameter.TemplateParamsMissing"),
        (dict(template_params={"name": "Ada", "order_id": "1", "x": "y"}),
         "InvalidParameter.TemplateParamsUnknown"),
        (dict(template_params={"name": " ", "order_id": "1"}),
         "InvalidParameter.TemplateParamsBlank"),
    ],
)
def test_template_problems_are_answered_with_their_codes(clock: FakeClock,
                                                         overrides: dict[str, object],
                                                         code: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        send(client_for(sandbox_at(clock), clock), **overrides)
    assert info.value.code == code and info.value.status_code == 200


def test_unapproved_templates_are_refused(clock: FakeClock) -> None:
    client = client_for(sandbox_at(clock), clock)
    with pytest.raises(InvalidRequestError) as info:
        send(client, template_code="830174529611842995",
             template_params={"name": "a", "invoice_id": "1", "amount": "2"})
    assert info.value.code == "InvalidParameter.TemplateNotApproved"


def test_request_rules_are_the_message_rules_with_service_codes(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    client = client_for(sb, clock)
    # Bypass the client's own validation by sending raw wire parameters.
    data = client.call  # noqa: F841 - the raw call path is what we exercise
    with pytest.raises(InvalidRequestError) as info:
        client.call("SendChatappMessage", {"ChannelType": "whatsapp", "Type": "message",
                                           "From": SENDER, "To": RECIPIENT, "MessageType": "text",
                                           "Content": '{"caption":"x"}'})
    assert info.value.code == "InvalidParameter.TextNotEmpty"
    with pytest.raises(InvalidRequestError) as info:
        client.call("SendChatappMessage", {"Type": "template", "From": SENDER, "To": RECIPIENT})
    assert info.value.code == "MissingChannelType" and info.value.status_code == 400


def test_form_body_parameters_are_accepted_like_older_sdks(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    client = client_for(sb, clock)
    query = Message(**template_fields()).to_query()
    request = httpx.Request("POST", client.base_url + "/", params={"Type": query.pop("Type")},
                            data=query, headers={"x-acs-action": "SendChatappMessage",
                                                 "x-acs-version": "2020-06-06"})
    client.auth.sign(request)
    response = sb.transport.handle_request(request)
    assert response.json()["Code"] == "OK", response.json()


def test_unknown_actions_are_not_found(clock: FakeClock) -> None:
    client = client_for(sandbox_at(clock), clock)
    with pytest.raises(Exception) as info:
        client.call("DeleteEverything", {})
    assert getattr(info.value, "code", None) == "InvalidAction.NotFound"


def test_templates_are_listed_and_detailed_over_the_wire(clock: FakeClock) -> None:
    client = client_for(sandbox_at(clock), clock)
    listed = client.call("ListChatappTemplate", {"Page": '{"Index":1,"Size":50}',
                                                  "TemplateType": "WHATSAPP"})
    assert listed["Total"] == len(listed["ListTemplate"]) and listed["Total"] >= 5
    detail = client.call("GetChatappTemplateDetail",
                         {"TemplateCode": TEMPLATE_CODE, "Language": "en"})
    assert detail["Data"]["Name"] == "order_shipped"
    with pytest.raises(InvalidRequestError) as info:
        client.call("GetChatappTemplateDetail", {"TemplateCode": "0", "Language": "en"})
    assert info.value.code == "DetailError.TemplateNotExist"


def statuses(sb: Sandbox, message_id: str) -> list[str]:
    return [r["Status"] for r in sb.receipts() if r["MessageId"] == message_id]


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [("read", ["Sent", "Delivered", "Read"]), ("delivered", ["Sent", "Delivered"]),
     ("failed_131026", ["Sent", "Failed"]), ("failed_131049", ["Failed"]), ("no_receipt", [])],
)
def test_magic_numbers_select_the_receipts(clock: FakeClock, outcome: str,
                                           expected: list[str]) -> None:
    number = next(n for n, o in MAGIC_NUMBERS.items() if o == outcome)
    sb = sandbox_at(clock)
    sb.core.duplicate_rate = 0.0
    result = send(client_for(sb, clock), to=number)
    assert statuses(sb, result.message_id) == expected  # type: ignore[attr-defined]


def test_magic_numbers_for_throttle_server_error_and_slow(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    client = client_for(sb, clock)
    by_outcome = {o: n for n, o in MAGIC_NUMBERS.items()}
    with pytest.raises(ThrottledError):
        send(client, to=by_outcome["throttled"])
    with pytest.raises(ServerError):
        send(client, to=by_outcome["server_error"])
    with pytest.raises(OutcomeUnknownError):
        send(client, to=by_outcome["slow"])
    assert [m["to"] for m in sb.messages()] == [by_outcome["slow"]]


def test_failed_receipts_carry_the_meta_error(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    result = send(client_for(sb, clock), to="15550100003")
    failed = [r for r in sb.receipts() if r["Status"] == "Failed"]
    assert failed[0]["ErrorCode"] == "131026"
    assert failed[0]["ErrorDescription"].startswith("131026:")
    assert failed[0]["MessageId"] == result.message_id  # type: ignore[attr-defined]


def test_receipts_arrive_over_simulated_time(clock: FakeClock) -> None:
    sb = sandbox_at(clock, receipt_delay=1.0)
    sb.core.duplicate_rate = 0.0
    send(client_for(sb, clock), to="15550100001")
    assert sb.receipts() == []
    clock.now += 0.31
    assert [r["Status"] for r in sb.receipts()] == ["Sent"]
    clock.now += 10
    assert [r["Status"] for r in sb.receipts()] == ["Sent", "Delivered", "Read"]


def test_duplicates_happen_now_and_then(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    sb.core.duplicate_rate = 0.5
    client = client_for(sb, clock)
    for _ in range(20):
        send(client, to="15550100001")
    events = [(r["MessageId"], r["Status"]) for r in sb.receipts()]
    assert len(events) > len(set(events))


def free_form_text(to: str = RECIPIENT) -> Message:
    return Message(channel_type="whatsapp", type="message", from_=SENDER, to=to,
                   message_type="text", content={"text": "hi"})


def test_free_form_whatsapp_outside_the_24_hour_window_fails_with_131047(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    sb.core.duplicate_rate = 0.0
    client = client_for(sb, clock)
    closed = client.send(free_form_text("15550100001"))
    assert statuses(sb, closed.message_id) == ["Failed"]
    sb.record_inbound("15550100001")
    clock.now += 3600
    opened = client.send(free_form_text("15550100001"))
    assert statuses(sb, opened.message_id) == ["Sent", "Delivered", "Read"]
    clock.now += 24 * 3600
    assert not sb.core.window_open("15550100001")


def test_harsh_faults_are_seeded_and_counted(clock: FakeClock) -> None:
    def run() -> dict[str, int]:
        sb = sandbox_at(clock, faults="harsh", seed=3, qps=10_000)
        client = client_for(sb, clock, timeout=0.01)
        for _ in range(400):
            try:
                send(client)
            except Exception:  # noqa: BLE001 - every kind of failure is the point here
                pass
        return dict(sb.core.fault_counts)

    first = run()
    assert first == run()
    assert {"server_error", "reset_before", "reset_after", "throttle"} <= set(first)


def test_inspection_routes(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    send(client_for(sb, clock))
    http = httpx.Client(transport=sb.transport, base_url="http://sandbox")
    assert len(http.get("/_sandbox/messages").json()) == 1
    assert http.post("/_sandbox/inbound", json={"From": "+15550100002"}).status_code == 200
    assert sb.core.window_open("15550100002")
    assert http.post("/_sandbox/inbound", content=b"nope").status_code == 400
    http.post("/_sandbox/reset")
    assert http.get("/_sandbox/messages").json() == []


def test_the_in_process_inbound_route_refuses_what_the_served_one_refuses(
        clock: FakeClock) -> None:
    """A null ``From`` once opened the window of a number called "None" in-process."""
    sb = sandbox_at(clock)
    http = httpx.Client(transport=sb.transport, base_url="http://sandbox")
    for body, field in ((b'{"From": null}', "From"), (b'{"From": "555-CALL-NOW"}', "From"),
                        (b'{"From": "15550100002", "Message": 7}', "Message"),
                        (b"[" * 100_000 + b"]" * 100_000, "body")):
        answer = http.post("/_sandbox/inbound", content=body)
        assert (answer.status_code, answer.json()["Field"]) == (400, field)
    assert not sb.core.window_open("None")
    assert not sb.core.window_open("15550100002")
    assert http.get("/_sandbox/messages").json() == []


def listing(client: Client, **params: str) -> dict[str, object]:
    query = {"ChannelType": "whatsapp", "CustSpaceId": DEFAULT_CUST_SPACE_ID,
             "BusinessNumber": SENDER, "Page": '{"Index":1,"Size":10}', **params}
    return client.call("ListChatappMessage", {k: v for k, v in query.items() if v})


def test_list_chatapp_message_finds_a_person_s_messages_by_sender_and_number() -> None:
    clock = FakeClock(start=1_800_000_000.0)  # a fixed instant, for the SendTime below
    sb = sandbox_at(clock)
    client = client_for(sb, clock)
    mine = send(client, task_id="campaign-1:row-7").message_id  # type: ignore[attr-defined]
    send(client, to="8613900000009")
    found = listing(client, UserNumber=RECIPIENT)
    assert isinstance(found["Data"], list) and "Total" not in found
    [record] = found["Data"]
    assert record["MessageId"] == mine and record["UserNumber"] == RECIPIENT
    assert "TaskId" not in record  # the real answer has none
    assert record["TemplateCode"] == TEMPLATE_CODE and record["EventAction"] == "DOWN"
    assert record["SendTime"] == "2027-01-15T08:00:00.000+00:00"  # the fake clock's start


def test_list_chatapp_message_needs_its_required_parameters(clock: FakeClock) -> None:
    client = client_for(sandbox_at(clock), clock)
    for name in ("ChannelType", "CustSpaceId", "BusinessNumber", "Page"):
        with pytest.raises(InvalidRequestError) as info:
            listing(client, **{name: ""})
        assert (info.value.code, info.value.status_code) == (f"Missing{name}", 400)


def test_list_chatapp_message_filters_by_time_and_pages(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    client = client_for(sb, clock)
    ids = []
    for _ in range(5):
        ids.append(send(client).message_id)  # type: ignore[attr-defined]
        clock.now += 60
    start = int((clock.now - 4 * 60) * 1000)  # the last four
    pages = [listing(client, UserNumber=RECIPIENT, StartTime=str(start),
                     Page=f'{{"Index":{i},"Size":3}}')["Data"] for i in (1, 2, 3)]
    assert [[m["MessageId"] for m in p] for p in pages] == [ids[1:4], ids[4:], []]  # type: ignore[index]
    assert listing(client, UserNumber=RECIPIENT, EndTime=str(start - 1))["Data"] == [
        m for m in listing(client, UserNumber=RECIPIENT)["Data"]  # type: ignore[attr-defined]
        if m["MessageId"] == ids[0]]


def test_list_chatapp_message_lists_one_account_and_one_space(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    sb.core.keys["other-key"] = "other-secret"
    client = client_for(sb, clock)
    send(client, cust_space_id="cams-elsewhere")
    send(client)
    other = client_for(sb, clock, access_key_id="other-key", access_key_secret="other-secret")
    assert len(listing(client)["Data"]) == 1  # type: ignore[arg-type]
    assert len(listing(client, CustSpaceId="cams-elsewhere")["Data"]) == 1  # type: ignore[arg-type]
    assert listing(other)["Data"] == []
