"""The campaign journal: what each row's request was, and what became of it.

Every row's *intent* is written (and committed) before its request goes out, and its
*outcome* after. That order is what makes a campaign safe to re-run after Ctrl-C, a
kernel restart or a killed process:

* a row with an outcome is never sent again; its recorded result is returned;
* a row with an intent but no outcome may or may not have reached the service, so it is
  reported ``unknown`` and left to reconciliation, never resent blindly;
* a row the journal has never seen is sent.

Two stores share one interface: :class:`MemoryLedger` (the default, so re-running a cell
in the same kernel does not send twice) and :class:`SqliteLedger` (``journal="file.db"``,
stdlib ``sqlite3`` in WAL mode: a committed write survives the process being killed).
A journal that is not a readable SQLite database (for example a copy truncated mid-write)
raises :class:`JournalError` instead of being silently reused or overwritten.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["JournalError", "Ledger", "LedgerRow", "MemoryLedger", "SqliteLedger"]

INTENT = "intent"
"""The request may be on its way; no outcome was recorded."""


class JournalError(RuntimeError):
    """The journal file cannot be used (corrupt, truncated, or not a cams_notebook journal)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"journal {path!r} cannot be used: {reason}. Nothing was sent. Move it "
                         "aside (it may still hold the record of what was sent) and start a new one.")
        self.path = path


@dataclass
class LedgerRow:
    """One row's record in the journal."""

    key: str
    status: str
    index: str = ""
    to: str | None = None
    task_id: str | None = None
    attempts: int = 0
    message_id: str | None = None
    code: str | None = None
    message: str | None = None
    request_id: str | None = None
    latency_ms: float | None = None
    sent_at: str | None = None
    error: str | None = None
    retry_safe: bool = False


_COLUMNS = [f.name for f in fields(LedgerRow)]
_QUOTED = ",".join(f'"{c}"' for c in _COLUMNS)  # "index" is an SQL keyword


class Ledger:
    """The journal interface the campaign engine writes to."""

    def get_many(self, keys: Iterable[str]) -> dict[str, LedgerRow]:
        raise NotImplementedError

    def intent(self, row: LedgerRow) -> None:
        """Record that ``row``'s request is about to go out (durable before it does)."""
        raise NotImplementedError

    def outcome(self, row: LedgerRow) -> None:
        """Record what became of ``row``."""
        raise NotImplementedError

    def forget(self, key: str) -> None:
        """Drop a row whose request surely never left (it will be sent next time)."""
        raise NotImplementedError

    def rows(self) -> list[LedgerRow]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class MemoryLedger(Ledger):
    """A journal held in memory, for one kernel session."""

    def __init__(self) -> None:
        self._rows: dict[str, LedgerRow] = {}
        self._lock = threading.Lock()

    def get_many(self, keys: Iterable[str]) -> dict[str, LedgerRow]:
        with self._lock:
            return {k: self._rows[k] for k in keys if k in self._rows}

    def intent(self, row: LedgerRow) -> None:
        with self._lock:
            self._rows[row.key] = LedgerRow(**{**asdict(row), "status": INTENT})

    def outcome(self, row: LedgerRow) -> None:
        with self._lock:
            self._rows[row.key] = LedgerRow(**asdict(row))

    def forget(self, key: str) -> None:
        with self._lock:
            self._rows.pop(key, None)

    def rows(self) -> list[LedgerRow]:
        with self._lock:
            return list(self._rows.values())

    def __len__(self) -> int:
        return len(self._rows)


_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS cams_rows (
    key TEXT PRIMARY KEY,
    {", ".join(f'"{c}" ' + ("INTEGER" if c in ("attempts", "retry_safe") else "REAL" if c == "latency_ms" else "TEXT") for c in _COLUMNS if c != "key")}
);
CREATE TABLE IF NOT EXISTS cams_meta (name TEXT PRIMARY KEY, value TEXT);
"""


class SqliteLedger(Ledger):
    """A journal in a SQLite file (WAL mode; each write committed before the engine goes on)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        if os.path.exists(self.path):
            size = os.path.getsize(self.path)
            with open(self.path, "rb") as handle:
                head = handle.read(18)
            header, page = head[:16], int.from_bytes(head[16:18], "big") if len(head) >= 18 else 0
            page = 65536 if page == 1 else page
            if size < 512 or header != b"SQLite format 3\x00" or not page or size % page:
                # An existing journal this small or without the SQLite header is a copy cut
                # short mid-write: reusing it would forget what was sent.
                raise JournalError(self.path, f"file is not a database, or a journal cut short "
                                   f"mid-write ({size} bytes)")
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except sqlite3.DatabaseError as exc:
            raise JournalError(self.path, str(exc)) from exc
        try:
            check = self._db.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise JournalError(self.path, f"integrity check failed ({check})")
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if tables and "cams_meta" not in tables:  # someone else's database: leave it alone
                raise JournalError(self.path, "it is a SQLite database, but not a cams_notebook journal")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._db.execute("INSERT OR IGNORE INTO cams_meta VALUES ('format', 'cams_notebook/1')")
            fmt = self._db.execute("SELECT value FROM cams_meta WHERE name = 'format'").fetchone()
            if fmt is None or fmt[0] != "cams_notebook/1":
                raise JournalError(self.path, f"unknown journal format {fmt and fmt[0]!r}")
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise JournalError(self.path, str(exc)) from exc
        except JournalError:
            self._db.close()
            raise

    def __repr__(self) -> str:
        return f"SqliteLedger({self.path!r})"

    def _write(self, row: LedgerRow) -> None:
        values = [getattr(row, c) for c in _COLUMNS]
        marks = ",".join("?" * len(_COLUMNS))
        with self._lock:
            self._db.execute(f"INSERT OR REPLACE INTO cams_rows ({_QUOTED}) VALUES ({marks})",
                             values)

    def intent(self, row: LedgerRow) -> None:
        self._write(LedgerRow(**{**asdict(row), "status": INTENT}))

    def outcome(self, row: LedgerRow) -> None:
        self._write(row)

    def forget(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM cams_rows WHERE key = ?", (key,))

    def get_many(self, keys: Iterable[str]) -> dict[str, LedgerRow]:
        wanted = list(keys)
        out: dict[str, LedgerRow] = {}
        with self._lock:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for record in self._db.execute(
                        f"SELECT {_QUOTED} FROM cams_rows WHERE key IN ({marks})", chunk):
                    row = _record(record)
                    out[row.key] = row
        return out

    def rows(self) -> list[LedgerRow]:
        with self._lock:
            records = self._db.execute(f"SELECT {_QUOTED} FROM cams_rows").fetchall()
        return [_record(r) for r in records]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _record(values: Iterable[Any]) -> LedgerRow:
    row = LedgerRow(**dict(zip(_COLUMNS, values)))
    row.retry_safe = bool(row.retry_safe)
    return row


def encode_index(value: Any) -> str:
    """A row's input index as JSON text (tuples for MultiIndex rows become lists)."""
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return json.dumps(str(value))
