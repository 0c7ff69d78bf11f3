"""The campaign panel's HTML: dry-run table, row previews, confirmation, live counts, outcome.

Pure functions from values to HTML strings (no widgets, no I/O), like :mod:`.preview`, whose
chat bubbles they reuse. Every value from the frame or the service is escaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from ..campaigns.mapping import DryRun, duration_text
from .labels import channel_name, label

if TYPE_CHECKING:
    from ..campaigns.engine import Counts
    from .campaign_left import Left

class PlatformPlan(Protocol):
    """What the confirmation reads of :class:`~.campaign_limits.PlatformPlan` (a Protocol:
    that module draws its table with this one's style, so this one may not import it)."""

    @property
    def refusals(self) -> tuple[str, ...]: ...
    @property
    def deferred(self) -> int: ...
    @property
    def until(self) -> str | None: ...


__all__ = ["TABLE_STYLE", "confirmation_html", "confirmation_text", "counts_html",
           "dry_run_html", "outcome_html", "row_html", "rows_html", "utc_minutes"]

PROBLEM_LIMIT = 25
"""Problems listed in the dry-run table; the rest are counted."""
OUTCOME_LIMIT = 20
"""Rows listed under the outcome (failed, unknown, invalid)."""

_ERROR, _WARN, _OK, _GREY = "#b00020", "#8a5a00", "#1b7f3b", "#667781"
_STYLE = ("<style>.cams-table{border-collapse:collapse;font-size:12px;margin:4px 0}"
          ".cams-table td,.cams-table th{text-align:left;padding:2px 10px 2px 0;"
          "border-bottom:1px solid #eee;vertical-align:top}</style>")
TABLE_STYLE = _STYLE
"""The style of the panel's tables (``cams-table``), for the parts that draw their own."""


def utc_minutes(iso: str) -> str:
    """An ISO-8601 time to the minute, in UTC: ``2026-12-03 18:00 UTC`` (no seconds: an
    eligibility time, read by a person)."""
    try:
        stamp = pd.Timestamp(iso)
    except ValueError:
        return iso
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%d %H:%M UTC")


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


def dry_run_html(dry: DryRun | None, error: str = "", *, limit: int = PROBLEM_LIMIT,
                 waiting: Mapping[str, str] | None = None) -> str:
    """A headline (ready / invalid / warnings) and one line per problem, errors first.

    ``waiting`` (key -> the field its problems name) are constants chosen but not typed yet:
    instead of an error on every row, one line says what to type."""
    if error:
        return f"<div class='cams-dry-run' style='color:{_ERROR}'>⚠ {_e(error)}</div>"
    if dry is None:
        return (f"<div class='cams-dry-run' style='color:{_GREY}'>The dry run has not run yet: "
                f"click <b>Check</b>.</div>")
    if waiting:
        names = ", ".join(label(wire) if not key.startswith("$(") else key
                          for key, wire in waiting.items())
        rest = dry.problems[~dry.problems["field"].isin(list(waiting.values()))]
        note = (f"<div class='cams-waiting' style='color:{_GREY}'>Type a value for {_e(names)} "
                "(one value for every row); the dry run checks the rows as you type.</div>")
        if not len(rest):
            return f"<div class='cams-dry-run'>{note}</div>"
        other = (f"<div style='color:{_WARN}'>Meanwhile, other findings in "
                 f"{_e(_plural(int(rest['index'].nunique()), 'row'))}:</div>")
        return f"<div class='cams-dry-run'>{note}{other}{_problem_table(rest, limit)}</div>"
    colour = _OK if dry.valid and not dry.invalid else _ERROR if not dry.valid else _WARN
    mark = "✓" if colour == _OK else "⚠"
    bits = [f"{dry.valid} of {_plural(dry.rows, 'row')} ready to send"]
    if dry.invalid:
        bits.append(f"{_plural(dry.invalid, 'row')} with errors (skipped)")
    if dry.warnings:
        bits.append(_plural(dry.warnings, "warning"))
    head = f"<div style='color:{colour}'>{mark} {_e(', '.join(bits))}</div>"
    return f"<div class='cams-dry-run'>{head}{_problem_table(dry.problems, limit)}</div>"


def _problem_table(problems: pd.DataFrame, limit: int) -> str:
    """The problems, errors first, ``limit`` of them; how many more there are."""
    ordered = problems.sort_values("severity", kind="stable")  # "error" < "warning"
    rows = [[_e(p["index"]), f"<code>{_e(p['field'])}</code>", _severity(p["severity"]),
             _e(p["message"])] for p in ordered.head(limit).to_dict("records")]
    table = _table(["row", "field", "", "problem"], rows, "cams-problems") if rows else ""
    more = (f"<div style='color:{_GREY};font-size:12px'>… and {len(ordered) - limit} more "
            f"(all of them: <code>panel.dry_run.problems</code>)</div>"
            if len(ordered) > limit else "")
    return table + more


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


def confirmation_text(dry: DryRun, qps: int, left: Left | None = None,
                      plan: PlatformPlan | None = None) -> str:
    """What a click on Send will do, in one sentence (deterministic: no clock in it), and
    what the platform's checks say of it (``plan``: the health gate's refusals, the rows the
    unique-user allowance defers, until when).

    ``left`` is what the journal says is still to send; without it every valid row is."""
    if not dry.valid:
        return f"Nothing to send: all {dry.rows} rows have errors."
    if plan is not None and plan.refusals:
        return ("Nothing can be sent: the health check refuses this campaign before its first "
                f"request: {' '.join(plan.refusals)}")
    text = _send_sentence(dry, qps, left, plan.deferred if plan is not None else 0)
    if plan is not None and plan.deferred:
        until = f" until {utc_minutes(plan.until)}" if plan.until else ""
        text += (f" {_plural(plan.deferred, 'row')} beyond the senders' unique users per 24 "
                 f"hours {'is' if plan.deferred == 1 else 'are'} deferred{until}: a later Send "
                 "sends them once eligible.")
    return text


def _send_sentence(dry: DryRun, qps: int, left: Left | None, deferred: int) -> str:
    send = max((left.send if left is not None else dry.valid) - deferred, 0)
    channels = dict(left.channels if left is not None else dry.channels)
    if deferred and channels.get("whatsapp"):  # the allowance defers WhatsApp rows only
        channels["whatsapp"] = max(channels["whatsapp"] - deferred, 0)
        channels = {c: n for c, n in channels.items() if n}
    later = left.later if left is not None else 0
    done = (left.done if left is not None else 0) - later
    skip = (f"{dry.invalid} invalid row{'s' if dry.invalid != 1 else ''} will be skipped"
            if dry.invalid else "no invalid rows")
    before = (f"{done} row{'s' if done != 1 else ''} done in an earlier run "
              f"{'is' if done == 1 else 'are'} not sent again" if done else "")
    again = left.again if left is not None else 0
    retry = (f"{again} of them {'is' if again == 1 else 'are'} tried again (failed in an "
             "earlier run without taking effect, or changed since)" if again else "")
    waits = (f"{_plural(later, 'row')} deferred or capped in an earlier run "
             f"wait{'s' if later == 1 else ''}"
             + (f" until {utc_minutes(left.later_until)}" if left and left.later_until else "")
             + " (a later Send sends them once eligible)" if later else "")
    if not send and (deferred or later):
        said = "; ".join(b for b in (before, waits) if b)
        return f"Nothing to send now from {dry.rows} rows{'; ' + said if said else ''}."
    if not send:
        return (f"Nothing left to send: all {_plural(done, 'valid row')} of {dry.rows} were "
                "done in an earlier run (the journal has them; they are not sent twice).")
    per = ", ".join(f"{n} {channel_name(c)}" for c, n in channels.items())
    plural = "s" if send != 1 else ""
    why = f" ({left.unknown_why}; rows it has are not sent twice)" \
        if left is not None and left.unknown_why else ""
    return (f"Send {send} message{plural} ({per}) from {dry.rows} rows; "
            f"{'; '.join(b for b in (retry, before, waits, skip) if b)}; "
            f"{duration_text(send, qps)} at {qps} messages/s.{why}")


def confirmation_html(text: str, ready: bool) -> str:
    colour = "#1c1e21" if ready else _GREY
    return (f"<div class='cams-confirmation' style='border-left:3px solid "
            f"{_OK if ready else _GREY};padding:4px 8px;color:{colour}'>{_e(text)}</div>")


def counts_html(counts: Counts | None, rate: float | None = None, note: str = "",
                following: int = 0) -> str:
    """``sent 120 · failed 1 · unknown 0 · throttled 3 · retrying 2 · 245 msg/s``.

    Sent, failed and unknown are this run's; rows done in an earlier run are counted apart,
    once. ``retrying`` says why the counts stand still while rows wait to be sent again;
    ``refused`` (by the platform after acceptance, sent again), ``deferred`` and ``capped``
    show once there is one. The rate is shown only when there is one (two answers or more:
    see ``Counts.rate``), and not while the run only follows receipts after its last request
    (``following`` rows waiting for their verdict): nothing is sent then.
    """
    if counts is None:
        return ""
    parts = [f"sent <b>{counts.sent}</b>", f"failed <b>{counts.failed}</b>",
             f"unknown <b>{counts.unknown}</b>", f"throttled <b>{counts.throttled}</b>"]
    if counts.retrying:
        parts.append(f"<span class='cams-retrying' style='color:{_WARN}'>retrying "
                     f"<b>{counts.retrying}</b></span>")
    if counts.skipped:
        parts.append(f"<b>{counts.skipped}</b> done in an earlier run (not sent again)")
    if counts.changed:
        parts.append(f"<b>{counts.changed}</b> changed since an earlier run (not sent again)")
    for name, n, why in (("refused", counts.refused, "by the platform, sent again"),
                         ("deferred", counts.deferred, "for a later run"),
                         ("capped", counts.capped, "for 24 hours")):
        if n:
            parts.append(f"<span class='cams-{name}' style='color:{_WARN}'>{name} <b>{n}</b> "
                         f"({why})</span>")
    if following:
        parts.append(f"<span class='cams-following'>following receipts: <b>{following}</b> "
                     f"{'row' if following == 1 else 'rows'} waiting for their verdict</span>")
    elif rate is not None:
        parts.append(f"{rate:.0f} msg/s")
    tail = f" <i>{_e(note)}</i>" if note else ""
    return f"<div class='cams-counts' style='font-size:13px'>{' · '.join(parts)}{tail}</div>"


_RULE_TAG = re.compile(r" \[[a-z_]+\](?=;|$)")


def _plain_error(error: object) -> str:
    """A row's error as read: ``To: is required [required]`` -> ``To: is required`` (the
    rule code stays in ``panel.result``, for code that sorts by it)."""
    return _RULE_TAG.sub("", str(error))


def _later(result: pd.DataFrame) -> str:
    """Rows left for a later Send (deferred, capped), with the time the last becomes
    eligible."""
    waiting = result[result["status"].isin(["deferred", "capped"])]
    if not len(waiting):
        return ""
    times = pd.to_datetime(waiting["eligible_at"], utc=True, errors="coerce").dropna() \
        if "eligible_at" in waiting else pd.Series(dtype="datetime64[ns, UTC]")
    until = f" until {utc_minutes(times.max().isoformat())}" if len(times) else ""
    return (f" {_plural(len(waiting), 'row')} wait{'s' if len(waiting) == 1 else ''} for a "
            f"later Send{until} (deferred by a sender's unique-user allowance, or capped by "
            "Meta's per-user marketing limit): click <b>Review and send…</b> again then.")


def outcome_html(result: pd.DataFrame, *, stopped: bool, resumable: bool,
                 limit: int = OUTCOME_LIMIT, reason: object = None) -> str:
    """The campaign's summary by status and code, and the rows that need a look (failed,
    unknown, invalid); rows merely not sent yet are only counted. ``reason`` is why the run
    stopped by itself (bad news from the platform), said first."""
    counts = result["status"].value_counts()
    line = ", ".join(f"{n} {status}" for status, n in counts.items())
    title = "Stopped" if stopped else "Done"
    if reason is not None:
        title = f"Stopped by the platform ({_e(reason)})"
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
                               _e(_plain_error(r["error"]) if pd.notna(r["error"]) else "")]
                              for i, r in unsent.head(limit).iterrows()]
    rows = _table(["row", "status", "to", "code", "error"], shown, "cams-unsent") if shown else ""
    more = (f"<div style='color:{_GREY};font-size:12px'>… and {len(unsent) - limit} more "
            f"(<code>panel.result</code> has every row)</div>" if len(unsent) > limit else "")
    return (f"<div class='cams-outcome'>{_STYLE}<div style='color:{colour}'><b>{title}</b>: "
            f"{_e(_plural(len(result), 'row'))}: {_e(line)}.{again}{_later(result)}</div>"
            f"{table}{rows}{more}</div>")
