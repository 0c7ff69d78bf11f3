"""Where receipts and inbound messages are kept: SQLite (stdlib), durable before acknowledged.

Both ways in write here, and acknowledge only after the commit: the HTTP receiver answers
200 after :meth:`ReceiptStore.add` returns, the queue consumer deletes messages after
:meth:`ReceiptStore.add_queue_messages` returns. A crash in between costs a redelivery,
never a receipt; the de-duplication key absorbs the redelivery:

* receipts: ``(MessageId, Status, Timestamp)``;
* inbound messages: ``MessageId``;
* ChatAppAudit events (their own table, :mod:`.audit_table`): every field that names the
  change, with ``EventTime``;
* queue messages that do not decode: the queue's own MessageId (kept, with the reason,
  rather than dropped: they are deleted from the queue like the others).

Every distinct event is kept as it arrived, with how often it arrived (``arrivals``), so
the folded status can always be audited. A file store uses WAL with ``synchronous=FULL``:
a commit is on disk before anyone is told "received". Thread-safe (one connection behind
a lock); other processes may read the file while it is written.

What a running campaign asks while a consumer writes is in :mod:`.store_queries`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from .audit import AuditEvent
from .audit_table import AUDIT_COLUMNS, AUDIT_SCHEMA, audit_frame, audit_row
from .events import (
    BodyError,
    DeliveryState,
    InboundMessage,
    Receipt,
    decode_body,
    dedupe_key,
    parse_event,
)
from .store_queries import CampaignQueries

if TYPE_CHECKING:  # typing.Self is 3.11+; annotations are never evaluated at runtime
    import pandas as pd
    from typing_extensions import Self

    from .funnel import Funnel, FunnelWidget

__all__ = ["DEFAULT_STORE", "AddResult", "ReceiptStore"]

_Event = Receipt | InboundMessage | AuditEvent

DEFAULT_STORE = "cams-receipts.db"
"""The store file the receiver and the queue consumer use when given none."""
WINDOW_SECONDS = 24 * 3600
_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,                 -- status | inbound | undecodable
    message_id TEXT,
    status TEXT,
    number TEXT,                        -- To of a receipt, From of an inbound message
    timestamp_ms INTEGER,
    error_code TEXT,
    error_description TEXT,
    task_id TEXT,
    source TEXT NOT NULL,               -- queue | http | api
    mns_message_id TEXT,
    received_at REAL NOT NULL,
    arrivals INTEGER NOT NULL DEFAULT 1,
    raw TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_message ON events (message_id);
CREATE INDEX IF NOT EXISTS events_number ON events (kind, number);
"""
# (mutmut: SQL keywords and names are case-blind, so upper- or lower-casing SQL text is an
# equivalent mutant: the lines that hold SQL say `# pragma: no mutate (SQL case)`)
_COLUMNS = ("kind", "message_id", "status", "number", "timestamp_ms", "error_code",
            "error_description", "task_id", "source", "mns_message_id", "received_at", "raw")


class _Queued(Protocol):
    message_id: str
    body: str


@dataclass
class AddResult:
    """What one write did: events new to the store, duplicates absorbed, bodies rejected."""

    new: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    def __iadd__(self, other: AddResult) -> Self:
        self.new += other.new
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.errors += other.errors
        return self


def normalise_number(number: str) -> str:
    return number.strip().lstrip(
        "+",  # pragma: no mutate (equivalent: a number holds no X to strip)
    ).replace(" ", "").replace("-", "")


class ReceiptStore(CampaignQueries):
    """Receipts, inbound messages and audit events, de-duplicated, in SQLite (``":memory:"``
    or a file).

    >>> store = ReceiptStore()
    >>> store.add([{"MessageId": "m1", "Status": "Sent", "Timestamp": 1000},
    ...            {"MessageId": "m1", "Status": "Sent", "Timestamp": 1000}])
    AddResult(new=1, duplicates=1, rejected=0, errors=[])
    >>> store.states()["m1"].status
    'sent'
    """

    def __init__(self, path: str | os.PathLike[str] = ":memory:", *,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = os.fspath(path)
        self._clock = clock
        self._lock = threading.RLock()
        # (mutmut: the timeout only shows as time a blocked writer waits, which no test may
        # measure; transactions are explicit (BEGIN IMMEDIATE), so no isolation level applies;
        # the WAL pragmas are no-ops on a memory database)
        self._db = sqlite3.connect(self.path, check_same_thread=False,
                                   timeout=30.0,  # pragma: no mutate (see above)
                                   isolation_level=None,  # pragma: no mutate (see above)
                                   )
        if self.path != ":memory:":  # pragma: no mutate (see above)
            self._db.execute("PRAGMA journal_mode=WAL")  # pragma: no mutate (SQL case)
            self._db.execute("PRAGMA synchronous=FULL")  # pragma: no mutate (SQL case)
        self._db.executescript(_SCHEMA + AUDIT_SCHEMA)
        self._states: dict[str, DeliveryState] = {}
        self._inbound_last: dict[str, int] = {}
        self._version = 0
        self._load()

    def _load(self) -> None:
        rows = self._db.execute(
            "SELECT kind, message_id, status, number, "  # pragma: no mutate (SQL case)
            "timestamp_ms, error_code, error_description, task_id "  # pragma: no mutate (SQL case)
            "FROM events "  # pragma: no mutate (SQL case)
            "WHERE kind IN ('status', 'inbound') ORDER BY seq",  # pragma: no mutate (SQL case)
        ).fetchall()
        for kind, message_id, status, number, ts, code, reason, task in rows:
            if kind == "status":
                self._track(Receipt.model_construct(
                    message_id=message_id, status=status, to=number, timestamp=ts, error_code=code,
                    error_description=reason, task_id=task))
            elif number and ts is not None:
                self._inbound_last[number] = max(ts, self._inbound_last.get(number, ts))

    def __repr__(self) -> str:
        return f"ReceiptStore({self.path!r}, events={len(self)})"

    def __len__(self) -> int:
        return self.count()

    def count(self, kind: str | None = None) -> int:
        """Distinct events stored, of one kind (``status``, ``inbound``, ``audit``,
        ``undecodable``) or all."""
        with self._lock:
            audits = int(self._db.execute("SELECT COUNT(*) FROM audit_events").fetchone()[0])
            if kind == "audit":
                return audits
            if kind is None:
                return audits + int(self._db.execute(
                    "SELECT COUNT(*) FROM events",  # pragma: no mutate (SQL case)
                ).fetchone()[0])
            return int(self._db.execute(
                "SELECT COUNT(*) FROM events WHERE kind = ?",  # pragma: no mutate (SQL case)
                (kind,)).fetchone()[0])

    # -- writing ------------------------------------------------------------------------------

    def add(self, events: Iterable[_Event | Mapping[str, Any]], *,
            source: str = "api") -> AddResult:
        """Store events (dicts as they arrived, or models) in one transaction.

        All-or-nothing: an invalid event raises :class:`~.receipts.BodyError` and nothing is stored.
        """
        parsed = [(e, e.wire()) if isinstance(e, (Receipt, InboundMessage, AuditEvent))
                  # (mutmut: copying a dict with dict() changes nothing stored)
                  else (parse_event(e), e if isinstance(e, dict) else dict(e))  # pragma: no mutate
                  for e in events]
        rows = [(dedupe_key(event), self._row(event, raw, source, None)) for event, raw in parsed]
        return self._write(rows, [event for event, _ in parsed])

    def add_queue_messages(self, messages: Sequence[_Queued], *,
                           source: str = "queue") -> AddResult:
        """Decode and store queue messages in one transaction; undecodable ones are kept
        (by the queue's MessageId) and counted as rejected, so they can be deleted too."""
        rows: list[tuple[str, tuple[Any, ...]]] = []
        events: list[_Event] = []
        errors: list[str] = []
        now = self._clock()
        for msg in messages:
            try:
                items = decode_body(msg.body)
            except BodyError as exc:
                items, problem = [], str(exc)
                errors.append(f"{msg.message_id}: {problem}")
                rows.append((f"mns|{msg.message_id}", ("undecodable", None, None, None, None, None,
                                                       problem, None, source, msg.message_id, now,
                                                       msg.body)))
            for i, item in enumerate(items):
                try:
                    event = parse_event(item)
                except BodyError as exc:
                    errors.append(f"{msg.message_id}[{i}]: {exc}")
                    rows.append((f"mns|{msg.message_id}|{i}", (
                        "undecodable", None, None, None, None, None, str(exc), None, source,
                        msg.message_id, now, json.dumps(
                            item, ensure_ascii=False,  # pragma: no mutate (None is falsy too)
                        ))))
                    continue
                events.append(event)
                rows.append((dedupe_key(event), self._row(event, item, source, msg.message_id)))
        result = self._write(rows, events)
        result.rejected, result.errors = len(errors), errors
        return result

    def _row(self, event: _Event, raw: Mapping[str, Any], source: str,
             mns_id: str | None) -> tuple[Any, ...]:
        if isinstance(event, AuditEvent):
            return audit_row(event, raw, source, mns_id, self._clock())
        number = event.to if isinstance(event, Receipt) else event.from_
        common = (event.message_id, event.status if isinstance(event, Receipt) else None,
                  normalise_number(number) if number else None, event.timestamp)
        extra = ((event.error_code, event.error_description, event.task_id)
                 if isinstance(event, Receipt) else (None, None, None))
        kind = "status" if isinstance(event, Receipt) else "inbound"
        return (kind, *common, *extra, source, mns_id, self._clock(), json.dumps(
            raw,
            # (mutmut: raw is read back with json.loads, whatever the escaping and spacing)
            ensure_ascii=False, separators=(",", ":"),  # pragma: no mutate (equivalent)
        ))

    def _write(self, rows: list[tuple[str, tuple[Any, ...]]],
               events: list[_Event]) -> AddResult:
        result = AddResult()
        fresh: list[_Event] = []
        by_key = {dedupe_key(e): e for e in events}
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")  # pragma: no mutate (SQL case)
            try:
                for key, values in rows:
                    # an audit event's key starts "audit|" (AuditEvent.dedupe_key); no other does
                    table, columns = (("audit_events", AUDIT_COLUMNS) if key.startswith("audit|")
                                      else ("events", _COLUMNS))
                    names = ", ".join(("key",) + columns)  # pragma: no mutate (SQL case)
                    marks = ", ".join("?" * (len(columns) + 1))
                    cur.execute(f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({marks})",
                                (key, *values))
                    if cur.rowcount == 1:
                        result.new += 1
                        if key in by_key:
                            fresh.append(by_key[key])
                    else:
                        result.duplicates += 1
                        cur.execute(
                            f"UPDATE {table} SET "  # pragma: no mutate (SQL case)
                            "arrivals = arrivals + 1 WHERE key = ?",  # pragma: no mutate (SQL case)
                            (key,))
                cur.execute("COMMIT")  # pragma: no mutate (SQL case)
            except BaseException:
                cur.execute("ROLLBACK")  # pragma: no mutate (SQL case)
                raise
            for event in fresh:
                self._track(event)
            if result.new:
                self._version += 1
        return result

    def _track(self, event: _Event) -> None:
        if isinstance(event, AuditEvent):  # about numbers and templates, not one message
            return
        if isinstance(event, InboundMessage):
            if event.from_ and event.timestamp is not None:
                number = normalise_number(event.from_)
                self._inbound_last[number] = max(event.timestamp,
                                                 self._inbound_last.get(number, event.timestamp))
            return
        if event.is_subscription:
            return
        state = self._states.get(event.message_id)
        if state is None:
            state = self._states[event.message_id] = DeliveryState(event.message_id)
        state.apply(event)

    # -- reading ------------------------------------------------------------------------------

    def states(self) -> dict[str, DeliveryState]:
        """Every message's delivery state, by MessageId (a snapshot)."""
        with self._lock:
            return {k: replace(v) for k, v in self._states.items()}

    def receipts(self) -> list[Receipt]:
        """Every distinct ChatAppStatus event, in arrival order."""
        return [Receipt.model_validate(json.loads(raw)) for raw in self._raw("status")]

    def inbound(self) -> list[InboundMessage]:
        """Every distinct ChatAppInbound event, in arrival order."""
        return [InboundMessage.model_validate(json.loads(raw)) for raw in self._raw("inbound")]

    def _raw(self, kind: str) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute(
                "SELECT raw FROM events "  # pragma: no mutate (SQL case)
                "WHERE kind = ? ORDER BY seq",  # pragma: no mutate (SQL case)
                (kind,))]

    def last_inbound(self, number: str) -> datetime | None:
        """When ``number`` last wrote to us (from stored ChatAppInbound events)."""
        with self._lock:
            ms = self._inbound_last.get(normalise_number(number))
        return None if ms is None else datetime.fromtimestamp(ms / 1000, timezone.utc)

    def window_open(self, number: str, now: float | None = None) -> bool:
        """Whether ``number``'s WhatsApp 24-hour window is open: it wrote in the last 24 h."""
        with self._lock:
            ms = self._inbound_last.get(normalise_number(number))
        current = self._clock() if now is None else now
        return ms is not None and current - ms / 1000 < WINDOW_SECONDS

    def to_frame(self, kind: str = "status") -> pd.DataFrame:
        """The raw events, one row per distinct event, oldest first.

        Columns: ``message_id``, ``status``, ``at`` (event time, UTC), ``number`` (To of a
        receipt, From of an inbound message), ``error_code``, ``error_description``,
        ``task_id``, ``source``, ``arrivals`` (how many times it came), ``received_at`` and
        ``raw`` (the event as it arrived, a dict).

        ``"audit"``: ``seq``, ``type``, ``kind``, ``phone_number``, ``template_code``,
        ``language``, ``status`` (Meta's event or the AuditStatus), ``quality``, ``bad_news``,
        ``warning``, ``at``, ``source``, ``arrivals``, ``received_at`` and ``raw``.
        """
        import pandas as pd

        if kind == "audit":
            with self._lock:
                return audit_frame(self._db)
        with self._lock:
            rows = self._db.execute(
                "SELECT message_id, status, timestamp_ms, number, "  # pragma: no mutate (SQL case)
                "error_code, error_description, task_id, source, "  # pragma: no mutate (SQL case)
                "arrivals, received_at, raw "  # pragma: no mutate (SQL case)
                "FROM events WHERE kind = ? ORDER BY seq",  # pragma: no mutate (SQL case)
                (kind,)).fetchall()
        columns = ["message_id", "status", "at", "number", "error_code", "error_description",
                   "task_id", "source", "arrivals", "received_at", "raw"]
        frame = pd.DataFrame(rows, columns=columns)
        # (mutmut: astype(None) is astype("float64"))
        frame["at"] = pd.to_datetime(frame["at"].astype(
            "float64",  # pragma: no mutate (equivalent: see above)
        ), unit="ms", utc=True)
        frame["received_at"] = pd.to_datetime(frame["received_at"].astype(
            "float64",  # pragma: no mutate (equivalent: see above)
        ), unit="s", utc=True)
        frame["arrivals"] = frame["arrivals"].astype("int64")
        frame["raw"] = [json.loads(r) if kind != "undecodable" else r for r in frame["raw"]]
        return frame

    def funnel(self, result: pd.DataFrame | None = None) -> Funnel:
        """Sent -> delivered -> read -> failed, with rates, failure codes and timings."""
        from .funnel import Funnel

        return Funnel.from_states(self.states(), result=result)

    def live_funnel(self, result: pd.DataFrame | None = None, *,
                    interval: float = 1.0) -> FunnelWidget:
        """A widget that redraws the funnel while receipts come in."""
        from .funnel import FunnelWidget

        return FunnelWidget(self, result=result, interval=interval)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(store: ReceiptStore | str | os.PathLike[str] | None) -> ReceiptStore:
    """A store object from a store, a path, or None (:data:`DEFAULT_STORE`)."""
    if isinstance(store, ReceiptStore):
        return store
    return ReceiptStore(DEFAULT_STORE if store is None else store)
