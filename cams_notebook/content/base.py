"""What every channel's content shares: the base models, the checks on links and bodies, the
wire JSON.

The channel modules build their models from these parts; :func:`dumps` is also the wire form
of the request's other JSON parameters (see :meth:`~cams_notebook.models.Message.to_query`).
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
    "CAPTION_LIMIT",
    "Caption",
    "ContentModel",
    "FileName",
    "LinkContent",
    "PassThroughContent",
    "TextContent",
    "check_body",
    "check_link",
    "dumps",
    "without_empty_keys",
]

CAPTION_LIMIT = 1024
_PLACEHOLDER = re.compile(r"\{\{\s*\d+\s*\}\}")
_LINK = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
"""An http(s) URL: the scheme in any case, then a host, and no white space anywhere."""


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
"""One encoder for all: ``json.dumps`` with options builds a new one on every call."""


def dumps(value: Any) -> str:
    """Compact JSON with non-ASCII kept raw: the wire form of every JSON parameter."""
    return _COMPACT.encode(value)


def check_link(value: str | None) -> str | None:
    """``value`` if it is an http(s) URL (or None); a ``bad_url`` error if it is not."""
    if value is None:
        return value
    if not isinstance(value, str) or not _LINK.match(value):
        raise PydanticCustomError("bad_url", "must be an http:// or https:// URL")
    return value


def check_body(value: str | None, limit: int | None) -> str | None:
    """``value`` if it is a sendable body: not blank, at most ``limit`` characters, and with
    no ``{{digits}}`` placeholder (the service rejects them)."""
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


def without_empty_keys(data: Any) -> Any:
    """``data`` without its top-level keys whose value is ``""`` or ``None``; the service
    ignores them (see the package docstring)."""
    if type(data) is dict:
        for value in data.values():
            # pragma reason (mutmut): a shortcut that finds whether there is anything to drop;
            # the comprehension below is the filter, so a looser test here ("or" for "and")
            # only rebuilds the same dict
            if value is None or (isinstance(value, str) and not value):  # pragma: no mutate
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
        data = without_empty_keys(data)
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


class TextContent(ContentModel):
    """A ``text`` body, checked by :func:`check_body` against the channel's ``_limit``."""

    text: str
    _limit: ClassVar[int | None] = None

    @field_validator("text")
    @classmethod
    def _text_rules(cls, v: str) -> str | None:
        return check_body(v, cls._limit)


class LinkContent(ContentModel):
    """A media ``link``: an http(s) URL."""

    link: str

    @field_validator("link")
    @classmethod
    def _link_rules(cls, v: str) -> str | None:
        return check_link(v)


class Caption(BaseModel):
    """An optional ``caption`` of at most :data:`CAPTION_LIMIT` characters (a mixin)."""

    caption: str | None = Field(default=None, max_length=CAPTION_LIMIT)

    @field_validator("caption")
    @classmethod
    def _caption_rules(cls, v: str | None) -> str | None:
        return check_body(v, None) if v is not None else v


class FileName(BaseModel):
    """A required ``fileName`` (``filename`` and ``file_name`` are taken too) (a mixin)."""

    file_name: str = Field(
        alias="fileName", validation_alias=AliasChoices("fileName", "filename", "file_name"),
        min_length=1,
    )


class PassThroughContent(RootModel[dict[str, Any]]):
    """A JSON object passed through as given, after checking the keys it must carry."""

    model_config = ConfigDict(frozen=True)
    required: ClassVar[tuple[str, ...]] = ()
    channel: ClassVar[str] = ""
    message_type: ClassVar[str] = ""

    @model_validator(mode="before")
    @classmethod
    def _drop_empty_keys(cls, data: Any) -> Any:
        return without_empty_keys(data)

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
