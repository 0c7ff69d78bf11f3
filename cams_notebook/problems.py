"""One shape for "what is wrong with this request": :class:`Problem`.

Every check in the toolkit (the ``Message`` model, template checks, the dry run of a
campaign, the sandbox) speaks in problems, so that the same rule gives the same words and
the same service error code wherever it fires.

A problem names the ``field`` by its wire name (``To``, ``Content.text``,
``TemplateParams.name``), the ``rule`` (a short machine name, listed below), a ``message``
in plain words, and the ``code`` the real service answers with for that mistake.

=================  ==========================================================
rule               meaning
=================  ==========================================================
``required``       a value the request needs is missing or empty
``not_allowed``    the field does not apply here (channel, Type, MessageType)
``one_of``         the value is not one of the accepted values
``not_for_channel`` the MessageType does not exist on this channel
``digits_only``    a phone number or sender is not a whole number in ASCII digits 0-9 (or,
                   for ``To``, not 7 to 15 of them)
``out_of_range``   a number outside its documented range
``too_long``       text longer than the platform allows, or a request too large to send
``too_many``       more items than allowed (buttons, sections, products)
``bad_url``        not an http(s) URL
``placeholder``    ``{{1}}``-style placeholders in a body
``invalid_json``   a JSON parameter that does not parse
``wrong_type``     a value of the wrong type
``blank``          only white space
``not_approved``   the template is not approved (auditing, fail, unaudit)
``unknown_template`` no such template (code or name) in that language
``duplicate_recipient`` the recipient appears twice in a campaign (a warning)
=================  ==========================================================

Codes the reference documents are used as they are (``InvalidParameter.TextNotEmpty``,
``InvalidParameter.FromOnlyNumeric``...). Where it documents none, the toolkit uses
``InvalidParameter.<Field>`` (for example ``InvalidParameter.Ttl``); the sandbox answers with
the same codes, so a test against it sees what a user sees.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = ["TEMPLATE_RULE_CODES", "Problem", "problems_from_validation_error", "raise_problems"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a request: which field, which rule, in words, and the service's code."""

    field: str
    rule: str
    message: str
    code: str = "InvalidParameter"

    def __str__(self) -> str:
        return f"{self.field}: {self.message} [{self.rule}]"


_PYDANTIC_RULES = {
    "missing": "required",
    "literal_error": "one_of",
    "enum": "one_of",
    "extra_forbidden": "not_allowed",
    "string_too_long": "too_long",
    "too_long": "too_many",
    "string_too_short": "required",
    "greater_than_equal": "out_of_range",
    "less_than_equal": "out_of_range",
    "greater_than": "out_of_range",
    "less_than": "out_of_range",
    "json_invalid": "invalid_json",
}

_REQUIRED = frozenset({"ChannelType", "Type", "From", "To"})
"""Parameters the API gateway itself requires; it answers ``Missing<Name>`` when one is absent."""

_CONTENT_CODES = {
    "text": "InvalidParameter.TextNotEmpty",
    "link": "InvalidParameter.LinkNotEmpty",
}


TEMPLATE_RULE_CODES: Final[Mapping[str, str]] = {
    "missing_variable": "InvalidParameter.TemplateParamsMissing",
    "extra_variable": "InvalidParameter.TemplateParamsUnknown",
    "null_variable": "InvalidParameter.TemplateParamsNull",
    "not_a_string": "InvalidParameter.TemplateParamsNotString",
    "blank_variable": "InvalidParameter.TemplateParamsBlank",
    "bad_url": "InvalidParameter.TemplateParamsUrlInvalid",
    "bad_whitespace": "InvalidParameter.TemplateParamsWhitespace",
    "too_long": "InvalidParameter.TemplateParamsTooLong",
    "placeholder": "InvalidParameter.MessageInvalid",
}
"""A template variable's rule -> the CAMS error code a server answers with (the template
checks in :mod:`cams_notebook.templates` report these)."""

def _code_for(field: str, rule: str) -> str:
    """The service's error code for a rule broken on a field."""
    top, _, sub = field.partition(".")
    if rule == "required" and not sub and top in _REQUIRED:
        return f"Missing{top}"
    if rule == "placeholder":
        return "InvalidParameter.MessageInvalid"
    if top == "TemplateParams" and sub:
        return TEMPLATE_RULE_CODES.get(rule, "InvalidParameter.TemplateParams")
    if top == "Content":
        if rule == "required" and not sub:
            return "InvalidParameter.ContentNotEmpty"
        if rule in ("required", "blank") and sub in _CONTENT_CODES:
            return _CONTENT_CODES[sub]
        return "InvalidParameter.ContentError"
    if top == "ChannelType":
        return "InvalidParameter.ChannelTypeNotSupport"
    if top == "MessageType":
        return (
            "InvalidParameter.MessageTypeNotEmpty"
            if rule == "required"
            else "InvalidParameter.MessageTypeNotSupport"
        )
    if top in ("TemplateCode", "TemplateName") and rule == "required":
        return "InvalidParameter.TemplateCodeNotEmpty"
    if top == "Language" and rule == "required":
        return "InvalidParameter.LanguageNotEmpty"
    if top == "From" and rule == "digits_only":
        return "InvalidParameter.FromOnlyNumeric"
    if top == "To" and rule == "digits_only":
        return "InvalidParameter.ToOnlyNumeric"
    return f"InvalidParameter.{top}" if top else "InvalidParameter"


def problem(field: str, rule: str, message: str) -> Problem:
    """Build a problem with the service code that goes with ``field`` and ``rule``."""
    return Problem(field, rule, message, _code_for(field, rule))


def _field_name(loc: Sequence[Any], aliases: dict[str, str]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
            continue
        name = aliases.get(str(item), str(item)) if not parts else str(item)
        parts.append(("." if parts else "") + name)
    return "".join(parts)


def problems_from_validation_error(
    error: ValidationError, aliases: dict[str, str] | None = None
) -> list[Problem]:
    """Turn a pydantic ``ValidationError`` into problems, naming fields by their wire names."""
    aliases = aliases or {}
    out: list[Problem] = []
    for err in error.errors(include_url=False):
        ctx = err.get("ctx") or {}
        if "problem" in ctx and isinstance(ctx["problem"], Problem):
            out.append(ctx["problem"])
            continue
        field = _field_name(err["loc"], aliases)
        kind = err["type"]
        rule = _PYDANTIC_RULES.get(kind, kind)
        if kind == "too_long" and (isinstance(err.get("input"), str) or "field_type" not in ctx):
            rule = "too_long"  # our own text-length rule shares pydantic's list-length name
        if kind.endswith("_type") or kind.endswith("_parsing"):
            rule = "wrong_type"
        message = err["msg"]
        if kind == "missing":
            message = "is required"
        elif kind == "extra_forbidden":
            message = "is not allowed here"
        out.append(problem(field, rule, message))
    return out


def raise_problems(title: str, problems: Iterable[Problem], input_value: Any) -> None:
    """Raise one pydantic ``ValidationError`` that lists every problem, field by field."""
    details: list[InitErrorDetails] = []
    for p in problems:
        loc = tuple(p.field.split("."))
        details.append(
            {
                "type": PydanticCustomError(p.rule, p.message, {"problem": p}),
                "loc": loc,
                "input": input_value,
            }
        )
    if details:
        raise ValidationError.from_exception_data(title, details)
