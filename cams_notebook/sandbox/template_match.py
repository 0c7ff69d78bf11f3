"""Which catalogue template a template message names, and whether it may be sent with its
params: the template rules of the sandbox's SendChatappMessage, answered with the service's
codes.

Apart from :mod:`.core` because it is a question about the catalogue, not about the request
path: the core asks it once per template message.
"""

from __future__ import annotations

from typing import Any

from ..models import Message
from ..templates import Template
from . import catalogue

__all__ = ["template_for"]


def template_for(
    message: Message, parsed_cache: dict[tuple[str, str], Template]
) -> tuple[dict[str, Any] | None, tuple[str, str] | None]:
    """The catalogue entry of the template ``message`` names, or the service's
    ``(code, message)`` for why it cannot be sent: no such template on this channel, no version
    in its language, not approved, or params that do not fit. ``parsed_cache`` keeps each
    template parsed once (the core's, also read to render a listed message's text)."""
    language = message.language or ""
    matches = [t for t in catalogue.CATALOGUE
               if (message.template_code and t["TemplateCode"] == message.template_code)
               or (not message.template_code and t["Name"] == message.template_name)]
    channel = "VIBER" if message.channel_type == "viber" else "WHATSAPP"
    matches = [t for t in matches if t.get("TemplateType", "WHATSAPP") == channel]
    if not matches:
        return None, ("InvalidParameter.TemplateNotExist",
                      "TemplateCode: no such template on this channel")
    entry = next((t for t in matches if t["Language"] == language), None)
    if entry is None:
        have = ", ".join(sorted(t["Language"] for t in matches))
        return None, ("InvalidParameter.LanguageNotSupport",
                      f"Language: the template has no {language!r} version (it has {have})")
    if str(entry.get("AuditStatus", "")).lower() != "pass":
        return None, ("InvalidParameter.TemplateNotApproved",
                      "TemplateCode: the template is not approved "
                      f"(status {entry['AuditStatus']})")
    key = (entry["TemplateCode"], entry["Language"])
    parsed = parsed_cache.get(key)
    if parsed is None:
        parsed = parsed_cache[key] = Template.model_validate(entry)
    problems = parsed.check_params(message.template_params)
    if problems:
        first = problems[0]
        return None, (first.code, f"{first.field}: {first.message}")
    return entry, None
