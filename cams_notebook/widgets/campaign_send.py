"""The campaign panel's confirmation step, Send and Stop, live progress and the outcome.

A part of :class:`~.campaign.CampaignPanel`, which delegates ``review()``, ``send()``,
``send_async()``, ``stop()`` and the result to it. A click on Send starts the campaign as an
asyncio task on the running loop (the kernel's), so the notebook stays responsive and a
click on Stop is processed while rows go out: Stop tells the engine to issue no new
request, in-flight ones finish, and every row not sent yet is ``not_sent`` in the result.
Without a running loop (a script, a test) :meth:`CampaignSending.send` runs the same
coroutine on a private loop in a worker thread and waits; Ctrl-C then stops it.

Each send is a :class:`~cams_notebook.campaigns.campaign.Campaign` (what ``send_frame``
runs: the same dry run, journal, pacing and result frame), whose ``stop()``, ``engine`` and
``counts`` serve the Stop button and the live counts.

The confirmation step also asks the platform's checks once (:mod:`.campaign_limits`): a
refusal of the health gate disables Send and says why, warnings are shown, rows beyond a
sender's unique-user allowance are not counted in "Send N messages" and are said to be
deferred, until when. While a send runs, the counts show refused, deferred and capped rows,
and after the last request how many rows still wait for their receipts' verdict; a send the
platform stopped (bad news on the receipts) says why.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import ipywidgets as W
import pandas as pd

from ..campaigns.campaign import Campaign
from ..campaigns.engine import CampaignEngine, Counts, run_in_thread
from ..campaigns.layered_pacing import DEFAULT_SENDER_MPS, SenderLimits
from ..campaigns.mapping import DryRun
from ..campaigns.progress_bar import following_receipts
from ..campaigns.result import CampaignResult
from . import campaign_html as H
from .campaign_left import Left, left_to_send_now
from .campaign_limits import PlatformPlan, limits_html, platform_plan
from .campaign_model import CampaignModel
from .looks import show

__all__ = ["PROGRESS_INTERVAL", "CampaignSending", "SendViews"]

PROGRESS_INTERVAL = 0.2
"""Seconds between two updates of the progress bar and counts while sending."""


@dataclass(frozen=True)
class SendViews:
    """The widgets of the confirmation step and of a running send."""

    review_button: W.Button
    send_button: W.Button
    stop_button: W.Button
    progress: W.IntProgress
    confirm_box: W.Box
    run_box: W.Box
    confirm_view: W.HTML
    counts_view: W.HTML
    outcome_view: W.HTML
    limits_view: W.HTML


class CampaignSending:
    """Review, Send, Stop and the outcome of a campaign panel.

    ``check()`` runs (and shows) the dry run, ``confirmation()`` says what Send will do,
    ``inputs()`` are the mapping's widgets (disabled while a send runs). ``qps``,
    ``journal``, ``inbound``, ``sender_mps`` and ``receipts`` are passed to each
    :class:`Campaign`.
    """

    def __init__(self, model: CampaignModel, views: SendViews, *,
                 check: Callable[[], DryRun | None], confirmation: Callable[[], str],
                 inputs: Callable[[], Iterable[W.Widget]], qps: int, journal: Any,
                 inbound: Any = None, sender_mps: SenderLimits = DEFAULT_SENDER_MPS,
                 receipts: Any = None) -> None:
        self.model, self.views = model, views
        self._check, self._confirmation, self._inputs = check, confirmation, inputs
        self.qps, self.journal, self.inbound = qps, journal, inbound
        self.sender_mps, self.receipts = sender_mps, receipts
        self.platform: PlatformPlan | None = None
        """What the platform's checks said at the last confirmation (None: not asked)."""
        self._total: int | None = None
        self.result: CampaignResult | None = None
        """The last send's result: one row per input row, indexed like the frame."""
        self.error: BaseException | None = None
        """What stopped the last send from finishing, if anything did."""
        self.send_task: asyncio.Task[CampaignResult | None] | None = None
        """The task a click on Send started (when a loop runs)."""
        self.sending = False
        self._stopping = False
        self._campaign: Campaign | None = None
        self.state = "unchecked"
        """unchecked, ready, nothing to send, sending, done, stopped or failed."""

    @property
    def counts(self) -> Counts | None:
        """Live counts of the running (or last) send: sent, failed, unknown, throttled…"""
        return self._campaign.counts if self._campaign is not None else None

    @property
    def summary(self) -> pd.DataFrame | None:
        """Rows of the last send by status and code (``panel.result.summary()``)."""
        return self.result.summary() if self.result is not None else None

    # -- the confirmation step ---------------------------------------------------------------

    def review(self) -> str:
        """The confirmation step (Review and send…): a fresh dry run, then what Send will do,
        counting only the rows that would really go out (the journal knows the others)."""
        if self.sending:
            raise RuntimeError("a send is in progress")
        self.model.reveal()  # asked to send: a constant still empty is an error now
        dry = self._check()
        left = self.left()
        count = left.send if left is not None else 0
        self.platform = plan = self._platform() if dry is not None and count else None
        if plan is not None:
            count = max(count - plan.deferred, 0)
        refused = plan is not None and bool(plan.refusals)
        ready = dry is not None and dry.valid > 0 and count > 0 and not refused
        text = H.confirmation_text(dry, self.qps, left, plan) if dry is not None \
            else self._confirmation()  # the journal asked once
        self.views.confirm_view.value = H.confirmation_html(text, ready)
        self.views.limits_view.value = limits_html(plan)
        self.views.send_button.description = (
            "Refused by the health check" if refused else
            f"Send {count} message{'s' if count != 1 else ''}" if count else "Nothing to send")
        self.views.send_button.tooltip = " ".join(plan.refusals) if refused and plan else ""
        self.views.send_button.disabled = not ready
        self.views.send_button.button_style = "danger" if ready else ""
        show(self.views.confirm_box, True)
        show(self.views.review_button, False)
        return text

    def left(self) -> Left | None:
        """What a Send would send now (the journal asked), or None before a dry run."""
        dry = self.model.dry
        if dry is None or not dry.valid:
            return None
        args = self.model.mapping.frame_args(self.model.frame)
        account = self.model.client.account
        return left_to_send_now(args, dry, journal=self.journal,
                                account=(str(account[0]), str(account[1])))

    def _platform(self) -> PlatformPlan:
        """The platform's checks of the campaign a Send would run (the service is asked)."""
        return platform_plan(self._campaign_now())

    def _campaign_now(self) -> Campaign:
        """The :class:`Campaign` a Send runs now, from the mapping as it is."""
        args = self.model.mapping.frame_args(self.model.frame)
        return Campaign(args.frame, client=self.model.client, qps=self.qps,
                        journal=self.journal, progress=False, on_invalid="skip",
                        params=args.params, inbound=self.inbound, sender_mps=self.sender_mps,
                        receipts=self.receipts, **args.constants)

    def cancel_review(self) -> None:
        self.platform = None  # an edit may change the senders: the next review asks again
        self.views.limits_view.value = ""
        show(self.views.confirm_box, False)
        show(self.views.review_button, True)

    # -- sending -----------------------------------------------------------------------------

    def send(self) -> CampaignResult:
        """Send the campaign now and wait for it (blocking); returns ``panel.result``.

        Invalid rows are skipped (they are ``invalid`` in the result). Runs on a private loop
        in a worker thread, so it works in a script and in a notebook cell alike; Ctrl-C or
        a kernel interrupt stops it like the Stop button. Raises ValueError when there is
        nothing to send.
        """
        return run_in_thread(self.send_async, self.stop)

    async def send_async(self) -> CampaignResult:
        """Send the campaign on the running loop, updating the progress bar and counts."""
        campaign = self._start_send()  # a new one per send: Stop reaches this send's engine
        watcher = asyncio.ensure_future(self._watch(campaign))
        try:
            result = await campaign.arun()
        except BaseException as exc:
            watcher.cancel()
            self._finish_send(None, exc)
            raise
        watcher.cancel()
        self._finish_send(result, None)
        return result

    def stop(self) -> None:
        """Stop the running send (the Stop button): no new requests; the rest is ``not_sent``.

        Thread-safe, and harmless when nothing is being sent.
        """
        if not self.sending:
            return
        self._stopping = True
        if self._campaign is not None:  # its engine may not exist yet (dry run still running)
            self._campaign.stop()
        self.views.stop_button.disabled = True
        self.views.stop_button.description = "Stopping…"

    def _start_send(self) -> Campaign:
        if self.sending:
            raise RuntimeError("a send is already in progress")
        dry = self.model.dry if self.model.dry is not None else self._check()
        if dry is None:
            raise ValueError(self.model.dry_error or "the dry run has not run")
        if not dry.valid:
            raise ValueError(f"nothing to send: all {dry.rows} rows have errors "
                             "(see panel.dry_run.problems)")
        self._campaign = self._campaign_now()
        self.sending, self._stopping, self.state = True, False, "sending"
        self.result, self.error = None, None
        self._total = dry.valid  # every valid row is done once: sent, replayed or deferred
        progress = self.views.progress
        left = self.left()  # rows replayed from the journal are not this run's progress
        deferred = self.platform.deferred if self.platform is not None else 0
        progress.max = max((left.send if left is not None else dry.valid) - deferred, 1)
        progress.value, progress.bar_style = 0, ""
        self.views.stop_button.disabled, self.views.stop_button.description = False, "Stop"
        self.views.counts_view.value = "<i>Checking the rows…</i>"
        self.views.outcome_view.value = ""
        show(self.views.confirm_box, False)
        show(self.views.review_button, False)
        show(self.views.run_box, True)
        show(self.views.stop_button, True)
        self._enable_inputs(False)
        return self._campaign

    async def _watch(self, campaign: Campaign) -> None:
        while True:
            await asyncio.sleep(PROGRESS_INTERVAL)
            self._show_counts(campaign.engine)

    def _show_counts(self, engine: CampaignEngine | None, note: str = "") -> None:
        if engine is None:
            return
        counts = engine.counts
        progress = self.views.progress
        progress.value = min(counts.sent + counts.failed + counts.unknown, progress.max)
        follower = engine.follower
        following = following_receipts(counts, self._total, follower.following) \
            if follower is not None and self.sending else 0
        self.views.counts_view.value = H.counts_html(counts, counts.rate(engine.clock()), note,
                                                     following)

    def _finish_send(self, result: CampaignResult | None, error: BaseException | None) -> None:
        self.sending = False
        self.platform = None  # the plan was this send's; the next review asks again
        engine = self._campaign.engine if self._campaign is not None else None
        show(self.views.stop_button, False)
        show(self.views.review_button, True)
        self._enable_inputs(True)
        if result is None:
            self.error = error
            self.state = "failed"
            self.views.progress.bar_style = "danger"
            self._show_counts(engine)
            self.views.outcome_view.value = _error_html(error)
            return
        stopped = self._stopping or bool((result["status"] == "not_sent").any())
        self.result = result
        self.state = "stopped" if stopped else "done"
        self.views.progress.bar_style = "warning" if stopped else "success"
        reason = getattr(engine, "stop_reason", None)
        self._show_counts(engine, f"stopped: {reason}" if reason else
                          "stopped" if stopped else "")
        self.views.outcome_view.value = H.outcome_html(result, stopped=stopped,
                                                       resumable=self.journal is not False,
                                                       reason=reason)

    def _enable_inputs(self, enabled: bool) -> None:
        for widget in self._inputs():
            widget.disabled = not enabled

    def on_click(self, _button: W.Button | None) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            try:
                self.send()
            except Exception as exc:  # noqa: BLE001 - shown in the panel; a click has no caller
                self._show_error(exc)
            return
        self.send_task = loop.create_task(self._send_quietly())

    async def _send_quietly(self) -> CampaignResult | None:
        try:
            return await self.send_async()
        except Exception as exc:  # noqa: BLE001 - shown in the panel; a task has no caller
            self._show_error(exc)
            return None

    def _show_error(self, exc: BaseException) -> None:
        if self.error is not exc:  # errors after the start are shown by _finish_send already
            self.views.outcome_view.value = _error_html(exc)


def _error_html(error: BaseException | None) -> str:
    return (f"<div class='cams-outcome' style='color:#b00020'>⚠ Not sent: "
            f"{html.escape(f'{type(error).__name__}: {error}')}</div>")
