"""Which model validates the ``Content`` of each channel and MessageType (reference table 1.1).

Telegram and LINE bodies, and the WhatsApp, Messenger and Instagram types whose shape the
reference leaves unconfirmed, are pass-through models made here: they check only the keys the
reference says are required.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from ..problems import Problem, problem, problems_from_validation_error
from .base import ContentModel, PassThroughContent
from .messenger import InstagramMedia, InstagramText, MessengerMedia, MessengerText
from .viber import (
    ViberDocument,
    ViberImage,
    ViberText,
    ViberTextButton,
    ViberTextImage,
    ViberTextImageButton,
    ViberTextVideo,
    ViberTextVideoButton,
    ViberVideo,
)
from .whatsapp import (
    WhatsAppAudio,
    WhatsAppContacts,
    WhatsAppDocument,
    WhatsAppImage,
    WhatsAppInteractive,
    WhatsAppLocation,
    WhatsAppReaction,
    WhatsAppSticker,
    WhatsAppText,
    WhatsAppVideo,
)

__all__ = ["CONTENT_MODELS", "MESSAGE_TYPES", "Content", "ContentType", "check_content",
           "content_model_for"]

Content = ContentModel | PassThroughContent | WhatsAppContacts
"""Any validated content value."""


# pragma reason (mutmut): runs only while this module is imported, and mutmut applies a
# mutant only in a test process forked after the import, so none of its mutants is ever run;
# what it builds is pinned by tests/test_content.py (every channel and type has its model,
# each required key is named when missing)
def _passthrough(channel: str, message_type: str,
                 required: tuple[str, ...]) -> type[PassThroughContent]:  # pragma: no mutate block
    name = f"{channel.title()}{message_type[:1].upper()}{message_type[1:]}Content"
    return type(name, (PassThroughContent,), {
        "required": required, "channel": channel, "message_type": message_type,
    })


MESSAGE_TYPES: dict[str, tuple[str, ...]] = {
    "whatsapp": ("text", "image", "video", "audio", "document", "interactive", "location",
                 "contacts", "reaction", "sticker", "typing_indicator", "pin", "carousel"),
    "viber": ("text", "image", "video", "document", "text_button", "text_image_button",
              "text_video", "text_video_button", "text_image"),
    "messenger": ("text", "image", "video", "document", "audio", "interactive",
                  "couponTemplate", "regularTemplate", "quickReply", "buttonTemplate"),
    "instagram": ("text", "image", "video", "document", "audio", "interactive",
                  "couponTemplate", "regularTemplate", "quickReply", "buttonTemplate"),
    "telegram": ("text", "image", "video", "audio", "document", "location", "gif", "sticker",
                 "interactive"),
    "line": ("text", "textV2", "image", "video", "audio", "buttons", "confirm", "carousel",
             "imageCarousel", "quickReply", "sticker", "location", "coupon", "imagemap", "flex",
             "interactive"),
}
"""Valid MessageType values per channel (reference table 1.1)."""

_TELEGRAM_KEYS: dict[str, tuple[str, ...]] = {
    "text": ("text",), "image": ("link",), "video": ("link",), "audio": ("link",),
    "document": ("link",), "gif": ("link",), "sticker": ("link",),
    "location": ("latitude", "longitude"), "interactive": ("type",),
}
_LINE_KEYS: dict[str, tuple[str, ...]] = {
    "text": ("text",), "textV2": ("text",), "image": ("link", "previewImageUrl"),
    "video": ("link", "previewImageUrl"), "audio": ("link", "duration"),
    "buttons": ("text", "actions"), "confirm": ("text", "actions"), "carousel": ("columns",),
    "imageCarousel": ("columns",), "quickReply": ("text", "items"),
    "sticker": ("packageId", "stickerId"),
    "location": ("title", "address", "latitude", "longitude"),
    "coupon": ("couponId",), "imagemap": ("baseUrl", "altText"), "flex": ("contents", "altText"),
    "interactive": (),
}

ContentType = type[ContentModel] | type[PassThroughContent] | type[WhatsAppContacts]

CONTENT_MODELS: dict[tuple[str, str], ContentType] = {
    ("whatsapp", "text"): WhatsAppText,
    ("whatsapp", "image"): WhatsAppImage,
    ("whatsapp", "video"): WhatsAppVideo,
    ("whatsapp", "audio"): WhatsAppAudio,
    ("whatsapp", "document"): WhatsAppDocument,
    ("whatsapp", "sticker"): WhatsAppSticker,
    ("whatsapp", "location"): WhatsAppLocation,
    ("whatsapp", "contacts"): WhatsAppContacts,
    ("whatsapp", "reaction"): WhatsAppReaction,
    ("whatsapp", "interactive"): WhatsAppInteractive,
    ("whatsapp", "typing_indicator"): _passthrough("whatsapp", "typing_indicator", ()),
    ("whatsapp", "pin"): _passthrough("whatsapp", "pin", ()),
    ("whatsapp", "carousel"): _passthrough("whatsapp", "carousel", ()),
    ("viber", "text"): ViberText,
    ("viber", "image"): ViberImage,
    ("viber", "video"): ViberVideo,
    ("viber", "document"): ViberDocument,
    ("viber", "text_button"): ViberTextButton,
    ("viber", "text_image_button"): ViberTextImageButton,
    ("viber", "text_video"): ViberTextVideo,
    ("viber", "text_video_button"): ViberTextVideoButton,
    ("viber", "text_image"): ViberTextImage,
    ("messenger", "text"): MessengerText,
    ("instagram", "text"): InstagramText,
}
for _mt in ("image", "video", "audio", "document"):
    CONTENT_MODELS[("messenger", _mt)] = MessengerMedia
    CONTENT_MODELS[("instagram", _mt)] = InstagramMedia
for _ch in ("messenger", "instagram"):
    for _mt in ("interactive", "couponTemplate", "regularTemplate", "quickReply", "buttonTemplate"):
        CONTENT_MODELS[(_ch, _mt)] = _passthrough(_ch, _mt, ())
for _mt, _keys in _TELEGRAM_KEYS.items():
    CONTENT_MODELS[("telegram", _mt)] = _passthrough("telegram", _mt, _keys)
for _mt, _keys in _LINE_KEYS.items():
    CONTENT_MODELS[("line", _mt)] = _passthrough("line", _mt, _keys)


def content_model_for(channel: str, message_type: str) -> ContentType | None:
    """The content model for a channel and MessageType, or None when the pair is not valid."""
    return CONTENT_MODELS.get((channel, message_type))


def check_content(channel: str, message_type: str,
                  value: Any) -> tuple[Content | None, str | None, list[Problem]]:
    """``value`` checked as the ``Content`` of a ``message_type`` message on ``channel``.

    ``(model, text, [])`` when it validates into a new model, where ``text`` is the JSON text
    it was given as (None for a dict or a model): that text goes on the wire exactly as given,
    as the SDK sends it. ``(None, None, [])`` when it is already the right model;
    ``(None, None, problems)`` when it is not right, each problem naming ``Content`` (or
    ``MessageType``, when the type is not one of the channel's).
    """
    model = content_model_for(channel, message_type)
    if model is None:
        valid = ", ".join(MESSAGE_TYPES[channel])
        return None, None, [problem(
            "MessageType", "not_for_channel",
            f"{message_type!r} is not a {channel} message type; use one of: {valid}")]
    if value is None or value == "":
        return None, None, [problem("Content", "required",
                                    f"is required for a {message_type} message")]
    if isinstance(value, model):
        return None, None, []
    if hasattr(value, "to_wire"):
        value = value.to_wire()
    raw = value if isinstance(value, str) else None
    if raw is not None:
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            return None, None, [problem("Content", "invalid_json",
                                        f"is not valid JSON ({exc.msg})")]
    try:
        # Keys left empty in JSON text (the reference's own example has "link": "") are
        # ignored by the service: the validated model without them is what the checks saw.
        return model.model_validate(value), raw, []
    except ValidationError as exc:
        return None, None, [
            problem(f"Content.{p.field}" if p.field else "Content", p.rule, p.message)
            for p in problems_from_validation_error(exc)
        ]
