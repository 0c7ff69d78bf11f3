"""The CLI and credentials: where ``cams-notebook send`` sends is never guessed.

A scheduled job runs the console script with the bare environment cron gives it. Without the
credentials it must fail at once (exit 2, one line naming what to set), leaving no journal and
no output behind; the local sandbox is used only when ``--sandbox`` asks for it; ``--endpoint``
is never ignored. The cron-like runs are real subprocesses; the rest call ``main()``.
Errors as one line with their exit codes are in ``test_one_line_errors.py``; what a run
prints (flags in messages, a field missing everywhere, the summary, ``--help``) in
``test_send_output.py``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import cams_notebook.campaigns.frames as frames_module
from cams_notebook.cli import main
from cams_notebook.sandbox import Sandbox, default_sandbox

KEY_ID = "LTAI5tCronJobKey0001"
SECRET = "cron-secret-never-printed-5e1b"
_SCRIPT = Path(sys.executable).with_name("cams-notebook")
CLI = ([str(_SCRIPT)] if _SCRIPT.exists() else
       [sys.executable, "-c", "import sys; from cams_notebook.cli import main; sys.exit(main())"])
CAMPAIGN = ["--channel-type", "whatsapp", "--type", "template", "--from", "8613800000000",
            "--template-code", "830174529611842305", "--language", "en",
            "--params", "name,order_id", "--no-progress"]
VARIABLES = ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
             "ALIBABA_CLOUD_SECURITY_TOKEN")


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "in.csv").write_text("to,name,order_id\n"
                                     "8613900000001,Ada,A-1\n8613900000002,Grace,A-2\n")
    return tmp_path


@pytest.fixture
def server() -> Iterator[tuple[str, Sandbox]]:
    """A loopback sandbox server with its own key pair: reached as CAMS is, with keys and a URL."""
    side = Sandbox(access_key_id=KEY_ID, access_key_secret=SECRET, seed=5, receipt_delay=0)
    srv = side.serve()
    yield srv.url, side
    side.stop()


def cron(work: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``cams-notebook send in.csv ... --journal send.db --out out.csv`` as cron runs it: the
    console script, in the work folder, with only PATH, HOME and LANG (plus ``env``)."""
    bare = {"PATH": os.defpath, "HOME": str(work), "LANG": "C.UTF-8", **env}
    return subprocess.run([*CLI, "send", "in.csv", *CAMPAIGN, "--journal", "send.db",
                           "--out", "out.csv", *args],
                          cwd=work, env=bare, capture_output=True, text=True, timeout=120,
                          check=False)


def one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def nothing_written(work: Path) -> bool:
    return sorted(p.name for p in work.iterdir()) == ["in.csv"]


# -- cron: a real subprocess, a bare environment -----------------------------------------------


def test_cron_without_credentials_exits_2_with_one_line_and_writes_nothing(work: Path) -> None:
    run = cron(work)
    assert run.returncode == 2
    line = one_line(run.stderr)
    assert line.startswith("cams-notebook send: ")
    for needle in (*VARIABLES, "--sandbox"):
        assert needle in line
    assert run.stdout == "" and nothing_written(work)  # no send.db, no out.csv


def test_cron_with_only_one_credential_names_the_missing_one_and_no_value(work: Path) -> None:
    run = cron(work, ALIBABA_CLOUD_ACCESS_KEY_ID=KEY_ID)
    assert run.returncode == 2
    line = one_line(run.stderr)
    assert "ALIBABA_CLOUD_ACCESS_KEY_SECRET is not set" in line and KEY_ID not in line
    assert nothing_written(work)


def test_cron_with_sandbox_sends_to_the_in_process_sandbox_and_says_so(work: Path) -> None:
    run = cron(work, "--sandbox")
    assert run.returncode == 0, run.stderr
    assert "local CAMS sandbox" in run.stdout and "nothing leaves this machine" in run.stdout
    assert (work / "send.db").exists()
    assert pd.read_csv(work / "out.csv")["status"].tolist() == ["sent", "sent"]


def test_cron_endpoint_without_credentials_is_refused_not_silently_the_sandbox(
        work: Path, server: tuple[str, Sandbox]) -> None:
    url, side = server
    for run in (cron(work, "--endpoint", url), cron(work, CAMS_NOTEBOOK_ENDPOINT=url)):
        assert run.returncode == 2
        assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in one_line(run.stderr)
        assert "sandbox" not in run.stdout and nothing_written(work)
    assert side.messages() == []


def test_cron_with_credentials_and_endpoint_reaches_that_server(
        work: Path, server: tuple[str, Sandbox]) -> None:
    url, side = server
    keys = {"ALIBABA_CLOUD_ACCESS_KEY_ID": KEY_ID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET}
    run = cron(work, "--endpoint", url, **keys)
    assert run.returncode == 0, run.stderr
    assert "sandbox" not in run.stdout  # a server reached like CAMS, not the in-process one
    assert sorted(m["to"] for m in side.messages()) == ["8613900000001", "8613900000002"]
    assert {m["access_key_id"] for m in side.messages()} == {KEY_ID}
    assert SECRET not in run.stdout + run.stderr + (work / "out.csv").read_text()


# -- flags: main() in this process ---------------------------------------------------------------


def send_args(work: Path, *extra: str) -> list[str]:
    return ["send", str(work / "in.csv"), *CAMPAIGN, "--journal", str(work / "send.db"),
            "--out", str(work / "out.csv"), *extra]


@pytest.mark.parametrize("keys", [False, True], ids=["no-credentials", "credentials"])
def test_sandbox_with_endpoint_is_a_usage_error_even_with_credentials(
        work: Path, keys: bool, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    if keys:
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    code = main(send_args(work, "--sandbox", "--endpoint", "http://127.0.0.1:9"))
    out, err = capsys.readouterr()
    line = one_line(err)
    assert code == 2 and "--sandbox and --endpoint conflict" in line
    assert "no endpoint" in line and "credentials" in line
    assert out == "" and nothing_written(work)
    assert default_sandbox().messages() == []


def test_dry_run_needs_credentials_or_sandbox_too(
        work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(send_args(work, "--dry-run")) == 2
    assert "--sandbox" in one_line(capsys.readouterr().err)
    assert main(send_args(work, "--dry-run", "--sandbox")) == 0
    assert "no problems found" in capsys.readouterr().out


def test_a_bad_endpoint_with_credentials_is_one_usage_line(
        work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    assert main(send_args(work, "--endpoint", "http://cams.example.com")) == 2
    assert "loopback" in one_line(capsys.readouterr().err) and nothing_written(work)


def test_campaign_and_on_changed_pass_through_to_the_campaign(
        work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []
    real = frames_module.Campaign

    def spy(frame: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return real(frame, **kwargs)

    monkeypatch.setattr(frames_module, "Campaign", spy)
    assert main(send_args(work, "--sandbox")) == 0
    assert main(send_args(work, "--sandbox", "--campaign", "spring-sale",
                          "--on-changed", "send")) == 0
    assert [(k["campaign"], k["on_changed"]) for k in seen] == [(None, "skip"),
                                                               ("spring-sale", "send")]


def test_an_edited_csv_run_again_reports_changed_rows_unless_on_changed_send(
        work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    named = ("--sandbox", "--campaign", "spring-sale")
    assert main(send_args(work, *named)) == 0
    csv = work / "in.csv"
    csv.write_text(csv.read_text().replace("Ada", "Ada L."))  # the user fixes a name, runs again
    main(send_args(work, *named))
    assert pd.read_csv(work / "out.csv")["status"].tolist() == ["changed", "sent"]
    assert len(default_sandbox().messages()) == 2  # nothing sent twice, nothing new sent
    assert main(send_args(work, *named, "--on-changed", "send")) == 0
    assert pd.read_csv(work / "out.csv")["status"].tolist() == ["sent", "sent"]
    assert [m["to"] for m in default_sandbox().messages()][-1] == "8613900000001"
    assert len(default_sandbox().messages()) == 3
    capsys.readouterr()


def test_help_names_sandbox_on_changed_and_the_key(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("send", "receipts"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "--sandbox use the in-process local sandbox; nothing leaves this machine" in text
        if command == "send":
            assert ("skip and report it as 'changed' (default), or send the new version"
                    in text)
            assert ("column that identifies a row when one campaign sends several messages to "
                    "the same person (default: the recipient: channel, From, To)") in text


def test_the_flags_are_parsed_into_the_namespace_the_commands_read() -> None:
    from cams_notebook.cli import build_parser

    args: argparse.Namespace = build_parser().parse_args(["send", "x.csv", "--sandbox"])
    assert (args.sandbox, args.endpoint, args.campaign, args.on_changed) == (
        True, None, None, "skip")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["send", "x.csv", "--on-changed", "maybe"])


def test_a_sandbox_rehearsal_journal_never_makes_the_real_run_skip_rows(
        work: Path, server: tuple[str, Sandbox]) -> None:
    # the scenario 1, end to end: rehearse with --sandbox, then the cron job with keys
    rehearsal = cron(work, "--sandbox")
    assert rehearsal.returncode == 0, rehearsal.stderr
    url, service = server
    real = cron(work, "--endpoint", url, ALIBABA_CLOUD_ACCESS_KEY_ID=KEY_ID,
                ALIBABA_CLOUD_ACCESS_KEY_SECRET=SECRET)
    assert real.returncode == 5  # the journal's exit code (cams_notebook/cli/exits.py)
    assert "in-process sandbox" in real.stderr and url in real.stderr
    assert "Nothing was sent" in real.stderr and "already in this campaign" not in real.stdout
    assert SECRET not in real.stderr + real.stdout
    assert service.messages() == []
    fresh = cron(work, "--endpoint", url, "--journal", "real.db",
                 ALIBABA_CLOUD_ACCESS_KEY_ID=KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET=SECRET)
    assert fresh.returncode == 0, fresh.stderr
    assert sorted(m["to"] for m in service.messages()) == ["8613900000001", "8613900000002"]


def test_a_csv_whose_numbers_were_saved_as_floats_reaches_the_numbers_the_user_wrote(
        work: Path) -> None:
    # a spreadsheet saved the phone column as floats: "8613900000001.0" is 8613900000001, and
    # a number with a real fraction is refused, never sent to a neighbour's number
    (work / "in.csv").write_text("to,name,order_id\n8613900000001.0,Ada,A-1\n"
                                 "8.613900000002e12,Grace,A-2\n8613900000003.5,Bo,A-3\n")
    run = cron(work, "--sandbox", "--on-invalid", "skip")
    assert run.returncode == 1, run.stderr  # one row invalid
    out = pd.read_csv(work / "out.csv", dtype=str)
    assert out["status"].tolist() == ["sent", "sent", "invalid"]
    assert out["to"].tolist()[:2] == ["8613900000001", "8613900000002"]
    assert "digits" in out["error"].iloc[2]
