"""The unique-user allowance: which rows a sender may send now under its messaging tier, and
when the others may go (reference ``platform_rules.md`` §3; issue #13). Pure arithmetic, with
``now`` given.

The rule, per sender number:

* a tier allows so many unique recipients of business-initiated (template) messages in any
  moving 24 hours (:data:`TIER_LIMITS`: 250, 2,000, 10,000, 100,000, or no limit);
* free-form rows never count (they need an open customer-service window, which Meta leaves out);
  a recipient the sender already reached in the last 24 hours costs nothing more, nor does one
  with an open window;
* each other distinct recipient costs one unit. Rows beyond the allowance are deferred, with the
  time the moving window frees room for them: a unit used at time ``t`` is free again at
  ``t + 24 h``; a row sent now uses its unit until ``now + 24 h``, and the j-th deferred
  recipient takes the j-th unit to come free (so 600 new recipients at ``TIER_250`` from an empty
  journal go 250 now, 250 at ``now + 24 h`` and 100 at ``now + 48 h``). A recipient already
  reached and messaged again now holds its unit until ``now + 24 h``, not until its old time.
* several rows to one recipient share its decision.

**Per sender, not per business portfolio.** Since October 2025 Meta counts the limit per
business portfolio (all its numbers together; reference §3), but CAMS reports the tier per
number and the issue asks per sender, so the allowance is kept per sender. Several numbers of
one portfolio can therefore together reach more people than the portfolio's limit; give them a
tier that leaves room (``tiers=``) if that matters.

A tier the toolkit does not know (or no tier at all, when the health check did not run) sets
no limit and says so in :attr:`AllowancePlan.warnings`: refusing to send on a word the toolkit
does not know would stop good campaigns, and the receipts still show a refusal (131048 in the
sandbox) if the platform makes one.

The recipients reached come from the journal (:meth:`~.journal.Journal.reached_since`, every
campaign in it) and, where available, the service's own record (:mod:`.allowance_listing`).

Hand-written rather than a rate-limiter library's: the window here is counted in distinct
recipients over a day, with the past read from the journal, and the answer is a time per row,
not a wait; token buckets (aiolimiter, limits) count requests and know no recipients.

>>> plan = plan_allowance([AllowanceRow(f"k{i}", "861", f"8613900{i:06d}", True)
...                        for i in range(3)], tiers={"861": "TIER_250"}, reached={},
...                       now=0.0)
>>> plan.decisions["k2"] is None, int(plan.frame.loc[0, "left"])
(True, 250)
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import pandas as pd

from .journal_reach import iso_utc, utc_datetime
from .plan import RowPlan

__all__ = ["ALLOWANCE_COLUMNS", "TIER_LIMITS", "WINDOW", "AllowancePlan", "AllowanceRow",
           "allowance_rows", "merge_reach", "plan_allowance", "tier_limit"]

TIER_LIMITS: dict[str, int | None] = {"TIER_250": 250, "TIER_2K": 2_000, "TIER_10K": 10_000,
                                      "TIER_100K": 100_000, "TIER_UNLIMITED": None}
"""Unique recipients per moving 24 hours, by ``MessagingLimitTier`` (None: no limit)."""
WINDOW = timedelta(hours=24)
"""The moving window the tiers count in."""
ALLOWANCE_COLUMNS = ["sender", "tier", "limit", "used", "left", "rows_now", "rows_deferred",
                     "deferred_until", "note"]

OpenWindow = Collection[str] | Callable[[str], "bool | None"] | None


class AllowanceRow(NamedTuple):
    """One row to send, as the allowance sees it."""

    key: str
    sender: str
    recipient: str
    is_template: bool
    """A business-initiated (template) message; free-form rows never count."""


@dataclass
class AllowancePlan:
    """The allowance's answer: a decision per row and the plan per sender."""

    decisions: dict[str, str | None]
    """Row key -> ``eligible_at`` (ISO-8601 UTC) for a deferred row, None for a row sent now."""
    frame: pd.DataFrame
    """Per sender: ``sender, tier, limit`` (None: no limit), ``used`` (recipients reached in
    the last 24 h), ``left`` (units free now, before these rows), ``rows_now``,
    ``rows_deferred``, ``deferred_until`` (the latest ``eligible_at``), ``note``."""
    warnings: list[str] = field(default_factory=list)

    @property
    def deferred(self) -> dict[str, str]:
        """Row key -> ``eligible_at`` of every deferred row."""
        return {key: at for key, at in self.decisions.items() if at is not None}


def tier_limit(tier: str | None) -> tuple[int | None, bool]:
    """``(limit, known)`` for a ``MessagingLimitTier``: no limit (None) for
    ``TIER_UNLIMITED``, and for a tier not known (``known`` False)."""
    if tier is None or tier.upper() not in TIER_LIMITS:
        return None, False
    return TIER_LIMITS[tier.upper()], True


def allowance_rows(plans: Iterable[RowPlan]) -> list[AllowanceRow]:
    """The valid WhatsApp rows of ``plans`` as :class:`AllowanceRow` (other channels have no
    tiers)."""
    rows = []
    for plan in plans:
        message = plan.message
        if plan.valid and message is not None and message.channel_type == "whatsapp" \
                and message.from_:
            rows.append(AllowanceRow(plan.key, message.from_, message.to,
                                     message.type == "template"))
    return rows


def merge_reach(*reaches: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """Several ``{sender: {recipient: time}}`` records as one, keeping each pair's latest
    time (the journal's and the service's own, say)."""
    merged: dict[str, dict[str, str]] = {}
    for reach in reaches:
        for sender, recipients in reach.items():
            mine = merged.setdefault(sender, {})
            for recipient, when in recipients.items():
                when = iso_utc(when, f"reached[{sender!r}][{recipient!r}]")
                if when > mine.get(recipient, ""):
                    mine[recipient] = when
    return merged


def _opener(open_window: OpenWindow) -> Callable[[str], bool]:
    if open_window is None:
        return lambda number: False
    if callable(open_window):
        check = open_window
        return lambda number: check(number) is True
    numbers = set(open_window)
    return numbers.__contains__


def _checked(rows: Iterable[AllowanceRow | tuple[str, str, str, bool]]) -> list[AllowanceRow]:
    out = []
    for given in rows:
        try:
            row = AllowanceRow(*given)
        except TypeError:
            raise ValueError(f"row {given!r}: expected (key, sender, recipient, is_template)"
                             ) from None
        for name in ("key", "sender", "recipient"):
            if not isinstance(getattr(row, name), str) or not getattr(row, name):
                raise ValueError(f"row {row.key!r}: {name} must be non-empty text, not "
                                 f"{getattr(row, name)!r}")
        out.append(row)
    return out


def plan_allowance(rows: Iterable[AllowanceRow | tuple[str, str, str, bool]], *,
                   tiers: Mapping[str, str | None], reached: Mapping[str, Mapping[str, str]],
                   now: datetime | float, open_window: OpenWindow = None) -> AllowancePlan:
    """Which ``rows`` go now and when the others may, per sender (see the module docstring).

    ``tiers``: sender -> ``MessagingLimitTier`` (:meth:`~.health_gate.HealthReport.tiers`);
    ``reached``: sender -> {recipient: ISO time} of the last 24 hours
    (``journal.reached_since(now - 24 h)``, perhaps merged with the service's record by
    :func:`merge_reach`; older times are ignored); ``open_window``: the recipients with an open
    customer-service window (a set, or ``number -> bool``); ``now``: a UTC datetime or Unix
    seconds.
    """
    moment, opened = utc_datetime(now, "now"), _opener(open_window)
    by_sender: dict[str, list[AllowanceRow]] = {}
    for row in _checked(rows):
        by_sender.setdefault(row.sender, []).append(row)
    plan = AllowancePlan(decisions={}, frame=pd.DataFrame(columns=ALLOWANCE_COLUMNS))
    lines = [_plan_sender(plan, sender, sender_rows, tiers.get(sender),
                          reached.get(sender, {}), opened, moment)
             for sender, sender_rows in by_sender.items()]
    frame = pd.DataFrame(lines, columns=ALLOWANCE_COLUMNS)
    for column in ("limit", "used", "left", "rows_now", "rows_deferred"):
        frame[column] = frame[column].astype("Int64")  # whole numbers; no limit: <NA>
    plan.frame = frame
    return plan


def _plan_sender(plan: AllowancePlan, sender: str, rows: list[AllowanceRow], tier: str | None,
                 reached: Mapping[str, str], opened: Callable[[str], bool],
                 now: datetime) -> dict[str, Any]:
    """Decide one sender's rows into ``plan``; its line of the per-sender frame."""
    limit, known = tier_limit(tier)
    if not known:
        plan.warnings.append(
            f"Sender {sender}: its messaging tier is not known (the health check did not run "
            "or could not read it), so no unique-user limit was applied." if tier is None else
            f"Sender {sender}: messaging tier {tier!r} is not one the toolkit knows "
            f"({', '.join(TIER_LIMITS)}), so no unique-user limit was applied.")
    frees = {r: utc_datetime(t, f"reached[{sender!r}][{r!r}]") + WINDOW
             for r, t in reached.items()}
    frees = {r: f for r, f in frees.items() if f > now}  # still in the moving window
    used = len(frees)
    counted = list(dict.fromkeys(r.recipient for r in rows if r.is_template))
    free = [r for r in counted if r in frees or opened(r)]
    for recipient in free:
        if recipient in frees:
            frees[recipient] = now + WINDOW  # messaged again: its unit stays taken a day more
    freed = set(free)
    new = [r for r in counted if r not in freed]
    when = _schedule(new, limit, sorted(frees.values()), now)
    for row in rows:
        at = when.get(row.recipient) if row.is_template else None
        plan.decisions[row.key] = iso_utc(at) if at is not None else None
    later = [row for row in rows if plan.decisions[row.key] is not None]
    left = None if limit is None else max(0, limit - used)
    notes = [f"{tier}: no limit" if known and limit is None else
             "tier not known: no limit applied" if not known else
             f"{limit} unique recipients per 24 h"]
    if free:
        notes.append(f"{len(free)} recipient(s) already reached or with an open window: free")
    return {"sender": sender, "tier": tier, "limit": limit, "used": used, "left": left,
            "rows_now": len(rows) - len(later), "rows_deferred": len(later),
            "deferred_until": max((plan.decisions[r.key] or "" for r in later), default=None),
            "note": "; ".join(notes)}


def _schedule(new: list[str], limit: int | None, taken: list[datetime],
              now: datetime) -> dict[str, datetime | None]:
    """When each ``new`` recipient may be messaged (None: now), given the times the ``taken``
    units come free: the j-th recipient takes the j-th unit to come free, and holds it a day."""
    if limit is None:
        return dict.fromkeys(new)
    # the units a sender has: the free ones (now) and the taken ones' release times; when more
    # are taken than the limit (a tier that went down), the earliest releases give no room
    units = sorted([now] * max(0, limit - len(taken)) + taken)[-limit:]
    heapq.heapify(units)
    when: dict[str, datetime | None] = {}
    for recipient in new:
        at = max(heapq.heappop(units), now)
        heapq.heappush(units, at + WINDOW)
        when[recipient] = None if at <= now else at
    return when
