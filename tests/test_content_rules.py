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
