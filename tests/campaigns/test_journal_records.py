"""What a journal file keeps: typed columns across a reopen, the campaigns it served, and the
account it belongs to, told with the key masked.

Oracle: the journal's promises in ``cams_notebook/campaigns/journal.py`` and the README (a
journal belongs to one account and endpoint; a re-run reads back exactly what was written),
checked by reopening the file, never by asking the object that wrote it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cams_notebook.campaigns import journal as journal_module
from cams_notebook.campaigns.journal import (
    CampaignIdentity,
    JournalAccountError,
    JournalRow,
    MemoryJournal,
    SqliteJournal,
)

ROW = JournalRow(key="k1", status="sent", attempts=3, retry_safe=True, latency_ms=12.5,
                 message_id="m1", to="8613900000000", sent_at="2026-01-01T00:00:00.000+00:00")


def identity(key: str = "LTAI5tABCDEFGHIJ", endpoint: str = "https://cams.example",
             campaign: str = "c1") -> CampaignIdentity:
    return CampaignIdentity(campaign=campaign, name=f"name of {campaign}", endpoint=endpoint,
                            access_key_id=key, fingerprint="f1", cust_space_id="space")


def test_typed_columns_read_back_as_their_types_after_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = SqliteJournal(path)
    journal.outcome(ROW)
    journal.close()
    again = SqliteJournal(path)
    try:
        (back,) = again.rows()
        assert back == ROW
        assert (type(back.attempts), type(back.retry_safe), type(back.latency_ms)) == \
            (int, bool, float)
        assert again.rows_to(["8613900000000"]) == [ROW]
        again.forget("k1")
        assert again.get_many(["k1"]) == {}
    finally:
        again.close()


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_each_campaign_is_recorded_once_with_its_first_and_last_run(kind: str,
                                                                   tmp_path: Path) -> None:
    journal = MemoryJournal() if kind == "memory" else SqliteJournal(tmp_path / "j.db")
    try:
        journal.bind(identity(campaign="c1"))
        journal.bind(identity(campaign="c2"))
        (first_c1, _) = journal.campaigns()
        journal.bind(identity(campaign="c1"))
        c1, c2 = journal.campaigns()
        assert (c1["campaign"], c1["name"], c1["fingerprint"], c1["cust_space_id"]) == \
            ("c1", "name of c1", "f1", "space")
        assert c2["campaign"] == "c2"
        assert c1["first_run"] == first_c1["first_run"]
        assert c1["last_run"] >= c1["first_run"] and c1["last_run"].endswith("+00:00")
    finally:
        journal.close()


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_another_account_is_refused_with_both_places_named_and_the_keys_masked(
        kind: str, tmp_path: Path) -> None:
    path = str(tmp_path / "j.db")
    journal = MemoryJournal() if kind == "memory" else SqliteJournal(path)
    try:
        journal.bind(identity())
        with pytest.raises(JournalAccountError) as caught:
            journal.bind(identity(key="LTAI5tZYXWVUTSRQ", endpoint="sandbox:in-process"))
        where = "(in memory)" if kind == "memory" else path
        assert str(caught.value) == (
            f"journal {where!r} cannot be used: it records campaigns sent to endpoint "
            "https://cams.example with AccessKeyId LTAI****GHIJ, and this client sends to "
            "the in-process sandbox with AccessKeyId LTAI****TSRQ. Nothing was sent. A journal "
            "belongs to one account and endpoint, so that a run somewhere else can never make "
            "this one skip rows: give this campaign a journal of its own (another file name).")
        assert caught.value.path == where
    finally:
        journal.close()


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_a_campaign_run_again_keeps_its_first_run_and_moves_its_last_run(
        kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    times = iter(f"2026-01-0{day}T00:00:00.000+00:00" for day in range(1, 10))
    monkeypatch.setattr(journal_module, "_now", lambda: next(times))
    journal = MemoryJournal() if kind == "memory" else SqliteJournal(tmp_path / "j.db")
    try:
        journal.bind(identity(campaign="c1"))  # day 1
        journal.bind(identity(campaign="c2"))  # day 2
        journal.bind(identity(campaign="c1"))  # day 3
        runs = {c["campaign"]: (c["first_run"], c["last_run"]) for c in journal.campaigns()}
        assert runs == {"c1": ("2026-01-01T00:00:00.000+00:00", "2026-01-03T00:00:00.000+00:00"),
                        "c2": ("2026-01-02T00:00:00.000+00:00", "2026-01-02T00:00:00.000+00:00")}
    finally:
        journal.close()


def test_a_key_id_longer_than_eight_characters_is_never_shown_whole() -> None:
    journal = MemoryJournal()
    journal.bind(identity(key="ABCDEFGHI"))
    with pytest.raises(JournalAccountError) as caught:
        journal.bind(identity(key="12345678"))
    assert "AccessKeyId ABCD****FGHI," in str(caught.value)
    assert "ABCDEFGHI" not in str(caught.value)
    assert "AccessKeyId 12345678." in str(caught.value)  # too short to hide anything by masking


def test_the_file_records_the_account_it_is_bound_to_and_when(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    monkeypatch.setattr(journal_module, "_now", lambda: "2026-01-01T00:00:00.000+00:00")
    path = tmp_path / "j.db"
    journal = SqliteJournal(path)
    journal.bind(identity())
    journal.close()
    with sqlite3.connect(path) as db:  # what a person opening the file finds
        meta = dict(db.execute("SELECT name, value FROM cams_meta").fetchall())
    assert {k: v for k, v in meta.items() if k != "format"} == {
        "endpoint": "https://cams.example", "access_key_id": "LTAI5tABCDEFGHIJ",
        "bound_at": "2026-01-01T00:00:00.000+00:00"}


def test_a_bind_that_fails_part_way_leaves_the_journal_unbound_and_usable(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "j.db")
    try:
        broken = CampaignIdentity(campaign="c1", name=object(),  # type: ignore[arg-type]
                                  endpoint="https://cams.example", access_key_id="LTAI5tABCDEFGHIJ",
                                  fingerprint="f1")
        with pytest.raises(sqlite3.ProgrammingError):
            journal.bind(broken)  # the campaign's record cannot be written
        assert journal.campaigns() == []
        journal.bind(identity(key="LTAI5tZYXWVUTSRQ"))  # not bound to the first account
        journal.outcome(ROW)
        assert [c["campaign"] for c in journal.campaigns()] == ["c1"] and journal.rows() == [ROW]
    finally:
        journal.close()
