"""The campaign panel's confirmation step, Send and Stop, live progress and the outcome.

Part of :class:`~.campaign.CampaignPanel` (a mixin). A click on Send starts the campaign as an
asyncio task on the running loop (the kernel's), so the notebook stays responsive and a
click on Stop is processed while rows go out: Stop tells the engine to issue no new
request, in-flight ones finish, and every row not sent yet is ``not_sent`` in the result.
Without a running loop (a script, a test) :meth:`CampaignSending.send` runs the same
coroutine on a private loop in a worker thread and waits; Ctrl-C then stops it.

Each send is a :class:`~cams_notebook.campaigns.campaign.Campaign` (what ``send_frame``
runs: the same dry run, journal, pacing and result frame), whose ``stop()``, ``engine`` and
``counts`` serve the Stop button and the live counts.
"""

from __future__ import annotations

import asyncio
import html
from typing import Any

import ipywidgets as W
import pandas as pd

from ..campaigns.campaign import Campaign
from ..campaigns.engine import CampaignEngine, Counts, run_in_thread
from ..campaigns.result import CampaignResult
from ..client import Client
from . import campaign_html as H
from .campaign_model import CampaignModel
from .looks import show
from .mapping import DryRun

__all__ = ["PROGRESS_INTERVAL", "CampaignSending"]

PROGRESS_INTERVAL = 0.2
"""Seconds between two updates of the progress bar and counts while sending."""


class CampaignSending:
    """Review, Send, Stop and the outcome of a :class:`~.campaign.CampaignPanel`."""

    # provided by the panel
    client: Client
    frame: pd.DataFrame
    model: CampaignModel
    qps: int
    journal: Any
    sources: dict[str, W.Dropdown]
    values: dict[str, W.ValueWidget]
    review_button: W.Button
    send_button: W.Button
    stop_button: W.Button
    progress: W.IntProgress
    confirm_box: W.Box
    run_box: W.Box
    confirm_view: W.HTML
    counts_view: W.HTML
    outcome_view: W.HTML

    def check(self) -> DryRun | None:
        raise NotImplementedError

    @property
    def confirmation(self) -> str:
        raise NotImplementedError

    def _init_sending(self) -> None:
        self.result: CampaignResult | None = None
        """The last send's result: one row per input row, indexed like the frame."""
        self.error: BaseException | None = None
        """What stopped the last send from finishing, if anything did."""
        self.send_task: asyncio.Task[CampaignResult | None] | None = None
        """The task a click on Send started (when a loop runs)."""
        self._sending = False
        self._stopping = False
        self._campaign: Campaign | None = None
        self._state = "unchecked"

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
        """The confirmation step (Review and send…): a fresh dry run, then what Send will do."""
        if self._sending:
            raise RuntimeError("a send is in progress")
        dry = self.check()
        ready = dry is not None and dry.valid > 0
        text = self.confirmation
        self.confirm_view.value = H.confirmation_html(text, ready)
        count = dry.valid if dry is not None else 0
        self.send_button.description = f"Send {count} message{'s' if count != 1 else ''}"
        self.send_button.disabled = not ready
        show(self.confirm_box, True)
        show(self.review_button, False)
        return text

    def _cancel_review(self) -> None:
        show(self.confirm_box, False)
        show(self.review_button, True)

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
        if not self._sending:
            return
        self._stopping = True
        if self._campaign is not None:  # its engine may not exist yet (dry run still running)
            self._campaign.stop()
        self.stop_button.disabled = True
        self.stop_button.description = "Stopping…"

    def _start_send(self) -> Campaign:
        if self._sending:
            raise RuntimeError("a send is already in progress")
        dry = self.model.dry if self.model.dry is not None else self.check()
        if dry is None:
            raise ValueError(self.model.dry_error or "the dry run has not run")
        if not dry.valid:
            raise ValueError(f"nothing to send: all {dry.rows} rows have errors "
                             "(see panel.dry_run.problems)")
        args = self.model.mapping.frame_args(self.frame)
        self._campaign = Campaign(args.frame, client=self.client, qps=self.qps,
                                  journal=self.journal, progress=False, on_invalid="skip",
                                  params=args.params, **args.constants)
        self._sending, self._stopping, self._state = True, False, "sending"
        self.result, self.error = None, None
        self.progress.max, self.progress.value, self.progress.bar_style = dry.valid, 0, ""
        self.stop_button.disabled, self.stop_button.description = False, "Stop"
        self.counts_view.value = "<i>Checking the rows…</i>"
        self.outcome_view.value = ""
        show(self.confirm_box, False)
        show(self.review_button, False)
        show(self.run_box, True)
        show(self.stop_button, True)
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
        self.progress.value = min(counts.sent + counts.failed + counts.unknown, self.progress.max)
        self.counts_view.value = H.counts_html(counts, counts.rate(engine.clock()), note)

    def _finish_send(self, result: CampaignResult | None, error: BaseException | None) -> None:
        self._sending = False
        engine = self._campaign.engine if self._campaign is not None else None
        show(self.stop_button, False)
        show(self.review_button, True)
        self._enable_inputs(True)
        if result is None:
            self.error = error
            self._state = "failed"
            self.progress.bar_style = "danger"
            self._show_counts(engine)
            self.outcome_view.value = _error_html(error)
            return
        stopped = self._stopping or bool((result["status"] == "not_sent").any())
        self.result = result
        self._state = "stopped" if stopped else "done"
        self.progress.bar_style = "warning" if stopped else "success"
        reason = getattr(engine, "stop_reason", None)
        self._show_counts(engine, f"stopped: {reason}" if reason else
                          "stopped" if stopped else "")
        self.outcome_view.value = H.outcome_html(result, stopped=stopped,
                                                 resumable=self.journal is not False)

    def _enable_inputs(self, enabled: bool) -> None:
        for widget in (*self.sources.values(), *self.values.values()):
            widget.disabled = not enabled

    def _on_send_click(self, _button: W.Button | None) -> None:
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
            self.outcome_view.value = _error_html(exc)


def _error_html(error: BaseException | None) -> str:
    return (f"<div class='cams-outcome' style='color:#b00020'>⚠ Not sent: "
            f"{html.escape(f'{type(error).__name__}: {error}')}</div>")
