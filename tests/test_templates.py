from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pandas as pd
import pytest

from cams_notebook.problems import Problem
from cams_notebook.sandbox import catalogue
from cams_notebook.sandbox.catalogue import CATALOGUE, find, list_rows
from cams_notebook.templates import (
    BODY_MAX_CHARS,
    HEADER_MAX_CHARS,
    RULE_CODES,
    VIBER_BODY_MAX_CHARS,
    RenderedHeader,
    Template,
    TemplateProblem,
    TemplateSummary,
    normalise_language,
    template_key,
)


def wire(**overrides: Any) -> dict[str, Any]:
    """A WhatsApp template with a media header, body, footer and a dynamic URL button."""
    data: dict[str, Any] = {
        "TemplateCode": "900000000000000001",
        "Name": "demo",
        "Language": "en",
        "Category": "UTILITY",
        "AuditStatus": "pass",
        "TemplateType": "WHATSAPP",
        "Example": {"banner": "https://cdn.example.com/a.jpg", "name": "Ann", "order_id": "A1"},
        "Components": [
            {
                "Type": "BUTTONS",
                "Buttons": [
                    {
                        "Type": "URL",
                        "Text": "Track",
                        "UrlType": "dynamic",
                        "Url": "https://shop.example.com/track/$(order_id)",
                    },
                ],
            },
            {"Type": "BODY", "Text": "Hi $(name), order $(order_id) shipped. Bye $(name)."},
            {"Type": "FOOTER", "Text": "Example Shop"},
            {"Type": "HEADER", "Format": "IMAGE", "Url": "$(banner)"},
        ],
    }
    data.update(overrides)
    return data


def body_only(text: str, **overrides: Any) -> Template:
    return Template.model_validate(
        wire(Components=[{"Type": "BODY", "Text": text}], Example={}, **overrides)
    )


GOOD = {"banner": "https://cdn.example.com/a.jpg", "name": "Ann", "order_id": "A1"}


def rules(problems: list[TemplateProblem]) -> list[tuple[str, str]]:
    return [(p.field, p.rule) for p in problems]


# -- parsing -----------------------------------------------------------------------------------


def test_parses_from_wire_names() -> None:
    t = Template.model_validate(wire())
    assert (t.template_code, t.name, t.language, t.category) == (
        "900000000000000001",
        "demo",
        "en",
        "UTILITY",
    )
    assert t.components[0].buttons[0].url_type == "dynamic"
    assert t.example["order_id"] == "A1"


def test_parses_from_snake_case_names() -> None:
    t = Template(
        template_code="1",
        name="demo",
        language="en",
        audit_status="pass",
        components=[{"type": "BODY", "text": "Hi $(name)"}],  # type: ignore[list-item]
    )
    assert t.variables == ("name",)
    assert (
        Template.model_validate(
            {
                "template_code": "1",
                "name": "demo",
                "language": "en",
                "components": [
                    {"type": "BUTTONS", "buttons": [{"type": "URL", "url_type": "static"}]}
                ],
            }
        )
        .components[0]
        .buttons[0]
        .url_type
        == "static"
    )


def test_unknown_wire_fields_are_kept_and_written_back() -> None:
    data = wire(FutureField={"x": 1})
    data["Components"][1]["hasExpiration"] = True
    t = Template.model_validate(data)
    assert t.model_extra == {"FutureField": {"x": 1}}
    assert t.components[1].has_expiration is True
    assert t.to_wire() == data


def test_null_lists_and_maps_on_the_wire_parse_as_empty() -> None:
    t = Template.model_validate(wire(Components=None, Example=None))
    assert (t.components, t.example, t.variables) == ([], {}, ())


def test_templates_are_immutable() -> None:
    t = Template.model_validate(wire())
    with pytest.raises(ValueError):
        t.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("status", "approved"),
    [
        ("pass", True),
        ("PASS", True),
        ("Pass", True),
        ("fail", False),
        ("auditing", False),
        ("unaudit", False),
        (None, False),
    ],
)
def test_approved_only_when_audit_status_is_pass(status: str | None, approved: bool) -> None:
    assert Template.model_validate(wire(AuditStatus=status)).approved is approved


def test_summary_parses_a_list_row_from_wire_or_snake_case() -> None:
    row = list_rows(name="rejected_template")[0]
    s = TemplateSummary.model_validate(row)
    assert (s.template_name, s.audit_status, s.approved) == ("rejected_template", "fail", False)
    assert s.reason and s.last_update_time
    assert TemplateSummary(
        template_code="1", template_name="x", language="en", audit_status="pass"
    ).approved


def test_channel_defaults_to_whatsapp() -> None:
    assert Template.model_validate(wire(TemplateType=None)).channel == "whatsapp"
    assert Template.model_validate(wire(TemplateType="VIBER")).channel == "viber"


# -- variables ---------------------------------------------------------------------------------


def test_variables_are_listed_in_display_order_once() -> None:
    # wire order is BUTTONS, BODY, FOOTER, HEADER; display order puts the header first
    assert Template.model_validate(wire()).variables == ("banner", "name", "order_id")


def test_variable_names_are_letters_digits_and_underscores() -> None:
    t = body_only("a $(first_name) b $(x2) c $( spaced ) d $() e $(first-name) f $(Name)")
    assert t.variables == ("first_name", "x2", "Name")


def test_variables_include_coupon_codes_cards_and_offers() -> None:
    t = Template.model_validate(
        wire(
            Components=[
                {
                    "Type": "LIMITED_TIME_OFFER",
                    "Text": "Sale",
                    "OfferExpirationTimeMs": "$(expires)",
                },
                {"Type": "BUTTONS", "Buttons": [{"Type": "COPY_CODE", "CouponCode": "$(coupon)"}]},
                {
                    "Type": "CAROUSEL",
                    "Cards": [
                        {
                            "CardComponents": [
                                {"Type": "HEADER", "Format": "IMAGE", "Url": "$(card_image)"},
                                {"Type": "BODY", "Text": "Only $(price)"},
                            ]
                        }
                    ],
                },
            ]
        )
    )
    assert t.variables == ("expires", "coupon", "card_image", "price")


# -- check_params ------------------------------------------------------------------------------


def test_good_params_have_no_problems() -> None:
    assert Template.model_validate(wire()).check_params(GOOD) == []


def test_missing_variable_is_reported_once_per_variable() -> None:
    problems = Template.model_validate(wire()).check_params({"banner": GOOD["banner"]})
    assert rules(problems) == [
        ("TemplateParams.name", "missing_variable"),
        ("TemplateParams.order_id", "missing_variable"),
    ]
    assert problems[0].code == "InvalidParameter.TemplateParamsMissing"
    assert problems[0].variable == "name"
    assert '"name"' in problems[0].message


def test_no_params_for_a_template_with_variables_means_all_missing() -> None:
    problems = Template.model_validate(wire()).check_params(None)
    assert [p.rule for p in problems] == ["missing_variable"] * 3


def test_no_params_for_a_template_without_variables_is_fine() -> None:
    assert body_only("Hello there").check_params(None) == []


def test_extra_variable_is_reported_and_lists_the_expected_ones() -> None:
    problems = Template.model_validate(wire()).check_params({**GOOD, "nickname": "A"})
    assert rules(problems) == [("TemplateParams.nickname", "extra_variable")]
    assert problems[0].code == "InvalidParameter.TemplateParamsUnknown"
    assert "banner, name, order_id" in problems[0].message


@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_blank_variable_is_reported(blank: str) -> None:
    problems = Template.model_validate(wire()).check_params({**GOOD, "name": blank})
    assert rules(problems) == [("TemplateParams.name", "blank_variable")]
    assert problems[0].code == "InvalidParameter.TemplateParamsBlank"


@pytest.mark.parametrize(
    "empty",
    [None, math.nan, float("nan"), pd.NA, pd.NaT],
    ids=["None", "math.nan", "float-nan", "pd.NA", "pd.NaT"],
)
def test_null_and_nan_values_are_reported(empty: object) -> None:
    problems = Template.model_validate(wire()).check_params({**GOOD, "name": empty})
    assert rules(problems) == [("TemplateParams.name", "null_variable")]
    assert problems[0].code == "InvalidParameter.TemplateParamsNull"


def test_nan_from_a_dataframe_row_is_reported_as_null() -> None:
    row = pd.DataFrame([{**GOOD, "name": None}]).astype({"name": "float64"}).iloc[0]
    problems = Template.model_validate(wire()).check_params(row.to_dict())
    assert ("TemplateParams.name", "null_variable") in rules(problems)
    assert "empty spreadsheet cell" in problems[0].message


@pytest.mark.parametrize("value", [1234, 12.5, True, ["A1"], b"A1"])
def test_non_string_values_are_reported(value: object) -> None:
    problems = Template.model_validate(wire()).check_params({**GOOD, "order_id": value})
    assert rules(problems) == [("TemplateParams.order_id", "not_a_string")]
    assert problems[0].code == "InvalidParameter.TemplateParamsNotString"


def test_a_number_value_gets_a_hint_to_write_it_as_text() -> None:
    [problem] = Template.model_validate(wire()).check_params({**GOOD, "order_id": 1234})
    assert "number" in problem.message and '"1234"' in problem.message


@pytest.mark.parametrize(
    "url",
    [
        "ftp://cdn.example.com/a.jpg",
        "cdn.example.com/a.jpg",
        "https://",
        "https://cdn.example.com/a b.jpg",
        "banner",
    ],
)
def test_whole_url_variable_must_be_an_http_url(url: str) -> None:
    problems = Template.model_validate(wire()).check_params({**GOOD, "banner": url})
    assert rules(problems) == [("TemplateParams.banner", "bad_url")]
    assert problems[0].code == "InvalidParameter.TemplateParamsUrlInvalid"
    assert "https://" in problems[0].message


def test_url_suffix_variable_must_leave_a_valid_url() -> None:
    problems = Template.model_validate(wire()).check_params({**GOOD, "order_id": "A 1"})
    assert rules(problems) == [("TemplateParams.order_id", "bad_url")]
    assert "https://shop.example.com/track/A 1" in problems[0].message


def test_url_suffix_variable_may_be_plain_text() -> None:
    # order_id is not itself a URL: it completes https://shop.example.com/track/...
    assert Template.model_validate(wire()).check_params({**GOOD, "order_id": "A-10023"}) == []


def test_body_longer_than_1024_characters_is_too_long() -> None:
    t = body_only("Hi $(name)!")
    assert t.check_params({"name": "x" * (BODY_MAX_CHARS - 4)}) == []
    problems = t.check_params({"name": "x" * (BODY_MAX_CHARS - 3)})
    assert rules(problems) == [("body", "too_long")]
    assert problems[0].code == "InvalidParameter.TemplateParamsTooLong"
    assert "1,025" in problems[0].message and "1,024" in problems[0].message


def test_viber_body_limit_is_1000_characters() -> None:
    t = body_only("$(text)", TemplateType="VIBER")
    assert t.check_params({"text": "x" * VIBER_BODY_MAX_CHARS}) == []
    assert rules(t.check_params({"text": "x" * (VIBER_BODY_MAX_CHARS + 1)})) == [
        ("body", "too_long")
    ]


def test_text_header_longer_than_60_characters_is_too_long() -> None:
    t = Template.model_validate(
        wire(
            Example={},
            Components=[
                {"Type": "HEADER", "Format": "TEXT", "Text": "At $(clinic)"},
                {"Type": "BODY", "Text": "See you"},
            ],
        )
    )
    assert t.check_params({"clinic": "c" * (HEADER_MAX_CHARS - 3)}) == []
    assert rules(t.check_params({"clinic": "c" * (HEADER_MAX_CHARS - 2)})) == [
        ("header", "too_long")
    ]


def test_positional_placeholder_in_a_value_is_blamed_on_that_value() -> None:
    problems = Template.model_validate(wire()).check_params({**GOOD, "name": "Ann {{1}}"})
    assert rules(problems) == [("TemplateParams.name", "placeholder")]
    assert problems[0].code == "InvalidParameter.MessageInvalid"
    assert "{{1}}" in problems[0].message


def test_positional_placeholder_in_the_template_itself_is_blamed_on_the_body() -> None:
    problems = body_only("Hi {{12}} and $(name)").check_params({"name": "Ann"})
    assert rules(problems) == [("body", "placeholder")]
    assert body_only("Hi {{ 1 }} and {{x}}").check_params({}) == []


@pytest.mark.parametrize("value", ["line\nbreak", "tab\there", "five     spaces"])
def test_whatsapp_values_with_newlines_tabs_or_many_spaces_are_reported(value: str) -> None:
    problems = Template.model_validate(wire()).check_params({**GOOD, "name": value})
    assert rules(problems) == [("TemplateParams.name", "bad_whitespace")]
    assert problems[0].code == "InvalidParameter.TemplateParamsWhitespace"


def test_viber_values_may_contain_newlines() -> None:
    assert body_only("Hi $(name)", TemplateType="VIBER").check_params({"name": "A\nB"}) == []


def test_problems_are_toolkit_problems_with_the_rule_code() -> None:
    problems = Template.model_validate(wire()).check_params(
        {"banner": "nope", "name": None, "order_id": 7, "x": "y"}
    )
    assert problems and all(isinstance(p, Problem) for p in problems)
    assert all(p.code == RULE_CODES[p.rule] for p in problems)


def test_params_must_be_a_mapping() -> None:
    with pytest.raises(TypeError):
        Template.model_validate(wire()).check_params([("name", "Ann")])  # type: ignore[arg-type]


# -- render ------------------------------------------------------------------------------------


def test_render_fills_every_part() -> None:
    r = Template.model_validate(wire()).render(GOOD)
    assert r.header == RenderedHeader(kind="image", url="https://cdn.example.com/a.jpg")
    assert r.body == "Hi Ann, order A1 shipped. Bye Ann."
    assert r.footer == "Example Shop"
    assert [(b.type, b.text, b.url) for b in r.buttons] == [
        ("URL", "Track", "https://shop.example.com/track/A1")
    ]
    assert r.missing == ()


def test_render_leaves_missing_and_empty_variables_visible() -> None:
    r = Template.model_validate(wire()).render({"name": "Ann", "order_id": math.nan})
    assert r.body == "Hi Ann, order $(order_id) shipped. Bye Ann."
    assert r.header is not None and r.header.url == "$(banner)"
    assert r.missing == ("banner", "order_id")


def test_render_does_not_expand_variables_inside_values() -> None:
    assert body_only("Hi $(a) $(b)").render({"a": "$(b)", "b": "B"}).body == "Hi $(b) B"


def test_render_shows_numbers_as_text() -> None:
    assert body_only("Order $(n)").render({"n": 42}).body == "Order 42"


def test_render_adds_authentication_security_text_and_expiry_footer() -> None:
    t = Template.model_validate(find(name="login_code", language="en"))
    r = t.render({"code": "123456"})
    assert r.body == "123456 is your verification code. For your security, do not share this code."
    assert r.footer == "This code expires in 10 minutes."
    assert [b.type for b in r.buttons] == ["COPY_CODE"]


def test_render_phone_button_and_text_header() -> None:
    t = Template.model_validate(find(name="appointment_reminder", language="en"))
    r = t.render(t.example)
    assert r.header == RenderedHeader(kind="text", text="Appointment at Riverside Clinic")
    assert r.buttons[0].phone_number == "+12025550143"


def test_render_carousel_cards() -> None:
    t = Template.model_validate(
        wire(
            Components=[
                {"Type": "BODY", "Text": "Pick one"},
                {
                    "Type": "CAROUSEL",
                    "Cards": [
                        {
                            "CardComponents": [
                                {
                                    "Type": "HEADER",
                                    "Format": "IMAGE",
                                    "Url": "https://cdn.example.com/$(sku).jpg",
                                },
                                {"Type": "BODY", "Text": "Only $(price)"},
                                {
                                    "Type": "BUTTONS",
                                    "Buttons": [{"Type": "QUICK_REPLY", "Text": "Buy"}],
                                },
                            ]
                        }
                    ],
                },
            ]
        )
    )
    [card] = t.render({"sku": "s1", "price": "$5"}).cards
    assert card.header is not None and card.header.url == "https://cdn.example.com/s1.jpg"
    assert (card.body, card.buttons[0].text) == ("Only $5", "Buy")


# -- keys --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "canonical"),
    [("pt-br", "pt_BR"), ("ZH_cn", "zh_CN"), ("EN", "en"), (" id ", "id"), ("en_US", "en_US")],
)
def test_language_codes_are_normalised_to_the_cams_spelling(given: str, canonical: str) -> None:
    assert normalise_language(given) == canonical


def test_template_key_is_code_and_normalised_language() -> None:
    assert template_key(" 123 ", "pt-br") == ("123", "pt_BR")
    assert Template.model_validate(wire(Language="EN")).key == ("900000000000000001", "en")
    with pytest.raises(ValueError):
        template_key("", "en")


# -- catalogue ---------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda e: f"{e['Name']}-{e['Language']}")
def test_every_catalogue_entry_parses_and_round_trips(entry: dict[str, Any]) -> None:
    t = Template.model_validate(entry)
    assert t.to_wire() == entry
    assert set(t.example) == set(t.variables)


@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda e: f"{e['Name']}-{e['Language']}")
def test_every_catalogue_example_is_valid_params(entry: dict[str, Any]) -> None:
    t = Template.model_validate(entry)
    assert t.check_params(t.example) == []
    assert t.render(t.example).missing == ()


def test_catalogue_codes_are_unique_per_code_and_language() -> None:
    keys = Counter((e["TemplateCode"], e["Language"]) for e in CATALOGUE)
    assert max(keys.values()) == 1
    names = {}
    for e in CATALOGUE:  # one template keeps one code in every language
        assert names.setdefault(e["Name"], e["TemplateCode"]) == e["TemplateCode"]
    assert len(set(names.values())) == len(names)
    assert all(
        e["TemplateCode"].isdigit() and 18 <= len(e["TemplateCode"]) <= 20 for e in CATALOGUE
    )


def test_catalogue_holds_the_documented_templates() -> None:
    have = {(e["Name"], e["Language"], e["TemplateType"], e["AuditStatus"]) for e in CATALOGUE}
    assert have == {
        ("order_shipped", "en", "WHATSAPP", "pass"),
        ("order_shipped", "es", "WHATSAPP", "pass"),
        ("order_shipped", "pt_BR", "WHATSAPP", "pass"),
        ("welcome_offer", "en", "WHATSAPP", "pass"),
        ("welcome_offer", "id", "WHATSAPP", "pass"),
        ("login_code", "en", "WHATSAPP", "pass"),
        ("appointment_reminder", "en", "WHATSAPP", "pass"),
        ("appointment_reminder", "zh_CN", "WHATSAPP", "pass"),
        ("viber_promo", "en", "VIBER", "pass"),
        ("viber_notice", "en", "VIBER", "pass"),
        ("viber_notice", "ru", "VIBER", "pass"),
        ("pending_template", "en", "WHATSAPP", "auditing"),
        ("rejected_template", "en", "WHATSAPP", "fail"),
    }
    assert find(name="rejected_template", language="en")["Reason"]  # type: ignore[index]


def test_catalogue_docstring_table_matches_the_entries() -> None:
    doc = catalogue.__doc__ or ""
    for e in CATALOGUE:
        t = Template.model_validate(e)
        line = next(
            ln for ln in doc.splitlines() if ln.split()[:3] == [t.template_code, t.name, t.language]
        )
        assert line.split(None, 6)[3:6] == [t.channel, t.category, t.audit_status]
        assert line.split(None, 6)[6] == ", ".join(t.variables)


def test_find_by_code_or_name_with_a_normalised_language() -> None:
    by_name = find(name="order_shipped", language="pt-br")
    assert by_name is not None and by_name["Language"] == "pt_BR"
    assert find(by_name["TemplateCode"], language="pt_BR") == by_name
    assert find(by_name["TemplateCode"], name="welcome_offer", language="en") is None
    assert find(name="order_shipped", language="fr") is None
    assert find(name="viber_notice", language="en", template_type="whatsapp") is None


def test_find_returns_a_copy() -> None:
    entry = find(name="login_code", language="en")
    assert entry is not None
    entry["Components"].clear()
    assert find(name="login_code", language="en")["Components"]  # type: ignore[index]


def test_find_needs_a_code_or_a_name() -> None:
    with pytest.raises(ValueError):
        find(language="en")


def test_list_rows_filters_like_list_chatapp_template() -> None:
    assert {r["TemplateName"] for r in list_rows(template_type="viber")} == {
        "viber_promo",
        "viber_notice",
    }
    assert [r["TemplateName"] for r in list_rows(audit_status="AUDITING")] == ["pending_template"]
    assert [r["Language"] for r in list_rows(name="order_shipped")] == ["en", "es", "pt_BR"]
    assert {r["TemplateName"] for r in list_rows(category="authentication")} == {"login_code"}
    assert len(list_rows()) == len(CATALOGUE)
    row = list_rows(code=CATALOGUE[0]["TemplateCode"], language="EN")[0]
    assert set(row) == {
        "TemplateCode",
        "TemplateName",
        "AuditStatus",
        "Language",
        "Category",
        "TemplateType",
        "LastUpdateTime",
    }
