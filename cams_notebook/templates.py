"""Message templates as the client sees them: parse, list variables, check parameters, render.

Pure code, no I/O. :class:`Template` is the ``Data`` object of GetChatappTemplateDetail and
:class:`TemplateSummary` one ``ListTemplate[]`` row of ListChatappTemplate (reference 6.3/6.4).
Both parse from the PascalCase wire names *and* from their snake_case attribute names; wire
fields this module does not model are kept (``model_extra``) and written back by ``to_wire()``.

Variables. CAMS templates use named placeholders written ``$(name)``, not Meta's ``{{1}}``.
A name is one or more ASCII letters, digits or underscores (``[A-Za-z0-9_]+``), matched
case-sensitively; anything else (``$( name )``, ``$()``, ``$(first-name)``) is literal text,
because that is what the console lets you create and a looser pattern would invent variables.
:attr:`Template.variables` lists them in display order: HEADER, LIMITED_TIME_OFFER, BODY,
FOOTER, BUTTONS, CAROUSEL, then anything else in wire order; inside a component, text before
URL before the other fields, buttons and cards in wire order. Each name is listed once.

Parameter problems. :meth:`Template.check_params` answers what the service would reject (or,
for ``bad_whitespace``, what WhatsApp would fail at delivery) as :class:`TemplateProblem`
objects (the toolkit's :class:`~cams_notebook.problems.Problem`, plus the variable's name).
Only ``InvalidParameter.MessageInvalid`` is a documented CAMS code (reference 4.3); the others
are named by this project in the same style, and the sandbox answers with them. ``too_long``,
``bad_url`` and ``placeholder`` are the toolkit-wide rule names of ``problems.py``:

===================== ============================================= ==============================
rule                  code                                          when
===================== ============================================= ==============================
missing_variable      InvalidParameter.TemplateParamsMissing        a variable has no key
extra_variable        InvalidParameter.TemplateParamsUnknown        a key is not a variable
null_variable         InvalidParameter.TemplateParamsNull           value is None, NaN, NA or NaT
not_a_string          InvalidParameter.TemplateParamsNotString      value is not a ``str``
blank_variable        InvalidParameter.TemplateParamsBlank          value is empty or only spaces
bad_url               InvalidParameter.TemplateParamsUrlInvalid     a URL built from the value is
                                                                    not an http(s) address
bad_whitespace        InvalidParameter.TemplateParamsWhitespace     WhatsApp only: newline, tab,
                                                                    or more than 4 spaces in a row
                                                                    (Meta error 132018; not
                                                                    restated by CAMS)
too_long              InvalidParameter.TemplateParamsTooLong        rendered text over the limit
placeholder           InvalidParameter.MessageInvalid               rendered text has ``{{digits}}``
===================== ============================================= ==============================

Limits: WhatsApp body 1024 and text header 60 characters (CAMS [META]); Viber text 1000
(third-party figure, not CAMS-confirmed, applied because it is the stricter choice).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Final, SupportsFloat
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_pascal

from .problems import TEMPLATE_RULE_CODES as RULE_CODES
from .problems import Problem

__all__ = [
    "BODY_MAX_CHARS",
    "HEADER_MAX_CHARS",
    "RULE_CODES",
    "VIBER_BODY_MAX_CHARS",
    "RenderedButton",
    "RenderedCard",
    "RenderedHeader",
    "RenderedTemplate",
    "Template",
    "TemplateButton",
    "TemplateCard",
    "TemplateComponent",
    "TemplateProblem",
    "TemplateSummary",
    "normalise_language",
    "template_key",
]

BODY_MAX_CHARS: Final = 1024
HEADER_MAX_CHARS: Final = 60
VIBER_BODY_MAX_CHARS: Final = 1000


VARIABLE_RE: Final = re.compile(r"\$\(([A-Za-z0-9_]+)\)")
_POSITIONAL_RE: Final = re.compile(r"\{\{\d+\}\}")  # the server's own pattern, no spaces
_META_WHITESPACE_RE: Final = re.compile(r"[\n\r\t]| {5,}")
_MEDIA_FORMATS: Final = frozenset({"IMAGE", "VIDEO", "DOCUMENT"})
_ORDER: Final = {"HEADER": 0, "LIMITED_TIME_OFFER": 1, "BODY": 2, "FOOTER": 3, "BUTTONS": 4}


def _none_as_empty_list(value: object) -> object:
    return [] if value is None else value


def _none_as_empty_dict(value: object) -> object:
    return {} if value is None else value


class _Wire(BaseModel):
    # populate_by_name (not validate_by_name) so pydantic 2.6-2.10 accept snake_case too
    model_config = ConfigDict(
        alias_generator=to_pascal, populate_by_name=True, extra="allow", frozen=True
    )

    def to_wire(self) -> dict[str, Any]:
        """The wire (PascalCase) dict: the fields that were given, unknown wire fields included."""
        return self.model_dump(by_alias=True, exclude_unset=True)


class TemplateButton(_Wire):
    """One button of a BUTTONS component (or of a carousel card)."""

    type: str
    """PHONE_NUMBER, URL, QUICK_REPLY, COPY_CODE, ONE_TAP, ZERO_TAP, MPM, CATALOG or FLOW."""
    text: str | None = None
    url: str | None = None
    url_type: str | None = None
    """``static`` or ``dynamic``."""
    phone_number: str | None = None
    coupon_code: str | None = None
    is_opt_out: bool | None = None
    autofill_text: str | None = None
    package_name: str | None = None
    signature_hash: str | None = None
    flow_id: str | None = None
    flow_action: str | None = None
    navigate_screen: str | None = None


class TemplateComponent(_Wire):
    """One component: BODY, HEADER, FOOTER, BUTTONS, CAROUSEL or LIMITED_TIME_OFFER."""

    type: str
    format: str | None = None
    """TEXT, IMAGE, DOCUMENT, VIDEO or LOCATION (headers and card headers)."""
    text: str | None = None
    url: str | None = None
    caption: str | None = None
    file_name: str | None = None
    file_type: str | None = None
    thumb_url: str | None = None
    duration: int | None = None
    latitude: str | None = None
    longitude: str | None = None
    location_name: str | None = None
    location_address: str | None = None
    add_secret_recommendation: bool | None = None
    code_expiration_minutes: int | None = None
    has_expiration: bool | None = Field(default=None, alias="hasExpiration")  # sic, lower h
    offer_expiration_time_ms: str | None = None
    buttons: Annotated[list[TemplateButton], BeforeValidator(_none_as_empty_list)] = []
    cards: Annotated[list[TemplateCard], BeforeValidator(_none_as_empty_list)] = []

    @property
    def is_media(self) -> bool:
        """True for an image, video or document header (its ``url`` is the media link)."""
        return (self.format or "").upper() in _MEDIA_FORMATS or (
            self.format is None and self.url is not None and self.text is None
        )


class TemplateCard(_Wire):
    """One carousel card: its own HEADER (image or video), BODY and BUTTONS."""

    card_components: Annotated[list[TemplateComponent], BeforeValidator(_none_as_empty_list)] = []


TemplateComponent.model_rebuild()  # it refers to TemplateCard, defined just above


class _Approval(_Wire):
    @property
    def approved(self) -> bool:
        """True when the audit status is ``pass`` (others: fail, auditing, unaudit)."""
        return (getattr(self, "audit_status", None) or "").lower() == "pass"


class TemplateSummary(_Approval):
    """One row of ListChatappTemplate ``ListTemplate[]``.

    >>> TemplateSummary.model_validate({"TemplateCode": "1", "TemplateName": "hi",
    ...     "Language": "en", "AuditStatus": "pass"}).approved
    True
    """

    template_code: str
    template_name: str
    language: str
    audit_status: str | None = None
    category: str | None = None
    template_type: str | None = None
    reason: str | None = None
    last_update_time: int | None = None
    """Milliseconds since the Unix epoch."""


@dataclass(frozen=True, slots=True)
class TemplateProblem(Problem):
    """A :class:`~cams_notebook.problems.Problem` with template parameters, naming the variable.

    ``field`` is ``TemplateParams.<variable>`` for one value, ``header`` or ``body`` for
    rendered text; ``variable`` is the variable's name, or None when no single value is to blame.
    """

    variable: str | None = None


@dataclass(frozen=True, slots=True)
class RenderedHeader:
    """A filled-in header: ``kind`` is text, image, video, document or location."""

    kind: str
    text: str | None = None
    url: str | None = None
    file_name: str | None = None
    file_type: str | None = None
    thumb_url: str | None = None
    duration: int | None = None
    latitude: str | None = None
    longitude: str | None = None
    location_name: str | None = None
    location_address: str | None = None


@dataclass(frozen=True, slots=True)
class RenderedButton:
    """A filled-in button as the recipient sees it."""

    type: str
    text: str
    url: str | None = None
    phone_number: str | None = None
    coupon_code: str | None = None


@dataclass(frozen=True, slots=True)
class RenderedCard:
    """A filled-in carousel card."""

    header: RenderedHeader | None
    body: str
    buttons: tuple[RenderedButton, ...]


@dataclass(frozen=True, slots=True)
class RenderedTemplate:
    """A template with its variables filled in; unfilled ones stay visible as ``$(name)``."""

    header: RenderedHeader | None
    body: str
    footer: str | None
    buttons: tuple[RenderedButton, ...]
    cards: tuple[RenderedCard, ...] = ()
    missing: tuple[str, ...] = ()
    """Variables that had no usable value and were left as ``$(name)``."""


@dataclass(frozen=True, slots=True)
class _Slot:
    where: str
    text: str
    is_url: bool


class Template(_Approval):
    """A message template (GetChatappTemplateDetail ``Data``), with its variables and checks.

    >>> t = Template.model_validate({"TemplateCode": "1", "Name": "hi", "Language": "en",
    ...     "AuditStatus": "pass", "Components": [{"Type": "BODY", "Text": "Hi $(name)!"}]})
    >>> t.variables, t.render({"name": "Ann"}).body
    (('name',), 'Hi Ann!')
    """

    template_code: str
    name: str
    language: str
    category: str | None = None
    audit_status: str | None = None
    template_type: str | None = None
    """WHATSAPP or VIBER; absent means WhatsApp, as in the API."""
    quality_score: str | None = None
    reason: str | None = None
    allow_send: bool | None = None
    category_change_paused: bool | None = None
    message_send_ttl_seconds: int | None = None
    product_set_id: str | None = None
    example: Annotated[dict[str, str], BeforeValidator(_none_as_empty_dict)] = {}
    components: Annotated[list[TemplateComponent], BeforeValidator(_none_as_empty_list)] = []

    @property
    def channel(self) -> str:
        """The SendChatappMessage ``ChannelType`` for this template (``whatsapp``, ``viber``)."""
        return (self.template_type or "WHATSAPP").lower()

    @property
    def key(self) -> tuple[str, str]:
        """``template_key(template_code, language)``: the cache key of this template."""
        return template_key(self.template_code, self.language)

    @cached_property
    def variables(self) -> tuple[str, ...]:
        """The ``$(name)`` variables in display order, each once."""
        return tuple(dict.fromkeys(v for s in self._slots() for v in VARIABLE_RE.findall(s.text)))

    @cached_property
    def _slot_list(self) -> list[_Slot]:
        # A template is frozen, so its slots are worked out once (the dry run checks
        # every row of a campaign against the same template).
        return [slot for comp in self._ordered()
                for slot in _component_slots(comp, comp.type.upper())]

    @cached_property
    def _ordered_list(self) -> list[TemplateComponent]:
        return sorted(self.components, key=lambda c: _ORDER.get(c.type.upper(), 5))

    def check_params(self, params: Mapping[str, object] | None) -> list[TemplateProblem]:
        """Everything wrong with ``params`` for this template; an empty list means sendable.

        One problem per variable at most (the first that applies, in the order of the table in
        the module docstring), then unknown keys, then problems of the rendered text.
        """
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be a mapping or None, not {type(params).__name__}")
        label = f"{self.name} ({self.language})"
        variables = self.variables
        slots = list(self._slots())
        problems: list[TemplateProblem] = []
        good: dict[str, str] = {}
        for var in variables:
            value = params.get(var, _MISSING)
            problem = _value_problem(var, value, label)
            if problem is not None:
                problems.append(problem)
            elif isinstance(value, str):  # always, once _value_problem found nothing
                good[var] = value
        expected = ", ".join(variables) or "no variables"
        for key in params:
            if key not in variables:
                problems.append(
                    _problem(
                        "extra_variable",
                        str(key),
                        f'"{key}" is not a variable of the template {label}; '
                        f"it expects: {expected}.",
                    )
                )
        problems += self._url_and_whitespace_problems(slots, good)
        problems += self._text_problems(good)
        return problems

    def render(self, params: Mapping[str, object] | None = None) -> RenderedTemplate:
        """Fill the variables in; missing or empty (None/NaN) ones stay visible as ``$(name)``."""
        values = _display_values(params)
        header: RenderedHeader | None = None
        body, footer = "", None
        buttons: list[RenderedButton] = []
        cards: list[RenderedCard] = []
        for comp in self._ordered():
            kind = comp.type.upper()
            if kind == "HEADER":
                header = _render_header(comp, values)
            elif kind == "BODY":
                body = _fill(comp.text or "", values)
                if comp.add_secret_recommendation:  # WhatsApp's fixed English wording
                    body += " For your security, do not share this code."
            elif kind == "FOOTER":
                if comp.text is not None:
                    footer = _fill(comp.text, values)
                elif comp.code_expiration_minutes is not None:
                    footer = f"This code expires in {comp.code_expiration_minutes} minutes."
            elif kind == "BUTTONS":
                buttons += (_render_button(b, values) for b in comp.buttons)
            elif kind == "CAROUSEL":
                cards += (_render_card(card, values) for card in comp.cards)
        missing = tuple(v for v in self.variables if v not in values)
        return RenderedTemplate(header, body, footer, tuple(buttons), tuple(cards), missing)

    # -- internals -------------------------------------------------------------------------

    def _ordered(self) -> list[TemplateComponent]:
        return self._ordered_list

    def _slots(self) -> Iterator[_Slot]:
        return iter(self._slot_list)

    def _url_and_whitespace_problems(
        self, slots: list[_Slot], good: Mapping[str, str]
    ) -> Iterator[TemplateProblem]:
        flagged: set[str] = set()
        for slot in slots:
            names = VARIABLE_RE.findall(slot.text)
            if not slot.is_url or not names or not all(n in good for n in names):
                continue
            built = _fill(slot.text, good)
            if _is_web_url(built):
                continue
            for var in dict.fromkeys(names):
                if var in flagged:
                    continue
                flagged.add(var)
                if slot.text.strip() == f"$({var})":
                    msg = (
                        f'The value for "{var}" must be a web address starting with https:// '
                        f"or http://; got {_show(good[var])}."
                    )
                else:
                    msg = (
                        f'The value for "{var}" goes into the link {slot.text}, but the result '
                        f"{_show(built)} is not a valid web address (spaces or a missing "
                        "https:// are the usual causes)."
                    )
                yield _problem("bad_url", var, msg)
        if self.channel != "whatsapp":
            return
        text_vars = {v for s in slots if not s.is_url for v in VARIABLE_RE.findall(s.text)}
        for var, value in good.items():
            if var in text_vars and var not in flagged and _META_WHITESPACE_RE.search(value):
                yield _problem(
                    "bad_whitespace",
                    var,
                    f'The value for "{var}" contains a line break, a tab or more than 4 spaces '
                    "in a row; WhatsApp refuses such values inside template variables.",
                )

    def _text_problems(self, good: Mapping[str, str]) -> Iterator[TemplateProblem]:
        rendered = self.render(good)
        body_max = VIBER_BODY_MAX_CHARS if self.channel == "viber" else BODY_MAX_CHARS
        texts = [("body", rendered.body, body_max)]
        if rendered.header is not None and rendered.header.kind == "text":
            texts.insert(0, ("header", rendered.header.text or "", HEADER_MAX_CHARS))
        service = "Viber" if self.channel == "viber" else "WhatsApp"
        for where, text, limit in texts:
            if len(text) > limit:
                yield TemplateProblem(
                    where,
                    "too_long",
                    f"With these values the {where} text is {len(text):,} characters long; "
                    f"{service} allows at most {limit:,}. Use shorter values.",
                    RULE_CODES["too_long"],
                )
            found = _POSITIONAL_RE.search(text)
            if found is not None:
                culprit = next((v for v, s in good.items() if found.group(0) in s), None)
                field = f"TemplateParams.{culprit}" if culprit else where
                why = f' (it comes from the value for "{culprit}")' if culprit else ""
                yield TemplateProblem(
                    field,
                    "placeholder",
                    f'The {where} text contains "{found.group(0)}"{why}; CAMS refuses text with '
                    "{{number}} placeholders.",
                    RULE_CODES["placeholder"],
                    culprit,
                )


def normalise_language(language: str) -> str:
    """``pt-br`` -> ``pt_BR``, ``ZH_cn`` -> ``zh_CN``, ``EN`` -> ``en``: the CAMS spelling."""
    parts = language.strip().replace("-", "_").split("_")
    out = [parts[0].lower()]
    for part in parts[1:]:
        out.append(part.upper() if len(part) == 2 else part.title() if len(part) == 4 else part)
    return "_".join(out)


def template_key(code_or_name: str, language: str) -> tuple[str, str]:
    """A cache key for one template in one language: ``(code_or_name, normalised language)``."""
    if not code_or_name.strip() or not language.strip():
        raise ValueError("template_key needs a non-blank template code (or name) and language")
    return (code_or_name.strip(), normalise_language(language))


# -- helpers ----------------------------------------------------------------------------------

_MISSING: Final = object()
_BAD_URL_CHAR = re.compile(r"[\s\x00-\x1f]")


def _problem(rule: str, var: str, message: str) -> TemplateProblem:
    return TemplateProblem(f"TemplateParams.{var}", rule, message, RULE_CODES[rule], var)


def _is_null(value: object) -> bool:
    """None, float NaN and pandas' NA/NaT: the shapes an empty spreadsheet cell takes."""
    if isinstance(value, str):
        return False
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    if isinstance(value, SupportsFloat):  # floats, numpy scalars, Decimal
        try:
            return math.isnan(value)
        except (TypeError, ValueError, OverflowError):  # e.g. Decimal('sNaN')
            return False
    return False


def _value_problem(var: str, value: object, label: str) -> TemplateProblem | None:
    if value is _MISSING:
        return _problem(
            "missing_variable", var, f'No value for "{var}": the template {label} needs it.'
        )
    if _is_null(value):
        shown = "None" if value is None else "NaN" if isinstance(value, float) else str(value)
        what = shown if value is None else f"{shown}, usually an empty spreadsheet cell"
        return _problem("null_variable", var, f'The value for "{var}" is empty ({what}).')
    if not isinstance(value, str):
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        hint = f' Write it as text: "{value}".' if number else ""
        kind = "a number" if number else f"a {type(value).__name__}"
        return _problem(
            "not_a_string",
            var,
            f'The value for "{var}" must be text, but it is {kind} ({_show(value)}).' + hint,
        )
    if not value.strip():
        return _problem(
            "blank_variable",
            var,
            f'The value for "{var}" is blank; every variable needs some text.',
        )
    return None


def _show(value: object, limit: int = 60) -> str:
    text = f'"{value}"' if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_web_url(url: str) -> bool:
    if _BAD_URL_CHAR.search(url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def _display_values(params: Mapping[str, object] | None) -> dict[str, str]:
    return {
        k: v if isinstance(v, str) else str(v)
        for k, v in (params or {}).items()
        if isinstance(k, str) and not _is_null(v)
    }


def _fill(text: str, values: Mapping[str, str]) -> str:
    # one pass, so a value containing "$(x)" is never expanded again
    return VARIABLE_RE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _component_slots(comp: TemplateComponent, where: str) -> Iterator[_Slot]:
    fields = (
        ("Text", comp.text, False),
        ("Url", comp.url, True),
        ("Caption", comp.caption, False),
        ("FileName", comp.file_name, False),
        ("ThumbUrl", comp.thumb_url, True),
        ("LocationName", comp.location_name, False),
        ("LocationAddress", comp.location_address, False),
        ("OfferExpirationTimeMs", comp.offer_expiration_time_ms, False),
    )
    for name, text, is_url in fields:
        if text:
            yield _Slot(f"{where}.{name}", text, is_url)
    for i, b in enumerate(comp.buttons):
        for name, text, is_url in (
            ("Text", b.text, False),
            ("Url", b.url, True),
            ("PhoneNumber", b.phone_number, False),
            ("CouponCode", b.coupon_code, False),
        ):
            if text:
                yield _Slot(f"{where}.Buttons[{i}].{name}", text, is_url)
    for i, card in enumerate(comp.cards):
        for j, sub in enumerate(card.card_components):
            yield from _component_slots(sub, f"{where}.Cards[{i}].CardComponents[{j}]")


def _render_header(comp: TemplateComponent, values: Mapping[str, str]) -> RenderedHeader:
    def fill(text: str | None) -> str | None:
        return None if text is None else _fill(text, values)

    fmt = (comp.format or ("IMAGE" if comp.is_media else "TEXT")).lower()
    return RenderedHeader(
        kind=fmt,
        text=fill(comp.text),
        url=fill(comp.url),
        file_name=fill(comp.file_name),
        file_type=comp.file_type,
        thumb_url=fill(comp.thumb_url),
        duration=comp.duration,
        latitude=comp.latitude,
        longitude=comp.longitude,
        location_name=fill(comp.location_name),
        location_address=fill(comp.location_address),
    )


def _render_button(b: TemplateButton, values: Mapping[str, str]) -> RenderedButton:
    def fill(text: str | None) -> str | None:
        return None if text is None else _fill(text, values)

    return RenderedButton(
        type=b.type.upper(),
        text=_fill(b.text or "", values),
        url=fill(b.url),
        phone_number=b.phone_number,
        coupon_code=fill(b.coupon_code),
    )


def _render_card(card: TemplateCard, values: Mapping[str, str]) -> RenderedCard:
    header: RenderedHeader | None = None
    body = ""
    buttons: list[RenderedButton] = []
    for comp in card.card_components:
        kind = comp.type.upper()
        if kind == "HEADER":
            header = _render_header(comp, values)
        elif kind == "BODY":
            body = _fill(comp.text or "", values)
        elif kind == "BUTTONS":
            buttons += [_render_button(b, values) for b in comp.buttons]
    return RenderedCard(header, body, tuple(buttons))
