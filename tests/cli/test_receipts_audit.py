"""``cams-notebook receipts --pull --message-type ChatAppAudit``: a script keeps the audit
events (number, template and account changes) in the same store as the receipts."""

from __future__ import annotations

from pathlib import Path

import pytest

from cams_notebook.cli import main
from cams_notebook.receipts.store import ReceiptStore
from cams_notebook.sandbox import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    Sandbox,
    queue_service,
)

FLAGGED = {"Type": "phoneQualityUpdate", "PhoneNumber": "8613800000000", "Status": "FLAGGED",
           "CurrentLimit": "TIER_1K", "EventTime": 1_764_700_000_000}
PAUSED = {"TemplateCode": "744c", "Language": "en_US", "AuditStatus": "paused",
          "EventTime": 1_764_700_000_000}


def test_pull_drain_stores_the_audit_queue_and_lists_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    types = tuple(dict.fromkeys((*queue_service.MESSAGE_TYPES, "ChatAppAudit")))
    monkeypatch.setattr(queue_service, "MESSAGE_TYPES", types)  # the service has this queue
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", DEFAULT_ACCESS_KEY_SECRET)
    sb = Sandbox(seed=4, receipt_delay=0.0)
    for event in (FLAGGED, PAUSED, FLAGGED):
        sb.core.mns.enqueue("ChatAppAudit", dict(event), sb.core.clock())
    server = sb.serve()
    store = tmp_path / "r.db"
    try:
        code = main(["receipts", "--pull", "--drain", "--message-type", "ChatAppAudit",
                     "--endpoint", server.url, "--store", str(store)])
    finally:
        sb.stop()
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0].endswith("pulling Alicom-Queue-1234567890123456-ChatAppAudit, storing in "
                           f"{store}")
    assert out[1] == "received 3: 2 new, 1 duplicate(s)"
    assert out[-1] == (f"stored in {store}: 0 receipt(s), 0 inbound message(s), "
                       "2 audit event(s), 0 undecodable")
    with ReceiptStore(store) as stored:
        assert [e.bad_news is not None for e in stored.audits()] == [True, True]


def test_an_empty_audit_queue_still_says_how_many_audit_events_are_stored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    types = tuple(dict.fromkeys((*queue_service.MESSAGE_TYPES, "ChatAppAudit")))
    monkeypatch.setattr(queue_service, "MESSAGE_TYPES", types)
    store = tmp_path / "r.db"
    code = main(["receipts", "--pull", "--drain", "--sandbox", "--message-type", "ChatAppAudit",
                 "--store", str(store)])
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and out[-1].endswith("0 inbound message(s), 0 audit event(s), "
                                          "0 undecodable")
