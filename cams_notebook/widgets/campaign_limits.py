"""The platform's word in the campaign panel's confirmation step: the health gate's refusals
and warnings, the rows the unique-user allowance defers, the plan per sender.

A part of :class:`~.campaign_send.CampaignSending`'s review. The plan is
:meth:`~cams_notebook.campaigns.campaign.Campaign.limits` of the campaign a Send would run
(the same checks the send runs before its first request, nothing sent): the service is asked
once per confirmation, on **Review and send…**, never per keystroke (an edit withdraws the
confirmation and its plan). :class:`PlatformPlan` is what the panel needs of it;
:func:`limits_html` shows it. A plan that cannot be made (the service cannot be reached, a
permission is missing, another run holds the journal file) is a warning, not a refusal: the
send runs the gate itself anyway.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from ..campaigns.journal import JournalError
from ..errors import CamsError
from .campaign_html import TABLE_STYLE, utc_minutes

if TYPE_CHECKING:
    from ..campaigns.campaign import Campaign

__all__ = ["LIMITS_SHOWN", "PlatformPlan", "limits_html", "platform_plan"]

LIMITS_SHOWN = {"sender": "sender", "status": "status", "quality": "quality",
                "can_send": "can send", "tier": "tier", "limit": "limit", "used": "used",
                "left": "left", "rows_now": "now", "rows_deferred": "deferred",
                "deferred_until": "until", "verdict": "verdict"}
"""The plan's columns the panel shows, with their headings."""

_ERROR, _WARN, _OK, _GREY = "#b00020", "#8a5a00", "#1b7f3b", "#667781"


@dataclass(frozen=True)
class PlatformPlan:
    """What the platform's checks say of a campaign before it is sent."""

    frame: pd.DataFrame = field(default_factory=pd.DataFrame)
    """One row per sender (``Campaign.limits()``)."""
    refusals: tuple[str, ...] = ()
    """Why the health gate would stop the send before its first request."""
    warnings: tuple[str, ...] = ()
    deferred: int = 0
    """Rows beyond a sender's unique-user allowance: not sent by this Send."""
    until: str | None = None
    """When the last deferred row becomes eligible (ISO-8601 UTC), if any is deferred."""

    @classmethod
    def of(cls, frame: pd.DataFrame) -> PlatformPlan:
        deferred = pd.to_numeric(frame["rows_deferred"], errors="coerce") \
            if "rows_deferred" in frame else pd.Series(dtype=float)
        times = [t for t in (frame["deferred_until"] if "deferred_until" in frame else [])
                 if isinstance(t, str) and t]
        return cls(frame, tuple(frame.attrs.get("refusals", ())),
                   tuple(frame.attrs.get("warnings", ())), int(deferred.fillna(0).sum()),
                   max(times) if times else None)


def platform_plan(campaign: Campaign) -> PlatformPlan:
    """The plan of ``campaign`` (the one a Send would run); a plan that cannot be made is one
    warning saying why."""
    try:
        return PlatformPlan.of(campaign.limits())
    except (CamsError, JournalError, OSError, ValueError) as exc:
        return PlatformPlan(warnings=(f"The platform's limits could not be checked before "
                                      f"sending ({type(exc).__name__}: {exc}); the send checks "
                                      "them again before its first request.",))


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _cell(name: str, value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if name == "deferred_until" and isinstance(value, str):
        return _e(utc_minutes(value))
    if name == "verdict":
        colour = {"refused": _ERROR, "warning": _WARN, "ok": _OK}.get(str(value), _GREY)
        return f"<span style='color:{colour}'>{_e(value)}</span>"
    return _e(value)


def limits_html(plan: PlatformPlan | None) -> str:
    """Refusals (red), warnings (amber), then the plan per sender as a table."""
    if plan is None:
        return ""
    lines = [f"<div class='cams-refusal' style='color:{_ERROR}'>✖ {_e(r)}</div>"
             for r in plan.refusals]
    lines += [f"<div class='cams-warning' style='color:{_WARN}'>⚠ {_e(w)}</div>"
              for w in plan.warnings]
    frame = plan.frame
    if len(frame):
        columns = [c for c in LIMITS_SHOWN if c in frame.columns]
        head = "".join(f"<th>{_e(LIMITS_SHOWN[c])}</th>" for c in columns)
        body = "".join("<tr>" + "".join(f"<td>{_cell(c, row[c])}</td>" for c in columns)
                       + "</tr>" for row in frame.to_dict("records"))
        lines.append(f"<div style='color:{_GREY};font-size:12px;margin-top:4px'>The plan per "
                     "sender (its health, its unique users per 24 hours: used, left, rows "
                     "now and deferred):</div>"
                     f"{TABLE_STYLE}<table class='cams-table cams-limits'><tr>{head}</tr>"
                     f"{body}</table>")
    return f"<div class='cams-platform' style='font-size:13px'>{''.join(lines)}</div>"
