"""``cams-notebook send --inbound STORE``: the 24-hour window check from the inbound queue, as a
scheduled job runs it: pull the inbound messages into a store, then dry-run and send with it.
The sandbox is reached like the service (a loopback server, keys in the environment)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from cams_notebook.sandbox import Sandbox
from tests.cli.test_send import CLI, KEY_ID, SECRET

FREE_FORM = ["--channel-type", "whatsapp", "--type", "message", "--from", "8613800000000",
             "--message-type", "text", "--content", '{"text": "Your table is ready"}',
             "--no-progress"]


@pytest.fixture
def service() -> Iterator[tuple[str, Sandbox]]:
    side = Sandbox(access_key_id=KEY_ID, access_key_secret=SECRET, seed=7, receipt_delay=0)
    server = side.serve()
    yield server.url, side
    side.stop()


def job(work: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.defpath, "HOME": str(work), "LANG": "C.UTF-8",
           "ALIBABA_CLOUD_ACCESS_KEY_ID": KEY_ID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
           "CAMS_NOTEBOOK_ENDPOINT": url}
    return subprocess.run([*CLI, *args], cwd=work, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_a_job_pulls_inbound_messages_then_sends_only_where_the_window_is_open(
        tmp_path: Path, service: tuple[str, Sandbox]) -> None:
    url, side = service
    (tmp_path / "in.csv").write_text("to\n8613900000001\n8613900000002\n")
    side.record_inbound("8613900000001")  # one of the two wrote to us this morning
    pulled = job(tmp_path, url, "receipts", "--pull", "--drain", "--wait", "0",
                 "--message-type", "ChatAppInbound", "--store", "inbound.db")
    assert pulled.returncode == 0, pulled.stderr

    dry = job(tmp_path, url, "send", "in.csv", "--dry-run", "--inbound", "inbound.db",
              *FREE_FORM)
    assert dry.returncode == 0, dry.stderr  # a closed window is a warning, not an error
    warned = [line for line in dry.stdout.splitlines() if "window_" in line]
    assert len(warned) == 1 and "window_closed" in warned[0] and warned[0].split()[0] == "1"

    blind = job(tmp_path, url, "send", "in.csv", "--dry-run", *FREE_FORM)
    assert sum("window_maybe_closed" in line for line in blind.stdout.splitlines()) == 2

    sent = job(tmp_path, url, "send", "in.csv", "--inbound", "inbound.db", "--journal", "j.db",
               "--out", "out.csv", *FREE_FORM)
    assert sent.returncode == 0, sent.stderr
    assert pd.read_csv(tmp_path / "out.csv")["status"].tolist() == ["sent", "sent"]


def test_a_missing_inbound_store_is_refused_before_anything_is_sent(
        tmp_path: Path, service: tuple[str, Sandbox]) -> None:
    url, side = service
    (tmp_path / "in.csv").write_text("to\n8613900000001\n")
    run = job(tmp_path, url, "send", "in.csv", "--inbound", "nowhere.db", *FREE_FORM)
    assert run.returncode == 2
    assert "--inbound 'nowhere.db': no such receipt store" in run.stderr
    assert side.messages() == [] and sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]
