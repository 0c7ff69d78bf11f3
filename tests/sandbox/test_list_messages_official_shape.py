"""The sandbox's ListChatappMessage, read by the official SDK (``alibabacloud_cams20200606``).

The SDK runs unmodified against the loopback sandbox server and parses the answer into its
own ``ListChatappMessageResponseBody``: ``Data`` must come back as a list of typed
``ListChatappMessageResponseBodyData`` records with the values the sandbox knows, and a
missing required parameter as the SDK's own ``ClientException`` with ``Missing<Name>``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from alibabacloud_tea_openapi.exceptions import ClientException
from darabonba.runtime import RuntimeOptions

from cams_notebook import Message
from cams_notebook.sandbox import DEFAULT_CUST_SPACE_ID, Sandbox
from cams_notebook.sandbox.server import SandboxServer
from tests.helpers import RECIPIENT, SENDER, TEMPLATE_CODE, template_fields
from tests.sdk_reference import sdk_client, sdk_models

KEY_ID, SECRET = "sdk-listing-key", "sdk-listing-secret"
OTHER = "8613900000077"
SEND_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")  # the SDK's example form


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Sandbox, SandboxServer]]:
    sandbox = Sandbox(access_key_id=KEY_ID, access_key_secret=SECRET, seed=3, receipt_delay=0.0)
    server = sandbox.serve()
    yield sandbox, server
    sandbox.stop()


@pytest.fixture(scope="module")
def sent(served: tuple[Sandbox, SandboxServer]) -> dict[str, Any]:
    """A template and a free-form message to RECIPIENT, one template message to OTHER."""
    sandbox, _ = served
    client = sandbox.client()
    before = int(time.time() * 1000)
    template = client.send(Message(**template_fields())).message_id
    sandbox.record_inbound(RECIPIENT)  # the free-form message is inside the 24-hour window
    text = client.send(Message(channel_type="whatsapp", type="message", message_type="text",
                               from_=SENDER, to=RECIPIENT,
                               content={"text": "Hello Ada"})).message_id
    other = client.send(Message(**template_fields(to=OTHER))).message_id
    return {"template": template, "text": text, "other": other, "before": before,
            "after": int(time.time() * 1000) + 1}


def list_messages(server: SandboxServer, **kwargs: Any) -> Any:
    """The SDK's list_chatapp_message_with_options; kwargs are the request's SDK names."""
    client = sdk_client(endpoint=f"127.0.0.1:{server.port}", access_key_id=KEY_ID,
                        access_key_secret=SECRET)
    request = sdk_models.ListChatappMessageRequest(**{
        "channel_type": "whatsapp", "cust_space_id": DEFAULT_CUST_SPACE_ID,
        "business_number": SENDER,
        "page": sdk_models.ListChatappMessageRequestPage(index=1, size=20),
        **kwargs})
    return client.list_chatapp_message_with_options(request, RuntimeOptions())


def test_the_sdk_reads_a_person_s_messages_as_typed_records(
        served: tuple[Sandbox, SandboxServer], sent: dict[str, Any]) -> None:
    _, server = served
    response = list_messages(server, user_number=RECIPIENT, event_action="DOWN")
    body = response.body
    assert isinstance(body, sdk_models.ListChatappMessageResponseBody)
    assert (response.status_code, body.code, body.success) == (200, "OK", True)
    assert body.request_id
    assert all(isinstance(r, sdk_models.ListChatappMessageResponseBodyData) for r in body.data)
    by_id = {r.message_id: r for r in body.data}
    assert set(by_id) == {sent["template"], sent["text"]}  # not OTHER's

    template = by_id[sent["template"]]
    assert (template.user_number, template.business_number, template.channel_type) == \
        (RECIPIENT, SENDER, "WHATSAPP")
    assert (template.event_action, template.type, template.message_type) == \
        ("DOWN", "template", "TEMPLATE")
    assert (template.template_code, template.template_name, template.language_code) == \
        (TEMPLATE_CODE, "order_shipped", "en")
    assert template.message.startswith("Hi Ada, your order A-1 is on its way")
    assert isinstance(template.send_time, str) and SEND_TIME.match(template.send_time)
    assert template.month == template.send_time[:7].replace("-", "")
    assert template.message_status in {"success", "sent", "delivered", "read", "failed"}

    text = by_id[sent["text"]]
    assert (text.type, text.message_type, text.message) == ("message", "TEXT", "Hello Ada")
    assert text.template_code is None and text.template_name is None


def test_the_sdk_s_filters_and_pages_are_applied(served: tuple[Sandbox, SandboxServer],
                                                 sent: dict[str, Any]) -> None:
    _, server = served
    everyone = list_messages(server).body.data
    assert {r.message_id for r in everyone} >= {sent["template"], sent["text"], sent["other"]}
    window = list_messages(server, user_number=RECIPIENT, start_time=sent["before"],
                           end_time=sent["after"]).body.data
    assert {r.message_id for r in window} == {sent["template"], sent["text"]}
    assert list_messages(server, user_number=RECIPIENT, end_time=sent["before"] - 1).body.data == []
    by_template = list_messages(server, user_number=RECIPIENT, template_code=TEMPLATE_CODE).body
    assert [r.message_id for r in by_template.data] == [sent["template"]]
    assert list_messages(server, user_number=RECIPIENT, event_action="UP").body.data == []
    assert list_messages(server, cust_space_id="cams-someone-else").body.data == []
    pages = [list_messages(server, user_number=RECIPIENT,
                           page=sdk_models.ListChatappMessageRequestPage(index=i, size=1)).body.data
             for i in (1, 2, 3)]
    assert [[r.message_id for r in p] for p in pages] == [[sent["template"]], [sent["text"]], []]


@pytest.mark.parametrize("missing", ["channel_type", "cust_space_id", "business_number", "page"])
def test_a_missing_required_parameter_is_the_sdk_s_client_exception(
        served: tuple[Sandbox, SandboxServer], missing: str) -> None:
    _, server = served
    with pytest.raises(ClientException) as caught:
        list_messages(server, **{missing: None})
    wire = "".join(part.title() for part in missing.split("_"))
    assert type(caught.value) is ClientException
    assert (caught.value.code, caught.value.status_code) == (f"Missing{wire}", 400)
    assert caught.value.request_id
