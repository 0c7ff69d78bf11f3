"""What ``cams-notebook send`` says about its input and its run, in a few lines.

* A field no row has (no ``--from``, no From column) is one line naming the flag and the
  column, not one "From is required" per row (:func:`missing_everywhere`).
* Invalid rows are listed (the first five) with the flag that skips them
  (:func:`invalid_rows_text`).
* The run ends with one line of counts by status and, only when this run sent something, how
  long the sending took and the rate over that time (:func:`summary_line`): a re-run that
  sends nothing reports no rate.
* Rows left for a later run (``deferred`` by the unique-user allowance, ``capped`` by Meta's
  per-user marketing limit) are one line each saying until when, and what to run then; a run
  the platform stopped (bad news on the receipts) says why (:func:`later_lines`).
"""

from __future__ import annotations

from collections.abc import Collection, Hashable
from typing import Any

import pandas as pd

from ..campaigns.result import STATUSES
from ..models import WIRE_NAMES
from .send_limits import utc_text
from .wording import FIELD_METAVARS, flag_for

__all__ = ["invalid_rows_text", "later_lines", "missing_everywhere", "summary_line", "this_run"]

_SHOWN = 5
"""Invalid rows listed before "... and N more" (``--dry-run`` lists them all)."""


def _flag_with_metavar(name: str) -> str:
    return f"{flag_for(name)} {FIELD_METAVARS.get(name, 'VALUE')}"


def _hint(wire: str, count: int | None, header: Collection[Hashable]) -> str:
    name = next(n for n, w in WIRE_NAMES.items() if w == wire)
    columns = {name, wire, name.rstrip("_")}
    flag = _flag_with_metavar(name)
    if wire == "TemplateCode":
        flag += f" (or {_flag_with_metavar('template_name')})"
    rows = f"all {count} rows" if count is not None else "every row"
    if any(str(c) in columns for c in header):
        column = next(str(c) for c in header if str(c) in columns)
        return f"{wire} is empty on {rows}: fill the {column} column, or pass {flag}"
    return f"{wire} is missing on {rows}: pass {flag} or add a {wire} column"


def missing_everywhere(problems: pd.DataFrame, total: int | None,
                       header: Collection[Hashable]) -> list[str]:
    """One line per request field that is required and absent on every row checked.

    ``total`` is the number of rows (None when the CSV is read in chunks and not all of it
    was checked: then only a field whose column is absent altogether counts as missing
    everywhere). ``header`` is the CSV's columns, to tell "add a column" from "fill it".
    """
    errors = problems[(problems["severity"] == "error") & (problems["rule"] == "required")
                      & problems["field"].isin(list(WIRE_NAMES.values()))]
    if errors.empty:
        return []
    rows_with_errors = problems.loc[problems["severity"] == "error", "index"].nunique()
    lines = []
    for wire, group in errors.groupby("field", sort=False):
        count = group["index"].nunique()
        if total is not None:
            everywhere = count == total
        else:
            name = next(n for n, w in WIRE_NAMES.items() if w == wire)
            absent = not any(str(c) in {name, wire, name.rstrip("_")} for c in header)
            everywhere = absent and count == rows_with_errors
        if everywhere:
            lines.append(_hint(str(wire), count if total is not None else None, header))
    return lines


def invalid_rows_text(problems: pd.DataFrame, sent: int) -> str:
    """Why nothing (or only the earlier chunks) was sent, and the first invalid rows."""
    errors = problems[problems["severity"] == "error"]
    rows = errors["index"].nunique()
    what = "nothing was sent" if not sent else (
        f"the send stopped there; {sent} row(s) of the chunks before were sent, and the "
        "journal keeps them from being sent again")
    lines = [f"{rows} row(s) are invalid, so {what}. Fix them, or pass --on-invalid skip to "
             "send the valid rows only (--dry-run lists every problem):"]
    lines += [f"  row {r['index']!r}: {r['field']}: {r['message']} [{r['rule']}]"
              for r in errors.head(_SHOWN).to_dict("records")]
    if len(errors) > _SHOWN:
        lines.append(f"  ... and {len(errors) - _SHOWN} more")
    return "\n".join(lines)


def this_run(result: pd.DataFrame, started: float) -> pd.DataFrame:
    """The rows this run sent: ``sent`` with a time after it started (a row the journal
    already had keeps the time of the run that sent it)."""
    since = pd.Timestamp(started, unit="s", tz="UTC")
    sent = result[(result["status"] == "sent") & result["sent_at"].notna()]
    return sent[sent["sent_at"] >= since]


def summary_line(result: pd.DataFrame, started: float, skipped: int = 0,
                 changed: int = 0) -> str:
    """Counts by status, and what this run sent in how long (no rate when it sent nothing).

    ``started`` is the wall time (``time.time()``) the run began; ``skipped`` how many rows
    the journal already had and ``changed`` how many it had with another message.
    """
    counts: Any = result["status"].value_counts()
    parts = [f"{counts[s]} {s}" for s in STATUSES if counts.get(s, 0)]
    line = f"{len(result)} row(s): {', '.join(parts) or 'none'}"
    fresh = this_run(result, started)
    if len(fresh):
        begun = (fresh["sent_at"] - pd.to_timedelta(fresh["latency_ms"].fillna(0), unit="ms"))
        seconds = max((fresh["sent_at"].max() - begun.min()).total_seconds(), 0.001)
        took = f"{seconds:.1f} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"
        line += f"; this run sent {len(fresh)} in {took} ({len(fresh) / seconds:.0f}/s)"
    else:
        line += "; this run sent nothing"
    known = skipped + changed
    if known:
        line += f" ({known} row(s) were already in the journal)"
    return line


_WAITING = {
    "deferred": "beyond the sender's unique-user allowance (its messaging tier)",
    "capped": "Meta's per-user marketing limit (131049)",
}


def _until(times: pd.Series) -> str:
    first, last = times.min(), times.max()
    if pd.isna(last):
        return ""
    text = f" until {utc_text(last.isoformat())}"
    if first != last:
        text += f" at the latest (the first from {utc_text(first.isoformat())})"
    return text


def later_lines(result: pd.DataFrame, *, journal: str | None, refused: int = 0,
                stop_reason: BaseException | None = None) -> list[str]:
    """What is left for a later run and why a run stopped early, a line each (none when
    nothing is): ``250 row(s) deferred until 2026-12-03 18:00 UTC (...): run the same command
    again then``. ``refused`` is how many times the platform refused a row after accepting
    it (130429, 131056) and it was sent again; ``stop_reason`` the engine's, when it stopped
    by itself."""
    lines = []
    again = ("run the same command again then: the journal sends only those rows" if journal
             else "run again then with a --journal (without one, a re-run sends every row "
                  "again)")
    for status, why in _WAITING.items():
        rows = result[result["status"] == status]
        if len(rows):
            times = pd.to_datetime(rows["eligible_at"], utc=True, errors="coerce") \
                if "eligible_at" in rows else pd.Series(dtype="datetime64[ns, UTC]")
            lines.append(f"{len(rows)} row(s) {status}{_until(times)} ({why}): {again}")
    if refused:
        lines.append(f"the platform refused {refused} accepted message(s) for its rate limits "
                     "(130429, 131056); they were sent again at a lower rate")
    if stop_reason is not None:
        unsent = int((result["status"] == "not_sent").sum())
        lines.append(f"stopped early: {stop_reason}; {unsent} row(s) not sent. Fix the cause "
                     f"(or wait until it passes), then {again.replace(' then', '')}")
    return lines
