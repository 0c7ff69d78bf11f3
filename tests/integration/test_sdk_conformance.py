"""Conformance with the official SDK (alibabacloud-cams20200606 5.3.1, tea-openapi 0.4.6).

The SDK is the reference, never a dependency: ``sdk_reference`` runs it unmodified and
captures what it puts on the wire. Pinned here:

* ``Message.to_query()`` is exactly the query the SDK sends for the same request, across
  every channel, template and free-form sends, every JSON parameter, the Viber and fallback
  parameters, unicode and URL-reserved characters (a table and a Hypothesis property);
* our signing equals the SDK's (the reference's V3 and V1 test vectors; a property over
  requests built by ``Client.build_request``; the SDK's own captured requests re-verified);
* the SDK, unmodified, is accepted by the loopback sandbox with V3 and V1 signatures and
  refused with its own ``ClientException`` on a wrong secret; our ``Client`` and
  ``AsyncClient`` pass the same sends in-process and over the server.

Free-form ``Content``: the SDK takes a string, so it gets the compact JSON text
(``ensure_ascii=False``, no spaces) of the same value ``Message`` is given.
"""

from __future__ import annotations

import ast
import json
import re
import string
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from alibabacloud_tea_openapi.exceptions import ClientException
from darabonba.runtime import RuntimeOptions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cams_notebook
from cams_notebook import AsyncClient, AuthError, Client, Message
from cams_notebook.models import FlowAction, ProductAction, ProductItem, ProductSection
from cams_notebook.sandbox import Sandbox
from cams_notebook.sandbox.server import SandboxServer
from cams_notebook.signing import (
    AcsV3Auth,
    authorization_v3,
    canonical_request_v3,
    signature_v1,
    signature_v3,
)
from tests.sdk_reference import (
    EMPTY_SHA256,
    SDK_ACCESS_KEY_ID,
    SDK_ACCESS_KEY_SECRET,
    capture,
    capture_url,
    sdk_authorization,
    sdk_client,
    sdk_models,
    sdk_query,
    sdk_request,
    sdk_v1_signature,
    sdk_wire,
)

WA_FROM = "8613800000000"
WA_TO = "8613900000000"
VIBER_FROM = "12345"
PAGE_ID = "104523987112345"
ORDER_SHIPPED = "830174529611842305"
RESERVED = "a b*c~d/e&f=g+h%i"
UNICODE = "Zoë 👋🏽 你好，世界 مرحبا بالعالم שלום"
HOST = "cams.ap-southeast-1.aliyuncs.com"


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def sdk_kwargs(spec: dict[str, Any]) -> dict[str, Any]:
    """SDK keyword arguments for a request written with its PascalCase wire names.

    The SDK's own ``from_map`` does the mapping, so ProductAction/FlowAction become the SDK's
    nested model objects; ``Content`` becomes compact JSON text, as a caller would pass it.
    """
    wire = dict(spec)
    content = wire.pop("Content", None)
    request = sdk_models.SendChatappMessageRequest().from_map(wire)
    kwargs = {name: value for name, value in vars(request).items() if value is not None}
    if content is not None:
        kwargs["content"] = content if isinstance(content, str) else compact(content)
    return kwargs


def ours(spec: dict[str, Any]) -> dict[str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return Message.model_validate(spec).to_query()


def diff(got: dict[str, str], want: dict[str, str]) -> dict[str, tuple[str | None, str | None]]:
    return {k: (got.get(k), want.get(k)) for k in sorted(set(got) | set(want))
            if got.get(k) != want.get(k)}


# -- to_query() against the SDK's captured query ---------------------------------------------


def wa_template(**extra: Any) -> dict[str, Any]:
    return {"ChannelType": "whatsapp", "Type": "template", "From": WA_FROM, "To": WA_TO,
            "TemplateCode": ORDER_SHIPPED, "Language": "en",
            "TemplateParams": {"name": "Ada", "order_id": "A-1001"}, **extra}


PARTIES = {  # channel -> (From, To) in the shape each channel uses
    "whatsapp": (WA_FROM, WA_TO), "viber": (VIBER_FROM, WA_TO),
    "messenger": (PAGE_ID, "6543210987654321"), "instagram": ("17841400000000000", "IGSID-1"),
    "telegram": ("bot123456", "-1001234567890"), "line": ("2001234567", "U4af4980629"),
}


def free_form(channel: str, message_type: str, content: Any, **extra: Any) -> dict[str, Any]:
    sender, recipient = PARTIES[channel]
    return {"ChannelType": channel, "Type": "message", "MessageType": message_type,
            "From": sender, "To": recipient, "Content": content, **extra}


PRODUCTS = {
    "ThumbnailProductRetailerId": "sku-1",
    "Sections": [
        {"Title": "Shoes 👟", "ProductItems": [{"ProductRetailerId": "sku-1"},
                                              {"ProductRetailerId": "sku 2/x&y"}]},
        {"Title": "Hats", "ProductItems": [{"ProductRetailerId": "h-1"}]},
    ],
}
FLOW = {
    "FlowToken": "tok/1&2=3",
    "FlowActionData": {"screen": "WELCOME", "count": 3,
                       "prefill": {"name": "Zoë", "items": [1, 2.5, True, None, "é"],
                                   "nested": {"deep": {"x": RESERVED}}}},
}
VIBER_EXTRAS = {"Label": "transaction", "Ttl": 3600, "Tag": "spring sale/2025 ✿",
                "TrackingData": "tracking_id:123456&x=1"}
FALLBACK = {"FallBackId": "S_000001", "FallBackContent": f"Your order shipped & more: {UNICODE}",
            "FallBackDuration": 120, "FallBackRule": "sentFailed"}
LINK = "https://cdn.example.com/media/a.jpg?w=1&h=2"

CASES: dict[str, dict[str, Any]] = {
    # templates
    "whatsapp-template-code": wa_template(),
    "whatsapp-template-name": wa_template(TemplateCode=None, TemplateName="order_shipped",
                                          Language="pt_BR"),
    "whatsapp-template-reserved-chars": wa_template(TemplateParams={
        "q": RESERVED, "pct": "100% off + 5% tax", "url": "https://e.com/a?b=c&d=e#f",
        "stars": "*bold* ~strike~ _it_", "spaces": "  lead and trail  "}),
    "whatsapp-template-unicode": wa_template(TemplateParams={
        "name": "Zoë", "emoji": "👋🏽🎉", "cjk": "你好，世界", "arabic": "مرحبا بالعالم",
        "hebrew": "שלום", "nfd": "Zoe\u0308", "名字": "值"}),
    "whatsapp-template-empty-params": wa_template(TemplateParams={}),
    "whatsapp-template-payload": wa_template(Payload=["yes", "no thanks", RESERVED, "👍"]),
    "whatsapp-template-product-action": wa_template(ProductAction=PRODUCTS),
    "whatsapp-template-product-action-bare": wa_template(
        ProductAction={"Sections": [{"ProductItems": [{"ProductRetailerId": "r1"}]}]}),
    "whatsapp-template-product-action-thumbnail-only": wa_template(
        ProductAction={"ThumbnailProductRetailerId": "t1"}),
    "whatsapp-template-flow-action": wa_template(FlowAction=FLOW),
    "whatsapp-template-flow-token-only": wa_template(FlowAction={"FlowToken": "tok"}),
    "whatsapp-template-flow-data-only": wa_template(FlowAction={"FlowActionData": {"a": 1}}),
    "whatsapp-template-every-optional": wa_template(
        Payload=["p1", "p2"], RecipientType="individual",
        ContextMessageId="61851ccb2f1365b16aee****", CustSpaceId="cams-8c8*********",
        TaskId="task 42/α&β", Category="UTILITY", **FALLBACK),
    "whatsapp-template-marketing-undelivered": wa_template(
        Category="MARKETING", FallBackRule="undelivered", FallBackDuration=43200),
    "whatsapp-template-recipient-user-id": wa_template(
        RecipientType="userId", To="US.13491208655302741918"),
    "whatsapp-template-recipient-group": wa_template(RecipientType="group"),
    "whatsapp-template-empty-optional-string": wa_template(ContextMessageId="", TaskId=""),
    "viber-template": {"ChannelType": "viber", "Type": "template", "From": VIBER_FROM,
                       "To": WA_TO, "TemplateCode": "8301745296118427761", "Language": "en",
                       "TemplateParams": {"name": UNICODE}, **VIBER_EXTRAS, **FALLBACK},
    "viber-template-ttl-bounds": {"ChannelType": "viber", "Type": "template", "From": VIBER_FROM,
                                  "To": WA_TO, "TemplateName": "viber_notice", "Language": "ru",
                                  "TemplateParams": {"tracking_id": "T-1", "date": "1 июня"},
                                  "Label": "promotion", "Ttl": 30},
    "messenger-template": {"ChannelType": "messenger", "Type": "template", "From": PAGE_ID,
                           "To": "6543210987654321", "TemplateCode": "m1", "Language": "en",
                           "TemplateParams": {"name": RESERVED}, "CustSpaceId": "cams-1"},
    "instagram-template": {"ChannelType": "instagram", "Type": "template",
                           "From": "17841400000000000", "To": "IGSID-1", "TemplateName": "ig",
                           "Language": "zh_HK", "TemplateParams": {"名": "王"}},
    "telegram-template": {"ChannelType": "telegram", "Type": "template", "From": "bot123456",
                          "To": "-1001234567890", "TemplateCode": "tg1", "Language": "en"},
    "line-template": {"ChannelType": "line", "Type": "template", "From": "2001234567",
                      "To": "U4af4980629", "TemplateCode": "ln1", "Language": "ja",
                      "TemplateParams": {"名前": "さくら"}},
    # free-form: WhatsApp
    "whatsapp-text-unicode": free_form("whatsapp", "text",
                                       {"text": f"{UNICODE} *bold* _it_ ~strike~"},
                                       ContextMessageId="wamid.HBgLODYxMzkwMDAwMDAw"),
    "whatsapp-text-reserved-chars": free_form("whatsapp", "text",
                                              {"text": f"{RESERVED} 100% & more\nline 2"},
                                              TaskId="t-1", CustSpaceId="cams-2"),
    "whatsapp-text-content-as-json-text": free_form("whatsapp", "text",
                                                    compact({"text": f"{UNICODE} {RESERVED}"})),
    "whatsapp-text-user-id": free_form("whatsapp", "text", {"text": "hi"},
                                       RecipientType="userId", To="US.1349120865"),
    "whatsapp-image": free_form("whatsapp", "image", {"link": LINK, "caption": "Look 👀 & see"}),
    "whatsapp-image-link-only": free_form("whatsapp", "image", {"link": LINK}),
    "whatsapp-video": free_form("whatsapp", "video",
                                {"link": "https://e.com/v.mp4", "caption": "clip"}),
    "whatsapp-audio": free_form("whatsapp", "audio", {"link": "https://e.com/a.ogg"}),
    "whatsapp-document": free_form("whatsapp", "document",
                                   {"link": "https://e.com/invoice.pdf",
                                    "fileName": "invoice 42.pdf", "caption": "Invoice"}),
    "whatsapp-sticker": free_form("whatsapp", "sticker", {"link": "https://e.com/s.webp"}),
    "whatsapp-location": free_form("whatsapp", "location",
                                   {"latitude": 30.27, "longitude": 120.15,
                                    "name": "West Lake", "address": "Hangzhou 杭州"}),
    "whatsapp-location-whole-degrees": free_form("whatsapp", "location",
                                                 {"latitude": 30, "longitude": 120}),
    "whatsapp-location-degrees-as-text": free_form("whatsapp", "location",
                                                   {"latitude": "28.001", "longitude": "120.5"}),
    "whatsapp-contacts": free_form("whatsapp", "contacts", [
        {"name": {"formatted_name": "Zoë Ng", "first_name": "Zoë"},
         "phones": [{"phone": "+86 139 0000 0000", "type": "WORK"}]}]),
    "whatsapp-reaction": free_form("whatsapp", "reaction", {"messageId": "m1", "emoji": "👍"}),
    "whatsapp-interactive-buttons": free_form("whatsapp", "interactive", {
        "type": "button", "header": {"type": "text", "text": "Hi"}, "body": {"text": "Pick one"},
        "footer": {"text": "Example Shop"},
        "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Yes"}}]}}),
    "whatsapp-interactive-list": free_form("whatsapp", "interactive", {
        "type": "list", "body": {"text": "Menu"},
        "action": {"button": "Open", "sections": [{"title": "S", "rows": [
            {"id": "r1", "title": "Row", "description": "d"}]}]}}),
    "whatsapp-typing-indicator": free_form("whatsapp", "typing_indicator",
                                           {"messageId": "wamid.1", "type": "text"}),
    # free-form: Viber
    "viber-text": free_form("viber", "text", {"text": UNICODE}, **VIBER_EXTRAS, **FALLBACK),
    "viber-image": free_form("viber", "image", {"link": LINK}, Label="promotion"),
    "viber-video": free_form("viber", "video", {"link": "https://e.com/v.mp4",
                                                "thumbnail": "https://e.com/t.jpg",
                                                "fileSize": 1024, "duration": 10}),
    "viber-document": free_form("viber", "document", {"link": "https://e.com/a.docx",
                                                      "fileName": "a.docx", "fileType": "docx"}),
    "viber-text-button": free_form("viber", "text_button", {
        "text": "Sale ✿", "caption": "Open", "action": "https://e.com/?a=1&b=2"}),
    "viber-text-image": free_form("viber", "text_image", {"text": "t", "link": LINK}),
    "viber-text-image-button": free_form("viber", "text_image_button", {
        "text": "t", "link": LINK, "caption": "Open", "action": "https://e.com"}),
    "viber-text-video": free_form("viber", "text_video", {
        "text": "t", "link": "https://e.com/v.mp4", "thumbnail": "https://e.com/t.jpg",
        "fileSize": 1024, "duration": 10}),
    "viber-text-video-button": free_form("viber", "text_video_button", {
        "text": "t", "link": "https://e.com/v.mp4", "thumbnail": "https://e.com/t.jpg",
        "fileSize": 1024, "duration": 10, "caption": "Open", "action": "https://e.com"}),
    # free-form: Messenger, Instagram, Telegram, LINE
    "messenger-text": free_form("messenger", "text", {"text": f"{RESERVED} {UNICODE}"}),
    "messenger-image": free_form("messenger", "image", {"link": LINK}),
    "messenger-quick-reply": free_form("messenger", "quickReply", {
        "text": "Pick", "quick_replies": [{"content_type": "text", "title": "Red",
                                           "payload": "RED"}]}),
    "instagram-text": free_form("instagram", "text", {"text": "héllo ✨"}),
    "instagram-video": free_form("instagram", "video", {"link": "https://e.com/v.mp4"}),
    "telegram-text": free_form("telegram", "text", {"text": "Привет & *bold*"}),
    "telegram-location": free_form("telegram", "location",
                                   {"latitude": "28.001", "longitude": "120.5"}),
    "telegram-interactive": free_form("telegram", "interactive", {
        "type": "sendPhoto", "sendPhoto": {"photo": "http://img.png", "caption": "21"}}),
    "line-text": free_form("line", "text", {"text": "こんにちは 🌸"}),
    "line-sticker": free_form("line", "sticker", {"packageId": "446", "stickerId": "1988"}),
    "line-flex": free_form("line", "flex", {"altText": "a", "contents": {"type": "bubble"}}),
}


@pytest.mark.parametrize("spec", list(CASES.values()), ids=list(CASES))
def test_to_query_equals_the_sdk_query(spec: dict[str, Any]) -> None:
    spec = {k: v for k, v in spec.items() if v is not None}
    got, want = ours(spec), sdk_query(**sdk_kwargs(spec))
    assert got == want, diff(got, want)


def test_snake_case_and_model_objects_match_sdk_model_objects() -> None:
    message = Message(
        channel_type="whatsapp", type="template", from_=WA_FROM, to=WA_TO,
        template_code=ORDER_SHIPPED, language="en", template_params={"name": "Zoë"},
        payload=["a b", "c&d"],
        product_action=ProductAction(
            thumbnail_product_retailer_id="t1",
            sections=[ProductSection(title="S",
                                     product_items=[ProductItem(product_retailer_id="r1"),
                                                    ProductItem(product_retailer_id="r2")]),
                      ProductSection(product_items=[ProductItem(product_retailer_id="r3")])]),
        flow_action=FlowAction(flow_token="tok", flow_action_data={"z": 1, "a": {"b": [1, "é"]}}),
        recipient_type="individual", task_id="task-1", cust_space_id="cams-1",
    )
    m = sdk_models
    want = sdk_query(
        channel_type="whatsapp", type="template", from_=WA_FROM, to=WA_TO,
        template_code=ORDER_SHIPPED, language="en", template_params={"name": "Zoë"},
        payload=["a b", "c&d"],
        product_action=m.SendChatappMessageRequestProductAction(
            thumbnail_product_retailer_id="t1",
            sections=[
                m.SendChatappMessageRequestProductActionSections(title="S", product_items=[
                    m.SendChatappMessageRequestProductActionSectionsProductItems(
                        product_retailer_id="r1"),
                    m.SendChatappMessageRequestProductActionSectionsProductItems(
                        product_retailer_id="r2")]),
                m.SendChatappMessageRequestProductActionSections(product_items=[
                    m.SendChatappMessageRequestProductActionSectionsProductItems(
                        product_retailer_id="r3")]),
            ]),
        flow_action=m.SendChatappMessageRequestFlowAction(
            flow_token="tok", flow_action_data={"z": 1, "a": {"b": [1, "é"]}}),
        recipient_type="individual", task_id="task-1", cust_space_id="cams-1",
    )
    got = message.to_query()
    assert got == want, diff(got, want)


def test_the_package_never_imports_the_sdk() -> None:
    sdk_roots = {"alibabacloud_cams20200606", "alibabacloud_tea_openapi", "alibabacloud_tea_util",
                 "alibabacloud_credentials", "darabonba", "Tea"}
    package = Path(cams_notebook.__file__).parent
    offenders = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(package)}: {n}" for n in names
                          if n.split(".")[0] in sdk_roots]
    assert offenders == []


def test_to_normalisation_is_the_only_change_to_a_whatsapp_number() -> None:
    spec = wa_template(To="+86 139-0000-0000")
    assert ours(spec) == sdk_query(**sdk_kwargs({**spec, "To": "8613900000000"}))


def test_the_sdk_sends_every_parameter_in_the_query_of_an_empty_post() -> None:
    wire = sdk_wire(**sdk_kwargs(CASES["whatsapp-template-every-optional"]))
    assert (wire.method, wire.path, wire.body) == ("POST", "/", b"")
    assert [k for k, _ in wire.query] == sorted(k for k, _ in wire.query)
    assert wire.headers["x-acs-content-sha256"] == EMPTY_SHA256


# -- Hypothesis: generated values ------------------------------------------------------------

_CHARS = st.one_of(st.characters(blacklist_categories=("Cs",)), st.sampled_from(" *~/&=+%"))
_PLACEHOLDER = re.compile(r"\{\{\s*\d+\s*\}\}")
_PROPERTY = settings(max_examples=200, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow])
CHANNELS = ("whatsapp", "viber", "messenger", "instagram", "telegram", "line")


@_PROPERTY
@given(channel=st.sampled_from(CHANNELS),
       params=st.dictionaries(st.text(_CHARS, max_size=12), st.text(_CHARS, max_size=40),
                              max_size=5))
def test_template_params_property(channel: str, params: dict[str, str]) -> None:
    sender, recipient = PARTIES[channel]
    spec = {"ChannelType": channel, "Type": "template", "From": sender, "To": recipient,
            "TemplateCode": "c1", "Language": "en", "TemplateParams": params}
    got, want = ours(spec), sdk_query(**sdk_kwargs(spec))
    assert got == want, diff(got, want)


@_PROPERTY
@given(channel=st.sampled_from(CHANNELS),
       text=st.text(_CHARS, min_size=1, max_size=300).filter(
           lambda t: t.strip() and not _PLACEHOLDER.search(t)))
def test_text_content_property(channel: str, text: str) -> None:
    spec = free_form(channel, "text", {"text": text})
    got, want = ours(spec), sdk_query(**sdk_kwargs(spec))
    assert got == want, diff(got, want)


# -- Signing ---------------------------------------------------------------------------------

VECTOR_QUERY = {
    "ChannelType": "whatsapp", "CustSpaceId": "cams-test", "From": WA_FROM, "Language": "en",
    "TemplateCode": "744c4b5c79c9432497a075bdfca3****",
    "TemplateParams": compact({"name": "Zoë & co", "code": "12 34"}), "To": WA_TO,
    "Type": "template",
}
VECTOR_NONCE = "3a1b2c3d4e5f60718293a4b5c6d7e8f9"
VECTOR_EPOCH = 1735689600.0  # 2025-01-01T00:00:00Z
VECTOR_HEADERS = {
    "host": HOST, "x-acs-action": "SendChatappMessage", "x-acs-version": "2020-06-06",
    "x-acs-date": "2025-01-01T00:00:00Z", "x-acs-signature-nonce": VECTOR_NONCE,
    "x-acs-content-sha256": EMPTY_SHA256,
}
VECTOR_SIGNED = ("host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;"
                 "x-acs-version")
VECTOR_AUTHORIZATION = (
    f"ACS3-HMAC-SHA256 Credential=LTAI_TEST_ID,SignedHeaders={VECTOR_SIGNED},"
    "Signature=a865cf5e7d6b75a658596cb64956321411c5697f74a566784060c5ef2c189570")
V1_VECTOR = {
    "Action": "SendChatappMessage", "Format": "json", "Version": "2020-06-06",
    "Timestamp": "2025-01-01T00:00:00Z", "SignatureNonce": VECTOR_NONCE,
    "ChannelType": "whatsapp", "Type": "message", "MessageType": "text", "From": WA_FROM,
    "To": WA_TO, "Content": '{"text":"hi there"}', "SignatureMethod": "HMAC-SHA1",
    "SignatureVersion": "1.0", "AccessKeyId": "LTAI_TEST_ID",
}


def test_v3_test_vector() -> None:
    canonical, signed = canonical_request_v3("POST", "/", VECTOR_QUERY.items(), VECTOR_HEADERS,
                                             VECTOR_HEADERS, EMPTY_SHA256)
    assert signed == VECTOR_SIGNED
    assert canonical.split("\n")[2] == (
        "ChannelType=whatsapp&CustSpaceId=cams-test&From=8613800000000&Language=en&"
        "TemplateCode=744c4b5c79c9432497a075bdfca3%2A%2A%2A%2A&TemplateParams=%7B%22name%22%3A"
        "%22Zo%C3%AB%20%26%20co%22%2C%22code%22%3A%2212%2034%22%7D&To=8613900000000&Type=template")
    ours_auth = authorization_v3("LTAI_TEST_ID", signed, signature_v3("TEST_SECRET", canonical))
    assert ours_auth == VECTOR_AUTHORIZATION
    assert sdk_authorization("POST", VECTOR_QUERY, VECTOR_HEADERS, "LTAI_TEST_ID",
                             "TEST_SECRET") == VECTOR_AUTHORIZATION


def test_v3_test_vector_through_client_and_auth() -> None:
    with Client(access_key_id="LTAI_TEST_ID", access_key_secret="TEST_SECRET") as client:
        request = client.build_request("SendChatappMessage", VECTOR_QUERY)
    auth = AcsV3Auth("LTAI_TEST_ID", "TEST_SECRET", clock=lambda: VECTOR_EPOCH,
                     nonce=lambda: VECTOR_NONCE)
    signed = next(auth.auth_flow(request))
    assert signed.headers["authorization"] == VECTOR_AUTHORIZATION


def test_v1_test_vector() -> None:
    assert signature_v1(V1_VECTOR, "POST", "TEST_SECRET") == "yerx03rMG8m3c+UYjsteFxB8Y0c="
    assert sdk_v1_signature(V1_VECTOR, "POST", "TEST_SECRET") == "yerx03rMG8m3c+UYjsteFxB8Y0c="


def _signed_header_names(authorization: str) -> list[str]:
    return re.search(r"SignedHeaders=([^,]+)", authorization).group(1).split(";")  # type: ignore[union-attr]


def test_sdk_v3_request_on_the_wire_verifies_with_our_functions() -> None:
    wire = sdk_wire(**sdk_kwargs(CASES["whatsapp-template-every-optional"]))
    names = _signed_header_names(wire.headers["authorization"])
    canonical, signed = canonical_request_v3(wire.method, wire.path, wire.query, wire.headers,
                                             names, wire.headers["x-acs-content-sha256"])
    assert authorization_v3(SDK_ACCESS_KEY_ID, signed,
                            signature_v3(SDK_ACCESS_KEY_SECRET, canonical)) == \
        wire.headers["authorization"]


def test_sdk_v1_request_on_the_wire_verifies_with_our_functions() -> None:
    wire = sdk_wire(signature_algorithm="v2", **sdk_kwargs(CASES["viber-text"]))
    params = dict(wire.query)
    assert params["SignatureMethod"] == "HMAC-SHA1"
    assert signature_v1(params, wire.method, SDK_ACCESS_KEY_SECRET) == params["Signature"]
    business = {k: v for k, v in params.items()
                if k not in {"Action", "Format", "Version", "Timestamp", "SignatureNonce",
                             "SignatureMethod", "SignatureVersion", "AccessKeyId", "Signature"}}
    assert business == sdk_query(**sdk_kwargs(CASES["viber-text"]))


@pytest.fixture(scope="module")
def clients_by_endpoint() -> Iterator[dict[str, Client]]:
    clients: dict[str, Client] = {}
    yield clients
    for client in clients.values():
        client.close()


_KEYS = st.text(string.ascii_letters + string.digits, min_size=1, max_size=20)  # wire names
_TOKEN = st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=40)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    params=st.dictionaries(_KEYS, st.text(_CHARS, max_size=40), max_size=8),
    action=st.sampled_from(["SendChatappMessage", "ListChatappTemplate",
                            "GetChatappTemplateDetail"]),
    endpoint=st.sampled_from([None, "cams.ap-southeast-1.aliyuncs.com", "http://127.0.0.1:8787",
                              "http://localhost:1234", "https://cams.example.com:8443"]),
    epoch=st.integers(min_value=0, max_value=4_102_444_799),
    nonce=_TOKEN, key_id=_TOKEN,
    secret=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40),
)
def test_acs_v3_auth_matches_the_sdk_property(
    clients_by_endpoint: dict[str, Client], params: dict[str, str], action: str,
    endpoint: str | None, epoch: int, nonce: str, key_id: str, secret: str,
) -> None:
    client = clients_by_endpoint.get(str(endpoint))
    if client is None:
        client = clients_by_endpoint[str(endpoint)] = Client(
            access_key_id="unused", access_key_secret="unused", endpoint=endpoint)
    request = client.build_request(action, params)
    auth = AcsV3Auth(key_id, secret, clock=lambda: float(epoch), nonce=lambda: nonce)
    signed = next(auth.auth_flow(request))
    query = dict(parse_qsl(signed.url.query.decode("ascii"), keep_blank_values=True))
    assert query == params
    headers = {k: v for k, v in signed.headers.items()
               if k == "host" or k == "content-type" or k.startswith("x-acs-")}
    assert {"host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce",
            "x-acs-content-sha256"} <= set(headers)
    assert signed.headers["authorization"] == sdk_authorization(
        signed.method, query, headers, key_id, secret, payload=signed.content)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(_KEYS.filter(lambda k: k != "Signature"),  # never self-signed
                             st.text(_CHARS, max_size=40), max_size=10),
       method=st.sampled_from(["POST", "GET"]),
       secret=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40))
def test_signature_v1_matches_the_sdk_property(params: dict[str, str], method: str,
                                               secret: str) -> None:
    assert signature_v1(params, method, secret) == sdk_v1_signature(params, method, secret)


CAPTURED_CASES = ["whatsapp-template-every-optional", "whatsapp-template-product-action",
                  "whatsapp-template-flow-action", "whatsapp-template-unicode", "viber-text",
                  "whatsapp-text-reserved-chars", "line-flex"]


@pytest.mark.parametrize("case", CAPTURED_CASES)
def test_our_signed_request_carries_exactly_the_sdk_parameters(case: str) -> None:
    spec = CASES[case]
    with Client(access_key_id=SDK_ACCESS_KEY_ID, access_key_secret=SDK_ACCESS_KEY_SECRET,
                endpoint=capture_url()) as client:
        result, wire = capture(lambda: client.send(Message.model_validate(spec)))
    assert result.ok and result.message_id == "m"
    assert (wire.method, wire.path, wire.body) == ("POST", "/", b"")
    want = sdk_wire(**sdk_kwargs(spec))
    assert sorted(wire.query) == sorted(want.query)
    # and the SDK's own V3 function accepts our signature over what arrived
    names = _signed_header_names(wire.headers["authorization"])
    assert wire.headers["authorization"] == sdk_authorization(
        wire.method, dict(wire.query), {n: wire.headers[n] for n in names},
        SDK_ACCESS_KEY_ID, SDK_ACCESS_KEY_SECRET)


# -- The SDK, unmodified, against the loopback sandbox ---------------------------------------

SANDBOX_KEY_ID = "conformance-key-id"
SANDBOX_SECRET = "conformance-secret"
DELIVERED = "15550100001"  # sandbox magic number: accepted, Sent/Delivered/Read
SENDS: dict[str, dict[str, Any]] = {
    "whatsapp-template": {"ChannelType": "whatsapp", "Type": "template", "From": WA_FROM,
                          "To": DELIVERED, "TemplateCode": ORDER_SHIPPED, "Language": "en",
                          "TemplateParams": {"name": "Zoë 👋", "order_id": "A-1001"}},
    "whatsapp-text": {"ChannelType": "whatsapp", "Type": "message", "MessageType": "text",
                      "From": WA_FROM, "To": DELIVERED,
                      "Content": {"text": f"Hi *there* ~ {UNICODE} & 100%"}},
    "viber-text": {"ChannelType": "viber", "Type": "message", "MessageType": "text",
                   "From": VIBER_FROM, "To": DELIVERED, "Content": {"text": "Hello ✓ a+b=c"},
                   "Label": "transaction", "Ttl": 3600},
}
ALGORITHMS = {"v3": None, "v1": "v2"}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Sandbox, SandboxServer]]:
    sandbox = Sandbox(access_key_id=SANDBOX_KEY_ID, access_key_secret=SANDBOX_SECRET, seed=11)
    try:
        server = sandbox.serve()
    except (OSError, RuntimeError) as exc:
        # the project's own server is part of what this file checks: broken is a failure
        pytest.fail(f"cams_notebook/sandbox/server.py did not start: {exc!r}")
    yield sandbox, server
    sandbox.stop()


def _recorded(sandbox: Sandbox, message_id: str) -> dict[str, Any]:
    found = [m for m in sandbox.messages() if m["message_id"] == message_id]
    assert len(found) == 1, f"the sandbox recorded {len(found)} messages with id {message_id}"
    return found[0]


@pytest.mark.parametrize("algorithm", list(ALGORITHMS), ids=list(ALGORITHMS))
@pytest.mark.parametrize("kind", list(SENDS))
def test_sdk_sends_to_the_sandbox_server(served: tuple[Sandbox, SandboxServer], kind: str,
                                        algorithm: str) -> None:
    sandbox, server = served
    client = sdk_client(ALGORITHMS[algorithm], endpoint=f"127.0.0.1:{server.port}",
                        access_key_id=SANDBOX_KEY_ID, access_key_secret=SANDBOX_SECRET)
    kwargs = sdk_kwargs(SENDS[kind])
    response = client.send_chatapp_message_with_options(sdk_request(**kwargs), RuntimeOptions())
    assert response.status_code == 200
    assert response.body.code == "OK", response.body.to_map()
    assert response.body.message_id
    record = _recorded(sandbox, response.body.message_id)
    assert record["access_key_id"] == SANDBOX_KEY_ID
    assert record["params"] == sdk_query(**kwargs)


@pytest.mark.parametrize("algorithm", list(ALGORITHMS), ids=list(ALGORITHMS))
def test_sdk_with_a_wrong_secret_gets_its_own_client_exception(
        served: tuple[Sandbox, SandboxServer], algorithm: str) -> None:
    sandbox, server = served
    client = sdk_client(ALGORITHMS[algorithm], endpoint=f"127.0.0.1:{server.port}",
                        access_key_id=SANDBOX_KEY_ID, access_key_secret="not-the-secret")
    before = len(sandbox.messages())
    with pytest.raises(ClientException) as caught:
        client.send_chatapp_message_with_options(
            sdk_request(**sdk_kwargs(SENDS["whatsapp-template"])), RuntimeOptions())
    assert type(caught.value) is ClientException  # not Throttling/ServerException
    assert caught.value.code == "SignatureDoesNotMatch"
    assert caught.value.status_code == 400
    assert caught.value.request_id
    assert len(sandbox.messages()) == before


# -- Our clients pass the same sends ---------------------------------------------------------


def _our_clients(sandbox: Sandbox, server: SandboxServer, where: str, secret: str = SANDBOX_SECRET,
                 is_async: bool = False) -> Any:
    if where == "in-process":
        make = sandbox.async_client if is_async else sandbox.client
        return make(access_key_secret=secret)
    cls = AsyncClient if is_async else Client
    return cls(access_key_id=SANDBOX_KEY_ID, access_key_secret=secret, endpoint=server.url)


WHERE = ["in-process", "server"]


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("kind", list(SENDS))
def test_client_sends_to_the_sandbox(served: tuple[Sandbox, SandboxServer], kind: str,
                                     where: str) -> None:
    sandbox, server = served
    with _our_clients(sandbox, server, where) as client:
        result = client.send(Message.model_validate(SENDS[kind]))
    assert result.ok and result.message_id
    assert _recorded(sandbox, result.message_id)["params"] == sdk_query(**sdk_kwargs(SENDS[kind]))


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("kind", list(SENDS))
async def test_async_client_sends_to_the_sandbox(served: tuple[Sandbox, SandboxServer], kind: str,
                                                 where: str) -> None:
    sandbox, server = served
    async with _our_clients(sandbox, server, where, is_async=True) as client:
        result = await client.send(Message.model_validate(SENDS[kind]))
    assert result.ok and result.message_id
    assert _recorded(sandbox, result.message_id)["params"] == sdk_query(**sdk_kwargs(SENDS[kind]))


@pytest.mark.parametrize("where", WHERE)
def test_client_with_a_wrong_secret_gets_signature_does_not_match(
        served: tuple[Sandbox, SandboxServer], where: str) -> None:
    sandbox, server = served
    with (_our_clients(sandbox, server, where, secret="not-the-secret") as client,
          pytest.raises(AuthError) as caught):
        client.send(Message.model_validate(SENDS["whatsapp-template"]))
    assert caught.value.code == "SignatureDoesNotMatch"
    assert caught.value.status_code == 400


@pytest.mark.parametrize("where", WHERE)
async def test_async_client_with_a_wrong_secret_gets_signature_does_not_match(
        served: tuple[Sandbox, SandboxServer], where: str) -> None:
    sandbox, server = served
    async with _our_clients(sandbox, server, where, secret="not-the-secret",
                            is_async=True) as client:
        with pytest.raises(AuthError) as caught:
            await client.send(Message.model_validate(SENDS["whatsapp-template"]))
    assert caught.value.code == "SignatureDoesNotMatch"

