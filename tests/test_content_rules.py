"""The text and link rules every content model shares, at their edges and word for word.

Oracle: ``../shared/reference/cams_api.md`` section 2 (WhatsApp text at most 4096 characters,
a caption at most 1024, Viber text at most 1000; ``link`` "only HTTP or HTTPS URLs"; bodies
with ``{{digits}}`` are rejected by the service, ``InvalidParameter.MessageInvalid``) and
``platform_rules.md``; lengths, links and reasons written out by hand.
"""

from __future__ import annotations

from typing import Any

import pytest

from cams_notebook import Message
from tests.helpers import RECIPIENT, SENDER

LINK = "https://cdn.example.com/a.jpg"


def whatsapp(message_type: str, content: dict[str, Any]) -> dict[str, Any]:
    return dict(channel_type="whatsapp", type="message", from_=SENDER, to=RECIPIENT,
                message_type=message_type, content=content)


def refusals(fields: dict[str, Any]) -> list[tuple[str, str, str]]:
    message, problems = Message.check(fields)
    assert message is None
    return [(p.field, p.rule, p.message) for p in problems]


@pytest.mark.parametrize(("message_type", "key", "limit", "extra", "why"), [
    ("text", "text", 4096, {}, "is 4097 characters long; the limit is 4096"),
    ("image", "caption", 1024, {"link": LINK}, "String should have at most 1024 characters"),
])
def test_a_body_of_exactly_its_limit_is_sent_and_one_more_is_too_long(
        message_type: str, key: str, limit: int, extra: dict[str, str], why: str) -> None:
    assert Message.check(whatsapp(message_type, {**extra, key: "a" * limit}))[1] == []
    assert refusals(whatsapp(message_type, {**extra, key: "a" * (limit + 1)})) == [
        (f"Content.{key}", "too_long", why)]


@pytest.mark.parametrize("blank", [" ", "\n\t "])
def test_a_blank_body_is_refused_as_blank(blank: str) -> None:
    assert refusals(whatsapp("text", {"text": blank})) == [
        ("Content.text", "blank", "must not be blank")]


@pytest.mark.parametrize("text", ["Hi {{1}}", "order {{12}} shipped"])
def test_a_numbered_placeholder_in_a_body_is_refused(text: str) -> None:
    assert refusals(whatsapp("text", {"text": text})) == [
        ("Content.text", "placeholder",
         "must not contain {{digits}} placeholders (the service rejects them)")]


@pytest.mark.parametrize("link", ["HTTPS://CDN.EXAMPLE.COM/A.JPG", "Http://cdn.example.com/a"])
def test_the_scheme_of_a_link_is_case_insensitive(link: str) -> None:
    assert Message.check(whatsapp("image", {"link": link}))[1] == []


@pytest.mark.parametrize("link", ["ftp://cdn.example.com/a.jpg", "cdn.example.com/a.jpg",
                                  "https://", "https:// cdn.example.com"])
def test_a_link_that_is_not_http_or_https_is_a_bad_url(link: str) -> None:
    assert refusals(whatsapp("image", {"link": link})) == [
        ("Content.link", "bad_url", "must be an http:// or https:// URL")]


def _button(i: int) -> dict[str, Any]:
    return {"type": "reply", "reply": {"id": f"i{i}", "title": "T"}}


def test_interactive_limits_from_the_reference_are_named_with_the_numbers() -> None:
    """cams_api.md section 2.1 (Meta's limits): interactive body 1024 characters, at most 3
    reply buttons."""
    def interactive(text: str, buttons: int) -> dict[str, Any]:
        return whatsapp("interactive", {"type": "button", "body": {"text": text},
                                        "action": {"buttons": [_button(i)
                                                               for i in range(buttons)]}})

    assert Message.check(interactive("a" * 1024, 3))[1] == []
    assert refusals(interactive("a" * 1025, 1)) == [
        ("Content", "too_long", "body.text is 1025 characters long; the limit is 1024")]
    assert refusals(interactive("a", 4)) == [
        ("Content", "too_many", "action.buttons has 4 items; at most 3 are allowed")]


# -- which MessageType, which Content -------------------------------------------------------


@pytest.mark.parametrize(("channel", "sender", "message_type", "valid"), [
    ("whatsapp", SENDER, "product",
     "text, image, video, audio, document, interactive, location, contacts, reaction, sticker, "
     "typing_indicator, pin, carousel"),
    ("viber", "12345", "audio",
     "text, image, video, document, text_button, text_image_button, text_video, "
     "text_video_button, text_image"),
])
def test_a_message_type_of_another_channel_is_refused_with_the_channel_s_own_list(
        channel: str, sender: str, message_type: str, valid: str) -> None:
    """cams_api.md table 1.1 (the MessageType values per channel, written out here by hand;
    ``product`` "is not a MessageType value in CAMS", Viber has no ``audio``); the service
    answers ``InvalidParameter.MessageTypeNotSupport``."""
    _, problems = Message.check(dict(channel_type=channel, type="message", from_=sender,
                                     to=RECIPIENT, message_type=message_type,
                                     content={"text": "hi"}))
    assert [(p.field, p.rule, p.message, p.code) for p in problems] == [(
        "MessageType", "not_for_channel",
        f"{message_type!r} is not a {channel} message type; use one of: {valid}",
        "InvalidParameter.MessageTypeNotSupport")]


@pytest.mark.parametrize("empty", ["", None])
def test_content_given_as_empty_text_is_missing_not_invalid_json(empty: object) -> None:
    """cams_api.md section 1: ``Content`` is required when Type=message
    (``InvalidParameter.ContentNotEmpty``); an empty string is no Content at all, not JSON
    text to parse."""
    _, problems = Message.check(whatsapp("text", {}) | {"content": empty})
    assert [(p.field, p.rule, p.message, p.code) for p in problems] == [
        ("Content", "required", "is required for a text message",
         "InvalidParameter.ContentNotEmpty")]


def test_a_content_model_made_for_another_channel_is_checked_by_this_channel_s_rules() -> None:
    """A model built for one channel and sent on another is held to the other's limits:
    WhatsApp text may be 4096 characters, Viber text at most 1000 (cams_api.md section 2.2)."""
    from cams_notebook.content import ViberText, WhatsAppText

    long_text = WhatsAppText(text="a" * 1001)
    _, problems = Message.check(dict(channel_type="viber", type="message", from_="12345",
                                     to=RECIPIENT, message_type="text", content=long_text))
    assert [(p.field, p.rule, p.message) for p in problems] == [
        ("Content.text", "too_long", "is 1001 characters long; the limit is 1000")]
    message = Message(**whatsapp("text", {}) | {"content": ViberText(text="hello")})
    assert isinstance(message.content, WhatsAppText)
    assert message.to_query()["Content"] == '{"text":"hello"}'


# -- Content on the wire --------------------------------------------------------------------


@pytest.mark.parametrize(("message_type", "content", "wire"), [
    ("document", {"filename": "a.pdf", "link": LINK},
     '{"fileName":"a.pdf","link":"https://cdn.example.com/a.jpg"}'),
    ("document", {"file_name": "a.pdf", "caption": "c", "link": LINK},
     '{"fileName":"a.pdf","caption":"c","link":"https://cdn.example.com/a.jpg"}'),
    ("reaction", {"message_id": "m1", "emoji": "👍"}, '{"messageId":"m1","emoji":"👍"}'),
])
def test_content_keys_go_on_the_wire_in_the_order_given_in_their_wire_spelling(
        message_type: str, content: dict[str, str], wire: str) -> None:
    """The SDK sends ``Content`` as the caller wrote it (cams_api.md section 1: "already-JSON
    text, not shrunk by SDK"), keys camelCase as section 2 spells them (``fileName``,
    ``messageId``): another spelling of a key is renamed in its place, not moved."""
    assert Message(**whatsapp(message_type, content)).to_query()["Content"] == wire


def test_dates_in_content_go_on_the_wire_as_iso_dates() -> None:
    """A contact card's ``birthday`` is ``YYYY-MM-DD`` (cams_api.md section 2.1, contacts); a
    ``date`` from Python or a spreadsheet is sent in that form, in a contact card and in an
    interactive object (a Flow's data) alike, never as something JSON cannot carry."""
    from datetime import date

    card = {"name": {"formatted_name": "Ada Lovelace"}, "birthday": date(1815, 12, 10)}
    assert Message(**whatsapp("contacts", {}) | {"content": [card]}).to_query()["Content"] == (
        '[{"name":{"formatted_name":"Ada Lovelace"},"birthday":"1815-12-10"}]')
    flow = {"type": "flow", "action": {"name": "flow",
                                       "parameters": {"data": {"day": date(2026, 1, 2)}}}}
    assert Message(**whatsapp("interactive", flow)).to_query()["Content"] == (
        '{"type":"flow","action":{"name":"flow","parameters":{"data":{"day":"2026-01-02"}}}}')


def test_a_contact_card_s_keys_left_null_are_not_sent() -> None:
    """Keys left ``null`` are ignored by the service (the package rule for every Content,
    after the reference's own example with empty keys, cams_api.md section 1), so a card
    built from a row with no organisation or first name carries neither."""
    card = {"name": {"formatted_name": "Ada", "first_name": None}, "org": None,
            "phones": [{"phone": "+441234"}]}
    wire = Message(**whatsapp("contacts", {}) | {"content": [card]}).to_query()["Content"]
    assert wire == '[{"name":{"formatted_name":"Ada"},"phones":[{"phone":"+441234"}]}]'


def test_a_content_model_copied_with_a_new_key_sends_that_key_too() -> None:
    """A user copies a model for the next row with ``model_copy(update=...)``: the key added
    goes on the wire after the ones first given."""
    from cams_notebook.content import WhatsAppImage

    image = WhatsAppImage(link=LINK).model_copy(update={"caption": "Row 2"})
    assert image.to_json() == '{"link":"https://cdn.example.com/a.jpg","caption":"Row 2"}'
    message = Message(**whatsapp("image", {}) | {"content": image})
    assert message.to_query()["Content"] == image.to_json()
