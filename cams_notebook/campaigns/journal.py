"""The campaign journal: what each row's request was, and what became of it.

Every row's *intent* is written (and committed) before its request goes out, and its
*outcome* after. That order is what makes a campaign safe to re-run after Ctrl-C, a
kernel restart or a killed process:

* a row with an outcome is never sent again; its recorded result is returned;
* a row with an intent but no outcome may or may not have reached the service, so it is
  reported ``unknown`` and left to reconciliation, never resent blindly;
* a row the journal has never seen is sent.

A row is known by its key: the campaign and the recipient (channel, From, To), or the
campaign and the user's ``key=`` value (see :mod:`cams_notebook.campaigns.plan`). Each record also
keeps a ``digest`` of the request, so a re-run can tell "already sent, same message" from
"already sent, but the message has changed since".

A journal belongs to one account: the first campaign binds it to its endpoint and
AccessKeyId (never the secret; the in-process sandbox is the endpoint
``sandbox:in-process``), and any later use from another endpoint or key is refused
(:class:`JournalAccountError`), so a sandbox run can never make a real one skip rows.
Each campaign in it is recorded with its name, CustSpaceId and a fingerprint of its
message definition; different campaigns' rows never meet, as the campaign is part of
every key.

Two stores share one interface: :class:`MemoryJournal` (the default, so re-running a cell
in the same kernel does not send twice) and :class:`SqliteJournal` (``journal="file.db"``,
stdlib ``sqlite3`` in WAL mode: a committed write survives the process being killed).
A journal file has one user at a time: :class:`SqliteJournal` holds an OS file lock
(``flock`` on ``<journal>.lock``, released by the kernel if the process dies) from open to
close, and a second process gets :class:`JournalBusyError` naming the holder. The lock is
taken before the file is read, so two processes creating the same journal at once cannot
see each other's half-made file. A journal that is not a readable SQLite database (for
example a copy truncated mid-write) raises :class:`JournalError` instead of being silently
reused or overwritten.

A journal file written before a column existed (``eligible_at`` came with the unique-user
allowance) opens as it is and gains the column, NULL in its old rows: nothing is lost and the
format stays the same, as older code reads the columns it knows by name.

:meth:`Journal.reached_since` answers who each sender reached lately, over every campaign of
the journal, for the unique-user allowance (the rule: :mod:`.journal_reach`).

The parts: this module holds the interface and the two stores; :mod:`.journal_records` the
record of a row, a campaign's identity and the errors (all re-exported here);
:mod:`.journal_file` the file lock and the check for a file cut short; :mod:`.journal_schema`
the file's tables; :mod:`.journal_reach` who a sender reached.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

from .journal_file import FileLock, damage
from .journal_reach import REACH_QUERY, iso_utc, reach_of
from .journal_records import (
    FORMAT,
    INTENT,
    SANDBOX_ENDPOINT,
    CampaignIdentity,
    JournalAccountError,
    JournalBusyError,
    JournalError,
    JournalRow,
    encode_index,
)
from .journal_schema import COLUMNS as _COLUMNS
from .journal_schema import QUOTED as _QUOTED
from .journal_schema import SCHEMA as _SCHEMA
from .journal_schema import add_missing_columns

__all__ = ["FORMAT", "INTENT", "SANDBOX_ENDPOINT", "CampaignIdentity", "Journal",
           "JournalAccountError", "JournalBusyError", "JournalError", "JournalRow", "MemoryJournal",
           "SqliteJournal", "encode_index"]


def _mask(key_id: str) -> str:
    return key_id if len(key_id) <= 8 else f"{key_id[:4]}****{key_id[-4:]}"


def _where(endpoint: str, key_id: str) -> str:
    place = "the in-process sandbox" if endpoint == SANDBOX_ENDPOINT else f"endpoint {endpoint}"
    return f"{place} with AccessKeyId {_mask(key_id)}"


_LOOKUP_CHUNK = 500
"""Keys per ``IN (...)`` query: well under SQLite's default limit of bound parameters."""


class Journal:
    """The journal interface the campaign engine writes to."""

    def bind(self, identity: CampaignIdentity) -> None:
        """Check that this journal may serve ``identity``'s account, and record the campaign."""
        raise NotImplementedError

    def campaigns(self) -> list[dict[str, Any]]:
        """The campaigns recorded in this journal, oldest first."""
        raise NotImplementedError

    def get_many(self, keys: Iterable[str]) -> dict[str, JournalRow]:
        raise NotImplementedError

    def rows_to(self, numbers: Iterable[str]) -> list[JournalRow]:
        """Every record whose recipient is one of ``numbers`` (any campaign of this journal)."""
        wanted = set(numbers)
        return [r for r in self.rows() if r.to in wanted]

    def intent(self, row: JournalRow) -> None:
        """Record that ``row``'s request is about to go out (durable before it does)."""
        raise NotImplementedError

    def outcome(self, row: JournalRow) -> None:
        """Record what became of ``row``."""
        raise NotImplementedError

    def forget(self, key: str) -> None:
        """Drop a row whose request surely never left (it will be sent next time)."""
        raise NotImplementedError

    def rows(self) -> list[JournalRow]:
        raise NotImplementedError

    def reached_since(self, since: str) -> dict[str, dict[str, str]]:
        """Per sender number, the recipients it messaged at or after ``since`` (ISO-8601 with
        an offset), each with the latest such time, over every campaign of this journal.

        A template message ``sent``, or that may have gone out (``intent``, ``unknown``),
        counts; its time is ``sent_at``, else ``attempted_at`` (see :mod:`.journal_reach`).
        The unique-user allowance asks it for the last 24 hours.
        """
        return reach_of(self.rows(), iso_utc(since))

    def close(self) -> None:
        pass


class _Binding:
    """The account check and campaign records shared by both stores (no I/O of its own)."""

    @staticmethod
    def check(path: str, bound: tuple[str, str] | None, identity: CampaignIdentity) -> None:
        if bound is None or bound == (identity.endpoint, identity.access_key_id):
            return
        raise JournalAccountError(
            path, f"it records campaigns sent to {_where(*bound)}, and this client sends to "
            f"{_where(identity.endpoint, identity.access_key_id)}",
            "A journal belongs to one account and endpoint, so that a run somewhere else can never "
            "make this one skip rows: give this campaign a journal of its own (another file name).")

    @staticmethod
    def record(identity: CampaignIdentity, now: str) -> dict[str, Any]:
        return {"campaign": identity.campaign, "name": identity.name,
                "fingerprint": identity.fingerprint, "cust_space_id": identity.cust_space_id,
                "first_run": now, "last_run": now}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class MemoryJournal(Journal):
    """A journal held in memory, for one kernel session."""

    def __init__(self) -> None:
        self._rows: dict[str, JournalRow] = {}
        self._lock = threading.Lock()
        self._account: tuple[str, str] | None = None
        self._campaigns: dict[str, dict[str, Any]] = {}

    def bind(self, identity: CampaignIdentity) -> None:
        with self._lock:
            _Binding.check("(in memory)", self._account, identity)
            self._account = (identity.endpoint, identity.access_key_id)
            known = self._campaigns.get(identity.campaign)
            now = _now()
            if known is None:
                self._campaigns[identity.campaign] = _Binding.record(identity, now)
            else:
                known["last_run"] = now

    def campaigns(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self._campaigns.values()]

    def get_many(self, keys: Iterable[str]) -> dict[str, JournalRow]:
        with self._lock:
            return {k: self._rows[k] for k in keys if k in self._rows}

    def intent(self, row: JournalRow) -> None:
        with self._lock:
            self._rows[row.key] = JournalRow(**{**asdict(row), "status": INTENT})

    def outcome(self, row: JournalRow) -> None:
        with self._lock:
            self._rows[row.key] = JournalRow(**asdict(row))

    def forget(self, key: str) -> None:
        with self._lock:
            self._rows.pop(key, None)

    def rows(self) -> list[JournalRow]:
        with self._lock:
            return list(self._rows.values())

    def __len__(self) -> int:
        return len(self._rows)


class SqliteJournal(Journal):
    """A journal in a SQLite file (WAL mode; each write committed before the engine goes on).

    Opening it takes the journal's lock until :meth:`close`; a second opener, in this
    process or another, gets :class:`JournalBusyError`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        self._file_lock = FileLock(self.path + ".lock")
        holder = self._file_lock.acquire()
        if holder is not None:
            raise JournalBusyError(self.path, holder)
        try:
            self._db = self._open()
        except BaseException:
            self._file_lock.release()
            raise

    def _open(self) -> sqlite3.Connection:
        if os.path.exists(self.path) and (why := damage(self.path)):
            raise JournalError(self.path, why)
        try:
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except sqlite3.DatabaseError as exc:
            # pragma: no mutate start (defensive: connect opens lazily beside a lock file just made)
            raise JournalError(self.path, str(exc)) from exc
            # pragma: no mutate end
        try:
            # pragma: no mutate start (equivalent: SQL text is case-insensitive)
            check = db.execute("PRAGMA quick_check").fetchone()
            # pragma: no mutate end
            if check is None or check[0] != "ok":
                raise JournalError(self.path, f"integrity check failed ({check})")
            # pragma: no mutate start (equivalent: SQL text is case-insensitive)
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            # pragma: no mutate end
            if tables and "cams_meta" not in tables:  # someone else's database: leave it alone
                raise JournalError(self.path,
                                   "it is a SQLite database, but not a cams_notebook journal")
            if tables:
                # pragma: no mutate start (equivalent: SQL text is case-insensitive)
                fmt = db.execute("SELECT value FROM cams_meta WHERE name = 'format'").fetchone()
                # pragma: no mutate end
                if fmt is None or fmt[0] != FORMAT:
                    raise JournalError(self.path, f"it was written by an earlier version of "
                                       f"cams_notebook (format {fmt and fmt[0]!r}), which told "
                                       "rows apart by their position in the frame",
                                       "Keep it (it records what was sent) and start a new journal "
                                       "file for new runs.")
            # pragma: no mutate start (equivalent: SQL text is case-insensitive)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            db.execute("INSERT OR IGNORE INTO cams_meta VALUES ('format', ?)", (FORMAT,))
            # pragma: no mutate end
            add_missing_columns(db)  # a file from an earlier release gains the new columns
        except sqlite3.DatabaseError as exc:
            db.close()
            raise JournalError(self.path, str(exc)) from exc
        except MemoryError as exc:  # what SQLite reports for some pages damaged inside
            db.close()
            raise JournalError(self.path,
                               "it is damaged (SQLite could not read a page of it)") from exc
        except JournalError:
            db.close()
            raise
        return db

    def __repr__(self) -> str:
        return f"SqliteJournal({self.path!r})"

    def bind(self, identity: CampaignIdentity) -> None:
        with self._lock:
            # pragma: no mutate start (equivalent: SQL text is case-insensitive)
            meta = dict(self._db.execute("SELECT name, value FROM cams_meta").fetchall())
            # pragma: no mutate end
            bound = (meta["endpoint"], meta["access_key_id"]) if "endpoint" in meta else None
            _Binding.check(self.path, bound, identity)
            now = _now()
            # pragma: no mutate start (equivalent: SQL text is case-insensitive)
            self._db.execute("BEGIN IMMEDIATE")
            # pragma: no mutate end
            try:
                if bound is None:
                    self._db.executemany(
                        "INSERT OR REPLACE INTO cams_meta VALUES (?, ?)",  # pragma: no mutate (SQL)
                        [("endpoint", identity.endpoint), ("access_key_id", identity.access_key_id),
                         ("bound_at", now)])
                record = _Binding.record(identity, now)
                # pragma: no mutate start (equivalent: SQL text is case-insensitive)
                self._db.execute(
                    "INSERT INTO cams_campaigns VALUES (:campaign, :name, :fingerprint, "
                    ":cust_space_id, :first_run, :last_run) ON CONFLICT(campaign) DO UPDATE SET "
                    "last_run = excluded.last_run", record)
                self._db.execute("COMMIT")
                # pragma: no mutate end
            except BaseException:
                # pragma: no mutate start (SQL is case-insensitive; a failing bind's test pins it)
                self._db.execute("ROLLBACK")
                # pragma: no mutate end
                raise

    def campaigns(self) -> list[dict[str, Any]]:
        with self._lock:
            # pragma: no mutate start (equivalent: SQL text is case-insensitive)
            cursor = self._db.execute("SELECT * FROM cams_campaigns ORDER BY first_run, campaign")
            # pragma: no mutate end
            names = [d[0] for d in cursor.description]
            # pragma: no mutate start (equivalent: names and rows come from one SELECT)
            return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
            # pragma: no mutate end

    def _write(self, row: JournalRow) -> None:
        values = [getattr(row, c) for c in _COLUMNS]
        marks = ",".join("?" * len(_COLUMNS))
        with self._lock:
            self._db.execute(f"INSERT OR REPLACE INTO cams_rows ({_QUOTED}) VALUES ({marks})",
                             values)

    def intent(self, row: JournalRow) -> None:
        self._write(JournalRow(**{**asdict(row), "status": INTENT}))

    def outcome(self, row: JournalRow) -> None:
        self._write(row)

    def forget(self, key: str) -> None:
        with self._lock:
            # pragma: no mutate start (equivalent: SQL text is case-insensitive)
            self._db.execute("DELETE FROM cams_rows WHERE key = ?", (key,))
            # pragma: no mutate end

    def _select(self, column: str, values: Iterable[str]) -> list[JournalRow]:
        wanted = list(values)
        out: list[JournalRow] = []
        with self._lock:
            for start in range(0, len(wanted), _LOOKUP_CHUNK):
                chunk = wanted[start:start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                out += [_record(r) for r in self._db.execute(
                    f'SELECT {_QUOTED} FROM cams_rows WHERE "{column}" IN ({marks})', chunk)]
        return out

    def get_many(self, keys: Iterable[str]) -> dict[str, JournalRow]:
        # pragma: no mutate start (equivalent: SQL names are case-insensitive)
        return {row.key: row for row in self._select("key", keys)}
        # pragma: no mutate end

    def rows_to(self, numbers: Iterable[str]) -> list[JournalRow]:
        # pragma: no mutate start (equivalent: SQL names are case-insensitive)
        return self._select("to", set(numbers))
        # pragma: no mutate end

    def rows(self) -> list[JournalRow]:
        with self._lock:
            records = self._db.execute(f"SELECT {_QUOTED} FROM cams_rows").fetchall()
        return [_record(r) for r in records]

    def reached_since(self, since: str) -> dict[str, dict[str, str]]:
        # one grouped query over the partial index cams_rows_reach, not a scan of every row
        with self._lock:
            found = self._db.execute(REACH_QUERY, (iso_utc(since),)).fetchall()
        reached: dict[str, dict[str, str]] = {}
        for sender, to, when in found:
            reached.setdefault(sender, {})[to] = when
        return reached

    def close(self) -> None:
        with self._lock:
            try:
                self._db.close()
            finally:
                self._file_lock.release()


def _record(values: Iterable[Any]) -> JournalRow:
    # pragma: no mutate start (equivalent: rows are SELECT _QUOTED, as long as _COLUMNS)
    row = JournalRow(**dict(zip(_COLUMNS, values, strict=True)))  # rows are SELECT _QUOTED
    # pragma: no mutate end
    row.retry_safe = bool(row.retry_safe)
    return row
