"""From a DataFrame to requests, with no I/O: column mapping, cell rules, row keys, dry-run
findings.

Mapping rules (what a user can rely on):

* a column named after a request field, in snake_case (``to``, ``template_code``, ``from_``
  or ``from``) or the wire's PascalCase (``To``, ``TemplateCode``), supplies that field per
  row; other columns are ignored;
* keyword constants (``channel_type="whatsapp"``, ``language="en"``) apply to every row; a
  constant and a column for the same field is an error, not a silent choice;
* template variables come from a column holding dicts or JSON text (``template_params`` /
  ``TemplateParams``), or from columns named by ``params=["name", "code"]``, or from a
  ``{variable: column}`` mapping;
* empty cells (``None``, ``NaN``, ``NA``, ``NaT``, ``""``) are absent values, never the
  text ``"nan"``; whole-number floats (``8.6138e12`` from a CSV) become integers, so a phone
  number read as a float is sent as its digits; numbers used as template variables become
  text.

What makes a row the same row: its ``key``, which the journal uses to send it at most
once. By default a row is its recipient within the campaign: the campaign id, ChannelType,
From and To (after normalisation, so ``+86 139-0000-0000`` and ``8613900000000`` are one
person). With ``key="customer_id"`` it is the campaign and that column's value instead, for
a campaign that sends several messages to one person. The input index plays no part: it
only maps results back to the input, so an edited, re-sorted or re-indexed frame keeps
every row's identity. Two rows with the same identity in one campaign are an error
(``duplicate_recipient``, or ``duplicate_key`` with ``key=``): one of them would never be
sent, and sending both is what a campaign must not do by accident.

Each row also gets a ``digest`` of the request it makes (its wire parameters, less the
derived TaskId), so a re-run can tell a row already sent with the same message from one
whose message has changed since; and a ``TaskId`` derived from the campaign and the key
(unless the frame gives one), so receipts can be matched to rows later.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..models import WIRE_NAMES, Message
from ..problems import Problem, problem
from ..templates import Template

__all__ = ["FrameMapping", "RowPlan", "check_plans", "plan_rows", "request_digest",
           "template_requests"]

_FIELD_FOR: dict[str, str] = {}
for _name, _wire in WIRE_NAMES.items():
    _FIELD_FOR[_name] = _name
    _FIELD_FOR[_wire] = _name
_FIELD_FOR["from"] = "from_"
_PARAMS_COLUMNS = ("template_params", "TemplateParams")


@dataclass
class RowPlan:
    """One input row turned into a request (or into the problems that stop it)."""

    index: Hashable
    key: str
    fields: dict[str, Any]
    message: Message | None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    digest: str | None = None
    """A hash of the request (wire parameters but a derived TaskId); None for invalid rows."""
    keyed: bool = False
    """True when the key comes from the user's ``key=`` column, not the recipient."""

    @property
    def valid(self) -> bool:
        return self.message is not None and not self.problems


def is_blank(value: Any) -> bool:
    """True for the cells that mean 'no value': None, NaN, NA, NaT, and ''."""
    if value is None:
        return True
    if isinstance(value, str):
        return value == ""
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, (list, tuple, dict, int)):
        return False
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def normalise_cell(value: Any) -> Any:
    """A cell as a request value: numpy scalars unwrapped, whole floats as ints."""
    if (hasattr(value, "item") and not isinstance(value, (str, bytes))
            and getattr(value, "ndim", 1) == 0):
        value = value.item()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e17:
        return int(value)
    return value


def _param_text(value: Any) -> Any:
    value = normalise_cell(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return value


class FrameMapping:
    """Which column or constant feeds which request field. Built once per campaign."""

    def __init__(self, columns: Sequence[Hashable], constants: Mapping[str, Any],
                 params: Sequence[str] | Mapping[str, str] | None = None,
                 key: str | None = None) -> None:
        self.constants: dict[str, Any] = {}
        for name, value in constants.items():
            target = _FIELD_FOR.get(name)
            if target is None:
                raise TypeError(f"unknown request field {name!r} given as a constant; fields are "
                                f"the Message fields, e.g. channel_type, template_code, language")
            self.constants[target] = value
        self.columns: dict[str, int] = {}
        position = {c: i for i, c in enumerate(columns)}
        # a column read by the mapping must be there once: which copy would it be?
        read = {*(params.values() if isinstance(params, Mapping) else params or ()), key}
        twice = sorted(str(c) for c, n in Counter(columns).items() if n > 1
                       and (_FIELD_FOR.get(str(c)) or c in _PARAMS_COLUMNS or c in read))
        if twice:
            raise ValueError(f"column(s) {', '.join(map(repr, twice))} appear more than once in "
                             "the frame: keep one of each")
        for column, i in position.items():
            target = _FIELD_FOR.get(str(column)) if isinstance(column, str) else None
            if target is None or column in _PARAMS_COLUMNS:
                continue
            if target in self.columns:
                raise ValueError(f"two columns feed {WIRE_NAMES[target]}: keep one of them")
            if target in self.constants:
                raise ValueError(f"{WIRE_NAMES[target]} is given both as column {column!r} and as "
                                 "a constant: drop one of them")
            self.columns[target] = i
        present = [c for c in _PARAMS_COLUMNS if c in position]
        if len(present) > 1:
            raise ValueError("two columns feed TemplateParams: keep one of them")
        if present and "template_params" in self.constants:
            raise ValueError(f"TemplateParams is given both as column {present[0]!r} and as a "
                             "constant: drop one of them")
        self.params_column = position[present[0]] if present else None
        if params is None:
            self.param_columns: dict[str, int] = {}
        else:
            spec = dict(params) if isinstance(params, Mapping) else {p: p for p in params}
            missing = [c for c in spec.values() if c not in position]
            if missing:
                raise ValueError("params names column(s) not in the frame: "
                                 f"{', '.join(map(repr, missing))}")
            self.param_columns = {var: position[col] for var, col in spec.items()}
        if self.param_columns and ("template_params" in self.constants):
            raise ValueError("template variables given both by params= and as a constant")
        self.key_column = None
        if key is not None:
            if key not in position:
                raise ValueError(f"key column {key!r} is not in the frame")
            self.key_column = position[key]
        self.signature = hashlib.sha256(json.dumps(
            [sorted((k, repr(v)) for k, v in self.constants.items()), sorted(self.columns),
             sorted(self.param_columns), key], default=str).encode()).hexdigest()[:12]

    def fields_for(self, values: Sequence[Any]) -> dict[str, Any]:
        """The request fields of one row (``values`` in column order)."""
        out = dict(self.constants)
        for name, i in self.columns.items():
            value = values[i]
            if not is_blank(value):
                out[name] = normalise_cell(value)
        params: dict[str, Any] | None = None
        if self.params_column is not None and not is_blank(values[self.params_column]):
            raw = values[self.params_column]
            parsed = json.loads(raw) if isinstance(raw, str) else raw
            if not isinstance(parsed, Mapping):
                raise ValueError(f"expected an object of variables, got {type(parsed).__name__}")
            params = dict(parsed)
        if self.param_columns:
            params = dict(params or {})
            for var, i in self.param_columns.items():
                params[var] = None if is_blank(values[i]) else values[i]
        if params is not None:
            out["template_params"] = {k: (None if is_blank(v) else _param_text(v))
                                      for k, v in params.items()}
        return out


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


_KEY_LENGTH = 32
"""Hex digits of a row key: 128 bits, so two recipients never share one by chance."""


def _identity_text(value: Any) -> str:
    """A key cell as text that does not depend on how the file was read (``42``, ``"42"``,
    ``42.0``)."""
    value = normalise_cell(value)
    return value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)


def request_digest(message: Message) -> str:
    """A hash of what ``message`` asks the service to send (its wire parameters)."""
    return _digest(json.dumps(message.to_query(), sort_keys=True, ensure_ascii=False))[:_KEY_LENGTH]


def plan_rows(rows: Iterable[tuple[Hashable, Sequence[Any]]], mapping: FrameMapping,
              campaign: str, keys_seen: dict[str, Hashable] | None = None) -> Iterator[RowPlan]:
    """Turn ``(index, values)`` pairs into plans: fields, key, digest, TaskId, Message or problems.

    A row's key is its recipient (ChannelType, From, To) in ``campaign``, or its ``key=``
    value in ``campaign``; a second row with a key already seen is an error naming the first
    row's index. Pass the same ``keys_seen`` dict for every chunk of one campaign.
    """
    seen = keys_seen if keys_seen is not None else {}
    for index, values in rows:
        try:
            fields = mapping.fields_for(values)
        except (ValueError, TypeError) as exc:
            yield RowPlan(index, _digest(campaign, "unreadable", repr(index))[:_KEY_LENGTH], {},
                          None, [problem("TemplateParams", "invalid_json",
                                         f"cannot be read as a JSON object ({exc})")])
            continue
        null_params = [k for k, v in (fields.get("template_params") or {}).items() if v is None]
        check_fields = dict(fields)
        if null_params:  # reported by the template check with its own words; keep the row checkable
            check_fields["template_params"] = {k: v for k, v in fields["template_params"].items()
                                               if v is not None}
        message, problems = Message.check(check_fields)
        keyed = mapping.key_column is not None
        identity: tuple[str, ...] | None
        if keyed:
            user_key = values[mapping.key_column]  # type: ignore[index]
            if is_blank(user_key):
                problems = problems + [problem("key", "required", "the key column has no value in "
                                               "this row, so the journal could not tell it apart")]
                identity = None
            else:
                identity = ("key", _identity_text(user_key))
        elif message is not None:
            identity = ("to", message.channel_type, message.from_, message.to)
        else:
            identity = None
        if identity is None:  # an invalid row: never journaled, its key only has to be its own
            key = _digest(campaign, "invalid", repr(index), repr(sorted(fields.items(), key=str)))
        else:
            key = _digest(campaign, *identity)
        key = key[:_KEY_LENGTH]
        if identity is not None:
            if key in seen:
                problems = problems + [_duplicate(keyed, seen[key])]
            else:
                seen[key] = index
        if null_params:
            problems = problems + [problem(f"TemplateParams.{k}", "null_variable",
                                           "has no value in this row") for k in null_params]
        if message is None or problems:
            yield RowPlan(index, key, fields, None, problems, keyed=keyed)
            continue
        digest = request_digest(message)
        if message.task_id is None:
            message = message.model_copy(update={"task_id": f"cn-{campaign}-{key[:16]}"})
        yield RowPlan(index, key, fields, message, problems, digest=digest, keyed=keyed)


def _duplicate(keyed: bool, first: Hashable) -> Problem:
    if keyed:
        return problem("key", "duplicate_key", f"has the same value as row {first!r}; a key must "
                       "tell each row of a campaign apart")
    return problem("To", "duplicate_recipient",
                   f"is also the recipient of row {first!r} with the same sender and channel; a "
                   "campaign sends one message per recipient: drop one of the rows, or name a key= "
                   "column when one person is meant to get several messages")


TemplateRef = tuple[str, str, str]
"""(code or name, language, channel) of a template a campaign uses."""


def template_ref(message: Message) -> TemplateRef | None:
    if message.type != "template" or not message.language:
        return None
    return (message.template_code or message.template_name or "", message.language,
            message.channel_type)


def template_requests(plans: Iterable[RowPlan]) -> set[TemplateRef]:
    """The templates a batch of plans needs fetched for the dry run."""
    return {ref for p in plans if p.message is not None and (ref := template_ref(p.message))}


def check_plans(
    plans: Sequence[RowPlan],
    templates: Mapping[TemplateRef, Template | None] | None = None,
    window_open: Callable[[str], bool | None] | None = None,
    seen_recipients: dict[tuple[str, str], Hashable] | None = None,
) -> None:
    """Add the dry-run findings that need more than the row itself, in place.

    ``templates`` maps each template a row uses to its detail (None: it does not exist);
    ``window_open(number)`` tells whether a WhatsApp 24-hour window is open (None: unknown);
    ``seen_recipients`` carries the recipients of earlier chunks, to point out a person who
    gets several rows under different ``key=`` values (a warning: that is what keys are for).
    """
    seen = seen_recipients if seen_recipients is not None else {}
    for plan in plans:
        message = plan.message
        if message is None:
            continue
        recipient = (message.channel_type, message.to)
        if not plan.keyed:
            pass  # one row per recipient is already an error in plan_rows
        elif recipient in seen:
            plan.warnings.append(problem("To", "same_recipient",
                                         f"also gets row {seen[recipient]!r} of this campaign "
                                         "(under another key)"))
        else:
            seen[recipient] = plan.index
        if message.channel_type == "whatsapp" and message.type == "message" and window_open:
            state = window_open(message.to)
            if state is not True:
                plan.warnings.append(problem(
                    "To", "window_maybe_closed" if state is None else "window_closed",
                    "a free-form WhatsApp message only arrives within 24 hours of the recipient's "
                    "last message" + (" (no inbound message seen)" if state is None else
                                      " and that window is closed; send a template instead")))
        ref = template_ref(message)
        if ref is None or templates is None or ref not in templates:
            continue
        template = templates[ref]
        if template is None:
            plan.problems.append(problem(
                "TemplateCode", "unknown_template",
                f"no template {ref[0]!r} in language {ref[1]!r} on {ref[2]}"))
        elif not template.approved:
            plan.problems.append(problem("TemplateCode", "not_approved",
                                         f"template {template.name!r} is not approved "
                                         f"(status {template.audit_status})"))
        else:
            plan.problems.extend(template.check_params(message.template_params))
        if plan.problems:
            plan.message = None
