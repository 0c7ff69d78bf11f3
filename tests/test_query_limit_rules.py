"""The size of a request, measured before anything is encoded: the cheap bound the model asks
first must never be below the real size, or a request too long to send would pass ``check``.

Oracle: the reference puts every SendChatappMessage parameter in the URL (``cams_api.md``
3.2: "all business params in the query string, body empty"), so a request's size is the
length of its percent-encoded query. That length is measured here by the standard library
(RFC 3986: ``A-Za-z0-9-_.~`` stay, every other UTF-8 byte is ``%XX``) on ``to_query()``, the
query the official SDK sends (``tests/integration/test_sdk_conformance.py`` pins it), never
by the package's own encoder. The values are the worst cases written out by hand: text whose
every character is escaped (``&``, ``"``), four-byte characters, control characters that
JSON escapes, and every kind of JSON value a request carries.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cams_notebook import Message
from cams_notebook._query_limits import (
    _ASCII_WEIGHT,
    _TEXT_WEIGHT,
    MAX_QUERY_LENGTH,
    encoded_length,
    query_bound,
)
from cams_notebook.models import FlowAction, ProductAction, ProductItem, ProductSection
from tests.helpers import RECIPIENT, SENDER, template_fields

LONE_SURROGATE = "caf\udce9"  # bytes decoded with errors="surrogateescape"
WORST = "&\"\x1f😀é"
"""One character of each worst case: escaped ASCII, a JSON-escaped quote and control
character, a four-byte and a two-byte character."""


def wire_length(message: Message) -> int:
    """The percent-encoded query of ``message``, measured by the standard library."""
    query = message.to_query()
    return (sum(len(quote(k, safe="-_.~")) + 1 + len(quote(v, safe="-_.~"))
                for k, v in query.items()) + len(query) - 1)


def bound_of(message: Message) -> int:
    bound, bad_text = query_bound(message.__dict__, set(message.model_fields_set), frozenset())
    assert bad_text == []
    return bound


def whatsapp(message_type: str, content: Any, **extra: Any) -> Message:
    return Message(channel_type="whatsapp", type="message", from_=SENDER, to=RECIPIENT,
                   message_type=message_type, content=content, **extra)


# -- the weights: the most one character can become -----------------------------------------


def test_the_text_weights_are_the_most_one_character_becomes_once_percent_encoded() -> None:
    """3 for ASCII (``&`` is ``%26``), 12 for any other character (four UTF-8 bytes); no
    character becomes more, so a text of n characters is at most weight * n on the wire."""
    ascii_sizes = {len(quote(chr(c), safe="-_.~")) for c in range(128)}
    assert max(ascii_sizes) == _ASCII_WEIGHT == 3
    others = [chr(c) for c in (0x80, 0x7FF, 0x800, 0xFFFF, 0x10000, 0x1F600, 0x10FFFF)]
    assert max(len(quote(c, safe="-_.~")) for c in others) == _TEXT_WEIGHT == 12
    assert all(encoded_length(c) == len(quote(c, safe="-_.~")) for c in [*others, "&", "a"])


# -- the bound is never below the query it stands for ---------------------------------------

_FULL = dict(context_message_id=WORST * 3, cust_space_id="&" * 40, task_id="😀" * 30,
             fall_back_id="&" * 12, fall_back_content="&" * 500, fall_back_duration=43200,
             fall_back_rule="sentFailed", category="UTILITY", recipient_type="individual",
             ttl=None, label=None, tag=None, tracking_data=None, template_name=None)
"""Every optional parameter a WhatsApp template takes, worst-case text, and the Viber-only
ones given as None (a frame column left empty)."""

CASES: dict[str, Message] = {
    "text, every character escaped": Message(**template_fields(fall_back_content="&" * 5000)),
    "text of four-byte characters": Message(**template_fields(fall_back_content="😀" * 5000)),
    "every optional parameter": Message(**template_fields(**_FULL)),
    "parameters with long names and short values": Message(**template_fields(
        template_params=None, from_="1234567", to="1234567", template_code=None,
        template_name="&&&", context_message_id="&", cust_space_id="&", task_id="😀",
        fall_back_id="&", fall_back_content="&")),
    "many short template parameters": Message(**template_fields(
        template_params={chr(0x1F600 + i): "" for i in range(80)})),
    "long template parameters": Message(**template_fields(
        template_params={"name": "😀" * 900, "order_id": "&" * 900}, **_FULL)),
    "a long payload": Message(**template_fields(payload=["😀" * 200] * 10)),
    "a payload of many empty strings": Message(**template_fields(payload=[""] * 400)),
    "a product action": Message(**template_fields(product_action=ProductAction(
        thumbnail_product_retailer_id="😀" * 200,
        sections=[ProductSection(title="😀" * 100, product_items=[
            ProductItem(product_retailer_id="😀" * 100)] * 3)] * 10))),
    "a flow action with a long key": Message(**template_fields(
        flow_action=FlowAction(flow_action_data={"😀" * 300: ""}))),
    "a flow action with a long value": Message(**template_fields(
        flow_action=FlowAction(flow_action_data={"k": "😀" * 300}))),
    "a flow action of every JSON kind": Message(**template_fields(flow_action=FlowAction(
        flow_token="😀" * 50,
        flow_action_data={"😀" * 300: [None, True, 1.5e-300, -(10 ** 40), WORST * 20],
                          "n": list(range(300)), "d": {"&" * 50: {"k": False}}}))),
    "an interactive object with keys of its own": whatsapp("interactive", {
        "type": "button", "action": {"buttons": [{"type": "reply",
                                                   "reply": {"id": "y", "title": "Yes"}}]},
        "😀" * 200: {"x": "😀" * 300}}),
    "contact cards with keys of their own": whatsapp("contacts", [
        {"name": {"formatted_name": "😀" * 80, "😀" * 50: "&" * 40},
         "urls": [{"url": "&" * 60}] * 5}] * 8),
    "a location": whatsapp("location", {"latitude": -89.999999999, "longitude": 179,
                                        "name": WORST * 60}),
    "pass-through JSON": Message(channel_type="telegram", type="message", from_="bot1",
                                 to="-100123", message_type="interactive",
                                 content={"type": "sendPhoto", WORST * 30: [[WORST] * 20] * 5}),
    "a Viber text": Message(channel_type="viber", type="message", from_="12345", to=RECIPIENT,
                            message_type="text", content={"text": "😀" * 1000}, ttl=1209600,
                            label="promotion", tag="&" * 300, tracking_data="😀" * 300),
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_cheap_bound_is_never_below_the_encoded_query(name: str) -> None:
    message = CASES[name]
    assert bound_of(message) >= wire_length(message)


_TEXT = st.text(st.sampled_from("a&\"\x1f é😀"), max_size=30)
_JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers() | _TEXT,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_TEXT, inner, max_size=5),
    max_leaves=20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.dictionaries(st.sampled_from(["fall_back_content", "task_id", "fall_back_id",
                                             "context_message_id", "cust_space_id"]),
                            _TEXT | st.none(), max_size=5),
       params=st.dictionaries(_TEXT, _TEXT, max_size=12),
       payload=st.none() | st.lists(_TEXT, max_size=12),
       data=st.none() | st.dictionaries(_TEXT, _JSON, max_size=6))
def test_the_cheap_bound_is_never_below_the_encoded_query_whatever_the_fields(
        text: dict[str, str | None], params: dict[str, str], payload: list[str] | None,
        data: dict[str, Any] | None) -> None:
    """Any mix of parameters, given or left None, of every JSON kind."""
    flow = None if data is None else FlowAction(flow_action_data=data, flow_token="t")
    message = Message(**template_fields(template_params=params, payload=payload,
                                        flow_action=flow, **text))
    assert bound_of(message) >= wire_length(message)


def test_a_request_too_long_is_refused_whichever_parameter_makes_it_long() -> None:
    """Through ``check``: at the worst case of each kind (the bound is then closest to the
    real size), one character over MAX_QUERY_LENGTH is ``too_long``."""
    def over(**fields: Any) -> list[tuple[str, str]]:
        _, problems = Message.check(template_fields(**fields))
        return [(p.field, p.rule) for p in problems]

    base = wire_length(Message(**template_fields(fall_back_content="")))
    fits = (MAX_QUERY_LENGTH - base) // 12
    assert over(fall_back_content="😀" * fits) == []
    assert over(fall_back_content="😀" * (fits + 1)) == [("FallBackContent", "too_long")]
    fits = (MAX_QUERY_LENGTH - base) // 3
    assert over(fall_back_content="&" * fits) == []
    assert over(fall_back_content="&" * (fits + 1)) == [("FallBackContent", "too_long")]


# -- text that cannot be sent, wherever it is -----------------------------------------------

UNSENDABLE = ("contains characters that cannot be sent (a lone surrogate, usually from text "
              "decoded with errors='surrogateescape')")


def test_a_lone_surrogate_in_a_model_given_as_a_value_is_found() -> None:
    """A content model built by the caller, and a ProductAction (cams_api.md section 1: an
    object sent as JSON text) carry their text inside a model; UTF-8 cannot encode it."""
    from cams_notebook.content import WhatsAppText

    _, problems = Message.check(dict(channel_type="whatsapp", type="message", from_=SENDER,
                                     to=RECIPIENT, message_type="text",
                                     content=WhatsAppText(text=LONE_SURROGATE)))
    assert [(p.field, p.rule, p.message) for p in problems] == [
        ("Content", "invalid_text", UNSENDABLE)]
    action = ProductAction(sections=[ProductSection(title=LONE_SURROGATE, product_items=[
        ProductItem(product_retailer_id="p1")])])
    _, problems = Message.check(template_fields(product_action=action))
    assert [(p.field, p.rule) for p in problems] == [("ProductAction", "invalid_text")]


def test_a_lone_surrogate_in_a_str_subclass_is_found() -> None:
    """numpy's ``str_`` (a value taken out of an array or a pandas column) is a ``str``: its
    text is checked like any other."""
    numpy = pytest.importorskip("numpy")
    content = {"type": "sendMessage", "text": numpy.str_(LONE_SURROGATE)}
    _, problems = Message.check(dict(channel_type="telegram", type="message", from_="bot1",
                                     to="-100123", message_type="interactive", content=content))
    assert [(p.field, p.rule) for p in problems] == [("Content", "invalid_text")]


def test_values_that_are_not_text_are_sendable() -> None:
    """A date (a contact's birthday, cams_api.md section 2.1), numbers, booleans and null
    carry no text to encode: none of them is an ``invalid_text`` problem."""
    card = {"name": {"formatted_name": "Ada"}, "birthday": date(1815, 12, 10),
            "org": {"active": True, "size": 3, "rank": 1.5, "parent": None}}
    message, problems = Message.check(dict(channel_type="whatsapp", type="message",
                                           from_=SENDER, to=RECIPIENT,
                                           message_type="contacts", content=[card]))
    assert problems == [] and message is not None
