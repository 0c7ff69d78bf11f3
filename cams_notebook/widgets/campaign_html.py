"""The campaign panel's HTML: dry-run table, row previews, confirmation, live counts, outcome.

Pure functions from values to HTML strings (no widgets, no I/O), like :mod:`.preview`, whose
chat bubbles they reuse. Every value from the frame or the service is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..campaigns.mapping import duration_text
from .preview import CHANNEL_NAMES

if TYPE_CHECKING:
    from ..campaigns.engine import Counts
    from ..campaigns.mapping import DryRun

__all__ = ["confirmation_html", "confirmation_text", "counts_html", "dry_run_html",
           "outcome_html", "row_html", "rows_html"]

PROBLEM_LIMIT = 25
"""Problems listed in the dry-run table; the rest are counted."""
OUTCOME_LIMIT = 20
"""Rows listed under the outcome (failed, unknown, invalid)."""

_ERROR, _WARN, _OK, _GREY = "#b00020", "#8a5a00", "#1b7f3b", "#667781"
_STYLE = ("<style>.cams-table{border-collapse:collapse;font-size:12px;margin:4px 0}"
          ".cams-table td,.cams-table th{text-align:left;padding:2px 10px 2px 0;"
          "border-bottom:1px solid #eee;vertical-align:top}</style>")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], css: str) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"{_STYLE}<table class='cams-table {css}'><tr>{head}</tr>{body}</table>"


def _severity(severity: str) -> str:
    return f"<span style='color:{_ERROR if severity == 'error' else _WARN}'>{_e(severity)}</span>"


def dry_run_html(dry: DryRun | None, error: str = "", *, limit: int = PROBLEM_LIMIT) -> str:
    """A headline (ready / invalid / warnings) and one line per problem, errors first."""
    if error:
        return f"<div class='cams-dry-run' style='color:{_ERROR}'>⚠ {_e(error)}</div>"
    if dry is None:
        return (f"<div class='cams-dry-run' style='color:{_GREY}'>The dry run has not run yet: "
                f"click <b>Check</b>.</div>")
    colour = _OK if dry.valid and not dry.invalid else _ERROR if not dry.valid else _WARN
    mark = "✓" if colour == _OK else "⚠"
    bits = [f"{dry.valid} of {_plural(dry.rows, 'row')} ready to send"]
    if dry.invalid:
        bits.append(f"{_plural(dry.invalid, 'row')} with errors (skipped)")
    if dry.warnings:
        bits.append(_plural(dry.warnings, "warning"))
    head = f"<div style='color:{colour}'>{mark} {_e(', '.join(bits))}</div>"
    problems = dry.problems.sort_values("severity", kind="stable")  # "error" < "warning"
    rows = [[_e(p["index"]), f"<code>{_e(p['field'])}</code>", _severity(p["severity"]),
             _e(p["message"])] for p in problems.head(limit).to_dict("records")]
    table = _table(["row", "field", "", "problem"], rows, "cams-problems") if rows else ""
    more = (f"<div style='color:{_GREY};font-size:12px'>… and {len(problems) - limit} more "
            f"(all of them: <code>panel.dry_run.problems</code>)</div>"
            if len(problems) > limit else "")
    return f"<div class='cams-dry-run'>{head}{table}{more}</div>"


def row_html(label: object, to: object, bubble: str, problems: Sequence[str] = ()) -> str:
    """One previewed row: which row and recipient, the bubble, and what is wrong with it."""
    lines = "".join(f"<div style='color:{_ERROR};font-size:12px'>⚠ {_e(p)}</div>"
                    for p in problems)
    return (f"<div class='cams-row-preview' style='flex:0 1 360px;min-width:260px'>"
            f"<div style='font-size:12px;color:{_GREY};margin-bottom:2px'>row {_e(label)} → "
            f"{_e(to if to is not None else '(no recipient)')}</div>{bubble}{lines}</div>")


def rows_html(rows: Sequence[str]) -> str:
    if not rows:
        return f"<div style='color:{_GREY}'>The frame has no rows.</div>"
    return (f"<div class='cams-rows' style='display:flex;flex-wrap:wrap;gap:12px'>"
            f"{''.join(rows)}</div>")


def confirmation_text(dry: DryRun, qps: int) -> str:
    """What a click on Send will do, in one sentence (deterministic: no clock in it)."""
    if not dry.valid:
        return f"Nothing to send: all {dry.rows} rows have errors."
    per = ", ".join(f"{n} {CHANNEL_NAMES.get(c, c)}" for c, n in dry.channels.items())
    skip = (f"{dry.invalid} invalid row{'s' if dry.invalid != 1 else ''} will be skipped"
            if dry.invalid else "no invalid rows")
    plural = "s" if dry.valid != 1 else ""
    return (f"Send {dry.valid} message{plural} ({per}) from {dry.rows} rows; {skip}; "
            f"{duration_text(dry.valid, qps)} at {qps} messages/s.")


def confirmation_html(text: str, ready: bool) -> str:
    colour = "#1c1e21" if ready else _ERROR
    return (f"<div class='cams-confirmation' style='border-left:3px solid "
            f"{_OK if ready else _ERROR};padding:4px 8px;color:{colour}'>{_e(text)}</div>")


def counts_html(counts: Counts | None, rate: float | None = None, note: str = "") -> str:
    """``sent 120 · failed 1 · unknown 0 · throttled 0 · 245 msg/s``."""
    if counts is None:
        return ""
    parts = [f"sent <b>{counts.sent}</b>", f"failed <b>{counts.failed}</b>",
             f"unknown <b>{counts.unknown}</b>", f"throttled <b>{counts.throttled}</b>"]
    if counts.skipped:
        parts.append(f"<b>{counts.skipped}</b> done in an earlier run (not sent again)")
    if rate is not None:
        parts.append(f"{rate:.0f} msg/s")
    tail = f" <i>{_e(note)}</i>" if note else ""
    return f"<div class='cams-counts' style='font-size:13px'>{' · '.join(parts)}{tail}</div>"


def outcome_html(result: pd.DataFrame, *, stopped: bool, resumable: bool,
                 limit: int = OUTCOME_LIMIT) -> str:
    """The campaign's summary by status and code, and the rows that need a look (failed,
    unknown, invalid); rows merely not sent yet are only counted."""
    counts = result["status"].value_counts()
    line = ", ".join(f"{n} {status}" for status, n in counts.items())
    title = "Stopped" if stopped else "Done"
    colour = _WARN if stopped or counts.get("failed", 0) or counts.get("unknown", 0) else _OK
    again = (" Click <b>Review and send…</b> again to send the rest; rows already sent are not "
             "sent twice." if stopped and resumable else "")
    summarise = getattr(result, "summary", None)  # a CampaignResult's; a plain frame has none
    summary = summarise() if callable(summarise) else None
    table = summary.to_html(index=False, classes="cams-table cams-summary-table", border=0) \
        if isinstance(summary, pd.DataFrame) else ""
    unsent = result[result["status"].isin(["failed", "unknown", "invalid"])]
    shown: list[list[Any]] = [[_e(i), _e(r["status"]), _e(r["to"] if pd.notna(r["to"]) else ""),
                               _e(r["code"] if pd.notna(r["code"]) else ""),
                               _e(r["error"] if pd.notna(r["error"]) else "")]
                              for i, r in unsent.head(limit).iterrows()]
    rows = _table(["row", "status", "to", "code", "error"], shown, "cams-unsent") if shown else ""
    more = (f"<div style='color:{_GREY};font-size:12px'>… and {len(unsent) - limit} more "
            f"(<code>panel.result</code> has every row)</div>" if len(unsent) > limit else "")
    return (f"<div class='cams-outcome'>{_STYLE}<div style='color:{colour}'><b>{title}</b>: "
            f"{_e(_plural(len(result), 'row'))}: {_e(line)}.{again}</div>{table}{rows}{more}</div>")
