"""``cams-notebook receipts``: the queue pull for scripts, and usage errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from cams_notebook import Message
from cams_notebook.cli import main
from cams_notebook.receipts.store import ReceiptStore
from cams_notebook.sandbox import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, Sandbox
from tests.helpers import template_fields
from tests.receipt_helpers import receipt


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


def test_a_port_in_use_exits_1_with_one_line_and_creates_no_store(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "r.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["receipts", "--port", str(port), "--store", str(store)])
    out, err = capsys.readouterr()
    assert code == 1 and out == "" and len(err.splitlines()) == 1
    assert err.startswith(f"cams-notebook receipts: cannot listen on 127.0.0.1:{port}: ")
    assert not store.exists()  # bound before the store is opened


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



# -- the push receiver: its secret, its output, its exit codes ---------------------------------

SECRET = "Qm7-receiver-secret"


@pytest.mark.parametrize("args, env", [
    (["--secret", SECRET], {}),  # the command line is public: ps shows it to every user
    ([], {"CAMS_RECEIPTS_SECRET": ""}),  # empty is a mistake, never "no authentication"
    ([], {"CAMS_RECEIPTS_SECRET": "  "}),
    (["--secret-file", "{empty}"], {}),
    (["--secret-file", "{missing}"], {}),
    (["--secret-file", "{secret}", "--pull", "--sandbox"], {}),
], ids=["on-the-command-line", "empty-env", "blank-env", "empty-file", "missing-file",
        "file-with-pull"])
def test_a_secret_that_cannot_be_used_is_a_usage_error_before_anything_opens(
        args: list[str], env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "secret").write_text(SECRET + "\n")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    store = tmp_path / "r.db"
    paths = {"empty": tmp_path / "empty", "missing": tmp_path / "missing",
             "secret": tmp_path / "secret"}
    code = main(["receipts", "--port", "0", "--store", str(store),
                 *[a.format(**paths) for a in args]])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert err.startswith("cams-notebook receipts: ") and SECRET not in err
    assert not store.exists()


def start_cli_receiver(tmp_path: Path, args: list[str],
                       env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    code = "import sys; from cams_notebook.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "receipts", "--port", "0", "--path", "/receipts",
         "--store", str(tmp_path / "r.db"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env})
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "listening on" in line, line
    return proc, line


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM")
@pytest.mark.parametrize("source", ["env", "file"])
def test_the_receiver_takes_its_secret_from_env_or_file_and_never_shows_it(
        source: str, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET + "\n")
    args, env = ((["--secret-file", str(secret_file)], {}) if source == "file"
                 else ([], {"CAMS_RECEIPTS_SECRET": SECRET}))
    proc, line = start_cli_receiver(tmp_path, args, env)
    try:
        shown = line.split("listening on ")[1].split(",")[0]
        assert shown.endswith("/receipts/<secret>") and "no secret" not in line
        url = shown.replace("<secret>", SECRET)
        bad = {"MessageId": "b", "Status": "Sent", "Timestamp": 10**30}
        with httpx.Client(timeout=5) as http:
            assert http.post(url, json=[receipt(1), receipt(2)]).status_code == 200
            assert http.post(url, json=[receipt(2), bad]).status_code == 200
            assert http.post(url.replace("/receipts/", "/elsewhere/"),
                             json=[receipt(3)]).status_code == 404
            assert http.post(shown.replace("<secret>", "nope"),
                             json=[receipt(4)]).status_code == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert SECRET not in out + err + line
    lines = out.splitlines()
    assert lines[:2] == ["received 2 from 127.0.0.1: 2 new, 0 duplicate(s)",
                         "received 2 from 127.0.0.1: 0 new, 1 duplicate(s), 1 rejected"]
    assert lines[-1].endswith("2 receipt(s), 0 inbound message(s), 0 undecodable, "
                              "1 rejected event(s)")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM")
def test_without_a_secret_the_receiver_says_so(tmp_path: Path) -> None:
    proc, line = start_cli_receiver(tmp_path, [], {})
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=20)
    assert "no secret: anyone who can reach it can push" in line and proc.returncode == 0


def test_a_store_that_cannot_be_opened_exits_1_with_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "no-such-dir" / "r.db"
    code = main(["receipts", "--port", "0", "--store", str(store)])
    out, err = capsys.readouterr()
    assert code == 1 and out == "" and len(err.splitlines()) == 1
    assert err.startswith(f"cams-notebook receipts: cannot open {str(store)!r}: ")
