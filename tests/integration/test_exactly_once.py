"""Exactly once in the workflows people really have, written as the user's steps.

Each test edits a CSV and runs again, starts two processes, or moves a journal from the
sandbox to a (loopback) service, and then counts what the service accepted: 0 duplicates,
0 rows reported ``sent`` that the service did not accept, 0 messages to a number the user
did not write.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cams_notebook import Client
from cams_notebook.campaigns.frames import send_frame
from cams_notebook.campaigns.journal import JournalAccountError, JournalBusyError, SqliteJournal
from cams_notebook.sandbox import Sandbox

TESTS = Path(__file__).resolve().parents[1]
SHIPPED: dict[str, Any] = {"channel_type": "whatsapp", "type": "template",
                           "from_": "8613800000000", "template_code": "830174529611842305",
                           "language": "en", "params": ["name", "order_id"]}
KEYS = {"access_key_id": "sandbox-access-key-id", "access_key_secret": "sandbox-access-key-secret"}


def write_csv(path: Path, rows: int) -> None:
    pd.DataFrame({"to": [f"86139{i:08d}" for i in range(rows)],
                  "name": [f"Customer {i}" for i in range(rows)],
                  "order_id": [f"A-{i}" for i in range(rows)]}).to_csv(path, index=False)


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str)


def accepted(sandbox: Sandbox) -> Counter[str]:
    return Counter(m["to"] for m in sandbox.messages())


def assert_truthful(result: pd.DataFrame, sandbox: Sandbox) -> None:
    """Every row reported sent was accepted by the service, with that MessageId, to that number."""
    ids = {m["message_id"]: m["to"] for m in sandbox.messages()}
    sent = result[result["status"] == "sent"]
    assert all(ids.get(m) == to for m, to in zip(sent["message_id"], sent["to"], strict=True)), \
        sent
    assert max(accepted(sandbox).values(), default=1) == 1  # nobody got a message twice


def test_editing_the_csv_and_running_again_sends_exactly_the_rows_that_never_went_out(
        sandbox: Sandbox, tmp_path: Path) -> None:
    csv, journal = tmp_path / "in.csv", str(tmp_path / "send.db")
    client = sandbox.client()
    write_csv(csv, 6)
    first = send_frame(read_csv(csv), client=client, journal=journal, progress=False, **SHIPPED)
    assert (first["status"] == "sent").all()
    ids = dict(zip(first["to"], first["message_id"], strict=True))

    frame = read_csv(csv).drop(index=1)                       # delete one row
    frame.to_csv(csv, index=False)
    again = send_frame(read_csv(csv), client=client, journal=journal, progress=False, **SHIPPED)
    assert len(sandbox.messages()) == 6 and (again["status"] == "sent").all()
    assert dict(zip(again["to"], again["message_id"], strict=True)) == {
        k: v for k, v in ids.items() if k != "8613900000001"}

    shuffled = read_csv(csv).iloc[::-1].reset_index(drop=True)  # reversed and re-indexed
    shuffled.index = shuffled.index.astype("Int64") + 1000
    assert (send_frame(shuffled, client=client, journal=journal, progress=False,
                       **SHIPPED)["status"] == "sent").all()
    assert len(sandbox.messages()) == 6

    grown = pd.concat([read_csv(csv), pd.DataFrame({"to": ["8613900000099"], "name": ["New"],
                                                    "order_id": ["A-99"]})])
    grown.to_csv(csv, index=False)
    last = send_frame(read_csv(csv), client=client, journal=journal, progress=False, **SHIPPED)
    assert accepted(sandbox)["8613900000099"] == 1 and len(sandbox.messages()) == 7
    assert (last["status"] == "sent").all()
    assert_truthful(last, sandbox)


def test_a_fixed_typo_is_told_not_sent_unless_asked_and_then_sent_once(
        sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv, journal = tmp_path / "in.csv", str(tmp_path / "send.db")
    client = sandbox.client()
    write_csv(csv, 3)
    send_frame(read_csv(csv), client=client, journal=journal, progress=False, **SHIPPED)
    frame = read_csv(csv)
    frame.loc[2, "name"] = "Customer Two (fixed)"
    frame.to_csv(csv, index=False)

    told = send_frame(read_csv(csv), client=client, journal=journal, **SHIPPED)
    assert told["status"].tolist() == ["sent", "sent", "changed"]
    assert "on_changed='send'" in told.loc[2, "error"] and pd.isna(told.loc[2, "message_id"])
    assert ("changed", "") in set(map(tuple, told.summary()[["status", "code"]].fillna("").values))
    assert "1 row(s) were already sent in this campaign with a different message" in \
        capsys.readouterr().err
    assert len(sandbox.messages()) == 3

    sent = send_frame(read_csv(csv), client=client, journal=journal, progress=False,
                      on_changed="send", **SHIPPED)
    assert sent["status"].tolist() == ["sent"] * 3
    assert accepted(sandbox)["8613900000002"] == 2  # the old and, on request, the new version
    newest = sandbox.messages()[-1]
    assert json.loads(newest["params"]["TemplateParams"])["name"] == "Customer Two (fixed)"
    assert sent.loc[2, "message_id"] == newest["message_id"]

    quiet = send_frame(read_csv(csv), client=client, journal=journal, progress=False, **SHIPPED)
    assert quiet["status"].tolist() == ["sent"] * 3 and len(sandbox.messages()) == 4


def test_two_campaigns_with_one_journal_and_one_key_column_never_shadow_each_other(
        sandbox: Sandbox, tmp_path: Path) -> None:
    journal = str(tmp_path / "send.db")
    client = sandbox.client()
    frame = pd.DataFrame({"customer_id": ["c1", "c2"], "to": ["8613900000000", "8613900000001"],
                          "name": ["Ada", "Bo"], "order_id": ["A-1", "A-2"]})
    shipped = send_frame(frame, client=client, journal=journal, key="customer_id",
                         progress=False, **SHIPPED)
    viber = dict(channel_type="viber", type="message", from_="8613800000000",
                 message_type="text", content={"text": "Your parcel is on its way"})
    other = send_frame(frame[["customer_id", "to"]], client=client, journal=journal,
                       key="customer_id", progress=False, **viber)
    assert (other["status"] == "sent").all()
    assert set(other["message_id"]).isdisjoint(shipped["message_id"])
    assert len(sandbox.messages()) == 4

    moved = frame.assign(to=["8613900000000", "8613900000077"])  # c2's number changed
    again = send_frame(moved, client=client, journal=journal, key="customer_id",
                       progress=False, **SHIPPED)
    assert again["status"].tolist() == ["sent", "changed"]
    assert accepted(sandbox)["8613900000077"] == 0 and len(sandbox.messages()) == 4


def test_a_sandbox_journal_never_suppresses_a_real_send(sandbox: Sandbox, tmp_path: Path) -> None:
    journal = str(tmp_path / "send.db")
    frame = pd.DataFrame({"to": ["8613900000000", "8613900000001"], "name": ["Ada", "Bo"],
                          "order_id": ["A-1", "A-2"]})
    send_frame(frame, client=Sandbox().client(), journal=journal, progress=False, **SHIPPED)
    server = sandbox.serve()  # stands in for the real service
    real = Client(endpoint=server.url, **KEYS)
    with pytest.raises(JournalAccountError) as caught:
        send_frame(frame, client=real, journal=journal, progress=False, **SHIPPED)
    text = str(caught.value)
    assert "in-process sandbox" in text and server.url in text and "Nothing was sent" in text
    assert "sandbox-access-key-secret" not in text
    assert sandbox.messages() == []
    fresh = send_frame(frame, client=real, journal=str(tmp_path / "real.db"), progress=False,
                       **SHIPPED)
    assert (fresh["status"] == "sent").all() and len(sandbox.messages()) == 2
    assert_truthful(fresh, sandbox)


def test_another_access_key_on_the_same_endpoint_is_refused(tmp_path: Path) -> None:
    one = Sandbox(access_key_id="key-one", access_key_secret="secret-one")
    send_frame(pd.DataFrame({"to": ["8613900000000"], "name": ["Ada"], "order_id": ["A"]}),
               client=one.client(), journal=str(tmp_path / "j.db"), progress=False, **SHIPPED)
    two = Sandbox(access_key_id="key-two", access_key_secret="secret-two")
    with pytest.raises(JournalAccountError, match="key-two"):
        send_frame(pd.DataFrame({"to": ["8613900000000"], "name": ["Ada"], "order_id": ["A"]}),
                   client=two.client(), journal=str(tmp_path / "j.db"), progress=False, **SHIPPED)
    assert two.messages() == []


def test_the_default_journal_keeps_the_sandbox_and_a_real_account_apart(
        sandbox: Sandbox) -> None:
    frame = pd.DataFrame({"to": ["8613900000000"], "name": ["Ada"], "order_id": ["A"]})
    send_frame(frame, client=Sandbox().client(), progress=False, **SHIPPED)
    real = Client(endpoint=sandbox.serve().url, **KEYS)
    result = send_frame(frame, client=real, progress=False, **SHIPPED)
    assert result["status"].tolist() == ["sent"] and len(sandbox.messages()) == 1


def _start_pair(url: str, journal: Path, rows: int, go: Path) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    return [subprocess.Popen([sys.executable, str(TESTS / "journal_child.py"), url,
                              str(journal), str(rows), "100", str(go)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for _ in range(2)]


@pytest.mark.slow
@pytest.mark.parametrize("existing", [False, True], ids=["new-journal", "existing-journal"])
def test_two_processes_on_one_journal_send_each_row_once(tmp_path: Path, existing: bool) -> None:
    sandbox = Sandbox(latency_ms=(20.0, 5.0))
    server = sandbox.serve()
    journal, go = tmp_path / "send.db", tmp_path / "go"
    if existing:
        SqliteJournal(journal).close()
    children = _start_pair(server.url, journal, 200, go)
    time.sleep(2.0)  # both have imported pandas and are waiting
    go.touch()
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=120)
        outputs.append((child.returncode, json.loads(out.strip().splitlines()[-1]), err))
    sandbox.stop()
    assert max(accepted(sandbox).values()) == 1 and len(sandbox.messages()) == 200
    codes = sorted(code for code, _, _ in outputs)
    for code, line, err in outputs:
        assert code in (0, 3), err
        if code == 3:  # refused while the other sends: nothing sent, and it says who holds it
            assert line["error"] == JournalBusyError.__name__
            assert "journal in use by pid" in line["text"] and "since" in line["text"]
        else:
            assert sum(line["status"].values()) == 200
            assert set(line["status"]) == {"sent"}
        assert "cut short" not in json.dumps(line)
    assert codes[0] == 0


def test_a_second_run_in_the_same_process_is_refused_while_the_first_holds_the_journal(
        sandbox: Sandbox, tmp_path: Path) -> None:
    held = SqliteJournal(tmp_path / "send.db")
    frame = pd.DataFrame({"to": ["8613900000000"], "name": ["Ada"], "order_id": ["A"]})
    with pytest.raises(JournalBusyError, match=f"pid {os.getpid()}"):
        send_frame(frame, client=sandbox.client(), journal=str(tmp_path / "send.db"),
                   progress=False, **SHIPPED)
    held.close()
    assert sandbox.messages() == []
    done = send_frame(frame, client=sandbox.client(), journal=str(tmp_path / "send.db"),
                      progress=False, **SHIPPED)
    assert done["status"].tolist() == ["sent"]
    assert not (tmp_path / "send.db.lock").read_text()  # released, and says no holder
