"""The sandbox's ``ChatAppAudit`` events, and the board of number and template health they
report (reference ``platform_rules.md`` section 4; the shapes the receipts side reads).

Two forms, as CAMS pushes them (on the ``ChatAppAudit`` queue and the status callback URL):

* V2, with ``Type``: ``phoneQualityUpdate`` (``PhoneNumber``, ``Status``, ``CurrentLimit``,
  ``QualityRating``, ``WabaId``, ``CustSpaceId``, ``EventTime`` in Unix ms) when a number's
  rating changes, and ``templateQualityUpdate`` (``TemplateCode``, ``TemplateName``,
  ``Language``, ``QualityScore``, ``WabaId``, ``CustSpaceId``, ``EventTime``);
* V1 template audit result, without ``Type``: ``TemplateCode``, ``TemplateName``,
  ``Language``, ``AuditStatus`` (pass, fail, auditing, unaudit, paused, disabled), ``Reason``,
  ``CustSpaceId``, ``EventTime``.

A ``phoneQualityUpdate``'s ``Status`` is Meta's event word, chosen from the change:
``FLAGGED`` when the rating becomes RED, ``UNFLAGGED`` when it leaves RED, ``DOWNGRADE`` for
any other fall (GREEN to YELLOW), ``UPGRADE`` for any other rise. A change to the same rating
emits nothing.

What changes the board, and so what QueryChatappPhoneNumbers, GetWhatsappHealthStatus,
GetChatappTemplateDetail and ListChatappTemplate answer:

* ``Sandbox.set_quality(number, rating)``, ``Sandbox.pause_template(code, language)``,
  ``Sandbox.set_template_status(...)`` and ``Sandbox.set_template_quality(...)``;
* automatic drops (:mod:`.meta_limits`, ``quality_drops``): one step down per bad sample;
* the magic sender ``8613800000905``, which goes RED by itself (``FLAGGED``) right after its
  first :data:`GOES_RED_AFTER` accepted WhatsApp messages, so a campaign sees a RED event
  arrive mid-way without any Python call.

A paused, disabled or otherwise unapproved template is refused at the request, as a catalogue
template that is not approved is (``InvalidParameter.TemplateNotApproved``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from . import catalogue
from .number_health import (
    SANDBOX_WABA_ID,
    SenderHealth,
    check_quality,
    sender_health,
    template_detail,
    with_quality,
)
from .outcomes import MAGIC_SENDERS

__all__ = ["AUDIT_STATUSES", "GOES_RED_AFTER", "PHONE_QUALITY_UPDATE", "TEMPLATE_QUALITY_UPDATE",
           "QualityBoard", "phone_event_status"]

AUDIT_STATUSES = ("pass", "fail", "auditing", "unaudit", "paused", "disabled")
"""A template's ``AuditStatus`` values, as ChatAppAudit reports them."""
PHONE_QUALITY_UPDATE = "phoneQualityUpdate"
TEMPLATE_QUALITY_UPDATE = "templateQualityUpdate"
GOES_RED_AFTER = 50
"""Accepted WhatsApp messages after which the magic sender ``8613800000905`` goes RED."""
_RANK = {"GREEN": 0, "UNKNOWN": 0, "YELLOW": 1, "RED": 2}
_LOWER = {"GREEN": "YELLOW", "UNKNOWN": "YELLOW", "YELLOW": "RED"}


def phone_event_status(old: str, new: str) -> str:
    """Meta's event word for a number's rating going from ``old`` to ``new``.

    >>> phone_event_status("YELLOW", "RED"), phone_event_status("GREEN", "YELLOW")
    ('FLAGGED', 'DOWNGRADE')
    """
    if new == "RED":
        return "FLAGGED"
    if old == "RED":
        return "UNFLAGGED"
    return "DOWNGRADE" if _RANK[new] > _RANK[old] else "UPGRADE"


class QualityBoard:
    """Ratings set on numbers, statuses and scores set on templates, and the events each change
    makes. Not thread-safe on its own: the core calls it under its lock.

    ``tier`` reads every sender's tier but a magic one's (the core's, as it stands); ``space``
    is the ``CustSpaceId`` of an event about a number that has not sent yet, and of every
    template event.
    """

    def __init__(self, *, tier: Callable[[], str], space: str) -> None:
        self._default_tier, self.space = tier, space
        self.reset()

    def reset(self) -> None:
        self._ratings: dict[str, str] = {}
        self._templates: dict[tuple[str, str], dict[str, str]] = {}
        self._sent: Counter[str] = Counter()
        self._spaces: dict[str, str] = {}

    # -- numbers --------------------------------------------------------------------------

    def health(self, number: str) -> SenderHealth:
        """The health of sender ``number`` now."""
        number = number.lstrip("+")
        base = sender_health(number)
        rating = self._ratings.get(number)
        return base if rating is None else with_quality(base, rating)

    def tier(self, number: str) -> str:
        """The ``MessagingLimitTier`` of sender ``number``."""
        return self.health(number).tier or self._default_tier()

    def set_quality(self, number: str, rating: str, now: float) -> dict[str, Any] | None:
        """Rate ``number`` ``rating``; the ``phoneQualityUpdate`` it makes, if it changed."""
        number = number.lstrip("+").replace(" ", "")
        if not number.isdigit():
            raise ValueError(f"number must be a sender phone number in digits, not {number!r}")
        check_quality(rating)
        old = self.health(number).quality_rating
        self._ratings[number] = rating
        if old == rating:
            return None
        return {"Type": PHONE_QUALITY_UPDATE, "PhoneNumber": number,
                "Status": phone_event_status(old, rating), "CurrentLimit": self.tier(number),
                "QualityRating": rating, "WabaId": SANDBOX_WABA_ID,
                "CustSpaceId": self._spaces.get(number, self.space), "EventTime": _ms(now)}

    def lower(self, number: str, now: float) -> dict[str, Any] | None:
        """One step down (GREEN to YELLOW to RED); the event, or None when already RED."""
        lower = _LOWER.get(self.health(number).quality_rating)
        return None if lower is None else self.set_quality(number, lower, now)

    def sent(self, sender: str, space: str, now: float) -> dict[str, Any] | None:
        """Count an accepted WhatsApp message from ``sender``; the event of the magic sender
        that goes RED by itself, when this message is its last GREEN one."""
        self._spaces[sender] = space
        if MAGIC_SENDERS.get(sender) != "goes_red":
            return None
        self._sent[sender] += 1
        if self._sent[sender] != GOES_RED_AFTER:
            return None
        return self.set_quality(sender, "RED", now)

    # -- templates ------------------------------------------------------------------------

    def template(self, *, code: str | None = None, name: str | None = None,
                 language: str) -> dict[str, Any] | None:
        """GetChatappTemplateDetail's ``Data`` for one template as it stands now, or None."""
        entry = catalogue.find(code=code, name=name, language=language)
        if entry is None:
            return None
        changed = self._templates.get((entry["TemplateCode"], entry["Language"]))
        if changed:
            entry.update(changed)
            entry["AllowSend"] = (entry["AuditStatus"] == "pass"
                                  and entry.get("QualityScore") != "RED")
        return template_detail(entry)

    def refused(self, code: str, language: str) -> str | None:
        """The ``AuditStatus`` set on a template that makes it unsendable, or None."""
        status = self._templates.get((code, language), {}).get("AuditStatus")
        return status if status not in (None, "pass") else None

    def rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """ListChatappTemplate rows with the statuses set since."""
        for row in rows:
            changed = self._templates.get((row["TemplateCode"], row["Language"]), {})
            row.update({k: v for k, v in changed.items() if k in ("AuditStatus", "Reason")})
        return rows

    def set_template_status(self, code: str, language: str, status: str, reason: str,
                            now: float) -> dict[str, Any] | None:
        """Give a template ``status``; the V1 audit event it makes, if it changed."""
        if status not in AUDIT_STATUSES:
            raise ValueError(f"status must be one of {', '.join(AUDIT_STATUSES)}, "
                             f"not {status!r}")
        entry = self._find(code, language)
        if entry["AuditStatus"] == status:
            return None
        self._change(entry, AuditStatus=status, Reason=reason)
        return {"TemplateCode": entry["TemplateCode"], "TemplateName": entry["Name"],
                "Language": entry["Language"], "AuditStatus": status, "Reason": reason,
                "CustSpaceId": self.space, "EventTime": _ms(now)}

    def set_template_quality(self, code: str, language: str, score: str,
                             now: float) -> dict[str, Any] | None:
        """Give a template the quality ``score``; the ``templateQualityUpdate``, if changed."""
        check_quality(score)
        entry = self._find(code, language)
        if entry["QualityScore"] == score:
            return None
        self._change(entry, QualityScore=score)
        return {"Type": TEMPLATE_QUALITY_UPDATE, "TemplateCode": entry["TemplateCode"],
                "TemplateName": entry["Name"], "Language": entry["Language"],
                "QualityScore": score, "WabaId": SANDBOX_WABA_ID, "CustSpaceId": self.space,
                "EventTime": _ms(now)}

    def _find(self, code: str, language: str) -> dict[str, Any]:
        entry = self.template(code=code, language=language)
        if entry is None:
            raise ValueError(f"no template with TemplateCode {code!r} and Language "
                             f"{language!r} in the sandbox catalogue")
        return entry

    def _change(self, entry: dict[str, Any], **fields: str) -> None:
        self._templates.setdefault((entry["TemplateCode"], entry["Language"]), {}).update(fields)


def _ms(now: float) -> int:
    return int(now * 1000)
