"""Message: every parameter, both spellings, every rule named by field and rule, exact wire form."""

from __future__ import annotations

import json
import warnings

import pytest
from helpers import RECIPIENT, SENDER, TEMPLATE_CODE, template_fields
from pydantic import ValidationError

from cams_notebook import Message, SendResult
from cams_notebook.models import WIRE_NAMES


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
                          "Sections": [{"Title": "S", "ProductItems": [{"ProductRetailerId": "r1"}]}]},
        "FlowAction": {"FlowToken": "tok", "FlowActionData": {"a": 1}},
    })
    snake = Message(**template_fields(
        product_action={"thumbnail_product_retailer_id": "t1",
                        "sections": [{"title": "S", "product_items": [{"product_retailer_id": "r1"}]}]},
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
    query = Message(**template_fields(template_params={"name": "Zoë & co", "order_id": "你好 👋"})).to_query()
    assert query["TemplateParams"] == '{"name":"Zoë & co","order_id":"你好 👋"}'


def test_product_action_always_carries_sections_like_the_sdk() -> None:
    query = Message(**template_fields(product_action={"ThumbnailProductRetailerId": "t"})).to_query()
    assert query["ProductAction"] == '{"Sections":[],"ThumbnailProductRetailerId":"t"}'


def test_json_text_is_accepted_for_object_parameters() -> None:
    message = Message.model_validate({**template_fields(), "template_params": '{"name":"A","order_id":"1"}',
                                      "payload": '["x"]'})
    assert message.template_params == {"name": "A", "order_id": "1"}
    assert message.payload == ["x"]


@pytest.mark.parametrize("given", ["+86 139 0000 0000", "86-139-0000-0000", "8613900000000", 8613900000000])
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
        (dict(recipient_type="userId", channel_type="viber", from_="1"), ("RecipientType", "not_allowed")),
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
    thirty_one = [{"Title": "s", "ProductItems": [{"ProductRetailerId": str(i)} for i in range(31)]}]
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

    as_model = Message(**text_fields(message_type="image",
                                     content=WhatsAppImage(link="https://x.test/a.png", caption="c")))
    as_dict = Message(**text_fields(message_type="image",
                                    content={"link": "https://x.test/a.png", "caption": "c"}))
    as_text = Message(**text_fields(message_type="image",
                                    content='{"link":"https://x.test/a.png","caption":"c"}'))
    assert as_model.to_query() == as_dict.to_query() == as_text.to_query()
    assert json.loads(as_text.to_query()["Content"]) == {"link": "https://x.test/a.png", "caption": "c"}


def test_plain_repr_is_deterministic_and_lists_only_set_fields() -> None:
    first = repr(Message(**template_fields()))
    assert first == repr(Message(**template_fields()))
    assert "ttl" not in first and "template_code='830174529611842305'" in first


def test_html_repr_shows_the_wire_parameters_escaped() -> None:
    card = Message(**template_fields(template_params={"name": "<b>", "order_id": "1"}))._repr_html_()
    assert "&lt;b&gt;" in card and "TemplateParams" in card


def test_send_result_is_ok_only_for_code_ok() -> None:
    assert SendResult.model_validate({"Code": "OK", "MessageId": "m"}).ok
    assert not SendResult.model_validate({"Code": "InvalidParameter.TextNotEmpty"}).ok


def test_deprecation_is_silent_when_checking_frames() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        message, problems = Message.check(template_fields(isv_code="x"))
    assert message is not None and not problems
