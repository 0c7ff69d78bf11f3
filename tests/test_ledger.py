"""The campaign journal: both stores keep intents and outcomes; a bad file is refused."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from cams_notebook.ledger import (
    INTENT,
    JournalError,
    Ledger,
    LedgerRow,
    MemoryLedger,
    SqliteLedger,
    encode_index,
)

SENT = LedgerRow(key="k1", status="sent", index='"row-1"', to="8613900000000", task_id="cn-x-1",
                 attempts=2, message_id="m-1", code="OK", message="OK", request_id="r-1",
                 latency_ms=12.5, sent_at="2026-01-01T00:00:00.000+00:00", error=None,
                 retry_safe=True)


@pytest.fixture(params=["memory", "sqlite"])
def make_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Ledger]]:
    opened: list[Ledger] = []

    def make() -> Ledger:
        ledger: Ledger = MemoryLedger() if request.param == "memory" else \
            SqliteLedger(tmp_path / "journal.db")
        opened.append(ledger)
        return ledger

    yield make
    for ledger in opened:
        ledger.close()


def test_an_intent_is_recorded_as_intent_whatever_status_the_row_had(
        make_ledger: Callable[[], Ledger]) -> None:
    ledger = make_ledger()
    ledger.intent(SENT)
    assert ledger.get_many(["k1"])["k1"].status == INTENT


def test_an_outcome_replaces_the_intent_field_for_field(make_ledger: Callable[[], Ledger]) -> None:
    ledger = make_ledger()
    ledger.intent(LedgerRow(key="k1", status="whatever"))
    ledger.outcome(SENT)
    assert ledger.get_many(["k1"]) == {"k1": SENT}
    assert ledger.rows() == [SENT]


def test_forget_drops_a_row(make_ledger: Callable[[], Ledger]) -> None:
    ledger = make_ledger()
    ledger.intent(SENT)
    ledger.forget("k1")
    ledger.forget("never-there")
    assert ledger.get_many(["k1"]) == {}
    assert ledger.rows() == []


def test_get_many_returns_only_known_keys_even_for_thousands(
        make_ledger: Callable[[], Ledger]) -> None:
    ledger = make_ledger()
    for i in range(0, 1200, 2):
        ledger.outcome(LedgerRow(key=f"k{i}", status="sent"))
    found = ledger.get_many(f"k{i}" for i in range(1200))
    assert sorted(found) == sorted(f"k{i}" for i in range(0, 1200, 2))


def test_retry_safe_reads_back_as_a_bool(make_ledger: Callable[[], Ledger]) -> None:
    ledger = make_ledger()
    ledger.outcome(SENT)
    assert ledger.get_many(["k1"])["k1"].retry_safe is True
    assert ledger.rows()[0].retry_safe is True


def test_a_sqlite_journal_survives_being_closed_and_opened_again(tmp_path: Path) -> None:
    path = tmp_path / "send.db"
    ledger = SqliteLedger(path)
    ledger.outcome(SENT)
    ledger.intent(LedgerRow(key="k2", status="sent", to="8613900000001"))
    ledger.close()
    again = SqliteLedger(str(path))
    assert again.get_many(["k1", "k2"]) == {"k1": SENT, "k2": LedgerRow(
        key="k2", status=INTENT, to="8613900000001")}
    again.close()


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "send.db"
    path.write_bytes(b"this is not SQLite " * 100)
    with pytest.raises(JournalError, match="not a database") as info:
        SqliteLedger(path)
    assert info.value.path == str(path)
    assert "Nothing was sent" in str(info.value)


def test_a_truncated_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "send.db"
    ledger = SqliteLedger(path)
    for i in range(3000):
        ledger.outcome(LedgerRow(key=f"k{i}", status="sent", message="x" * 100))
    ledger.close()  # checkpoints the WAL into the main file
    data = path.read_bytes()
    copy = tmp_path / "copy.db"
    copy.write_bytes(data[: len(data) // 2])  # a copy cut off half way
    with pytest.raises(JournalError):
        SqliteLedger(copy)


def test_someone_elses_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (phone TEXT)")
    with pytest.raises(JournalError, match="not a cams_notebook journal"):
        SqliteLedger(path)
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
