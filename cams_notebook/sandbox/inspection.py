"""The sandbox's own routes under ``/_sandbox/``: look inside it, reset it, and play the parts
of the world outside CAMS (a user writes in, Meta rates a number or pauses a template).

=========================================  ================================================
route                                      what
=========================================  ================================================
``GET /_sandbox/messages``                 every accepted message
``GET /_sandbox/receipts``                 every ChatAppStatus receipt produced and due,
                                           refusals (130429, 131056, 131048...) included
``GET /_sandbox/receipts?MessageType=``    ``ChatAppAudit``: every audit event produced, a
``ChatAppAudit``                           separate list (``ChatAppStatus``: the default)
``GET /_sandbox/stats``                    counters, faults and refusals by kind
``POST /_sandbox/reset``                   forget everything
``POST /_sandbox/inbound``                 ``{"From", "Message"}``: a user writes in
``POST /_sandbox/quality``                 ``{"PhoneNumber", "QualityRating"}``: rate a number
``POST /_sandbox/template``                ``{"TemplateCode", "Language", "AuditStatus"``
                                           ``[, "Reason"]}`` or ``"QualityScore"``
=========================================  ================================================

A body that breaks a rule is a 400 naming the field (``Field``) and the rule.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from ._wire import WireRequest, WireResponse, json_response
from .inbound_check import inbound_refusal

__all__ = ["inspect"]

_MESSAGE_TYPES = ("ChatAppStatus", "ChatAppAudit")


class _Core(Protocol):
    def messages(self) -> list[dict[str, Any]]: ...
    def receipts(self, now: float | None = None) -> list[dict[str, Any]]: ...
    def audit_events(self, now: float | None = None) -> list[dict[str, Any]]: ...
    def stats_view(self) -> dict[str, Any]: ...
    def reset(self) -> None: ...
    def record_inbound(self, number: str, *, at: float | None = None, text: str = "hi",
                       to: str | None = None) -> dict[str, Any]: ...
    def set_quality(self, number: str, rating: str) -> dict[str, Any] | None: ...
    def set_template_status(self, code: str, language: str, status: str,
                            reason: str = "") -> dict[str, Any] | None: ...
    def set_template_quality(self, code: str, language: str,
                             score: str) -> dict[str, Any] | None: ...


def _refusal(field: str, rule: str, message: str) -> WireResponse:
    return json_response(400, {"Code": "InvalidParameter", "Field": field, "Rule": rule,
                               "Message": message})


def _body(req: WireRequest, *required: str) -> dict[str, Any] | WireResponse:
    try:
        data = json.loads(req.body or b"{}")
    except (ValueError, RecursionError):
        return _refusal("body", "json", "body must be a JSON object")
    if not isinstance(data, dict):
        return _refusal("body", "object", "body must be a JSON object")
    for name in required:
        if not isinstance(data.get(name), str) or not data[name]:
            return _refusal(name, "required", f"{name} is required, as a string")
    return data


def _change(req: WireRequest, core: _Core) -> WireResponse:
    """``POST /_sandbox/quality`` or ``/_sandbox/template``: the event made, or null."""
    quality = req.path.rstrip("/") == "/_sandbox/quality"
    data = _body(req, *(("PhoneNumber", "QualityRating") if quality
                        else ("TemplateCode", "Language")))
    if isinstance(data, WireResponse):
        return data
    field = "QualityRating" if quality else next(
        (f for f in ("QualityScore", "AuditStatus") if isinstance(data.get(f), str)), None)
    if field is None:
        return _refusal("AuditStatus", "required", "give AuditStatus or QualityScore, as a string")
    try:
        if quality:
            event = core.set_quality(data["PhoneNumber"], data[field])
        elif field == "QualityScore":
            event = core.set_template_quality(data["TemplateCode"], data["Language"], data[field])
        else:
            event = core.set_template_status(data["TemplateCode"], data["Language"], data[field],
                                             str(data.get("Reason") or ""))
    except ValueError as exc:
        why = str(exc)
        named = ("PhoneNumber" if why.startswith("number") else
                 "TemplateCode" if why.startswith("no template") else field)
        return _refusal(named, "value", why)
    return json_response(200, {"Event": event})


def inspect(core: _Core, req: WireRequest) -> WireResponse:
    """Answer one ``/_sandbox/...`` request."""
    route = (req.method, req.path.rstrip("/"))
    if route == ("GET", "/_sandbox/messages"):
        return json_response(200, core.messages())
    if route == ("GET", "/_sandbox/receipts"):
        kind = dict(req.query).get("MessageType", "ChatAppStatus")
        if kind not in _MESSAGE_TYPES:
            return _refusal("MessageType", "value",
                            f"MessageType must be one of {', '.join(_MESSAGE_TYPES)}, "
                            f"not {kind!r}")
        return json_response(200, core.receipts() if kind == "ChatAppStatus"
                             else core.audit_events())
    if route == ("GET", "/_sandbox/stats"):
        return json_response(200, core.stats_view())
    if route == ("POST", "/_sandbox/reset"):
        core.reset()
        return json_response(200, {"reset": True})
    if route == ("POST", "/_sandbox/inbound"):  # the same rules in-process as served
        refused = inbound_refusal(req)
        if refused is not None:
            return refused
        data = json.loads(req.body or b"{}")
        return json_response(200, core.record_inbound(str(data["From"]),
                                                      text=data.get("Message", "hi")))
    if route in (("POST", "/_sandbox/quality"), ("POST", "/_sandbox/template")):
        return _change(req, core)
    return json_response(404, {"Code": "NotFound", "Message": f"no sandbox route {route}"})
