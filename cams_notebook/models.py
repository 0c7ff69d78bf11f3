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

Phone numbers (``To`` on WhatsApp and Viber unless ``RecipientType`` is ``userId``; ``From``
on WhatsApp and Viber, which must be digits):

* A number written as a float, as a spreadsheet or pandas writes a float column and reads it
  back as text (``8613900000001.0``, ``8.613900000001e12``, ``8.6139E+12``), or a Python
  ``float``, stands for its whole-number value, computed exactly with :mod:`decimal`. A
  fraction that is not zero is a problem. What counts as "written as a float": the whole
  value is ASCII digits with one decimal point and/or an exponent (and at most a leading
  ``+``), nothing else.
* Otherwise, in ``To``, spaces, dashes, brackets, a leading ``+`` and dots *between digit
  groups* are removed: ``+1 (555) 010.0001`` and ``555.010.0001`` become ``15550100001`` and
  ``5550100001``. A dot that does not sit between two digits, or a single dot followed only by
  zeros at the end (``+86 13900000001.0``: a float column, not a group), is a problem rather
  than a guess that could name somebody else.
* Only ASCII digits ``0-9`` may remain: full-width, Arabic-Indic or superscript digits are a
  problem. ``To`` has 7 to 15 digits and does not start with 0.

The whole request is bounded too: every parameter travels in the URL, so a request whose
percent-encoded query is longer than :data:`MAX_QUERY_LENGTH` is a ``too_long`` problem of
its largest field (see there for why that limit).

:meth:`Message.to_query` gives the wire parameters exactly as the official SDK 5.3.1 puts
them in the query string.
"""

from __future__ import annotations

import html
import json
import re
import warnings
from decimal import Decimal
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

from .content import MESSAGE_TYPES, Content, content_model_for, dumps
from .problems import Problem, problem, problems_from_validation_error, raise_problems

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self is 3.11+; annotations are not evaluated

__all__ = ["FIELD_RANGES", "MAX_QUERY_LENGTH", "MAX_URL_LENGTH", "VIBER_ONLY_FIELDS", "FlowAction",
           "Message", "ProductAction", "ProductItem", "ProductSection", "SendResult"]

ChannelType = Literal["whatsapp", "messenger", "instagram", "viber", "telegram", "line"]
CHANNELS: tuple[str, ...] = ("whatsapp", "messenger", "instagram", "viber", "telegram", "line")

_CONFIG = ConfigDict(populate_by_name=True, coerce_numbers_to_str=True, extra="forbid")

MAX_URL_LENGTH = 65_536
"""The longest URL httpx accepts (``httpx._urlparse.MAX_URL_LENGTH``, pinned by a test):
a longer one raises ``httpx.InvalidURL`` before anything is sent."""
MAX_QUERY_LENGTH = MAX_URL_LENGTH - 512
"""The longest percent-encoded query a message may make (65,024 characters).

Every SendChatappMessage parameter travels in the URL of a POST, as the SDK 5.3.1 sends it
(reference 3.2), so the request's size is its URL's. Why this limit: httpx refuses a URL
longer than :data:`MAX_URL_LENGTH` and 512 characters are kept for ``https://host:port/?``
(a DNS name is at most 253). The service's own URL limit is not documented ("gateway URL
limit unconfirmed", reference 3.2), but it must take what the reference documents as valid,
and the longest documented field, a 4,096-character WhatsApp text, encodes to up to 49,152
characters (4-byte characters are 12 once percent-encoded): a lower limit would refuse
messages the reference allows. The per-field limits the reference gives (WhatsApp text,
captions, interactive parts, Viber text and buttons) are enforced by the content models.
"""
_UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
_FIELD_WEIGHT = 32
"""Characters counted per parameter for ``Key=`` and ``&`` in the cheap size bound."""
_JSON_WEIGHT = 18
"""Most encoded characters one character of a JSON value can become: ``\\u001f`` is 6
characters, each at most 3 once percent-encoded (a non-ASCII one is at most 12)."""


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
    thumbnail_product_retailer_id: str | None = Field(default=None,
                                                      alias="ThumbnailProductRetailerId")
    sections: list[ProductSection] = Field(default_factory=list, alias="Sections", max_length=10)

    @model_validator(mode="after")
    def _at_most_30_products(self) -> ProductAction:
        total = sum(len(s.product_items) for s in self.sections)
        if total > 30:
            raise_problems("ProductAction", [problem(
                "ProductAction.Sections", "too_many",
                f"has {total} products; at most 30 are allowed")], total)
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
_STAND_INS = {"channel_type": "whatsapp", "type": "template", "from_": "0", "to": "0"}
"""Values that validate for the required fields, standing in for broken or missing ones."""


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


# -- phone numbers (see the module docstring) ---------------------------------------------

_AS_FLOAT = re.compile(r"\s*\+?(?P<mantissa>[0-9]+(?:\.[0-9]*)?)"
                       r"(?:[eE](?P<exponent>[+-]?[0-9]{1,3}))?\s*")
_PUNCTUATION = re.compile(r"[\s\-().]")
_STRAY_DOT = re.compile(r"(?<![0-9])\.|\.(?![0-9])")
_FLOAT_TAIL = re.compile(r"\.0+\s*$")
_GROUPING = ", spaces, dashes, brackets, dots between digit groups and a leading +"
_PHONE = ("must be a phone number in international form with its country code, in ASCII "
          "digits 0-9 (e.g. 8613900000000)")


def _whole_number(text: str) -> str | None:
    """The digits of ``text`` if it is a whole number written as a float; None if it is not
    written as a float at all; "" if it is, but is not a whole number (or starts with 0).

    Exact: ``decimal`` reads the text as written, so ``8.613900000001e12`` is
    ``8613900000001`` and never a binary float's neighbour of it.
    """
    match = _AS_FLOAT.fullmatch(text)
    if match is None or (match["exponent"] is None and "." not in text):
        return None
    mantissa = match["mantissa"]
    if mantissa.startswith("0"):
        return ""
    number = Decimal(f"{mantissa}e{match['exponent'] or 0}").as_tuple()
    digits, exponent = number.digits, int(number.exponent)
    if exponent < 0:
        if any(digits[exponent:]):
            return ""  # a fraction that is not zero
        digits, exponent = digits[:exponent], 0
    return "".join(map(str, digits)) + "0" * exponent


def _not_ascii_digits(text: str, besides: str) -> str:
    """Why ``text`` is not ASCII digits (and ``besides``, the punctuation allowed)."""
    if any(ch.isdigit() and not ch.isascii() for ch in text):
        return ("only ASCII digits 0-9 are accepted, and it has others (full-width, "
                "Arabic-Indic, superscript...)")
    return f"it has characters other than digits{besides}"


def _recipient_number(to: str) -> tuple[str, str]:
    """``(digits, "")`` for a recipient phone number written any accepted way, or
    ``("", why)`` when it is not one."""
    if to.isdigit() and to.isascii():
        digits = to
    else:
        whole = _whole_number(to)
        if whole == "":
            return "", "it reads as a number with a fraction, not a whole number"
        if whole is not None:
            digits = whole
        elif _STRAY_DOT.search(to) or (to.count(".") == 1 and _FLOAT_TAIL.search(to)):
            return "", ("a dot may only separate groups of digits, and a single final '.0' is "
                        "how a float column reads back, not a group")
        else:
            digits = _PUNCTUATION.sub("", to).removeprefix("+")
            if not (digits.isdigit() and digits.isascii()):
                return "", _not_ascii_digits(digits, _GROUPING)
    if not 7 <= len(digits) <= 15:
        return "", f"it has {len(digits)} digits; a phone number has 7 to 15"
    if digits.startswith("0"):
        return "", "it starts with 0; give the country code without 00 or a trunk 0"
    return digits, ""


def _sender_number(sender: str) -> tuple[str, str]:
    """``(digits, "")`` for a sender that must be digits (no punctuation: it is the
    business's own number, written once), or ``("", why)``."""
    if sender.isdigit() and sender.isascii():
        return sender, ""
    whole = _whole_number(sender)
    if whole:
        return whole, ""
    if whole == "":
        return "", "it reads as a number with a fraction, not a whole number"
    return "", _not_ascii_digits(sender, "")


# -- the size of a request ----------------------------------------------------------------


def _encoded_length(text: str) -> int:
    """The length of ``text`` percent-encoded as :func:`~.signing.canonical_query` encodes it:
    each UTF-8 byte outside ``A-Za-z0-9-_.~`` becomes three characters."""
    raw = text.encode("utf-8")
    return len(raw) + 2 * len(raw.translate(None, _UNRESERVED))


def _json_chars(value: Any) -> int:
    """At least the number of characters of ``value`` as compact JSON, escapes aside (which
    :data:`_JSON_WEIGHT` covers). Cheap: no JSON is made."""
    kind = type(value)
    if kind is str:
        return len(value) + 2
    if kind is dict:
        return 2 + sum(_json_chars(k) + _json_chars(v) + 2 for k, v in value.items())
    if kind is list or kind is tuple:
        return 2 + sum(_json_chars(v) + 1 for v in value)
    if value is None or kind is bool or kind is float:
        return 24
    if kind is int:
        return int(value.bit_length()) // 3 + 2  # decimal digits, without making them
    if isinstance(value, BaseModel):
        extra = value.__pydantic_extra__
        return _json_chars(value.__dict__) + (_json_chars(extra) if extra else 0)
    return len(str(value)) + 2


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
        for err in error.errors(include_url=False):
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

    def _rule_problems(self, *, as_sent: bool = False) -> list[Problem]:
        # Runs for every message a campaign sends (see the client_overhead benchmark), so it
        # reads the values straight from ``__dict__``, visits only the fields that were given,
        # and does a costly check only where a cheap one says it could fail. It also runs on
        # a partial message (see _rules_beside), where any field may be None.
        out: list[Problem] = []
        wire, fields = WIRE_NAMES, self.__dict__
        given = self.__pydantic_fields_set__
        channel, kind = fields["channel_type"], fields["type"]
        bound = _FIELD_WEIGHT * len(given)  # the encoded query is at most this long
        for name in given:
            value = fields[name]
            if value is None:
                continue
            if type(value) is str:
                if value.isascii():
                    bound += 3 * len(value)
                    continue
                bound += 12 * len(value)
            elif name == "template_params":  # dict[str, str]: no need to look deeper
                bound += _JSON_WEIGHT * (sum(map(len, value)) + sum(map(len, value.values()))
                                         + 6 * len(value) + 2)
            else:
                bound += _JSON_WEIGHT * _json_chars(value)
            if name in _TEXT_FIELDS and _unsendable(value):
                out.append(problem(wire[name], "invalid_text",
                                   "contains characters that cannot be sent (a lone surrogate, "
                                   "usually from text decoded with errors='surrogateescape')"))
        if out:
            return out
        if channel in _DIGIT_CHANNELS:
            sender, to = fields["from_"], fields["to"]
            # the usual case, decided without a call: both plain digits already
            if not (sender is None or sender.isdigit() and sender.isascii()) or not (
                    to is None or to.isdigit() and to.isascii() and 7 <= len(to) <= 15
                    and to[0] != "0" or fields["recipient_type"] == "userId"):
                out += self._number_problems(channel, as_sent)
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
        if bound > MAX_QUERY_LENGTH:
            out += self._size_problems()
        return out

    def _number_problems(self, channel: str, as_sent: bool) -> list[Problem]:
        """``From`` and ``To`` on a channel that wants phone numbers; puts them in digits
        (or, ``as_sent``, finds it a problem that they are not in digits already)."""
        out: list[Problem] = []
        fields = self.__dict__
        sender, to = fields["from_"], fields["to"]
        if sender is not None:
            digits, why = _sender_number(sender)
            if why:
                out.append(problem("From", "digits_only", f"must contain only ASCII digits 0-9 on "
                                   f"{channel}; {why} (got {sender!r})"))
            elif digits != sender and as_sent:
                out.append(problem("From", "digits_only", f"must be sent as ASCII digits 0-9 only "
                                   f"on {channel}; the service rewrites nothing (got {sender!r})"))
            elif digits != sender:
                fields["from_"] = digits
        if to is not None and fields["recipient_type"] != "userId":
            digits, why = _recipient_number(to)
            if why:
                out.append(problem("To", "digits_only", f"{_PHONE}; {why} (got {to!r})"))
            elif digits != to and as_sent:
                out.append(problem("To", "digits_only", f"{_PHONE}, as sent: the service rewrites "
                                   f"nothing ({digits} was meant?) (got {to!r})"))
            elif digits != to:
                fields["to"] = digits
        return out

    def _size_problems(self) -> list[Problem]:
        """``too_long`` on the largest field when the encoded query is over the limit."""
        try:
            query = self.to_query()
        except (TypeError, ValueError, RecursionError):
            return []  # it cannot be put on the wire at all, whatever its size
        sizes = {key: len(key) + 1 + _encoded_length(value) for key, value in query.items()}
        total = sum(sizes.values()) + len(sizes) - 1
        if total <= MAX_QUERY_LENGTH:
            return []
        field = max(sizes, key=sizes.__getitem__)
        return [problem(field, "too_long", (
            f"makes the request too long to send: {field} is {sizes[field] - len(field) - 1} "
            f"characters once percent-encoded and the whole query {total}; the limit is "
            f"{MAX_QUERY_LENGTH} (every parameter travels in the URL, and httpx refuses URLs "
            f"over {MAX_URL_LENGTH} characters)"))]

    def _content_problems(self) -> list[Problem]:
        fields = self.__dict__
        channel, mtype = fields["channel_type"], fields["message_type"]
        if not mtype:
            return [problem("MessageType", "required", "is required for a free-form message")]
        if channel is None:
            return []  # which content is right depends on the channel
        model = content_model_for(channel, mtype)
        if model is None:
            valid = ", ".join(MESSAGE_TYPES[channel])
            return [problem("MessageType", "not_for_channel",
                            f"{mtype!r} is not a {channel} message type; use one of: {valid}")]
        value = fields["content"]
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
            fields["content"] = model.model_validate(value)
            # JSON text goes on the wire exactly as given, as the SDK sends it: keys left empty
            # (the reference's own example has "link": "") are ignored by the service, and
            # the validated model without them is what the checks saw.
            self._content_text = raw
        except ValidationError as exc:
            return [
                problem(f"Content.{p.field}".rstrip(".") if p.field else "Content", p.rule,
                        p.message)
                for p in problems_from_validation_error(exc)
            ]
        return []

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
