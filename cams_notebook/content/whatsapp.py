"""WhatsApp content: text, media, location, reaction, contacts and the interactive object,
with the platform limits the reference quotes (section 2).

``interactive`` is Meta's object passed through: only ``type`` and ``action`` are required, and
the lengths and counts WhatsApp enforces are checked where present.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .base import Caption, ContentModel, FileName, LinkContent, TextContent, dumps

__all__ = [
    "WHATSAPP_TEXT_LIMIT",
    "Contact",
    "ContactName",
    "WhatsAppAudio",
    "WhatsAppContacts",
    "WhatsAppDocument",
    "WhatsAppImage",
    "WhatsAppInteractive",
    "WhatsAppLocation",
    "WhatsAppReaction",
    "WhatsAppSticker",
    "WhatsAppText",
    "WhatsAppVideo",
]

WHATSAPP_TEXT_LIMIT = 4096


class WhatsAppText(TextContent):
    """``{"text": ...}``; ``caption`` is not allowed on text."""

    channel, message_type = "whatsapp", "text"
    _limit = WHATSAPP_TEXT_LIMIT


class WhatsAppImage(LinkContent, Caption):
    channel, message_type = "whatsapp", "image"


class WhatsAppVideo(LinkContent, Caption):
    channel, message_type = "whatsapp", "video"


class WhatsAppAudio(LinkContent):
    """Audio takes no caption (WhatsApp does not show one)."""

    channel, message_type = "whatsapp", "audio"


class WhatsAppDocument(LinkContent, Caption, FileName):
    channel, message_type = "whatsapp", "document"


class WhatsAppSticker(LinkContent):
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
