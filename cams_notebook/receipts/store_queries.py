"""What a running campaign asks the receipt store, about once a second, while a queue
consumer thread or the HTTP receiver writes it.

Each answer is cheap, so polling costs next to nothing between events:

* :attr:`~CampaignQueries.version`: an integer that grows with every write that stored
  something new; while it is unchanged there is nothing new to look at;
* :meth:`~CampaignQueries.audits_after`: only the ChatAppAudit events stored after the last
  position the poller saw (one indexed query on the ``audit_events`` table), starting from
  :attr:`~CampaignQueries.audit_seq` to ignore what happened before the campaign;
* :meth:`~CampaignQueries.failures`: which of a campaign's messages failed, with the code and
  when (dictionary look-ups in the folded delivery states the store keeps in memory);
* :meth:`~CampaignQueries.states_of`: the folded state of just those messages (a copy each),
  to tell a delivered one from one still on its way.

They read under the store's lock, so an answer never sees half of a write. A store object's
version and delivery states follow the writes made through it; ``audits_after`` also sees
audit events another process commits to the same file.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timezone

from .audit import AuditEvent
from .audit_table import audits_after
from .events import DeliveryState

__all__ = ["CampaignQueries"]


class CampaignQueries:
    """The campaign-facing reads of :class:`~.store.ReceiptStore` (which sets the state)."""

    _db: sqlite3.Connection
    _lock: threading.RLock
    _states: dict[str, DeliveryState]
    _version: int

    @property
    def version(self) -> int:
        """Increases with every write that stored something new (a poller, such as the live
        funnel or a running campaign, skips its work while it is unchanged)."""
        return self._version

    @property
    def audit_seq(self) -> int:
        """The position of the newest audit event stored (0: none yet): a campaign that starts
        watching passes it to :meth:`audits_after` to hear only of what happens from now on."""
        with self._lock:
            return int(self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM audit_events")
                       .fetchone()[0])

    def audits(self) -> list[AuditEvent]:
        """Every distinct ChatAppAudit event, in arrival order."""
        return [event for _, event in self.audits_after(0)]

    def audits_after(self, seq: int = 0) -> list[tuple[int, AuditEvent]]:
        """``(seq, event)`` for the audit events stored after position ``seq``, oldest first.

        ``seq`` grows with every new audit event (not always by one: SQLite may use up a
        number on a duplicate) and is never reused, so a poller passes the last one it saw and
        gets only what is new (0: everything).

        >>> from cams_notebook.receipts.store import ReceiptStore
        >>> store = ReceiptStore()
        >>> _ = store.add([{"Type": "phoneQualityUpdate", "PhoneNumber": "8613800000000",
        ...                 "Status": "FLAGGED", "EventTime": 1691043638000}])
        >>> [(seq, event.bad_news is not None) for seq, event in store.audits_after(0)]
        [(1, True)]
        >>> store.audits_after(1)
        []
        """
        with self._lock:
            return audits_after(self._db, seq)

    def failures(self, message_ids: Iterable[str]) -> dict[str, tuple[str | None,
                                                                      datetime | None]]:
        """``{MessageId: (ErrorCode, failed at)}`` for those of ``message_ids`` whose folded
        state is failed; ids without a Failed receipt are left out. The code and time are
        those of the earliest failure (as :class:`~.events.DeliveryState` chooses)."""
        found: dict[str, tuple[str | None, datetime | None]] = {}
        with self._lock:
            for message_id in message_ids:
                state = self._states.get(message_id)
                if state is not None and state.failed:
                    ms = state.failed_ms
                    found[message_id] = (state.failed_code, None if ms is None else
                                         datetime.fromtimestamp(ms / 1000, timezone.utc))
        return found

    def states_of(self, message_ids: Iterable[str]) -> dict[str, DeliveryState]:
        """``{MessageId: state}`` (a copy) for those of ``message_ids`` with any receipt yet;
        the others are left out."""
        with self._lock:
            return {m: replace(state) for m in message_ids
                    if (state := self._states.get(m)) is not None}
