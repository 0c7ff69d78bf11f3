"""Turn ``unknown`` rows into ``sent`` or ``not_sent`` from evidence, so none stays unknown.

A row is ``unknown`` when its request may have reached the service but no answer could be
read (a timeout, a reset, a killed process). Sending it again could deliver the message
twice, so the campaign never does; :func:`reconcile` settles it instead, from two kinds of
evidence, both matched by the row's ``TaskId`` (every campaign row carries one, derived
from the campaign and the row key) and recipient:

1. delivery receipts (ChatAppStatus events, from a store, the queue, a push receiver, or a
   list of dicts): a receipt for the row proves the message was accepted;
2. the service's own record of sent messages (``ListChatappMessage``): the row there proves
   it was accepted; its absence, once the service has had time to record it, means the
   request never took effect. Absence is only ever concluded from a lookup of that row's
   TaskId and number with no time bound, so a row sent long before the others (a campaign
   resumed days later) cannot be missed and sent twice.

Matching on TaskId *and* number, and never giving one MessageId to two rows, keeps a
TaskId that the frame gives to many rows (a campaign name, say) from settling every row
with one message. A row without a TaskId has nothing to look up and stays ``unknown``.

The journal is updated to match: ``sent`` rows get their outcome; ``not_sent`` rows are
dropped from it, so re-running the same ``send_frame`` call with the same journal sends
exactly them (that is :func:`resend`). The service records a message when it accepts it;
run reconciliation a little after the campaign (the default waits ``settle`` seconds from
the last send) so a request still in flight is not taken for one that never arrived.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from .client import Client
from .content import dumps
from .errors import CamsError, TransportError
from .ledger import Ledger, SqliteLedger

__all__ = ["reconcile", "resend"]

_PAGE = 100
_FEW = 20
"""Up to this many rows to look up, one query each; more, and the campaign's window is listed."""
_MARGIN_MS = 600_000
_LOOKUPS = 8
"""ListChatappMessage questions in flight at once while settling rows one by one."""
_TRIES = 5

Evidence = dict[str, dict[str, str | None]]
"""TaskId -> {MessageId: recipient number, or None when the evidence does not say}."""


def _number(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return value.strip().lstrip("+").replace(" ", "").replace("-", "")


def _field(record: Any, *names: str) -> Any:
    for name in names:
        value = record.get(name) if isinstance(record, Mapping) else getattr(record, name, None)
        if isinstance(value, str) and value:
            return value
    return None


def _add(evidence: Evidence, task_id: Any, message_id: Any, to: Any) -> None:
    if isinstance(task_id, str) and task_id and isinstance(message_id, str) and message_id:
        evidence.setdefault(task_id, {}).setdefault(message_id, _number(to))


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
        message_id = _field(r, "MessageId", "message_id")
        if message_id:
            ids.add(message_id)
            _add(evidence, _field(r, "TaskId", "task_id"), message_id,
                 _field(r, "To", "to", "number"))
    return evidence, ids


def _call(client: Client, params: dict[str, str], sleep: Callable[[float], None]) -> dict[str, Any]:
    """One ListChatappMessage call, retried where that is safe (a query sends nothing)."""
    for attempt in range(1, _TRIES + 1):
        try:
            return client.call("ListChatappMessage", params)
        except CamsError as error:
            if attempt == _TRIES or not (error.retry_safe or isinstance(error, TransportError)):
                raise
            sleep(getattr(error, "retry_after", None) or 0.2 * 2 ** attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _pages(client: Client, params: dict[str, str], sleep: Callable[[float], None]
           ) -> Iterable[Mapping[str, Any]]:
    """Every record of a listing, page by page; a page with nothing new ends it (a service
    that answers the same page again, or claims more than it lists, cannot loop us forever)."""
    seen: set[str] = set()
    page = 1
    while True:
        data = _call(client, {**params, "EventAction": "DOWN",
                              "Page": dumps({"Index": page, "Size": _PAGE})}, sleep)
        body = data.get("Data")
        body = body if isinstance(body, Mapping) else {}
        items = body.get("List")
        records = [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else []
        fresh = [r for r in records if str(r.get("MessageId")) not in seen]
        seen.update(str(r.get("MessageId")) for r in records)
        yield from fresh
        try:
            total = int(body.get("Total") or 0)
        except (TypeError, ValueError):
            total = 0
        if not fresh or page * _PAGE >= total:
            return
        page += 1


def _lookup(client: Client, rows: Iterable[tuple[str, str | None]], evidence: Evidence,
            sleep: Callable[[float], None]) -> None:
    """Ask the service about each (TaskId, number), with no time bound.

    Each question is one round trip; a few run at once (``_LOOKUPS``), so settling a
    thousand rows takes seconds rather than a thousand round trips.
    """
    def ask(row: tuple[str, str | None]) -> list[Mapping[str, Any]]:
        task_id, to = row
        params = {"TaskId": task_id}
        if to:
            params["ClientNumber"] = to
        return [item for item in _pages(client, params, sleep) if item.get("TaskId") == task_id]

    todo = sorted(set(rows), key=lambda row: (row[0], row[1] or ""))
    if not todo:
        return
    with ThreadPoolExecutor(max_workers=min(_LOOKUPS, len(todo)),
                            thread_name_prefix="cams-reconcile") as pool:
        for items in pool.map(ask, todo):  # in a fixed order: evidence does not depend on timing
            for item in items:
                _add(evidence, item.get("TaskId"), item.get("MessageId"), item.get("ClientNumber"))


def _scan(client: Client, tasks: set[str], start_ms: int | None, evidence: Evidence,
          sleep: Callable[[float], None]) -> None:
    """List the campaign's window of sent messages once, keeping the rows' TaskIds."""
    params = {} if start_ms is None else {"StartTime": str(start_ms)}
    for item in _pages(client, params, sleep):
        if item.get("TaskId") in tasks:
            _add(evidence, item["TaskId"], item.get("MessageId"), item.get("ClientNumber"))


def _journal_for(result: pd.DataFrame, journal: Any) -> Ledger | None:
    if isinstance(journal, Ledger):
        return journal
    if journal is None:
        from .frames import _SESSION_JOURNALS

        return _SESSION_JOURNALS.get(getattr(result, "campaign", None) or "")
    if journal is False:
        return None
    if not os.path.exists(journal):  # a typo must not start an empty journal
        raise FileNotFoundError(f"no journal at {os.fspath(journal)!r}: pass the journal= "
                                "given to send_frame (None for its default, False for none)")
    return SqliteLedger(journal)


def reconcile(result: pd.DataFrame, *, client: Client, receipts: Any = None, journal: Any = None,
              settle: float = 2.0, sleep: Callable[[float], None] = time.sleep) -> pd.DataFrame:
    """A copy of ``result`` in which every ``unknown`` row is ``sent`` or ``not_sent``.

    ``receipts``: receipt events (a ReceiptStore or ReceiptQueue, a DataFrame, or a list of
    ChatAppStatus dicts). ``journal``: the campaign's journal (the path given to
    ``send_frame``; None for the default in-memory one), updated to match.

    >>> settled = reconcile(result, client=client, journal="send.db")   # doctest: +SKIP
    >>> result = resend(frame, settled, client=client, journal="send.db", ...)  # doctest: +SKIP
    """
    out = result.copy()
    status = out["status"].to_numpy()
    unknown = np.flatnonzero(status == "unknown")
    if len(unknown) == 0:
        return out
    ledger = _journal_for(result, journal)
    try:
        settled = _settle(out, status, unknown, client, receipts, settle, sleep)
        _apply(out, settled)
        if ledger is not None:
            _record(ledger, out, settled)
    finally:
        if ledger is not None and not isinstance(journal, Ledger) and journal is not None:
            ledger.close()
    return out


def _settle(out: pd.DataFrame, status: Any, unknown: Any, client: Client, receipts: Any,
            settle: float, sleep: Callable[[float], None]) -> dict[int, str | None]:
    """Position -> MessageId (accepted) or None (not accepted), for each row with a TaskId."""
    sent_times = pd.to_datetime(out["sent_at"], utc=True).dropna()
    if settle > 0 and len(sent_times):  # at most ``settle``, whatever the clocks say
        age = time.time() - sent_times.max().timestamp()
        if age < settle:
            sleep(min(settle, settle - age))

    evidence, message_ids = _from_receipts(receipts)
    claimed = {m for m in out["message_id"].to_numpy()[status == "sent"] if isinstance(m, str)}
    tasks, numbers = out["task_id"].to_numpy(), out["to"].to_numpy()
    rows = [(int(p), tasks[p] if isinstance(tasks[p], str) and tasks[p] else None,
             _number(numbers[p])) for p in unknown]

    def candidate(task_id: str, to: str | None, taken: set[str]) -> str | None:
        for message_id, number in (evidence.get(task_id) or {}).items():
            if message_id not in taken and (number is None or to is None or number == to):
                return message_id
        return None

    todo = [(t, n) for _, t, n in rows if t is not None and candidate(t, n, claimed) is None]
    if len(set(todo)) > _FEW and len(sent_times):
        # one listing of the campaign's window finds the accepted rows cheaply; absence in a
        # window is no proof (a row may predate it), so the rest are confirmed one by one
        start = int(sent_times.min().timestamp() * 1000) - _MARGIN_MS
        _scan(client, {t for t, _ in todo}, start, evidence, sleep)
        todo = [(t, n) for t, n in todo if candidate(t, n, claimed) is None]
    _lookup(client, todo, evidence, sleep)
    asked = set(todo)

    settled: dict[int, str | None] = {}
    for _ in range(2):  # a second pass asks about rows whose receipt went to an earlier row
        taken = set(claimed)
        settled.clear()
        late = []
        for position, task_id, to in rows:
            if task_id is None:
                continue
            found = candidate(task_id, to, taken)
            known = out["message_id"].iat[position]
            if found is None and isinstance(known, str) and known in message_ids:
                found = known
            if found is None and (task_id, to) not in asked:
                late.append((task_id, to))
            if found is not None:
                taken.add(found)
            settled[position] = found
        if not late:
            break
        _lookup(client, late, evidence, sleep)
        asked.update(late)
    return settled


def _apply(out: pd.DataFrame, settled: Mapping[int, str | None]) -> None:
    col = {name: out.columns.get_loc(name) for name in ("status", "message_id", "code", "error")}
    for position, message_id in settled.items():
        if message_id:
            out.iat[position, col["status"]] = "sent"
            out.iat[position, col["message_id"]] = message_id
            out.iat[position, col["code"]] = "OK"
            out.iat[position, col["error"]] = "reconciled: the service accepted it"
        else:
            out.iat[position, col["status"]] = "not_sent"
            out.iat[position, col["error"]] = \
                "reconciled: the service has no record of it; safe to resend"
    for left in np.flatnonzero(out["status"].to_numpy() == "unknown"):
        out.iat[int(left), col["error"]] = "unknown: the row has no TaskId to look up"


def _record(ledger: Ledger, out: pd.DataFrame, settled: Mapping[int, str | None]) -> None:
    """The journal follows: accepted rows get their outcome, the others are forgotten."""
    keys = {p: str(out["key"].iat[p]) for p in settled}
    known = ledger.get_many(keys.values())
    for position, message_id in settled.items():
        key = keys[position]
        if not message_id:
            ledger.forget(key)
            continue
        row = known.get(key)
        if row is None:
            continue  # not this journal's row: nothing to correct
        row.status, row.message_id, row.code = "sent", message_id, "OK"
        row.error = "reconciled: the service accepted it"
        ledger.outcome(row)


def resend(frame: pd.DataFrame, result: pd.DataFrame, **send_kwargs: Any) -> pd.DataFrame:
    """Send the ``not_sent`` rows of ``result`` again, with the same arguments as the campaign.

    ``frame`` is the campaign's input and ``result`` its (reconciled) result, row for row.
    Pass the same ``client``, ``journal`` and constants given to ``send_frame``; rows that
    were sent are not touched (the journal knows them). Returns the combined result.
    """
    from .frames import CampaignResult, send_frame

    if len(frame) != len(result):
        raise ValueError(f"resend needs the campaign's frame and its result row for row; got "
                         f"{len(frame)} and {len(result)} rows")
    todo = (result["status"] == "not_sent").to_numpy()
    if not todo.any():
        return result
    again = send_frame(frame[todo], **send_kwargs)
    # by position, since labels may repeat; concat lets the columns' types meet (a time
    # column of one resolution and one of another, say)
    kept = np.flatnonzero(~todo)
    combined = pd.concat([result.iloc[kept], again])
    combined = combined.iloc[np.argsort(np.concatenate([kept, np.flatnonzero(todo)]),
                                        kind="stable")]
    if isinstance(result, CampaignResult):
        combined = CampaignResult(combined)
        combined.campaign = result.campaign
    return combined
