"""MNS (SMQ) signing against the reference's test vectors and the official SDK, the XML
decoding, and how the client reports the answers a consumer must expect."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from cams_notebook.smq import (
    MnsAuth,
    MnsClient,
    MnsCredentials,
    MnsError,
    content_md5,
    format_mns_date,
    mns_authorization,
    mns_string_to_sign,
    parse_messages,
    receipt_handles_xml,
)

ID, SECRET, TOKEN = "STS.FakeAccessKeyId", "FakeAccessKeySecret", "FakeSecurityToken+/="
DATE = "Thu, 03 Aug 2023 06:20:38 GMT"
DATE_EPOCH = 1691043638.0
Q = "/queues/Alicom-Queue-1234567890123456-ChatAppStatus/messages"
RH = "1-ODU4OTkzNDU5My0xNDM1MTk3NjAwLTItNg=="
BASE = {"date": DATE, "x-mns-version": "2015-06-06"}
XML = "text/xml;charset=UTF-8"
BATCH_DELETE_BODY = ('<?xml version="1.0" encoding="utf-8"?><ReceiptHandles '
                     'xmlns="http://mns.aliyuncs.com/doc/v1/"><ReceiptHandle>'
                     '1-ODU4OTkzNDU5My0xNDM1MTk3NjAwLTItNg==</ReceiptHandle></ReceiptHandles>')


def test_the_official_documentation_vector() -> None:
    headers = {"date": "Thu, 09 Jul 2015 03:01:34 GMT", "x-mns-version": "2015-06-06"}
    assert mns_authorization("TestAccessID", "TestAccessSecret", "GET", headers, "/MyQueue") == \
        "MNS TestAccessID:uwx3yeWoILzgmvesW0BQSgfM7b8="


@pytest.mark.parametrize("method, resource, extra, signature", [
    ("GET", f"{Q}?numOfMessages=16&waitseconds=30", {}, "5KCNimbUFm8+X08BkT9v+sDeddE="),
    ("DELETE", Q, {"content-md5": "MjNjMDQ5N2Q3ZjE0NDI3NjMxNTdjMjBkNjM2YzAxZTI=",
                   "content-type": XML}, "SDHyFHwTJWmABkCG23gGnzi8l8o="),
    ("DELETE", f"{Q}?ReceiptHandle={RH}", {}, "wflwxMMchAVRewWlm8d0+5hQDkM="),
    ("PUT", f"{Q}?ReceiptHandle={RH}&VisibilityTimeout=60", {}, "D7D5vh5yMoO8PVz66FJCMOYm5SQ="),
    ("GET", f"{Q}?numOfMessages=16&waitseconds=30",
     {"content-md5": "ZDQxZDhjZDk4ZjAwYjIwNGU5ODAwOTk4ZWNmODQyN2U=",
      "content-type": "application/xml"},
     "rLXjrrbQEp03LXQxIXoEtOXwnn0="),
])
def test_the_computed_vectors(method: str, resource: str, extra: dict[str, str],
                              signature: str) -> None:
    authorization = mns_authorization(ID, SECRET, method, {**BASE, **extra}, resource)
    assert authorization == f"MNS {ID}:{signature}"


def test_the_batch_delete_body_and_its_md5_match_the_sdk_byte_for_byte() -> None:
    body = receipt_handles_xml([RH])
    assert body.decode() == BATCH_DELETE_BODY and len(body) == 180
    assert content_md5(body) == "MjNjMDQ5N2Q3ZjE0NDI3NjMxNTdjMjBkNjM2YzAxZTI="


def test_empty_md5_and_type_still_leave_their_lines() -> None:
    assert mns_string_to_sign("GET", BASE, "/q") == f"GET\n\n\n{DATE}\nx-mns-version:2015-06-06\n/q"


def test_the_date_is_rfc_1123_gmt() -> None:
    assert format_mns_date(DATE_EPOCH) == DATE


def test_signatures_agree_with_the_official_sdk() -> None:
    from mns.auth import StaticCredentialsProvider
    from mns.mns_client import MNSClient

    sdk = MNSClient("http://127.0.0.1:1", ID, SECRET, security_token=TOKEN)
    creds = StaticCredentialsProvider(ID, SECRET, TOKEN).get_credentials()
    for headers, resource in [
        ({**BASE, "x-mns-user-request-id": "abc", "x-mns-zeta": "z"}, f"{Q}?waitseconds=3"),
        ({**BASE, "content-md5": "x", "content-type": XML}, Q),
    ]:
        assert sdk.get_signature("PUT", dict(headers), resource, creds) == \
            mns_authorization(ID, SECRET, "PUT", headers, resource)


def test_mns_auth_signs_the_raw_target_and_adds_the_token_unsigned() -> None:
    auth = MnsAuth(MnsCredentials.of(ID, SECRET, TOKEN), clock=lambda: DATE_EPOCH)
    request = httpx.Request("DELETE", f"https://h{Q}?ReceiptHandle={RH}")
    auth.sign(request)
    assert request.headers["authorization"] == f"MNS {ID}:wflwxMMchAVRewWlm8d0+5hQDkM="
    assert request.headers["security-token"] == TOKEN
    assert repr(auth) == f"MnsAuth(access_key_id={ID!r})"
    batch = httpx.Request("DELETE", f"https://h{Q}", content=BATCH_DELETE_BODY.encode(),
                          headers={"content-type": XML})
    auth.sign(batch)
    assert batch.headers["authorization"] == f"MNS {ID}:SDHyFHwTJWmABkCG23gGnzi8l8o="


def test_secrets_are_masked_in_reprs() -> None:
    creds = MnsCredentials.of(ID, SECRET, TOKEN)
    assert SECRET not in repr(creds) and TOKEN not in repr(creds)


# -- XML and answers ------------------------------------------------------------------------------


def _message(ns: str) -> str:
    return (f'<Message xmlns="{ns}"><MessageId>0909FF0D9C3A630C372B8A14BD2011B6</MessageId>'
            "<ReceiptHandle>8-0zxjHBaWtzPz8zphz0z6OGz5yWWidU1fJM</ReceiptHandle>"
            "<MessageBodyMD5>A9B134C465C384F49EB89A6E3870D996</MessageBodyMD5>"
            "<MessageBody>SSBhbSDmtYvor5XlrZfnrKbkuLIu</MessageBody>"
            "<EnqueueTime>1716809362651</EnqueueTime><FirstDequeueTime>1716809369536</FirstDequeueTime>"
            "<NextVisibleTime>1716809419536</NextVisibleTime><DequeueCount>1</DequeueCount>"
            "<Priority>10</Priority></Message>")


@pytest.mark.parametrize("ns", ["http://mns.aliyuncs.com/doc/v1/", "http://mns.aliyuncs.com/doc/v1"])
def test_messages_parse_whatever_the_namespace_spelling(ns: str) -> None:
    batch = f'<?xml version="1.0"?><Messages xmlns="{ns}">{_message(ns)}{_message(ns)}</Messages>'
    [one, _] = parse_messages(batch.encode())
    [single] = parse_messages(_message(ns).encode())
    assert one == single
    assert one.body == "SSBhbSDmtYvor5XlrZfnrKbkuLIu" and one.priority == 10
    assert one.body_md5 == hashlib.md5(one.body.encode()).hexdigest().upper()


def _error(code: str, status: int = 404) -> httpx.Response:
    return httpx.Response(status, headers={"x-mns-request-id": "R1"}, content=(
        f"<Error xmlns='http://mns.aliyuncs.com/doc/v1/'><Code>{code}</Code><Message>m</Message>"
        "<RequestId>R1</RequestId><HostId>h</HostId></Error>").encode())


def client_answering(handler: Any) -> MnsClient:
    return MnsClient("https://1493622401794734.mns.ap-southeast-1.aliyuncs.com",
                     MnsCredentials.of(ID, SECRET, TOKEN), transport=httpx.MockTransport(handler))


def test_message_not_exist_is_an_empty_queue_or_a_gone_handle() -> None:
    mns = client_answering(lambda request: _error("MessageNotExist"))
    assert mns.batch_receive("q", wait_seconds=0) == []
    assert mns.receive("q", wait_seconds=0) is None
    assert mns.delete("q", RH) is False


def test_other_errors_raise_with_their_code_and_request_id() -> None:
    mns = client_answering(lambda request: _error("QueueNotExist"))
    with pytest.raises(MnsError) as info:
        mns.batch_receive("q", wait_seconds=0)
    error = info.value
    assert (error.code, error.request_id, error.status_code) == ("QueueNotExist", "R1", 404)
    assert not info.value.is_auth
    denied = client_answering(lambda request: _error("AccessDenied", 403))
    with pytest.raises(MnsError) as info:
        denied.delete("q", RH)
    assert info.value.is_auth


def test_batch_delete_sorts_gone_from_failed_handles() -> None:
    errors = ("<Errors xmlns='http://mns.aliyuncs.com/doc/v1/'>"
              "<Error><ErrorCode>MessageNotExist</ErrorCode><ErrorMessage>x</ErrorMessage>"
              "<ReceiptHandle>a</ReceiptHandle></Error>"
              "<Error><ErrorCode>ReceiptHandleError</ErrorCode><ErrorMessage>y</ErrorMessage>"
              "<ReceiptHandle>b</ReceiptHandle></Error></Errors>")
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404, content=errors.encode())

    result = client_answering(handler).batch_delete("q", ["a", "b", "c"])
    assert result.gone == ["a"] and result.failed == {"b": "ReceiptHandleError"} and not result.ok
    assert seen[0].headers["content-md5"] == content_md5(seen[0].content)


def test_arguments_outside_the_service_limits_are_value_errors() -> None:
    mns = client_answering(lambda request: httpx.Response(204))
    with pytest.raises(ValueError):
        mns.batch_receive("q", 17)
    with pytest.raises(ValueError):
        mns.batch_receive("q", wait_seconds=31)
    with pytest.raises(ValueError):
        mns.batch_delete("q", [])
