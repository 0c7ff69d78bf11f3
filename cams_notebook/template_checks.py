"""What is wrong with a template's parameters: the service's refusals, found before sending.

Pure code, no I/O; :meth:`~cams_notebook.templates.Template.check_params` runs these checks.
Each finding is a :class:`TemplateProblem` (the toolkit's
:class:`~cams_notebook.problems.Problem`, plus the variable's name). Only
``InvalidParameter.MessageInvalid`` is a documented CAMS code (reference 4.3); the others are
named by this project in the same style, and the sandbox answers with them. ``too_long``,
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

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from .problems import TEMPLATE_RULE_CODES as RULE_CODES
from .problems import Problem
from .template_render import VARIABLE_RE, RenderedTemplate, Slot, fill, is_null

__all__ = ["BODY_MAX_CHARS", "HEADER_MAX_CHARS", "RULE_CODES", "VIBER_BODY_MAX_CHARS",
           "TemplateProblem", "extra_problems", "text_problems", "url_and_whitespace_problems",
           "value_problems"]

BODY_MAX_CHARS: Final = 1024
HEADER_MAX_CHARS: Final = 60
VIBER_BODY_MAX_CHARS: Final = 1000

_POSITIONAL_RE: Final = re.compile(r"\{\{\d+\}\}")  # the server's own pattern, no spaces
_META_WHITESPACE_RE: Final = re.compile(r"[\n\r\t]| {5,}")
_BAD_URL_CHAR: Final = re.compile(r"[\s\x00-\x1f]")
_MISSING: Final = object()


@dataclass(frozen=True, slots=True)
class TemplateProblem(Problem):
    """A :class:`~cams_notebook.problems.Problem` with template parameters, naming the variable.

    ``field`` is ``TemplateParams.<variable>`` for one value, ``header`` or ``body`` for
    rendered text; ``variable`` is the variable's name, or None when no single value is to blame.
    """

    variable: str | None = None


def value_problems(variables: Sequence[str], params: Mapping[str, object], label: str
                   ) -> tuple[list[TemplateProblem], dict[str, str]]:
    """One problem per variable at most, and the values that passed (to check further)."""
    problems: list[TemplateProblem] = []
    good: dict[str, str] = {}
    for var in variables:
        value = params.get(var, _MISSING)
        problem = _value_problem(var, value, label)
        if problem is not None:
            problems.append(problem)
        elif isinstance(value, str):  # always, once _value_problem found nothing
            good[var] = value
    return problems, good


def extra_problems(variables: Sequence[str], params: Mapping[str, object], label: str
                   ) -> Iterator[TemplateProblem]:
    """A problem for each key that is not a variable of the template."""
    expected = ", ".join(variables) or "no variables"
    for key in params:
        if key not in variables:
            yield _problem("extra_variable", str(key),
                           f'"{key}" is not a variable of the template {label}; '
                           f"it expects: {expected}.")


def url_and_whitespace_problems(channel: str, slots: Sequence[Slot], good: Mapping[str, str]
                                ) -> Iterator[TemplateProblem]:
    """Links that the values make invalid; on WhatsApp, whitespace Meta refuses in variables."""
    flagged: set[str] = set()
    for slot in slots:
        names = VARIABLE_RE.findall(slot.text)
        if not slot.is_url or not names or not all(n in good for n in names):
            continue
        built = fill(slot.text, good)
        if _is_web_url(built):
            continue
        for var in dict.fromkeys(names):
            if var in flagged:
                continue
            flagged.add(var)
            yield _problem("bad_url", var, _bad_url_message(var, slot.text, good[var], built))
    if channel != "whatsapp":
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


def text_problems(channel: str, rendered: RenderedTemplate, good: Mapping[str, str]
                  ) -> Iterator[TemplateProblem]:
    """Rendered header and body text over the channel's limit, or with ``{{1}}`` placeholders."""
    body_max = VIBER_BODY_MAX_CHARS if channel == "viber" else BODY_MAX_CHARS
    texts = [("body", rendered.body, body_max)]
    if rendered.header is not None and rendered.header.kind == "text":
        texts.insert(0, ("header", rendered.header.text or "", HEADER_MAX_CHARS))
    service = "Viber" if channel == "viber" else "WhatsApp"
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


# -- helpers ----------------------------------------------------------------------------------


def _problem(rule: str, var: str, message: str) -> TemplateProblem:
    return TemplateProblem(f"TemplateParams.{var}", rule, message, RULE_CODES[rule], var)


def _bad_url_message(var: str, slot_text: str, value: str, built: str) -> str:
    if slot_text.strip() == f"$({var})":
        return (f'The value for "{var}" must be a web address starting with https:// '
                f"or http://; got {_show(value)}.")
    return (f'The value for "{var}" goes into the link {slot_text}, but the result '
            f"{_show(built)} is not a valid web address (spaces or a missing "
            "https:// are the usual causes).")


def _value_problem(var: str, value: object, label: str) -> TemplateProblem | None:
    if value is _MISSING:
        return _problem(
            "missing_variable", var, f'No value for "{var}": the template {label} needs it.'
        )
    if is_null(value):
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
