"""Content models: what each channel and MessageType requires, forbids and limits."""

from __future__ import annotations

import json

import pytest

from cams_notebook import Message
from cams_notebook.content import MESSAGE_TYPES, content_model_for
from tests.helpers import RECIPIENT, SENDER

LINK = "https://cdn.example.com/file"

VALID: dict[tuple[str, str], object] = {
    ("whatsapp", "text"): {"text": "Hello *bold*"},
    ("whatsapp", "image"): {"link": LINK + ".jpg", "caption": "look"},
    ("whatsapp", "video"): {"link": LINK + ".mp4"},
    ("whatsapp", "audio"): {"link": LINK + ".ogg"},
    ("whatsapp", "document"): {"link": LINK + ".pdf", "fileName": "invoice.pdf", "caption": "c"},
    ("whatsapp", "sticker"): {"link": LINK + ".webp"},
    ("whatsapp", "location"): {"latitude": 30.27, "longitude": 120.15, "name": "HQ"},
    ("whatsapp", "contacts"): [{"name": {"formatted_name": "Ada Lovelace", "first_name": "Ada"},
                                "phones": [{"phone": "+441234"}]}],
    ("whatsapp", "reaction"): {"messageId": "61851ccb2f1365b16aee0000", "emoji": "👍"},
    ("whatsapp", "interactive"): {"type": "button", "body": {"text": "Pick"},
                                  "action": {"buttons": [{"type": "reply",
                                                          "reply": {"id": "y", "title": "Yes"}}]}},
    ("whatsapp", "typing_indicator"): {"type": "text"},
    ("whatsapp", "pin"): {"type": "pin", "messageId": "x"},
    ("whatsapp", "carousel"): {"cards": [{"body": "x"}]},
    ("viber", "text"): {"text": "hi"},
    ("viber", "image"): {"link": LINK + ".png"},
    ("viber", "video"): {"link": LINK + ".mp4", "thumbnail": LINK + ".png", "fileSize": 1000,
                         "duration": 30},
    ("viber", "document"): {"link": LINK + ".docx", "fileName": "a.docx", "fileType": "docx"},
    ("viber", "text_button"): {"text": "hi", "caption": "Open", "action": "https://example.com"},
    ("viber", "text_image_button"): {"text": "hi", "link": LINK + ".png", "caption": "Open",
                                     "action": "https://example.com"},
    ("viber", "text_video"): {"text": "hi", "link": LINK + ".mp4", "thumbnail": LINK + ".png",
                              "fileSize": 1, "duration": 1},
    ("viber", "text_video_button"): {"text": "hi", "link": LINK + ".mp4",
                                     "thumbnail": LINK + ".png", "fileSize": 1, "duration": 1,
                                     "caption": "Go", "action": "https://example.com"},
    ("viber", "text_image"): {"text": "hi", "link": LINK + ".png"},
}
for _ch in ("messenger", "instagram"):
    VALID[(_ch, "text")] = {"text": "hi"}
    for _mt in ("image", "video", "audio", "document"):
        VALID[(_ch, _mt)] = {"link": LINK}
    for _mt in ("interactive", "couponTemplate", "regularTemplate", "quickReply", "buttonTemplate"):
        VALID[(_ch, _mt)] = {"anything": "passes through"}

SENDERS = {"whatsapp": SENDER, "viber": "12345", "messenger": "page1", "instagram": "ig1",
           "telegram": "bot1", "line": "chan1"}


def build(channel: str, message_type: str, content: object) -> Message:
    return Message(channel_type=channel, type="message", from_=SENDERS[channel], to=RECIPIENT,
                   message_type=message_type, content=content)


def test_every_channel_message_type_pair_has_a_content_model() -> None:
    for channel, types in MESSAGE_TYPES.items():
        for message_type in types:
            assert content_model_for(channel, message_type) is not None, (channel, message_type)
    assert content_model_for("whatsapp", "product") is None


@pytest.mark.parametrize(("channel", "message_type"), sorted(VALID))
def test_valid_content_round_trips_to_the_same_json(channel: str, message_type: str) -> None:
    content = VALID[(channel, message_type)]
    wire = build(channel, message_type, content).to_query()["Content"]
    assert json.loads(wire) == content
    assert ", " not in wire and "\\u" not in wire


# The keys each MessageType requires, copied by hand from ../shared/reference/cams_api.md
# (section 2.1 WhatsApp, 2.2 Viber; Messenger and Instagram media take a link, text a text).
# Types the reference does not describe, and the array of contacts, pass through: an empty
# one is "Content required" as a whole.
_WHOLE = ("Content",)
REQUIRED_KEYS: dict[tuple[str, str], tuple[str, ...]] = {
    ("whatsapp", "text"): ("text",),
    ("whatsapp", "image"): ("link",),
    ("whatsapp", "video"): ("link",),
    ("whatsapp", "audio"): ("link",),
    ("whatsapp", "document"): ("link", "fileName"),
    ("whatsapp", "sticker"): ("link",),
    ("whatsapp", "location"): ("longitude", "latitude"),
    ("whatsapp", "contacts"): _WHOLE,
    ("whatsapp", "reaction"): ("messageId", "emoji"),
    ("whatsapp", "interactive"): ("type", "action"),
    ("whatsapp", "typing_indicator"): _WHOLE,
    ("whatsapp", "pin"): _WHOLE,
    ("whatsapp", "carousel"): _WHOLE,
    ("viber", "text"): ("text",),
    ("viber", "image"): ("link",),
    ("viber", "video"): ("link", "thumbnail", "fileSize", "duration"),
    ("viber", "document"): ("link", "fileName", "fileType"),
    ("viber", "text_button"): ("text", "caption", "action"),
    ("viber", "text_image_button"): ("text", "link", "caption", "action"),
    ("viber", "text_video"): ("text", "link", "thumbnail", "fileSize", "duration"),
    ("viber", "text_video_button"): ("text", "link", "thumbnail", "fileSize", "duration",
                                     "caption", "action"),
    ("viber", "text_image"): ("text", "link"),
}
for _ch in ("messenger", "instagram"):
    REQUIRED_KEYS[(_ch, "text")] = ("text",)
    for _mt in ("image", "video", "audio", "document"):
        REQUIRED_KEYS[(_ch, _mt)] = ("link",)
    for _mt in ("interactive", "couponTemplate", "regularTemplate", "quickReply", "buttonTemplate"):
        REQUIRED_KEYS[(_ch, _mt)] = _WHOLE


def test_every_valid_pair_has_its_required_keys_written_down() -> None:
    assert set(REQUIRED_KEYS) == set(VALID)


@pytest.mark.parametrize(("channel", "message_type"), sorted(VALID))
def test_empty_content_is_refused_with_the_missing_keys_named(channel: str,
                                                              message_type: str) -> None:
    """Oracle: the required keys per MessageType in cams_api.md section 2 (REQUIRED_KEYS): each
    one is named as its own ``required`` problem, and nothing else is reported."""
    empty: object = [] if message_type == "contacts" else {}
    _, problems = Message.check(dict(channel_type=channel, type="message", from_=SENDERS[channel],
                                     to=RECIPIENT, message_type=message_type, content=empty))
    expected = {("Content" if key == "Content" else f"Content.{key}", "required")
                for key in REQUIRED_KEYS[(channel, message_type)]}
    assert {(p.field, p.rule) for p in problems} == expected
    assert len(problems) == len(expected)


@pytest.mark.parametrize(
    ("channel", "message_type", "content", "field", "rule"),
    [
        ("whatsapp", "image", {"link": "ftp://x/a.png"}, "Content.link", "bad_url"),
        ("whatsapp", "image", {"link": LINK, "caption": "c" * 1025}, "Content.caption", "too_long"),
        ("whatsapp", "audio", {"link": LINK, "caption": "c"}, "Content.caption", "not_allowed"),
        ("whatsapp", "sticker", {"link": LINK, "fileName": "a"}, "Content.fileName", "not_allowed"),
        ("whatsapp", "document", {"link": LINK}, "Content.fileName", "required"),
        ("whatsapp", "location", {"latitude": 91, "longitude": 0}, "Content.latitude",
         "out_of_range"),
        ("whatsapp", "reaction", {"emoji": "👍"}, "Content.messageId", "required"),
        ("whatsapp", "contacts", [{"name": {}}], "Content.[0].name.formatted_name", "required"),
        ("whatsapp", "interactive", {"type": "button"}, "Content.action", "required"),
        ("whatsapp", "interactive", {"type": "button", "action": {"buttons": [{}, {}, {}, {}]}},
         "Content", "too_many"),
        ("viber", "text", {"text": "x" * 1001}, "Content.text", "too_long"),
        ("viber", "video", {"link": LINK}, "Content.thumbnail", "required"),
        ("viber", "video", {"link": LINK, "thumbnail": LINK, "fileSize": 1, "duration": 601},
         "Content.duration", "out_of_range"),
        ("viber", "text_video_button", {"text": "t", "link": LINK, "thumbnail": LINK, "fileSize": 1,
                                        "duration": 1, "caption": "c"},
         "Content.action", "required"),
        ("viber", "document", {"link": LINK, "fileName": "a"}, "Content.fileType", "required"),
        ("messenger", "image", {}, "Content.link", "required"),
        ("telegram", "location", {"latitude": 1}, "Content", "required"),
        ("line", "sticker", {"packageId": "1"}, "Content", "required"),
    ],
)
def test_content_rules_name_field_and_rule(channel: str, message_type: str, content: object,
                                           field: str, rule: str) -> None:
    _, problems = Message.check(dict(channel_type=channel, type="message", from_=SENDERS[channel],
                                     to=RECIPIENT, message_type=message_type, content=content))
    assert (field, rule) in {(p.field, p.rule) for p in problems}


def test_file_name_spellings_are_accepted_and_sent_as_fileName() -> None:
    for spelling in ("fileName", "filename", "file_name"):
        message = build("whatsapp", "document", {"link": LINK, spelling: "a.pdf"})
        wire = message.to_query()["Content"]
        assert json.loads(wire) == {"link": LINK, "fileName": "a.pdf"}


def test_missing_text_maps_to_the_service_code() -> None:
    _, problems = Message.check(dict(channel_type="whatsapp", type="message", from_=SENDER,
                                     to=RECIPIENT, message_type="image", content={"caption": "x"}))
    assert problems[0].code == "InvalidParameter.LinkNotEmpty"


def test_telegram_and_line_bodies_pass_through_untouched() -> None:
    body = {"type": "sendPhoto", "sendPhoto": {"photo": "http://img.png", "caption": "21"}}
    wire = build("telegram", "interactive", body).to_query()["Content"]
    assert json.loads(wire) == body
    flex = {"altText": "x", "contents": {"type": "bubble"}}
    assert json.loads(build("line", "flex", flex).to_query()["Content"]) == flex


# -- keys left empty ------------------------------------------------------------------------

REFERENCE_EXAMPLE = '{"text": "hello whatsapp", "link": "", "caption": "", "fileName": "" }'
"""The Content example of the reference (cams_api.md section 1, metadata [META]), as written."""


def test_the_reference_s_own_example_content_is_accepted() -> None:
    message = build("whatsapp", "text", REFERENCE_EXAMPLE)
    assert message.content_model is not None
    assert message.content_model.to_wire() == {"text": "hello whatsapp"}


def test_content_given_as_json_text_goes_on_the_wire_exactly_as_given() -> None:
    # as the official SDK sends it; the service ignores the empty keys
    assert build("whatsapp", "text", REFERENCE_EXAMPLE).to_query()["Content"] == REFERENCE_EXAMPLE


def test_content_given_as_a_dict_goes_on_the_wire_without_its_empty_keys() -> None:
    wire = build("whatsapp", "text", json.loads(REFERENCE_EXAMPLE)).to_query()["Content"]
    assert wire == '{"text":"hello whatsapp"}'


@pytest.mark.parametrize(("channel", "message_type"),
                         sorted(k for k in VALID if k[1] != "contacts"))  # contacts: a list
def test_empty_optional_keys_are_dropped_on_every_channel(channel: str, message_type: str) -> None:
    content = VALID[(channel, message_type)]
    assert isinstance(content, dict)
    padded = {"zzUnknownButEmpty": "", **content, "caption_or_not": None}
    if "caption" not in content and message_type != "text_button":
        padded["caption"] = ""
    wire = build(channel, message_type, padded).to_query()["Content"]
    assert json.loads(wire) == content


@pytest.mark.parametrize(("channel", "message_type", "content", "field", "code"), [
    ("whatsapp", "text", {"text": "", "link": ""}, "Content.text", "InvalidParameter.TextNotEmpty"),
    ("whatsapp", "image", {"link": "", "caption": "c"}, "Content.link",
     "InvalidParameter.LinkNotEmpty"),
    ("viber", "text", {"text": None}, "Content.text", "InvalidParameter.TextNotEmpty"),
    ("telegram", "text", {"text": ""}, "Content", "InvalidParameter.ContentNotEmpty"),
])
def test_a_required_key_left_empty_is_reported_missing(channel: str, message_type: str,
                                                       content: object, field: str,
                                                       code: str) -> None:
    _, problems = Message.check({"channel_type": channel, "type": "message",
                                 "from_": SENDERS[channel], "to": RECIPIENT,
                                 "message_type": message_type, "content": content})
    assert [(p.field, p.code) for p in problems] == [(field, code)]


# -- limits the reference gives ---------------------------------------------------------------


def interactive_list(rows: int = 2, **action: object) -> dict[str, object]:
    return {"type": "list", "body": {"text": "Pick one"},
            "action": {"button": "Menu",
                       "sections": [{"title": "Section",
                                     "rows": [{"id": f"r{i}", "title": "Row", "description": "d"}
                                              for i in range(rows)]}], **action}}


def test_an_interactive_list_at_its_limits_is_accepted() -> None:
    content = interactive_list(rows=10, button="M" * 20)
    sections = content["action"]["sections"]  # type: ignore[index]
    sections[0]["title"] = "S" * 24
    sections[0]["rows"][0].update(title="T" * 24, description="D" * 72)
    assert build("whatsapp", "interactive", content).to_query()["Content"]


@pytest.mark.parametrize(("content", "rule"), [
    (interactive_list(button="M" * 21), "too_long"),
    (interactive_list(rows=11), "too_many"),
    (interactive_list(sections=[{"title": "S" * 25, "rows": []}]), "too_long"),
    (interactive_list(sections=[{"title": str(i), "rows": []} for i in range(11)]), "too_many"),
    (interactive_list(sections=[{"rows": [{"id": "1", "title": "T" * 25}]}]), "too_long"),
    (interactive_list(sections=[{"rows": [{"id": "1", "title": "T", "description": "D" * 73}]}]),
     "too_long"),
    ({"type": "button", "action": {"buttons": [{"type": "reply",
                                                 "reply": {"id": "i" * 257, "title": "Yes"}}]}},
     "too_long"),
    ({"type": "button", "header": {"type": "text", "text": "h" * 61}, "action": {}}, "too_long"),
])
def test_interactive_limits_of_the_reference_are_enforced(content: object, rule: str) -> None:
    _, problems = Message.check({"channel_type": "whatsapp", "type": "message", "from_": SENDER,
                                 "to": RECIPIENT, "message_type": "interactive",
                                 "content": content})
    assert [(p.field, p.rule, p.code) for p in problems] == [
        ("Content", rule, "InvalidParameter.ContentError")]


def test_an_odd_interactive_shape_is_a_problem_or_passes_but_never_crashes() -> None:
    for content in ({"type": "button", "action": {"buttons": [{"reply": "Yes"}, "x"]}},
                    {"type": "list", "action": {"sections": ["x", {"rows": "y"}]}}):
        Message.check({"channel_type": "whatsapp", "type": "message", "from_": SENDER,
                       "to": RECIPIENT, "message_type": "interactive", "content": content})


def test_a_viber_file_name_has_at_most_25_characters() -> None:
    ok = {"link": LINK + ".docx", "fileName": "n" * 20 + ".docx", "fileType": "docx"}
    assert build("viber", "document", ok).to_query()["Content"]
    _, problems = Message.check({"channel_type": "viber", "type": "message", "from_": "12345",
                                 "to": RECIPIENT, "message_type": "document",
                                 "content": {**ok, "fileName": "n" * 21 + ".docx"}})
    assert [(p.field, p.rule) for p in problems] == [("Content.fileName", "too_long")]
