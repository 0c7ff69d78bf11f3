"""The composer's preview column as HTML: chat bubbles, the fallback SMS, the wire parameters.

Pure functions from values to HTML strings, no widgets and no I/O, so every look can be
tested as text (problems, results and receipts are :mod:`.status_html`). Every value that
came from a user, a template or the service goes through :func:`html.escape`; links are only
made clickable for http(s) URLs. Nothing here loads a remote resource (media appear as cards
with their link, not as ``<img>``), so a preview is
the same on every run and never calls out.

>>> "cams-whatsapp" in content_bubble("whatsapp", "text", {"text": "Hi <b>"})
True
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..templates import RenderedButton, RenderedHeader, RenderedTemplate
from .labels import channel_name
from .sms import sms_info, ucs2_characters

__all__ = [
    "content_bubble",
    "count_html",
    "page_html",
    "sms_html",
    "template_bubble",
    "wire_html",
]

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
    name = channel_name(channel)
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
    """The exact wire parameters, as JSON in a ``<pre>``; they never include credentials.

    The block keeps to the column's width: long values wrap at the end of a word where they
    can (``overflow-wrap:anywhere`` only breaks a word that cannot fit otherwise), and a tall
    request scrolls inside the block instead of stretching the page.
    """
    if query is None:
        return ("<div class='cams-wire' style='color:#667781;font-size:12px'>"
                "Wire parameters appear once the message is valid.</div>")
    text = json.dumps(dict(query), ensure_ascii=False, indent=2)
    return (f"<div class='cams-wire' style='max-width:100%;min-width:0'><b>Wire parameters</b>"
            f"<pre class='cams-wire-json' style='font-size:12px;line-height:1.4;margin:4px 0;"
            f"padding:6px 8px;background:#f6f8fa;border:1px solid #e1e4e8;border-radius:6px;"
            f"white-space:pre-wrap;overflow-wrap:anywhere;word-break:normal;max-width:100%;"
            f"box-sizing:border-box;max-height:320px;overflow:auto'>{_e(text)}</pre></div>")


def page_html(bubble: str, sms: str, wire: str) -> str:
    """The whole preview column."""
    return f"<div class='cams-page'>{bubble}{sms}{wire}</div>"
