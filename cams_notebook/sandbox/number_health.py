"""The health of sender numbers and templates in the sandbox, in CAMS's official shapes.

Three operations a health gate asks before a campaign (reference ``platform_rules.md``
sections 3 and 4; field names from the official SDK models):

* ``QueryChatappPhoneNumbers``: per sender number, ``MessagingLimitTier``, ``QualityRating``,
  ``Status`` and the receipt queues (``QueryChatappPhoneNumbersResponseBodyPhoneNumbers``);
* ``GetWhatsappHealthStatus``: ``Data.CanSendMessage`` and ``Data.Entities[]`` with their
  ``Errors[]`` for a ``waba``, ``phone`` or ``template`` node
  (``GetWhatsappHealthStatusResponseBodyData``);
* ``GetChatappTemplateDetail``'s quality fields (``QualityScore``, ``AllowSend``, ``Reason``):
  :func:`template_detail` fills the ones a catalogue entry leaves out.

Every number is healthy (``CONNECTED``, ``GREEN``, 80 messages/s) at the sandbox's tier
(``Sandbox(tier=...)``, default :data:`DEFAULT_TIER`), except the magic sender numbers of
:data:`~.outcomes.MAGIC_SENDERS`. The sandbox knows one WABA (:data:`SANDBOX_WABA_ID`) under
one business (:data:`SANDBOX_BUSINESS_ID`). ``ErrorCode`` values are Meta's where Meta has
one (131031, account locked); the others are the sandbox's own ``Sandbox.*`` words, so no
one mistakes them for codes Meta publishes. Nothing here changes how sends are answered.

What a number or template is *now* comes from the core's board (:mod:`.audit_events`): a
rating set by ``Sandbox.set_quality``, a drop the sandbox decided, a paused template. Without
any of those, the answers are the ones above.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from ._wire import WireResponse
from .outcomes import MAGIC_SENDERS

__all__ = ["CAN_SEND", "DEFAULT_TIER", "NODE_TYPES", "QUALITY_RATINGS", "SANDBOX_BUSINESS_ID",
           "SANDBOX_WABA_ID", "SENDER_PROFILES", "TIERS", "SenderHealth", "check_quality",
           "check_tier", "health_status", "phone_numbers", "sender_health", "template_detail",
           "with_quality"]

TIERS = ("TIER_250", "TIER_2K", "TIER_10K", "TIER_100K", "TIER_UNLIMITED")
"""Messaging limit tiers, lowest first, spelled as CAMS reports them."""
DEFAULT_TIER = "TIER_UNLIMITED"
"""The sandbox's tier unless told otherwise: no daily limit, so today's campaigns stay valid."""
QUALITY_RATINGS = ("GREEN", "YELLOW", "RED", "UNKNOWN")
CAN_SEND = ("AVAILABLE", "LIMITED", "BLOCKED")
"""``CanSendMessage`` values, best first; an answer's overall value is its worst entity's."""
NODE_TYPES = ("waba", "phone", "template")
SANDBOX_WABA_ID = "310000000000001"
SANDBOX_BUSINESS_ID = "410000000000001"

_Error = tuple[str, str, str]  # ErrorCode, ErrorDescription, PossibleSolution


@dataclass(frozen=True, slots=True)
class SenderHealth:
    """What the platform says about one sender number."""

    status: str
    quality_rating: str
    can_send: str
    throughput: int
    """Messages per second Meta allows this number (80 by default, 20 for coexistence)."""
    tier: str | None = None
    """A tier of its own; None takes the sandbox's."""
    errors: tuple[_Error, ...] = ()


SENDER_PROFILES: dict[str, SenderHealth] = {
    "healthy": SenderHealth("CONNECTED", "GREEN", "AVAILABLE", 80),
    "red": SenderHealth("FLAGGED", "RED", "LIMITED", 80, errors=((
        "Sandbox.QualityRed", "The phone number's quality rating is RED (low): recipients "
        "block or report its messages.",
        "Stop sending marketing from this number and review the content; if the rating stays "
        "low for 7 days, its messaging limit goes down."),)),
    "blocked": SenderHealth("BANNED", "RED", "BLOCKED", 80, errors=((
        "131031", "Business Account locked: the account behind this number violated WhatsApp "
        "policy.", "Appeal in WhatsApp Manager; no message can be sent until it is lifted."),)),
    "yellow_250": SenderHealth("CONNECTED", "YELLOW", "AVAILABLE", 80, tier="TIER_250"),
    "coexistence": SenderHealth("CONNECTED", "GREEN", "AVAILABLE", 20),
    "goes_red": SenderHealth("CONNECTED", "GREEN", "AVAILABLE", 80),
}
"""Profile name (the values of :data:`~.outcomes.MAGIC_SENDERS`) -> health."""


def check_tier(tier: str) -> str:
    """``tier`` if it is one of :data:`TIERS`; else ValueError naming the field and the rule."""
    if tier not in TIERS:
        raise ValueError(f"tier must be one of {', '.join(TIERS)}, not {tier!r}")
    return tier


def sender_health(number: str) -> SenderHealth:
    """The health of sender ``number``: its magic profile, or healthy."""
    return SENDER_PROFILES[MAGIC_SENDERS.get(number.lstrip("+"), "healthy")]


def check_quality(rating: str) -> str:
    """``rating`` if it is one of :data:`QUALITY_RATINGS`; else ValueError naming the rule."""
    if rating not in QUALITY_RATINGS:
        raise ValueError(f"quality must be one of {', '.join(QUALITY_RATINGS)}, not {rating!r}")
    return rating


def with_quality(base: SenderHealth, rating: str) -> SenderHealth:
    """``base`` rated ``rating`` instead: RED is Meta's flag (``FLAGGED``, ``LIMITED``, the
    quality error); any other rating clears a flag. A blocked number stays blocked."""
    if base.can_send == "BLOCKED":
        return replace(base, quality_rating=rating)
    if rating == "RED":
        red = SENDER_PROFILES["red"]
        return replace(base, status=red.status, quality_rating="RED", can_send=red.can_send,
                       errors=red.errors)
    return replace(base, status="CONNECTED", quality_rating=rating, can_send="AVAILABLE",
                   errors=())


def template_detail(entry: dict[str, Any]) -> dict[str, Any]:
    """A catalogue entry with the quality fields CAMS always answers filled in.

    ``AllowSend`` (meaningful for marketing templates) is true for an approved template that
    is not RED; ``QualityScore`` defaults to ``UNKNOWN`` (too few sends to rate) and
    ``Reason`` to empty. A value set in the catalogue wins.
    """
    quality = entry.setdefault("QualityScore", "UNKNOWN")
    entry.setdefault("AllowSend", entry.get("AuditStatus") == "pass" and quality != "RED")
    entry.setdefault("Reason", "")
    return entry


class _Board(Protocol):
    def health(self, number: str) -> SenderHealth: ...
    def template(self, *, code: str | None = None, name: str | None = None,
                 language: str) -> dict[str, Any] | None: ...


class _Core(Protocol):
    """What the handlers need of :class:`~.core.SandboxCore`."""

    tier: str
    _senders: set[str]
    @property
    def board(self) -> _Board: ...

    @property
    def mns(self) -> Any: ...
    def _error(self, status: int, code: str, message: str, request_id: str,
               headers: Mapping[str, str] | None = None) -> WireResponse: ...
    def _reject(self, code: str, message: str, request_id: str,
                gateway: bool = False) -> WireResponse: ...
    def _latency(self) -> float: ...


def _ok(request_id: str, delay: float, **fields: Any) -> WireResponse:
    body = {"RequestId": request_id, "Code": "OK", "Message": "OK", "Success": True, **fields}
    return WireResponse(200, {"content-type": "application/json;charset=utf-8"},
                        json.dumps(body, ensure_ascii=False, separators=(",", ":"))
                        .encode("utf-8"), delay)


def phone_numbers(core: _Core, key_id: str, params: dict[str, str], now: float,
                  request_id: str) -> WireResponse:
    """QueryChatappPhoneNumbers: the sender numbers seen, with health, tier and queues.

    ``Status`` filters the rows, as the request's field of that name does.
    """
    rows = []
    for number in sorted(core._senders):
        health = core.board.health(number)
        rows.append({
            "PhoneNumber": number, "Status": health.status,
            "QualityRating": health.quality_rating,
            "MessagingLimitTier": health.tier or core.tier, "VerifiedName": "Sandbox",
            "NameStatus": "APPROVED", "CodeVerificationStatus": "VERIFIED", "IsOfficial": "N",
            "StatusQueue": core.mns.queue_name("ChatAppStatus"),
            "UpQueue": core.mns.queue_name("ChatAppInbound"), "StatusCallbackUrl": "",
            "UpCallbackUrl": ""})
    wanted = params.get("Status")
    if wanted:
        rows = [r for r in rows if r["Status"] == wanted.upper()]
    return _ok(request_id, 0.0, PhoneNumbers=rows)  # no simulated latency, as before


def _entity(entity_type: str, can_send: str, errors: tuple[_Error, ...] = (),
            **ids: str) -> dict[str, Any]:
    return {"EntityType": entity_type, "CanSendMessage": can_send, **ids,
            "Errors": [{"ErrorCode": c, "ErrorDescription": d, "PossibleSolution": s}
                       for c, d, s in errors]}


def _template_entity(core: _Core, params: dict[str, str]) -> dict[str, Any] | tuple[str, str]:
    code, language = params.get("TemplateCode"), params.get("Language")
    if not code or not language:
        return ("MissingTemplateCode" if not code else "MissingLanguage",
                "TemplateCode and Language are mandatory when NodeType is template.")
    entry = core.board.template(code=code, language=language)
    if entry is None:
        return ("DetailError.TemplateNotExist", "The template does not exist.")
    detail = template_detail(entry)
    if detail["AuditStatus"] != "pass":
        return _entity("MESSAGE_TEMPLATE", "BLOCKED", ((
            "Sandbox.TemplateNotApproved",
            f"The template's AuditStatus is {detail['AuditStatus']}, not pass.",
            "Send an approved template, or wait for the review."),),
            TemplateCode=code, Language=detail["Language"], WabaId=SANDBOX_WABA_ID)
    if detail["QualityScore"] == "RED":
        return _entity("MESSAGE_TEMPLATE", "LIMITED", ((
            "Sandbox.TemplateQualityRed", "The template's quality score is RED.",
            "Edit the template or pause the campaign; Meta may pause it."),),
            TemplateCode=code, Language=detail["Language"], WabaId=SANDBOX_WABA_ID)
    return _entity("MESSAGE_TEMPLATE", "AVAILABLE", TemplateCode=code,
                   Language=detail["Language"], WabaId=SANDBOX_WABA_ID)


def health_status(core: _Core, key_id: str, params: dict[str, str], now: float,
                  request_id: str) -> WireResponse:
    """GetWhatsappHealthStatus for one node, with its WABA and business above it.

    ``NodeType`` and ``CustSpaceId`` are required (the SDK's request marks both); ``phone``
    needs ``PhoneNumber``, ``template`` needs ``TemplateCode`` and ``Language``. Any number
    well formed is one of the account's (the sandbox sends from any ``From``).
    """
    for name in ("NodeType", "CustSpaceId"):
        if not params.get(name):
            return core._error(400, f"Missing{name}", f"{name} is mandatory for this action.",
                               request_id)
    node = params["NodeType"]
    if node not in NODE_TYPES:
        return core._reject("InvalidParameter.NodeType",
                            f"NodeType: must be one of {', '.join(NODE_TYPES)}, not {node!r}",
                            request_id)
    waba = params.get("WabaId") or SANDBOX_WABA_ID
    if waba != SANDBOX_WABA_ID:
        return core._reject("InvalidParameter.WabaId",
                            f"WabaId: {waba!r} is not a WABA of this space", request_id)
    entities = [_entity("WABA", "AVAILABLE", WabaId=waba, BusinessId=SANDBOX_BUSINESS_ID),
                _entity("BUSINESS", "AVAILABLE", BusinessId=SANDBOX_BUSINESS_ID)]
    first: dict[str, Any] | tuple[str, str]
    if node == "phone":
        number = params.get("PhoneNumber", "").lstrip("+")
        if not number.isdigit():
            return core._reject("InvalidParameter.PhoneNumber",
                                "PhoneNumber: the sender number, digits with country code, "
                                "is mandatory when NodeType is phone", request_id)
        health = core.board.health(number)
        first = _entity("PHONE_NUMBER", health.can_send, health.errors, PhoneNumber=number,
                        WabaId=waba)
    elif node == "template":
        first = _template_entity(core, params)
    else:
        first = entities.pop(0)  # the WABA itself leads
    if isinstance(first, tuple):
        return core._reject(first[0], first[1], request_id, gateway=first[0].startswith("Miss"))
    entities.insert(0, first)
    overall = max((e["CanSendMessage"] for e in entities), key=CAN_SEND.index)
    return _ok(request_id, core._latency(),
               Data={"CanSendMessage": overall, "Entities": entities})
