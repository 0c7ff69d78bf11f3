"""What a journal file keeps: typed columns across a reopen, the campaigns it served, and the
account it belongs to, told with the key masked.

Oracle: the journal's promises in ``cams_notebook/campaigns/journal.py`` and the README (a
journal belongs to one account and endpoint; a re-run reads back exactly what was written),
checked by reopening the file, never by asking the object that wrote it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

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
