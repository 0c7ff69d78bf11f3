"""The composer's form: its inputs, kept to the ``Message`` model, filled and read.

A part of :class:`~.composer.Composer`. Inputs come from :func:`.fields.widget_spec`; which
apply follows the channel, the type and the MessageType (:meth:`Form.sync`), and the chosen
template gives one input per variable. Filling (:meth:`Form.set`) goes through the widgets,
exactly as typing would, so the form and what ``set()`` produced can never disagree; reading
(:meth:`Form.read`) turns the widgets' values into ``Message`` keyword arguments and checks
them against the model and the chosen template.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import ipywidgets as W
import traitlets

from ..content import MESSAGE_TYPES, content_model_for, dumps
from ..models import WIRE_NAMES, Message
from ..problems import Problem, problem
from ..templates import Template, normalise_language
from . import fields as F
from . import labels as L
from . import status_html as S
from .looks import Looks, css_hook, describe, make_widget, set_options, show
from .template_choices import TemplateChoices

__all__ = ["SETTABLE", "TEMPLATE_FIELDS", "TOP", "Form"]

TOP = ("channel_type", "type", "from_", "to")
TEMPLATE_FIELDS = ("template_code", "template_name", "language", "template_params")
SETTABLE = frozenset(TOP + TEMPLATE_FIELDS + ("message_type", "content") + F.ADVANCED)
_BY_WIRE = {wire: name for name, wire in WIRE_NAMES.items()}


class Form:
    """Inputs by wire name (``To``, ``TemplateCode``, ``Content.text``,
    ``TemplateParams.name``…), each with its row, error line and, for text, a count.

    ``on_change()`` is called after every edit, unless the form is being filled or read
    (:attr:`hold`): then once, at the end.
    """

    def __init__(self, looks: Looks, templates: TemplateChoices,
                 on_change: Callable[[], None]) -> None:
        self.looks, self.templates, self._on_change = looks, templates, on_change
        self.fields: dict[str, W.ValueWidget] = {}
        self.errors: dict[str, W.HTML] = {}
        self.rows: dict[str, W.Box] = {}
        self.counts: dict[str, W.HTML] = {}
        self.specs: dict[str, F.WidgetSpec] = {}
        self.content_keys: list[str] = []
        self.template: Template | None = None
        """The chosen template's detail, while the type is template and it could be had."""
        self.var_values: dict[str, str] = {}
        """Template variables as typed; kept when another template or language is chosen."""
        self.hold = 0
        self.touched: set[str] = set()
        """Inputs a person edited (or ``set()`` filled): their problems are shown; the others'
        only once a send is tried (:meth:`touch_all`)."""
        self._content_for: tuple[str, str] | None = None
        self._vars_for: object = None
        self._build()

    def _build(self) -> None:
        looks = self.looks
        for name in TOP:
            self._add(F.message_spec(name, options=L.OFFERED_CHANNELS
                                     if name == "channel_type" else None))
        self._add(F.message_spec("message_type", options=MESSAGE_TYPES["whatsapp"]))
        for key, layout in (("TemplateCode", looks.wide), ("Language", looks.plain)):
            self._row(key, describe(W.Dropdown(style=looks.choice, layout=layout),
                                    L.label(key), key))
        for name in F.ADVANCED:
            self._add(F.message_spec(name))
        for key, widget in self.fields.items():
            self._watch(key, widget)
        self.template_note = looks.html_view()
        self.vars_box = W.VBox()
        self.content_box = W.VBox()
        self.template_box = W.VBox([self.rows["TemplateCode"], self.rows["Language"],
                                    self.template_note, self.vars_box])
        self.message_box = W.VBox([self.rows["MessageType"], self.content_box])

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
        self.specs[key] = spec
        return self._row(key, make_widget(spec, self.looks), count=spec.limit is not None
                         or spec.key == "text")

    def _drop(self, key: str) -> None:
        for part in (self.rows.pop(key), self.fields.pop(key), self.errors.pop(key)):
            part.close()

    def _watch(self, key: str, widget: W.ValueWidget) -> None:
        def changed(_change: Mapping[str, Any]) -> None:
            if not self.hold:  # a person's edit; the form's own updates come while it holds
                self.touched.add(key)
            self._on_change()

        widget.observe(changed, names="value")

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Edits inside are one edit: ``on_change()`` once, at the end."""
        self.hold += 1
        try:
            yield
        finally:
            self.hold -= 1
            if not self.hold:
                self._on_change()

    # -- structure: the inputs that apply ----------------------------------------------------

    def sync(self) -> None:
        """Show the inputs that apply to the current channel, type and MessageType."""
        channel, kind = self.fields["ChannelType"].value, self.fields["Type"].value
        kinds = L.kinds(channel)  # offer only what the channel can send
        set_options(self.fields["Type"], kinds, kind, kinds[0][1] if kinds else None)
        kind = self.fields["Type"].value
        show(self.template_box, kind == "template")
        show(self.message_box, kind == "message")
        sender, recipient = F.party_placeholders(channel)
        self.fields["From"].placeholder, self.fields["To"].placeholder = sender, recipient
        for name in F.VIBER_ONLY:
            show(self.rows[WIRE_NAMES[name]], channel == "viber")
        types = MESSAGE_TYPES[channel]
        current = self.fields["MessageType"].value
        set_options(self.fields["MessageType"], [(t, t) for t in types], current, types[0])
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
            old = self.specs.get(key)
            if old is not None and old.kind != spec.kind:  # same key, other input: rebuild it
                self._drop(key)
            if key not in self.fields:
                self._add(spec, key)
                self._watch(key, self.fields[key])
            widget = self.fields[key]
            widget.placeholder = spec.placeholder
            describe(widget, spec.label, f"Content.{spec.key}" if key != "Content" else key)
            self.specs[key] = spec
            keys.append(key)
        self.content_keys = keys
        others = [k for k in self.rows if k.startswith("Content") and k not in keys]
        for key in keys + others:
            show(self.rows[key], key in keys)
        self.content_box.children = [self.rows[k] for k in keys + others]

    def _sync_template(self, channel: str) -> None:
        summaries = self.templates.summaries(channel)
        picker, chooser = self.fields["TemplateCode"], self.fields["Language"]
        set_options(picker, F.template_choices(summaries), picker.value, "")
        approved = next((s.language for s in summaries
                         if s.template_code == picker.value and s.approved), None)
        set_options(chooser, F.language_choices(summaries, picker.value), chooser.value, approved)
        code, language = picker.value, chooser.value
        self.template = self.templates.template(code, language) if code and language else None
        self._sync_vars(self.template)
        self.template_note.value = S.template_note_html(
            self.template, self.templates.note(channel, code, language))

    def _sync_vars(self, template: Template | None) -> None:
        names = template.variables if template is not None else ()
        key = (template.key if template is not None else None, names)
        if key == self._vars_for:
            return
        self._vars_for = key
        for old in [k for k in self.rows if k.startswith("TemplateParams.")]:
            self._drop(old)
        rows = []
        for var in names:
            example = template.example.get(var, "") if template is not None else ""
            widget = describe(W.Text(value=self.var_values.get(var, ""), placeholder=example,
                                     style=self.looks.text, layout=self.looks.wide),
                              var, f"TemplateParams.{var}")
            widget.observe(lambda change, var=var: self._on_var(var, change["new"]),
                           names="value")
            rows.append(self._row(f"TemplateParams.{var}", widget))
        self.vars_box.children = rows

    def _on_var(self, var: str, value: str) -> None:
        self.var_values[var] = value
        if not self.hold:
            self.touched.add(f"TemplateParams.{var}")
        self._on_change()

    def touch_all(self) -> None:
        """Show every problem from now on (a send was tried)."""
        self.touched.update(self.errors)

    def key_for(self, field: str) -> str | None:
        """The shown input a problem of a ``Message`` field belongs under, if any."""
        return next((k for k in F.field_keys(field) if k in self.errors and self._visible(k)),
                    None)

    def _visible(self, key: str) -> bool:
        kind = self.fields["Type"].value
        if key.startswith(("TemplateParams.", "TemplateCode", "Language")) and kind != "template":
            return False
        if key.startswith(("Content", "MessageType")) and kind != "message":
            return False
        return bool(self.rows[key].layout.display != "none")

    # -- reading the form --------------------------------------------------------------------

    def read(self) -> tuple[dict[str, Any], Message | None, list[Problem]]:
        """Bring the inputs up to date, then read and check them: the ``Message`` keyword
        arguments, the message (None while invalid) and its problems."""
        self.hold += 1
        try:
            self.sync()
            data = self._collect()
            message, problems = self._check(data)
        finally:
            self.hold -= 1
        return data, message, problems

    def _collect(self) -> dict[str, Any]:
        """The form as ``Message`` keyword arguments; inputs that do not apply are left out."""
        channel, kind = self.fields["ChannelType"].value, self.fields["Type"].value
        data: dict[str, Any] = {"channel_type": channel, "type": kind}
        names = ["from_", "to"] + [n for n in F.ADVANCED
                                   if channel == "viber" or n not in F.VIBER_ONLY]
        for name in names:
            key = WIRE_NAMES[name]
            data[name] = F.form_value(self.specs[key], self.fields[key].value)
        if kind == "template":
            data["template_code"] = self.fields["TemplateCode"].value or None
            data["language"] = self.fields["Language"].value or None
            if self.template is not None and self.template.variables:
                data["template_params"] = self.params()
        else:
            data["message_type"] = self.fields["MessageType"].value or None
            data["content"] = self._content_value()
        return {k: v for k, v in data.items() if v is not None}

    def params(self) -> dict[str, str]:
        """The chosen template's variables that have a value."""
        names = self.template.variables if self.template is not None else ()
        return {v: self.var_values[v] for v in names if self.var_values.get(v, "") != ""}

    def _content_value(self) -> Any:
        if self.content_keys == ["Content"]:
            return F.form_value(self.specs["Content"], self.fields["Content"].value)
        values = ((self.specs[k].key, F.form_value(self.specs[k], self.fields[k].value))
                  for k in self.content_keys)
        return {key: value for key, value in values if value is not None}

    def raw_content(self) -> Any:
        """The content as typed (JSON parsed when it parses), for the preview."""
        if self.content_keys == ["Content"]:
            text = self.fields["Content"].value
            try:
                return json.loads(text)
            except ValueError:
                return text
        return {self.specs[k].key: self.fields[k].value for k in self.content_keys
                if str(self.fields[k].value).strip()}

    def _check(self, data: dict[str, Any]) -> tuple[Message | None, list[Problem]]:
        message, problems = Message.check(data)
        template = self.template if data["type"] == "template" else None
        if template is not None:
            problems += template.check_params(data.get("template_params") or {})
            if not template.approved:
                problems.append(problem(
                    "TemplateCode", "not_approved",
                    f"The template {template.name} ({template.language}) is "
                    f"{template.audit_status or 'not approved'}: CAMS sends approved "
                    "templates only."))
        return (message if not problems else None), problems

    # -- filling the form --------------------------------------------------------------------

    def set(self, **values: Any) -> None:
        """Fill the form with Message fields (snake_case or wire names); see ``Composer.set``."""
        data = _settable(values)
        with self.holding():
            for name in TOP:
                if name in data:
                    self._put(WIRE_NAMES[name], data[name])
                    self.sync()
            if "template_code" in data or "template_name" in data:
                self._choose_template(data.get("template_code"), data.get("template_name"))
            if data.get("language") is not None:
                self._put("Language", normalise_language(str(data["language"])))
                self.sync()
            if "template_params" in data:
                self._set_params(data["template_params"])
            if "message_type" in data:
                self._put("MessageType", data["message_type"])
                self.sync()
            if "content" in data:
                self._set_content(data["content"])
            for name in F.ADVANCED:
                if name in data:
                    self._put(WIRE_NAMES[name], data[name])

    def _choose_template(self, code: str | None, name: str | None) -> None:
        self.sync()
        channel = self.fields["ChannelType"].value
        match = [s for s in self.templates.summaries(channel) if s.template_code == code or (
            code is None and s.template_name == name)]
        if not match:
            cause = self.templates.errors.get(channel)
            if cause is not None:  # the listing failed: that is the news, not a missing template
                raise cause
            raise ValueError(f"template {code or name!r} is not among this account's "
                             f"{L.channel_name(channel)} templates")
        self._put("TemplateCode", match[0].template_code)
        self.sync()

    def _put(self, key: str, value: Any) -> None:
        widget = self.fields[key]
        self.touched.add(key)
        text = "" if value is None else value if isinstance(value, str) else str(value)
        try:
            widget.value = text
        except traitlets.TraitError:
            options = [v for _, v in widget.options] if widget.options and isinstance(
                widget.options[0], tuple) else list(widget.options)
            raise ValueError(f"{key}: {value!r} is not one of {options}") from None

    def _set_params(self, params: Any) -> None:
        if isinstance(params, str):
            params = json.loads(params)
        if not isinstance(params, Mapping):
            raise TypeError(f"template_params must be a dict, not {type(params).__name__}")
        self.var_values.update({str(k): "" if v is None else str(v) for k, v in params.items()})
        self.touched.update(f"TemplateParams.{k}" for k in params)
        for var in params:
            widget = self.fields.get(f"TemplateParams.{var}")
            if widget is not None:
                widget.value = self.var_values[str(var)]

    def _set_content(self, content: Any) -> None:
        if hasattr(content, "to_wire"):
            content = content.to_wire()
        if self.content_keys == ["Content"]:
            self._put("Content", content if isinstance(content, str) else dumps(content))
            return
        if isinstance(content, str):
            content = json.loads(content)
        if not isinstance(content, Mapping):
            raise TypeError(f"content must be a dict for this message type, not "
                            f"{type(content).__name__}")
        lookup = {}
        for key in self.content_keys:
            spec = self.specs[key]
            lookup.update({spec.key: key, spec.name: key, spec.key.lower(): key})
        unknown = [k for k in content if k not in lookup]
        if unknown:
            expected = ", ".join(self.specs[k].key for k in self.content_keys)
            raise ValueError(f"{', '.join(map(repr, unknown))} is not a content field here; "
                             f"expected: {expected}")
        for key in self.content_keys:
            self.fields[key].value = ""
            self.touched.add(key)
        for name, value in content.items():
            self._put(lookup[name], value)


def _settable(values: Mapping[str, Any]) -> dict[str, Any]:
    """``set()``'s keywords as Message field names, ``type`` inferred when not given."""
    data: dict[str, Any] = {}
    for key, value in values.items():
        name = key if key in Message.model_fields else _BY_WIRE.get(key, key)
        if name not in SETTABLE:
            raise TypeError(f"Composer.set() got {key!r}, which is not a field of the form; "
                            f"use one of: {', '.join(sorted(SETTABLE))}")
        data[name] = value
    if "type" not in data and any(n in data for n in TEMPLATE_FIELDS):
        data["type"] = "template"
    elif "type" not in data and ("message_type" in data or "content" in data):
        data["type"] = "message"
    return data
