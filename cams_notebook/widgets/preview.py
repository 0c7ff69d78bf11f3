"""The composer's HTML: chat bubbles, the fallback SMS, the wire parameters, problems, results.

Pure functions from values to HTML strings, no widgets and no I/O, so every look can be
tested as text. Every value that came from a user, a template or the service goes through
:func:`html.escape`; links are only made clickable for http(s) URLs. Nothing here loads a
remote resource (media appear as cards with their link, not as ``<img>``), so a preview is
the same on every run and never calls out.

>>> "cams-whatsapp" in content_bubble("whatsapp", "text", {"text": "Hi <b>"})
True
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..models import Message
from ..problems import Problem
from ..templates import RenderedButton, RenderedHeader, RenderedTemplate, Template
from .sms import sms_info, ucs2_characters

__all__ = [
    "CHANNEL_NAMES",
    "code_html",
    "content_bubble",
    "count_html",
    "message_code",
    "page_html",
    "problem_text",
    "problems_html",
    "receipts_html",
    "result_html",
    "sms_html",
    "summary_html",
    "template_bubble",
    "template_note_html",
    "wire_html",
]

CHANNEL_NAMES = {"whatsapp": "WhatsApp", "viber": "Viber", "messenger": "Messenger",
                 "instagram": "Instagram", "telegram": "Telegram", "line": "LINE"}

# (chat background, bubble background, text colour, bubble corners, button style)
_LOOKS: dict[str, tuple[str, str, str, str, str]] = {
    "whatsapp": ("#efeae2", "#d9fdd3", "#111b21", "8px 0 8px 8px",
                 "background:#fff;color:#027eb5;border-radius:8px"),
    "viber": ("#f3f0fd", "#7360f2", "#fff", "18px 18px 4px 18px",
              "background:#fff;color:#7360f2;border-radius:18px"),
    "plain": ("#fafafa", "#f0f0f0", "#1c1e21", "12px",
              "background:#fff;color:#1c1e21;border:1px solid #ccc;border-radius:12px"),
}
_ICONS = {"image": "🖼️", "video": "🎬", "audio": "🎵", "document": "📄", "sticker": "🏷️",
          "gif": "🎞️", "location": "📍"}
_BUTTON_ICONS = {"URL": "↗", "PHONE_NUMBER": "📞", "QUICK_REPLY": "↩", "COPY_CODE": "⧉"}
_VARIABLE = re.compile(r"\$\([A-Za-z0-9_]+\)")
_ERROR = "#b00020"
_OK = "#1b7f3b"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _look(channel: str) -> tuple[str, str, str, str, str]:
    return _LOOKS.get(channel, _LOOKS["plain"])


def _link(url: object) -> str:
    """A link for http(s) URLs; anything else is shown as text, never made clickable."""
    text = str(url)
    if re.match(r"^https?://", text, re.IGNORECASE):
        return f"<a href='{_e(text)}' target='_blank' rel='noopener'>{_e(text)}</a>"
    return f"<code>{_e(text)}</code>"


def _text(value: object) -> str:
    """Escaped text, line breaks kept, unfilled ``$(variables)`` highlighted."""
    escaped = _e(value)
    marked = _VARIABLE.sub(lambda m: f"<span class='cams-missing' style='background:#fff3b0;"
                                     f"color:#6b5900'>{m.group(0)}</span>", escaped)
    return f"<div class='cams-text' style='white-space:pre-wrap'>{marked}</div>"


def _card(icon: str, title: str, lines: Iterable[str]) -> str:
    body = "".join(f"<div>{line}</div>" for line in lines if line)
    return (f"<div class='cams-card' style='background:rgba(0,0,0,.06);border-radius:6px;"
            f"padding:6px 8px;margin-bottom:4px;word-break:break-all'>"
            f"<div><b>{icon} {_e(title)}</b></div>{body}</div>")


def _size(value: object) -> str:
    try:
        size = float(str(value))
    except ValueError:
        return _e(value)
    for unit in ("bytes", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return _e(value)  # pragma: no cover


def _bubble(channel: str, inner: str, after: str = "") -> str:
    chat, bg, fg, corners, _ = _look(channel)
    kind = channel if channel in _LOOKS else "plain"
    name = CHANNEL_NAMES.get(channel, channel)
    return (f"<div class='cams-preview cams-{_e(kind)}' style='background:{chat};padding:10px;"
            f"border-radius:6px;max-width:360px'>"
            f"<div style='font-size:11px;color:#667781;margin-bottom:4px'>{_e(name)}</div>"
            f"<div class='cams-bubble' style='background:{bg};color:{fg};border-radius:{corners};"
            f"padding:6px 9px;margin-left:auto;max-width:300px;box-shadow:0 1px .5px "
            f"rgba(0,0,0,.13);font-size:14px;line-height:1.35'>{inner}</div>{after}</div>")


def _button(channel: str, label: str, target: str = "", kind: str = "") -> str:
    style = _look(channel)[4]
    icon = _BUTTON_ICONS.get(kind.upper(), "")
    hint = f"<div style='font-size:11px;opacity:.75'>{target}</div>" if target else ""
    return (f"<div class='cams-button' style='{style};text-align:center;padding:6px;"
            f"margin-top:3px;font-size:14px'>{_e(icon)} {_e(label)}{hint}</div>")


def _media(kind: str, content: Mapping[str, Any]) -> str:
    lines = [_link(content["link"])] if content.get("link") else ["<i>no link yet</i>"]
    if content.get("thumbnail"):
        lines.append(f"thumbnail {_link(content['thumbnail'])}")
    details = []
    if content.get("fileSize") not in (None, ""):
        details.append(_size(content["fileSize"]))
    if content.get("duration") not in (None, ""):
        details.append(f"{_e(content['duration'])} s")
    if details:
        lines.append(" · ".join(details))
    title = str(content.get("fileName") or kind)
    if content.get("fileType"):
        title += f" ({content['fileType']})"
    return _card(_ICONS.get(kind, "📎"), title, lines)


def _location(name: object, address: object, latitude: object, longitude: object) -> str:
    return _card("📍", str(name or "Location"), [
        _e(address) if address else "", f"{_e(latitude)}, {_e(longitude)}"])


def _json_block(content: object) -> str:
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False,
                                                                   indent=2)
    return (f"<pre class='cams-json' style='margin:0;white-space:pre-wrap;font-size:12px'>"
            f"{_e(text)}</pre>")


def content_bubble(channel: str, message_type: str | None, content: object) -> str:
    """A free-form message as the recipient would see it; ``content`` is the form's raw values.

    A mapping is drawn by its keys (text, media link, document, location, Viber button);
    anything else (a pass-through body, JSON text) is shown as JSON inside a plainer bubble.
    """
    kind = (message_type or "").lower()
    if not isinstance(content, Mapping) or not content:
        if content in (None, "", {}):
            return _bubble(channel, "<i style='opacity:.7'>(nothing to preview yet)</i>")
        return _bubble(channel, _json_block(content))
    parts: list[str] = []
    if kind == "location" or ("latitude" in content and "longitude" in content):
        parts.append(_location(content.get("name"), content.get("address"),
                               content.get("latitude", ""), content.get("longitude", "")))
    elif "emoji" in content or "messageId" in content:
        parts.append(f"<div style='font-size:28px'>{_e(content.get('emoji', ''))}</div>"
                     f"<div style='font-size:11px;opacity:.75'>reaction to "
                     f"{_e(content.get('messageId', ''))}</div>")
    elif "link" in content or "fileName" in content:
        media = next((k for k in _ICONS if k in kind), kind or "file")  # text_video -> video
        parts.append(_media(media, content))
    if content.get("text"):
        parts.append(_text(content["text"]))
    viber_button = channel == "viber" and "action" in content
    if content.get("caption") and not viber_button:
        parts.append(f"<div class='cams-caption' style='font-size:13px'>"
                     f"{_text(content['caption'])}</div>")
    if viber_button:
        parts.append(_button(channel, str(content.get("caption") or "(button label)"),
                             _link(content.get("action") or "")))
    return _bubble(channel, "".join(parts) or _json_block(dict(content)))


def _header(header: RenderedHeader) -> str:
    if header.kind == "text":
        return f"<div class='cams-header' style='font-weight:bold'>{_e(header.text or '')}</div>"
    if header.kind == "location":
        return _location(header.location_name, header.location_address, header.latitude or "",
                         header.longitude or "")
    return _media(header.kind, {"link": header.url, "fileName": header.file_name,
                                "fileType": header.file_type, "thumbnail": header.thumb_url,
                                "duration": header.duration})


def _template_button(channel: str, b: RenderedButton) -> str:
    target = _link(b.url) if b.url else _e(b.phone_number or b.coupon_code or "")
    return _button(channel, b.text or b.type.replace("_", " ").title(), target, b.type)


def template_bubble(channel: str, rendered: RenderedTemplate | None, *, title: str = "") -> str:
    """A template with its variables filled in (unfilled ones highlighted as ``$(name)``)."""
    if rendered is None:
        return _bubble(channel, "<i style='opacity:.7'>(choose a template)</i>")
    parts = [_header(rendered.header)] if rendered.header is not None else []
    parts.append(_text(rendered.body))
    if rendered.footer:
        parts.append(f"<div class='cams-footer' style='font-size:12px;opacity:.65'>"
                     f"{_e(rendered.footer)}</div>")
    for card in rendered.cards:
        inner = (_header(card.header) if card.header else "") + _text(card.body) + "".join(
            _template_button("plain", b) for b in card.buttons)
        parts.append(f"<div class='cams-carousel-card' style='border:1px solid rgba(0,0,0,.15);"
                     f"border-radius:8px;padding:4px;margin-top:4px'>{inner}</div>")
    buttons = "".join(_template_button(channel, b) for b in rendered.buttons)
    if title:
        parts.insert(0, f"<div style='font-size:11px;opacity:.6'>{_e(title)}</div>")
    if channel == "whatsapp":  # WhatsApp draws template buttons under the bubble
        return _bubble(channel, "".join(parts), f"<div style='max-width:300px;"
                                                 f"margin-left:auto'>{buttons}</div>")
    return _bubble(channel, "".join(parts) + buttons)


def count_html(length: int, limit: int | None) -> str:
    """``12 / 4096 characters``, red once over the limit."""
    over = limit is not None and length > limit
    colour = _ERROR if over else "#667781"
    text = f"{length} / {limit} characters" if limit is not None else f"{length} characters"
    return f"<span class='cams-count' style='font-size:11px;color:{colour}'>{text}</span>"


def sms_html(text: str | None, fallback_id: str | None = None) -> str:
    """The fallback SMS: its text, segment count and encoding; empty when there is no fallback."""
    if not text:
        if not fallback_id:
            return ""
        return (f"<div class='cams-sms'><b>Fallback SMS</b>: strategy {_e(fallback_id)} "
                f"(its text is set in the CAMS console)</div>")
    info = sms_info(text)
    why = ""
    if info.encoding == "UCS-2":
        shown = " ".join(ucs2_characters(text)[:8])
        why = f"; UCS-2 because of {_e(shown)}"
    return (f"<div class='cams-sms' style='margin-top:8px'><b>Fallback SMS</b>"
            f"<div style='background:#e9e9eb;border-radius:14px;padding:6px 10px;"
            f"white-space:pre-wrap;max-width:300px;font-size:13px'>{_e(text)}</div>"
            f"<div class='cams-sms-info' style='font-size:11px;color:#667781'>"
            f"{_e(str(info))} (up to {info.per_segment} per segment){why}</div></div>")


def wire_html(query: Mapping[str, str] | None) -> str:
    """The exact wire parameters, as JSON in a ``<pre>``; they never include credentials."""
    if query is None:
        return ("<div class='cams-wire' style='color:#667781;font-size:12px'>"
                "Wire parameters appear once the message is valid.</div>")
    text = json.dumps(dict(query), ensure_ascii=False, indent=2)
    return (f"<div class='cams-wire'><b>Wire parameters</b><pre style='font-size:12px;"
            f"white-space:pre-wrap;word-break:break-all'>{_e(text)}</pre></div>")


def page_html(bubble: str, sms: str, wire: str) -> str:
    """The whole preview column."""
    return f"<div class='cams-page'>{bubble}{sms}{wire}</div>"


# -- problems, in plain words ------------------------------------------------------------------

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
        return _sentence(f"Enter a phone number with its country code, digits only, "
                         f"e.g. 8613900000000 {got}")
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
        f"<b>{_e(p.field)}</b>: {_e(problem_text(p))}</div>" for p in problems)


def summary_html(problems: list[Problem]) -> str:
    """Ready to send, or how many things to fix and where."""
    if not problems:
        return f"<div class='cams-summary' style='color:{_OK}'>✓ Ready to send.</div>"
    fields = ", ".join(dict.fromkeys(p.field for p in problems))
    n = len(problems)
    what = "1 thing" if n == 1 else f"{n} things"
    return (f"<div class='cams-summary' style='color:{_ERROR}'>✗ {what} to fix before sending: "
            f"{_e(fields)}</div>")


# -- results ----------------------------------------------------------------------------------


def result_html(result: object) -> str:
    """A send's outcome: MessageId, Code, RequestId; or the error's class, code and message."""
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
    cells = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{_e(k)}</th>"
                    f"<td style='text-align:left'><code>{_e(v)}</code></td></tr>"
                    for k, v in rows if v is not None)
    return (f"<div class='cams-result' style='border-left:3px solid {colour};padding-left:8px'>"
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
    return (f"<div class='cams-code'><b>Python</b><pre style='font-size:12px;"
            f"background:#f6f8fa;padding:6px'>{_e(code)}</pre></div>")
