"""Which input a field needs: pydantic fields of :class:`~cams_notebook.models.Message` and
of the content models, mapped to plain :class:`WidgetSpec` records.

Pure code: no ipywidgets here. :func:`widget_spec` is the one place where a field's type
decides its input (a ``Literal`` is a choice, ``int``/``float`` a number typed as text so
that "empty" stays possible, ``str`` a line or a text area, anything structured JSON), so
the model stays the source of truth and the composer only turns specs into widgets.

>>> from cams_notebook.content import ViberTextButton
>>> specs = content_specs(ViberTextButton)
>>> [(s.key, s.kind, s.label) for s in specs]  # doctest: +NORMALIZE_WHITESPACE
[('text', 'textarea', 'Text'), ('caption', 'text', 'Caption (button label)'),
 ('action', 'text', 'Action (button URL)')]
"""

from __future__ import annotations

import json
import math
import types
import typing
from dataclasses import dataclass, replace
from typing import Any, Literal, Union

from annotated_types import Ge, Le, MaxLen
from pydantic import BaseModel, RootModel
from pydantic.fields import FieldInfo

from ..content import ContentType, PassThroughContent
from ..models import FIELD_RANGES, VIBER_ONLY_FIELDS, Message
from ..templates import TemplateSummary
from . import labels as L

__all__ = [
    "ADVANCED",
    "VIBER_ONLY",
    "WidgetSpec",
    "content_specs",
    "field_keys",
    "form_value",
    "is_pass_through",
    "language_choices",
    "message_spec",
    "party_placeholders",
    "template_choices",
    "widget_spec",
]

Kind = Literal["text", "textarea", "number", "choice", "json"]

ADVANCED: tuple[str, ...] = (
    "fall_back_content", "fall_back_id", "fall_back_duration", "fall_back_rule",
    "label", "ttl", "tag", "tracking_data", "context_message_id", "task_id", "cust_space_id",
)
"""Message fields under the composer's "Advanced" section, in display order."""

VIBER_ONLY: tuple[str, ...] = VIBER_ONLY_FIELDS
"""Advanced fields shown only for Viber (the model rejects them elsewhere)."""


@dataclass(frozen=True, slots=True)
class WidgetSpec:
    """What input one field needs; the composer turns it into a widget."""

    name: str
    """The model attribute (``fall_back_duration``, ``file_name``)."""
    key: str
    """The wire name (``FallBackDuration``, ``fileName``): problems name fields by it."""
    kind: Kind
    label: str
    required: bool = False
    options: tuple[str, ...] = ()
    """For ``choice``: the values, ``""`` first when the field may be left out."""
    placeholder: str = ""
    limit: int | None = None
    """Maximum length in characters, when the model has one."""


_LONG_TEXT = frozenset({"text", "fall_back_content"})
_ORDER = ("text", "link", "thumbnail", "fileSize", "duration", "fileName", "fileType", "caption",
          "action", "latitude", "longitude", "name", "address", "messageId", "emoji")
_PLACEHOLDERS: dict[str, str] = {
    "text": "Type the message",
    "link": "https://example.com/file.jpg",
    "thumbnail": "https://example.com/thumbnail.jpg",
    "fileSize": "size in bytes",
    "fileName": "invoice.pdf",
    "fileType": "pdf",
    "caption": "optional caption",
    "latitude": "-90 to 90, e.g. 30.27",
    "longitude": "-180 to 180, e.g. 120.15",
    "name": "optional place name",
    "address": "optional address",
    "messageId": "MessageId of the message to react to",
    "emoji": "👍",
    "FallBackContent": "SMS text sent if the chat message is not delivered",
    "FallBackId": "fallback strategy ID, e.g. S_000001",
    "Tag": "optional tag",
    "TrackingData": "e.g. tracking_id:123456",
    "ContextMessageId": "MessageId to reply to",
    "TaskId": "your own task ID, echoed in receipts",
    "CustSpaceId": "ISV sub-customer SpaceId or instance ID",
}
_VIBER_BUTTON = {
    "caption": ("Caption (button label)", "Open"),
    "action": ("Action (button URL)", "https://example.com"),
}
_PARTIES: dict[str, tuple[str, str]] = {
    "whatsapp": ("your WhatsApp business number: country code and digits only",
                 "country code and number, e.g. +1 555 010 0001"),
    "viber": ("your Viber Service ID", "country code and number, e.g. +1 555 010 0001"),
    "messenger": ("your Facebook Page ID", "Page-scoped user ID (PSID)"),
    "instagram": ("your Instagram account ID", "Instagram user ID"),
    "telegram": ("your bot ID", "chat ID"),
    "line": ("your LINE channel ID", "LINE user ID"),
}
_JSON_EXAMPLES: dict[tuple[str, str], Any] = {
    ("whatsapp", "contacts"): [{"name": {"formatted_name": "Ada Lovelace", "first_name": "Ada"},
                                "phones": [{"phone": "+8613900000000", "type": "CELL"}]}],
    ("whatsapp", "interactive"): {"type": "button", "body": {"text": "Coming?"}, "action": {
        "buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Yes"}}]}},
}


def _members(annotation: Any) -> tuple[Any, ...]:
    """The types a field accepts, ``None`` left out: ``int | float | None`` -> ``(int, float)``."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return tuple(a for a in typing.get_args(annotation) if a is not type(None))
    return (annotation,)


def _bounds(name: str, field: FieldInfo) -> tuple[Any, Any]:
    for range_name, low, high in FIELD_RANGES:
        if range_name == name:
            return low, high
    return (next((m.ge for m in field.metadata if isinstance(m, Ge)), None),
            next((m.le for m in field.metadata if isinstance(m, Le)), None))


def _num(value: Any) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _number_placeholder(name: str, field: FieldInfo) -> str:
    low, high = _bounds(name, field)
    unit = " seconds" if name in ("ttl", "fall_back_duration", "duration") else ""
    if low is not None and high is not None:
        return f"{_num(low)} to {_num(high)}{unit}"
    return _PLACEHOLDERS.get(str(field.alias or name), "a number")


def widget_spec(name: str, field: FieldInfo, *, owner: type[BaseModel] | None = None,
                options: tuple[str, ...] | None = None) -> WidgetSpec:
    """The input for one pydantic field: its kind, label, choices, placeholder and limit.

    ``owner`` is the model the field belongs to (its channel and text limit matter);
    ``options`` turns any field into a choice among those values (``MessageType``).
    """
    key = str(field.alias or name)
    members = _members(field.annotation)
    annotation = members[0] if len(members) == 1 else None
    required = field.is_required()
    limit = next((m.max_length for m in field.metadata if isinstance(m, MaxLen)), None)
    if limit is None and name == "text" and owner is not None:
        limit = getattr(owner, "_limit", None)
    label, placeholder = L.label(key), _PLACEHOLDERS.get(key, "")
    if getattr(owner, "channel", "") == "viber" and key in _VIBER_BUTTON:
        label, placeholder = _VIBER_BUTTON[key]
    kind: Kind
    if options is not None or typing.get_origin(annotation) is Literal:
        kind = "choice"
        values = tuple(options if options is not None else typing.get_args(annotation))
        options = values if required else ("", *values)
    elif any(m in (int, float) for m in members):  # numeric text counts as a number too
        kind, placeholder = "number", _number_placeholder(name, field)
    elif annotation is str:
        kind = "textarea" if name in _LONG_TEXT else "text"
    else:
        kind = "json"
    return WidgetSpec(name, key, kind, label, required, tuple(options or ()), placeholder, limit)


def message_spec(name: str, *, options: tuple[str, ...] | None = None) -> WidgetSpec:
    """The spec of one :class:`Message` field."""
    return widget_spec(name, Message.model_fields[name], owner=Message, options=options)


def is_pass_through(model: ContentType) -> bool:
    """True for content edited as one JSON value: pass-through bodies, contacts, interactive."""
    if issubclass(model, RootModel) or model.model_config.get("extra") == "allow":
        return True
    return any(widget_spec(n, f).kind == "json" for n, f in model.model_fields.items())


def _json_placeholder(model: ContentType) -> str:
    channel, message_type = getattr(model, "channel", ""), getattr(model, "message_type", "")
    example = _JSON_EXAMPLES.get((channel, message_type))
    if example is None and issubclass(model, PassThroughContent) and model.required:
        example = {k: "…" for k in model.required}
    if example is None:
        return "a JSON object, e.g. {\"type\": \"…\"}"
    return json.dumps(example, ensure_ascii=False)


def content_specs(model: ContentType) -> tuple[WidgetSpec, ...]:
    """The inputs a content model needs, in reading order; one JSON input for pass-through."""
    if is_pass_through(model):
        spec = message_spec("content")
        return (replace(spec, label="Content (JSON)", required=True,
                        placeholder=_json_placeholder(model)),)
    specs = [widget_spec(n, f, owner=model) for n, f in model.model_fields.items()]
    return tuple(sorted(specs, key=lambda s: _ORDER.index(s.key) if s.key in _ORDER else 99))


def party_placeholders(channel: str) -> tuple[str, str]:
    """Placeholders for ``From`` and ``To`` on a channel: what each means there."""
    return _PARTIES.get(channel, ("sender", "recipient"))


def form_value(spec: WidgetSpec, raw: object) -> Any:
    """A widget's value as the model should receive it; None means "leave the field out".

    Empty inputs are left out (so a required one is reported as missing); single-line text
    is trimmed; numbers become ``int``/``float`` (so Content carries JSON numbers) or stay
    text the model reports; a text area keeps its spaces, so "only spaces" can be reported.
    """
    if raw is None:
        return None
    text = str(raw)
    if not text.strip():
        return text if spec.kind == "textarea" and text else None
    if spec.kind == "textarea":
        return text
    if spec.kind == "number":
        return _number(text.strip())
    return text.strip()


def _number(text: str) -> int | float | str:
    """``"42"`` -> 42, ``"30.27"`` -> 30.27; anything else stays text for the model to reject."""
    for convert in (int, float):
        try:
            value = convert(text)
        except ValueError:
            continue
        if convert is int or math.isfinite(value):
            return value
    return text


# -- the template picker, and where a problem is shown ------------------------------------------

NO_TEMPLATE = ("(choose a template)", "")


def template_choices(summaries: list[TemplateSummary]) -> list[tuple[str, str]]:
    """Picker options ``(label, TemplateCode)``: approved templates first, others with status.

    A template keeps one code in every language, so languages are grouped under one entry.
    """
    groups: dict[str, list[TemplateSummary]] = {}
    for s in summaries:
        groups.setdefault(s.template_code, []).append(s)
    ordered = sorted(groups.values(), key=lambda g: not any(s.approved for s in g))  # stable
    return [NO_TEMPLATE] + [
        (g[0].template_name if any(s.approved for s in g) else
         f"{g[0].template_name} ({', '.join(sorted({str(s.audit_status) for s in g}))})",
         g[0].template_code) for g in ordered]


def language_choices(summaries: list[TemplateSummary], code: str) -> list[tuple[str, str]]:
    """Language options for one template, the status shown for those not approved."""
    return [(s.language if s.approved else f"{s.language} ({s.audit_status})", s.language)
            for s in summaries if s.template_code == code]


_KEY_ALIASES = {"TemplateName": "TemplateCode", "TemplateParams": "TemplateCode",
                "body": "TemplateCode", "header": "TemplateCode"}


def field_keys(field: str) -> list[str]:
    """Where a problem about ``field`` may be shown, most specific first.

    >>> field_keys("Content.name.formatted_name")
    ['Content.name.formatted_name', 'Content.name', 'Content']
    >>> field_keys("body")  # a rendered-template problem goes next to the picker
    ['TemplateCode']
    """
    parts = field.replace("[", ".[").split(".")
    keys = [".".join(parts[:n]).replace(".[", "[") for n in range(len(parts), 0, -1)]
    return list(dict.fromkeys(_KEY_ALIASES.get(k, k) for k in keys))
