"""Events of an HTTP push that cannot be stored, sorted out of the push and kept aside.

CAMS resends a whole push when the answer is not 200 (``smq_receipts.md`` section 6), so one
malformed event must not cost the valid events of the same push, nor make CAMS resend them:
:func:`sort_push` splits a decoded push into the events the store takes and the ones it never
will, and :class:`RejectedEvents` keeps the latter, with the reason, so a user can see what
CAMS sent that could not be used.

The record is a table ``rejected_events`` in the receipt store's own SQLite file (next to the
store's ``events`` table, which it does not touch), so one file holds everything a receiver
took in::

    sqlite3 cams-receipts.db "SELECT reason, raw FROM rejected_events"

An event is rejected when it is not a receipt, inbound message or audit event the store can
parse (:func:`~.events.parse_event`), when its ``Timestamp`` (an audit event's ``EventTime``)
is not Unix milliseconds between 1970 and 2200 (a larger number cannot be stored, nor
shown as a date), or when it cannot be written back as JSON (nested too deeply). Each
distinct event is kept once, however often CAMS resends it (``arrivals`` counts).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import Any

from .audit import AuditEvent
from .events import BodyError, parse_event

__all__ = ["MAX_TIMESTAMP_MS", "Rejection", "RejectedEvents", "SortedPush", "sort_push"]

MAX_TIMESTAMP_MS = 7_258_118_400_000
"""2200-01-01T00:00:00Z in Unix milliseconds: a later ``Timestamp`` is a malformed event."""
_SCHEMA = """
CREATE TABLE IF NOT EXISTS rejected_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,           -- sha256 of raw: a resent event is counted, not repeated
    reason TEXT NOT NULL,
    source TEXT NOT NULL,               -- http
    client TEXT,                        -- the address that pushed it
    received_at REAL NOT NULL,
    arrivals INTEGER NOT NULL DEFAULT 1,
    raw TEXT NOT NULL                   -- the event as JSON, as decoded from the push
);
"""


@dataclass(frozen=True)
class Rejection:
    """One event of a push that the store will never take: where it was, why, and what."""

    index: int
    reason: str
    raw: str


@dataclass(frozen=True)
class SortedPush:
    """A push split in two: ``valid`` events (as they arrived) and ``rejected`` ones."""

    valid: list[dict[str, Any]]
    rejected: list[Rejection]


def sort_push(items: Sequence[Any]) -> SortedPush:
    """Split decoded push items into valid events and :class:`Rejection` records."""
    valid: list[dict[str, Any]] = []
    rejected: list[Rejection] = []
    for index, item in enumerate(items):
        try:
            raw = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
        except (RecursionError, ValueError):
            rejected.append(Rejection(index, "event is nested too deeply to store",
                                      "<not representable>"))
            continue
        reason = _problem(item)
        if reason is None:
            valid.append(item)
        else:
            rejected.append(Rejection(index, reason, raw))
    return SortedPush(valid, rejected)


def _problem(item: Any) -> str | None:
    """Why the store would refuse ``item``, or None."""
    try:
        event = parse_event(item)
    except BodyError as exc:
        return str(exc)
    except RecursionError:
        return "event is nested too deeply to store"
    name, timestamp = (("EventTime", event.event_time) if isinstance(event, AuditEvent)
                       else ("Timestamp", event.timestamp))
    if timestamp is not None and not 0 <= timestamp <= MAX_TIMESTAMP_MS:
        shown = str(timestamp) if len(str(timestamp)) <= 20 else f"{str(timestamp)[:20]}..."
        return (f"{name} must be Unix milliseconds from 0 to {MAX_TIMESTAMP_MS} "
                f"(year 2200), not {shown}")
    return None


class RejectedEvents:
    """The ``rejected_events`` table of a receipt store file (``":memory:"``: in memory).

    >>> record = RejectedEvents(":memory:")
    >>> record.add([Rejection(0, "an event must be a JSON object, not str", '"x"')])
    1
    >>> record.rows()[0]["reason"]
    'an event must be a JSON object, not str'
    """

    def __init__(self, path: str | os.PathLike[str] = ":memory:", *,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = os.fspath(path)
        self._clock = clock
        self._lock = threading.Lock()
        # A file is opened per use: rejections are rare, and the file stays the store's.
        self._memory = (sqlite3.connect(":memory:", check_same_thread=False)
                        if self.path == ":memory:" else None)
        with self._connection() as db:
            db.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"RejectedEvents({self.path!r}, events={self.count()})"

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._memory is not None:
                yield self._memory
                return
            with closing(sqlite3.connect(self.path, timeout=30.0)) as db:
                db.execute("PRAGMA synchronous=FULL")
                yield db

    def add(self, rejections: Sequence[Rejection], *, source: str = "http",
            client: str | None = None) -> int:
        """Keep ``rejections`` (committed on return); return how many were new."""
        now = self._clock()
        new = 0
        with self._connection() as db, db:  # one transaction
            for item in rejections:
                key = hashlib.sha256(item.raw.encode()).hexdigest()
                cursor = db.execute(
                    "INSERT OR IGNORE INTO rejected_events (key, reason, source, client, "
                    "received_at, raw) VALUES (?, ?, ?, ?, ?, ?)",
                    (key, item.reason, source, client, now, item.raw))
                if cursor.rowcount == 1:
                    new += 1
                else:
                    db.execute("UPDATE rejected_events SET arrivals = arrivals + 1 WHERE key = ?",
                               (key,))
        return new

    def count(self) -> int:
        """Distinct rejected events kept."""
        with self._connection() as db:
            return int(db.execute("SELECT COUNT(*) FROM rejected_events").fetchone()[0])

    def rows(self) -> list[dict[str, Any]]:
        """Every distinct rejected event, oldest first: ``reason``, ``source``, ``client``,
        ``received_at`` (Unix seconds), ``arrivals`` and ``raw`` (the event's JSON text)."""
        with self._connection() as db:
            found = db.execute("SELECT reason, source, client, received_at, arrivals, raw "
                               "FROM rejected_events ORDER BY seq").fetchall()
        names = ("reason", "source", "client", "received_at", "arrivals", "raw")
        return [dict(zip(names, row, strict=True)) for row in found]

    def close(self) -> None:
        """Close the in-memory table (a file needs no closing)."""
        if self._memory is not None:
            self._memory.close()
