"""The campaign panel's first step: one row per request field and template variable.

A part of :class:`~.campaign.CampaignPanel`. Each row has a label, a source (a column of the
frame, a constant, or not set) and, for a constant, its input. The rows show the panel's
:class:`~.campaign_model.CampaignModel`; a user's change of a source or constant goes to
``on_edit(key, source)``. Widget events caused by showing the model are not user edits, and
are ignored.

A constant applies as it is typed, like the composer's inputs: each keystroke reaches the
kernel (``continuous_update``), and the edit is applied once typing pauses for
:data:`TYPING_PAUSE` seconds (debounced, so a fast typist does not run one dry run of the
whole frame per key). Without a running event loop (a script, a test) an edit applies at once.
Rows are labelled in plain words (:mod:`.labels`), the wire name in the tooltip.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any

import ipywidgets as W

from ..campaigns.mapping import FIELDS, CampaignMapping, Column, Constant, Source
from ..models import WIRE_NAMES
from . import fields as F
from . import labels as L
from .campaign_model import CampaignModel, choice_options
from .looks import Looks, css_hook, set_options

__all__ = ["TYPING_PAUSE", "MappingRows"]

TYPING_PAUSE = 0.3
"""Seconds of no typing after which a typed constant is applied (and the dry run runs)."""

_UNSET, _CONSTANT, _COLUMN = "", "=", "col:"
_CHOICE_FIELDS = ("channel_type", "type", "template_code", "language", "message_type")


class MappingRows:
    """Rows by field (``to``) or variable (``$(name)``): :attr:`sources`, :attr:`values`,
    :attr:`labels` and :attr:`rows`, in :attr:`fields_box` and :attr:`vars_box`."""

    def __init__(self, model: CampaignModel, looks: Looks,
                 on_edit: Callable[[str, Source], None]) -> None:
        self.model, self.looks, self._on_edit = model, looks, on_edit
        self._columns: list[Hashable] = list(model.columns)
        self._shown_variables: list[str] | None = None
        self._hold = 0
        self._pending: dict[str, asyncio.TimerHandle] = {}
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
                     else W.Text(continuous_update=True, layout=layout, style=looks.text))
            self._row(_label(name), name, value, tooltip=L.tooltip(WIRE_NAMES[name]))
        self.fields_box = W.VBox()
        self.vars_box, self.vars_note = W.VBox(), looks.html_view()
        for key in self.sources:
            self._wire(key)

    @property
    def mapping(self) -> CampaignMapping:
        return self.model.mapping

    def inputs(self) -> tuple[W.Widget, ...]:
        """Every source and constant input (disabled while a campaign is sent)."""
        return (*self.sources.values(), *self.values.values())

    def show(self) -> None:
        """Show the model's mapping: fields, then the variables of the template(s) in use."""
        with self._holding():
            self._show_fields()
            self._show_variables()

    # -- building and wiring -----------------------------------------------------------------

    def _row(self, label: str, key: str, value: W.ValueWidget, *, tooltip: str = "") -> W.HBox:
        options = [(f"column: {c}", f"{_COLUMN}{i}") for i, c in enumerate(self._columns)]
        source = W.Dropdown(options=[*options, ("constant", _CONSTANT), ("(not set)", _UNSET)],
                            layout=self._source_layout, style=self.looks.choice)
        self.sources[key], self.values[key] = source, value
        self.labels[key] = self.looks.html_view(self._label_layout)
        self.labels[key].value = (f"<b title='{html.escape(tooltip, quote=True)}'>"
                                  f"{html.escape(label)}</b>")
        self.rows[key] = W.HBox([self.labels[key], source, value], layout=self._row_layout)
        return self.rows[key].add_class(css_hook("map", key))

    def _wire(self, key: str) -> None:
        def on_source(change: dict[str, Any]) -> None:
            if not self._hold:
                self._on_source(key, change["new"])

        def on_value(_change: dict[str, Any]) -> None:
            if not self._hold and isinstance(self.model.source(key), Constant):
                self._typed(key)

        self.sources[key].observe(on_source, names="value")
        self.values[key].observe(on_value, names="value")

    def _typed(self, key: str) -> None:
        """A person typed (or chose) a constant: apply it now, or once typing pauses."""
        if isinstance(self.values[key], W.Dropdown):
            self._apply(key)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._apply(key)
            return
        waiting = self._pending.pop(key, None)
        if waiting is not None:
            waiting.cancel()
        self._pending[key] = loop.call_later(TYPING_PAUSE, self._apply, key)

    def _apply(self, key: str) -> None:
        """The constant as it reads now (typing may have gone on), into the model."""
        self._pending.pop(key, None)
        if key not in self.values or not isinstance(self.model.source(key), Constant):
            return  # the row is gone (another template), or its source changed meanwhile
        value = self.values[key].value
        if not isinstance(self.values[key], W.Dropdown):
            self.model.typed.add(key)
        self._on_edit(key, Constant("" if value is None else str(value)))

    def _on_source(self, key: str, token: str) -> None:
        if token == _CONSTANT:
            source: Source = Constant(str(self.values[key].value or ""))
        elif token.startswith(_COLUMN):
            source = Column(self._columns[int(token[len(_COLUMN):])])
        else:
            source = None
        self._on_edit(key, source)

    @contextmanager
    def _holding(self) -> Iterator[None]:
        self._hold += 1
        try:
            yield
        finally:
            self._hold -= 1

    # -- showing the mapping -----------------------------------------------------------------

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
            text = W.Text(continuous_update=True, placeholder=examples.get(var, ""),
                          layout=self._value_layout, style=self.looks.text)
            rows.append(self._row(key, key, text, tooltip=L.tooltip(f"TemplateParams.{var}")))
            self._wire(key)
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


def _label(name: str) -> str:
    """A field's row label in plain words."""
    if name == "template_params":
        return L.label("TemplateParams")
    return L.label(WIRE_NAMES[name])
