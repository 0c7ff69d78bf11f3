"""Message: every parameter, both spellings, every rule named by field and rule, exact wire form."""

from __future__ import annotations

import decimal
import json
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from cams_notebook import Message, SendResult
from cams_notebook.models import ALIASES, MAX_QUERY_LENGTH, MAX_URL_LENGTH, WIRE_NAMES
from cams_notebook.problems import problems_from_validation_error
from cams_notebook.sandbox import Sandbox
from cams_notebook.signing import canonical_query
from tests.helpers import RECIPIENT, SENDER, TEMPLATE_CODE, template_fields


def problems_of(**fields: object) -> set[tuple[str, str]]:
    message, problems = Message.check(fields)
    assert message is None, "expected the message to be rejected"
    return {(p.field, p.rule) for p in problems}


def text_fields(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = dict(channel_type="whatsapp", type="message", from_=SENDER,
                                     to=RECIPIENT, message_type="text", content={"text": "hello"})
    fields.update(overrides)
    return fields


def test_every_reference_parameter_has_a_field_with_its_wire_alias() -> None:
    expected = {
        "ChannelType", "Type", "MessageType", "From", "To", "TemplateCode", "TemplateName",
        "Language", "TemplateParams", "Content", "Payload", "ProductAction", "FlowAction",
        "RecipientType", "ContextMessageId", "CustSpaceId", "CustWabaId", "IsvCode", "TaskId",
        "Label", "Ttl", "Tag", "TrackingData", "FallBackId", "FallBackContent",
        "FallBackDuration", "FallBackRule", "Category", "AdAccountId", "MessageCampaignId",
        "TokenType",
    }
    assert set(WIRE_NAMES.values()) == expected


def test_wire_names_and_snake_case_validate_to_the_same_message() -> None:
    wire = Message.model_validate({
        "ChannelType": "whatsapp", "Type": "template", "From": SENDER, "To": RECIPIENT,
        "TemplateCode": TEMPLATE_CODE, "Language": "en",
        "TemplateParams": {"name": "Ada", "order_id": "A-1"},
        "ProductAction": {"ThumbnailProductRetailerId": "t1",
                          "Sections": [{"Title": "S",
                                        "ProductItems": [{"ProductRetailerId": "r1"}]}]},
        "FlowAction": {"FlowToken": "tok", "FlowActionData": {"a": 1}},
    })
    snake = Message(**template_fields(
        product_action={"thumbnail_product_retailer_id": "t1",
                        "sections": [{"title": "S",
                                      "product_items": [{"product_retailer_id": "r1"}]}]},
        flow_action={"flow_token": "tok", "flow_action_data": {"a": 1}}))
    assert wire.to_query() == snake.to_query()


def test_to_query_sends_strings_only_in_alphabetical_order_and_drops_unset_fields() -> None:
    query = Message(**template_fields(payload=["p1", "p2"], task_id=12345)).to_query()
    assert list(query) == sorted(query)
    assert all(isinstance(v, str) for v in query.values())
    assert query == {
        "ChannelType": "whatsapp", "From": SENDER, "Language": "en", "Payload": '["p1","p2"]',
        "TaskId": "12345", "TemplateCode": TEMPLATE_CODE,
        "TemplateParams": '{"name":"Ada","order_id":"A-1"}', "To": RECIPIENT, "Type": "template",
    }


def test_json_parameters_are_compact_with_non_ascii_kept_raw() -> None:
    params = {"name": "Zoë & co", "order_id": "你好 👋"}
    query = Message(**template_fields(template_params=params)).to_query()
    assert query["TemplateParams"] == '{"name":"Zoë & co","order_id":"你好 👋"}'


def test_product_action_always_carries_sections_like_the_sdk() -> None:
    action = {"ThumbnailProductRetailerId": "t"}
    query = Message(**template_fields(product_action=action)).to_query()
    assert query["ProductAction"] == '{"Sections":[],"ThumbnailProductRetailerId":"t"}'


def test_json_text_is_accepted_for_object_parameters() -> None:
    message = Message.model_validate({**template_fields(),
                                      "template_params": '{"name":"A","order_id":"1"}',
                                      "payload": '["x"]'})
    assert message.template_params == {"name": "A", "order_id": "1"}
    assert message.payload == ["x"]


@pytest.mark.parametrize("given", ["+86 139 0000 0000", "86-139-0000-0000", "8613900000000",
                                   8613900000000])
def test_recipient_numbers_are_normalised_on_whatsapp(given: object) -> None:
    assert Message(**template_fields(to=given)).to == "8613900000000"


def test_recipient_ids_on_messenger_are_left_alone() -> None:
    message = Message(channel_type="messenger", type="message", from_="page-1", to="psid_42",
                      message_type="text", content={"text": "hi"})
    assert message.to == "psid_42"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (dict(channel_type="wechat"), ("ChannelType", "one_of")),
        (dict(type="sms"), ("Type", "one_of")),
        (dict(template_code=None), ("TemplateCode", "required")),
        (dict(language=None), ("Language", "required")),
        (dict(from_="86-138"), ("From", "digits_only")),
        (dict(to="call me"), ("To", "digits_only")),
        (dict(to="0013900000000"), ("To", "digits_only")),
        (dict(ttl=60), ("Ttl", "not_allowed")),
        (dict(label="promotion"), ("Label", "not_allowed")),
        (dict(fall_back_duration=59), ("FallBackDuration", "out_of_range")),
        (dict(fall_back_duration=43201), ("FallBackDuration", "out_of_range")),
        (dict(fall_back_rule="never"), ("FallBackRule", "one_of")),
        (dict(recipient_type="everyone"), ("RecipientType", "one_of")),
        (dict(message_type="text"), ("MessageType", "not_allowed")),
        (dict(content={"text": "x"}), ("Content", "not_allowed")),
        (dict(category="PROMO"), ("Category", "one_of")),
    ],
)
def test_template_rules_name_the_field_and_the_rule(fields: dict[str, object],
                                                    expected: tuple[str, str]) -> None:
    assert expected in problems_of(**template_fields(**fields))


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (dict(message_type=None), ("MessageType", "required")),
        (dict(message_type="carousel_card"), ("MessageType", "not_for_channel")),
        (dict(content=None), ("Content", "required")),
        (dict(content="{not json"), ("Content", "invalid_json")),
        (dict(content={"caption": "x"}), ("Content.text", "required")),
        (dict(content={"text": "x", "caption": "y"}), ("Content.caption", "not_allowed")),
        (dict(content={"text": "a" * 4097}), ("Content.text", "too_long")),
        (dict(content={"text": "Hi {{1}}"}), ("Content.text", "placeholder")),
        (dict(content={"text": "   "}), ("Content.text", "blank")),
        (dict(template_code="1"), ("TemplateCode", "not_allowed")),
        (dict(payload=["p"]), ("Payload", "not_allowed")),
        (dict(ttl=10, channel_type="viber", from_="123"), ("Ttl", "out_of_range")),
        (dict(ttl=1209601, channel_type="viber", from_="123"), ("Ttl", "out_of_range")),
        (dict(recipient_type="userId", channel_type="viber", from_="1"),
         ("RecipientType", "not_allowed")),
    ],
)
def test_free_form_rules_name_the_field_and_the_rule(fields: dict[str, object],
                                                     expected: tuple[str, str]) -> None:
    assert expected in problems_of(**text_fields(**fields))


def test_every_problem_is_reported_at_once() -> None:
    found = problems_of(**text_fields(from_="x", to="y", content={"text": "{{2}}", "caption": "c"},
                                      label="promotion"))
    assert found >= {("From", "digits_only"), ("To", "digits_only"), ("Label", "not_allowed"),
                     ("Content.text", "placeholder"), ("Content.caption", "not_allowed")}


def test_validation_error_message_names_field_rule_and_reason() -> None:
    with pytest.raises(ValidationError) as info:
        Message(**text_fields(message_type="image", content={"link": "ftp://files/a.png"}))
    text = str(info.value)
    assert "Content.link" in text and "bad_url" in text and "http" in text


def test_problems_carry_the_service_error_code() -> None:
    _, problems = Message.check(text_fields(content={"caption": "no text"}, from_="abc"))
    codes = {p.field: p.code for p in problems}
    assert codes["Content.text"] == "InvalidParameter.TextNotEmpty"
    assert codes["From"] == "InvalidParameter.FromOnlyNumeric"
    _, problems = Message.check({"Type": "template"})
    assert {"MissingChannelType", "MissingFrom", "MissingTo"} <= {p.code for p in problems}


def test_product_action_limits_sections_and_products() -> None:
    eleven = [{"Title": str(i), "ProductItems": [{"ProductRetailerId": "r"}]} for i in range(11)]
    assert ("ProductAction.Sections", "too_many") in problems_of(
        **template_fields(product_action={"Sections": eleven}))
    thirty_one = [{"Title": "s",
                   "ProductItems": [{"ProductRetailerId": str(i)} for i in range(31)]}]
    assert ("ProductAction.Sections", "too_many") in problems_of(
        **template_fields(product_action={"Sections": thirty_one}))


def test_whatsapp_only_parameters_are_refused_on_viber() -> None:
    found = problems_of(channel_type="viber", type="template", from_="123", to=RECIPIENT,
                        template_code="1", language="en", payload=["p"],
                        flow_action={"FlowToken": "t"})
    assert {("Payload", "not_allowed"), ("FlowAction", "not_allowed")} <= found


def test_viber_parameters_are_accepted_on_viber() -> None:
    message = Message(channel_type="viber", type="message", from_="123", to=RECIPIENT,
                      message_type="text", content={"text": "hi"}, label="transaction", ttl="3600",
                      tag="t", tracking_data="tracking_id:1")
    assert message.to_query()["Ttl"] == "3600"


def test_deprecated_parameters_warn_and_point_at_cust_space_id() -> None:
    with pytest.warns(DeprecationWarning, match="CustSpaceId"):
        message = Message(**template_fields(cust_waba_id="cams-1"))
    assert message.to_query()["CustWabaId"] == "cams-1"


def test_content_as_model_dict_and_json_text_validate_the_same() -> None:
    from cams_notebook.content import WhatsAppImage

    as_model = Message(**text_fields(
        message_type="image", content=WhatsAppImage(link="https://x.test/a.png", caption="c")))
    as_dict = Message(**text_fields(message_type="image",
                                    content={"link": "https://x.test/a.png", "caption": "c"}))
    as_text = Message(**text_fields(message_type="image",
                                    content='{"link":"https://x.test/a.png","caption":"c"}'))
    assert as_model.to_query() == as_dict.to_query() == as_text.to_query()
    assert json.loads(as_text.to_query()["Content"]) == {"link": "https://x.test/a.png",
                                                         "caption": "c"}


def test_plain_repr_is_deterministic_and_lists_only_set_fields() -> None:
    first = repr(Message(**template_fields()))
    assert first == repr(Message(**template_fields()))
    assert "ttl" not in first and "template_code='830174529611842305'" in first


def test_html_repr_shows_the_wire_parameters_escaped() -> None:
    message = Message(**template_fields(template_params={"name": "<b>", "order_id": "1"}))
    card = message._repr_html_()
    assert "&lt;b&gt;" in card and "TemplateParams" in card


def test_send_result_is_ok_only_for_code_ok() -> None:
    assert SendResult.model_validate({"Code": "OK", "MessageId": "m"}).ok
    assert not SendResult.model_validate({"Code": "InvalidParameter.TextNotEmpty"}).ok


def test_deprecation_is_silent_when_checking_frames() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        message, problems = Message.check(template_fields(isv_code="x"))
    assert message is not None and not problems


# -- phone numbers: floats, punctuation, ASCII digits, bounds ------------------------------


@pytest.mark.parametrize(("given", "digits"), [
    ("8613900000001.0", "8613900000001"),        # a float column read back as text
    ("8613900000001.00", "8613900000001"),
    ("8.613900000001e12", "8613900000001"),      # pandas/Excel scientific notation
    ("8.6139E+12", "8613900000000"),
    ("+8613900000001.0", "8613900000001"),
    (" 8613900000001.0 ", "8613900000001"),
    ("8613900000001.", "8613900000001"),
    (8613900000000.0, "8613900000000"),          # a Python float, given as it is
    (8613900000001.0, "8613900000001"),
    (decimal.Decimal("8.613900000001E+12"), "8613900000001"),
])
def test_a_number_written_as_a_float_is_its_whole_number_not_one_digit_more(
        given: object, digits: str) -> None:
    assert Message(**template_fields(to=given)).to == digits


def test_a_sender_written_as_a_float_is_its_whole_number() -> None:
    assert Message(**template_fields(from_="8613800000000.0")).from_ == SENDER
    assert Message(**template_fields(from_=8613800000000.0)).from_ == SENDER


@pytest.mark.parametrize("given", [
    "8613900000001.5", 8613900000000.5, "8.61390000000012e12",  # a fraction is not a number
    "+86 13900000001.0",    # one final ".0" after grouping: a float column, not a group
    "8613900000001..0", ".8613900000001", "86139 .0000001", "86139. 0000001",  # stray dots
    "-8613900000000.0", "08613900000.0", "8613900000001.0.", "1e999", "nan", "inf",
])
def test_a_fraction_or_a_stray_dot_in_to_is_a_digits_only_problem(given: object) -> None:
    assert ("To", "digits_only") in problems_of(**template_fields(to=given))


@pytest.mark.parametrize("given", ["8613800000000.5", "86-138", "+8613800000000", "８６１３８"])
def test_a_sender_that_is_not_whole_ascii_digits_is_a_digits_only_problem(given: str) -> None:
    assert ("From", "digits_only") in problems_of(**template_fields(from_=given))


@pytest.mark.parametrize(("given", "digits"), [
    ("+1 (555) 010.0001", "15550100001"),       # dots between digit groups are punctuation
    ("555.010.0001", "5550100001"),
    ("555.010.0000", "5550100000"),             # two dots: groups, even ending in zeros
    ("+86 139-0000-0000", "8613900000000"),
])
def test_punctuation_between_digit_groups_is_removed(given: str, digits: str) -> None:
    assert Message(**template_fields(to=given)).to == digits


@pytest.mark.parametrize("given", [
    "８６１３９００００００００１",      # full-width
    "٨٦١٣٩٠٠٠٠٠٠٠١",              # Arabic-Indic
    "۸۶۱۳۹۰۰۰۰۰۰۰۱",              # Extended Arabic-Indic (Persian)
    "86139²0000001",              # a superscript two
    "+86 １３９ 0000 0001",
])
def test_digits_other_than_ascii_are_refused_and_the_reason_says_so(given: str) -> None:
    message, problems = Message.check(template_fields(to=given))
    assert message is None
    (found,) = [p for p in problems if p.field == "To"]
    assert found.rule == "digits_only" and found.code == "InvalidParameter.ToOnlyNumeric"
    assert "only ASCII digits 0-9" in found.message
    _, problems = Message.check(template_fields(from_=given))
    assert any(p.field == "From" and "only ASCII digits 0-9" in p.message for p in problems)


@pytest.mark.parametrize(("given", "accepted"), [
    ("123456", False), ("1234567", True), ("123456789012345", True), ("1234567890123456", False),
    ("+12 34-56", False), ("+12 34-567", True), ("+123 4567 8901 2345", True),
    ("+123 4567 8901 23456", False),
    ("123456.0", False), ("1234567.0", True), ("1.23456789012345e14", True),
    ("1.234567890123456e15", False),
])
def test_a_recipient_number_has_7_to_15_digits_however_it_is_written(given: str,
                                                                       accepted: bool) -> None:
    message, problems = Message.check(template_fields(to=given))
    assert (message is not None) is accepted, problems
    if accepted:
        assert message is not None and message.to.isdigit() and 7 <= len(message.to) <= 15


def test_numbers_are_left_alone_where_they_are_not_phone_numbers() -> None:
    bsuid = Message(**template_fields(to="8613900000001.0", recipient_type="userId"))
    assert bsuid.to == "8613900000001.0"
    psid = Message(channel_type="messenger", type="message", from_="page-1", to="8613900000001.0",
                   message_type="text", content={"text": "hi"})
    assert psid.to == "8613900000001.0"


# -- the size of the request ----------------------------------------------------------------


def messenger_text(text: str) -> dict[str, object]:
    return {"channel_type": "messenger", "type": "message", "from_": "page-1", "to": "psid-1",
            "message_type": "text", "content": {"text": text}}


def encoded_size(message: Message) -> int:
    return len(canonical_query(message.to_query().items()))


def text_at_the_limit() -> str:
    """A Messenger text that makes the encoded query exactly MAX_QUERY_LENGTH long."""
    short = Message(**messenger_text("a" * 100))
    return "a" * (100 + MAX_QUERY_LENGTH - encoded_size(short))


def test_the_url_limit_is_the_one_httpx_enforces() -> None:
    from httpx import _urlparse

    assert MAX_URL_LENGTH == _urlparse.MAX_URL_LENGTH
    assert MAX_QUERY_LENGTH < MAX_URL_LENGTH - len("https://cams.ap-southeast-1.aliyuncs.com/?")


def test_a_request_one_character_over_the_limit_is_too_long_on_its_largest_field() -> None:
    text = text_at_the_limit()
    assert encoded_size(Message(**messenger_text(text))) == MAX_QUERY_LENGTH
    message, problems = Message.check(messenger_text(text + "a"))
    assert message is None
    (found,) = problems
    assert (found.field, found.rule, found.code) == ("Content", "too_long",
                                                      "InvalidParameter.ContentError")
    assert str(MAX_QUERY_LENGTH) in found.message and str(MAX_QUERY_LENGTH + 1) in found.message


@pytest.mark.parametrize(("char", "width"), [
    ("a", 1), ("&", 3), ("é", 6), ("你", 9), ("👋", 12),
    ("\x01", 8),  # JSON writes it \u0001, and the backslash becomes %5C
])
def test_long_text_is_measured_as_it_is_percent_encoded(char: str, width: int) -> None:
    fits = MAX_QUERY_LENGTH // width - 200  # room for the other parameters
    assert Message.check(messenger_text(char * fits))[0] is not None
    assert problems_of(**messenger_text(char * (fits + 220))) == {("Content", "too_long")}


@pytest.mark.parametrize("char", ["a", "é", "你", "👋", '"', "\n", "\x01"])
def test_the_longest_text_the_reference_allows_fits_whatever_its_characters(char: str) -> None:
    # WhatsApp text <= 4096 characters (reference 2.1): the size limit must not refuse it
    assert Message.check(text_fields(content={"text": "x" + char * 4095}))[1] == []


def test_the_largest_parameter_is_named() -> None:
    found = problems_of(**template_fields(
        template_params={"name": "x" * 40_000, "order_id": "A-1"}, task_id="t" * 30_000))
    assert found == {("TemplateParams", "too_long")}


def test_json_text_is_measured_as_given_not_as_it_would_be_reserialised() -> None:
    spaced = '{"text":' + " " * 70_000 + '"hi"}'
    assert ("Content", "too_long") in problems_of(**messenger_text("x") | {"content": spaced})


@given(st.text(max_size=40))
def test_the_encoded_length_is_that_of_the_client_s_canonical_query(text: str) -> None:
    from cams_notebook.models import _encoded_length

    if any("\ud800" <= ch <= "\udfff" for ch in text):
        return  # lone surrogates are refused before any size is taken
    assert _encoded_length(text) == len(canonical_query([("K", text)])) - 2


def test_a_message_at_the_limit_goes_through_the_client_and_one_over_never_gets_there() -> None:
    sandbox = Sandbox()
    with sandbox.client() as client:
        assert client.send(Message(**messenger_text(text_at_the_limit()))).ok
        with pytest.raises(ValidationError, match="too_long"):
            client.send(Message(**messenger_text("é" * 20_000)))  # 120,000 encoded
    assert len(sandbox.messages()) == 1


# -- every problem at once -----------------------------------------------------------------

BROKEN = {"channel_type": "whatsapp", "type": "template", "from_": "abc", "to": None, "ttl": 5,
          "content": {"text": "x"}, "label": "promotion"}
BROKEN_FOUND = {("To", "wrong_type"), ("From", "digits_only"), ("Ttl", "out_of_range"),
                ("Ttl", "not_allowed"), ("Label", "not_allowed"), ("TemplateCode", "required"),
                ("Language", "required"), ("Content", "not_allowed")}


def test_a_field_of_the_wrong_type_does_not_hide_the_rules_the_others_break() -> None:
    _, problems = Message.check(BROKEN)
    assert {(p.field, p.rule) for p in problems} == BROKEN_FOUND
    assert len(problems) == len(BROKEN_FOUND)  # nothing twice
    assert problems[0].field == "To"  # the broken field first, then the rules


def test_construction_raises_every_problem_too() -> None:
    with pytest.raises(ValidationError) as info:
        Message(**BROKEN)
    found = {(p.field, p.rule) for p in problems_from_validation_error(info.value, ALIASES)}
    assert found == BROKEN_FOUND


def test_a_broken_field_gets_no_rule_problem_of_its_own() -> None:
    _, problems = Message.check(template_fields(template_code=["x"], language=None))
    found = [(p.field, p.rule) for p in problems]
    assert sorted(found) == [("Language", "required"), ("TemplateCode", "wrong_type")]


def test_a_broken_channel_or_type_skips_only_the_rules_that_need_it() -> None:
    assert problems_of(**template_fields(channel_type="wechat", language=None, ttl=60)) == {
        ("ChannelType", "one_of"), ("Language", "required")}
    assert problems_of(**template_fields(type="sms", to="x", ttl=60)) == {
        ("Type", "one_of"), ("To", "digits_only"), ("Ttl", "not_allowed")}


def test_missing_parameters_come_with_the_rules_of_the_others() -> None:
    _, problems = Message.check({"Type": "template", "Payload": ["p"], "ChannelType": "viber"})
    assert {(p.field, p.code) for p in problems} == {
        ("From", "MissingFrom"), ("To", "MissingTo"), ("Payload", "InvalidParameter.Payload"),
        ("TemplateCode", "InvalidParameter.TemplateCodeNotEmpty"),
        ("Language", "InvalidParameter.LanguageNotEmpty")}


def test_rules_beside_broken_fields_are_worked_out_only_on_failure(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object) -> list[object]:
        raise AssertionError("called on the happy path")

    monkeypatch.setattr(Message, "_rules_beside", classmethod(boom))
    assert Message(**template_fields()).to == RECIPIENT
    assert Message.check(text_fields())[1] == []
