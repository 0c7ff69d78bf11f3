"""The composer's status as HTML: problems in plain words, the summary line, the outcome of a
send, delivery receipts, the template note, and the message as Python code.

Pure functions from values to HTML strings, like :mod:`.preview` (the preview column); every
value from a user, a template or the service goes through :func:`html.escape`. Fields are
named by their plain label (:mod:`.labels`); the wire name stays in the label's tooltip.

>>> from cams_notebook.problems import problem
>>> problem_text(problem("To", "required", "is required"))
'Enter the recipient.'
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..models import Message
from ..problems import Problem
from ..templates import Template
from .labels import label

__all__ = [
    "WINDOW_CLOSED",
    "code_html",
    "copied_html",
    "field_label",
    "message_code",
    "problem_text",
    "problems_html",
    "receipts_html",
    "result_html",
    "summary_html",
    "template_note_html",
    "window_html",
]

_ERROR, _WARN, _OK, _GREY = "#b00020", "#8a5a00", "#1b7f3b", "#667781"

WINDOW_CLOSED = ("A free-form WhatsApp message only arrives within 24 hours of the recipient's "
                 "last message, and that window is closed: CAMS accepts it, then it fails with "
                 "131047. Send a template instead.")
"""The warning shown before Send when the 24-hour window is known to be closed."""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def field_label(field: str) -> str:
    """A problem's field as a person reads it: ``TemplateParams.name`` -> ``name``,
    ``Content.text`` -> ``Text``, ``CustSpaceId`` -> ``Space ID``."""
    top, _, rest = field.partition(".")
    if top == "TemplateParams" and rest:
        return rest
    if top == "Content" and rest:
        return label(rest)
    return label(field)


# -- problems, in plain words -----------------------------------------------------------------

_REQUIRED_TEXT = {
    "ChannelType": "Choose a channel.",
    "Type": "Choose template or free-form message.",
    "From": "Enter the sender.",
    "To": "Enter the recipient.",
    "TemplateCode": "Choose a template.",
    "Language": "Choose the template's language.",
    "MessageType": "Choose a message type.",
    "Content": "Fill in the message content.",
}


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?", ")")) else text + "."


def problem_text(problem: Problem) -> str:
    """What is wrong, in words a non-engineer understands (the field name is shown beside it)."""
    field, rule, message = problem.field, problem.rule, problem.message
    if problem.code.startswith("InvalidParameter.TemplateParams") or field in ("body", "header"):
        return message  # template checks already speak in full sentences
    if rule == "required":
        if message.startswith("is missing"):
            return _sentence(f"The JSON {message}")
        return _REQUIRED_TEXT.get(field, "This is required for this message type.")
    if rule == "digits_only":
        if field == "From":
            return ("Use digits only: your sender number with its country code, "
                    "without + or spaces.")
        got = message[message.find("(got"):] if "(got" in message else ""
        return _sentence(f"Enter a phone number with its country code, e.g. +1 555 010 0001 "
                         f"or 8613900000000 (spaces, dashes and brackets are fine) {got}")
    if rule == "bad_url":
        return "Enter a web address that starts with https:// or http://."
    if rule == "wrong_type":
        return "Enter a number." if re.search(r"number|integer|float", message) else _sentence(
            f"This has the wrong kind of value: {message}")
    if rule == "blank":
        return "This contains only spaces; type some text."
    if rule == "placeholder":
        return ("Remove the {{1}}-style placeholders: CAMS refuses text that contains them "
                "(write the actual words instead).")
    if rule == "invalid_json":
        return _sentence(f"This {message}; check the brackets, quotes and commas")
    if rule == "one_of":
        return "Choose one of the offered values."
    if rule == "not_allowed":
        return _sentence(f"This field {message}" if message.startswith("is ") else message)
    if rule == "too_long" and message.startswith("is "):
        return _sentence(f"Too long: this {message}")
    if rule == "out_of_range" and message.startswith("must "):
        return _sentence(f"This {message}")
    return _sentence(message)


def problems_html(problems: Iterable[Problem]) -> str:
    """One line per problem, under its field: ``⚠ To: Enter a phone number…``."""
    return "".join(
        f"<div class='cams-problem' style='color:{_ERROR};font-size:12px'>⚠ "
        f"<b>{_e(field_label(p.field))}</b>: {_e(problem_text(p))}</div>" for p in problems)


def summary_html(problems: list[Problem], *, shown: bool = True, warning: str = "") -> str:
    """Ready to send (with ``warning`` when it will likely fail), or what is left to do.

    ``shown`` says whether the problems are shown under their fields: before a field was
    touched its problem is only "left to fill in", in grey, not an error in red."""
    if not problems:
        if warning:
            return (f"<div class='cams-summary cams-warning' style='color:{_WARN}'>⚠ Valid, "
                    f"but it will likely fail: {_e(warning)}</div>")
        return f"<div class='cams-summary' style='color:{_OK}'>✓ Ready to send.</div>"
    fields = ", ".join(dict.fromkeys(field_label(p.field) for p in problems))
    if not shown:
        return (f"<div class='cams-summary' style='color:{_GREY}'>To send, fill in: "
                f"{_e(fields)}.</div>")
    n = len(problems)
    what = "1 thing" if n == 1 else f"{n} things"
    return (f"<div class='cams-summary' style='color:{_ERROR}'>✗ {what} to fix before sending: "
            f"{_e(fields)}</div>")


def window_html(state: bool | None) -> str:
    """The 24-hour window of a free-form WhatsApp message: a warning when it is closed, a hint
    when nobody can tell (no inbound store), nothing when it is open."""
    if state is True:
        return ""
    if state is False:
        return (f"<div class='cams-window' style='color:{_WARN};font-size:12px'>⚠ "
                f"{_e(WINDOW_CLOSED)}</div>")
    return (f"<div class='cams-window' style='color:{_GREY};font-size:12px'>A free-form "
            "WhatsApp message only arrives within 24 hours of the recipient's last message; "
            "give the composer inbound= (the store of the ChatAppInbound queue) to check it "
            "before Send.</div>")


# -- results ----------------------------------------------------------------------------------


def result_html(result: object, *, previous: bool = False) -> str:
    """A send's outcome: MessageId, Code, RequestId; or the error's class, code and message.

    ``previous``: the form has changed since, so the card is of the previous message (greyed,
    titled so), never mistaken for the outcome of what is being edited."""
    if result is None:
        return ""
    if isinstance(result, BaseException):
        code = getattr(result, "code", None)
        request_id = getattr(result, "request_id", None)
        message = getattr(result, "message", None) or str(result)
        rows = [("Error", type(result).__name__), ("Code", code), ("Message", message),
                ("RequestId", request_id)]
        colour, title = _ERROR, "Not sent"
    else:
        rows = [("MessageId", getattr(result, "message_id", None)),
                ("Code", getattr(result, "code", None)),
                ("RequestId", getattr(result, "request_id", None))]
        colour, title = _OK, "Sent"
    if previous:
        colour, title = _GREY, f"Previous message: {title.lower()}"
    cells = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{_e(k)}</th>"
                    f"<td style='text-align:left'><code>{_e(v)}</code></td></tr>"
                    for k, v in rows if v is not None)
    faded = ";opacity:.7" if previous else ""
    css = "cams-result cams-previous" if previous else "cams-result"
    return (f"<div class='{css}' style='border-left:3px solid {colour};padding-left:8px{faded}'>"
            f"<b style='color:{colour}'>{title}</b><table>{cells}</table></div>")


def receipts_html(events: Sequence[Mapping[str, Any]], state: str = "") -> str:
    """Delivery status as it changed (``Sent → Delivered → Read``), and why a failure failed.

    ``state`` says how watching goes: ``watching``, ``stopped``, ``timeout`` or ``""`` (done).
    """
    statuses = list(dict.fromkeys(str(e.get("Status")) for e in events))
    trail = " → ".join(statuses) if statuses else "no receipt yet"
    failed = next((e for e in events if e.get("Status") == "Failed"), None)
    detail = ""
    if failed is not None:
        detail = (f"<div style='color:{_ERROR}'>Failed with code {_e(failed.get('ErrorCode'))}: "
                  f"{_e(failed.get('ErrorDescription') or '')}</div>")
    notes = {"watching": " (watching…)", "stopped": " (stopped watching)",
             "timeout": " (stopped waiting)"}
    return (f"<div class='cams-receipts'><b>Delivery</b>: <span class='cams-status'>"
            f"{_e(trail)}</span>{_e(notes.get(state, ''))}{detail}</div>")


def template_note_html(template: Template | None, error: str = "") -> str:
    """A line under the picker: category, approval and quality, or why templates are missing."""
    if error:
        return f"<div style='color:{_ERROR};font-size:12px'>{_e(error)}</div>"
    if template is None:
        return ""
    status = "approved" if template.approved else str(template.audit_status or "not approved")
    bits = [template.category, status,
            f"quality {template.quality_score}" if template.quality_score else None]
    reason = f"<br>{_e(template.reason)}" if template.reason else ""
    return (f"<div class='cams-note' style='font-size:12px;color:#667781'>"
            f"{_e(' · '.join(b for b in bits if b))}{reason}</div>")


# -- copy as code ---------------------------------------------------------------------------


def message_code(data: Mapping[str, Any], *, sandbox: bool = False) -> str:
    """Python that builds the same ``Message`` from its keyword arguments and sends it.

    Field order follows the model; values are Python literals (``repr``), so ``exec`` of the
    text builds an equal message. No key is written: the client is ``Client.from_env()``
    (the real service, with the environment's credentials), or ``Client.sandbox()`` when the
    widget talks to the sandbox (``sandbox=True``), so the code works where it was copied.
    """
    args = "".join(f"    {name}={data[name]!r},\n" for name in Message.model_fields
                   if data.get(name) is not None)
    client = ("Client.sandbox()  # the local sandbox; Client.from_env() for CAMS" if sandbox
              else "Client.from_env()  # ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET from the environment")
    return ("from cams_notebook import Client, Message\n\n"
            f"message = Message(\n{args})\n"
            f"client = {client}\n"
            "result = client.send(message)\n")


def code_html(code: str) -> str:
    """The code a click on "Copy as code" put on the clipboard, shown under the buttons."""
    return (f"<div class='cams-code'><b>Python</b><pre style='font-size:12px;margin:4px 0;"
            f"background:#f6f8fa;padding:6px 8px;border:1px solid #e1e4e8;border-radius:6px;"
            f"white-space:pre-wrap;overflow-wrap:anywhere;word-break:normal;max-width:100%;"
            f"box-sizing:border-box;max-height:320px;overflow:auto'>{_e(code)}</pre></div>")


def copied_html(state: str) -> str:
    """What became of the last copy: ``copied``, ``failed`` (the browser refused) or ``""``."""
    if state == "copied":
        return f"<span class='cams-copied' style='color:{_OK};font-size:12px'>✓ Copied</span>"
    if state == "failed":
        return (f"<span class='cams-copied' style='color:{_WARN};font-size:12px'>The browser "
                "did not allow the clipboard: select the code below and copy it.</span>")
    return ""
