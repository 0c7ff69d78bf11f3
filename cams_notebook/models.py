"""The SendChatappMessage request (:class:`Message`) and its answer (:class:`SendResult`).

``Message`` holds every request parameter of SendChatappMessage (2020-06-06). Attributes
are snake_case (``from_`` because ``from`` is a keyword); the PascalCase wire names are
aliases, and both are accepted on input, so a dict copied from the API docs validates as
it is. JSON parameters (``TemplateParams``, ``Payload``, ``ProductAction``, ``FlowAction``,
``Content``) may be given as Python objects or as JSON text.

Validation enforces locally what the service would reject (reference ``cams_api.md``
sections 1, 2 and 8.4) and reports every problem at once, each naming the wire field and the
rule (see :mod:`cams_notebook.problems`). Two normalisations are made, and only these:
on WhatsApp and Viber, spaces, dashes, dots, brackets and a leading ``+`` are removed
from ``To`` (``+86 139-0000-0000`` becomes ``8613900000000``), and numbers given for
string fields become strings.

:meth:`Message.to_query` gives the wire parameters exactly as the official SDK 5.3.1 puts
them in the query string.
"""

from __future__ import annotations

import html
import json
import re
import warnings
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from .content import MESSAGE_TYPES, Content, content_model_for, dumps
from .problems import Problem, problem, problems_from_validation_error, raise_problems

__all__ = ["FlowAction", "Message", "ProductAction", "ProductItem", "ProductSection", "SendResult"]

ChannelType = Literal["whatsapp", "messenger", "instagram", "viber", "telegram", "line"]
CHANNELS: tuple[str, ...] = ("whatsapp", "messenger", "instagram", "viber", "telegram", "line")

_TO_STRIP = re.compile(r"[\s\-().]")
_CONFIG = ConfigDict(populate_by_name=True, coerce_numbers_to_str=True, extra="forbid")


def _json_or_value(value: Any) -> Any:
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("{", "["):
            try:
                return json.loads(stripped)
            except json.JSONDecodeError:
                pass
    return value


class ProductItem(BaseModel):
    model_config = _CONFIG
    product_retailer_id: str = Field(alias="ProductRetailerId", min_length=1)


class ProductSection(BaseModel):
    model_config = _CONFIG
    title: str | None = Field(default=None, alias="Title")
    product_items: list[ProductItem] = Field(default_factory=list, alias="ProductItems")

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ProductItems": [{"ProductRetailerId": i.product_retailer_id}
                                                for i in self.product_items]}
        if self.title is not None:
            out["Title"] = self.title
        return out


class ProductAction(BaseModel):
    """Products for WhatsApp CATALOG/MPM templates: at most 10 sections and 30 products."""

    model_config = _CONFIG
    thumbnail_product_retailer_id: str | None = Field(default=None, alias="ThumbnailProductRetailerId")
    sections: list[ProductSection] = Field(default_factory=list, alias="Sections", max_length=10)

    @model_validator(mode="after")
    def _at_most_30_products(self) -> ProductAction:
        total = sum(len(s.product_items) for s in self.sections)
        if total > 30:
            raise_problems("ProductAction", [problem(
                "ProductAction.Sections", "too_many", f"has {total} products; at most 30 are allowed")],
                total)
        return self

    def to_wire(self) -> dict[str, Any]:
        # The SDK always emits Sections (even empty), keys in alphabetical order.
        out: dict[str, Any] = {"Sections": [s.to_wire() for s in self.sections]}
        if self.thumbnail_product_retailer_id is not None:
            out["ThumbnailProductRetailerId"] = self.thumbnail_product_retailer_id
        return out


class FlowAction(BaseModel):
    """Default data and token for a WhatsApp Flow template."""

    model_config = _CONFIG
    flow_action_data: dict[str, Any] | None = Field(default=None, alias="FlowActionData")
    flow_token: str | None = Field(default=None, alias="FlowToken")

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.flow_action_data is not None:
            out["FlowActionData"] = self.flow_action_data
        if self.flow_token is not None:
            out["FlowToken"] = self.flow_token
        return out


_TEMPLATE_ONLY = ("template_code", "template_name", "language", "template_params", "payload",
                  "product_action", "flow_action")
_MESSAGE_ONLY = ("message_type", "content")
_WHATSAPP_ONLY = ("payload", "product_action", "flow_action", "category")
_VIBER_ONLY = ("label", "ttl", "tag", "tracking_data")
_DIGIT_CHANNELS = ("whatsapp", "viber")
_RANGES = (("ttl", 30, 1209600), ("fall_back_duration", 60, 43200))


def _unsendable(value: Any) -> bool:
    """True when text in ``value`` cannot be encoded as UTF-8 (lone surrogates)."""
    kind = type(value)
    if kind is str:
        # ASCII text (most of it) needs no encoding to know
        return not value.isascii() and _lone_surrogate(value)
    if value is None or kind is int or kind is bool or kind is float:
        return False
    if isinstance(value, str):
        return _lone_surrogate(value)
    if isinstance(value, dict):
        return any(_unsendable(k) or _unsendable(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_unsendable(v) for v in value)
    if isinstance(value, BaseModel):
        return _unsendable(value.model_dump())
    return False


def _lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class Message(BaseModel):
    """One SendChatappMessage request, validated as the service would.

    >>> m = Message(channel_type="whatsapp", type="template", from_="8613800000000",
    ...             to="+86 139 0000 0000", template_code="100000000000000001",
    ...             language="en", template_params={"name": "Ada"})
    >>> m.to
    '8613900000000'
    >>> m.to_query()["TemplateParams"]
    '{"name":"Ada"}'
    """

    model_config = _CONFIG

    channel_type: ChannelType = Field(alias="ChannelType")
    type: Literal["template", "message"] = Field(alias="Type")
    from_: str = Field(alias="From", min_length=1)
    to: str = Field(alias="To", min_length=1)
    message_type: str | None = Field(default=None, alias="MessageType")
    content: Any = Field(default=None, alias="Content")
    template_code: str | None = Field(default=None, alias="TemplateCode")
    template_name: str | None = Field(default=None, alias="TemplateName")
    language: str | None = Field(default=None, alias="Language")
    template_params: dict[str, str] | None = Field(default=None, alias="TemplateParams")
    payload: list[str] | None = Field(default=None, alias="Payload")
    product_action: ProductAction | None = Field(default=None, alias="ProductAction")
    flow_action: FlowAction | None = Field(default=None, alias="FlowAction")
    recipient_type: Literal["individual", "group", "userId"] | None = Field(
        default=None, alias="RecipientType")
    context_message_id: str | None = Field(default=None, alias="ContextMessageId")
    cust_space_id: str | None = Field(default=None, alias="CustSpaceId")
    cust_waba_id: str | None = Field(default=None, alias="CustWabaId")
    isv_code: str | None = Field(default=None, alias="IsvCode")
    task_id: str | None = Field(default=None, alias="TaskId")
    label: Literal["promotion", "transaction"] | None = Field(default=None, alias="Label")
    ttl: int | None = Field(default=None, alias="Ttl")
    tag: str | None = Field(default=None, alias="Tag")
    tracking_data: str | None = Field(default=None, alias="TrackingData")
    fall_back_id: str | None = Field(default=None, alias="FallBackId")
    fall_back_content: str | None = Field(default=None, alias="FallBackContent")
    fall_back_duration: int | None = Field(default=None, alias="FallBackDuration")
    fall_back_rule: Literal["undelivered", "sentFailed"] | None = Field(
        default=None, alias="FallBackRule")
    category: Literal["UTILITY", "MARKETING", "AUTHENTICATION"] | None = Field(
        default=None, alias="Category")
    ad_account_id: str | None = Field(default=None, alias="AdAccountId")
    message_campaign_id: str | None = Field(default=None, alias="MessageCampaignId")
    token_type: str | None = Field(default=None, alias="TokenType")

    _content_text: str | None = PrivateAttr(default=None)

    @field_validator("template_params", "payload", "product_action", "flow_action", mode="before")
    @classmethod
    def _parse_json_text(cls, value: Any) -> Any:
        return _json_or_value(value)

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Message:
        problems = self._rule_problems()
        if problems:
            raise_problems("Message", problems, self.model_dump(exclude_none=True))
        if self.cust_waba_id is not None or self.isv_code is not None:
            warnings.warn("CustWabaId and IsvCode are deprecated; use cust_space_id (CustSpaceId)",
                          DeprecationWarning, stacklevel=4)
        return self

    def _rule_problems(self) -> list[Problem]:
        # Runs for every message a campaign sends, so it reads the field values straight from
        # ``__dict__`` and looks closer only at what is set (see the client_overhead benchmark).
        out: list[Problem] = []
        channel, wire, fields = self.channel_type, WIRE_NAMES, self.__dict__
        for name, value in fields.items():
            if value is None or type(value) is str and value.isascii():
                continue
            if name in _TEXT_FIELDS and _unsendable(value):
                out.append(problem(wire[name], "invalid_text",
                                   "contains characters that cannot be sent (a lone surrogate, "
                                   "usually from text decoded with errors='surrogateescape')"))
        if out:
            return out
        if channel in _DIGIT_CHANNELS:
            if not self.from_.isdigit():
                out.append(problem("From", "digits_only",
                                   f"must contain only digits on {channel} (got {self.from_!r})"))
            if self.recipient_type != "userId":
                to = self.to
                if not to.isdigit():
                    to = _TO_STRIP.sub("", to).removeprefix("+")
                if not to.isdigit() or to.startswith("0") or not 7 <= len(to) <= 15:
                    out.append(problem("To", "digits_only", "must be a phone number in international "
                                       f"form with its country code, e.g. 8613900000000 (got {self.to!r})"))
                elif to != self.to:
                    self.to = to
        for name, low, high in _RANGES:
            value = fields[name]
            if value is not None and not low <= value <= high:
                out.append(problem(wire[name], "out_of_range",
                                   f"must be between {low} and {high} seconds (got {value})"))
        if self.recipient_type == "userId" and channel != "whatsapp":
            out.append(problem("RecipientType", "not_allowed", "userId is for WhatsApp only"))
        if channel != "whatsapp":
            out += [problem(wire[name], "not_allowed", "is for WhatsApp only")
                    for name in _WHATSAPP_ONLY if fields[name] is not None]
        if channel != "viber":
            out += [problem(wire[name], "not_allowed", "is for Viber only")
                    for name in _VIBER_ONLY if fields[name] is not None]
        if self.type == "template":
            if not self.template_code and not self.template_name:
                out.append(problem("TemplateCode", "required",
                                   "is required for a template message (or give TemplateName)"))
            if not self.language:
                out.append(problem("Language", "required", "is required for a template message"))
            out += [problem(wire[n], "not_allowed", "is for free-form messages (Type=message) only")
                    for n in _MESSAGE_ONLY if fields[n] is not None]
        else:
            out += [problem(wire[n], "not_allowed", "is for template messages (Type=template) only")
                    for n in _TEMPLATE_ONLY if fields[n] is not None]
            out += self._content_problems()
        return out

    def _content_problems(self) -> list[Problem]:
        channel, mtype = self.channel_type, self.message_type
        if not mtype:
            return [problem("MessageType", "required", "is required for a free-form message")]
        model = content_model_for(channel, mtype)
        if model is None:
            valid = ", ".join(MESSAGE_TYPES[channel])
            return [problem("MessageType", "not_for_channel",
                            f"{mtype!r} is not a {channel} message type; use one of: {valid}")]
        value = self.content
        if value is None or value == "":
            return [problem("Content", "required", f"is required for a {mtype} message")]
        if isinstance(value, model):
            return []
        if hasattr(value, "to_wire"):
            value = value.to_wire()
        raw = value if isinstance(value, str) else None
        if raw is not None:
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as exc:
                return [problem("Content", "invalid_json", f"is not valid JSON ({exc.msg})")]
        try:
            self.content = model.model_validate(value)
            self._content_text = raw  # the SDK sends Content text exactly as given
        except ValidationError as exc:
            return [
                problem(f"Content.{p.field}".rstrip(".") if p.field else "Content", p.rule, p.message)
                for p in problems_from_validation_error(exc)
            ]
        return []

    @classmethod
    def check(cls, data: dict[str, Any]) -> tuple[Message | None, list[Problem]]:
        """Validate without raising: ``(message, [])`` or ``(None, problems)``."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                return cls.model_validate(data), []
            except ValidationError as exc:
                return None, problems_from_validation_error(exc, ALIASES)

    def to_query(self) -> dict[str, str]:
        """The wire parameters, as the official SDK sends them: strings only, unset ones dropped."""
        out: dict[str, str] = {}
        fields = self.__dict__
        for name, wire_name in _WIRE_ORDER:
            value = fields[name]
            if value is None:
                continue
            if type(value) is str:
                out[wire_name] = value
            elif name == "content":
                out[wire_name] = self._content_text or (
                    value.to_json() if hasattr(value, "to_json") else str(value))
            elif name in ("product_action", "flow_action"):
                out[wire_name] = dumps(value.to_wire())
            elif name in ("template_params", "payload"):
                out[wire_name] = dumps(value)
            else:
                out[wire_name] = str(value)
        return out

    @property
    def content_model(self) -> Content | None:
        """The validated content model of a free-form message."""
        return self.content if hasattr(self, "content") and hasattr(self.content, "to_json") else None

    def __repr_args__(self) -> Any:
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is not None:
                yield name, value

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
            f"<td style='text-align:left'><code>{html.escape(v)}</code></td></tr>"
            for k, v in self.to_query().items()
        )
        title = f"{self.channel_type} · {self.type}" + (
            f" · {self.message_type}" if self.message_type else "")
        return (f"<div class='cams-message' style='border:1px solid #ccc;border-radius:8px;"
                f"padding:6px 10px;display:inline-block'><b>Message</b> <small>{html.escape(title)}"
                f"</small><table>{rows}</table></div>")


_TEXT_FIELDS: frozenset[str] = frozenset()  # filled in below, once the fields are known

WIRE_NAMES: dict[str, str] = {
    name: str(field.alias) for name, field in Message.model_fields.items()
}
ALIASES: dict[str, str] = {name: wire for name, wire in WIRE_NAMES.items()}
_WIRE_ORDER = sorted(WIRE_NAMES.items(), key=lambda item: item[1])
_TEXT_FIELDS = frozenset(n for n in WIRE_NAMES if n not in ("ttl", "fall_back_duration"))


class SendResult(BaseModel):
    """The answer to one send: success only when ``code == "OK"``."""

    model_config = ConfigDict(populate_by_name=True, extra="allow", frozen=True)

    request_id: str | None = Field(default=None, alias="RequestId")
    code: str | None = Field(default=None, alias="Code")
    message: str | None = Field(default=None, alias="Message")
    message_id: str | None = Field(default=None, alias="MessageId")
    access_denied_detail: Any = Field(default=None, alias="AccessDeniedDetail")

    @property
    def ok(self) -> bool:
        return self.code == "OK"
