"""The campaign panel: map a DataFrame's columns to a message, dry-run it, preview it, send it.

The model is the source of truth: a :class:`~.campaign_model.CampaignModel` (one source per
request field and template variable, the templates they use, the dry run). Widgets show it
and edit it; every edit re-derives the rest from it: the template's variables, the dry run
(:func:`~cams_notebook.campaigns.dry_run.validate_frame`), the first rows as chat bubbles
(:mod:`.preview`), the confirmation. This module builds the widgets (``_build``), arranges
them (``_layout``) and wires them (``_wire``); the panel owns its parts: the model, and
sending (:class:`.campaign_send.CampaignSending`), to which it delegates.

No widget holds a credential: the client stays a plain attribute. Without ``client=`` the panel
uses ``Client.from_env()`` (the real service); without credentials it refuses to start with a
:class:`~cams_notebook.errors.MissingCredentialsError` that says what to set or to pass
``client=Client.sandbox()``. A panel cannot do anything useful without a client (its template
choices, dry run and preview all ask one), so it fails where it is made, not on Send.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Hashable
from typing import Any

import ipywidgets as W
import pandas as pd

from .._config import DEFAULT_QPS
from ..campaigns.engine import Counts
from ..campaigns.layered_pacing import DEFAULT_SENDER_MPS, SenderLimits
from ..campaigns.mapping import (
    FIELDS,
    CampaignMapping,
    Column,
    Constant,
    DryRun,
    Source,
)
from ..campaigns.result import CampaignResult
from ..client import Client
from ..errors import MissingCredentialsError
from . import campaign_html as H
from .campaign_model import CampaignModel
from .campaign_rows import MappingRows
from .campaign_send import CampaignSending, SendViews
from .looks import Looks, show

__all__ = ["AUTO_CHECK_ROWS", "PANEL_SANDBOX_HINT", "PREVIEW_ROWS", "CampaignPanel"]

AUTO_CHECK_ROWS = 5000
"""Frames up to this many rows are dry-run after every change; larger ones on **Check**."""
PREVIEW_ROWS = 3
"""Rows shown as chat bubbles."""
PANEL_SANDBOX_HINT = ("pass client=Client.sandbox() for the local sandbox (nothing leaves "
                      "this machine)")
"""How a panel without a client and without credentials says to get the sandbox."""

_UNSET, _CONSTANT, _COLUMN = "", "=", "col:"
_CHOICE_FIELDS = ("channel_type", "type", "template_code", "language", "message_type")


class CampaignPanel:
    """Columns to fields, dry run, preview, confirmation, then Send / Stop with live counts.

    >>> import pandas as pd
    >>> from cams_notebook.sandbox import Sandbox
    >>> frame = pd.DataFrame({"phone": ["8613900000001"], "name": ["Ada"], "order_id": ["A-1"]})
    >>> panel = CampaignPanel(frame, Sandbox(seed=1, receipt_delay=0).client())
    >>> panel.set(from_="8613800000000")
    CampaignPanel(rows=1, ready=1, invalid=0, state='ready')
    >>> panel.send()["status"].tolist()
    ['sent']

    Without ``client=`` it uses ``Client.from_env()``, the real service, and raises
    :class:`~cams_notebook.errors.MissingCredentialsError` without credentials:
    ``CampaignPanel(frame, client=Client.sandbox())`` is the local sandbox. ``inbound=`` (a
    ``ReceiptStore`` fed from the ChatAppInbound queue) tells the dry run and the send whose
    WhatsApp 24-hour window is open.

    The platform's limits are those of ``send_frame``: ``sender_mps`` paces each WhatsApp
    sender number (default 80/s; a number, None or a mapping per sender), ``receipts`` (a
    ``ReceiptStore`` a running queue or receiver fills) lets a send follow its rows to
    delivery and stop on bad news. **Review and send…** asks the health gate and the
    unique-user allowance once: refusals disable Send with the reason, warnings and deferred
    rows are said, and :attr:`limits` holds the plan per sender. There is no widget for
    ``sender_mps``: it is rarely changed, and a number typed into a panel would be one more
    thing to check before each Send (set ``panel.sender_mps``).
    """

    def __init__(self, frame: pd.DataFrame, client: Client | None = None, *,
                 qps: int = DEFAULT_QPS, journal: Any = None,
                 preview_rows: int = PREVIEW_ROWS, inbound: Any = None,
                 sender_mps: SenderLimits = DEFAULT_SENDER_MPS, receipts: Any = None) -> None:
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"CampaignPanel needs a DataFrame, not {type(frame).__name__}")
        if not frame.columns.is_unique:
            raise ValueError("the frame's column names must be unique to map them")
        if client is not None and inspect.iscoroutinefunction(getattr(client, "send", None)):
            raise TypeError("CampaignPanel needs a blocking cams_notebook.Client (it lists "
                            "templates as you choose; sends run on an async twin of it)")
        self.frame = frame
        self.client = client if client is not None else _client_from_env()
        """The client (``Client.from_env()`` by default: the real service)."""
        self.preview_rows = preview_rows
        """Rows previewed."""
        self.model = CampaignModel(frame, self.client, inbound=inbound)
        self._columns: list[Hashable] = list(frame.columns)
        self._build()
        self._sender = CampaignSending(
            self.model, SendViews(self.review_button, self.send_button, self.stop_button,
                                  self.progress, self.confirm_box, self.run_box,
                                  self.confirm_view, self.counts_view, self.outcome_view,
                                  self.limits_view),
            check=self.check, confirmation=lambda: self.confirmation,
            inputs=self._rows.inputs, qps=qps, journal=journal, inbound=inbound,
            sender_mps=sender_mps, receipts=receipts)
        self.widget = self._layout()
        self._wire()
        self._refresh()

    # -- public API --------------------------------------------------------------------------

    @property
    def mapping(self) -> CampaignMapping:
        """Which column or constant feeds each field and template variable."""
        return self.model.mapping

    @property
    def dry_run(self) -> DryRun | None:
        """The last dry run (``.problems`` is the ``validate_frame`` table), or None."""
        return self.model.dry

    @property
    def confirmation(self) -> str:
        """What Send will do: rows, channels, rows done in an earlier run (the journal's) and
        invalid rows left out, estimated duration; after **Review and send…**, what the
        platform's checks said (refusals, rows deferred and until when)."""
        dry = self.model.dry
        if dry is None:
            return self.model.dry_error or "The dry run has not run yet."
        return H.confirmation_text(dry, self.qps, self._sender.left(), self._sender.platform)

    @property
    def limits(self) -> pd.DataFrame | None:
        """The plan per sender from the last **Review and send…** (``Campaign.limits()``:
        health, tier, unique users used and left, rows now and deferred, until when; the
        refusals and warnings in ``.attrs``), or None before one."""
        plan = self._sender.platform
        return plan.frame if plan is not None else None

    @property
    def variables(self) -> tuple[str, ...]:
        """The variables of the template(s) in use, in display order."""
        return tuple(self.mapping.variables) if self.mapping.kind != "message" else ()

    def map(self, **columns: Hashable | None) -> CampaignPanel:
        """Feed fields or template variables from columns: ``map(to="phone", name="first")``;
        ``None`` leaves one out."""
        for key, column in _fields_first(columns):
            if column is not None and column not in self._columns:
                raise ValueError(f"{column!r} is not a column of the frame; columns: "
                                 f"{', '.join(map(repr, self._columns))}")
            self._edit(key, None if column is None else Column(column))
        self._refresh()
        return self

    def set(self, **constants: Any) -> CampaignPanel:
        """Give fields or template variables one value for every row:
        ``set(from_="8613800000000", template_code="order_shipped", language="en")``.

        A template is given by code or name. Fields are set in request order (the channel
        before the template, the template before its variables).
        """
        for key, value in _fields_first(constants):
            self._edit(key, None if value is None else Constant(str(value)))
        self._refresh()
        return self

    def check(self) -> DryRun | None:
        """Run the dry run now and show it, with the preview; None when it failed."""
        dry = self.model.check()
        self._show_results()
        return dry

    # -- sending (the part :class:`.campaign_send.CampaignSending`) ---------------------------

    @property
    def qps(self) -> int:
        """Pace of a send, in messages per second."""
        return self._sender.qps

    @qps.setter
    def qps(self, value: int) -> None:
        self._sender.qps = value

    @property
    def sender_mps(self) -> SenderLimits:
        """Messages per second per WhatsApp sender number, as for ``send_frame``."""
        return self._sender.sender_mps

    @sender_mps.setter
    def sender_mps(self, value: SenderLimits) -> None:
        self._sender.sender_mps = value

    @property
    def journal(self) -> Any:
        """The journal of a send, as for ``send_frame``."""
        return self._sender.journal

    @journal.setter
    def journal(self, value: Any) -> None:
        self._sender.journal = value

    @property
    def result(self) -> CampaignResult | None:
        """The last send's result: one row per input row, indexed like the frame."""
        return self._sender.result

    @property
    def error(self) -> BaseException | None:
        """What stopped the last send from finishing, if anything did."""
        return self._sender.error

    @property
    def send_task(self) -> asyncio.Task[CampaignResult | None] | None:
        """The task a click on Send started (when a loop runs)."""
        return self._sender.send_task

    @property
    def counts(self) -> Counts | None:
        """Live counts of the running (or last) send: sent, failed, unknown, throttled…"""
        return self._sender.counts

    @property
    def summary(self) -> pd.DataFrame | None:
        """Rows of the last send by status and code (``panel.result.summary()``)."""
        return self._sender.summary

    def review(self) -> str:
        """The confirmation step (Review and send…): a fresh dry run, then what Send will do."""
        return self._sender.review()

    def send(self) -> CampaignResult:
        """Send the campaign now and wait for it (blocking); returns ``panel.result``.

        Invalid rows are skipped (they are ``invalid`` in the result). Works in a script and
        in a notebook cell alike; Ctrl-C or a kernel interrupt stops it like the Stop button.
        Raises ValueError when there is nothing to send.
        """
        return self._sender.send()

    async def send_async(self) -> CampaignResult:
        """Send the campaign on the running loop, updating the progress bar and counts."""
        return await self._sender.send_async()

    def stop(self) -> None:
        """Stop the running send (the Stop button): no new requests; the rest is ``not_sent``.

        Thread-safe, and harmless when nothing is being sent.
        """
        self._sender.stop()

    @property
    def _state(self) -> str:
        return self._sender.state

    # -- display -----------------------------------------------------------------------------

    def __repr__(self) -> str:
        parts = [f"rows={len(self.frame)}"]
        if self.result is None and self.model.dry is not None:
            parts += [f"ready={self.model.dry.valid}", f"invalid={self.model.dry.invalid}"]
        parts.append(f"state={self._state!r}")
        if self.result is not None:
            parts += [f"{s}={int(n)}" for s, n in self.result["status"].value_counts().items()]
        return f"CampaignPanel({', '.join(parts)})"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = repr(self)
        return bundle

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)  # type: ignore[no-untyped-call]

    # -- building ----------------------------------------------------------------------------

    def _build(self) -> None:
        looks = self.looks = Looks()  # shared layouts and styles: fewer models to sync
        self._rows = MappingRows(self.model, looks, self._on_edit)
        rows = self._rows
        self.labels, self.sources, self.values, self.rows = (
            rows.labels, rows.sources, rows.values, rows.rows)
        self.fields_box, self.vars_box, self.vars_note = (
            rows.fields_box, rows.vars_box, rows.vars_note)
        self.dry_view, self.preview_view, self.confirm_view = (looks.html_view() for _ in "123")
        self.check_button = W.Button(description="Check", icon="check")
        self.review_button = W.Button(description="Review and send…", button_style="primary",
                                      icon="paper-plane", layout=W.Layout(width="auto"))
        self.send_button = W.Button(description="Send", button_style="danger",
                                    icon="paper-plane", layout=W.Layout(width="auto"))
        self.cancel_button = W.Button(description="Cancel")
        self.stop_button = W.Button(description="Stop", icon="stop", button_style="warning")
        self.progress = W.IntProgress(value=0, min=0, max=1, description="Sent",
                                      layout=W.Layout(width="60%"))
        self.counts_view, self.outcome_view = looks.html_view(), looks.html_view()
        self.limits_view = looks.html_view()
        for widget, name in ((self.check_button, "check"), (self.review_button, "review"),
                             (self.send_button, "send"), (self.cancel_button, "cancel"),
                             (self.stop_button, "stop"), (self.progress, "progress"),
                             (self.dry_view, "dry-run-view"), (self.preview_view, "rows-view"),
                             (self.confirm_view, "confirm-view"),
                             (self.counts_view, "counts-view"),
                             (self.limits_view, "limits-view"),
                             (self.outcome_view, "outcome-view")):
            widget.add_class(f"cams-{name}")
        self.confirm_box = W.VBox([self.confirm_view, self.limits_view,
                                   W.HBox([self.send_button, self.cancel_button])],
                                  layout=W.Layout(display="none"))
        self.run_box = W.VBox([W.HBox([self.progress, self.stop_button]), self.counts_view],
                              layout=W.Layout(display="none"))
        self.check_box = W.HBox([self.check_button], layout=W.Layout(display="none"))

    def _layout(self) -> W.Box:
        def title(text: str) -> W.HTML:
            view = self.looks.html_view()
            view.value = f"<h4 style='margin:10px 0 4px'>{text}</h4>"
            return view

        return W.VBox([
            title("1. Columns → fields"), self.fields_box,
            title("Template variables"), self.vars_note, self.vars_box,
            title("2. Dry run"), self.check_box, self.dry_view,
            title(f"3. Preview (first {self.preview_rows} rows)"), self.preview_view,
            title("4. Send"), W.HBox([self.review_button]), self.confirm_box, self.run_box,
            self.outcome_view,
        ]).add_class("cams-campaign")

    # -- wiring ------------------------------------------------------------------------------

    def _wire(self) -> None:
        self.check_button.on_click(lambda _b: self.check())
        self.review_button.on_click(lambda _b: self.review())
        self.cancel_button.on_click(lambda _b: self._sender.cancel_review())
        self.send_button.on_click(self._sender.on_click)
        self.stop_button.on_click(lambda _b: self.stop())

    def _on_edit(self, key: str, source: Source) -> None:
        """A user's edit of one row: into the model, then everything re-derived."""
        self._edit(key, source)
        self._refresh()

    def _edit(self, key: str, source: Source) -> None:
        if self._sender.sending:
            raise RuntimeError("the mapping cannot change while the campaign is being sent")
        self.model.assign(key, source)
        self._sender.cancel_review()

    # -- showing the model -------------------------------------------------------------------

    def _refresh(self) -> None:
        """Show the model, then re-derive the dry run, the preview and the confirmation."""
        self._rows.show()
        show(self.check_box, len(self.frame) > AUTO_CHECK_ROWS)
        if len(self.frame) <= AUTO_CHECK_ROWS:
            self.check()
        else:
            self.model.dry, self.model.dry_error = None, ""  # stale: Check runs it again
            self._show_results()

    def _show_results(self) -> None:
        dry = self.model.dry
        self.dry_view.value = H.dry_run_html(dry, self.model.dry_error,
                                             waiting=self.model.waiting())
        self.preview_view.value = H.rows_html(list(self.model.previews(self.preview_rows)))
        if not self._sender.sending and self.result is None:
            self._sender.state = ("ready" if dry is not None and dry.valid else
                                  "nothing to send" if dry is not None or self.model.dry_error
                                  else "unchecked")


def _fields_first(values: dict[str, Any]) -> list[tuple[str, Any]]:
    """Fields in request order, then template variables (they depend on the template)."""
    order = {name: i for i, name in enumerate(FIELDS)}
    return sorted(values.items(), key=lambda kv: order.get(kv[0], len(order)))


def _client_from_env() -> Client:
    """``Client.from_env()``, its missing-credentials message pointing at ``client=``."""
    try:
        return Client.from_env()
    except MissingCredentialsError as exc:
        raise MissingCredentialsError(missing=exc.missing, hint=PANEL_SANDBOX_HINT) from None
