"""The SendChatappMessage request (:class:`Message`) and its answer (:class:`SendResult`).

``Message`` holds every request parameter of SendChatappMessage (2020-06-06). Attributes
are snake_case (``from_`` because ``from`` is a keyword); the PascalCase wire names are
aliases, and both are accepted on input, so a dict copied from the API docs validates as
it is. JSON parameters (``TemplateParams``, ``Payload``, ``ProductAction``, ``FlowAction``,
``Content``) may be given as Python objects or as JSON text.

Validation enforces locally what the service would reject (reference ``cams_api.md``
sections 1, 2 and 8.4) and reports every problem at once, each naming the wire field and the
rule (see :mod:`cams_notebook.problems`): a field of the wrong type does not hide the rules
the other fields break. Two normalisations are made, and only these: phone numbers are put
in digits (below), and numbers given for string fields become strings.

Phone numbers (``From`` and ``To`` on WhatsApp and Viber) are put in ASCII digits however a
person, a spreadsheet or pandas wrote them, or refused with a reason: the rules are in
:mod:`cams_notebook._phone_numbers`.

The whole request is bounded too: every parameter travels in the URL, so a request whose
percent-encoded query is longer than :data:`MAX_QUERY_LENGTH` is a ``too_long`` problem of
its largest field (:mod:`cams_notebook._query_limits`, with why that limit).

:meth:`Message.to_query` gives the wire parameters exactly as the official SDK 5.3.1 puts
them in the query string.
"""

from __future__ import annotations

import html
import json
import warnings
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ._phone_numbers import number_problems
from ._query_limits import MAX_QUERY_LENGTH, MAX_URL_LENGTH, query_bound, too_long_problems
from ._query_limits import encoded_length as _encoded_length  # noqa: F401 - importable as before
from ._template_actions import (
    REQUEST_MODEL_CONFIG,
    FlowAction,
    ProductAction,
    ProductItem,
    ProductSection,
)
from .content import Content, check_content, dumps
from .problems import Problem, problem, problems_from_validation_error, raise_problems

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self is 3.11+; annotations are not evaluated

__all__ = ["FIELD_RANGES", "MAX_QUERY_LENGTH", "MAX_URL_LENGTH", "VIBER_ONLY_FIELDS", "FlowAction",
           "Message", "ProductAction", "ProductItem", "ProductSection", "SendResult"]

ChannelType = Literal["whatsapp", "messenger", "instagram", "viber", "telegram", "line"]
CHANNELS: tuple[str, ...] = ("whatsapp", "messenger", "instagram", "viber", "telegram", "line")


def _json_or_value(value: Any) -> Any:
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("{", "["):
            try:
                return json.loads(stripped)
            except json.JSONDecodeError:
                pass
    return value


_TEMPLATE_ONLY = ("template_code", "template_name", "language", "template_params", "payload",
                  "product_action", "flow_action")
_MESSAGE_ONLY = ("message_type", "content")
_WHATSAPP_ONLY = ("payload", "product_action", "flow_action", "category")
VIBER_ONLY_FIELDS = ("label", "ttl", "tag", "tracking_data")
"""Message fields only Viber takes (the composer shows them for Viber alone)."""
_DIGIT_CHANNELS = ("whatsapp", "viber")
FIELD_RANGES = (("ttl", 30, 1209600), ("fall_back_duration", 60, 43200))
"""(field, lowest, highest) of the numeric fields, in seconds."""
_RANGED = frozenset(name for name, _, _ in FIELD_RANGES)
_FIELDS_ONLY = object()
"""Validation context: the fields alone, without the rules between them (_rules_beside)."""
_AS_SENT = object()
"""Validation context: values as they arrive at the service, which rewrites nothing."""
_UNSENDABLE = ("contains characters that cannot be sent (a lone surrogate, usually from text "
               "decoded with errors='surrogateescape')")
_STAND_INS = {"channel_type": "whatsapp", "type": "template", "from_": "0", "to": "0"}
"""Values that validate for the required fields, standing in for broken or missing ones."""


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

    model_config = REQUEST_MODEL_CONFIG

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

    @model_validator(mode="wrap")
    @classmethod
    def _validate(cls, data: Any, handler: ModelWrapValidatorHandler[Self],
                  info: ValidationInfo[Any]) -> Self:
        # Fields first (pydantic), then the rules between them. When a field is broken, the
        # rules still run on the fields that are not (see _rules_beside), so that one type
        # error does not hide every other problem of the request.
        context = info.context
        try:
            message = handler(data)
        except ValidationError as exc:
            if context is _FIELDS_ONLY:
                raise
            beside = cls._rules_beside(data, exc, as_sent=context is _AS_SENT)
            if not beside:
                raise
            raise_problems("Message", [*problems_from_validation_error(exc, ALIASES), *beside],
                           data)
            raise  # not reached: raise_problems raised
        if context is _FIELDS_ONLY:
            return message
        problems = message._rule_problems(as_sent=context is _AS_SENT)
        if problems:
            raise_problems("Message", problems, message.model_dump(exclude_none=True))
        if message.cust_waba_id is not None or message.isv_code is not None:
            warnings.warn("CustWabaId and IsvCode are deprecated; use cust_space_id (CustSpaceId)",
                          DeprecationWarning, stacklevel=4)
        return message

    @classmethod
    def _rules_beside(cls, data: Any, error: ValidationError, *, as_sent: bool) -> list[Problem]:
        """The rule problems of the fields of ``data`` that did validate, when others did not.

        The broken fields (and unknown keys) are left out; a required one is stood in for by a
        value that validates, then set to None, so the rules that need it are skipped and the
        others run. A rule problem on a broken field is dropped: that field has its own.
        """
        if not isinstance(data, dict):
            return []
        broken: set[str] = set()
        # pragma reason (mutmut): include_url only adds a link to each error; "loc" is read
        for err in error.errors(include_url=False):  # pragma: no mutate
            if not err["loc"]:
                return []  # the input as a whole is wrong: there are no fields to look at
            broken.add(_FIELD_OF.get(str(err["loc"][0]), ""))
        good = {k: v for k, v in data.items() if _FIELD_OF.get(str(k), "") not in broken}
        present = {_FIELD_OF[str(k)] for k in good}
        stand_ins = {n: v for n, v in _STAND_INS.items() if n not in present}
        try:
            partial = cls.model_validate({**good, **stand_ins}, context=_FIELDS_ONLY)
        except ValidationError:  # pragma: no cover - each of these fields validated already
            return []
        for name in stand_ins:
            partial.__dict__[name] = None
        partial.__pydantic_fields_set__.difference_update(stand_ins)
        skip = {WIRE_NAMES[n] for n in broken if n} | {WIRE_NAMES[n] for n in stand_ins}
        return [p for p in partial._rule_problems(as_sent=as_sent)
                if p.field.partition(".")[0] not in skip]

    # pragma reason (mutmut): the default is never used; every caller passes as_sent
    def _rule_problems(self, *, as_sent: bool = False) -> list[Problem]:  # pragma: no mutate
        # Runs for every message a campaign sends (see the client_overhead benchmark), so it
        # reads the values straight from ``__dict__``, visits only the fields that were given,
        # and does a costly check only where a cheap one says it could fail. It also runs on
        # a partial message (see _rules_beside), where any field may be None.
        wire, fields = WIRE_NAMES, self.__dict__
        given = self.__pydantic_fields_set__
        bound, bad_text = query_bound(fields, given, _TEXT_FIELDS)  # the query is at most bound
        if bad_text:
            return [problem(wire[name], "invalid_text", _UNSENDABLE) for name in bad_text]
        out: list[Problem] = []
        channel = fields["channel_type"]
        if channel in _DIGIT_CHANNELS:
            sender, to = fields["from_"], fields["to"]
            # the usual case, decided without a call: both plain digits already
            if not (sender is None or sender.isdigit() and sender.isascii()) or not (
                    to is None or to.isdigit() and to.isascii() and 7 <= len(to) <= 15
                    and to[0] != "0" or fields["recipient_type"] == "userId"):
                out += number_problems(fields, channel, as_sent)
        if not given.isdisjoint(_RANGED):
            for name, low, high in FIELD_RANGES:
                value = fields[name]
                if value is not None and not low <= value <= high:
                    out.append(problem(wire[name], "out_of_range",
                                       f"must be between {low} and {high} seconds (got {value})"))
        if channel is not None and channel != "whatsapp":
            if fields["recipient_type"] == "userId":
                out.append(problem("RecipientType", "not_allowed", "userId is for WhatsApp only"))
            if not given.isdisjoint(_WHATSAPP_ONLY):
                out += [problem(wire[name], "not_allowed", "is for WhatsApp only")
                        for name in _WHATSAPP_ONLY if fields[name] is not None]
        if channel is not None and channel != "viber" and not given.isdisjoint(VIBER_ONLY_FIELDS):
            out += [problem(wire[name], "not_allowed", "is for Viber only")
                    for name in VIBER_ONLY_FIELDS if fields[name] is not None]
        out += self._type_problems(given)
        # pragma reason (mutmut): ">=" only measures a query whose bound is exactly the limit;
        # too_long_problems then finds what ">" finds
        if bound > MAX_QUERY_LENGTH:  # pragma: no mutate
            out += self._size_problems()
        return out

    def _type_problems(self, given: set[str]) -> list[Problem]:
        """The rules of a template message (``Type=template``) or a free-form one."""
        out: list[Problem] = []
        wire, fields = WIRE_NAMES, self.__dict__
        kind = fields["type"]
        if kind == "template":
            if not fields["template_code"] and not fields["template_name"]:
                out.append(problem("TemplateCode", "required",
                                   "is required for a template message (or give TemplateName)"))
            if not fields["language"]:
                out.append(problem("Language", "required", "is required for a template message"))
            if not given.isdisjoint(_MESSAGE_ONLY):
                out += [problem(wire[n], "not_allowed", "is for free-form messages (Type=message) "
                                "only") for n in _MESSAGE_ONLY if fields[n] is not None]
        elif kind == "message":
            if not given.isdisjoint(_TEMPLATE_ONLY):
                out += [problem(wire[n], "not_allowed", "is for template messages (Type=template) "
                                "only") for n in _TEMPLATE_ONLY if fields[n] is not None]
            out += self._content_problems()
        return out

    def _size_problems(self) -> list[Problem]:
        """``too_long`` on the largest field when the encoded query is over the limit."""
        try:
            query = self.to_query()
        except (TypeError, ValueError, RecursionError):
            return []  # it cannot be put on the wire at all, whatever its size
        return too_long_problems(query)

    def _content_problems(self) -> list[Problem]:
        fields = self.__dict__
        channel, mtype = fields["channel_type"], fields["message_type"]
        if not mtype:
            return [problem("MessageType", "required", "is required for a free-form message")]
        if channel is None:
            return []  # which content is right depends on the channel
        model, text, problems = check_content(channel, mtype, fields["content"])
        if model is not None:
            fields["content"] = model
            self._content_text = text  # JSON text goes on the wire exactly as it was given
        return problems

    @classmethod
    def check(cls, data: dict[str, Any], *,
              as_sent: bool = False) -> tuple[Message | None, list[Problem]]:
        """Validate without raising: ``(message, [])`` or ``(None, problems)``.

        ``as_sent=True`` holds ``data`` to what the service takes as it arrives, from any
        client: it rewrites nothing, so a phone number must already be bare ASCII digits
        (``8613900000001.0`` or ``+86 139...`` is a problem, not a number to put right). The
        sandbox checks every request this way.
        """
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                return cls.model_validate(data, context=_AS_SENT if as_sent else None), []
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
        return (self.content if hasattr(self, "content") and hasattr(self.content, "to_json")
                else None)

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
_FIELD_OF: dict[str, str] = {**{w: n for n, w in WIRE_NAMES.items()}, **{n: n for n in WIRE_NAMES}}
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
