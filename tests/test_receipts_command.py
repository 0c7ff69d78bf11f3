"""``cams-notebook receipts``: the queue pull for scripts, and usage errors."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from helpers import template_fields

from cams_notebook import Message
from cams_notebook.cli import main
from cams_notebook.receipt_store import ReceiptStore
from cams_notebook.sandbox import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, Sandbox


def test_pull_drain_stores_a_campaign_s_receipts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    sb = Sandbox(seed=4, receipt_delay=0.0)
    server = sb.serve()
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", DEFAULT_ACCESS_KEY_SECRET)
    try:
        client = sb.client()
        for i in range(5):
            client.send(Message(**template_fields(to=f"86139{i:08d}")))
        store = tmp_path / "r.db"
        code = main(["receipts", "--pull", "--drain", "--endpoint", server.url, "--store", str(store)])
    finally:
        sb.stop()
    out = capsys.readouterr().out
    assert code == 0 and "pulling Alicom-Queue-1234567890123456-ChatAppStatus" in out
    with ReceiptStore(store) as stored:
        assert stored.count("status") == len({(r["MessageId"], r["Status"], r["Timestamp"])
                                              for r in sb.receipts()})


def test_a_port_in_use_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["receipts", "--port", str(port), "--store", str(tmp_path / "r.db")])
    assert code == 2 and "receipts:" in capsys.readouterr().err
