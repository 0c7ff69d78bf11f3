"""The platform's limits on the command line: ``--sender-mps``, ``--limits`` and the health gate.

* ``--sender-mps`` is read here (:func:`sender_limits`), not by argparse: its values are one
  number for every sender (``80``, or ``none`` for no limit of their own) or ``NUMBER=N``
  pairs, and only all of them together tell a mix of the two, which is refused. A bad value
  is one line naming the flag, the value and the rule (exit 2), like every usage error here.
* ``--limits`` prints :meth:`~cams_notebook.campaigns.campaign.Campaign.limits` as a table,
  then the gate's refusals and warnings, and sends nothing (:func:`limits_text`,
  :func:`limits_exit`).
* A :class:`~cams_notebook.campaigns.health_gate.HealthGateError` from a send is a short
  error listing each refusal, with the exit code of its own (:func:`gate_refusal`), so a
  scheduler tells "the platform would refuse this" from a bad flag.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .exits import ExitCode
from .failures import CommandError
from .wording import flag_wording

if TYPE_CHECKING:
    import pandas as pd

    from ..campaigns.health_gate import HealthGateError

__all__ = ["LIMITS_SHOWN", "gate_refusal", "limits_exit", "limits_text", "sender_limits",
           "utc_text"]

LIMITS_SHOWN = ["sender", "status", "quality", "can_send", "tier", "limit", "used", "left",
                "rows_now", "rows_deferred", "deferred_until", "verdict"]
"""The columns of the plan ``--limits`` prints, in order (the notes follow the table)."""
_NONE = "none"


def _rate(flag_value: str, text: str) -> int | None:
    """``N`` (a whole number, at least 1) or ``none``; a CommandError naming the flag."""
    if text.strip().lower() == _NONE:
        return None
    try:
        value = int(text)
    except ValueError:
        raise CommandError(ExitCode.USAGE, f"--sender-mps {flag_value!r}: expected messages "
                           f"per second as a whole number, or 'none' for no limit of the "
                           f"sender's own, got {text!r}") from None
    if value < 1:
        raise CommandError(ExitCode.USAGE, f"--sender-mps {flag_value!r}: must be at least 1 "
                           f"message per second (or 'none'), got {value}")
    return value


def sender_limits(values: Sequence[str] | None, default: int) -> int | dict[str, int | None] | None:
    """What ``--sender-mps`` (given ``values`` times) means for ``sender_mps=``.

    Nothing given: ``default``. One ``N`` or ``none``: that, for every WhatsApp sender.
    ``NUMBER=N`` or ``NUMBER=none``, repeated: a mapping (senders not named keep ``default``).

    >>> sender_limits(["8613800000904=20", "8613800000000=none"], 80)
    {'8613800000904': 20, '8613800000000': None}
    """
    if not values:
        return default
    plain = [v for v in values if "=" not in v]
    pairs = [v for v in values if "=" in v]
    if plain and (pairs or len(plain) > 1):
        raise CommandError(ExitCode.USAGE, "--sender-mps: give one value for every sender (N, "
                           "or none) once, or NUMBER=N pairs (repeat the flag), not both: "
                           f"got {' '.join(values)}")
    if plain:
        return _rate(plain[0], plain[0])
    mapping: dict[str, int | None] = {}
    for value in pairs:
        number, _, rate = value.partition("=")
        number = number.strip().lstrip("+").replace(" ", "").replace("-", "")
        if not number.isdigit():
            raise CommandError(ExitCode.USAGE, f"--sender-mps {value!r}: NUMBER must be a "
                               f"sender's phone number (digits), got {number or '(nothing)'!r}")
        if number in mapping:
            raise CommandError(ExitCode.USAGE, f"--sender-mps {value!r}: sender {number} is "
                               "given twice")
        mapping[number] = _rate(value, rate)
    return mapping


def _cell(value: Any) -> str:
    import pandas as pd

    if value is None or (not isinstance(value, (list, dict)) and pd.isna(value)):
        return "-"  # not known, or no limit: a dash keeps the columns readable
    if isinstance(value, str) and len(value) >= 16 and value[10:11] == "T":
        return utc_text(value)
    return str(value)


def utc_text(iso: str) -> str:
    """An ISO-8601 time as the CLI prints times: ``2026-12-03 18:00 UTC``.

    >>> utc_text("2026-12-03T18:00:31.661+00:00")
    '2026-12-03 18:00 UTC'
    """
    import pandas as pd

    try:
        stamp = pd.Timestamp(iso)
    except ValueError:
        return iso
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%d %H:%M UTC")


def limits_text(plan: pd.DataFrame) -> str:
    """``--limits``: the plan per sender as a table, then each refusal and warning."""
    lines: list[str] = []
    if len(plan):
        shown = plan[[c for c in LIMITS_SHOWN if c in plan.columns]]
        lines.append(shown.map(_cell).to_string(index=False))
        notes = [(s, n) for s, n in zip(plan["sender"], plan.get("note", []), strict=False)
                 if isinstance(n, str) and n]
        lines += [f"  {sender}: {note}" for sender, note in notes]
        deferred = int(plan["rows_deferred"].fillna(0).sum())
        now = int(plan["rows_now"].fillna(0).sum())
        lines.append(f"{now} row(s) would go now, {deferred} would be deferred" +
                     (" (a later run with the same --journal sends them once eligible)"
                      if deferred else ""))
    else:
        lines.append("no WhatsApp template rows to plan: no sender's unique-user allowance "
                     "applies")
    refusals, warnings = plan.attrs.get("refusals", []), plan.attrs.get("warnings", [])
    if refusals:
        lines.append(f"{len(refusals)} refusal(s): a send would stop before its first request")
        lines += [f"  - {flag_wording(r)}" for r in refusals]
    if warnings:
        lines.append(f"{len(warnings)} warning(s):")
        lines += [f"  - {flag_wording(w)}" for w in warnings]
    if not refusals and not warnings:
        lines.append("the health check found nothing to refuse or warn about")
    return "\n".join(lines)


def limits_exit(plan: pd.DataFrame) -> ExitCode:
    """``--limits`` exits 0, or as the send would (:attr:`ExitCode.REFUSED`) with refusals."""
    return ExitCode.REFUSED if plan.attrs.get("refusals") else ExitCode.OK


def gate_refusal(exc: HealthGateError) -> CommandError:
    """A refused campaign as a short error: why, each refusal, what to do; nothing was sent."""
    lines = [f"the health check refused this campaign before its first request, so nothing "
             f"was sent ({len(exc.refusals)} problem(s)):"]
    lines += [f"  - {flag_wording(r)}" for r in exc.refusals]
    lines.append("fix them and run the same command again (--limits shows the plan per sender "
                 "without sending; --no-health-check skips the check if you know better)")
    return CommandError(ExitCode.REFUSED, "\n".join(lines))
