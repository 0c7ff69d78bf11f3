"""``cams-notebook app`` as its users run it: a command in a terminal, a page in Chromium.

The sandbox run: the command on a CSV of a few recipients; the page shows no code; From is
set in the panel, the dry run counts the broken row, Send reports what was sent; Ctrl-C stops
it; started again on the same CSV, the same campaign sends nothing twice (the journal next to
the CSV). Saves ``docs/app.png``.

The account run: fake credentials in the environment (a loopback sandbox server that accepts
them, so nothing leaves this machine): the page's HTML, the rendered page and the command's
log never show the secret or the STS token; and the kernel refuses code sent over the page's
own websocket (Voilà passes widget messages only).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cams_notebook.sandbox import Sandbox

from .conftest import REPO_ROOT, _free_port, _server_env

pytestmark = pytest.mark.e2e

WAIT = 120_000  # ms: the first page load starts a kernel and builds the panel
START = 120.0  # s: the command starts its server
_SCRIPT = Path(sys.executable).with_name("cams-notebook")
CLI = ([str(_SCRIPT)] if _SCRIPT.exists() else
       [sys.executable, "-c", "import sys; from cams_notebook.cli import main; sys.exit(main())"])
KEY_ID = "LTAI5tAppPageKey0001"
SECRET = "app-secret-never-shown-7c2d"
STS_TOKEN = "CAISapp-sts-token-never-shown-91f0"


@dataclass
class App:
    """A running ``cams-notebook app``: its URL and its terminal (stdout and stderr)."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def ctrl_c(self) -> int:
        """Ctrl-C in its terminal (SIGINT to its process group); its exit status."""
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=60)


def start_app(work: Path, *args: str, env: dict[str, str], name: str) -> App:
    """``cams-notebook app ARGS --port FREE`` in ``work``; returns once it says it serves."""
    port = _free_port()
    log = work / f"{name}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([*CLI, "app", *args, "--port", str(port)], cwd=work, env=env,
                                   stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    app = App(f"http://127.0.0.1:{port}/", process, log)
    deadline = time.monotonic() + START
    while "serving http" not in app.output():
        if process.poll() is not None or time.monotonic() > deadline:
            stop(app)
            raise AssertionError(f"the app did not start:\n{app.output()}")
        time.sleep(0.2)
    return app


def stop(app: App) -> None:
    if app.process.poll() is None:
        app.process.terminate()
        try:
            app.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(app.process.pid, signal.SIGKILL)
            app.process.wait()


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A folder with the first five recipients of the notebooks' CSV and one without a number."""
    lines = (REPO_ROOT / "notebooks" / "data" / "recipients.csv").read_text().splitlines()
    (tmp_path / "spring.csv").write_text("\n".join([*lines[:6], ",Nobody,A-1,new"]) + "\n")
    return tmp_path


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The terminal's environment with no credential and private Jupyter folders."""
    jupyter = tmp_path / "jupyter-home"
    for d in ("config", "data", "runtime", "ipython"):
        (jupyter / d).mkdir(parents=True)
    return _server_env(jupyter)


@pytest.fixture
def apps() -> Iterator[list[App]]:
    started: list[App] = []
    yield started
    for app in started:
        stop(app)
        print(f"--- {app.log.name}\n{app.output()}")  # shown when the test fails


def review_from_the_panel(page: Any, app: App) -> Any:
    """Open the page, give From (no column has it), check the dry run, click Review and
    send…; the panel's locator."""
    from playwright.sync_api import expect

    page.goto(app.url, wait_until="domcontentloaded")
    panel = page.locator(".cams-campaign")
    panel.wait_for(state="visible", timeout=WAIT)
    sender = panel.locator(".cams-map-from_")
    sender.locator("select").select_option(label="constant")
    sender.locator("input").fill("8613800000000")
    sender.locator("input").press("Enter")  # constants sync on Enter or leaving the field
    expect(panel.locator(".cams-dry-run-view")).to_contain_text(
        "5 of 6 rows ready to send, 1 row with errors (skipped)", timeout=WAIT)
    panel.locator(".cams-review").click()
    expect(panel.locator(".cams-confirm-view")).to_be_visible(timeout=WAIT)
    return panel


def test_the_app_sends_in_the_sandbox_and_never_twice_after_a_restart(
        work: Path, env: dict[str, str], apps: list[App], browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    app = start_app(work, "spring.csv", "--sandbox", env=env, name="first")
    apps.append(app)
    said = app.output()
    assert "sending with the local sandbox" in said
    assert f"journal {work / 'spring.sandbox.journal.sqlite'}" in said
    assert f"serving {app.url} (Ctrl-C to stop)" in said

    panel = review_from_the_panel(page, app)
    expect(panel.locator(".cams-confirm-view")).to_contain_text("Send 5 messages")
    panel.locator(".cams-send").click()
    outcome = panel.locator(".cams-outcome-view")
    expect(outcome).to_contain_text("Done: 6 rows:", timeout=WAIT)
    expect(outcome).to_contain_text("5 sent")
    expect(outcome).to_contain_text("1 invalid")
    # the page is the widgets only: no code cell, no editor, no source in the HTML
    assert page.locator(".jp-InputArea, .jp-CodeMirrorEditor, .cm-editor").count() == 0
    assert "show_app" not in page.content()
    header = page.locator(".cams-app-header")
    expect(header).to_contain_text("nothing leaves this machine")
    expect(header).to_contain_text("Journal spring.sandbox.journal.sqlite")  # as run, in work
    expect(page.locator(".cams-app-recipients")).to_contain_text("spring.csv (6 rows)")
    expect(panel.locator(".cams-rows-view")).to_contain_text(
        "Hi Nia, your order A-10282 is on its way!")
    # the page scrolls inside Voila's own container: a window as tall as the page shows it all
    height = page.locator(".cams-app").evaluate("el => el.scrollHeight")
    page.set_viewport_size({"width": 1400, "height": int(height) + 40})
    page.locator(".cams-app").evaluate("el => el.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(REPO_ROOT / "docs" / "app.png"), animations="disabled")
    page.set_viewport_size({"width": 1400, "height": 900})

    assert app.ctrl_c() == 0
    assert "stopping" in app.output()
    assert (work / "spring.sandbox.journal.sqlite").is_file()

    # the next morning: the same command, the same campaign; the journal remembers every row
    again = start_app(work, "spring.csv", "--sandbox", env=env, name="second")
    apps.append(again)
    panel = review_from_the_panel(page, again)
    send = panel.locator(".cams-send")
    expect(send).to_have_text(re.compile("Nothing to send"))
    expect(send).to_be_disabled()
    assert again.ctrl_c() == 0
    assert "Traceback" not in app.output() + again.output()


@pytest.fixture
def account() -> Iterator[str]:
    """A loopback sandbox server that accepts the fake key pair: the "real service" here."""
    side = Sandbox(access_key_id=KEY_ID, access_key_secret=SECRET, seed=3, receipt_delay=0)
    server = side.serve()
    yield server.url
    side.stop()


def test_the_page_shows_no_secret_and_runs_no_code_sent_to_it(
        work: Path, env: dict[str, str], apps: list[App], account: str,
        browser_page: Any) -> None:
    from playwright.sync_api import expect
    from websockets.sync.client import connect

    env = {**env, "ALIBABA_CLOUD_ACCESS_KEY_ID": KEY_ID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
           "ALIBABA_CLOUD_SECURITY_TOKEN": STS_TOKEN, "CAMS_NOTEBOOK_ENDPOINT": account}
    app = start_app(work, "spring.csv", env=env, name="account")
    apps.append(app)
    assert f"sending with account LTAI****0001 at {account}" in app.output()
    assert f"journal {work / 'spring.journal.sqlite'}" in app.output()

    with urllib.request.urlopen(app.url, timeout=WAIT / 1000) as answer:  # runs the page
        source = answer.read().decode()
    assert "jp-mod-noInput" in source and "show_app" not in source
    assert "cams-app-error" not in source
    for secret in (SECRET, STS_TOKEN, KEY_ID):
        assert secret not in source

    # code sent over the page's own kernel websocket is dropped by the server: the kernel
    # answers the kernel_info_request sent after it, and nothing about the execute_request
    kernel_id = re.search(r'"kernelId": "([0-9a-f-]+)"', source)
    assert kernel_id is not None
    marker = work / "ran.txt"
    execute = _message("execute_request", {
        "code": f"open({str(marker)!r}, 'w').write('ran')", "silent": False,
        "store_history": False, "user_expressions": {}, "allow_stdin": False,
        "stop_on_error": True})
    info = _message("kernel_info_request", {})
    ws_url = app.url.replace("http://", "ws://") + f"api/kernels/{kernel_id[1]}/channels"
    with connect(ws_url, open_timeout=30) as ws:
        ws.send(json.dumps(execute))
        ws.send(json.dumps(info))
        answers = []
        while not any(a["msg_type"] == "kernel_info_reply" for a in answers):
            reply = json.loads(ws.recv(timeout=60))
            answers.append({"msg_type": reply["msg_type"],
                            "parent": reply.get("parent_header", {}).get("msg_id")})
    assert not [a for a in answers if a["parent"] == execute["header"]["msg_id"]]
    assert not marker.exists()
    assert 'Received message of type "execute_request", which is not allowed' in app.output()

    # the page a person sees: the masked key id, templates from the account, no secret
    page = browser_page
    page.goto(app.url, wait_until="domcontentloaded")
    page.locator(".cams-campaign").wait_for(state="visible", timeout=WAIT)
    expect(page.locator(".cams-app-header")).to_contain_text("Account LTAI****0001")
    expect(page.locator(".cams-campaign .cams-rows-view")).to_contain_text(
        "Hi Nia, your order A-10282 is on its way!", timeout=WAIT)
    rendered = page.content()
    assert app.ctrl_c() == 0
    for secret in (SECRET, STS_TOKEN):
        assert secret not in rendered
        assert secret not in app.output()


def _message(msg_type: str, content: dict[str, Any]) -> dict[str, Any]:
    """A Jupyter message on the shell channel, in the websocket's JSON form."""
    msg_id = uuid.uuid4().hex
    return {"header": {"msg_id": msg_id, "msg_type": msg_type, "username": "e2e",
                       "session": uuid.uuid4().hex, "date": "2026-01-01T00:00:00Z",
                       "version": "5.3"},
            "parent_header": {}, "metadata": {}, "content": content, "channel": "shell",
            "buffers": []}
