"""Viber content: text, image, video, document and the button combinations, with Viber's
limits (text <= 1000 characters, button caption <= 30, file name <= 25, video <= 600 s)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError

from .base import FileName, LinkContent, TextContent, check_link

__all__ = [
    "VIBER_FILE_NAME_LIMIT",
    "VIBER_TEXT_LIMIT",
    "ViberDocument",
    "ViberImage",
    "ViberText",
    "ViberTextButton",
    "ViberTextImage",
    "ViberTextImageButton",
    "ViberTextVideo",
    "ViberTextVideoButton",
    "ViberVideo",
]

VIBER_TEXT_LIMIT = 1000
VIBER_FILE_NAME_LIMIT = 25


class _ViberText(TextContent):
    _limit = VIBER_TEXT_LIMIT


class _ViberVideo(LinkContent):
    thumbnail: str
    file_size: int = Field(alias="fileSize", ge=0)
    duration: int = Field(ge=0, le=600)

    @field_validator("thumbnail")
    @classmethod
    def _thumb(cls, v: str) -> str | None:
        return check_link(v)


class _ViberButton(BaseModel):
    caption: str = Field(min_length=1, max_length=30)
    action: str = Field(min_length=1)


class ViberText(_ViberText):
    channel, message_type = "viber", "text"


class ViberImage(LinkContent):
    channel, message_type = "viber", "image"


class ViberVideo(_ViberVideo):
    channel, message_type = "viber", "video"


class ViberDocument(LinkContent, FileName):
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


class ViberTextImageButton(_ViberText, LinkContent, _ViberButton):
    channel, message_type = "viber", "text_image_button"


class ViberTextVideo(_ViberText, _ViberVideo):
    channel, message_type = "viber", "text_video"


class ViberTextVideoButton(_ViberText, _ViberVideo, _ViberButton):
    channel, message_type = "viber", "text_video_button"


class ViberTextImage(_ViberText, LinkContent):
    channel, message_type = "viber", "text_image"
