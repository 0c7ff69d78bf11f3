"""``cams-notebook receipts``: the queue pull for scripts, and usage errors."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from cams_notebook import Message
from cams_notebook.cli import main
from cams_notebook.receipts.store import ReceiptStore
from cams_notebook.sandbox import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, Sandbox
from tests.helpers import template_fields


def test_pull_drain_stores_a_campaign_s_receipts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    sb = Sandbox(seed=4, receipt_delay=0.0)
    server = sb.serve()
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", DEFAULT_ACCESS_KEY_SECRET)
    try:
        client = sb.client()
        for i in range(5):
            client.send(Message(**template_fields(to=f"86139{i:08d}")))
        store = tmp_path / "r.db"
        code = main(["receipts", "--pull", "--drain", "--endpoint", server.url,
                     "--store", str(store)])
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


# -- credentials: the pull needs a client, asked for by the environment or by --sandbox --------


def test_pull_without_credentials_exits_2_with_one_line_and_opens_no_store(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "r.db"
    code = main(["receipts", "--pull", "--drain", "--store", str(store)])
    out, err = capsys.readouterr()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("cams-notebook receipts: ")
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in err and "--sandbox" in err
    assert out == "" and not store.exists()


def test_pull_endpoint_without_credentials_is_refused_not_silently_the_sandbox(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "r.db"
    code = main(["receipts", "--pull", "--drain", "--endpoint", "http://127.0.0.1:9",
                 "--store", str(store)])
    err = capsys.readouterr().err
    assert code == 2 and "ALIBABA_CLOUD_ACCESS_KEY_SECRET" in err and not store.exists()


def test_pull_with_sandbox_drains_the_in_process_sandbox(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "r.db"
    code = main(["receipts", "--pull", "--drain", "--sandbox", "--wait", "0",
                 "--store", str(store)])
    out = capsys.readouterr().out
    assert code == 0 and "local CAMS sandbox" in out and "stored in" in out and store.exists()


@pytest.mark.parametrize("args", [
    ["--pull", "--sandbox", "--endpoint", "http://127.0.0.1:9"],  # the sandbox has no endpoint
    ["--sandbox"],  # the push receiver talks to no CAMS endpoint: nothing to ignore quietly
    ["--endpoint", "http://127.0.0.1:9"],
], ids=["sandbox-and-endpoint", "sandbox-without-pull", "endpoint-without-pull"])
def test_flags_that_would_be_ignored_are_usage_errors(
        args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "r.db"
    code = main(["receipts", *args, "--store", str(store)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and not store.exists()

