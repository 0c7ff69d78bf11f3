"""A re-run with a file journal finds every row, across the lookup chunks (500 keys a query).

Oracle: the journal's promise written in ``send_frame``'s docstring and README ("re-running
with the same journal never sends a row twice"), checked against what the sandbox *accepted*
(``Sandbox.messages()``: a record per request that reached the service), not against what the
package reports. The chunk size is an internal detail: these tests hold at any size, and fail
when a chunk drops or repeats a key (the ``start + 499`` slice sent rows 499 and 999 twice).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cams_notebook.campaigns.frames import send_frame
from cams_notebook.campaigns.journal import JournalRow, SqliteJournal
from cams_notebook.sandbox import Sandbox

ROWS = 1200
SHIPPED: dict[str, Any] = {"channel_type": "whatsapp", "type": "template",
                           "from_": "8613800000000", "template_code": "830174529611842305",
                           "language": "en", "params": ["name", "order_id"]}


def frame(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"to": [f"86139{i:08d}" for i in range(rows)],
                         "name": [f"Customer {i}" for i in range(rows)],
                         "order_id": [f"A-{i}" for i in range(rows)]})


@pytest.mark.slow
def test_a_1200_row_rerun_with_a_file_journal_sends_no_row_twice(tmp_path: Path) -> None:
    """The issue's scenario: rows 499 and 999 (the first key of each later chunk lost by a
    ``start + 499`` slice) must be found on the re-run like every other row."""
    sandbox = Sandbox(seed=3, qps=100_000, receipt_delay=0.0)
    client, journal = sandbox.client(), str(tmp_path / "campaign.db")
    first = send_frame(frame(ROWS), client=client, journal=journal, qps=20_000, sender_mps=None,
                       progress=False,
                       **SHIPPED)
    assert (first["status"] == "sent").all()
    assert len(sandbox.messages()) == ROWS

    again = send_frame(frame(ROWS), client=client, journal=journal, qps=20_000, sender_mps=None,
                       progress=False,
                       **SHIPPED)
    twice = sorted(to for to, n in Counter(m["to"] for m in sandbox.messages()).items() if n > 1)
    assert twice == []
    assert len(sandbox.messages()) == ROWS
    assert again["message_id"].tolist() == first["message_id"].tolist()


def test_get_many_finds_the_first_and_last_key_of_every_chunk(tmp_path: Path) -> None:
    """Every key stored, every key asked for: positions 0, 499, 500, 999, 1000, 1199 above all."""
    journal = SqliteJournal(tmp_path / "j.db")
    try:
        keys = [f"row-{i:04d}" for i in range(ROWS)]
        for key in keys:
            journal.outcome(JournalRow(key=key, status="sent", message_id=f"m-{key}"))
        found = journal.get_many(keys)
        assert sorted(set(keys) - set(found)) == []
        for i in (0, 499, 500, 999, 1000, 1199):
            assert found[keys[i]].message_id == f"m-row-{i:04d}"
        assert len(journal.get_many(reversed(keys))) == ROWS
    finally:
        journal.close()
