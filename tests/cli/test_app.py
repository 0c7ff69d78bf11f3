"""``cams-notebook app``: what it refuses before serving, and the page it writes and builds.

Each refusal is what a person sees in the terminal: exit 2 and one line on stderr that names
the file, flag or variable and the problem, with nothing written (no journal, no page). The
page is built here as its kernel builds it (the widgets need no browser); the server and the
browser are in ``tests/e2e/test_app_browser.py``.
"""

from __future__ import annotations

import ast
import io
import json
import socket
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from cams_notebook.cli import main
from cams_notebook.cli.app import (
    default_journal,
    is_loopback,
    read_recipients,
    voila_command,
    write_page,
)
from cams_notebook.cli.app_page import build_app, show_app
from cams_notebook.sandbox import Sandbox, default_sandbox

KEY_ID = "LTAI5tAppUnitKey0001"
SECRET = "app-unit-secret-never-shown-2a9e"
CREDENTIALS = ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
               "ALIBABA_CLOUD_SECURITY_TOKEN", "CAMS_NOTEBOOK_ENDPOINT")
ROWS = "to,name,order_id\n8613900000001,Ada,A-1\n8613900000002,Grace,A-2\n"


@pytest.fixture(autouse=True)
def bare_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No credential in the environment; the current directory is the test's own."""
    for name in CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.csv").write_text(ROWS)
    return tmp_path


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run ``cams-notebook app ARGV``; assert exit 2 with one line on stderr; that line."""
    assert main(["app", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("cams-notebook app: ")
    return lines[0]


def test_without_credentials_it_refuses_in_one_line_and_writes_nothing(
        capsys: pytest.CaptureFixture[str], bare_env: Path) -> None:
    line = refused(capsys, "in.csv")
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in line and "--sandbox" in line
    assert sorted(p.name for p in bare_env.iterdir()) == ["in.csv"]


def test_sandbox_with_an_endpoint_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert "--sandbox and --endpoint conflict" in refused(
        capsys, "in.csv", "--sandbox", "--endpoint", "http://127.0.0.1:9")


@pytest.mark.parametrize(("content", "problem"), [
    (None, "no such file"),
    (b"", "the file is empty (no header row)"),
    (b"to,name,order_id\n", "no recipients: a header (to, name, order_id) and no rows"),
    (b"to,name\n8613900000001,Ada\n8613900000002,Grace,extra\n",
     "Expected 2 fields in line 3, saw 3"),
    (b"to,name\n8613900000001,\xff\xfeAda\n", "not UTF-8 text"),
    (b"to,,name\n8613900000001,x,Ada\n", "column 2 of the header has no name"),
], ids=["missing", "empty", "header-only", "ragged", "not-utf8", "unnamed-column"])
def test_a_bad_csv_is_one_line_naming_the_file_and_the_problem(
        capsys: pytest.CaptureFixture[str], bare_env: Path, content: bytes | None,
        problem: str) -> None:
    if content is not None:
        (bare_env / "bad.csv").write_bytes(content)
    line = refused(capsys, "bad.csv", "--sandbox")
    assert line.startswith("cams-notebook app: cannot read 'bad.csv': ")
    assert problem in line
    assert not list(bare_env.glob("*.sqlite"))


def test_a_directory_is_not_a_csv(capsys: pytest.CaptureFixture[str], bare_env: Path) -> None:
    (bare_env / "folder.csv").mkdir()
    assert "is a directory" in refused(capsys, "folder.csv", "--sandbox")


def test_a_journal_that_cannot_be_written_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(capsys, "in.csv", "--sandbox", "--journal", "no/such/folder/j.sqlite")
    assert "no/such/folder/j.sqlite" in line and "pass --journal PATH" in line


def test_a_missing_receipt_store_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(capsys, "in.csv", "--sandbox", "--receipts", "receipts.db")
    assert "--receipts 'receipts.db': no such receipt store" in line


def test_a_port_in_use_is_refused_before_the_server_starts(
        capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = refused(capsys, "in.csv", "--sandbox", "--port", str(port))
    assert f"cannot listen on 127.0.0.1:{port}" in line and "pass --port" in line


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--port", "0", "port must be in 1..65535, got 0"),
    ("--port", "web", "port must be an integer, got 'web'"),
    ("--qps", "0", "qps must be greater than 0, got 0"),
])
def test_bad_flags_are_usage_errors(capsys: pytest.CaptureFixture[str], flag: str, value: str,
                                    message: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["app", "in.csv", "--sandbox", flag, value])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_the_journal_lives_next_to_the_csv_and_the_sandbox_has_its_own(bare_env: Path) -> None:
    assert default_journal("in.csv", sandbox=False) == bare_env / "in.journal.sqlite"
    assert default_journal("in.csv", sandbox=True) == bare_env / "in.sandbox.journal.sqlite"
    assert default_journal(None, sandbox=False) == bare_env / "cams-notebook-app.journal.sqlite"


def test_only_loopback_addresses_go_without_a_token() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "192.168.1.5", "example.com"]))


def test_the_server_keeps_sources_out_and_binds_what_was_asked(tmp_path: Path) -> None:
    command = voila_command(tmp_path / "page.ipynb", "127.0.0.1", 8866)
    assert command[:3] == [sys.executable, "-m", "voila"]
    for setting in ("--Voila.ip=127.0.0.1", "--Voila.port=8866", "--Voila.port_retries=0",
                    "--VoilaConfiguration.strip_sources=True",
                    "--VoilaConfiguration.show_tracebacks=False"):
        assert setting in command


def test_the_page_is_one_generated_cell_with_no_credential(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    settings = {"csv": str(tmp_path / "in.csv"), "journal": str(tmp_path / "j.sqlite"),
                "sandbox": False, "endpoint": None, "qps": 250, "receipts": None}
    notebook = json.loads(write_page(tmp_path, settings).read_text())
    (cell,) = notebook["cells"]
    call = ast.parse(cell["source"]).body[-1]
    assert isinstance(call, ast.Expr) and isinstance(call.value, ast.Call)
    assert ast.literal_eval(call.value.args[0]) == settings
    spec = json.loads((tmp_path / "jupyter" / "kernels" / notebook["metadata"]["kernelspec"]
                       ["name"] / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable  # the kernel imports this very package
    written = "".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    assert KEY_ID not in written and SECRET not in written


def sandbox_settings(tmp_path: Path, csv: str | None) -> dict[str, Any]:
    return {"csv": csv, "journal": str(tmp_path / "page.journal.sqlite"), "sandbox": True,
            "endpoint": None, "qps": 250, "receipts": None}


def test_the_page_sends_through_its_journal_and_a_second_page_sends_nothing_again(
        bare_env: Path) -> None:
    settings = sandbox_settings(bare_env, str(bare_env / "in.csv"))
    page = build_app(settings)
    assert "nothing leaves this machine" in page.widget.children[0].value
    assert page.widget.children[1].titles == ("Campaign", "One message")
    assert page.panel is not None and len(page.panel.frame) == 2
    first = page.panel.set(from_="8613800000000").send()
    assert first["status"].tolist() == ["sent", "sent"]
    messages = len(default_sandbox().messages())

    again = build_app(settings)  # the app run again: a new kernel, the same journal
    assert again.panel is not None
    second = again.panel.set(from_="8613800000000").send()
    assert second["message_id"].tolist() == first["message_id"].tolist()  # the journal's
    assert len(default_sandbox().messages()) == messages  # nothing went out again


def upload(page_widget: Any, name: str, content: bytes) -> None:
    tab = page_widget.children[1].children[0]
    (chooser,) = [w for w in tab.children if "cams-app-upload" in w._dom_classes]
    chooser.value = ({"name": name, "type": "text/csv", "size": len(content),
                      "content": memoryview(content),
                      "last_modified": datetime.now(timezone.utc)},)


def test_without_a_csv_the_page_takes_one_by_upload(bare_env: Path) -> None:
    page = build_app(sandbox_settings(bare_env, None))
    assert page.panel is None
    upload(page.widget, "broken.csv", b"")
    assert page.panel is None
    note = page.widget.children[1].children[0].children[1].value
    assert "Cannot read broken.csv: the file is empty" in note

    upload(page.widget, "spring.csv", ROWS.encode())
    assert page.panel is not None and len(page.panel.frame) == 2
    assert "Recipients: <b>spring.csv</b> (2 rows)" in (
        page.widget.children[1].children[0].children[0].value)


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Fake credentials in the environment and a loopback sandbox server that accepts them."""
    side = Sandbox(access_key_id=KEY_ID, access_key_secret=SECRET, seed=2, receipt_delay=0)
    server = side.serve()
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    yield server.url
    side.stop()


def test_an_account_page_shows_the_masked_key_and_holds_no_secret(
        bare_env: Path, account: str) -> None:
    from ipywidgets.embed import embed_data

    settings = {**sandbox_settings(bare_env, str(bare_env / "in.csv")), "sandbox": False,
                "endpoint": account}
    page = build_app(settings)
    header = page.widget.children[0].value
    assert "Account LTAI****0001" in header and account in header
    state = json.dumps(embed_data(views=[page.widget])["manager_state"])
    assert SECRET not in state and KEY_ID not in state
    page.client.close()


def test_a_page_that_cannot_start_says_why_instead_of_a_traceback(
        bare_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython.display

    shown: list[Any] = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **_kw: shown.extend(objs))
    show_app({**sandbox_settings(bare_env, None), "sandbox": False})  # and no credentials
    (error,) = shown
    assert "The page could not start: MissingCredentialsError" in error.data
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in error.data


def test_read_recipients_keeps_numbers_as_written() -> None:
    frame = read_recipients(io.BytesIO(b"to,code\n+8613900000001,007\n"))
    assert frame.loc[0].tolist() == ["+8613900000001", "007"]
