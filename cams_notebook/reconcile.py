"""Turn ``unknown`` rows into ``sent`` or ``not_sent`` from evidence, so none stays unknown.

A row is ``unknown`` when its request may have reached the service but no answer could be
read (a timeout, a reset, a killed process). Sending it again could deliver the message
twice, so the campaign never does; :func:`reconcile` settles it instead, from two kinds of
evidence, both matched by the row's ``TaskId`` (every campaign row carries one, derived
from the campaign and the row key) or ``MessageId``:

1. delivery receipts (ChatAppStatus events, from the queue, a push receiver, or a list of
   dicts): a receipt for the row proves the message was accepted;
2. the service's own record of sent messages (``ListChatappMessage``): the row's TaskId
   there proves it was accepted; its absence, once the service has had time to record it,
   means the request never took effect.

The journal is updated to match: ``sent`` rows get their outcome; ``not_sent`` rows are
dropped from it, so re-running the same ``send_frame`` call with the same journal sends
exactly them (that is :func:`resend`). The service records a message when it accepts it;
run reconciliation a little after the campaign (the default waits ``settle`` seconds from
the last send) so a request still in flight is not taken for one that never arrived.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from .client import Client
from .content import dumps
from .ledger import Ledger, LedgerRow, SqliteLedger

__all__ = ["reconcile", "resend"]

_PAGE = 100


def _evidence_from_receipts(receipts: Any) -> tuple[dict[str, str], set[str]]:
    """(TaskId -> MessageId, MessageIds) from receipts in any of the shapes users hold them."""
    if receipts is None:
        return {}, set()
    if isinstance(receipts, pd.DataFrame):
        rows: Iterable[Mapping[str, Any]] = receipts.to_dict("records")
    elif hasattr(receipts, "to_frame"):
        rows = receipts.to_frame().to_dict("records")
    else:
        rows = receipts
    by_task: dict[str, str] = {}
    ids: set[str] = set()
    for r in rows:
        message_id = r.get("MessageId") or r.get("message_id")
        task_id = r.get("TaskId") or r.get("task_id")
        if isinstance(message_id, str) and message_id:
            ids.add(message_id)
            if isinstance(task_id, str) and task_id:
                by_task[task_id] = message_id
    return by_task, ids


def _service_records(client: Client, task_ids: list[str], start_ms: int | None,
                     end_ms: int | None) -> dict[str, str]:
    """TaskId -> MessageId as ListChatappMessage reports them (one query per task when few)."""
    found: dict[str, str] = {}
    if len(task_ids) <= 20:
        for task_id in task_ids:
            data = client.call("ListChatappMessage", {"TaskId": task_id, "EventAction": "DOWN",
                                                      "Page": dumps({"Index": 1, "Size": 10})})
            for item in (data.get("Data") or {}).get("List") or []:
                if item.get("TaskId") == task_id and item.get("MessageId"):
                    found[task_id] = item["MessageId"]
        return found
    wanted = set(task_ids)
    page = 1
    while True:
        params = {"EventAction": "DOWN", "Page": dumps({"Index": page, "Size": _PAGE})}
        if start_ms is not None:
            params["StartTime"] = str(start_ms)
        if end_ms is not None:
            params["EndTime"] = str(end_ms)
        data = client.call("ListChatappMessage", params)
        items = (data.get("Data") or {}).get("List") or []
        for item in items:
            if item.get("TaskId") in wanted and item.get("MessageId"):
                found[item["TaskId"]] = item["MessageId"]
        total = int((data.get("Data") or {}).get("Total") or 0)
        if not items or page * _PAGE >= total:
            return found
        page += 1


def _journal_for(result: pd.DataFrame, journal: Any) -> Ledger | None:
    if isinstance(journal, Ledger):
        return journal
    if journal is None:
        from .frames import _SESSION_JOURNALS

        return _SESSION_JOURNALS.get(getattr(result, "campaign", None) or "")
    if journal is False:
        return None
    return SqliteLedger(journal)


def reconcile(result: pd.DataFrame, *, client: Client, receipts: Any = None, journal: Any = None,
              settle: float = 2.0, sleep: Any = time.sleep) -> pd.DataFrame:
    """A copy of ``result`` in which every ``unknown`` row is ``sent`` or ``not_sent``.

    ``receipts``: receipt events (a ReceiptStore/ReceiptQueue with ``to_frame()``, a
    DataFrame, or a list of ChatAppStatus dicts). ``journal``: the campaign's journal (the
    path given to ``send_frame``; None for the default in-memory one), updated to match.
    """
    out = result.copy()
    unknown = out.index[out["status"] == "unknown"]
    if len(unknown) == 0:
        return out
    sent_times = pd.to_datetime(out["sent_at"], utc=True).dropna()
    if settle > 0 and len(sent_times):
        age = time.time() - sent_times.max().timestamp()
        if age < settle:
            sleep(settle - age)
    by_task, message_ids = _evidence_from_receipts(receipts)
    task_ids = [t for t in out.loc[unknown, "task_id"].dropna().astype(str) if t not in by_task]
    start_ms = int(sent_times.min().timestamp() * 1000) - 600_000 if len(sent_times) else None
    records = _service_records(client, task_ids, start_ms, None) if task_ids else {}
    ledger = _journal_for(result, journal)
    for idx in unknown:
        task_id = out.at[idx, "task_id"]
        known_id = out.at[idx, "message_id"]
        message_id = by_task.get(task_id) or records.get(task_id) or (
            known_id if isinstance(known_id, str) and known_id in message_ids else None)
        if message_id:
            out.at[idx, "status"], out.at[idx, "message_id"] = "sent", message_id
            out.at[idx, "error"] = "reconciled: the service accepted it"
        else:
            out.at[idx, "status"] = "not_sent"
            out.at[idx, "error"] = "reconciled: the service has no record of it; safe to resend"
        if ledger is not None:
            key = str(out.at[idx, "key"])
            if message_id:
                ledger.outcome(LedgerRow(key=key, status="sent", index=json.dumps(str(idx)),
                                         to=out.at[idx, "to"], task_id=task_id,
                                         message_id=message_id, code="OK",
                                         error="reconciled"))
            else:
                ledger.forget(key)
    if ledger is not None and not isinstance(journal, Ledger) and journal not in (None, False):
        ledger.close()
    return out


def resend(frame: pd.DataFrame, result: pd.DataFrame, **send_kwargs: Any) -> pd.DataFrame:
    """Send the ``not_sent`` rows of ``result`` again, with the same arguments as the campaign.

    Pass the same ``client``, ``journal`` and constants given to ``send_frame``; rows that
    were sent are not touched (the journal knows them). Returns the combined result.
    """
    from .frames import send_frame

    todo = result.index[result["status"] == "not_sent"]
    if len(todo) == 0:
        return result
    again = send_frame(frame.loc[frame.index.isin(todo)], **send_kwargs)
    combined = result.copy()
    combined.loc[again.index, again.columns] = again
    return combined
