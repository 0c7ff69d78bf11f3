"""The health gate: whether a campaign's WhatsApp senders and templates may send at all, decided
once per campaign before the first request (issue #13; reference ``platform_rules.md`` §3-§4).

This module is the decision, with no I/O: :func:`assess` reads the service's answers
(:class:`HealthAnswers`, gathered by :mod:`.health_check`) and returns a :class:`HealthReport`.

* **Refusals** (the campaign must not start): a sender the account does not list
  (``QueryChatappPhoneNumbers``), a sender whose ``Status`` is not ``CONNECTED`` or whose
  ``QualityRating`` is ``RED``, a sender or template ``GetWhatsappHealthStatus`` calls
  ``BLOCKED``, a template that does not exist, is not approved (``AuditStatus`` other than
  ``pass``), has ``AllowSend`` false or ``QualityScore`` ``RED``. A RED number or template is
  refused (the issue lists it with "not CONNECTED") because it is the same news that stops a
  running campaign (contract: "bad news"): starting one into it would be stopped at once.
* **Warnings** (the dry run and the panel say them; sending goes on): ``CanSendMessage``
  ``LIMITED``, a ``YELLOW`` number or template, and every check that could not be made.
* **A check that could not be made is a warning, never a refusal nor a crash**: an answer that
  cannot be read, an operation this AccessKey may not call (RAM), a transport failure. The gate
  exists to stop a campaign the platform would refuse; guessing that from a missing answer
  would stop good campaigns on a permission the sending itself does not need.

:class:`HealthGateError` is a ``ValueError``, like :class:`~.dry_run.InvalidFrameError`: it is
raised before anything is sent because of what the campaign asks for (its senders and
templates), and it must not look like a :class:`~cams_notebook.errors.CamsError`, which the
engine turns into a row's failure or a retry. Turning the gate off is the caller's choice
(``health_check=False``); nothing here has a switch.

>>> report = assess(HealthAnswers(cust_space_id="space", phone_numbers={"PhoneNumbers": [
...     {"PhoneNumber": "8613800000903", "Status": "CONNECTED", "QualityRating": "YELLOW",
...      "MessagingLimitTier": "TIER_250"}]}), senders=["8613800000903"])
>>> report.refusals, report.tiers()
([], {'8613800000903': 'TIER_250'})
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import AuthError, CamsError
from ..templates import Template

__all__ = ["HEALTH_COLUMNS", "Answer", "HealthAnswers", "HealthGateError", "HealthReport",
           "NodeError", "SenderHealth", "TemplateHealth", "assess", "number_of",
           "phone_listing"]

Answer = Mapping[str, Any] | CamsError
"""A decoded answer, or the error that came instead of one."""
HEALTH_COLUMNS = ["node", "id", "status", "quality", "tier", "can_send", "audit_status",
                  "allow_send", "verdict", "why"]

_STATUS_ADVICE = {
    "BANNED": "WhatsApp banned it: appeal in WhatsApp Manager, or send from another number",
    "FLAGGED": "its quality is low and its messaging limit is about to go down: review the "
               "content, wait for the rating to recover (7 days), or send from another number",
    "DISCONNECTED": "reconnect it in the CAMS console (Chat App, WhatsApp numbers)",
    "RESTRICTED": "it may not start conversations now: check WhatsApp Manager and wait until "
                  "the restriction ends, or send from another number",
    "RATE_LIMITED": "it is over its rate: wait and run again, or send from another number",
}
_AUDIT_ADVICE = {
    "auditing": "wait for Meta's review, or send an approved template",
    "unaudit": "submit it for review, or send an approved template",
    "fail": "Meta rejected it: edit and resubmit it, or send an approved template",
    "paused": "Meta paused it for low quality: edit it, or wait until it resumes",
    "disabled": "Meta disabled it: create a new template",
}


def number_of(value: str) -> str:
    """A phone number as the gate compares them: digits only, no ``+``, spaces or dashes."""
    return value.strip().lstrip("+").replace(" ", "").replace("-", "")


@dataclass(frozen=True)
class NodeError:
    """One ``Data.Entities[].Errors[]`` entry of ``GetWhatsappHealthStatus``."""

    code: str
    description: str
    solution: str

    def __str__(self) -> str:
        text = f"{self.code}: {self.description}".strip(": ")
        return f"{text} (what to do: {self.solution})" if self.solution else text


@dataclass(frozen=True)
class SenderHealth:
    """What the service says about one WhatsApp sender number (None: not known)."""

    number: str
    listed: bool | None = None
    """Whether ``QueryChatappPhoneNumbers`` lists it; None when that could not be asked."""
    status: str | None = None
    quality: str | None = None
    tier: str | None = None
    """``MessagingLimitTier`` (``TIER_250`` ... ``TIER_UNLIMITED``)."""
    can_send: str | None = None
    """``GetWhatsappHealthStatus`` ``Data.CanSendMessage``: AVAILABLE, LIMITED, BLOCKED."""
    errors: tuple[NodeError, ...] = ()


@dataclass(frozen=True)
class TemplateHealth:
    """What the service says about one template in one language (None: not known)."""

    code: str
    """The code (or name) the campaign gives."""
    language: str
    found: bool | None = None
    audit_status: str | None = None
    quality: str | None = None
    allow_send: bool | None = None
    reason: str | None = None
    can_send: str | None = None
    errors: tuple[NodeError, ...] = ()


@dataclass
class HealthAnswers:
    """The service's answers the gate decides on; each an answer, an error, or absent (not
    asked). Keys: sender numbers (:func:`number_of`), templates ``(code or name, language)``."""

    cust_space_id: str | None = None
    phone_numbers: Answer | None = None
    """``QueryChatappPhoneNumbers``."""
    phones: dict[str, Answer] = field(default_factory=dict)
    """``GetWhatsappHealthStatus`` with ``NodeType=phone``, per sender."""
    details: dict[tuple[str, str], Template | CamsError | None] = field(default_factory=dict)
    """``GetChatappTemplateDetail`` per template (None: no such template)."""
    template_status: dict[tuple[str, str], Answer] = field(default_factory=dict)
    """``GetWhatsappHealthStatus`` with ``NodeType=template``, per template."""


@dataclass
class HealthReport:
    """The gate's verdict on a campaign's senders and templates.

    ``refusals`` and ``warnings`` are sentences, each naming its sender or template, saying why
    and what to do. :meth:`raise_for_refusals` stops a campaign that has refusals;
    :meth:`to_frame` shows every sender and template with its verdict; :meth:`tiers` feeds the
    unique-user allowance (:mod:`.allowance`).
    """

    senders: dict[str, SenderHealth] = field(default_factory=dict)
    templates: dict[tuple[str, str], TemplateHealth] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    _verdicts: dict[tuple[str, str], tuple[str, list[str]]] = field(default_factory=dict,
                                                                    repr=False)

    @property
    def ok(self) -> bool:
        """True when nothing is refused (warnings may remain)."""
        return not self.refusals

    def __repr__(self) -> str:
        return (f"HealthReport(senders={len(self.senders)}, templates={len(self.templates)}, "
                f"refusals={len(self.refusals)}, warnings={len(self.warnings)})")

    def tiers(self) -> dict[str, str | None]:
        """Each sender's ``MessagingLimitTier`` (None: not known)."""
        return {number: health.tier for number, health in self.senders.items()}

    def raise_for_refusals(self) -> None:
        """Raise :class:`HealthGateError` listing every refusal; return when there is none."""
        if self.refusals:
            raise HealthGateError(self)

    def to_frame(self) -> pd.DataFrame:
        """One row per sender and template (:data:`HEALTH_COLUMNS`): what the service said,
        the verdict (``refused``, ``warning``, ``ok``) and why (its sentences, joined). Warnings
        about the account as a whole (a listing that cannot be read, no CustSpaceId) are in
        :attr:`warnings` only."""
        rows: list[dict[str, Any]] = []
        for number, s in self.senders.items():
            verdict, why = self._verdicts.get(("sender", number), ("ok", []))
            rows.append({"node": "sender", "id": number, "status": s.status, "quality": s.quality,
                         "tier": s.tier, "can_send": s.can_send, "audit_status": None,
                         "allow_send": None, "verdict": verdict, "why": " ".join(why)})
        for (code, language), t in self.templates.items():
            verdict, why = self._verdicts.get(("template", f"{code} ({language})"), ("ok", []))
            rows.append({"node": "template", "id": f"{code} ({language})", "status": None,
                         "quality": t.quality, "tier": None, "can_send": t.can_send,
                         "audit_status": t.audit_status, "allow_send": t.allow_send,
                         "verdict": verdict, "why": " ".join(why)})
        return pd.DataFrame(rows, columns=HEALTH_COLUMNS)

    def refused(self, node: str, ident: str) -> bool:
        """Whether the ``node`` (``sender`` or ``template``) ``ident`` (a number, or
        ``"code (language)"``) is refused."""
        return self._verdicts.get((node, ident), ("ok", []))[0] == "refused"

    def _add(self, node: str, ident: str, refused: bool, text: str) -> None:
        (self.refusals if refused else self.warnings).append(text)
        verdict, why = self._verdicts.get((node, ident), ("ok", []))
        verdict = "refused" if refused or verdict == "refused" else "warning"
        self._verdicts[(node, ident)] = (verdict, [*why, text])


class HealthGateError(ValueError):
    """The health gate refused the campaign before anything was sent; ``.refusals`` lists why
    and ``.report`` is the whole :class:`HealthReport`."""

    def __init__(self, report: HealthReport) -> None:
        self.report = report
        self.refusals = list(report.refusals)
        lines = "\n".join(f"  - {r}" for r in self.refusals)
        super().__init__(f"the platform would refuse this campaign, so nothing was sent "
                         f"({len(self.refusals)} problem(s)):\n{lines}\nFix them and run again "
                         "(or turn the health check off if you know better).")


# -- reading the answers ---------------------------------------------------------------------

def _failure(operation: str, error: CamsError) -> str:
    if isinstance(error, AuthError):
        return (f"this AccessKey may not call {operation} ({error}); grant it in RAM to have "
                "this checked")
    return f"{operation} failed ({type(error).__name__}: {error})"


def phone_listing(answer: Answer) -> dict[str, Mapping[str, Any]] | str:
    """QueryChatappPhoneNumbers as ``{number: row}``, or why it cannot be read."""
    if isinstance(answer, CamsError):
        return _failure("QueryChatappPhoneNumbers", answer)
    rows = answer.get("PhoneNumbers")
    if not isinstance(rows, list) or not all(
            isinstance(r, Mapping) and isinstance(r.get("PhoneNumber"), str) for r in rows):
        return "QueryChatappPhoneNumbers answered without a readable PhoneNumbers list"
    return {number_of(r["PhoneNumber"]): r for r in rows}


def _health(operation: str, answer: Answer) -> tuple[str, tuple[NodeError, ...]] | str:
    """GetWhatsappHealthStatus's ``CanSendMessage`` and errors, or why it cannot be read."""
    if isinstance(answer, CamsError):
        return _failure(operation, answer)
    data = answer.get("Data")
    can_send = data.get("CanSendMessage") if isinstance(data, Mapping) else None
    if not isinstance(can_send, str):
        return f"{operation} answered without a readable Data.CanSendMessage"
    assert isinstance(data, Mapping)  # can_send came from it
    entities = data.get("Entities")
    errors = [NodeError(str(e.get("ErrorCode") or ""), str(e.get("ErrorDescription") or ""),
                        str(e.get("PossibleSolution") or ""))
              for entity in (entities if isinstance(entities, list) else [])
              if isinstance(entity, Mapping) and isinstance(entity.get("Errors"), list)
              for e in entity["Errors"] if isinstance(e, Mapping)]
    return can_send.upper(), tuple(errors)


def _said(errors: tuple[NodeError, ...]) -> str:
    return f": {'; '.join(str(e) for e in errors)}" if errors else ""


# -- the decision ----------------------------------------------------------------------------

def assess(answers: HealthAnswers, *, senders: Iterable[str],
           templates: Iterable[tuple[str, str]] = ()) -> HealthReport:
    """The gate's verdict on ``senders`` (WhatsApp numbers) and ``templates`` (``(code or
    name, language)``) from the service's ``answers``; no I/O."""
    report = HealthReport()
    numbers = list(dict.fromkeys(number_of(n) for n in senders))
    refs = list(dict.fromkeys(templates))
    listing = phone_listing(answers.phone_numbers) if answers.phone_numbers is not None else None
    if isinstance(listing, str):
        report._add("account", "", False, f"The senders' status, quality and tier could not be "
                    f"checked: {listing}. The gate did not check them.")
    if answers.cust_space_id is None and (numbers or refs):
        report._add("account", "", False, "No CustSpaceId was given, so GetWhatsappHealthStatus "
                    "(which needs one) was not asked about any sender or template: pass the "
                    "campaign's cust_space_id to have their health checked.")
    for number in numbers:
        _assess_sender(report, number, listing, answers.phones.get(number))
    for ref in refs:
        _assess_template(report, ref, answers.details.get(ref), answers.template_status.get(ref))
    return report


def _assess_sender(report: HealthReport, number: str,
                   listing: dict[str, Mapping[str, Any]] | str | None,
                   health_answer: Answer | None) -> None:
    row = listing.get(number) if isinstance(listing, dict) else None
    health = _health("GetWhatsappHealthStatus", health_answer) \
        if health_answer is not None else None
    can_send, errors = health if isinstance(health, tuple) else (None, ())
    sender = SenderHealth(
        number, listed=None if not isinstance(listing, dict) else row is not None,
        status=_text(row, "Status"), quality=_text(row, "QualityRating"),
        tier=_text(row, "MessagingLimitTier"), can_send=can_send, errors=errors)
    report.senders[number] = sender
    say = f"Sender {number}"
    if sender.listed is False:
        report._add("sender", number, True, f"{say} is not a phone number of this account "
                    "(QueryChatappPhoneNumbers does not list it): check the From number, or "
                    "register the number in the CAMS console before sending from it.")
        return
    if sender.status is not None and sender.status != "CONNECTED":
        advice = _STATUS_ADVICE.get(sender.status, "check it in the CAMS console or WhatsApp "
                                    "Manager, or send from another number")
        report._add("sender", number, True, f"{say} has Status {sender.status}, not CONNECTED "
                    f"(QualityRating {sender.quality}): {advice}.")
    elif sender.quality == "RED":
        report._add("sender", number, True, f"{say} has QualityRating RED: recipients block or "
                    "report its messages, and sending more lowers its messaging limit. Review "
                    "the content and wait for the rating to recover, or send from another number.")
    elif sender.quality == "YELLOW":
        report._add("sender", number, False, f"{say} has QualityRating YELLOW (medium): watch "
                    "blocks and reports; if it falls to RED the campaign stops.")
    if isinstance(health, str):
        report._add("sender", number, False, f"{say}: its health could not be checked: {health}.")
    elif report.refused("sender", number):
        return  # already refused, with the reason the health answer repeats
    elif can_send == "BLOCKED":
        report._add("sender", number, True, f"{say} cannot send: GetWhatsappHealthStatus says "
                    f"CanSendMessage BLOCKED{_said(errors)}.")
    elif can_send == "LIMITED":
        report._add("sender", number, False, f"{say} is LIMITED by GetWhatsappHealthStatus"
                    f"{_said(errors)}; some messages may be refused.")


def _text(row: Mapping[str, Any] | None, name: str) -> str | None:
    value = row.get(name) if row is not None else None
    return value.upper() if isinstance(value, str) and value else None


def _assess_template(report: HealthReport, ref: tuple[str, str],
                     detail: Template | CamsError | None, health_answer: Answer | None) -> None:
    code, language = ref
    ident, say = f"{code} ({language})", f"Template {code} ({language})"
    if isinstance(detail, CamsError):
        report.templates[ref] = TemplateHealth(code, language)
        report._add("template", ident, False, f"{say}: its approval could not be checked: "
                    f"{_failure('GetChatappTemplateDetail', detail)}.")
        return
    if detail is None:
        report.templates[ref] = TemplateHealth(code, language, found=False)
        report._add("template", ident, True, f"{say} does not exist in this account: check "
                    "TemplateCode (or name) and Language.")
        return
    health = _health("GetWhatsappHealthStatus", health_answer) \
        if health_answer is not None else None
    can_send, errors = health if isinstance(health, tuple) else (None, ())
    quality = detail.quality_score.upper() if detail.quality_score else None
    report.templates[ref] = TemplateHealth(
        code, language, found=True, audit_status=detail.audit_status, quality=quality,
        allow_send=detail.allow_send, reason=detail.reason, can_send=can_send, errors=errors)
    reason = f" ({detail.reason})" if detail.reason else ""
    if detail.audit_status != "pass":
        advice = _AUDIT_ADVICE.get(str(detail.audit_status), "send an approved template")
        report._add("template", ident, True, f"{say} is not approved (AuditStatus "
                    f"{detail.audit_status}){reason}: {advice}.")
    elif detail.allow_send is False:
        report._add("template", ident, True, f"{say} has AllowSend false{reason}: CAMS will not "
                    "send it; check its category and quality in the CAMS console.")
    if quality == "RED":
        report._add("template", ident, True, f"{say} has QualityScore RED: Meta may pause it at "
                    "any moment; edit it or send another template.")
    elif quality == "YELLOW":
        report._add("template", ident, False, f"{say} has QualityScore YELLOW (medium): if it "
                    "falls to RED or is paused, the campaign stops.")
    if isinstance(health, str):
        report._add("template", ident, False, f"{say}: its health could not be checked: "
                    f"{health}.")
    elif report.refused("template", ident):
        return  # already refused, with the reason the health answer repeats
    elif can_send == "BLOCKED":
        report._add("template", ident, True, f"{say} cannot be sent: GetWhatsappHealthStatus "
                    f"says CanSendMessage BLOCKED{_said(errors)}.")
    elif can_send == "LIMITED":
        report._add("template", ident, False, f"{say} is LIMITED by GetWhatsappHealthStatus"
                    f"{_said(errors)}; some messages may be refused.")
