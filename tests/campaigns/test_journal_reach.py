"""Who each sender reached lately, read from the journal, and a journal file from before
``eligible_at`` opened without losing a row.

Oracle: ``cams_notebook/campaigns/journal_reach.py``'s docstring (a template message ``sent``,
``intent`` or ``unknown`` counts, at ``sent_at`` else ``attempted_at``, over every campaign;
free-form messages do not) and ``journal.py``'s (an older file opens and gains the column, NULL
in its old rows). Each file test closes the journal and reopens it, as the next run does.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cams_notebook.campaigns.journal import (
    FORMAT,
    CampaignIdentity,
    Journal,
    JournalRow,
    MemoryJournal,
    SqliteJournal,
)
from cams_notebook.campaigns.journal_reach import REACH_QUERY

TEMPLATE = "830174529611842305"
DAY_START = "2026-03-01T00:00:00.000+00:00"
SENDER, OTHER = "8613800000000", "8613800000903"


def identity(campaign: str) -> CampaignIdentity:
    return CampaignIdentity(campaign=campaign, name=campaign, endpoint="sandbox:in-process",
                            access_key_id="sandbox-access-key-id", fingerprint="f")


def row(key: str, to: str, status: str = "sent", sender: str = SENDER, campaign: str = "c1",
        at: str | None = "2026-03-01T10:00:00.000+00:00", attempted: str | None = None,
        template: str | None = TEMPLATE, **extra: object) -> JournalRow:
    return JournalRow(key=f"{campaign}|{key}", status=status, to=to, sender=sender,
                      campaign=campaign, channel="whatsapp", template_code=template,
                      sent_at=at, attempted_at=attempted or at, **extra)  # type: ignore[arg-type]


def open_journal(kind: str, tmp_path: Path) -> Journal:
    return MemoryJournal() if kind == "memory" else SqliteJournal(tmp_path / "send.db")


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_eligible_at_is_kept_and_read_back(kind: str, tmp_path: Path) -> None:
    journal = open_journal(kind, tmp_path)
    deferred = row("a", "8613900000001", status="deferred", at=None,
                   eligible_at="2026-03-02T10:00:00.000+00:00")
    journal.outcome(deferred)
    if kind == "file":
        journal.close()
        journal = SqliteJournal(tmp_path / "send.db")
    try:
        assert journal.get_many([deferred.key]) == {deferred.key: deferred}
    finally:
        journal.close()


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_sent_intent_and_unknown_template_rows_count_failed_deferred_and_free_form_do_not(
        kind: str, tmp_path: Path) -> None:
    journal = open_journal(kind, tmp_path)
    try:
        for r in [row("a", "1", "sent"), row("b", "2", "intent", at=None,
                                             attempted="2026-03-01T11:00:00.000+00:00"),
                  row("c", "3", "unknown"), row("d", "4", "failed"), row("e", "5", "deferred"),
                  row("f", "6", "capped"), row("g", "7", "sent", template=None)]:
            journal.outcome(r)
        assert journal.reached_since(DAY_START) == {SENDER: {
            "1": "2026-03-01T10:00:00.000+00:00", "2": "2026-03-01T11:00:00.000+00:00",
            "3": "2026-03-01T10:00:00.000+00:00"}}
    finally:
        journal.close()


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_each_pair_keeps_its_latest_time_at_or_after_since(kind: str, tmp_path: Path) -> None:
    journal = open_journal(kind, tmp_path)
    try:
        journal.outcome(row("a", "1", at="2026-02-28T23:59:59.999+00:00"))  # before: not counted
        journal.outcome(row("b", "2", at=DAY_START))  # exactly at since: counted
        journal.outcome(row("c", "2", at="2026-03-01T08:00:00.000+00:00"))  # later: kept
        journal.outcome(row("d", "2", sender=OTHER, at="2026-03-01T09:00:00.000+00:00"))
        # a time in another offset (Z) means the same instant
        assert journal.reached_since("2026-03-01T00:00:00Z") == {
            SENDER: {"2": "2026-03-01T08:00:00.000+00:00"},
            OTHER: {"2": "2026-03-01T09:00:00.000+00:00"}}
    finally:
        journal.close()


def test_a_time_without_an_offset_is_refused_naming_the_argument() -> None:
    with pytest.raises(ValueError, match="since: '2026-03-01T00:00:00' has no UTC offset"):
        MemoryJournal().reached_since("2026-03-01T00:00:00")
    with pytest.raises(ValueError, match="since: 'yesterday' is not an ISO-8601 time"):
        MemoryJournal().reached_since("yesterday")


def test_two_campaigns_in_one_file_both_count_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "send.db"
    first = SqliteJournal(path)
    first.bind(identity("spring"))
    first.outcome(row("a", "8613900000001", campaign="spring"))
    first.outcome(row("b", "8613900000002", campaign="spring"))
    first.close()  # the kernel restarts; the next campaign opens the same file
    second = SqliteJournal(path)
    try:
        second.bind(identity("summer"))
        second.outcome(row("a", "8613900000002", campaign="summer",
                           at="2026-03-01T12:00:00.000+00:00"))
        second.outcome(row("b", "8613900000003", campaign="summer", sender=OTHER))
        assert [c["campaign"] for c in second.campaigns()] == ["spring", "summer"]
        assert second.reached_since(DAY_START) == {
            SENDER: {"8613900000001": "2026-03-01T10:00:00.000+00:00",
                     "8613900000002": "2026-03-01T12:00:00.000+00:00"},
            OTHER: {"8613900000003": "2026-03-01T10:00:00.000+00:00"}}
    finally:
        second.close()


def test_the_file_answers_from_its_reach_index_not_a_scan(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "send.db")
    journal.close()
    db = sqlite3.connect(tmp_path / "send.db")
    try:
        plan = " ".join(r[3] for r in db.execute(f"EXPLAIN QUERY PLAN {REACH_QUERY}", ("x",)))
    finally:
        db.close()
    assert "USING INDEX cams_rows_reach" in plan and "SCAN" not in plan


OLD_ROWS = """CREATE TABLE cams_rows (
    key TEXT PRIMARY KEY, "status" TEXT, "index" TEXT, "to" TEXT, "task_id" TEXT,
    "attempts" INTEGER, "message_id" TEXT, "code" TEXT, "message" TEXT, "request_id" TEXT,
    "latency_ms" REAL, "sent_at" TEXT, "error" TEXT, "retry_safe" INTEGER, "campaign" TEXT,
    "channel" TEXT, "sender" TEXT, "cust_space_id" TEXT, "template_code" TEXT,
    "attempted_at" TEXT, "digest" TEXT);
CREATE INDEX cams_rows_to ON cams_rows ("to");
CREATE TABLE cams_meta (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE cams_campaigns (campaign TEXT PRIMARY KEY, name TEXT, fingerprint TEXT,
    cust_space_id TEXT, first_run TEXT, last_run TEXT);
"""


def write_old_journal(path: Path, rows: int) -> None:
    """A journal as the release before ``eligible_at`` wrote it, with plain sqlite3."""
    db = sqlite3.connect(path)
    try:
        db.executescript(OLD_ROWS)
        db.executemany("INSERT INTO cams_meta VALUES (?, ?)", [
            ("format", FORMAT), ("endpoint", "sandbox:in-process"),
            ("access_key_id", "sandbox-access-key-id")])
        db.executemany(
            'INSERT INTO cams_rows (key, status, "to", sender, campaign, template_code, sent_at, '
            "attempted_at, attempts, retry_safe) VALUES (?, 'sent', ?, ?, 'old', ?, ?, ?, 1, 0)",
            [(f"old|{i}", f"86139{i:08d}", SENDER, TEMPLATE, "2026-03-01T10:00:00.000+00:00",
              "2026-03-01T10:00:00.000+00:00") for i in range(rows)])
        db.commit()
    finally:
        db.close()


def test_a_journal_from_before_eligible_at_opens_gains_the_column_and_keeps_every_row(
        tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    write_old_journal(path, 120)
    journal = SqliteJournal(path)
    try:
        old = journal.rows()
        assert len(old) == 120 and all(r.eligible_at is None and r.status == "sent" for r in old)
        assert len(journal.reached_since(DAY_START)[SENDER]) == 120
        journal.outcome(row("new", "8613900099999", status="deferred", at=None,
                            eligible_at="2026-03-02T10:00:00.000+00:00"))
    finally:
        journal.close()
    again = SqliteJournal(path)  # the next run: migrated once, opens as it is
    try:
        assert len(again.rows()) == 121
        assert again.get_many(["c1|new"])["c1|new"].eligible_at == \
            "2026-03-02T10:00:00.000+00:00"
    finally:
        again.close()
    db = sqlite3.connect(path)
    try:
        columns = [r[1] for r in db.execute("PRAGMA table_info(cams_rows)")]
        indexes = {r[1] for r in db.execute("PRAGMA index_list(cams_rows)")}
    finally:
        db.close()
    assert columns[-1] == "eligible_at" and columns.count("eligible_at") == 1
    assert {"cams_rows_to", "cams_rows_reach"} <= indexes
