"""Names a person reads in the composer and the campaign panel, one for each thing, everywhere.

Each input is labelled in plain words ("Channel", "Template", "Space ID"); its wire name
(``ChannelType``, ``TemplateCode``, ``CustSpaceId``) is the tooltip, for whoever reads the API
reference next to the form. A channel has one display name ("WhatsApp") in pickers, previews
and counts alike. The channels offered are the four the README names; the request model
also knows Telegram and LINE, which stay reachable from code (``Message(channel_type="line")``)
but are not offered in the forms. What a channel can send (a template, a free-form message)
comes from the content and template registries, so a form offers only that.

>>> label("CustSpaceId"), tooltip("CustSpaceId")
('Space ID', 'CustSpaceId (the request parameter)')
>>> kinds("messenger")
[('free-form message', 'message')]
"""

from __future__ import annotations

from ..content import MESSAGE_TYPES
from ..templates import TEMPLATE_TYPES

__all__ = ["CHANNEL_NAMES", "OFFERED_CHANNELS", "channel_choices", "channel_name", "kinds",
           "label", "option_label", "tooltip"]

CHANNEL_NAMES: dict[str, str] = {"whatsapp": "WhatsApp", "viber": "Viber",
                                 "messenger": "Messenger", "instagram": "Instagram",
                                 "telegram": "Telegram", "line": "LINE"}
"""The one display name of each channel value."""

OFFERED_CHANNELS: tuple[str, ...] = ("whatsapp", "viber", "messenger", "instagram")
"""The channels the forms offer (the README's four)."""

_LABELS: dict[str, str] = {
    "ChannelType": "Channel",
    "Type": "Send as",
    "From": "From",
    "To": "To",
    "MessageType": "Message type",
    "Content": "Content (JSON)",
    "TemplateCode": "Template",
    "Language": "Language",
    "TemplateParams": "Template variables (JSON)",
    "FallBackContent": "Fallback SMS text",
    "FallBackId": "Fallback strategy",
    "FallBackDuration": "Fallback after",
    "FallBackRule": "Fallback rule",
    "Label": "Label",
    "Ttl": "Time to live",
    "Tag": "Tag",
    "TrackingData": "Tracking data",
    "ContextMessageId": "Reply to message",
    "TaskId": "Task ID",
    "CustSpaceId": "Space ID",
    # content fields (camelCase on the wire)
    "text": "Text",
    "link": "Link",
    "thumbnail": "Thumbnail",
    "fileSize": "File size",
    "duration": "Duration",
    "fileName": "File name",
    "fileType": "File type",
    "caption": "Caption",
    "action": "Action",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "name": "Place name",
    "address": "Address",
    "messageId": "Message ID",
    "emoji": "Emoji",
}
_KINDS = {"template": "template", "message": "free-form message"}


def label(wire: str) -> str:
    """The plain label of a field known by its wire name; the wire name when there is none."""
    return _LABELS.get(wire, wire)


def tooltip(wire: str) -> str:
    """The hint on a label: the wire name the field is sent as."""
    return f"{wire} (the request parameter)"


def channel_name(channel: str | None) -> str:
    """``"whatsapp"`` -> ``"WhatsApp"``; an unknown value as it is."""
    return CHANNEL_NAMES.get(channel or "", channel or "")


def channel_choices() -> list[tuple[str, str]]:
    """Dropdown options ``(display name, value)`` of the offered channels."""
    return [(CHANNEL_NAMES[c], c) for c in OFFERED_CHANNELS]


def kinds(channel: str | None) -> list[tuple[str, str]]:
    """What a channel can send, as dropdown options: a template where CAMS keeps templates
    for it, a free-form message where it has message types."""
    found = []
    if channel in TEMPLATE_TYPES:
        found.append("template")
    if MESSAGE_TYPES.get(channel or ""):
        found.append("message")
    return [(_KINDS[k], k) for k in found]


def option_label(wire: str, value: str) -> str:
    """How one choice of a field reads: channels by name, ``message`` as "free-form message",
    an empty choice as "(not set)"."""
    if not value:
        return "(not set)"
    if wire == "ChannelType":
        return channel_name(value)
    if wire == "Type":
        return _KINDS.get(value, value)
    return value
