"""Which column or constant feeds each request field and template variable of a campaign.

Pure code (pandas, no widgets): what the campaign panel edits and shows. A
:class:`CampaignMapping` holds one :data:`Source` per field and per variable;
:meth:`CampaignMapping.frame_args` turns it into the arguments of
:func:`~cams_notebook.campaigns.dry_run.validate_frame` and
:func:`~cams_notebook.campaigns.campaign.send_frame`, and :class:`DryRun` counts the dry run's
findings (rows to send, per channel; rows skipped) for a confirmation.

Automatic matching is by name, ignoring case and punctuation (``TemplateCode``,
``template_code`` and ``template-code`` are one name), plus a few common names for the
recipient (``phone``, ``mobile``, ``msisdn``…). Each column feeds at most one field; any
column may feed a template variable of the same name.

>>> mapping = CampaignMapping.auto(["Phone", "name", "order_id"], variables=("name", "order_id"))
>>> mapping.fields["to"], mapping.variables["order_id"]
(Column(name='Phone'), Column(name='order_id'))
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..models import WIRE_NAMES

__all__ = [
    "FIELDS",
    "FIELD_LABELS",
    "CampaignMapping",
    "Column",
    "Constant",
    "DryRun",
    "FrameArgs",
    "Source",
    "duration_text",
    "match_column",
]


@dataclass(frozen=True, slots=True)
class Column:
    """Take the value from this column of the frame, row by row."""

    name: Hashable


@dataclass(frozen=True, slots=True)
class Constant:
    """The same value for every row."""

    value: str


Source = Column | Constant | None
"""Where a field or variable comes from; None: nowhere (the field is left out)."""

FIELDS: tuple[str, ...] = (
    "to", "channel_type", "type", "from_", "template_code", "language", "template_params",
    "message_type", "content", "task_id", "fall_back_content", "tag", "cust_space_id",
)
"""The request fields the panel maps, in display order."""

FIELD_LABELS: dict[str, str] = {name: WIRE_NAMES[name] for name in FIELDS}
FIELD_LABELS["template_params"] = "TemplateParams (JSON)"
FIELD_LABELS["fall_back_content"] = "FallBackContent (SMS)"

TEMPLATE_ONLY = frozenset({"template_code", "language", "template_params"})
MESSAGE_ONLY = frozenset({"message_type", "content"})

_ALIASES: dict[str, tuple[str, ...]] = {
    "to": ("phone", "phonenumber", "mobile", "msisdn", "recipient", "number", "tel"),
    "from_": ("from", "sender"),
    "channel_type": ("channel",),
    "template_code": ("template",),
    "language": ("lang", "locale"),
    "fall_back_content": ("fallback", "smstext"),
}
_PARAM_PREFIX = "$("


def _norm(name: object) -> str:
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def _names_for(field_name: str) -> tuple[str, ...]:
    return (_norm(field_name), _norm(WIRE_NAMES[field_name]), *_ALIASES.get(field_name, ()))


def match_column(names: Iterable[str], columns: Sequence[Hashable],
                 taken: Iterable[Hashable] = ()) -> Hashable | None:
    """The first column (in the order of ``names``) whose normalised name is one of ``names``."""
    used = set(taken)
    by_name: dict[str, Hashable] = {}
    for column in columns:
        if column not in used:
            by_name.setdefault(_norm(column), column)
    return next((by_name[n] for n in names if n in by_name), None)


def _param_column(variable: str) -> str:
    return f"{_PARAM_PREFIX}{variable})"


@dataclass(frozen=True, slots=True)
class FrameArgs:
    """What :func:`~cams_notebook.campaigns.frames.send_frame` gets: a frame with one column per
    mapped field (and per mapped variable, as ``$(name)``), the constants, and ``params``."""

    frame: pd.DataFrame
    constants: dict[str, Any]
    params: dict[str, str] | None

    def kwargs(self) -> dict[str, Any]:
        return {"params": self.params, **self.constants}


@dataclass
class CampaignMapping:
    """One source per request field and per template variable."""

    fields: dict[str, Source] = field(default_factory=lambda: dict.fromkeys(FIELDS))
    variables: dict[str, Source] = field(default_factory=dict)

    @classmethod
    def auto(cls, columns: Sequence[Hashable], variables: Iterable[str] = (),
             defaults: Mapping[str, str] | None = None) -> CampaignMapping:
        """Match columns to fields and variables by name; ``defaults`` are constants for the
        fields no column matched."""
        mapping = cls()
        taken: list[Hashable] = []
        for name in FIELDS:
            column = match_column(_names_for(name), columns, taken)
            if column is not None:
                taken.append(column)
                mapping.fields[name] = Column(column)
            elif defaults and defaults.get(name):
                mapping.fields[name] = Constant(defaults[name])
        mapping.variables = {v: cls.auto_variable(v, columns) for v in variables}
        return mapping

    @staticmethod
    def auto_variable(variable: str, columns: Sequence[Hashable]) -> Source:
        column = match_column([_norm(variable)], columns)
        return Column(column) if column is not None else None

    def constant(self, name: str) -> str | None:
        """The constant value of a field, or None when it is a column or not set."""
        source = self.fields.get(name)
        return source.value if isinstance(source, Constant) and source.value != "" else None

    @property
    def kind(self) -> str | None:
        """``template`` or ``message`` when ``type`` is a constant, else None (per row)."""
        return self.constant("type")

    def applies(self, name: str) -> bool:
        """False for fields of the other kind (``content`` in a template campaign…)."""
        kind = self.kind
        return not ((kind == "template" and name in MESSAGE_ONLY)
                    or (kind == "message" and name in TEMPLATE_ONLY))

    def frame_args(self, frame: pd.DataFrame) -> FrameArgs:
        """The frame and keyword arguments for ``validate_frame``/``send_frame``.

        Only mapped columns are passed on (renamed to their field), so a column that merely
        happens to be called like a field never feeds it behind the user's back.
        """
        columns: dict[str, Any] = {}
        constants: dict[str, Any] = {}
        for name, source in self.fields.items():
            if not self.applies(name):
                continue
            if isinstance(source, Column):
                columns[name] = frame[source.name]
            elif isinstance(source, Constant) and source.value != "":
                constants[name] = source.value
        params: dict[str, str] | None = None
        if self.kind != "message":
            for variable, source in self.variables.items():
                if isinstance(source, Column):
                    columns[_param_column(variable)] = frame[source.name]
                elif isinstance(source, Constant):
                    columns[_param_column(variable)] = source.value
                else:
                    continue
                params = {**(params or {}), variable: _param_column(variable)}
        derived = pd.DataFrame(columns, index=frame.index)
        return FrameArgs(derived, constants, params)

    def describe(self) -> list[tuple[str, str]]:
        """``(field or $(variable), source)`` pairs in words, for reprs and summaries."""
        def words(source: Source) -> str:
            if isinstance(source, Column):
                return f"column {source.name!r}"
            if isinstance(source, Constant):
                return f"constant {source.value!r}"
            return "not set"
        pairs = [(FIELD_LABELS[n], words(s)) for n, s in self.fields.items()
                 if self.applies(n) and s is not None]
        if self.kind != "message":
            pairs += [(f"$({v})", words(s)) for v, s in self.variables.items()]
        return pairs


# -- the dry run, in the confirmation's words ----------------------------------------------------


@dataclass(frozen=True)
class DryRun:
    """The findings of ``validate_frame`` for a campaign, counted for the confirmation step."""

    rows: int
    problems: pd.DataFrame
    channels: dict[str, int]
    """Valid rows per channel, most first."""

    @classmethod
    def of(cls, frame: pd.DataFrame, problems: pd.DataFrame, args: FrameArgs) -> DryRun:
        errors = problems[problems["severity"] == "error"]
        valid = ~frame.index.isin(errors["index"].unique())
        if "channel_type" in args.frame:
            channels = args.frame.loc[valid, "channel_type"].astype("string").fillna("?")
            counts = {str(k): int(v) for k, v in channels.value_counts().items()}
        else:
            counts = {str(args.constants.get("channel_type", "?")): int(valid.sum())}
        counts = {k: v for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if v}
        return cls(len(frame), problems, counts)

    @property
    def invalid(self) -> int:
        """Rows with at least one error: they are skipped."""
        errors = self.problems[self.problems["severity"] == "error"]
        return int(errors["index"].nunique())

    @property
    def valid(self) -> int:
        return self.rows - self.invalid

    @property
    def warnings(self) -> int:
        return int((self.problems["severity"] == "warning").sum())


def duration_text(messages: int, qps: int) -> str:
    """``about 2 s``, ``about 4 min``, ``about 1 h 20 min``: how long sending takes at ``qps``."""
    seconds = math.ceil(messages / qps) if qps > 0 else 0
    if seconds < 90:
        return f"about {max(seconds, 1)} s"
    minutes = math.ceil(seconds / 60)
    if minutes < 90:
        return f"about {minutes} min"
    return f"about {minutes // 60} h {minutes % 60} min"
