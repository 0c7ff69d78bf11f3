"""Filling and reading the composer's form: :meth:`Composer.set` and the ``Message`` it holds.

Part of :class:`~.composer.Composer` (a mixin). Filling goes through the widgets, exactly as
typing would, so the form and what ``set()`` produced can never disagree; reading turns the
widgets' values into ``Message`` keyword arguments and checks them against the model and the
chosen template.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import ipywidgets as W
import traitlets

from ..content import dumps
from ..models import WIRE_NAMES, Message
from ..problems import Problem, problem
from ..templates import Template, TemplateSummary, normalise_language
from . import fields as F

if TYPE_CHECKING:  # typing.Self is 3.11+; annotations are never evaluated at runtime
    from typing_extensions import Self

__all__ = ["SETTABLE", "TEMPLATE_FIELDS", "TOP", "Form"]

TOP = ("channel_type", "type", "from_", "to")
TEMPLATE_FIELDS = ("template_code", "template_name", "language", "template_params")
SETTABLE = frozenset(TOP + TEMPLATE_FIELDS + ("message_type", "content") + F.ADVANCED)
_BY_WIRE = {wire: name for name, wire in WIRE_NAMES.items()}


class Form:
    """Programmatic filling (``set``) and reading (``_collect``, ``_check``) of the form."""

    # provided by the Composer
    fields: dict[str, W.ValueWidget]
    _specs: dict[str, F.WidgetSpec]
    _content_keys: list[str]
    _summaries: dict[str, list[TemplateSummary]]
    _template: Template | None
    _var_values: dict[str, str]

    def _holding(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _sync(self) -> None:
        raise NotImplementedError

    def set(self, **values: Any) -> Self:
        """Fill the form programmatically with Message fields (snake_case or wire names).

        ``type`` follows from the fields when not given; ``content`` may be a dict, a content
        model or JSON text; ``template_params`` a dict.
        """
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
        with self._holding():
            for name in TOP:
                if name in data:
                    self._put(WIRE_NAMES[name], data[name])
                    self._sync()
            if "template_code" in data or "template_name" in data:
                self._choose_template(data.get("template_code"), data.get("template_name"))
            if data.get("language") is not None:
                self._put("Language", normalise_language(str(data["language"])))
                self._sync()
            if "template_params" in data:
                self._set_params(data["template_params"])
            if "message_type" in data:
                self._put("MessageType", data["message_type"])
                self._sync()
            if "content" in data:
                self._set_content(data["content"])
            for name in F.ADVANCED:
                if name in data:
                    self._put(WIRE_NAMES[name], data[name])
        return self

    # -- reading the form --------------------------------------------------------------------

    def _collect(self) -> dict[str, Any]:
        """The form as ``Message`` keyword arguments; inputs that do not apply are left out."""
        channel, kind = self.fields["ChannelType"].value, self.fields["Type"].value
        data: dict[str, Any] = {"channel_type": channel, "type": kind}
        names = ["from_", "to"] + [n for n in F.ADVANCED
                                   if channel == "viber" or n not in F.VIBER_ONLY]
        for name in names:
            key = WIRE_NAMES[name]
            data[name] = F.form_value(self._specs[key], self.fields[key].value)
        if kind == "template":
            data["template_code"] = self.fields["TemplateCode"].value or None
            data["language"] = self.fields["Language"].value or None
            if self._template is not None and self._template.variables:
                data["template_params"] = self._params()
        else:
            data["message_type"] = self.fields["MessageType"].value or None
            data["content"] = self._content_value()
        return {k: v for k, v in data.items() if v is not None}

    def _params(self) -> dict[str, str]:
        names = self._template.variables if self._template is not None else ()
        return {v: self._var_values[v] for v in names if self._var_values.get(v, "") != ""}

    def _content_value(self) -> Any:
        if self._content_keys == ["Content"]:
            return F.form_value(self._specs["Content"], self.fields["Content"].value)
        values = ((self._specs[k].key, F.form_value(self._specs[k], self.fields[k].value))
                  for k in self._content_keys)
        return {key: value for key, value in values if value is not None}

    def _raw_content(self) -> Any:
        if self._content_keys == ["Content"]:
            text = self.fields["Content"].value
            try:
                return json.loads(text)
            except ValueError:
                return text
        return {self._specs[k].key: self.fields[k].value for k in self._content_keys
                if str(self.fields[k].value).strip()}

    def _check(self, data: dict[str, Any]) -> tuple[Message | None, list[Problem]]:
        message, problems = Message.check(data)
        template = self._template if data["type"] == "template" else None
        if template is not None:
            problems += template.check_params(data.get("template_params") or {})
            if not template.approved:
                problems.append(problem(
                    "TemplateCode", "not_approved",
                    f"The template {template.name} ({template.language}) is "
                    f"{template.audit_status or 'not approved'}: CAMS sends approved "
                    "templates only."))
        return (message if not problems else None), problems

    def _choose_template(self, code: str | None, name: str | None) -> None:
        self._sync()
        summaries = self._summaries.get(self.fields["ChannelType"].value, [])
        match = [s for s in summaries if s.template_code == code or (
            code is None and s.template_name == name)]
        if not match:
            wanted = code or name
            raise ValueError(f"template {wanted!r} is not among this account's "
                             f"{self.fields['ChannelType'].value} templates")
        self._put("TemplateCode", match[0].template_code)
        self._sync()

    # -- setting values ----------------------------------------------------------------------

    def _put(self, key: str, value: Any) -> None:
        widget = self.fields[key]
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
        self._var_values.update({str(k): "" if v is None else str(v) for k, v in params.items()})
        for var in params:
            widget = self.fields.get(f"TemplateParams.{var}")
            if widget is not None:
                widget.value = self._var_values[str(var)]

    def _set_content(self, content: Any) -> None:
        if hasattr(content, "to_wire"):
            content = content.to_wire()
        if self._content_keys == ["Content"]:
            self._put("Content", content if isinstance(content, str) else dumps(content))
            return
        if isinstance(content, str):
            content = json.loads(content)
        if not isinstance(content, Mapping):
            raise TypeError(f"content must be a dict for this message type, not "
                            f"{type(content).__name__}")
        lookup = {}
        for key in self._content_keys:
            spec = self._specs[key]
            lookup.update({spec.key: key, spec.name: key, spec.key.lower(): key})
        unknown = [k for k in content if k not in lookup]
        if unknown:
            expected = ", ".join(self._specs[k].key for k in self._content_keys)
            raise ValueError(f"{', '.join(map(repr, unknown))} is not a content field here; "
                             f"expected: {expected}")
        for key in self._content_keys:
            self.fields[key].value = ""
        for name, value in content.items():
            self._put(lookup[name], value)
