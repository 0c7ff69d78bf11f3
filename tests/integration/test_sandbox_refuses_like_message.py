"""The sandbox refuses what ``Message`` refuses, whoever sends it: the official SDK included.

The loopback sandbox server checks every SendChatappMessage with ``Message.check``. The
official SDK 5.3.1 checks nothing itself (reference ``cams_api.md`` section 1), so it is the
client to try: over loopback HTTP it sends a number written as a float, numbers in digits
that are not ASCII, and a message too long to send. The sandbox must refuse each with the
service's ``InvalidParameter.*`` code and record nothing; a correct message is accepted.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from darabonba.runtime import RuntimeOptions

from cams_notebook import Message
from cams_notebook.models import MAX_QUERY_LENGTH
from cams_notebook.sandbox import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, Sandbox
from cams_notebook.sandbox.server import SandboxServer
from tests.sdk_reference import sdk_client, sdk_models

TEMPLATE: dict[str, Any] = {
    "channel_type": "whatsapp", "type": "template", "from_": "8613800000000",
    "template_code": "830174529611842305", "language": "en",
    "template_params": {"name": "Ada", "order_id": "A-1"},
}
MESSENGER: dict[str, Any] = {"channel_type": "messenger", "type": "message", "from_": "page-1",
                             "to": "psid-1", "message_type": "text"}
TOO_LONG = json.dumps({"text": "é" * 11_000}, ensure_ascii=False)  # 66,000 characters encoded

REFUSED: dict[str, Any] = {
    "a number written as a float": (
        {**TEMPLATE, "to": "8613900000001.0"}, "InvalidParameter.ToOnlyNumeric"),
    "a number in full-width digits": (
        {**TEMPLATE, "to": "８６１３９００００００００１"}, "InvalidParameter.ToOnlyNumeric"),
    "a number in Arabic-Indic digits": (
        {**TEMPLATE, "to": "٨٦١٣٩٠٠٠٠٠٠٠١"}, "InvalidParameter.ToOnlyNumeric"),
    "a sender in full-width digits": (
        {**TEMPLATE, "from_": "８６１３８００００００００", "to": "8613900000001"},
        "InvalidParameter.FromOnlyNumeric"),
    "a message too long to send": (
        {**MESSENGER, "content": TOO_LONG}, "InvalidParameter.ContentError"),
}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Sandbox, SandboxServer]]:
    sandbox = Sandbox(seed=5, receipt_delay=0.0)
    yield sandbox, sandbox.serve()
    sandbox.stop()


def sdk_send(server: SandboxServer, fields: dict[str, Any]) -> Any:
    """One SendChatappMessage by the unmodified official SDK: its response, or its exception."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = sdk_client(endpoint=f"127.0.0.1:{server.port}",
                            access_key_id=DEFAULT_ACCESS_KEY_ID,
                            access_key_secret=DEFAULT_ACCESS_KEY_SECRET)
        request = sdk_models.SendChatappMessageRequest(**fields)
        try:
            return client.send_chatapp_message_with_options(request, RuntimeOptions())
        except Exception as error:  # noqa: BLE001 - the SDK's ClientException, kept to look at
            return error


def refusal_code(answer: Any) -> str:
    """The error code of a refusal, as the SDK shows it (a body, or a ClientException)."""
    if hasattr(answer, "body"):
        assert answer.body.code != "OK", "the sandbox accepted it"
        return str(answer.body.code)
    return str(getattr(answer, "code", answer))


@pytest.mark.parametrize(("fields", "code"), list(REFUSED.values()), ids=list(REFUSED))
def test_the_sandbox_refuses_what_message_refuses_from_the_official_sdk(
        served: tuple[Sandbox, SandboxServer], fields: dict[str, Any], code: str) -> None:
    sandbox, server = served
    before = sandbox.messages()
    assert Message.check(fields, as_sent=True)[0] is None  # what the sandbox is held to
    answer = sdk_send(server, fields)
    assert refusal_code(answer) == code
    assert sandbox.messages() == before


def test_a_message_too_long_to_send_is_refused_and_never_recorded(
        served: tuple[Sandbox, SandboxServer]) -> None:
    sandbox, server = served
    before = sandbox.messages()
    fields = {**MESSENGER, "content": TOO_LONG}
    problems = Message.check(fields)[1]
    assert [(p.field, p.rule) for p in problems] == [("Content", "too_long")]
    assert str(MAX_QUERY_LENGTH) in problems[0].message
    assert refusal_code(sdk_send(server, fields)) != "OK"
    assert sandbox.messages() == before


@pytest.mark.parametrize("fields", [
    {**TEMPLATE, "to": "8613900000001"},
    {**MESSENGER, "content": json.dumps({"text": "é" * 2_000}, ensure_ascii=False)},
], ids=["a template message", "a long text that fits"])
def test_a_correct_message_from_the_official_sdk_is_accepted_and_recorded(
        served: tuple[Sandbox, SandboxServer], fields: dict[str, Any]) -> None:
    sandbox, server = served
    answer = sdk_send(server, fields)
    assert answer.status_code == 200 and answer.body.code == "OK", answer
    (recorded,) = [m for m in sandbox.messages() if m["message_id"] == answer.body.message_id]
    assert recorded["to"] == fields["to"]


def test_checking_as_sent_refuses_a_number_message_would_put_right() -> None:
    fields = {**TEMPLATE, "to": "+86 139 0000 0001"}
    assert Message.check(fields)[0] is not None
    _, problems = Message.check(fields, as_sent=True)
    assert [(p.field, p.rule, p.code) for p in problems] == [
        ("To", "digits_only", "InvalidParameter.ToOnlyNumeric")]
    assert "8613900000001" in problems[0].message
    _, problems = Message.check({**TEMPLATE, "to": "8613900000001", "from_": "8613800000000.0"},
                                as_sent=True)
    assert [(p.field, p.code) for p in problems] == [("From", "InvalidParameter.FromOnlyNumeric")]
