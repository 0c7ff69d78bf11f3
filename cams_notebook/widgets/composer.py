"""The message composer: one form driven by the :class:`~cams_notebook.models.Message` model.

The model is the source of truth: inputs come from :func:`.fields.widget_spec`, every change
is checked by :meth:`Message.check` (and :meth:`Template.check_params`), and each problem is
shown under its field. The look is :mod:`.preview` (pure HTML); this module only builds
widgets (:meth:`Composer._build`), arranges them (:meth:`Composer._layout`) and wires them
(:meth:`Composer._wire`, :meth:`Composer._refresh`). Filling and reading the form is
:mod:`.form`; sending and watching receipts is :mod:`.sending`.

A click on Send runs the send in an asyncio task when a loop is running (as in ipykernel), so
the notebook stays responsive and Stop is processed; otherwise it sends synchronously.
Against the sandbox it then watches the delivery receipts of that message. No widget ever
holds a credential: the client stays a plain attribute, and the wire preview shows only the
request parameters.

Without a client it uses ``Client.from_env()`` once one is needed; without credentials it
still composes and previews (the template picker says why it is empty) and Send explains
what to set instead of raising in the notebook (see :mod:`.sending`).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import ipywidgets as W

from ..client import Client
from ..content import MESSAGE_TYPES, content_model_for
from ..errors import CamsError, MissingCredentialsError
from ..models import WIRE_NAMES, Message
from ..problems import Problem
from ..templates import Template, TemplateSummary
from . import fields as F
from . import preview as P
from .form import TOP as _TOP
from .form import Form
from .looks import Looks, css_hook, make_widget
from .looks import set_options as _set_options
from .looks import show as _show
from .sending import RECEIPT_POLL_INTERVAL, RECEIPT_POLL_TIMEOUT, Result, Sending

__all__ = ["RECEIPT_POLL_INTERVAL", "RECEIPT_POLL_TIMEOUT", "Composer", "Looks", "make_widget"]

_TEMPLATE_TYPES = {"whatsapp": "WHATSAPP", "viber": "VIBER"}


class Composer(Form, Sending):
    """A form that builds one CAMS message, previews it live, checks it and sends it.

    >>> from cams_notebook.sandbox import Sandbox
    >>> composer = Composer(Sandbox(seed=1, receipt_delay=0).client())
    >>> composer.set(to="8613900000000", from_="8613800000000",
    ...              template_code="830174529611842305", language="en",
    ...              template_params={"name": "Ada", "order_id": "A-1"})
    Composer(channel='whatsapp', type='template', ready=True)
    >>> composer.send().code
    'OK'

    ``Composer()`` without a client uses ``Client.from_env()``: the real service. For the local
    sandbox say so: ``Composer(Client.sandbox())``.
    """

    def __init__(self, client: Client | None = None) -> None:
        if client is not None and inspect.iscoroutinefunction(getattr(client, "send", None)):
            raise TypeError("Composer needs a blocking cams_notebook.Client (it lists templates "
                            "as you type, and sends in the background itself), not an AsyncClient")
        self._client = client
        self.fields: dict[str, W.ValueWidget] = {}
        """Inputs by wire name: ``To``, ``TemplateCode``, ``Content.text``,
        ``TemplateParams.name``…"""
        self.errors: dict[str, W.HTML] = {}
        self.rows: dict[str, W.Box] = {}
        self.counts: dict[str, W.HTML] = {}
        self._specs: dict[str, F.WidgetSpec] = {}
        self._content_keys: list[str] = []
        self._content_for: tuple[str, str] | None = None
        self._summaries: dict[str, list[TemplateSummary]] = {}
        self._details: dict[tuple[str, str], Template] = {}
        self._template: Template | None = None
        self._failures: dict[object, str] = {}
        """Failed look-ups by channel or (code, language): shown, and not retried per keystroke."""
        self._var_values: dict[str, str] = {}
        self._vars_for: object = None
        self._observers: list[Callable[[Message], object]] = []
        self._hold = 0
        self._data: dict[str, Any] = {}
        self._message: Message | None = None
        self._problems: list[Problem] = []
        self._notified: Message | None = None
        self._sending = False
        self.result: Result | None = None
        """The last send's :class:`SendResult`, or the :class:`CamsError` it raised."""
        self.send_task: asyncio.Task[Result] | None = None
        self.receipt_task: asyncio.Task[str | None] | None = None
        self._build()
        self.widget = self._layout()
        self._wire()
        self._refresh()

    # -- public API --------------------------------------------------------------------------

    @property
    def message(self) -> Message | None:
        """The current message when it is valid, else None."""
        return self._message

    @property
    def problems(self) -> list[Problem]:
        """Everything wrong with the current input; empty when the message can be sent."""
        return list(self._problems)

    @property
    def value(self) -> dict[str, str]:
        """The wire parameters of the current message, or ``{}`` while it is invalid."""
        return self._message.to_query() if self._message is not None else {}

    @property
    def code(self) -> str | None:
        """Python that builds and sends the current message, or None while it is invalid."""
        if self._message is None:
            return None
        # the code reaches what this composer reaches: the sandbox, or the environment's account
        client = self._client
        return P.message_code(self._data, sandbox=client is not None and client.sandbox is not None)

    def observe(self, callback: Callable[[Message], object]) -> None:
        """Call ``callback(message)`` whenever a change leaves a valid, different message."""
        self._observers.append(callback)

    def unobserve(self, callback: Callable[[Message], object]) -> None:
        self._observers.remove(callback)

    # -- display -----------------------------------------------------------------------------

    def __repr__(self) -> str:
        return (f"Composer(channel={self.fields['ChannelType'].value!r}, "
                f"type={self.fields['Type'].value!r}, ready={self._message is not None})")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = repr(self)
        return bundle

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)  # type: ignore[no-untyped-call]

    # -- building (widgets from specs) -------------------------------------------------------

    def _row(self, key: str, widget: W.ValueWidget, *, count: bool = False) -> W.VBox:
        self.fields[key] = widget
        self.errors[key] = self.looks.html_view()
        parts: list[W.Widget] = [widget]
        if count:
            self.counts[key] = self.looks.html_view(self.looks.indent)
            parts.append(self.counts[key])
        parts.append(self.errors[key])
        self.rows[key] = W.VBox(parts).add_class(css_hook("field", key))
        return self.rows[key]

    def _add(self, spec: F.WidgetSpec, key: str | None = None) -> W.VBox:
        key = key or spec.key
        self._specs[key] = spec
        return self._row(key, make_widget(spec, self.looks), count=spec.limit is not None
                         or spec.key == "text")

    def _build(self) -> None:
        looks = self.looks = Looks()
        for name in _TOP:
            self._add(F.message_spec(name))
        self._add(F.message_spec("message_type", options=MESSAGE_TYPES["whatsapp"]))
        self._row("TemplateCode", W.Dropdown(description="Template", style=looks.choice,
                                             layout=looks.wide))
        self._row("Language", W.Dropdown(description="Language", style=looks.choice,
                                         layout=looks.plain))
        for name in F.ADVANCED:
            self._add(F.message_spec(name))
        self.template_note = looks.html_view()
        self.vars_box = W.VBox()
        self.content_box = W.VBox()
        self.summary, self.general, self.preview = (looks.html_view() for _ in range(3))
        self.send_button = W.Button(description="Send", button_style="primary",
                                    icon="paper-plane")
        self.code_button = W.Button(description="Copy as code", icon="code")
        self.stop_button = W.Button(description="Stop", icon="stop", layout=W.Layout(
            display="none"))
        self.result_view, self.receipt_view = looks.html_view(), looks.html_view()
        self.code_view = looks.html_view(W.Layout(display="none"))
        # stable hooks for the browser tests and for user CSS
        for widget, name in ((self.preview, "preview-pane"), (self.send_button, "send"),
                             (self.stop_button, "stop"), (self.code_button, "copy-code"),
                             (self.result_view, "result-view"),
                             (self.receipt_view, "receipt-view"), (self.summary, "summary-view")):
            widget.add_class(f"cams-{name}")

    def _layout(self) -> W.Box:
        self.template_box = W.VBox([self.rows["TemplateCode"], self.rows["Language"],
                                    self.template_note, self.vars_box])
        self.message_box = W.VBox([self.rows["MessageType"], self.content_box])
        self.advanced = W.Accordion(
            children=[W.VBox([self.rows[WIRE_NAMES[n]] for n in F.ADVANCED])],
            titles=("Advanced",))
        form = W.VBox([*(self.rows[WIRE_NAMES[n]] for n in _TOP), self.template_box,
                       self.message_box, self.advanced, self.summary, self.general,
                       W.HBox([self.send_button, self.code_button, self.stop_button]),
                       self.result_view, self.receipt_view, self.code_view],
                      layout=W.Layout(flex="1 1 55%", min_width="360px"))
        side = W.VBox([self.preview], layout=W.Layout(flex="1 1 45%", padding="0 0 0 12px"))
        return W.HBox([form, side], layout=W.Layout(flex_flow="row wrap")).add_class(
            "cams-composer")

    # -- wiring ------------------------------------------------------------------------------

    def _wire(self) -> None:
        for widget in self.fields.values():
            widget.observe(self._on_input, names="value")
        self.send_button.on_click(self._on_send_click)
        self.code_button.on_click(self._on_code_click)
        self.stop_button.on_click(lambda _button: self.stop())

    def _on_input(self, _change: Mapping[str, Any]) -> None:
        self._refresh()

    @contextmanager
    def _holding(self) -> Iterator[None]:
        self._hold += 1
        try:
            yield
        finally:
            self._hold -= 1
            if not self._hold:
                self._refresh()

    def _refresh(self) -> None:
        """Re-derive everything from the inputs: structure, problems, preview, Send state."""
        if self._hold:
            return
        self._hold += 1
        try:
            self._sync()
            data = self._collect()
            message, problems = self._check(data)
        finally:
            self._hold -= 1
        self._data, self._message, self._problems = data, message, problems
        self._show_problems(problems)
        self._render(data, message)
        self.send_button.disabled = message is None or self._sending
        self.code_button.disabled = message is None
        if message is None:
            _show(self.code_view, False)
        elif self.code_view.layout.display != "none":
            self._on_code_click(None)
        if message is not None and message != self._notified:
            self._notified = message
            for callback in list(self._observers):
                callback(message)

    def _sync(self) -> None:
        """Show the inputs that apply to the current channel, type and MessageType."""
        channel, kind = self.fields["ChannelType"].value, self.fields["Type"].value
        _show(self.template_box, kind == "template")
        _show(self.message_box, kind == "message")
        sender, recipient = F.party_placeholders(channel)
        self.fields["From"].placeholder, self.fields["To"].placeholder = sender, recipient
        for name in F.VIBER_ONLY:
            _show(self.rows[WIRE_NAMES[name]], channel == "viber")
        types = MESSAGE_TYPES[channel]
        current = self.fields["MessageType"].value
        _set_options(self.fields["MessageType"], [(t, t) for t in types], current, types[0])
        if kind == "template":
            self._sync_template(channel)
        else:
            self._sync_content(channel, self.fields["MessageType"].value)

    def _sync_content(self, channel: str, message_type: str) -> None:
        if self._content_for == (channel, message_type):
            return
        self._content_for = (channel, message_type)
        model = content_model_for(channel, message_type)
        keys: list[str] = []
        for spec in F.content_specs(model) if model is not None else ():
            key = "Content" if spec.kind == "json" else f"Content.{spec.key}"
            old = self._specs.get(key)
            if old is not None and old.kind != spec.kind:  # same key, other input: rebuild it
                for part in (self.rows.pop(key), self.fields.pop(key), self.errors.pop(key)):
                    part.close()
            if key not in self.fields:
                self._add(spec, key)
                self.fields[key].observe(self._on_input, names="value")
            widget = self.fields[key]
            widget.description, widget.placeholder = spec.label, spec.placeholder
            self._specs[key] = spec
            keys.append(key)
        self._content_keys = keys
        others = [k for k in self.rows if k.startswith("Content") and k not in keys]
        for key in keys + others:
            _show(self.rows[key], key in keys)
        self.content_box.children = [self.rows[k] for k in keys + others]

    def _sync_template(self, channel: str) -> None:
        summaries = self._load_summaries(channel)
        picker, chooser = self.fields["TemplateCode"], self.fields["Language"]
        _set_options(picker, F.template_choices(summaries), picker.value, "")
        approved = next((s.language for s in summaries
                         if s.template_code == picker.value and s.approved), None)
        _set_options(chooser, F.language_choices(summaries, picker.value), chooser.value, approved)
        code, language = picker.value, chooser.value
        self._template = self._load_template(code, language) if code and language else None
        self._sync_vars(self._template)
        error = self._failures.get((code, language)) or self._failures.get(channel) or (
            "" if channel in _TEMPLATE_TYPES
            else "CAMS keeps templates for WhatsApp and Viber only.")
        self.template_note.value = P.template_note_html(self._template, error)

    def _sync_vars(self, template: Template | None) -> None:
        names = template.variables if template is not None else ()
        key = (template.key if template is not None else None, names)
        if key == self._vars_for:
            return
        self._vars_for = key
        for old in [k for k in self.rows if k.startswith("TemplateParams.")]:
            for widget in (self.rows.pop(old), self.fields.pop(old), self.errors.pop(old)):
                widget.close()
        rows = []
        for var in names:
            example = template.example.get(var, "") if template is not None else ""
            widget = W.Text(value=self._var_values.get(var, ""), description=var,
                            placeholder=example, style=self.looks.text, layout=self.looks.wide)
            widget.observe(lambda change, var=var: self._on_var(var, change["new"]),
                           names="value")
            rows.append(self._row(f"TemplateParams.{var}", widget))
        self.vars_box.children = rows

    def _on_var(self, var: str, value: str) -> None:
        self._var_values[var] = value
        self._refresh()

    # -- showing -----------------------------------------------------------------------------

    def _key_for(self, field: str) -> str | None:
        return next((k for k in F.field_keys(field) if k in self.errors and self._visible(k)),
                    None)

    def _visible(self, key: str) -> bool:
        kind = self.fields["Type"].value
        if key.startswith(("TemplateParams.", "TemplateCode", "Language")) and kind != "template":
            return False
        if key.startswith(("Content", "MessageType")) and kind != "message":
            return False
        return bool(self.rows[key].layout.display != "none")

    def _show_problems(self, problems: list[Problem]) -> None:
        placed: dict[str, list[Problem]] = {}
        general: list[Problem] = []
        for p in problems:
            key = self._key_for(p.field)
            if key is None:
                general.append(p)
            else:
                placed.setdefault(key, []).append(p)
        for key, view in self.errors.items():
            view.value = P.problems_html(placed.get(key, []))
        self.general.value = P.problems_html(general)
        self.summary.value = P.summary_html(problems)
        advanced = {WIRE_NAMES[n] for n in F.ADVANCED}
        if placed.keys() & advanced:
            self.advanced.selected_index = 0  # open it so the problem is seen; never close it

    def _render(self, data: dict[str, Any], message: Message | None) -> None:
        channel = data["channel_type"]
        if data["type"] == "template":
            template = self._template
            bubble = P.template_bubble(channel, template.render(self._params()) if template
                                       else None)
        else:
            bubble = P.content_bubble(channel, data.get("message_type"), self._raw_content())
        sms = P.sms_html(data.get("fall_back_content"), data.get("fall_back_id"))
        wire = P.wire_html(message.to_query() if message is not None else None)
        self.preview.value = P.page_html(bubble, sms, wire)
        for key, view in self.counts.items():
            if key in self.fields:
                view.value = P.count_html(len(self.fields[key].value or ""),
                                          self._specs[key].limit)

    # -- templates ---------------------------------------------------------------------------

    def _load_summaries(self, channel: str) -> list[TemplateSummary]:
        if channel not in _TEMPLATE_TYPES:
            return []
        if channel not in self._summaries:
            wanted = _TEMPLATE_TYPES[channel]
            try:
                rows = self.client.list_templates(template_type=wanted)
            except (CamsError, MissingCredentialsError) as exc:
                rows, self._failures[channel] = [], f"Could not list templates: {exc}"
            self._summaries[channel] = [s for s in rows
                                        if (s.template_type or wanted).upper() == wanted]
        return self._summaries[channel]

    def _load_template(self, code: str, language: str) -> Template | None:
        key = (code, language)
        if key not in self._details and key not in self._failures:
            try:
                self._details[key] = self.client.get_template(code, language=language)
            except (CamsError, MissingCredentialsError) as exc:
                self._failures[key] = f"Could not load template {code} ({language}): {exc}"
        return self._details.get(key)

    def _on_code_click(self, _button: W.Button | None) -> None:
        code = self.code
        if code is None:
            return
        self.code_view.value = P.code_html(code)
        _show(self.code_view, True)
