"""The journal file's tables, and how a file written by an earlier release is brought up to them.

Apart from the store (:class:`~.journal.SqliteJournal`) because it is the one place that knows
the file's layout: the columns follow :class:`~.journal_records.JournalRow`'s fields, so a field
added there becomes a column here, and a file from before gains it when opened
(:func:`add_missing_columns`), NULL in its old rows.
"""

from __future__ import annotations

import sqlite3
from dataclasses import fields

from .journal_reach import REACH_INDEX
from .journal_records import JournalRow

__all__ = ["COLUMNS", "QUOTED", "SCHEMA", "add_missing_columns", "sql_type"]

COLUMNS = [f.name for f in fields(JournalRow)]
"""The ``cams_rows`` columns, in :class:`JournalRow`'s field order."""
QUOTED = ",".join(f'"{c}"' for c in COLUMNS)  # "index" is an SQL keyword


def sql_type(column: str) -> str:  # pragma: no mutate block (runs at import: no mutant is on)
    """The SQLite type of one ``cams_rows`` column."""
    # the schema is built when the module is imported, before mutmut switches a mutant on;
    # test_typed_columns_read_back_as_their_types_after_a_reopen pins these types
    if column in ("attempts", "retry_safe"):
        return "INTEGER"
    return "REAL" if column == "latency_ms" else "TEXT"


SCHEMA = f"""
CREATE TABLE IF NOT EXISTS cams_rows (
    key TEXT PRIMARY KEY,
    {", ".join(f'"{c}" {sql_type(c)}' for c in COLUMNS if c != "key")}
);
CREATE INDEX IF NOT EXISTS cams_rows_to ON cams_rows ("to");
CREATE TABLE IF NOT EXISTS cams_meta (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS cams_campaigns (
    campaign TEXT PRIMARY KEY, name TEXT, fingerprint TEXT, cust_space_id TEXT,
    first_run TEXT, last_run TEXT
);
"""


def add_missing_columns(db: sqlite3.Connection) -> None:
    """Give a journal written before a column existed that column (NULL in its old rows) and
    the indexes that use it, in one transaction: a file from an earlier release opens without
    losing a row. Run after :data:`SCHEMA`."""
    # pragma: no mutate start (equivalent: SQL text is case-insensitive)
    have = {r[1] for r in db.execute("PRAGMA table_info(cams_rows)")}
    # pragma: no mutate end
    missing = [c for c in COLUMNS if c not in have]
    db.execute("BEGIN IMMEDIATE")
    try:
        for column in missing:
            db.execute(f'ALTER TABLE cams_rows ADD COLUMN "{column}" {sql_type(column)}')
        db.execute(REACH_INDEX)  # after the columns it names
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
