"""What stops ``cams-notebook`` is one line on stderr and a documented exit code, never a
Python traceback (issue #15).

The cases the issue saw as tracebacks (a wrong secret, an endpoint with nothing listening, a
journal in a folder that does not exist) run the console script as a real subprocess, as a
scheduled job does, against a loopback sandbox server reached like CAMS; the rest call
``main()`` in this process. ``--debug`` (or ``CAMS_NOTEBOOK_DEBUG=1``) brings the traceback
back, for a bug report.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import cams_notebook.campaigns.frames as frames_module
import cams_notebook.cli.send as send_module
from cams_notebook.campaigns.journal import SqliteJournal
from cams_notebook.cli import main
from cams_notebook.cli.exits import ExitCode
from cams_notebook.sandbox import Sandbox, default_sandbox
from tests.cli.test_send import CAMPAIGN, CLI, KEY_ID, SECRET

FREE_FORM = ["--channel-type", "whatsapp", "--type", "message", "--from", "8613800000000",
             "--message-type", "text", "--content", '{"text": "Your table is ready"}',
             "--no-progress"]


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "in.csv").write_text("to,name,order_id\n"
                                     "8613900000001,Ada,A-1\n8613900000002,Grace,A-2\n")
    return tmp_path


@pytest.fixture
def service() -> Iterator[tuple[str, Sandbox]]:
    """A loopback sandbox server with its own keys: reached as CAMS is."""
    side = Sandbox(access_key_id=KEY_ID, access_key_secret=SECRET, seed=3, receipt_delay=0)
    server = side.serve()
    yield server.url, side
    side.stop()


@pytest.fixture
def dead_endpoint() -> str:
    """A loopback port with nothing listening on it (bound, never listened, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def job(work: Path, *args: str, secret: str = SECRET, **env: str
        ) -> subprocess.CompletedProcess[str]:
    """``cams-notebook ARGS`` as a scheduled job runs it: the console script, a bare
    environment with the keys, in the work folder."""
    bare = {"PATH": os.defpath, "HOME": str(work), "LANG": "C.UTF-8",
            "ALIBABA_CLOUD_ACCESS_KEY_ID": KEY_ID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret,
            **env}
    return subprocess.run([*CLI, *args], cwd=work, env=bare, capture_output=True, text=True,
                          timeout=120, check=False)


def one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def files(work: Path) -> list[str]:
    return sorted(p.name for p in work.iterdir())


# -- the tracebacks, as a real subprocess ------------------------------------------------


def test_a_wrong_secret_is_one_line_naming_the_variable_and_exit_3(
        work: Path, service: tuple[str, Sandbox]) -> None:
    url, side = service
    run = job(work, "send", "in.csv", *CAMPAIGN, "--endpoint", url, "--journal", "send.db",
              secret="not-the-secret")
    assert run.returncode == ExitCode.AUTH == 3
    line = one_line(run.stderr)
    assert line.startswith("cams-notebook send: CAMS refused the request (SignatureDoesNotMatch")
    assert "ALIBABA_CLOUD_ACCESS_KEY_SECRET" in line and line.endswith("nothing was sent")
    assert "not-the-secret" not in run.stdout + run.stderr and SECRET not in run.stderr
    assert side.messages() == []
    fixed = job(work, "send", "in.csv", *CAMPAIGN, "--endpoint", url, "--journal", "send.db")
    assert fixed.returncode == 0, fixed.stderr  # the user fixes the variable and runs again
    assert len(side.messages()) == 2


def test_an_endpoint_with_nothing_listening_is_one_line_and_exit_4(
        work: Path, dead_endpoint: str) -> None:
    run = job(work, "send", "in.csv", *CAMPAIGN, "--endpoint", dead_endpoint)
    assert run.returncode == ExitCode.UNREACHABLE == 4
    line = one_line(run.stderr)
    assert line.startswith(f"cams-notebook send: cannot reach CAMS at {dead_endpoint} (")
    assert "--endpoint" in line and "CAMS_NOTEBOOK_ENDPOINT" in line
    assert line.endswith("nothing was sent")


def test_a_journal_in_a_folder_that_does_not_exist_is_one_line_and_exit_5(work: Path) -> None:
    run = job(work, "send", "in.csv", *CAMPAIGN, "--sandbox", "--journal",
              "/nonexistent/x.db")
    assert run.returncode == ExitCode.JOURNAL == 5
    line = one_line(run.stderr)
    assert line == ("cams-notebook send: --journal '/nonexistent/x.db' cannot be used: "
                    "folder '/nonexistent' does not exist; give a file in a folder that exists "
                    "and is writable; nothing was sent")
    assert files(work) == ["in.csv"]


@pytest.mark.parametrize("how", ["flag", "flag after the command", "variable"])
def test_debug_brings_the_traceback_back_for_a_bug_report(
        work: Path, service: tuple[str, Sandbox], how: str) -> None:
    url, _ = service
    args = ["send", "in.csv", *CAMPAIGN, "--endpoint", url]
    if how == "flag":
        run = job(work, "--debug", *args, secret="wrong")
    elif how == "flag after the command":
        run = job(work, *args, "--debug", secret="wrong")
    else:
        run = job(work, *args, secret="wrong", CAMS_NOTEBOOK_DEBUG="1")
    assert run.returncode == 1  # Python's own code for an uncaught exception
    assert run.stderr.startswith("Traceback (most recent call last):")
    assert "cams_notebook.errors.AuthError: SignatureDoesNotMatch" in run.stderr


# -- the same promises, in this process ----------------------------------------------------------


def send_args(work: Path, *extra: str) -> list[str]:
    return ["send", str(work / "in.csv"), *extra]


def test_a_wrong_secret_during_a_free_form_send_stops_it_with_exit_3(
        work: Path, service: tuple[str, Sandbox], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # no template to fetch first: the first message is refused, and the campaign stops
    url, side = service
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "wrong")
    code = main(send_args(work, *FREE_FORM, "--endpoint", url, "--out", str(work / "out.csv")))
    out, err = capsys.readouterr()
    assert code == ExitCode.AUTH
    assert "Traceback" not in err
    assert err.splitlines()[-1].startswith("cams-notebook send: CAMS refused the request "
                                           "(SignatureDoesNotMatch")
    assert "this run sent nothing" in out and side.messages() == []
    assert (work / "out.csv").exists()  # what the run did is written all the same


def test_a_free_form_send_to_a_dead_endpoint_is_exit_4_and_says_how_to_send_later(
        work: Path, dead_endpoint: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    journal = str(work / "send.db")
    args = send_args(work, *FREE_FORM, "--endpoint", dead_endpoint)
    assert main([*args, "--journal", journal]) == ExitCode.UNREACHABLE
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"cams-notebook send: cannot reach CAMS at {dead_endpoint}: 2 row(s) "
                           "failed without reaching it")
    assert line.endswith(f"nothing was sent, run again with --journal {journal!r} once CAMS "
                         "can be reached: it sends these rows then (they never took effect)")
    # the service comes up at that address: the same journal sends the rows that never took
    # effect (exit 0), and a third run sends nothing again
    side = Sandbox(access_key_id=KEY_ID, access_key_secret=SECRET, seed=4, receipt_delay=0)
    side.serve(port=int(dead_endpoint.rsplit(":", 1)[1]))
    try:
        assert main([*args, "--journal", journal]) == ExitCode.OK
        out, err = capsys.readouterr()
        assert "cannot reach" not in err
        assert sorted(m["to"] for m in side.messages()) == ["8613900000001", "8613900000002"]
        assert main([*args, "--journal", journal]) == ExitCode.OK
        assert "2 row(s) were already in the journal" in capsys.readouterr().out
        assert len(side.messages()) == 2
    finally:
        side.stop()


def test_without_a_journal_a_dead_endpoint_says_to_run_again(
        work: Path, dead_endpoint: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    assert main(send_args(work, *FREE_FORM, "--endpoint", dead_endpoint)) == 4
    assert one_line(capsys.readouterr().err).endswith(
        "nothing was sent, run again once CAMS can be reached")


def test_a_journal_in_use_by_another_run_is_exit_5(
        work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal = work / "send.db"
    holder = SqliteJournal(journal)  # another run holds it
    try:
        code = main(send_args(work, *CAMPAIGN, "--sandbox", "--journal", str(journal)))
    finally:
        holder.close()
    assert code == ExitCode.JOURNAL
    line = one_line(capsys.readouterr().err)
    assert "journal in use by pid" in line and "Nothing was sent" in line
    assert default_sandbox().messages() == []


def test_an_out_file_that_cannot_be_written_is_refused_before_sending(
        work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(send_args(work, *CAMPAIGN, "--sandbox", "--out", str(work / "no" / "out.csv")))
    assert code == ExitCode.USAGE
    line = one_line(capsys.readouterr().err)
    assert line.startswith("cams-notebook send: --out ") and "does not exist" in line
    assert default_sandbox().messages() == []


def test_a_csv_that_cannot_be_read_is_exit_2(
        work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", str(work / "missing.csv"), *CAMPAIGN, "--sandbox"]) == ExitCode.USAGE
    assert "cannot read" in one_line(capsys.readouterr().err)


def test_a_bug_is_one_line_that_says_so_and_exit_70(
        work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the engine fell over")

    monkeypatch.setattr(frames_module, "Campaign", broken)
    assert main(send_args(work, *CAMPAIGN, "--sandbox")) == ExitCode.INTERNAL == 70
    line = one_line(capsys.readouterr().err)
    assert line == ("cams-notebook send: unexpected RuntimeError: the engine fell over (a bug in "
                    "cams-notebook: run again with --debug and report the traceback)")
    with pytest.raises(RuntimeError, match="fell over"):
        main(["--debug", *send_args(work, *CAMPAIGN, "--sandbox")])


def test_ctrl_c_before_the_send_is_one_line_and_exit_130(
        work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(send_module, "_read", interrupted)
    assert main(send_args(work, *CAMPAIGN, "--sandbox")) == ExitCode.INTERRUPTED == 130
    assert one_line(capsys.readouterr().err) == "cams-notebook send: interrupted"


# -- sandbox: the same style ---------------------------------------------------------------------


def test_a_sandbox_port_in_use_is_one_line_with_what_to_do(work: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = job(work, "sandbox", "--port", str(port))
    assert run.returncode == ExitCode.FAILED  # pinned by tests/sandbox/test_server.py too
    assert one_line(run.stderr) == (
        f"cams-notebook sandbox: cannot listen on 127.0.0.1:{port}: address already in use: "
        "another process is listening there; stop it, or pass another --port (0 takes any "
        "free one)")
    assert run.stdout == ""


def test_a_sandbox_address_this_machine_does_not_have_is_one_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): documentation only, never a local address
    assert main(["sandbox", "--host", "192.0.2.1", "--port", "0"]) == ExitCode.FAILED
    line = one_line(capsys.readouterr().err)
    assert line.startswith("cams-notebook sandbox: cannot listen on 192.0.2.1:0: this machine "
                           "has no address 192.0.2.1: pass --host 127.0.0.1")


def test_a_sandbox_fault_profile_it_does_not_know_is_one_line_and_exit_2(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "--faults", "chaos"]) == ExitCode.USAGE
    assert one_line(capsys.readouterr().err) == (
        "cams-notebook sandbox: faults must be one of none, realistic, harsh, not 'chaos'")


def test_listen_advice_names_a_host_that_does_not_resolve() -> None:
    import argparse

    from cams_notebook.cli.sandbox import listen_advice

    error = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    advice = listen_advice(error, argparse.Namespace(host="sandbox.example"))
    assert advice == ("no such host 'sandbox.example': pass --host with an address of this "
                      "machine (127.0.0.1 for this machine only)")


@pytest.mark.parametrize(("flag", "where", "code", "why"), [
    ("--journal", "folder", ExitCode.JOURNAL, "it is a folder, not a file"),
    ("--journal", "damaged", ExitCode.JOURNAL, "file is not a database, or a journal cut short"),
    ("--out", "folder", ExitCode.USAGE, "it is a folder, not a file"),
])
def test_a_path_that_cannot_serve_is_refused_before_sending(
        work: Path, flag: str, where: str, code: ExitCode, why: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = work / "folder"
    path.mkdir()
    if where == "damaged":  # a journal copied while it was being written: cut short
        path = work / "send.db"
        path.write_bytes(b"SQLite format 3\x00" + bytes(1000))
    assert main(send_args(work, *CAMPAIGN, "--sandbox", flag, str(path))) == code
    line = one_line(capsys.readouterr().err)
    assert why in line and line.startswith("cams-notebook send: ")
    assert "othing was sent" in line and default_sandbox().messages() == []


@pytest.mark.parametrize(("code", "advice"), [
    ("SignatureDoesNotMatch", "check ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
    ("InvalidAccessKeyId.NotFound", "check ALIBABA_CLOUD_ACCESS_KEY_ID"),
    ("InvalidTimeStamp.Expired", "this machine's clock is off"),
    ("InvalidSecurityToken.Expired", "refresh ALIBABA_CLOUD_SECURITY_TOKEN"),
    ("Ram.PermissionDeny", "the RAM user lacks permission for CAMS"),
    ("Forbidden.RAM", "the RAM user lacks permission for CAMS"),
    ("Product.Unsubscript", "subscribe this account to CAMS"),
])
def test_each_refusal_says_what_to_do(code: str, advice: str) -> None:
    from cams_notebook.cli.failures import describe
    from cams_notebook.errors import classify_api_error

    error = classify_api_error(code, 403, None)("refused", code=code, request_id="R-1")
    failure = describe(error, sent=0)
    assert failure.code == ExitCode.AUTH
    assert failure.line.startswith(f"CAMS refused the request ({code}: refused; RequestId R-1): ")
    assert advice in failure.line and failure.line.endswith("nothing was sent")
    assert describe(error, sent=3).line.endswith(
        "3 row(s) were sent before it stopped; the journal keeps them from being sent twice")


def test_an_os_error_on_the_journal_s_lock_is_a_journal_line() -> None:
    from cams_notebook.cli.failures import describe

    error = PermissionError(13, "Permission denied", "/srv/jobs/send.db.lock")
    failure = describe(error, journal="/srv/jobs/send.db")
    assert failure.code == ExitCode.JOURNAL
    assert failure.line.startswith("--journal '/srv/jobs/send.db' cannot be used: ")
