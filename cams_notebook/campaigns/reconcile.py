"""Settle ``unknown`` rows as ``sent`` or ``not_sent`` from evidence, and never guess.

A row is ``unknown`` when its request may have reached the service but no answer was read
(a timeout, a reset, a killed process). Sending it again could deliver the message twice, so
the campaign never does; :func:`reconcile` looks for proof instead, in this order:

1. **Delivery receipts** (ChatAppStatus events from a store, the queue, a push receiver, a
   DataFrame or a list of dicts) for the row's ``TaskId`` and recipient: a receipt proves
   the service accepted the message, so the row is ``sent`` with the receipt's MessageId.
2. **The service's record** (``ListChatappMessage``). It has no TaskId or MessageId filter,
   so a row is found the way a person would find it in the console: by its sender
   (``BusinessNumber``, the row's From), recipient (``UserNumber``), ``ChannelType``,
   ``CustSpaceId``, outbound direction (``EventAction=DOWN``) and a time window around the
   start of its latest attempt, then by its template (a template row's message names its
   TemplateCode or TemplateName; a free-form row's names none). These facts come from the
   campaign's journal, which writes them with the intent, before the request goes out.
   Every page is read, until a page shorter than the page size. Rows of one person whose
   windows overlap share one listing.

What the listing proves:

* exactly one candidate (a record that fits, whose MessageId no other row of the result
  or the journal holds, and that no other unsettled send to this person could be): the
  service accepted this row's request: ``sent`` with that MessageId;
* no candidate in a complete, readable listing: the request never took effect: ``not_sent``
  (safe to send again; the journal forgets the row, so re-running ``send_frame`` with it, or
  :func:`resend`, sends exactly these rows);
* several candidates, after removing the messages the journal knows as other sends to this
  person: they cannot be told apart: the row stays ``unknown``, and says so;
* an answer that cannot be read (``Data`` not a list, a record without MessageId or
  UserNumber, a page that repeats earlier ones), or a page that still fails after the
  retries that are safe for a query: nothing is proven: ``unknown``, never ``not_sent``;
* a row lacking a fact the query needs (no journal record, no CustSpaceId; pass
  ``cust_space_id=`` for rows sent without one) stays ``unknown`` saying what is missing.

The window. The gateway accepts a signed request only while its ``x-acs-date`` is within
15 minutes of the service's clock (reference ``cams_api.md`` section 3). The date is signed
right after the journal records the attempt, by this machine's clock, so a request the
service accepted arrived while the service's clock read within 15 minutes of that moment:
that one bound covers clock skew between this machine and the service *and* a request
delayed in flight. The window is the attempt's start +/- 16 minutes (:data:`WINDOW_MS`): the
15-minute rule, plus a minute for the second the date is truncated to and the time the
service takes to record a message. A record's ``SendTime`` is used to tell apart rows of one
person only when it can be read with its time zone (ISO text with an offset, or Unix ms);
one that cannot be read excludes nothing.

Absence needs the service to have recorded what it accepted: reconciliation waits until
``settle`` seconds have passed since the latest attempt (at most ``settle``, whatever the
clocks say). A request still in flight after that is not covered; run reconciliation later
if the network was very slow.

The questions go out several at once, in a fixed order, so the outcome does not depend on
timing. The journal is updated to match: ``sent`` rows get their outcome; ``not_sent`` rows are
dropped from it.

The parts: this module gathers the unknown rows and the journal's facts, waits, and writes the
outcomes back; :mod:`.settling` holds the proof (what fits, which message is whose);
:mod:`.message_listing` reads the service's record; :mod:`.resend` sends the ``not_sent`` rows
again (re-exported here).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..client import Client
from .journal import INTENT, Journal, SqliteJournal
from .resend import resend
from .settling import (
    WINDOW_MS,
    Outcome,
    Settler,
    UnknownRow,
    bare_number,
    nonempty_text,
    send_facts,
)

__all__ = ["WINDOW_MS", "reconcile", "resend"]

_OPEN = frozenset({INTENT, "unknown"})
"""Journal statuses of a send whose fate is not known: it may own any message in its window."""


def _journal_for(result: pd.DataFrame, journal: Any) -> Journal | None:
    if isinstance(journal, Journal):
        return journal
    if journal is False:
        return None
    if journal is None:
        try:
            from .frames import session_journal
        except ImportError:  # pragma: no cover - a frames module without it
            return None
        return session_journal(result)
    if not os.path.exists(journal):  # a typo must not start an empty journal
        raise FileNotFoundError(f"no journal at {os.fspath(journal)!r}: pass the journal= "
                                "given to send_frame (None for its default, False for none)")
    return SqliteJournal(journal)


def _cases(out: pd.DataFrame, unknown: Any, ledger: Journal | None,
           space: str | None) -> list[UnknownRow]:
    keys, tos = out["key"].to_numpy(), out["to"].to_numpy()
    tasks, ids = out["task_id"].to_numpy(), out["message_id"].to_numpy()
    cases = [UnknownRow(int(p), str(keys[p]), nonempty_text(tos[p]), nonempty_text(tasks[p]),
                        nonempty_text(ids[p])) for p in unknown]
    records = ledger.get_many(c.key for c in cases) if ledger is not None else {}
    for case in cases:
        facts = send_facts(records.get(case.key), space)
        if isinstance(facts, str):
            case.missing = facts
        else:
            case.facts = facts
    return cases


def _settler(out: pd.DataFrame, cases: list[UnknownRow], ledger: Journal | None, client: Client,
             space: str | None, sleep: Callable[[float], None]) -> Settler:
    """What is known before asking: MessageIds taken, and the journal's other open sends."""
    status, ids = out["status"].to_numpy(), out["message_id"].to_numpy()
    settler = Settler(client, sleep, {m for m in ids[status == "sent"] if nonempty_text(m)})
    if ledger is None:
        return settler
    mine = {c.key for c in cases}
    # pragma: no mutate start (equivalent: a row's result and its record name one number)
    numbers = {c.to for c in cases if c.to} | {c.facts.to for c in cases if c.facts}
    # pragma: no mutate end
    for record in ledger.rows_to(numbers):
        if record.key in mine:
            continue
        if record.message_id:
            settler.claimed.add(record.message_id)
        elif record.status in _OPEN:
            facts = send_facts(record, space)
            if isinstance(facts, str):
                settler.blind.add(
                    bare_number(record.to) or "",  # pragma: no mutate (no number is "XXXX")
                )
            else:
                settler.rivals.append(facts)
    for case in cases:  # a row that cannot be looked up may own any message to its number
        if case.facts is None and case.to:
            settler.blind.add(
                bare_number(case.to) or "",  # pragma: no mutate (no number is "XXXX")
            )
    return settler


def _wait(out: pd.DataFrame, cases: list[UnknownRow], settle: float,
          sleep: Callable[[float], None], clock: Callable[[], float]) -> None:
    """Give the service ``settle`` seconds from the latest attempt to record it (at most that)."""
    times = [c.facts.start + WINDOW_MS for c in cases if c.facts is not None]
    # pragma: no mutate start (equivalent: the engine writes sent_at as UTC text with +00:00)
    sent = pd.to_datetime(out["sent_at"], utc=True).dropna()
    # pragma: no mutate end
    if len(sent):
        times.append(int(sent.max().timestamp() * 1000))
    if settle > 0 and times:
        age = clock() - max(times) / 1000
        if age < settle:
            sleep(min(settle, settle - age))


def reconcile(result: pd.DataFrame, *, client: Client, receipts: Any = None, journal: Any = None,
              cust_space_id: str | None = None, settle: float = 2.0,
              sleep: Callable[[float], None] = time.sleep,
              clock: Callable[[], float] = time.time) -> pd.DataFrame:
    """A copy of ``result`` in which each ``unknown`` row the evidence settles is ``sent`` or
    ``not_sent``; a row it cannot settle stays ``unknown`` and its ``error`` says why.

    ``receipts``: receipt events (a ReceiptStore or ReceiptQueue, a DataFrame, or a list of
    ChatAppStatus dicts). ``journal``: the campaign's journal (the path given to
    ``send_frame``; None for the default in-memory one), read for each row's sender, channel,
    template and attempt time, and updated to match. ``cust_space_id``: the CustSpaceId of
    rows sent without one (``ListChatappMessage`` requires one). ``settle``: seconds the
    service gets after the latest attempt before an absence counts.

    >>> settled = reconcile(result, client=client, journal="send.db")   # doctest: +SKIP
    >>> result = resend(frame, settled, client=client, journal="send.db", ...)  # doctest: +SKIP
    """
    out = result.copy()
    unknown = np.flatnonzero(out["status"].to_numpy() == "unknown")
    if len(unknown) == 0:
        return out
    ledger = _journal_for(result, journal)
    try:
        cases = _cases(out, unknown, ledger, cust_space_id)
        settler = _settler(out, cases, ledger, client, cust_space_id, sleep)
        settler.receipts(cases, receipts)
        todo = [c for c in cases if c.position not in settler.settled]
        if any(c.facts is not None for c in todo):
            _wait(out, todo, settle, sleep, clock)
            settler.listings(todo)
            settler.decide(todo)
        for case in todo:
            if case.position not in settler.settled:
                settler.settled[case.position] = Outcome("unknown", note=case.missing)
        _apply(out, settler.settled)
        if ledger is not None:
            _record(ledger, out, settler.settled)
    finally:
        if ledger is not None and not isinstance(journal, Journal) and journal is not None:
            ledger.close()
    return out


def _apply(out: pd.DataFrame, settled: Mapping[int, Outcome]) -> None:
    col = {name: _position(out, name) for name in ("status", "message_id", "code", "error")}
    for position, outcome in settled.items():
        if outcome.status == "sent":
            out.iat[position, col["status"]] = "sent"
            out.iat[position, col["message_id"]] = outcome.message_id
            out.iat[position, col["code"]] = "OK"
            out.iat[position, col["error"]] = \
                f"reconciled: the service accepted it ({outcome.note})"
        elif outcome.status == "not_sent":
            out.iat[position, col["status"]] = "not_sent"
            out.iat[position, col["error"]] = \
                "reconciled: the service has no record of it; safe to resend"
        else:
            out.iat[position, col["error"]] = f"unknown after reconciling: {outcome.note}"


def _position(out: pd.DataFrame, name: str) -> int:
    """Where column ``name`` is; a result's columns are unique, so it is one position."""
    where = out.columns.get_loc(name)
    if not isinstance(where, int):  # a slice or a mask: the name is repeated
        raise ValueError(f"the result has more than one {name!r} column")
    return where


def _record(ledger: Journal, out: pd.DataFrame, settled: Mapping[int, Outcome]) -> None:
    """The journal follows: accepted rows get their outcome, rows not sent are forgotten."""
    keys = {p: str(out["key"].iat[p]) for p, o in settled.items() if o.status != "unknown"}
    known = ledger.get_many(keys.values())
    for position, key in keys.items():
        outcome = settled[position]
        if outcome.status == "not_sent":
            ledger.forget(key)
            continue
        row = known.get(key)
        if row is None:
            continue  # not this journal's row: nothing to correct
        row.status, row.message_id, row.code = "sent", outcome.message_id, "OK"
        row.error = f"reconciled: the service accepted it ({outcome.note})"
        ledger.outcome(row)
