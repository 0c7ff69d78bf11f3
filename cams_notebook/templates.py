"""Message templates as the client sees them: the template, its variables, and one catalogue
that fetches each template once.

:class:`Template` is the ``Data`` object of GetChatappTemplateDetail and
:class:`TemplateSummary` one ``ListTemplate[]`` row of ListChatappTemplate (reference 6.3/6.4);
their parts are in :mod:`.template_parts`, rendering in :mod:`.template_render`, the parameter
checks (and the table of their rule codes) in :mod:`.template_checks`. All pure code, except
:class:`TemplateCatalogue`, which asks a client.

Variables. CAMS templates use named placeholders written ``$(name)``, not Meta's ``{{1}}``.
A name is one or more ASCII letters, digits or underscores (``[A-Za-z0-9_]+``), matched
case-sensitively; anything else (``$( name )``, ``$()``, ``$(first-name)``) is literal text,
because that is what the console lets you create and a looser pattern would invent variables.
:attr:`Template.variables` lists them in display order: HEADER, LIMITED_TIME_OFFER, BODY,
FOOTER, BUTTONS, CAROUSEL, then anything else in wire order; inside a component, text before
URL before the other fields, buttons and cards in wire order. Each name is listed once.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from types import MappingProxyType
from typing import Annotated, Any, Final, Protocol, cast

from .errors import CamsError
from .template_checks import (
    BODY_MAX_CHARS,
    HEADER_MAX_CHARS,
    RULE_CODES,
    VIBER_BODY_MAX_CHARS,
    TemplateProblem,
    extra_problems,
    text_problems,
    url_and_whitespace_problems,
    value_problems,
)
from .template_parts import (
    AuditedModel,
    EmptyDictIfNone,
    EmptyListIfNone,
    TemplateButton,
    TemplateCard,
    TemplateComponent,
    TemplateSummary,
)
from .template_render import (
    VARIABLE_RE,
    RenderedButton,
    RenderedCard,
    RenderedHeader,
    RenderedTemplate,
    Slot,
    component_slots,
    display_values,
    render_components,
)

__all__ = [
    "BODY_MAX_CHARS",
    "HEADER_MAX_CHARS",
    "RULE_CODES",
    "TEMPLATE_NOT_FOUND_CODES",
    "TEMPLATE_TYPES",
    "VIBER_BODY_MAX_CHARS",
    "AsyncTemplateSource",
    "RenderedButton",
    "RenderedCard",
    "RenderedHeader",
    "RenderedTemplate",
    "Template",
    "TemplateButton",
    "TemplateCard",
    "TemplateCatalogue",
    "TemplateComponent",
    "TemplateKey",
    "TemplateProblem",
    "TemplateSource",
    "TemplateSummary",
    "normalise_language",
    "template_key",
    "template_type",
]

_ORDER: Final = {"HEADER": 0, "LIMITED_TIME_OFFER": 1, "BODY": 2, "FOOTER": 3, "BUTTONS": 4}


class Template(AuditedModel):
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
    example: Annotated[dict[str, str], EmptyDictIfNone] = {}
    components: Annotated[list[TemplateComponent], EmptyListIfNone] = []

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
        return tuple(dict.fromkeys(v for s in self._slots for v in VARIABLE_RE.findall(s.text)))

    @cached_property
    def _slots(self) -> list[Slot]:
        # A template is frozen, so its slots are worked out once (the dry run checks
        # every row of a campaign against the same template).
        return [slot for comp in self._ordered
                for slot in component_slots(comp, comp.type.upper())]

    @cached_property
    def _ordered(self) -> list[TemplateComponent]:
        return sorted(self.components, key=lambda c: _ORDER.get(c.type.upper(), 5))

    def check_params(self, params: Mapping[str, object] | None) -> list[TemplateProblem]:
        """Everything wrong with ``params`` for this template; an empty list means sendable.

        One problem per variable at most (the first that applies, in the order of the table in
        :mod:`.template_checks`), then unknown keys, then problems of the rendered text.
        """
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be a mapping or None, not {type(params).__name__}")
        label = f"{self.name} ({self.language})"
        problems, good = value_problems(self.variables, params, label)
        problems += extra_problems(self.variables, params, label)
        problems += url_and_whitespace_problems(self.channel, self._slots, good)
        problems += text_problems(self.channel, self.render(good), good)
        return problems

    def render(self, params: Mapping[str, object] | None = None) -> RenderedTemplate:
        """Fill the variables in; missing or empty (None/NaN) ones stay visible as ``$(name)``."""
        values = display_values(params)
        missing = tuple(v for v in self.variables if v not in values)
        return render_components(self._ordered, values, missing)


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


# -- the catalogue ----------------------------------------------------------------------------

TEMPLATE_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {"whatsapp": "WHATSAPP", "viber": "VIBER"})
"""The channels CAMS keeps templates for, and the ``TemplateType`` of each."""

TEMPLATE_NOT_FOUND_CODES: Final = frozenset({"DetailError.TemplateNotExist",
                                             "InvalidParameter.TemplateNotExist"})
"""The answers that mean "no such template" (remembered), not "could not ask" (raised)."""

TemplateKey = tuple[str, str, str | None]
"""(code or name, language, ``TemplateType`` or None): one entry of a catalogue."""


def template_type(channel: str) -> str:
    """The ``TemplateType`` of a channel's templates; ``WHATSAPP``, the API's default, for a
    channel CAMS keeps no templates for (see :data:`TEMPLATE_TYPES`)."""
    return TEMPLATE_TYPES.get(channel.lower(), "WHATSAPP")


class TemplateSource(Protocol):
    """What a :class:`TemplateCatalogue` asks of a blocking client (``Client`` is one)."""

    def get_template(self, code: str | None = None, *, language: str, name: str | None = None,
                     template_type: str | None = None) -> Template: ...

    def list_templates(self, *, page_size: int = 50,
                       **filters: str | None) -> list[TemplateSummary]: ...


class AsyncTemplateSource(Protocol):
    """What a :class:`TemplateCatalogue` asks of an asyncio client (``AsyncClient`` is one)."""

    async def get_template(self, code: str | None = None, *, language: str,
                           name: str | None = None,
                           template_type: str | None = None) -> Template: ...

    async def list_templates(self, *, page_size: int = 50,
                             **filters: str | None) -> list[TemplateSummary]: ...


class TemplateCatalogue:
    """Templates fetched once each, by (code or name, language, template type).

    The dry run, the composer and the campaign panel each keep one. A "no such template"
    answer (:data:`TEMPLATE_NOT_FOUND_CODES`) is remembered as None, with the error in
    :attr:`not_found`; any other :class:`~cams_notebook.errors.CamsError` is raised and asked
    again next time. :meth:`get` and :meth:`summaries` use a blocking client, :meth:`aget`
    and :meth:`asummaries` an asyncio one.

    >>> from cams_notebook.sandbox import Sandbox
    >>> catalogue = TemplateCatalogue(Sandbox().client())
    >>> catalogue.get("830174529611842305", "en").name, catalogue.get("1", "en")
    ('order_shipped', None)
    """

    def __init__(self, client: TemplateSource | AsyncTemplateSource) -> None:
        self.client = client
        self.found: dict[TemplateKey, Template | None] = {}
        """Every answer so far; None: no such template."""
        self.not_found: dict[TemplateKey, CamsError] = {}
        """The service's answer behind each None of :attr:`found`."""
        self._summaries: dict[str | None, list[TemplateSummary]] = {}

    def __repr__(self) -> str:
        return f"TemplateCatalogue(templates={len(self.found)}, missing={len(self.not_found)})"

    @staticmethod
    def key(code_or_name: str, language: str, template_type: str | None = None) -> TemplateKey:
        """The entry a template is kept under (a code is all digits; anything else a name)."""
        return (code_or_name, language, template_type.upper() if template_type else None)

    def get(self, code_or_name: str, language: str,
            template_type: str | None = None) -> Template | None:
        """One template's detail, asked of the client the first time; None: there is none."""
        key = self.key(code_or_name, language, template_type)
        if key not in self.found:
            source = cast(TemplateSource, self.client)
            try:
                self.found[key] = source.get_template(**_request(key))
            except CamsError as error:
                if not self._remember_absent(key, error):
                    raise
        return self.found[key]

    async def aget(self, code_or_name: str, language: str,
                   template_type: str | None = None) -> Template | None:
        """The asyncio twin of :meth:`get`."""
        key = self.key(code_or_name, language, template_type)
        if key not in self.found:
            source = cast(AsyncTemplateSource, self.client)
            try:
                self.found[key] = await source.get_template(**_request(key))
            except CamsError as error:
                if not self._remember_absent(key, error):
                    raise
        return self.found[key]

    def summaries(self, template_type: str | None = None) -> list[TemplateSummary]:
        """The account's templates (ListChatappTemplate), of one ``TemplateType`` or all;
        listed once. Errors are raised, and the list is asked for again next time."""
        wanted = template_type.upper() if template_type else None
        if wanted not in self._summaries:
            source = cast(TemplateSource, self.client)
            rows = source.list_templates(template_type=wanted) if wanted else \
                source.list_templates()
            self._summaries[wanted] = _of_type(rows, wanted)
        return self._summaries[wanted]

    async def asummaries(self, template_type: str | None = None) -> list[TemplateSummary]:
        """The asyncio twin of :meth:`summaries`."""
        wanted = template_type.upper() if template_type else None
        if wanted not in self._summaries:
            source = cast(AsyncTemplateSource, self.client)
            rows = await (source.list_templates(template_type=wanted) if wanted else
                          source.list_templates())
            self._summaries[wanted] = _of_type(rows, wanted)
        return self._summaries[wanted]

    def _remember_absent(self, key: TemplateKey, error: CamsError) -> bool:
        if getattr(error, "code", "") not in TEMPLATE_NOT_FOUND_CODES:
            return False
        self.found[key], self.not_found[key] = None, error
        return True


def _request(key: TemplateKey) -> dict[str, Any]:
    code, language, kind = key
    args: dict[str, Any] = {"code" if code.isdigit() else "name": code, "language": language}
    if kind is not None:
        args["template_type"] = kind
    return args


def _of_type(rows: list[TemplateSummary], wanted: str | None) -> list[TemplateSummary]:
    # a row without a TemplateType is of the type asked for
    return [s for s in rows if wanted is None or (s.template_type or wanted).upper() == wanted]
