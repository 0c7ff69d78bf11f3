"""ChatAppAudit events: what CAMS reports about a business's numbers, templates and account
while a campaign runs, and which of those reports must stop it.

CAMS sends them on the ``ChatAppAudit`` queue (``Alicom-Queue-<uid>-ChatAppAudit``) or to the
receipts' HTTP callback, in two forms (``platform_rules.md`` section 4):

* V1, a template review result: ``TemplateCode``, ``TemplateName``, ``Language``,
  ``AuditStatus`` (``pass``, ``fail``, ``auditing``, ``unaudit``, ``paused``, ``disabled``;
  the docs also spell one ``Audit``), ``Reason``, ``WabaId``, ``CustSpaceId``, ``EventTime``;
* V2, with ``Type`` naming what changed (:data:`V2_TYPES`); a ``phoneQualityUpdate`` carries
  Meta's event in ``Status`` (``FLAGGED``, ``UNFLAGGED``, ``DOWNGRADE``, ``UPGRADE``), the new
  ``CurrentLimit`` and, when known, the ``QualityRating``; a ``templateQualityUpdate`` carries
  the template's ``QualityScore``.

What counts as bad news (:attr:`AuditEvent.bad_news`, a campaign stops on it): a number
``FLAGGED`` or rated ``RED``; a template ``paused`` or ``disabled`` (either form) or scored
``RED``; and, the toolkit's own addition, a business account that Meta disabled
(``DISABLED_UPDATE``, ``DISABLE``, ``DISABLED``, ``BANNED``, ``ACCOUNT_DELETED`` in ``Status``
or ``AuditStatus``), since no message goes out from it. Everything a sender should know but
that does not stop sending is a :attr:`AuditEvent.warning` (a ``YELLOW`` rating, a lower
messaging limit, a template back in review or rejected, an account restriction...).

>>> event = AuditEvent.model_validate({"Type": "phoneQualityUpdate", "PhoneNumber": "8613800000000",
...     "Status": "DOWNGRADE", "CurrentLimit": "TIER_250", "QualityRating": "RED",
...     "EventTime": 1691043638000})
>>> event.kind, event.at.isoformat()
('phone', '2023-08-03T06:20:38+00:00')
>>> event.bad_news
'sender 8613800000000: quality rating fell to RED (messaging limit now TIER_250)'
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["ACCOUNT_STOPPING", "STOPPING_AUDIT_STATUSES", "V2_TYPES", "AuditEvent", "is_audit"]

V2_TYPES = frozenset({"phoneQualityUpdate", "templateQualityUpdate", "templateCategoryUpdate",
                      "wabaReviewUpdate", "wabaAccountUpdate", "phoneNameUpdate"})
"""The ``Type`` values of V2 ChatAppAudit events."""
_V2_NAMES = {t.lower(): t for t in V2_TYPES}
_KINDS = {"phoneQualityUpdate": "phone", "phoneNameUpdate": "phone",
          "templateQualityUpdate": "template", "templateCategoryUpdate": "template",
          "wabaReviewUpdate": "waba", "wabaAccountUpdate": "waba"}
STOPPING_AUDIT_STATUSES = frozenset({"paused", "disabled"})
"""A template's ``AuditStatus`` values that stop a campaign using it."""
ACCOUNT_STOPPING = frozenset({"DISABLED_UPDATE", "DISABLE", "DISABLED", "BANNED",
                              "ACCOUNT_DELETED"})
"""A business account's ``Status``/``AuditStatus`` values that stop every campaign of it."""
_ACCOUNT_WARNING = frozenset({"ACCOUNT_RESTRICTION", "ACCOUNT_VIOLATION", "SCHEDULE_FOR_DISABLE",
                              "REJECTED", "FAIL"})
_IN_REVIEW = frozenset({"auditing", "audit", "unaudit"})
_TEXT_FIELDS = ("phone_number", "template_code", "template_name", "language", "reason",
                "waba_id", "cust_space_id")


def is_audit(item: Mapping[str, Any]) -> bool:
    """Whether a decoded event is a ChatAppAudit one: a V2 ``Type``, or a template review
    result (``AuditStatus`` with ``TemplateCode`` and no ``MessageId``).

    A ChatAppStatus receipt also has a ``Type`` (``image``, ``TEMPLATE``...), never a V2 one.
    """
    kind = item.get("Type")
    if isinstance(kind, str) and kind.strip().lower() in _V2_NAMES:
        return True
    return "AuditStatus" in item and "TemplateCode" in item and "MessageId" not in item


class AuditEvent(BaseModel):
    """One ``ChatAppAudit`` event, V1 or V2. Unknown fields are kept (``model_extra``).

    Rating, score and Meta's event names are upper-cased, ``AuditStatus`` lower-cased and
    ``Type`` spelled as documented, so comparisons do not depend on how CAMS capitalised them;
    the store keeps the event exactly as it arrived.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    type: str | None = Field(None, alias="Type")
    """The V2 ``Type`` (one of :data:`V2_TYPES`); None for a V1 template review result."""
    phone_number: str | None = Field(None, alias="PhoneNumber")
    status: str | None = Field(None, alias="Status")
    """Meta's event: for a number ``FLAGGED``, ``UNFLAGGED``, ``DOWNGRADE``, ``UPGRADE``; for
    an account, e.g. ``DISABLED_UPDATE`` or ``ACCOUNT_RESTRICTION``."""
    current_limit: str | None = Field(None, alias="CurrentLimit")
    quality_rating: str | None = Field(None, alias="QualityRating")
    template_code: str | None = Field(None, alias="TemplateCode")
    template_name: str | None = Field(None, alias="TemplateName")
    language: str | None = Field(None, alias="Language")
    quality_score: str | None = Field(None, alias="QualityScore")
    audit_status: str | None = Field(None, alias="AuditStatus")
    reason: str | None = Field(None, alias="Reason")
    waba_id: str | None = Field(None, alias="WabaId")
    cust_space_id: str | None = Field(None, alias="CustSpaceId")
    event_time: int | None = Field(None, alias="EventTime")
    """Unix milliseconds."""

    @field_validator(*_TEXT_FIELDS, mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        # Numbers, codes and ids are digits, which a JSON producer may write as a number.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("type", mode="before")
    @classmethod
    def _type(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return _V2_NAMES.get(value.strip().lower(), value.strip() or None)

    @field_validator("status", "current_limit", "quality_rating", "quality_score", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("audit_status", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _either_form(self) -> AuditEvent:
        if self.type is None and not (self.template_code and self.audit_status):
            raise ValueError("a ChatAppAudit event needs Type (V2) or TemplateCode and "
                             "AuditStatus (V1)")
        return self

    # -- what it is about -----------------------------------------------------------------

    @property
    def form(self) -> str:
        """``"v2"`` (has ``Type``) or ``"v1"`` (a template review result)."""
        return "v1" if self.type is None else "v2"

    @property
    def kind(self) -> str:
        """``"phone"``, ``"template"`` or ``"waba"``: what the event is about."""
        if self.type in _KINDS:
            return _KINDS[self.type]
        # V1, or a Type this toolkit does not know: what it names says what it is about.
        return ("template" if self.template_code else "phone" if self.phone_number
                else "waba")

    @property
    def at(self) -> datetime | None:
        """``EventTime`` as an aware UTC datetime."""
        return (None if self.event_time is None
                else datetime.fromtimestamp(self.event_time / 1000, timezone.utc))

    @property
    def subject(self) -> str:
        """The number, template or account, in words (``template welcome (en)``)."""
        if self.kind == "phone":
            return f"sender {self.phone_number}" if self.phone_number else "a sender number"
        if self.kind == "template":
            name = self.template_name or self.template_code or "?"
            return f"template {name} ({self.language})" if self.language else f"template {name}"
        return f"business account {self.waba_id}" if self.waba_id else "the business account"

    def concerns(self, *, phone_number: str | None = None, template_code: str | None = None,
                 language: str | None = None) -> bool:
        """Whether the event is about this sender number or template (and language).

        Numbers compare by their digits, languages without case (``en-US`` is ``en_us``). A
        field the event leaves out does not narrow it: an account-wide event, or a number
        event that names no number, concerns every sender, and a number event every template
        sent from it. A template event concerns only a caller that names its template.
        """
        if self.kind == "phone":
            return (phone_number is None or self.phone_number is None
                    or _digits(phone_number) == _digits(self.phone_number))
        if self.kind == "template":
            if template_code is None:
                return False
            if self.template_code is not None and self.template_code != template_code:
                return False
            return language is None or self.language is None or _lang(language) == _lang(
                self.language)
        return True

    # -- what it means --------------------------------------------------------------------

    @property
    def bad_news(self) -> str | None:
        """Why this event must stop a campaign, in plain words; None when it need not."""
        why = f": {self.reason}" if self.reason else ""
        if self.kind == "phone" and self.type == "phoneQualityUpdate":
            limit = f" (messaging limit now {self.current_limit})" if self.current_limit else ""
            if self.quality_rating == "RED":
                return f"{self.subject}: quality rating fell to RED{limit}"
            if self.status == "FLAGGED":
                return (f"{self.subject} was FLAGGED for low quality{limit}; Meta restricts it "
                        "if it keeps getting negative feedback")
        if self.kind == "template":
            if self.audit_status in STOPPING_AUDIT_STATUSES:
                return f"{self.subject} was {self.audit_status}{why}"
            if self.type == "templateQualityUpdate" and self.quality_score == "RED":
                return f"{self.subject}: quality score fell to RED{why}"
        if self.kind == "waba" and self._account_state() in ACCOUNT_STOPPING:
            return f"{self.subject} was disabled by Meta ({self._account_state()}){why}"
        return None

    @property
    def warning(self) -> str | None:
        """What a sender should know but need not stop for (None when nothing, or when the
        event is :attr:`bad_news`)."""
        if self.bad_news is not None:
            return None
        why = f": {self.reason}" if self.reason else ""
        if self.type == "phoneQualityUpdate":
            # Meta's DOWNGRADE lowers the messaging limit; a rating may come with it: both said
            known = [f"{label} {value}" for label, value in (
                ("quality rating", self.quality_rating), ("messaging limit", self.current_limit))
                if value]
            details = f" ({', '.join(known)})" if known else ""
            if self.status == "DOWNGRADE":
                return f"{self.subject} was downgraded by Meta{details}"
            if self.quality_rating == "YELLOW":
                limit = f" (messaging limit {self.current_limit})" if self.current_limit else ""
                return f"{self.subject}: quality rating is YELLOW{limit}"
        if self.type == "phoneNameUpdate" and self._account_state() in _ACCOUNT_WARNING:
            return f"{self.subject}: display name not approved{why}"
        if self.kind == "template":
            if self.quality_score == "YELLOW":
                return f"{self.subject}: quality score is YELLOW"
            if self.type == "templateCategoryUpdate":
                return f"{self.subject}: category changed{why}"
            if self.audit_status == "fail":
                return f"{self.subject} was rejected{why}"
            if self.audit_status in _IN_REVIEW:
                return f"{self.subject} is in review again: CAMS sends only approved templates"
        if self.kind == "waba" and self._account_state() in _ACCOUNT_WARNING:
            return f"{self.subject}: {self._account_state()}{why}"
        return None

    def _account_state(self) -> str | None:
        state = self.status or self.audit_status
        return state.upper() if state else None

    # -- storing it -----------------------------------------------------------------------

    def dedupe_key(self) -> str:
        """The same change reported twice has the same key (every field that names it)."""
        parts = (self.type or "v1", self.phone_number, self.template_code, self.language,
                 self.status, self.audit_status, self.quality_rating, self.quality_score,
                 self.current_limit, self.waba_id, self.cust_space_id, self.event_time)
        return "audit|" + "|".join("" if p is None else str(p) for p in parts)

    def wire(self) -> dict[str, Any]:
        """The event with its wire names (unknown fields included, spellings canonical)."""
        return self.model_dump(by_alias=True, exclude_none=True)


def _digits(number: str) -> str:
    return "".join(c for c in number if c.isdigit())


def _lang(language: str) -> str:
    return language.strip().replace("-", "_").lower()
