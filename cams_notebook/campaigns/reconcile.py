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

The questions go out several at once (``_LOOKUPS`` threads), in a fixed order, so the
outcome does not depend on timing. The journal is updated to match: ``sent`` rows get their
outcome; ``not_sent`` rows are dropped from it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..client import Client
from ..content import dumps
from ..errors import CamsError, TransportError
from .journal import INTENT, Journal, JournalRow, SqliteJournal

__all__ = ["WINDOW_MS", "reconcile", "resend"]

WINDOW_MS = 16 * 60 * 1000
"""Half the listing window around an attempt: the gateway's 15-minute rule plus a minute."""
PAGE_SIZE = 100
_MAX_PAGES = 50
"""5,000 messages to one person in half an hour is no listing to trust to an end."""
_LOOKUPS = 8
"""ListChatappMessage questions in flight at once."""
_TRIES = 5
_OPEN = frozenset({INTENT, "unknown"})
"""Journal statuses of a send whose fate is not known: it may own any message in its window."""
_NO_SPACE = ("no CustSpaceId: the row was sent without one and ListChatappMessage needs one; pass "
             "reconcile(cust_space_id=...) (the sandbox's is "
             "cams_notebook.sandbox.DEFAULT_CUST_SPACE_ID)")

Evidence = dict[str, dict[str, str | None]]
"""TaskId -> {MessageId: recipient number, or None when the evidence does not say}."""
Records = list[Mapping[str, Any]]


class _Outcome(NamedTuple):
    status: str
    """``sent``, ``not_sent`` or ``unknown``."""
    message_id: str | None = None
    note: str = ""


@dataclass(frozen=True)
class _Facts:
    """What a query needs to find one send, and what its message must look like."""

    channel: str
    sender: str
    to: str
    space: str
    template: str | None
    start: int
    end: int

    @property
    def person(self) -> tuple[str, str, str, str]:
        return (self.channel, self.sender, self.to, self.space)


@dataclass
class _Case:
    """One unknown row of the result."""

    position: int
    key: str
    to: str | None
    task_id: str | None
    message_id: str | None
    facts: _Facts | None = None
    missing: str = ""
    candidates: set[str] = field(default_factory=set)


# -- reading values ----------------------------------------------------------------------------


def _number(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return value.strip().lstrip("+").replace(" ", "").replace("-", "")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _ms(value: Any) -> int | None:
    """Unix ms from Unix ms or ISO text with a zone; None when it cannot be read for sure."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, (int, float)):
        # seconds, or a number that is no time at all, read as ms would land in 1970
        return int(value) if value >= 10**11 else None
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        stamp = pd.Timestamp(value.strip())
    except (ValueError, TypeError):
        return None
    if pd.isna(stamp) or stamp.tzinfo is None:  # without its zone it could be hours off
        return None
    return int(stamp.timestamp() * 1000)


def _facts(record: JournalRow | None, space: str | None) -> _Facts | str:
    """The query facts of one journal record, or what is missing."""
    if record is None:
        return "the journal has no record of this row (pass the journal= given to send_frame)"
    attempted = _ms(record.attempted_at)
    to = _number(record.to)
    lacking = [name for name, value in (("ChannelType", record.channel),
                                        ("sender", record.sender), ("recipient", to),
                                        ("attempt time", attempted)) if not value]
    if lacking:
        return f"the journal does not record this row's {', '.join(lacking)}"
    assert attempted is not None and to is not None and record.channel and record.sender
    space = record.cust_space_id or space
    if not space:
        return _NO_SPACE
    return _Facts(record.channel.lower(), _number(record.sender) or "", to, space,
                  record.template_code or None, attempted - WINDOW_MS, attempted + WINDOW_MS)


def _fits(facts: _Facts, record: Mapping[str, Any]) -> bool:
    """Whether ``record`` could be the message of the send ``facts`` describe."""
    if _number(record.get("UserNumber")) != facts.to:
        return False
    sender, channel, action = (_text(record.get(k)) for k in
                               ("BusinessNumber", "ChannelType", "EventAction"))
    if ((sender and _number(sender) != facts.sender)
            or (channel and channel.lower() != facts.channel)
            or (action and action.upper() != "DOWN")):
        return False
    named = {v for v in (_text(record.get("TemplateCode")), _text(record.get("TemplateName"))) if v}
    if named and (facts.template is None or facts.template not in named):
        return False  # another template's message, or a template message for a free-form row
    when = _ms(record.get("SendTime"))
    return when is None or facts.start <= when <= facts.end


# -- evidence from receipts -------------------------------------------------------------------


def _field(record: Any, *names: str) -> Any:
    for name in names:
        value = record.get(name) if isinstance(record, Mapping) else getattr(record, name, None)
        if isinstance(value, str) and value:
            return value
    return None


def _from_receipts(receipts: Any) -> tuple[Evidence, set[str]]:
    """(evidence by TaskId, every MessageId) from receipts in any of the shapes users hold them."""
    if receipts is None:
        return {}, set()
    if isinstance(receipts, pd.DataFrame):
        rows: Iterable[Any] = receipts.to_dict("records")
    elif hasattr(receipts, "to_frame"):
        rows = receipts.to_frame().to_dict("records")
    elif hasattr(receipts, "store") and hasattr(receipts.store, "to_frame"):
        rows = receipts.store.to_frame().to_dict("records")
    else:
        rows = receipts
    evidence: Evidence = {}
    ids: set[str] = set()
    for r in rows:
        message_id, task_id = _field(r, "MessageId", "message_id"), _field(r, "TaskId", "task_id")
        if message_id:
            ids.add(message_id)
            if task_id:
                evidence.setdefault(task_id, {}).setdefault(
                    message_id, _number(_field(r, "To", "to", "number")))
    return evidence, ids


# -- asking the service ------------------------------------------------------------------------


def _call(client: Client, params: dict[str, str], sleep: Callable[[float], None]) -> dict[str, Any]:
    """One ListChatappMessage call, retried where that is safe (a query sends nothing)."""
    for attempt in range(1, _TRIES + 1):
        try:
            return client.call("ListChatappMessage", params)
        except CamsError as error:
            if attempt == _TRIES or not (error.retry_safe or isinstance(error, TransportError)):
                raise
            sleep(getattr(error, "retry_after", None) or min(5.0, 0.2 * 2 ** attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def _records(data: Mapping[str, Any]) -> Records | str:
    """The records of one answer, or why the answer cannot be read."""
    if data.get("Success") is False:
        return "Success is false"
    items = data.get("Data")
    if not isinstance(items, list):
        return f"Data is {type(items).__name__}, not a list of records"
    for item in items:
        if not isinstance(item, Mapping):
            return f"a record is {type(item).__name__}, not an object"
        for name in ("MessageId", "UserNumber"):
            if not _text(item.get(name)):
                return f"a record has no {name}"
    return items


def _listing(client: Client, person: tuple[str, str, str, str], start: int, end: int,
             sleep: Callable[[float], None]) -> Records | str:
    """Every outbound record to one person in [start, end], or why they could not all be read."""
    channel, sender, to, space = person
    params = {"ChannelType": channel, "CustSpaceId": space, "BusinessNumber": sender,
              "UserNumber": to, "EventAction": "DOWN", "StartTime": str(start),
              "EndTime": str(end)}
    found: dict[str, Mapping[str, Any]] = {}
    for index in range(1, _MAX_PAGES + 1):
        page_params = {**params, "Page": dumps({"Index": index, "Size": PAGE_SIZE})}
        try:
            page = _records(_call(client, page_params, sleep))
        except CamsError as error:
            return f"ListChatappMessage page {index} failed: {type(error).__name__}: {error}"
        if isinstance(page, str):
            return f"ListChatappMessage page {index} cannot be read: {page}"
        fresh = {str(r["MessageId"]): r for r in page if str(r["MessageId"]) not in found}
        if len(page) >= PAGE_SIZE and not fresh:  # a service that serves one page forever
            return f"ListChatappMessage page {index} repeats earlier pages; its end was never seen"
        found.update(fresh)
        if len(page) < PAGE_SIZE:
            return list(found.values())
    return (f"more than {_MAX_PAGES * PAGE_SIZE} messages listed; the listing was not read to "
            "its end")


# -- settling ----------------------------------------------------------------------------------


@dataclass
class _Settler:
    """The evidence of one reconciliation, and the outcome it proves for each case."""

    client: Client
    sleep: Callable[[float], None]
    claimed: set[str]
    """MessageIds that belong to other rows: sent rows of the result, sends the journal knows."""
    rivals: list[_Facts] = field(default_factory=list)
    """Other sends of the journal whose fate is not known: each may own a message in its window."""
    blind: set[str] = field(default_factory=set)
    """Numbers of such sends whose window is not known: every message to them is theirs too."""
    contested: set[str] = field(default_factory=set)
    """Candidates that such a send could own as well as a row of the result."""
    settled: dict[int, _Outcome] = field(default_factory=dict)

    def receipts(self, cases: list[_Case], receipts: Any) -> None:
        """Rows a receipt proves accepted, matched by TaskId and recipient."""
        evidence, ids = _from_receipts(receipts)
        for case in cases:
            found = next((m for m, number in (evidence.get(case.task_id or "") or {}).items()
                          if m not in self.claimed and number in (None, _number(case.to))), None)
            if found is None and case.message_id in ids and case.message_id not in self.claimed:
                found = case.message_id
            if found is not None:
                self.claimed.add(found)
                self.settled[case.position] = _Outcome("sent", found, "a delivery receipt shows it")

    def listings(self, cases: list[_Case]) -> None:
        """Ask the service about every case with facts; keep each case's candidates."""
        queries = _queries([c for c in cases if c.facts is not None])
        if not queries:
            return
        with ThreadPoolExecutor(max_workers=min(_LOOKUPS, len(queries)),
                                thread_name_prefix="cams-reconcile") as pool:
            answers = list(pool.map(lambda q: _listing(self.client, q[0], q[1], q[2], self.sleep),
                                    queries))
        for (_, _, _, group), answer in zip(queries, answers, strict=True):
            for case in group:
                assert case.facts is not None
                if isinstance(answer, str):
                    self.settled[case.position] = _Outcome("unknown", note=answer)
                    continue
                for record in answer:
                    message_id = str(record["MessageId"])
                    if message_id not in self.claimed and _fits(case.facts, record):
                        case.candidates.add(message_id)
                        if self._rivalled(record):
                            self.contested.add(message_id)

    def _rivalled(self, record: Mapping[str, Any]) -> bool:
        return _number(record.get("UserNumber")) in self.blind or \
            any(_fits(rival, record) for rival in self.rivals)

    def decide(self, cases: list[_Case]) -> None:
        """A message goes to a row only when it is that row's only candidate and no other row's."""
        open_cases = [c for c in cases if c.facts is not None and c.position not in self.settled]
        taken: set[str] = set()
        progress = True
        while progress:
            progress = False
            owners: dict[str, int] = {}
            for case in open_cases:
                for message_id in case.candidates - taken:
                    owners[message_id] = owners.get(message_id, 0) + 1
            for case in open_cases:
                left = case.candidates - taken
                if case.position in self.settled or len(left) != 1:
                    continue
                (only,) = left
                if owners[only] == 1 and only not in self.contested:
                    taken.add(only)
                    self.settled[case.position] = _Outcome("sent", only,
                                                           "ListChatappMessage lists it")
                    progress = True
        for case in open_cases:
            if case.position not in self.settled:
                self.settled[case.position] = _undecided(case.candidates - taken)


def _undecided(left: set[str]) -> _Outcome:
    if not left:
        return _Outcome("not_sent")
    if len(left) > 1:
        return _Outcome("unknown", note=f"{len(left)} messages to this person in the window; "
                        "cannot tell which is this row's")
    return _Outcome("unknown", note="1 message to this person in the window, which another "
                    "unsettled send to this person could own; cannot tell whose it is")


def _queries(cases: list[_Case]) -> list[tuple[tuple[str, str, str, str], int, int, list[_Case]]]:
    """One listing per person and run of overlapping windows, in a fixed order."""
    by_person: dict[tuple[str, str, str, str], list[_Case]] = {}
    for case in cases:
        assert case.facts is not None
        by_person.setdefault(case.facts.person, []).append(case)
    out: list[tuple[tuple[str, str, str, str], int, int, list[_Case]]] = []
    for person in sorted(by_person):
        group = sorted(by_person[person], key=lambda c: c.facts.start if c.facts else 0)
        for case in group:
            assert case.facts is not None
            if out and out[-1][0] == person and case.facts.start <= out[-1][2]:
                _, start, end, members = out[-1]
                out[-1] = (person, start, max(end, case.facts.end), [*members, case])
            else:
                out.append((person, case.facts.start, case.facts.end, [case]))
    return out


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
           space: str | None) -> list[_Case]:
    keys, tos = out["key"].to_numpy(), out["to"].to_numpy()
    tasks, ids = out["task_id"].to_numpy(), out["message_id"].to_numpy()
    cases = [_Case(int(p), str(keys[p]), _text(tos[p]), _text(tasks[p]), _text(ids[p]))
             for p in unknown]
    records = ledger.get_many(c.key for c in cases) if ledger is not None else {}
    for case in cases:
        facts = _facts(records.get(case.key), space)
        if isinstance(facts, str):
            case.missing = facts
        else:
            case.facts = facts
    return cases


def _settler(out: pd.DataFrame, cases: list[_Case], ledger: Journal | None, client: Client,
             space: str | None, sleep: Callable[[float], None]) -> _Settler:
    """What is known before asking: MessageIds taken, and the journal's other open sends."""
    status, ids = out["status"].to_numpy(), out["message_id"].to_numpy()
    settler = _Settler(client, sleep, {m for m in ids[status == "sent"] if _text(m)})
    if ledger is None:
        return settler
    mine = {c.key for c in cases}
    numbers = {c.to for c in cases if c.to} | {c.facts.to for c in cases if c.facts}
    for record in ledger.rows_to(numbers):
        if record.key in mine:
            continue
        if record.message_id:
            settler.claimed.add(record.message_id)
        elif record.status in _OPEN:
            facts = _facts(record, space)
            if isinstance(facts, str):
                settler.blind.add(_number(record.to) or "")
            else:
                settler.rivals.append(facts)
    for case in cases:  # a row that cannot be looked up may own any message to its number
        if case.facts is None and case.to:
            settler.blind.add(_number(case.to) or "")
    return settler


def _wait(out: pd.DataFrame, cases: list[_Case], settle: float, sleep: Callable[[float], None],
          clock: Callable[[], float]) -> None:
    """Give the service ``settle`` seconds from the latest attempt to record it (at most that)."""
    times = [c.facts.start + WINDOW_MS for c in cases if c.facts is not None]
    sent = pd.to_datetime(out["sent_at"], utc=True).dropna()
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
                settler.settled[case.position] = _Outcome("unknown", note=case.missing)
        _apply(out, settler.settled)
        if ledger is not None:
            _record(ledger, out, settler.settled)
    finally:
        if ledger is not None and not isinstance(journal, Journal) and journal is not None:
            ledger.close()
    return out


def _apply(out: pd.DataFrame, settled: Mapping[int, _Outcome]) -> None:
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


def _record(ledger: Journal, out: pd.DataFrame, settled: Mapping[int, _Outcome]) -> None:
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


# -- resend ------------------------------------------------------------------------------------


def _labels(labels: Iterable[Any]) -> str:
    shown = list(labels)
    text = ", ".join(repr(label) for label in shown[:5])
    return text + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")


def _alignment(frame: pd.DataFrame, result: pd.DataFrame) -> npt.NDArray[np.intp]:
    """For each row of ``frame``, the position of its row in ``result`` (matched by label)."""
    if frame.index.equals(result.index):
        # the same labels in the same order: row for row, unless repeated labels were
        # shuffled among themselves, which the recipients show
        column = next((c for c in ("to", "To") if c in frame.columns), None)
        if frame.index.has_duplicates and column is not None:
            theirs = [_number(str(v)) for v in frame[column].to_numpy()]
            ours = [_number(v) for v in result["to"].to_numpy()]
            moved = [label for label, a, b in zip(frame.index, theirs, ours, strict=True)
                     if b and a != b]
            if moved:
                raise ValueError(f"resend matches rows by index label, and the rows labelled "
                                 f"{_labels(dict.fromkeys(moved))} are not in the result's order "
                                 "(their recipients differ): pass the frame as it was sent")
        return np.arange(len(frame))
    duplicated = [*frame.index[frame.index.duplicated()], *result.index[result.index.duplicated()]]
    if duplicated:
        raise ValueError(
            f"resend matches frame and result rows by index label, and label(s) "
            f"{_labels(dict.fromkeys(duplicated))} appear more than once in a different order: "
            "cannot tell which row is which. Pass the frame in the result's order, or give it "
            "unique labels before sending")
    missing, extra = result.index.difference(frame.index), frame.index.difference(result.index)
    if len(missing) or len(extra):
        parts = ([f"label(s) {_labels(missing)} of the result are not in the frame"]
                 if len(missing) else [])
        parts += ([f"label(s) {_labels(extra)} of the frame are not in the result"]
                  if len(extra) else [])
        raise ValueError("resend needs the campaign's frame, matched to its result by index "
                         "label: " + "; ".join(parts))
    return np.asarray(result.index.get_indexer(frame.index))


def resend(frame: pd.DataFrame, result: pd.DataFrame, **send_kwargs: Any) -> pd.DataFrame:
    """Send the rows of ``frame`` that are ``not_sent`` in ``result`` again; return the
    combined result, in ``frame``'s order.

    Rows are matched by index label, so ``frame`` may be re-sorted since the campaign; labels
    missing on either side, or repeated labels in a different order, are a ``ValueError``
    naming them. Pass the same ``client``, ``journal`` and constants given to ``send_frame``;
    rows that were sent are not touched.
    """
    from .frames import CampaignResult, send_frame

    if len(frame) != len(result):
        raise ValueError(f"resend needs the campaign's frame and its result, one row for each "
                         f"row; got {len(frame)} and {len(result)} rows")
    order = _alignment(frame, result)
    todo: npt.NDArray[np.bool_] = result["status"].to_numpy()[order] == "not_sent"
    identity = bool((order == np.arange(len(order))).all())
    if not todo.any():
        return result if identity else result.iloc[order]
    again = send_frame(frame.iloc[np.flatnonzero(todo)], **send_kwargs)
    # concat lets the columns' types meet (a time column of one resolution and one of another)
    combined = pd.concat([result.iloc[order[~todo]], again])
    combined = combined.iloc[np.argsort(np.concatenate([np.flatnonzero(~todo),
                                                        np.flatnonzero(todo)]), kind="stable")]
    combined.index = frame.index
    if isinstance(result, CampaignResult):
        combined = CampaignResult(combined)
        for name in CampaignResult._metadata:
            setattr(combined, name, getattr(result, name, None))
    return combined
