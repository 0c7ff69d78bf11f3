"""The receipt store's ``audit_events`` table: ChatAppAudit events, kept apart from receipts.

They have no MessageId and fold into no delivery state, and a running campaign asks for them
by position ("anything after the last one I saw?"), so they get a table of their own in the
store's SQLite file, whose ``seq`` (AUTOINCREMENT: never reused, even after a delete) is that
position. :class:`~.store.ReceiptStore` writes it in the same transaction as the ``events``
table and under the same lock; these functions only build rows and read them back.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .audit import AuditEvent
from .rejected import MAX_TIMESTAMP_MS

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["AUDIT_COLUMNS", "AUDIT_SCHEMA", "audit_frame", "audit_row", "audits_after"]

AUDIT_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    type TEXT,                          -- the V2 Type; NULL for a V1 template review result
    kind TEXT NOT NULL,                 -- phone | template | waba
    phone_number TEXT,
    template_code TEXT,
    language TEXT,
    event_time_ms INTEGER,
    source TEXT NOT NULL,               -- queue | http | api
    mns_message_id TEXT,
    received_at REAL NOT NULL,
    arrivals INTEGER NOT NULL DEFAULT 1,
    raw TEXT NOT NULL
);
"""
AUDIT_COLUMNS = ("type", "kind", "phone_number", "template_code", "language", "event_time_ms",
                 "source", "mns_message_id", "received_at", "raw")


def audit_row(event: AuditEvent, raw: Mapping[str, Any], source: str, mns_id: str | None,
              now: float) -> tuple[Any, ...]:
    """The :data:`AUDIT_COLUMNS` values of one event (``raw``: as it arrived)."""
    ms = event.event_time
    # An EventTime SQLite cannot hold stays in raw only, rather than failing the whole batch.
    kept = ms if ms is not None and 0 <= ms <= MAX_TIMESTAMP_MS else None
    return (event.type, event.kind, event.phone_number, event.template_code, event.language,
            kept, source, mns_id, now,
            json.dumps(raw, ensure_ascii=False, separators=(",", ":")))


def audits_after(db: sqlite3.Connection, seq: int) -> list[tuple[int, AuditEvent]]:
    """Events stored after position ``seq``, oldest first."""
    rows = db.execute("SELECT seq, raw FROM audit_events WHERE seq > ? ORDER BY seq",
                      (seq,)).fetchall()
    return [(int(n), AuditEvent.model_validate(json.loads(raw))) for n, raw in rows]


def audit_frame(db: sqlite3.Connection) -> pd.DataFrame:
    """Every audit event, one row each, oldest first (see :meth:`.ReceiptStore.to_frame`)."""
    import pandas as pd

    rows = db.execute("SELECT seq, type, kind, phone_number, template_code, language, "
                      "event_time_ms, source, arrivals, received_at, raw "
                      "FROM audit_events ORDER BY seq").fetchall()
    events = [AuditEvent.model_validate(json.loads(row[-1])) for row in rows]
    frame = pd.DataFrame(rows, columns=["seq", "type", "kind", "phone_number", "template_code",
                                        "language", "at", "source", "arrivals", "received_at",
                                        "raw"])
    frame.insert(6, "status", pd.Series([e.status or e.audit_status for e in events],
                                        index=frame.index, dtype=object))
    frame.insert(7, "quality", pd.Series([e.quality_rating or e.quality_score for e in events],
                                         index=frame.index, dtype=object))
    frame.insert(8, "bad_news", pd.Series([e.bad_news for e in events], index=frame.index,
                                          dtype=object))
    frame.insert(9, "warning", pd.Series([e.warning for e in events], index=frame.index,
                                         dtype=object))
    frame["seq"] = frame["seq"].astype("int64")
    frame["at"] = pd.to_datetime(frame["at"].astype("float64"), unit="ms", utc=True)
    frame["received_at"] = pd.to_datetime(frame["received_at"].astype("float64"), unit="s",
                                          utc=True)
    frame["arrivals"] = frame["arrivals"].astype("int64")
    frame["raw"] = [json.loads(r) for r in frame["raw"]]
    return frame
