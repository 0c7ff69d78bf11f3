"""The campaign journal: both stores keep intents and outcomes; a bad file is refused."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from cams_notebook.campaigns.journal import (
    INTENT,
    SANDBOX_ENDPOINT,
    CampaignIdentity,
    Journal,
    JournalAccountError,
    JournalBusyError,
    JournalError,
    JournalRow,
    MemoryJournal,
    SqliteJournal,
    encode_index,
)

SENT = JournalRow(key="k1", status="sent", index='"row-1"', to="8613900000000", task_id="cn-x-1",
                 attempts=2, message_id="m-1", code="OK", message="OK", request_id="r-1",
                 latency_ms=12.5, sent_at="2026-01-01T00:00:00.000+00:00", error=None,
                 retry_safe=True)


@pytest.fixture(params=["memory", "sqlite"])
def make_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Journal]]:
    opened: list[Journal] = []

    def make() -> Journal:
        ledger: Journal = MemoryJournal() if request.param == "memory" else \
            SqliteJournal(tmp_path / "journal.db")
        opened.append(ledger)
        return ledger

    yield make
    for ledger in opened:
        ledger.close()


def test_an_intent_is_recorded_as_intent_whatever_status_the_row_had(
        make_ledger: Callable[[], Journal]) -> None:
    ledger = make_ledger()
    ledger.intent(SENT)
    assert ledger.get_many(["k1"])["k1"].status == INTENT


def test_an_outcome_replaces_the_intent_field_for_field(make_ledger: Callable[[], Journal]) -> None:
    ledger = make_ledger()
    ledger.intent(JournalRow(key="k1", status="whatever"))
    ledger.outcome(SENT)
    assert ledger.get_many(["k1"]) == {"k1": SENT}
    assert ledger.rows() == [SENT]


def test_forget_drops_a_row(make_ledger: Callable[[], Journal]) -> None:
    ledger = make_ledger()
    ledger.intent(SENT)
    ledger.forget("k1")
    ledger.forget("never-there")
    assert ledger.get_many(["k1"]) == {}
    assert ledger.rows() == []


def test_get_many_returns_only_known_keys_even_for_thousands(
        make_ledger: Callable[[], Journal]) -> None:
    ledger = make_ledger()
    for i in range(0, 1200, 2):
        ledger.outcome(JournalRow(key=f"k{i}", status="sent"))
    found = ledger.get_many(f"k{i}" for i in range(1200))
    assert sorted(found) == sorted(f"k{i}" for i in range(0, 1200, 2))


@pytest.mark.parametrize("count", [499, 500, 501, 999, 1000, 1001, 1200])
def test_get_many_finds_every_key_around_the_lookup_chunk_boundaries(
        make_ledger: Callable[[], Journal], count: int) -> None:
    # every key stored and asked for, in order: a key dropped at any chunk edge shows
    ledger = make_ledger()
    keys = [f"k{i:05d}" for i in range(count)]
    for key in keys:
        ledger.outcome(JournalRow(key=key, status="sent"))
    assert sorted(ledger.get_many(keys)) == keys


def test_rows_to_finds_every_record_of_a_person_across_campaigns(
        make_ledger: Callable[[], Journal]) -> None:
    ledger = make_ledger()
    for i, (campaign, to) in enumerate([("a", "861"), ("b", "861"), ("a", "862"), ("a", None)]):
        ledger.outcome(JournalRow(key=f"k{i}", status="sent", to=to, campaign=campaign))
    assert sorted(r.key for r in ledger.rows_to(["861"])) == ["k0", "k1"]
    assert sorted(r.key for r in ledger.rows_to(["861", "862", "863"])) == ["k0", "k1", "k2"]
    assert ledger.rows_to([]) == []


def identity(campaign: str = "c1", endpoint: str = "https://cams.example", key: str = "AKID-one",
             fingerprint: str = "f1") -> CampaignIdentity:
    return CampaignIdentity(campaign=campaign, name=campaign, endpoint=endpoint,
                            access_key_id=key, fingerprint=fingerprint, cust_space_id="space")


def test_a_journal_is_bound_to_the_first_account_and_refuses_another(
        make_ledger: Callable[[], Journal]) -> None:
    ledger = make_ledger()
    ledger.bind(identity())
    ledger.bind(identity(campaign="c2", fingerprint="f2"))  # another campaign, same account: fine
    assert [c["campaign"] for c in ledger.campaigns()] == ["c1", "c2"]
    assert ledger.campaigns()[0]["fingerprint"] == "f1"
    assert ledger.campaigns()[0]["cust_space_id"] == "space"
    with pytest.raises(JournalAccountError, match="endpoint https://cams.example") as info:
        ledger.bind(identity(endpoint=SANDBOX_ENDPOINT))
    assert "in-process sandbox" in str(info.value) and "Nothing was sent" in str(info.value)
    with pytest.raises(JournalAccountError, match="AKID-two"):
        ledger.bind(identity(key="AKID-two"))


def test_the_account_a_journal_is_bound_to_survives_reopening(tmp_path: Path) -> None:
    ledger = SqliteJournal(tmp_path / "send.db")
    ledger.bind(identity(endpoint=SANDBOX_ENDPOINT, key="sandbox-access-key-id"))
    ledger.close()
    again = SqliteJournal(tmp_path / "send.db")
    try:
        with pytest.raises(JournalAccountError, match="in-process sandbox"):
            again.bind(identity())
        again.bind(identity(endpoint=SANDBOX_ENDPOINT, key="sandbox-access-key-id"))
    finally:
        again.close()


def test_an_open_journal_is_locked_against_a_second_opener_and_freed_on_close(
        tmp_path: Path) -> None:
    first = SqliteJournal(tmp_path / "send.db")
    with pytest.raises(JournalBusyError) as info:
        SqliteJournal(tmp_path / "send.db")
    assert info.value.holder["pid"] == os.getpid()
    assert f"journal in use by pid {os.getpid()} on host " in str(info.value)
    first.close()
    SqliteJournal(tmp_path / "send.db").close()


def test_a_killed_holder_leaves_no_lock_behind(tmp_path: Path) -> None:
    path = tmp_path / "send.db"
    code = ("import sys, time; from cams_notebook.campaigns.journal import SqliteJournal; "
            f"held = SqliteJournal({str(path)!r}); print('held', flush=True); time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        with pytest.raises(JournalBusyError, match=f"pid {child.pid} "):
            SqliteJournal(path)
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    SqliteJournal(path).close()  # the kernel released the lock with the process


def test_a_journal_of_the_first_format_is_refused_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE cams_meta (name TEXT PRIMARY KEY, value TEXT)")
        db.execute("CREATE TABLE cams_rows (key TEXT PRIMARY KEY, status TEXT)")
        db.execute("INSERT INTO cams_meta VALUES ('format', 'cams_notebook/1')")
        db.execute("INSERT INTO cams_rows VALUES ('0|abc', 'sent')")
    with pytest.raises(JournalError, match="earlier version") as info:
        SqliteJournal(path)
    assert "start a new journal" in str(info.value)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM cams_rows").fetchone()[0] == 1


def test_retry_safe_reads_back_as_a_bool(make_ledger: Callable[[], Journal]) -> None:
    ledger = make_ledger()
    ledger.outcome(SENT)
    assert ledger.get_many(["k1"])["k1"].retry_safe is True
    assert ledger.rows()[0].retry_safe is True


def test_a_sqlite_journal_survives_being_closed_and_opened_again(tmp_path: Path) -> None:
    path = tmp_path / "send.db"
    ledger = SqliteJournal(path)
    ledger.outcome(SENT)
    ledger.intent(JournalRow(key="k2", status="sent", to="8613900000001"))
    ledger.close()
    again = SqliteJournal(str(path))
    assert again.get_many(["k1", "k2"]) == {"k1": SENT, "k2": JournalRow(
        key="k2", status=INTENT, to="8613900000001")}
    again.close()


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "send.db"
    path.write_bytes(b"this is not SQLite " * 100)
    with pytest.raises(JournalError, match="not a database") as info:
        SqliteJournal(path)
    assert info.value.path == str(path)
    assert "Nothing was sent" in str(info.value)


def test_a_truncated_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "send.db"
    ledger = SqliteJournal(path)
    for i in range(3000):
        ledger.outcome(JournalRow(key=f"k{i}", status="sent", message="x" * 100))
    ledger.close()  # checkpoints the WAL into the main file
    data = path.read_bytes()
    copy = tmp_path / "copy.db"
    copy.write_bytes(data[: len(data) // 2])  # a copy cut off half way
    with pytest.raises(JournalError):
        SqliteJournal(copy)


def test_someone_elses_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (phone TEXT)")
    with pytest.raises(JournalError, match="not a cams_notebook journal"):
        SqliteJournal(path)
    with sqlite3.connect(path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    assert tables == {"customers"}
    assert mode == "delete"


def test_encode_index_is_json_text_for_any_index_value() -> None:
    assert encode_index(3) == "3"
    assert encode_index("a") == '"a"'
    assert encode_index(("a", 1)) == '["a", 1]'
    assert encode_index(float("nan")) == "NaN"
    assert encode_index(datetime(2026, 1, 2, 3, 4)) == '"2026-01-02 03:04:00"'
