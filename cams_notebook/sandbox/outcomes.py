"""What happens to a request and to an accepted message in the sandbox: magic numbers,
fault profiles and the delivery receipts that follow.

Magic recipient numbers (``To``) select an outcome deterministically; every other number
follows the seeded default mix (90 % read, 6 % delivered but not read, 3 % failed with
131026, 1 % no receipt).

================  ======================================================================
``To``            outcome
================  ======================================================================
``15550100001``   accepted; Sent, Delivered, Read
``15550100002``   accepted; Sent, Delivered, never Read
``15550100003``   accepted; Sent, then Failed 131026 (receiver incapable of receiving)
``15550100004``   accepted; Failed 131049 (Meta chose not to deliver: engagement limit)
``15550100005``   accepted; Failed 131047 (re-engagement: the 24-hour window is closed)
``15550100006``   accepted; no receipt ever arrives
``15550100007``   never accepted: always ``System.LimitControl`` (throttled)
``15550100008``   never accepted: always HTTP 503 ``ServiceUnavailable``
``15550100009``   accepted, but the answer comes after 30 s (the client's outcome is unknown)
``15550100010``   accepted; Failed 131050 (the user stopped marketing messages from us)
================  ======================================================================

Magic sender numbers (``From``) carry a health of their own (:mod:`.number_health`), as
``QueryChatappPhoneNumbers`` and ``GetWhatsappHealthStatus`` report it; sends from them are
answered like any other. Every other sender is ``CONNECTED``, ``GREEN``, 80 messages/s, at the
sandbox's tier (``Sandbox(tier=...)``, ``--tier``; default ``TIER_UNLIMITED``).

=================  =====================================================================
``From``           health
=================  =====================================================================
``8613800000901``  ``FLAGGED``, quality ``RED``; CanSendMessage ``LIMITED``
``8613800000902``  ``BANNED`` (account locked, 131031); CanSendMessage ``BLOCKED``
``8613800000903``  ``CONNECTED``, quality ``YELLOW``, tier ``TIER_250`` whatever the default
``8613800000904``  ``CONNECTED``, ``GREEN``, coexistence: 20 messages/s instead of 80
``8613800000905``  ``CONNECTED``, ``GREEN`` for its first 50 WhatsApp messages, then ``RED``
                   by itself (``FLAGGED``, a ``phoneQualityUpdate`` ChatAppAudit event)
=================  =====================================================================

Meta's limits after acceptance (all off by default; ``profile="realistic"``, ``--profile
realistic`` switches them on; :mod:`.meta_limits` has the rules): per-sender throughput
(``sender_mps``, ``--sender-mps``; Failed 130429), pair rate (``pair_rate``, ``pair_burst``;
Failed 131056), the unique-user allowance of the sender's tier (``enforce_tiers``; Failed
131048, the sandbox's choice of code), and automatic quality drops (``quality_drops``). Each
refusal is a ``Failed`` ChatAppStatus receipt with its ``ErrorCode`` and nothing after it.
ChatAppAudit events (:mod:`.audit_events`) go to their own queue and to the status callback.

The 24-hour rule: a free-form (``Type=message``) WhatsApp message to a number that sent no
inbound message in the last 24 hours is accepted (the service hands it to Meta) and then
fails with receipt 131047, which is how WhatsApp reports it.

Fault profiles (``--faults``), drawn per request from the seeded generator:

=========  ==============================================================================
profile    per-request chances
=========  ==============================================================================
none       no faults
realistic  0.5 % 5xx, 0.2 % reset before accepting, 0.2 % reset after accepting,
           0.1 % timeout after accepting, 0.5 % throttle burst, 1 % slow (1-3 s)
harsh      3 % 5xx, 2 % reset before, 2 % reset after, 1 % timeout after, 3 % throttle
           burst, 3 % slow (1-3 s)
=========  ==============================================================================

"After accepting" means the message is recorded (it counts as sent, its receipts follow)
but the client never reads the answer: the case the batch engine must mark ``unknown``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

__all__ = ["FAILURES", "FAULT_PROFILES", "MAGIC_NUMBERS", "MAGIC_SENDERS", "Fate", "Fault",
           "draw_fault", "failed", "fate_for"]

Fault = Literal["server_error", "reset_before", "reset_after", "timeout_after", "throttle", "slow"]

FAULT_PROFILES: dict[str, dict[Fault, float]] = {
    "none": {},
    "realistic": {"server_error": 0.005, "reset_before": 0.002, "reset_after": 0.002,
                  "timeout_after": 0.001, "throttle": 0.005, "slow": 0.01},
    "harsh": {"server_error": 0.03, "reset_before": 0.02, "reset_after": 0.02,
              "timeout_after": 0.01, "throttle": 0.03, "slow": 0.03},
}

FAILURES = {
    "131026": "131026:Receiver is incapable of receiving this message(Message Undeliverable.)",
    "131049": "131049:This message was not delivered to maintain healthy ecosystem engagement.",
    "131047": "131047:Re-engagement message. More than 24 hours have passed since the recipient "
              "last replied to the sender number.",
    "131050": "131050:Unable to deliver the message. This recipient has chosen to stop receiving "
              "marketing messages on WhatsApp from your business.",
    "130429": "130429:Rate limit hit. Cloud API message throughput has been reached.",
    "131056": "131056:(Business Account, Consumer Account) pair rate limit hit. Too many messages "
              "sent from the sender phone number to the same recipient phone number in a short "
              "period of time.",
    "131048": "131048:Spam rate limit hit. The business reached its messaging limit: unique users "
              "in 24 hours of its tier (the sandbox's code for the tier limit).",
}
"""ErrorCode -> the ErrorDescription of its Failed receipt."""


@dataclass(frozen=True, slots=True)
class Fate:
    """The receipts an accepted message will produce."""

    statuses: tuple[str, ...]
    error_code: str | None = None

    @property
    def error_description(self) -> str | None:
        return FAILURES.get(self.error_code) if self.error_code else None


READ = Fate(("Sent", "Delivered", "Read"))
DELIVERED = Fate(("Sent", "Delivered"))
SILENT = Fate(())


def failed(code: str, sent_first: bool = True) -> Fate:
    return Fate(("Sent", "Failed") if sent_first else ("Failed",), code)


MAGIC_NUMBERS: dict[str, str] = {
    "15550100001": "read",
    "15550100002": "delivered",
    "15550100003": "failed_131026",
    "15550100004": "failed_131049",
    "15550100005": "failed_131047",
    "15550100006": "no_receipt",
    "15550100007": "throttled",
    "15550100008": "server_error",
    "15550100009": "slow",
    "15550100010": "failed_131050",
}
"""Recipient number -> outcome name (see the module docstring)."""

MAGIC_SENDERS: dict[str, str] = {
    "8613800000901": "red",
    "8613800000902": "blocked",
    "8613800000903": "yellow_250",
    "8613800000904": "coexistence",
    "8613800000905": "goes_red",
}
"""Sender number -> health profile name (``number_health.SENDER_PROFILES``)."""

_MAGIC_FATES = {
    "read": READ,
    "delivered": DELIVERED,
    "failed_131026": failed("131026"),
    "failed_131049": failed("131049", sent_first=False),
    "failed_131047": failed("131047", sent_first=False),
    "failed_131050": failed("131050", sent_first=False),
    "no_receipt": SILENT,
    "slow": READ,
}


def fate_for(to: str, rng: random.Random) -> Fate:
    """The receipts for a message to ``to``: fixed for magic numbers, drawn for the rest."""
    magic = MAGIC_NUMBERS.get(to)
    if magic in _MAGIC_FATES:
        return _MAGIC_FATES[magic]
    roll = rng.random()
    if roll < 0.90:
        return READ
    if roll < 0.96:
        return DELIVERED
    if roll < 0.99:
        return failed("131026")
    return SILENT


def draw_fault(profile: dict[Fault, float], rng: random.Random) -> Fault | None:
    """One draw from a fault profile: which fault hits this request, if any."""
    if not profile:
        return None
    roll = rng.random()
    for fault, chance in profile.items():
        if roll < chance:
            return fault
        roll -= chance
    return None
