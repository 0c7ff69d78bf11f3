"""Opening a journal file: which files are refused and what the refusal says, the lock beside
the file, and a journal opened in one thread and written from another.

Oracle: ``cams_notebook/campaigns/journal.py``'s docstring (a file that is not a readable
cams_notebook journal raises :class:`JournalError` naming it and is left as it was; the lock is
``<journal>.lock``; a second opener gets :class:`JournalBusyError`) and ``send_frame``, which
runs the engine, and so writes the journal, on a worker thread.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from cams_notebook.campaigns.journal import (
    FORMAT,
    JournalBusyError,
    JournalError,
    JournalRow,
    SqliteJournal,
)

KEEP = ("Keep it (it records what was sent) and start a new journal file for new runs.")


def test_the_lock_is_a_file_beside_the_journal_and_a_second_opener_is_told_which_journal(
        tmp_path: Path) -> None:
    path = tmp_path / "send.db"
    first = SqliteJournal(path)
    try:
        assert (tmp_path / "send.db.lock").read_text(encoding="utf-8").startswith('{"pid": ')
        with pytest.raises(JournalBusyError) as info:
            SqliteJournal(path)
        assert info.value.path == str(path)
    finally:
        first.close()
    assert (tmp_path / "send.db.lock").read_text(encoding="utf-8") == ""  # no holder named


def test_a_journal_opened_in_one_thread_is_written_and_read_from_another(tmp_path: Path) -> None:
    # send_frame opens the journal in the caller's thread and runs the engine on a worker
    journal = SqliteJournal(tmp_path / "send.db")
    failures: list[BaseException] = []

    def work() -> None:
        try:
            journal.intent(JournalRow(key="k1", status="sent", to="8613900000000"))
            journal.outcome(JournalRow(key="k1", status="sent", to="8613900000000"))
            assert [r.key for r in journal.rows_to(["8613900000000"])] == ["k1"]
        except BaseException as exc:  # noqa: BLE001 - reported in the test's thread
            failures.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    try:
        assert failures == []
        assert journal.get_many(["k1"])["k1"].status == "sent"
    finally:
        journal.close()


def test_a_journal_whose_records_break_its_own_schema_fails_the_integrity_check(
        tmp_path: Path) -> None:
    path = tmp_path / "send.db"
    journal = SqliteJournal(path)
    journal.outcome(JournalRow(key="k1", status="sent"))
    journal.close()
    with sqlite3.connect(path) as db:  # the file now says a column its rows leave empty is required
        db.execute("PRAGMA writable_schema=ON")
        [sql] = db.execute("SELECT sql FROM sqlite_master WHERE name = 'cams_rows'").fetchone()
        db.execute("UPDATE sqlite_master SET sql = ? WHERE name = 'cams_rows'",
                   (sql.replace('"error" TEXT', '"error" TEXT NOT NULL'),))
    with pytest.raises(JournalError) as info:
        SqliteJournal(path)
    assert info.value.path == str(path)
    assert info.value.reason == "integrity check failed (('NULL value in cams_rows.error',))"
    SqliteJournal(tmp_path / "other.db").close()  # the lock of the refused one was let go too
    with pytest.raises(JournalError):
        SqliteJournal(path)  # and it is still refused, not repaired or overwritten


def test_a_journal_with_a_page_wiped_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "send.db"
    journal = SqliteJournal(path)
    for i in range(400):
        journal.outcome(JournalRow(key=f"k{i}", status="sent", message="x" * 100))
    journal.close()
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    assert len(data) > 12 * page
    data[10 * page:11 * page] = bytes(page)  # a page of zeros where records were
    path.write_bytes(bytes(data))
    with pytest.raises(JournalError) as info:
        SqliteJournal(path)
    assert info.value.path == str(path)
    assert info.value.reason == "database disk image is malformed"
    assert isinstance(info.value.__cause__, sqlite3.DatabaseError)


def _scribbled_copy_sqlite_reads_as_out_of_memory(original: bytes, copy: Path) -> bool:
    """Write ``original`` with 100 bytes of 0xFF somewhere inside a page into ``copy``, at the
    first place where SQLite itself (no cams_notebook) answers the integrity check with
    MemoryError; False when no such place is found."""
    page = int.from_bytes(original[16:18], "big")
    for start in range(page, len(original) - page, 16):
        data = bytearray(original)
        data[start:start + 100] = b"\xff" * 100
        copy.write_bytes(bytes(data))
        db = sqlite3.connect(copy)
        try:
            db.execute("PRAGMA quick_check").fetchone()
        except MemoryError:
            return True
        except sqlite3.DatabaseError:
            pass
        finally:
            db.close()
    return False


def test_a_journal_scribbled_over_inside_a_page_is_refused_not_a_memory_error(
        tmp_path: Path) -> None:
    """Some damage inside a page (header and size intact) makes SQLite report "out of
    memory" while checking the file; that is a damaged journal, said as such."""
    path = tmp_path / "send.db"
    journal = SqliteJournal(path)
    for i in range(400):
        journal.outcome(JournalRow(key=f"k{i}", status="sent", message="x" * 100))
    journal.close()
    damaged = tmp_path / "damaged.db"
    assert _scribbled_copy_sqlite_reads_as_out_of_memory(path.read_bytes(), damaged), \
        "this SQLite reports no such damage as MemoryError: the case is gone, drop the test"
    with pytest.raises(JournalError) as info:
        SqliteJournal(damaged)
    assert info.value.path == str(damaged)
    assert info.value.reason == "it is damaged (SQLite could not read a page of it)"
    assert str(info.value).endswith("Nothing was sent. Move it aside (it may still hold the "
                                    "record of what was sent) and start a new one.")
    assert isinstance(info.value.__cause__, MemoryError)
    with pytest.raises(JournalError) as again:  # refused again, not "busy": the lock was let go
        SqliteJournal(damaged)
    assert not isinstance(again.value, JournalBusyError)


def test_someone_else_s_database_is_refused_saying_what_it_is(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (phone TEXT)")
    with pytest.raises(JournalError) as info:
        SqliteJournal(path)
    assert (info.value.path, info.value.reason) == (
        str(path), "it is a SQLite database, but not a cams_notebook journal")


def old_journal(path: Path, format_row: bool) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE cams_meta (name TEXT PRIMARY KEY, value TEXT)")
        db.execute("CREATE TABLE cams_rows (key TEXT PRIMARY KEY, status TEXT)")
        if format_row:
            db.execute("INSERT INTO cams_meta VALUES ('format', 'cams_notebook/1')")


@pytest.mark.parametrize("format_row, shown", [(True, "'cams_notebook/1'"), (False, "None")])
def test_a_journal_of_an_earlier_format_is_refused_saying_which_and_what_to_do(
        tmp_path: Path, format_row: bool, shown: str) -> None:
    path = tmp_path / "old.db"
    old_journal(path, format_row)
    with pytest.raises(JournalError) as info:
        SqliteJournal(path)
    assert info.value.path == str(path)
    assert info.value.reason == (f"it was written by an earlier version of cams_notebook (format "
                                 f"{shown}), which told rows apart by their position in the frame")
    assert str(info.value).endswith(f"Nothing was sent. {KEEP}")


def test_a_new_journal_file_records_its_format_and_is_opened_again(tmp_path: Path) -> None:
    path = tmp_path / "send.db"
    SqliteJournal(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM cams_meta WHERE name = 'format'").fetchone() == \
            (FORMAT,)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    SqliteJournal(path).close()
