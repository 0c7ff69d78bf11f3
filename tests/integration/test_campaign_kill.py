"""A campaign process killed mid-way (SIGKILL) and run again with the same journal sends
every row at most once, and reports the rows it cannot vouch for as ``unknown``.

The sandbox runs in this process behind its loopback server (qps lowered so the campaign
takes a few seconds); ``campaign_child.py`` runs ``send_frame`` in a subprocess.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cams_notebook.sandbox import Sandbox
from tests.campaign_child import SLOW, recipients

ROWS, QPS = 150, 50
CHILD = Path(__file__).resolve().parents[1] / "campaign_child.py"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90),
              pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")]


def run_to_the_end(args: list[str]) -> dict[str, Any]:
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_a_killed_campaign_rerun_with_its_journal_sends_each_row_at_most_once(
        tmp_path: Path) -> None:
    sandbox = Sandbox(seed=5, receipt_delay=0.0, qps=QPS)
    server = sandbox.serve()
    try:
        args = [sys.executable, str(CHILD), server.url, str(tmp_path / "send.db"), str(ROWS),
                str(QPS)]
        child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while len(sandbox.messages()) < 60 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert child.poll() is None, "the campaign ended before it could be killed"
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=10)  # reaps it and closes its stderr pipe
        assert 0 < len(sandbox.messages()) < ROWS

        runs = [run_to_the_end(args)]
        while "not_sent" in runs[-1]["status"] and len(runs) < 5:
            runs.append(run_to_the_end(args))
        final = runs[-1]
    finally:
        sandbox.stop()

    assert set(final["status"]) <= {"sent", "unknown"}
    assert sum(final["status"].values()) == ROWS
    unknown = set(final["unknown"])
    assert SLOW in unknown  # answered after the client's timeout: never resent

    accepted = Counter(m["to"] for m in sandbox.messages())
    assert max(accepted.values()) == 1  # nothing was sent twice, kill or no kill
    assert accepted[SLOW] == 1
    missing = set(recipients(ROWS)) - set(accepted)
    assert missing <= unknown  # a row that never arrived is reported unknown, not sent
    assert final["status"]["sent"] == len(set(accepted) - unknown)
