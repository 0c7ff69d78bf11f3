"""The request's own rules, at their edges and word for word: ranges, channel- and type-only
parameters, required template fields, text that cannot be sent.

Oracle: the parameter table of ``../shared/reference/cams_api.md`` section 1 (``Ttl`` seconds
30 - 1209600, Viber only; ``FallBackDuration`` 60 - 43200; ``Payload``, ``ProductAction``,
``FlowAction``, ``Category`` and ``RecipientType=userId`` WhatsApp only; ``Label``, ``Tag``,
``TrackingData`` Viber only; template fields for ``Type=template``, ``MessageType`` and
``Content`` for ``Type=message``). The values and the reasons are written out by hand; the
sandbox, which validates with the same ``Message``, is no oracle for these.
"""

from __future__ import annotations

from typing import Any

import pytest

from cams_notebook import Message
from tests.helpers import SENDER, template_fields

LONE_SURROGATE = "caf\udce9"  # bytes decoded with errors="surrogateescape"


def viber(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = dict(channel_type="viber", type="message", from_="12345",
                                  to="8613900000000", message_type="text",
                                  content={"text": "hi"})
    fields.update(overrides)
    return fields


def refusals(fields: dict[str, Any]) -> list[tuple[str, str, str]]:
    message, problems = Message.check(fields)
    assert message is None and problems
    return [(p.field, p.rule, p.message) for p in problems]


# -- ranges: the ends are allowed, one past them is not ------------------------------------


@pytest.mark.parametrize(("fields", "value"), [
    (viber, {"ttl": 30}), (viber, {"ttl": 1209600}),
    (template_fields, {"fall_back_duration": 60}),
    (template_fields, {"fall_back_duration": 43200}),
])
def test_a_value_at_either_end_of_its_range_is_accepted(fields: Any,
                                                        value: dict[str, int]) -> None:
    message, problems = Message.check(fields(**value))
    assert problems == [] and message is not None


@pytest.mark.parametrize(("fields", "value", "expected"), [
    (viber, {"ttl": 29}, ("Ttl", "must be between 30 and 1209600 seconds (got 29)")),
    (viber, {"ttl": 1209601}, ("Ttl", "must be between 30 and 1209600 seconds (got 1209601)")),
    (template_fields, {"fall_back_duration": 59},
     ("FallBackDuration", "must be between 60 and 43200 seconds (got 59)")),
    (template_fields, {"fall_back_duration": 43201},
     ("FallBackDuration", "must be between 60 and 43200 seconds (got 43201)")),
])
def test_one_past_either_end_is_out_of_range_with_the_range_named(
        fields: Any, value: dict[str, int], expected: tuple[str, str]) -> None:
    field, reason = expected
    assert refusals(fields(**value)) == [(field, "out_of_range", reason)]


# -- parameters for one channel or one Type only ------------------------------------------


def test_whatsapp_only_parameters_are_named_each_on_another_channel() -> None:
    fields = viber(recipient_type="userId", category="UTILITY")
    assert refusals(fields) == [
        ("RecipientType", "not_allowed", "userId is for WhatsApp only"),
        ("Category", "not_allowed", "is for WhatsApp only"),
    ]


def test_viber_only_parameters_are_named_each_on_another_channel() -> None:
    fields = template_fields(label="promotion", tag="t1", tracking_data="x")
    assert refusals(fields) == [
        ("Label", "not_allowed", "is for Viber only"),
        ("Tag", "not_allowed", "is for Viber only"),
        ("TrackingData", "not_allowed", "is for Viber only"),
    ]


def test_a_template_needs_its_code_and_language_and_takes_no_content() -> None:
    fields = dict(channel_type="whatsapp", type="template", from_=SENDER, to="8613900000000",
                  message_type="text", content={"text": "hi"})
    assert refusals(fields) == [
        ("TemplateCode", "required", "is required for a template message (or give TemplateName)"),
        ("Language", "required", "is required for a template message"),
        ("MessageType", "not_allowed", "is for free-form messages (Type=message) only"),
        ("Content", "not_allowed", "is for free-form messages (Type=message) only"),
    ]


def test_a_free_form_message_takes_no_template_fields() -> None:
    fields = viber(template_code="830174529611842305", language="en")
    assert refusals(fields) == [
        ("TemplateCode", "not_allowed", "is for template messages (Type=template) only"),
        ("Language", "not_allowed", "is for template messages (Type=template) only"),
    ]


def test_a_free_form_message_needs_its_message_type() -> None:
    fields = viber()
    del fields["message_type"]
    assert refusals(fields) == [("MessageType", "required",
                                 "is required for a free-form message")]


# -- text that cannot be sent ---------------------------------------------------------------

UNSENDABLE = ("contains characters that cannot be sent (a lone surrogate, usually from text "
              "decoded with errors='surrogateescape')")


@pytest.mark.parametrize(("fields", "field"), [
    (template_fields(template_params={"name": LONE_SURROGATE, "order_id": "A-1"}),
     "TemplateParams"),
    (viber(content={"text": LONE_SURROGATE}), "Content"),
    (viber(tracking_data=LONE_SURROGATE), "TrackingData"),
])
def test_a_lone_surrogate_is_an_invalid_text_problem_of_its_field(fields: dict[str, Any],
                                                                   field: str) -> None:
    """UTF-8 cannot encode it, so the request could not be signed or sent: a problem, named."""
    assert refusals(fields) == [(field, "invalid_text", UNSENDABLE)]


# -- the size of the request: measured as the wire carries it -----------------------------


def _wire_query(message: Message) -> tuple[dict[str, int], int]:
    """Each parameter's percent-encoded length and the whole query's, by the standard library
    (RFC 3986 unreserved characters stay, every other UTF-8 byte is %XX), not by the package."""
    from urllib.parse import quote

    encoded = {k: len(quote(v, safe="-_.~")) for k, v in message.to_query().items()}
    return encoded, sum(len(k) + 1 + n for k, n in encoded.items()) + len(encoded) - 1


@pytest.mark.parametrize("filler", ["&", "é", "a"])
@pytest.mark.parametrize("where", ["fall_back_content", "template_params"])
def test_a_request_one_character_too_long_is_refused_whatever_makes_it_long(
        filler: str, where: str) -> None:
    """MAX_QUERY_LENGTH (65,024) is the limit; a query of exactly that length is sent, one
    more character is ``too_long`` on the largest parameter, with both sizes in the reason."""
    from cams_notebook.models import MAX_QUERY_LENGTH

    def fields(n: int) -> dict[str, Any]:
        if where == "template_params":
            return template_fields(template_params={"name": filler * n, "order_id": "A-1"})
        return template_fields(fall_back_content=filler * n)

    wire = "TemplateParams" if where == "template_params" else "FallBackContent"

    def measured(n: int) -> tuple[int, int]:
        encoded, total = _wire_query(Message(**fields(n)))
        return encoded[wire], total

    (field_1, total_1), (field_2, total_2) = measured(1), measured(2)
    per = total_2 - total_1  # each filler character, percent-encoded: 1, 3 or 6
    assert per == field_2 - field_1 == {"a": 1, "&": 3, "é": 6}[filler]
    fits = (MAX_QUERY_LENGTH - (total_1 - per)) // per
    assert Message.check(fields(fits))[1] == []
    field, total = field_1 + per * (fits - 1), total_1 + per * (fits - 1)  # at `fits` fillers
    assert total <= MAX_QUERY_LENGTH < total + per
    _, problems = Message.check(fields(fits + 1))
    assert [(p.field, p.rule, p.message) for p in problems] == [(wire, "too_long", (
        f"makes the request too long to send: {wire} is {field + per} characters once "
        f"percent-encoded and the whole query {total + per}; the limit is 65024 (every "
        "parameter travels in the URL, and httpx refuses URLs over 65536 characters)"))]


@pytest.mark.parametrize(("fields", "field"), [
    # inside a list (contacts), a dict key, a nested dict, and a model (ProductAction)
    (dict(channel_type="whatsapp", type="message", from_=SENDER, to="8613900000000",
          message_type="contacts",
          content=[{"name": {"formatted_name": LONE_SURROGATE, "first_name": "A"}}]),
     "Content"),
    (dict(channel_type="whatsapp", type="message", from_=SENDER, to="8613900000000",
          message_type="interactive",
          content={"type": "button", "body": {"text": "Pick"},
                   "action": {"buttons": [{"type": "reply",
                                           "reply": {"id": "y", "title": LONE_SURROGATE}}]}}),
     "Content"),
    (template_fields(template_params={LONE_SURROGATE: "x", "name": "A", "order_id": "A-1"}),
     "TemplateParams"),
])
def test_a_lone_surrogate_anywhere_inside_a_structured_field_is_found(fields: dict[str, Any],
                                                                      field: str) -> None:
    assert (field, "invalid_text") in {(f, r) for f, r, _ in refusals(fields)}


def test_numbers_booleans_and_plain_text_in_structured_fields_are_sendable() -> None:
    fields = dict(channel_type="whatsapp", type="message", from_=SENDER, to="8613900000000",
                  message_type="location",
                  content={"latitude": 30.27, "longitude": 120, "name": "HQ café"})
    assert Message.check(fields)[1] == []


# -- one broken field hides nothing else ----------------------------------------------------


def test_an_unknown_parameter_does_not_hide_the_rules_the_others_break() -> None:
    """cams_api.md section 1 lists every parameter: ``Colour`` is none of them, and ``Ttl``
    is 30 - 1209600 seconds; both are reported, each on its own field."""
    fields = viber(ttl=5, Colour="red")
    assert [(f, r) for f, r, _ in refusals(fields)] == [("Colour", "not_allowed"),
                                                        ("Ttl", "out_of_range")]


def test_as_sent_a_field_of_the_wrong_type_does_not_hide_a_to_that_is_not_bare_digits() -> None:
    """As the service receives it (``check(..., as_sent=True)``, the sandbox's check), ``To``
    must already be bare digits with the country code (cams_api.md, the ``To`` row); a
    ``FallBackDuration`` that is no integer is its own problem beside it."""
    message, problems = Message.check(template_fields(to="+86 139 0000 0000",
                                                      fall_back_duration="abc"), as_sent=True)
    assert message is None
    assert [(p.field, p.rule) for p in problems] == [("FallBackDuration", "wrong_type"),
                                                     ("To", "digits_only")]
    assert "as sent: the service rewrites nothing" in problems[1].message
