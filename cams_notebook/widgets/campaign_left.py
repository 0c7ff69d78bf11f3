"""What a campaign panel's Send would really send: the valid rows the journal does not know.

A part of :class:`~.campaign_send.CampaignSending`'s confirmation step. After a finished or a
stopped send, "Send 294 messages" would be untrue: the engine replays every row its journal
already knows instead of sending it again. So before it offers Send, the panel plans the rows
as the campaign will (same keys and digests, :func:`~cams_notebook.campaigns.dry_run.plan_chunks`)
and asks the same journal the campaign will use which of them it has
(:func:`~cams_notebook.campaigns.bookkeeping.left_to_send` applies the engine's rule).

Which journal that is follows ``journal=`` as for ``send_frame``: ``None`` is this process's
session journal of the campaign on the client's account, ``False`` none (every row goes
out), a :class:`~cams_notebook.campaigns.journal.Journal` itself, a path its SQLite file
(opened for the look-up only; while another run holds it, the answer is not known).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..campaigns.bookkeeping import WAITING, left_to_send
from ..campaigns.campaign import session_journal
from ..campaigns.dry_run import plan_chunks
from ..campaigns.journal import Journal, JournalError, SqliteJournal
from ..campaigns.mapping import DryRun, FrameArgs
from ..campaigns.result import CampaignResult

__all__ = ["Left", "left_to_send_now"]


@dataclass(frozen=True)
class Left:
    """The valid rows a Send would send (``send``), per channel, and those the journal has
    (``done``); ``unknown_why`` says why the journal could not be asked ("" when it was);
    ``again``: of ``send``, the rows the journal knows but sends again (they failed without
    taking effect, or changed since and failed or ``on_changed="send"``); ``later``: of
    ``done``, the rows an earlier run left ``deferred`` or ``capped`` that are not eligible
    yet, the last of them from ``later_until`` (ISO-8601 UTC)."""

    send: int
    done: int = 0
    channels: dict[str, int] = field(default_factory=dict)
    unknown_why: str = ""
    again: int = 0
    later: int = 0
    later_until: str | None = None


def left_to_send_now(args: FrameArgs, dry: DryRun, *, journal: Any, account: tuple[str, str],
                     on_changed: str = "skip") -> Left:
    """The rows of ``args`` (mapped as the panel sends them) a run with ``journal`` sends."""
    invalid = set(dry.problems.loc[dry.problems["severity"] == "error", "index"])
    campaign_id, chunks, _, _ = plan_chunks(args.frame, args.constants, args.params, None, None)
    plans = [p for chunk in chunks for p in chunk if p.valid and p.index not in invalid]
    channels = _channels([p.message.channel_type for p in plans if p.message is not None])
    ledger, owned, why = _ledger(journal, campaign_id, account)
    if ledger is None:
        return Left(len(plans), 0, channels, why)
    try:
        known = ledger.get_many(p.key for p in plans)
    finally:
        if owned:
            ledger.close()
    waiting = left_to_send(plans, known, on_changed=on_changed)  # the engine's rule
    left = _channels([p.message.channel_type for p in waiting if p.message is not None])
    again = sum(1 for p in waiting if p.key in known)
    going = {p.key for p in waiting}
    later = [known[p.key] for p in plans
             if p.key not in going and p.key in known and known[p.key].status in WAITING]
    until = max((r.eligible_at for r in later if r.eligible_at), default=None)
    return Left(len(waiting), len(plans) - len(waiting), left, again=again, later=len(later),
                later_until=until)


def _channels(names: list[str]) -> dict[str, int]:
    counts = pd.Series(names, dtype="string").value_counts()
    return {str(k): int(v) for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}


def _ledger(journal: Any, campaign_id: str, account: tuple[str, str]
            ) -> tuple[Journal | None, bool, str]:
    """(the journal to ask, whether it was opened here, why there is none)."""
    if journal is False:
        return None, False, ""
    if isinstance(journal, Journal):
        return journal, False, ""
    if journal is None:
        probe = CampaignResult()  # names the session journal: campaign and account
        probe.campaign, probe.account = campaign_id, account
        return session_journal(probe), False, ""
    path = os.fspath(journal)
    if not os.path.exists(path):
        return None, False, ""  # a new journal: nothing done yet
    try:
        return SqliteJournal(path), True, ""
    except JournalError as exc:  # busy (another run sends with it) or unreadable
        return None, False, f"the journal could not be asked: {exc}"
