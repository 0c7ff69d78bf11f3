"""Shared widget plumbing for the composer and the campaign panel: layouts, styles, and the
one function that turns a :class:`~.fields.WidgetSpec` into an ipywidget.

Nothing here knows about messages or campaigns; it only keeps the two forms looking alike
and keeps the number of layout/style models small.
"""

from __future__ import annotations

import html
import re
from typing import Any

import ipywidgets as W
from ipywidgets.widgets.widget_description import (
    DescriptionStyle,
)
from ipywidgets.widgets.widget_string import HTMLStyle, TextStyle

from . import fields as F
from . import labels as L

__all__ = ["Looks", "css_hook", "describe", "make_widget", "set_options", "show"]


class Looks:
    """Layouts and styles shared by the composer's widgets.

    One shared model instead of one per widget: fewer models to sync, and a notebook that
    stores widget state stays small. Only containers that are shown or hidden get their own.
    """

    def __init__(self) -> None:
        self.wide = W.Layout(width="98%")
        self.plain = W.Layout()
        self.indent = W.Layout(margin="0 0 0 155px")
        self.text = TextStyle(description_width="150px")
        self.choice = DescriptionStyle(description_width="150px")
        self.html = HTMLStyle()

    def html_view(self, layout: W.Layout | None = None) -> W.HTML:
        return W.HTML(layout=layout or self.plain, style=self.html)


def make_widget(spec: F.WidgetSpec, looks: Looks) -> W.ValueWidget:
    """The ipywidget for a spec: a dropdown, a text area or a line of text, labelled in plain
    words with the wire name as its tooltip (:mod:`.labels`)."""
    common: dict[str, Any] = {"layout": looks.wide}
    widget: W.ValueWidget
    if spec.kind == "choice":
        widget = W.Dropdown(options=[(L.option_label(spec.key, o), o) for o in spec.options],
                            value=spec.options[0] if spec.options else None,
                            style=looks.choice, **common)
    elif spec.kind in ("textarea", "json"):
        widget = W.Textarea(placeholder=spec.placeholder, rows=6 if spec.kind == "json" else 3,
                            style=looks.text, **common)
    else:
        widget = W.Text(placeholder=spec.placeholder, style=looks.text, **common)
    return describe(widget, spec.label, spec.key)


def describe(widget: W.ValueWidget, label: str, wire: str) -> W.ValueWidget:
    """Label ``widget`` in words, the wire name as the label's hover hint.

    ipywidgets 8 puts a ``tooltip`` on the input only while there is no description, so the
    hint is a ``title`` on the description itself (``description_allow_html``); the text is
    escaped, and ``tooltip`` is set too for whoever reads it in Python."""
    widget.description_allow_html = True
    widget.description = (f"<span title='{html.escape(L.tooltip(wire), quote=True)}'>"
                          f"{html.escape(label)}</span>")
    widget.tooltip = L.tooltip(wire)
    return widget


def css_hook(kind: str, key: str) -> str:
    """A stable CSS class for one input row: ``css_hook("field", "TemplateParams.name")`` is
    ``cams-field-TemplateParams-name``. Browser tests and user styles select by it."""
    return f"cams-{kind}-" + re.sub(r"[^A-Za-z0-9_-]", "-", key)


def show(widget: W.Widget, visible: bool) -> None:
    """Show or hide a widget (its layout's ``display``)."""
    widget.layout.display = None if visible else "none"


def set_options(dropdown: W.Dropdown, options: list[tuple[str, str]], keep: str | None,
                default: str | None) -> None:
    """New options for a dropdown, keeping the value when it is still offered."""
    values = [v for _, v in options]
    if list(dropdown.options) != options:
        dropdown.options = options
    value = keep if keep in values else default if default in values else (
        values[0] if values else None)
    if dropdown.value != value:
        dropdown.value = value
