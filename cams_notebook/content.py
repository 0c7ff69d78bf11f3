"""Typed ``Content`` models for free-form (``Type=message``) sends, per channel and MessageType.

``Content`` travels as a JSON string whose keys are camelCase (``link``, ``fileName``,
``messageId``), not the PascalCase of the request parameters. Each model here knows its
channel and MessageType, validates what the reference (``cams_api.md`` section 2) requires
and forbids, and serialises itself compactly with non-ASCII kept raw, as the official SDK
does for its JSON parameters.

Where the reference leaves a shape unconfirmed (WhatsApp ``interactive``, ``contacts``,
``typing_indicator``, ``pin``, ``carousel``; the Messenger/Instagram template types;
Telegram and LINE pass-through bodies) the model checks only the keys the reference says
are required and passes everything else through untouched, so that a user is never
blocked by our guess about a shape the service accepts.

Keys left empty (``""`` or ``null``) are dropped before validation, on every model: the
service ignores them, and the reference's own example Content for a WhatsApp text is
``{"text": "hello whatsapp", "link": "", "caption": "", "fileName": ""}``. A required key
left empty is therefore reported as missing. Only the top level is looked at; nested
objects (an interactive ``header``...) pass as given. What goes on the wire is decided in
:meth:`~.models.Message.to_query`: a model (or a dict) is sent as this module serialises it,
without the empty keys; JSON text is sent exactly as it was given, as the SDK does.

Limits enforced (reference section 2; the WhatsApp and Viber platform figures it quotes):
WhatsApp text <= 4096 characters, caption <= 1024, interactive body <= 1024, header/footer
<= 60, at most 3 reply buttons with titles <= 20 and ids <= 256, list button text <= 20,
at most 10 sections and 10 rows in all, section and row titles <= 24, row descriptions <= 72;
Viber text <= 1000, button caption <= 30, file name <= 25; media links must be http(s); no
``{{digits}}`` placeholders in a body (the service rejects them with
``InvalidParameter.MessageInvalid``). The size of the whole request is bounded in
:mod:`~.models` (``MAX_QUERY_LENGTH``).
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    RootModel,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "CONTENT_MODELS",
    "MESSAGE_TYPES",
    "Content",
    "ContentModel",
    "PassThroughContent",
    "content_model_for",
    "dumps",
]

WHATSAPP_TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
VIBER_TEXT_LIMIT = 1000
VIBER_FILE_NAME_LIMIT = 25
_PLACEHOLDER = re.compile(r"\{\{\s*\d+\s*\}\}")


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
"""One encoder for all: ``json.dumps`` with options builds a new one on every call."""


def dumps(value: Any) -> str:
    """Compact JSON with non-ASCII kept raw: the wire form of every JSON parameter."""
    return _COMPACT.encode(value)


def _check_link(value: str | None) -> str | None:
    if value is None:
        return value
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/$.?#][^\s]*$", value, re.I):
        raise PydanticCustomError("bad_url", "must be an http:// or https:// URL")
    return value


def _check_body(value: str | None, limit: int | None) -> str | None:
    if value is None:
        return value
    if not value.strip():
        raise PydanticCustomError("blank", "must not be blank")
    if limit is not None and len(value) > limit:
        raise PydanticCustomError(
            "too_long", "is {length} characters long; the limit is {limit}",
            {"length": len(value), "limit": limit},
        )
    if _PLACEHOLDER.search(value):
        raise PydanticCustomError(
            "placeholder", "must not contain {{digits}} placeholders (the service rejects them)"
        )
    return value


def _without_empty_keys(data: Any) -> Any:
    """``data`` without its top-level keys whose value is ``""`` or ``None``; the service
    ignores them (see the module docstring)."""
    if type(data) is dict:
        for value in data.values():
            if value is None or (isinstance(value, str) and not value):
                return {k: v for k, v in data.items()
                        if v is not None and not (isinstance(v, str) and not v)}
    return data


def _wire_key(cls: type[BaseModel], key: str) -> str:
    """The wire (alias) name for an input key: a field name, its alias, or an alias choice."""
    for name, info in cls.model_fields.items():
        choices = getattr(info.validation_alias, "choices", None) or ()
        if key == name or key == info.alias or key in choices:
            return info.alias or name
    return key


class ContentModel(BaseModel):
    """Base of the typed content models. Keys are camelCase on the wire."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    channel: ClassVar[str] = ""
    message_type: ClassVar[str] = ""
    _order: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="wrap")
    @classmethod
    def _remember_key_order(cls, data: Any, handler: Any) -> Any:
        # The SDK sends Content as the caller wrote it; keep the caller's key order.
        data = _without_empty_keys(data)
        model = handler(data)
        if isinstance(data, dict) and isinstance(model, ContentModel):
            model._order = tuple(_wire_key(cls, str(k)) for k in data)
        return model

    def to_wire(self) -> Any:
        """The JSON-ready value, keys in the order they were given (a dict, or a list for
        contacts)."""
        dumped = self.model_dump(by_alias=True, exclude_none=True, mode="json")
        if not self._order:
            return dumped
        ordered = {k: dumped[k] for k in self._order if k in dumped}
        ordered.update((k, v) for k, v in dumped.items() if k not in ordered)
        return ordered

    def to_json(self) -> str:
        """The ``Content`` parameter as it goes on the wire."""
        return dumps(self.to_wire())


class _Text(ContentModel):
    text: str
    _limit: ClassVar[int | None] = None

    @field_validator("text")
    @classmethod
    def _text_rules(cls, v: str) -> str | None:
        return _check_body(v, cls._limit)


class _Link(ContentModel):
    link: str

    @field_validator("link")
    @classmethod
    def _link_rules(cls, v: str) -> str | None:
        return _check_link(v)


class _Caption(BaseModel):
    caption: str | None = Field(default=None, max_length=CAPTION_LIMIT)

    @field_validator("caption")
    @classmethod
    def _caption_rules(cls, v: str | None) -> str | None:
        return _check_body(v, None) if v is not None else v


class _FileName(BaseModel):
    file_name: str = Field(
        alias="fileName", validation_alias=AliasChoices("fileName", "filename", "file_name"),
        min_length=1,
    )


# --- WhatsApp -------------------------------------------------------------------------------


class WhatsAppText(_Text):
    """``{"text": ...}``; ``caption`` is not allowed on text."""

    channel, message_type = "whatsapp", "text"
    _limit = WHATSAPP_TEXT_LIMIT


class WhatsAppImage(_Link, _Caption):
    channel, message_type = "whatsapp", "image"


class WhatsAppVideo(_Link, _Caption):
    channel, message_type = "whatsapp", "video"


class WhatsAppAudio(_Link):
    """Audio takes no caption (WhatsApp does not show one)."""

    channel, message_type = "whatsapp", "audio"


class WhatsAppDocument(_Link, _Caption, _FileName):
    channel, message_type = "whatsapp", "document"


class WhatsAppSticker(_Link):
    channel, message_type = "whatsapp", "sticker"


class WhatsAppLocation(ContentModel):
    channel, message_type = "whatsapp", "location"
    latitude: int | float | str
    longitude: int | float | str
    name: str | None = None
    address: str | None = None

    @field_validator("latitude", "longitude")
    @classmethod
    def _coordinate(cls, value: int | float | str, info: Any) -> int | float | str:
        # Kept as given (number or numeric text): the reference leaves the type open.
        limit = 90 if info.field_name == "latitude" else 180
        try:
            number = float(value)
        except ValueError:
            raise PydanticCustomError("wrong_type", "must be a number") from None
        if not -limit <= number <= limit:
            raise PydanticCustomError("out_of_range", "must be between -{limit} and {limit}",
                                      {"limit": limit})
        return value


class WhatsAppReaction(ContentModel):
    channel, message_type = "whatsapp", "reaction"
    message_id: str = Field(alias="messageId", min_length=1)
    emoji: str = Field(min_length=1)


class ContactName(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    formatted_name: str = Field(min_length=1)


class Contact(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    name: ContactName


class WhatsAppContacts(RootModel[list[Contact]]):
    """An array of contact cards; each needs ``name.formatted_name``."""

    model_config = ConfigDict(frozen=True)
    channel: ClassVar[str] = "whatsapp"
    message_type: ClassVar[str] = "contacts"

    def to_wire(self) -> Any:
        return self.model_dump(mode="json", exclude_none=True)

    def to_json(self) -> str:
        return dumps(self.to_wire())

    @field_validator("root")
    @classmethod
    def _not_empty(cls, v: list[Contact]) -> list[Contact]:
        if not v:
            raise PydanticCustomError("required", "must hold at least one contact")
        return v


class WhatsAppInteractive(ContentModel):
    """Meta's interactive object, passed through; ``type`` and ``action`` are required."""

    model_config = ConfigDict(extra="allow", frozen=True)
    channel, message_type = "whatsapp", "interactive"
    type: str = Field(min_length=1)
    action: dict[str, Any]
    header: dict[str, Any] | None = None
    body: dict[str, Any] | None = None
    footer: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _limits(self) -> WhatsAppInteractive:
        for part, limit in (("header", 60), ("body", 1024), ("footer", 60)):
            _at_most(f"{part}.text", _dig(getattr(self, part), "text"), limit)
        action = self.action
        buttons = action.get("buttons")
        if isinstance(buttons, list):
            _no_more_than("action.buttons", buttons, 3)
            for button in buttons:
                _at_most("a reply button title", _dig(button, "reply", "title"), 20)
                _at_most("a reply button id", _dig(button, "reply", "id"), 256)
        _at_most("action.button", action.get("button"), 20)  # a list message's menu button
        sections = action.get("sections")
        if isinstance(sections, list):
            _no_more_than("action.sections", sections, 10)
            rows: list[Any] = []
            for section in sections:
                _at_most("a section title", _dig(section, "title"), 24)
                found = _dig(section, "rows")
                rows += found if isinstance(found, list) else []
            _no_more_than("the rows of action.sections", rows, 10)
            for row in rows:
                _at_most("a row title", _dig(row, "title"), 24)
                _at_most("a row description", _dig(row, "description"), 72)
        return self


def _dig(obj: Any, *keys: str) -> Any:
    """``obj[k1][k2]...``, or None where a step is not a dict or has no such key."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _at_most(what: str, text: Any, limit: int) -> None:
    if isinstance(text, str) and len(text) > limit:
        raise PydanticCustomError(
            "too_long", "{what} is {length} characters long; the limit is {limit}",
            {"what": what, "length": len(text), "limit": limit},
        )


def _no_more_than(what: str, items: list[Any], limit: int) -> None:
    if len(items) > limit:
        raise PydanticCustomError(
            "too_many", "{what} has {n} items; at most {limit} are allowed",
            {"what": what, "n": len(items), "limit": limit},
        )


# --- Viber ----------------------------------------------------------------------------------


class _ViberText(_Text):
    _limit = VIBER_TEXT_LIMIT


class _ViberVideo(_Link):
    thumbnail: str
    file_size: int = Field(alias="fileSize", ge=0)
    duration: int = Field(ge=0, le=600)

    @field_validator("thumbnail")
    @classmethod
    def _thumb(cls, v: str) -> str | None:
        return _check_link(v)


class _ViberButton(BaseModel):
    caption: str = Field(min_length=1, max_length=30)
    action: str = Field(min_length=1)


class ViberText(_ViberText):
    channel, message_type = "viber", "text"


class ViberImage(_Link):
    channel, message_type = "viber", "image"


class ViberVideo(_ViberVideo):
    channel, message_type = "viber", "video"


class ViberDocument(_Link, _FileName):
    """A file: ``link``, ``fileName`` (at most 25 characters on Viber) and ``fileType``."""

    channel, message_type = "viber", "document"
    file_type: str = Field(alias="fileType", min_length=1)

    @field_validator("file_name")
    @classmethod
    def _viber_file_name(cls, value: str) -> str:
        if len(value) > VIBER_FILE_NAME_LIMIT:
            raise PydanticCustomError(
                "too_long", "is {length} characters long; the limit is {limit}",
                {"length": len(value), "limit": VIBER_FILE_NAME_LIMIT},
            )
        return value


class ViberTextButton(_ViberText, _ViberButton):
    channel, message_type = "viber", "text_button"


class ViberTextImageButton(_ViberText, _Link, _ViberButton):
    channel, message_type = "viber", "text_image_button"


class ViberTextVideo(_ViberText, _ViberVideo):
    channel, message_type = "viber", "text_video"


class ViberTextVideoButton(_ViberText, _ViberVideo, _ViberButton):
    channel, message_type = "viber", "text_video_button"


class ViberTextImage(_ViberText, _Link):
    channel, message_type = "viber", "text_image"


# --- Messenger / Instagram ------------------------------------------------------------------


class MessengerText(_Text):
    channel, message_type = "messenger", "text"


class MessengerMedia(_Link):
    """Messenger image, video, audio and document: a ``link``."""

    channel, message_type = "messenger", "media"


class InstagramText(_Text):
    channel, message_type = "instagram", "text"


class InstagramMedia(_Link):
    channel, message_type = "instagram", "media"


class PassThroughContent(RootModel[dict[str, Any]]):
    """A JSON object passed through as given, after checking the keys it must carry."""

    model_config = ConfigDict(frozen=True)
    required: ClassVar[tuple[str, ...]] = ()
    channel: ClassVar[str] = ""
    message_type: ClassVar[str] = ""

    @model_validator(mode="before")
    @classmethod
    def _drop_empty_keys(cls, data: Any) -> Any:
        return _without_empty_keys(data)

    @model_validator(mode="after")
    def _required(self) -> PassThroughContent:
        if not self.root:
            raise PydanticCustomError("required", "must be a non-empty JSON object")
        missing = [k for k in self.required if self.root.get(k) in (None, "", [], {})]
        if missing:
            raise PydanticCustomError(
                "required", "is missing {keys}", {"keys": ", ".join(repr(k) for k in missing)}
            )
        return self

    def to_wire(self) -> Any:
        return self.root

    def to_json(self) -> str:
        return dumps(self.root)


Content = ContentModel | PassThroughContent | WhatsAppContacts
"""Any validated content value."""


def _passthrough(channel: str, message_type: str,
                 required: tuple[str, ...]) -> type[PassThroughContent]:
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
