"""Preview HTML: chat bubbles per channel, SMS, wire parameters, problems in plain words."""

from __future__ import annotations

import html

from cams_notebook.sandbox import catalogue
from cams_notebook.templates import Template
from cams_notebook.widgets import preview as P

ORDER_SHIPPED = "830174529611842305"


def order_shipped() -> Template:
    data = next(t for t in catalogue.CATALOGUE
                if t["TemplateCode"] == ORDER_SHIPPED and t["Language"] == "en")
    return Template.model_validate(data)


def test_whatsapp_and_viber_bubbles_look_different() -> None:
    wa = P.content_bubble("whatsapp", "text", {"text": "Hi"})
    vb = P.content_bubble("viber", "text", {"text": "Hi"})
    plain = P.content_bubble("messenger", "text", {"text": "Hi"})
    assert "cams-whatsapp" in wa and "#d9fdd3" in wa
    assert "cams-viber" in vb and "#7360f2" in vb
    assert "cams-plain" in plain and "Messenger" in plain
    assert len({wa, vb, plain}) == 3


def test_user_text_is_escaped() -> None:
    out = P.content_bubble("whatsapp", "text", {"text": "<script>alert(1)</script> & 'x'"})
    assert "<script>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#x27;x&#x27;" in out


def test_media_is_a_card_with_its_link_and_only_http_links_are_clickable() -> None:
    out = P.content_bubble("whatsapp", "image", {"link": "https://cdn.example.com/a.jpg",
                                                 "caption": "Look"})
    assert "cams-card" in out and "href='https://cdn.example.com/a.jpg'" in out and "Look" in out
    assert "<img" not in out
    bad = P.content_bubble("whatsapp", "image", {"link": "javascript:alert(1)"})
    assert "href" not in bad and "javascript:alert(1)" in bad


def test_document_shows_its_file_name() -> None:
    out = P.content_bubble("whatsapp", "document", {"link": "https://x.example/i.pdf",
                                                    "fileName": "invoice.pdf"})
    assert "📄 invoice.pdf" in out


def test_location_shows_name_address_and_coordinates() -> None:
    out = P.content_bubble("whatsapp", "location", {"latitude": "30.27", "longitude": "120.15",
                                                    "name": "HQ", "address": "1 Road"})
    assert "📍 HQ" in out and "1 Road" in out and "30.27, 120.15" in out


def test_viber_button_shows_label_and_target() -> None:
    out = P.content_bubble("viber", "text_image_button", {
        "text": "New", "link": "https://x.example/a.jpg", "caption": "Open",
        "action": "https://shop.example.com"})
    assert "cams-button" in out and "Open" in out and "href='https://shop.example.com'" in out
    assert "🖼️" in out


def test_pass_through_content_is_shown_as_json() -> None:
    out = P.content_bubble("line", "flex", {"altText": "Hi", "contents": {"type": "bubble"}})
    assert "cams-json" in out and "&quot;altText&quot;" in out
    assert "cams-json" in P.content_bubble("line", "flex", "{not json")


def test_empty_content_says_so() -> None:
    assert "nothing to preview yet" in P.content_bubble("whatsapp", "text", {})


def test_template_bubble_fills_variables_and_draws_footer_and_buttons() -> None:
    rendered = order_shipped().render({"name": "Ada", "order_id": "A-1"})
    out = P.template_bubble("whatsapp", rendered)
    assert "Hi Ada, your order A-1 is on its way!" in out
    assert "cams-footer" in out and "Example Shop" in out
    assert "Track order" in out and "https://shop.example.com/track/A-1" in out


def test_template_bubble_highlights_unfilled_variables() -> None:
    out = P.template_bubble("whatsapp", order_shipped().render({"name": "Ada"}))
    assert "<span class='cams-missing'" in out and "$(order_id)" in out


def test_template_bubble_without_a_template_asks_for_one() -> None:
    assert "choose a template" in P.template_bubble("whatsapp", None)


def test_count_turns_red_over_the_limit() -> None:
    assert "12 / 4096 characters" in P.count_html(12, 4096)
    assert "#b00020" in P.count_html(4097, 4096) and "#b00020" not in P.count_html(1, 4096)
    assert "7 characters" in P.count_html(7, None)


def test_sms_preview_shows_segments_and_encoding() -> None:
    out = html.unescape(P.sms_html("Your parcel is on its way"))
    assert "1 SMS segment, GSM-7, 25 characters (up to 160 per segment)" in out
    out = html.unescape(P.sms_html("Entrega 🚚" * 10))
    assert "2 SMS segments, UCS-2, 100 UCS-2 units" in out and "because of 🚚" in out
    assert P.sms_html(None) == ""
    assert "S_000001" in P.sms_html("", "S_000001")


def test_wire_parameters_are_json_in_a_pre() -> None:
    out = P.wire_html({"To": "8613900000000", "Content": '{"text":"<b>"}'})
    assert "<pre" in out and "&lt;b&gt;" in out
    assert '"To": "8613900000000"' in html.unescape(out)
    assert "appear once the message is valid" in P.wire_html(None)


def test_wire_parameters_wrap_between_words_and_scroll_within_the_column() -> None:
    out = P.wire_html({"Content": '{"text":"' + "word " * 200 + '"}'})
    style = out[out.index("<pre"):out.index(">", out.index("<pre"))]
    assert "white-space:pre-wrap" in style and "overflow-wrap:anywhere" in style
    assert "break-all" not in out  # that breaks in the middle of a value
    assert "max-width:100%" in style and "overflow:auto" in style and "max-height" in style
