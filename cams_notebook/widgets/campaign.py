"""The campaign panel: map a DataFrame's columns to a message, dry-run it, preview it, send it.

The model is the source of truth: a :class:`~.campaign_model.CampaignModel` (one source per
request field and template variable, the templates they use, the dry run). Widgets show it
and edit it; every edit re-derives the rest from it: the template's variables, the dry run
(:func:`~cams_notebook.campaigns.frames.validate_frame`), the first rows as chat bubbles
(:mod:`.preview`), the confirmation. This module builds the widgets (``_build``), arranges
them (``_layout``) and wires them (``_wire``); sending lives in :mod:`.campaign_send`.

No widget holds a credential: the client stays a plain attribute. Without ``client=`` the panel
uses ``Client.from_env()`` (the real service); without credentials it refuses to start with a
:class:`~cams_notebook.errors.MissingCredentialsError` that says what to set or to pass
``client=Client.sandbox()``. A panel cannot do anything useful without a client (its template
choices, dry run and preview all ask one), so it fails where it is made, not on Send.
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from typing import Any

import ipywidgets as W
import pandas as pd

from .._config import DEFAULT_QPS
from ..client import Client
from ..errors import MissingCredentialsError
from . import campaign_html as H
from . import fields as F
from .campaign_model import CampaignModel, choice_options
from .campaign_send import CampaignSending
from .looks import Looks, css_hook, set_options, show
from .mapping import FIELD_LABELS, FIELDS, CampaignMapping, Column, Constant, DryRun, Source

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


class CampaignPanel(CampaignSending):
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
    ``CampaignPanel(frame, client=Client.sandbox())`` is the local sandbox.
    """

    def __init__(self, frame: pd.DataFrame, client: Client | None = None, *,
                 qps: int = DEFAULT_QPS, journal: Any = None,
                 preview_rows: int = PREVIEW_ROWS) -> None:
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
        self.qps, self.journal, self.preview_rows = qps, journal, preview_rows
        """Pace (messages/s), journal (as for ``send_frame``) and rows previewed."""
        self.model = CampaignModel(frame, self.client)
        self._columns: list[Hashable] = list(frame.columns)
        self._shown_variables: list[str] | None = None
        self._hold = 0
        self._init_sending()
        self._build()
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
        """What Send will do: rows, channels, invalid rows skipped, estimated duration."""
        dry = self.model.dry
        if dry is None:
            return self.model.dry_error or "The dry run has not run yet."
        return dry.confirmation(self.qps)

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

    def _mapping_row(self, label: str, key: str, value: W.ValueWidget) -> W.HBox:
        options = [(f"column: {c}", f"{_COLUMN}{i}") for i, c in enumerate(self._columns)]
        source = W.Dropdown(options=[*options, ("constant", _CONSTANT), ("(not set)", _UNSET)],
                            layout=self._source_layout, style=self.looks.choice)
        self.sources[key], self.values[key] = source, value
        self.labels[key] = self.looks.html_view(self._label_layout)
        self.labels[key].value = f"<b>{html.escape(label)}</b>"
        self.rows[key] = W.HBox([self.labels[key], source, value], layout=self._row_layout)
        return self.rows[key].add_class(css_hook("map", key))

    def _build(self) -> None:
        looks = self.looks = Looks()  # shared layouts and styles: fewer models to sync
        self._label_layout = W.Layout(width="190px")
        self._source_layout = W.Layout(width="230px")
        self._value_layout = W.Layout(width="340px")
        self._row_layout = W.Layout()
        # what is hidden is left out of its box's children, so the many inputs share layouts
        self.labels: dict[str, W.HTML] = {}
        self.sources: dict[str, W.Dropdown] = {}
        """Where each field (``to``) or variable (``$(name)``) comes from."""
        self.values: dict[str, W.ValueWidget] = {}
        """The constant of each field or variable (used when its source is ``constant``)."""
        self.rows: dict[str, W.HBox] = {}
        """Label, source and (for a constant) value of each field and variable."""
        for name in FIELDS:
            layout = self._value_layout
            value = (W.Dropdown(layout=layout, style=looks.choice) if name in _CHOICE_FIELDS
                     else W.Text(continuous_update=False, layout=layout, style=looks.text))
            self._mapping_row(FIELD_LABELS[name], name, value)
        self.fields_box = W.VBox()
        self.vars_box, self.vars_note = W.VBox(), looks.html_view()
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
        for widget, name in ((self.check_button, "check"), (self.review_button, "review"),
                             (self.send_button, "send"), (self.cancel_button, "cancel"),
                             (self.stop_button, "stop"), (self.progress, "progress"),
                             (self.dry_view, "dry-run-view"), (self.preview_view, "rows-view"),
                             (self.confirm_view, "confirm-view"),
                             (self.counts_view, "counts-view"),
                             (self.outcome_view, "outcome-view")):
            widget.add_class(f"cams-{name}")

    def _layout(self) -> W.Box:
        def title(text: str) -> W.HTML:
            view = self.looks.html_view()
            view.value = f"<h4 style='margin:10px 0 4px'>{text}</h4>"
            return view

        self.confirm_box = W.VBox([self.confirm_view,
                                   W.HBox([self.send_button, self.cancel_button])],
                                  layout=W.Layout(display="none"))
        self.run_box = W.VBox([W.HBox([self.progress, self.stop_button]), self.counts_view],
                              layout=W.Layout(display="none"))
        self.check_box = W.HBox([self.check_button], layout=W.Layout(display="none"))
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
        for key in self.sources:
            self._wire_row(key)
        self.check_button.on_click(lambda _b: self.check())
        self.review_button.on_click(lambda _b: self.review())
        self.cancel_button.on_click(lambda _b: self._cancel_review())
        self.send_button.on_click(self._on_send_click)
        self.stop_button.on_click(lambda _b: self.stop())

    def _wire_row(self, key: str) -> None:
        def on_source(change: dict[str, Any]) -> None:
            if not self._hold:
                self._on_source(key, change["new"])

        def on_value(change: dict[str, Any]) -> None:
            if not self._hold and isinstance(self.model.source(key), Constant):
                self._edit(key, Constant("" if change["new"] is None else str(change["new"])))
                self._refresh()

        self.sources[key].observe(on_source, names="value")
        self.values[key].observe(on_value, names="value")

    def _on_source(self, key: str, token: str) -> None:
        if token == _CONSTANT:
            source: Source = Constant(str(self.values[key].value or ""))
        elif token.startswith(_COLUMN):
            source = Column(self._columns[int(token[len(_COLUMN):])])
        else:
            source = None
        self._edit(key, source)
        self._refresh()

    def _edit(self, key: str, source: Source) -> None:
        if self._sending:
            raise RuntimeError("the mapping cannot change while the campaign is being sent")
        self.model.assign(key, source)
        self._cancel_review()

    @contextmanager
    def _holding(self) -> Iterator[None]:
        """Widget events caused by showing the model are not user edits: ignore them."""
        self._hold += 1
        try:
            yield
        finally:
            self._hold -= 1

    # -- showing the model -------------------------------------------------------------------

    def _refresh(self) -> None:
        """Show the model, then re-derive the dry run, the preview and the confirmation."""
        with self._holding():
            self._show_fields()
            self._show_variables()
        show(self.check_box, len(self.frame) > AUTO_CHECK_ROWS)
        if len(self.frame) <= AUTO_CHECK_ROWS:
            self.check()
        else:
            self.model.dry, self.model.dry_error = None, ""  # stale: Check runs it again
            self._show_results()

    def _show_fields(self) -> None:
        self.values["from_"].placeholder = F.party_placeholders(
            self.mapping.constant("channel_type") or "")[0]
        for name in FIELDS:
            source = self.mapping.fields[name]
            value = source.value if isinstance(source, Constant) else ""
            options = choice_options(self.model, name)
            if options is not None:
                set_options(self.values[name], options or [("(none)", "")], value, "")
            elif value != self.values[name].value:
                self.values[name].value = value
            self.sources[name].value = self._token(source)
            self._show_value(name, isinstance(source, Constant))
        rows = [self.rows[name] for name in FIELDS if self.mapping.applies(name)]
        if list(self.fields_box.children) != rows:
            self.fields_box.children = rows

    def _show_variables(self) -> None:
        names = list(self.mapping.variables) if self.mapping.kind != "message" else []
        if names != self._shown_variables:
            self._build_variable_rows(names)
        for var in names:
            key, source = f"$({var})", self.mapping.variables[var]
            self.sources[key].value = self._token(source)
            self.values[key].value = source.value if isinstance(source, Constant) else ""
            self._show_value(key, isinstance(source, Constant))
        note = "" if names else ("<i>Free-form messages have no template variables.</i>"
                                 if self.mapping.kind == "message" else
                                 "<i>No template variables.</i>")
        failures = "".join(f"<div style='color:#b00020'>{html.escape(text)}</div>"
                           for text in self.model.failures.values())
        self.vars_note.value = note + failures

    def _build_variable_rows(self, names: list[str]) -> None:
        """One row per variable: ``$(name)``, its source, its constant (the example as hint)."""
        for key in [k for k in self.sources if k.startswith("$(")]:
            for widget in (self.sources.pop(key), self.values.pop(key), self.labels.pop(key),
                           self.rows.pop(key)):
                widget.close()
        examples = self.model.examples()
        rows = []
        for var in names:
            key = f"$({var})"
            text = W.Text(continuous_update=False, placeholder=examples.get(var, ""),
                          layout=self._value_layout, style=self.looks.text)
            rows.append(self._mapping_row(key, key, text))
            self._wire_row(key)
        self.vars_box.children = rows
        self._shown_variables = names

    def _show_value(self, key: str, visible: bool) -> None:
        """The constant's input is in its row only while the source is ``constant``."""
        parts = (self.labels[key], self.sources[key]) + ((self.values[key],) if visible else ())
        if self.rows[key].children != parts:
            self.rows[key].children = parts

    def _token(self, source: Source) -> str:
        if isinstance(source, Column):
            return f"{_COLUMN}{self._columns.index(source.name)}"
        return _CONSTANT if isinstance(source, Constant) else _UNSET

    def _show_results(self) -> None:
        dry = self.model.dry
        self.dry_view.value = H.dry_run_html(dry, self.model.dry_error)
        self.preview_view.value = H.rows_html(list(self.model.previews(self.preview_rows)))
        if not self._sending and self.result is None:
            self._state = ("ready" if dry is not None and dry.valid else
                           "nothing to send" if dry is not None or self.model.dry_error else
                           "unchecked")


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
