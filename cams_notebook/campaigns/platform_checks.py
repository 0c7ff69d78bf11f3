"""The platform's checks around a campaign run: the health gate and the unique-user allowance
before the first request, following the receipts while it runs, delivery in the result.

:class:`PlatformChecks` is what :mod:`.campaign_run` asks, in order:

1. :meth:`~PlatformChecks.before_sending`: once per campaign and sender, the health gate
   (:mod:`.health_check`, :mod:`.health_gate`; ``health_check=False`` skips it): a refusal
   raises :class:`~.health_gate.HealthGateError` before any request, warnings are announced.
   Then the allowance (:mod:`.allowance`; ``allowance=False`` skips it) over the rows that
   would go out: each sender's tier (from the gate), whom it reached in the last 24 hours
   (every campaign of the journal, and the service's own record for limited tiers), who has
   an open customer-service window (``inbound=``, or ``receipts=``).
2. :meth:`~PlatformChecks.defer`, per chunk of rows about to go out: the rows beyond the
   allowance, with their ``eligible_at``. A whole frame is planned at once in step 1; a
   stream of chunks is planned chunk by chunk, each after the ones before (its times are an
   estimate: the run that sends a deferred row plans it again from the journal).
3. :meth:`~PlatformChecks.follower`: with ``receipts=``, the
   :class:`~.delivery_follow.DeliveryFollower` the engine polls.
4. :meth:`~PlatformChecks.after`: the result gains ``delivery`` and ``delivery_code`` (what
   the receipts said by the end of the run) when receipts were followed.

:func:`alimits_plan` is the dry run of step 1: the plan per sender, nothing sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

import pandas as pd

from ..client import AsyncClient
from ..templates import TemplateCatalogue
from .allowance import ALLOWANCE_COLUMNS, allowance_rows, merge_reach, plan_allowance
from .allowance_listing import aservice_reach
from .bookkeeping import left_to_send
from .delivery_follow import DeliveryFollower
from .dry_run import window_check
from .engine import CampaignEngine
from .health_check import acheck_health, campaign_nodes
from .health_gate import HealthReport
from .journal import Journal
from .journal_reach import iso_utc, utc_datetime
from .plan import RowPlan
from .result import CampaignResult
from .run_settings import RunSettings

__all__ = ["LIMITS_COLUMNS", "PlatformChecks", "alimits_plan"]

LIMITS_COLUMNS = ["sender", "status", "quality", "can_send", *ALLOWANCE_COLUMNS[1:], "verdict"]
"""The plan per sender: health, tier, allowance used and left, rows now and deferred."""


def _space(plans: Iterable[RowPlan]) -> str | None:
    for plan in plans:
        if plan.message is not None and plan.message.cust_space_id:
            return plan.message.cust_space_id
    return None


class PlatformChecks:
    """One run's platform checks (see the module docstring)."""

    def __init__(self, run: RunSettings, client: AsyncClient, ledger: Journal, *,
                 catalogue: TemplateCatalogue | None = None,
                 announce: Callable[[str], None] | None) -> None:
        self.run, self.client, self.ledger = run, client, ledger
        self.catalogue = catalogue
        self.announce = announce or (lambda _text: None)
        self.report: HealthReport | None = None
        self.plan: pd.DataFrame | None = None
        """The allowance's plan per sender (a whole frame's, or the last chunk's)."""
        self._senders: set[str] = set()
        self._templates: set[str] = set()
        self._tiers: dict[str, str | None] = {}
        self._reached: dict[str, dict[str, str]] = {}
        self._decided: dict[str, str] | None = None
        self._follower: DeliveryFollower | None = None
        self._opened = _open_windows(run)

    async def before_sending(self, plans: list[RowPlan]) -> None:
        """The gate (refusals raise) and, for a whole frame, the allowance's plan."""
        run = self.run
        self._note(plans)
        if (run.health_check or run.allowance) and plans:
            # the allowance needs the tiers the gate reads; with the gate off it only asks
            self.report = await _gate(self.client, plans, self.catalogue)
            self._tiers = self.report.tiers()
            if run.health_check:
                for line in self.report.warnings:
                    self.announce(f"health check: {line}")
                self.report.raise_for_refusals()
        if not run.allowance:
            return
        self._reached = await _reach(self.client, self.ledger, plans, self._tiers, run.wall(),
                                     self.announce)
        if plans:  # a whole frame: plan every row that would go out, at once
            going = left_to_send(plans, self.ledger.get_many([p.key for p in plans]),
                                 on_changed=run.on_changed, now=run.wall())
            self._decided = self._plan(going)
            if self._decided:
                self._say_deferred()

    def _note(self, plans: Iterable[RowPlan]) -> None:
        for plan in plans:
            message = plan.message
            if message is not None:
                if message.from_:
                    self._senders.add(message.from_)
                if code := message.template_code or message.template_name:
                    self._templates.add(code)

    def _plan(self, going: list[RowPlan]) -> dict[str, str]:
        plan = plan_allowance(allowance_rows(going), tiers=self._tiers, reached=self._reached,
                              now=self.run.wall(), open_window=self._opened)
        self.plan = plan.frame
        for line in plan.warnings:
            self.announce(f"allowance: {line}")
        return plan.deferred

    def _say_deferred(self) -> None:
        frame = self.plan
        if frame is None:
            return
        for line in frame[frame["rows_deferred"] > 0].itertuples():
            self.announce(f"sender {line.sender} ({line.tier}): {line.rows_now} row(s) go now, "
                          f"{line.rows_deferred} are deferred (its unique-user allowance: "
                          f"{line.left} of {line.limit} left) until {line.deferred_until} at the "
                          "latest; run the campaign again then to send them")

    def defer(self, plans: list[RowPlan]) -> dict[str, str]:
        """The rows of ``plans`` (about to go out) to leave for later: key -> eligible_at."""
        if not self.run.allowance:
            return {}
        if self._decided is not None:
            return {p.key: self._decided[p.key] for p in plans if p.key in self._decided}
        self._note(plans)  # a stream: this chunk after the ones before
        deferred = self._plan(plans)
        now = iso_utc(self.run.wall())
        for plan in plans:
            message = plan.message
            if plan.key not in deferred and message is not None and message.from_:
                self._reached.setdefault(message.from_, {})[message.to] = now
        return deferred

    def follower(self) -> DeliveryFollower | None:
        """The receipts' follower, when the run has ``receipts=``."""
        run = self.run
        if run.receipts is None:
            return None
        self._follower = DeliveryFollower(
            run.receipts, senders=self._senders, templates=self._templates,
            follow_for=run.follow_for, clock=asyncio.get_running_loop().time, wall=run.wall)
        return self._follower

    def after(self, result: CampaignResult, engine: CampaignEngine) -> CampaignResult:
        """``result`` with what the receipts said, when they were followed."""
        follower = self._follower
        if follower is None:
            return result
        seen = follower.delivery
        keys = result["key"]
        result["delivery"] = pd.Series([seen.get(k, (None, None))[0] for k in keys],
                                       index=result.index, dtype=object)
        result["delivery_code"] = pd.Series([seen.get(k, (None, None))[1] for k in keys],
                                            index=result.index, dtype=object)
        return result


def _open_windows(run: RunSettings) -> Callable[[str], bool]:
    """Who has an open customer-service window (they cost no allowance): ``inbound=``, else
    the ``receipts=`` store (it holds the inbound messages too)."""
    source = run.inbound if run.inbound is not None else run.receipts
    if source is not None and not (callable(source)
                                   or callable(getattr(source, "window_open", None))):
        source = None
    check = window_check(source)
    return lambda number: bool(check(number))


async def _gate(client: AsyncClient, plans: list[RowPlan],
                catalogue: TemplateCatalogue | None) -> HealthReport:
    """The health gate's report; ``catalogue`` is the dry run's, so a template it fetched is
    not asked for again."""
    senders, templates = campaign_nodes(plans)
    return await acheck_health(client, senders=senders, cust_space_id=_space(plans),
                               templates=templates, catalogue=catalogue)


async def _reach(client: AsyncClient, ledger: Journal, plans: list[RowPlan],
                 tiers: dict[str, str | None], now: float,
                 announce: Callable[[str], None] = lambda _text: None
                 ) -> dict[str, dict[str, str]]:
    """Whom each sender reached in the last 24 hours: the journal, and the service's record
    for the senders with a limited tier."""
    since = utc_datetime(now, "now") - timedelta(hours=24)
    reached = ledger.reached_since(iso_utc(since))
    limited = {s for s, tier in tiers.items() if tier and tier != "TIER_UNLIMITED"}
    if not limited:
        return reached
    service, warnings = await aservice_reach(client, senders=sorted(limited),
                                             cust_space_id=_space(plans), tiers=tiers, now=now)
    for line in warnings:
        announce(f"allowance: {line}")
    return merge_reach(reached, service)


async def alimits_plan(campaign: RunSettings, plans: list[RowPlan], ledger: Journal,
                       client: AsyncClient, catalogue: TemplateCatalogue | None = None
                       ) -> pd.DataFrame:
    """The plan per sender for ``plans`` (the campaign's valid rows), nothing sent: the
    gate's view of each sender and its allowance (see :meth:`~.campaign.Campaign.limits`). Refusals
    and warnings are in ``.attrs["refusals"]`` and ``.attrs["warnings"]``."""
    checks = PlatformChecks(campaign, client, ledger, announce=None)
    report = (await _gate(client, plans, catalogue)
              if (campaign.health_check or campaign.allowance) and plans else None)
    tiers = report.tiers() if report is not None else {}
    checks._tiers = tiers  # noqa: SLF001 - the same object's inputs, set as before_sending does
    checks._reached = await _reach(client, ledger, plans, tiers, campaign.wall())  # noqa: SLF001
    going = left_to_send(plans, ledger.get_many([p.key for p in plans]),
                         on_changed=campaign.on_changed, now=campaign.wall())
    checks._plan(going)  # noqa: SLF001
    if not campaign.allowance and checks.plan is not None:  # off: every row goes now
        plan = checks.plan
        plan["rows_now"] = plan["rows_now"] + plan["rows_deferred"]
        plan["rows_deferred"] = 0
        plan["deferred_until"] = None
        plan["note"] = "allowance off (allowance=False): every row goes now"
    allowance = checks.plan if checks.plan is not None else pd.DataFrame(
        columns=ALLOWANCE_COLUMNS)
    rows: list[dict[str, Any]] = []
    health = report.senders if report is not None else {}
    verdicts = report.to_frame() if report is not None else pd.DataFrame()
    for record in allowance.to_dict("records"):
        line = {str(k): v for k, v in record.items()}
        sender = line["sender"]
        state = health.get(sender)
        verdict = verdicts[(verdicts["node"] == "sender") & (verdicts["id"] == sender)] \
            if len(verdicts) else verdicts
        rows.append({**line, "status": getattr(state, "status", None),
                     "quality": getattr(state, "quality", None),
                     "can_send": getattr(state, "can_send", None),
                     "verdict": verdict["verdict"].iloc[0] if len(verdict) else None})
    frame = pd.DataFrame(rows, columns=LIMITS_COLUMNS)
    frame.attrs["refusals"] = list(report.refusals) if report is not None else []
    frame.attrs["warnings"] = (list(report.warnings) if report is not None else [])
    return frame
