"""Smoke test of the e2e machinery: JupyterLab + ipywidgets rendering + kernel round trip."""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import nbformat
import pytest

from .conftest import OUTPUT_DIR, JupyterLab
from .lab import open_notebook, run_all_cells, wait_for_text

pytestmark = pytest.mark.e2e

GREETER = """\
import ipywidgets as widgets

name = widgets.Text(description="Name")
greet = widgets.Button(description="Greet")
greeting = widgets.HTML()

def on_greet(_button):
    greeting.value = f"Hello, {name.value}"

greet.on_click(on_greet)
widgets.VBox([name, greet, greeting])
"""


def write_notebook(path: Any, *sources: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    nbformat.write(nb, str(path))


def test_widgets_round_trip(lab: JupyterLab, browser_page: Any) -> None:
    page = browser_page
    write_notebook(lab.root / "smoke.ipynb", GREETER)

    panel = open_notebook(page, lab, "smoke.ipynb")
    run_all_cells(page)

    output = panel.locator(".jp-OutputArea-output").first
    text_input = output.locator(".widget-text input")
    text_input.wait_for(state="visible", timeout=30_000)  # the widget view rendered
    text_input.fill("Ada")
    output.get_by_role("button", name="Greet").click()

    wait_for_text(page, "Hello, Ada", timeout=30_000)

    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT_DIR / "lab_smoke.png"))


# -- scripts/lab, as a newcomer runs it ----------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
LAB_SCRIPT = REPO / "scripts" / "lab"
STARTUP_LIMIT = 120.0  # seconds before giving up on a server that never says where it is


def _load_launcher() -> Any:
    spec = importlib.util.spec_from_file_location("cams_lab_launcher", REPO / "scripts" / "_lab.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lab_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ALIBABA_CLOUD_", "JUPYTER"))}
    for name in ("config", "data", "runtime"):
        (tmp_path / name).mkdir()
        env[f"JUPYTER_{name.upper()}_DIR"] = str(tmp_path / name)
    env["CAMS_NOTEBOOK_LAB_DIR"] = str(tmp_path / "copies")
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _lines_until_url(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + STARTUP_LIMIT
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1.0)
        except queue.Empty:
            continue
        if line is None:
            pytest.fail(f"scripts/lab ended (status {process.wait()}) before giving a URL:\n"
                        + "".join(seen))
        seen.append(line)
        if "JupyterLab is running; open http" in line:
            return seen
    pytest.fail("scripts/lab gave no URL:\n" + "".join(seen))


def test_scripts_lab_opens_the_first_notebook_from_a_clean_copy(tmp_path: Path) -> None:
    ready = subprocess.run([str(REPO / ".venv" / "bin" / "python"), "scripts/_lab.py",
                            "--installed"], cwd=REPO, check=False)
    assert ready.returncode == 0, "run scripts/install test first: .venv is out of date"
    port = _free_port()
    server_log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [str(LAB_SCRIPT), "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1"],
        cwd=tmp_path, env=_lab_env(tmp_path), stdout=subprocess.PIPE, stderr=server_log,
        text=True, start_new_session=True)
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        output = _lines_until_url(process, lines)
        text = "".join(output)
        assert output[0].startswith("lab: .venv is up to date")  # nothing installed twice
        assert "copied the notebooks to" in text
        assert "local CAMS sandbox (Client.sandbox()): nothing leaves this machine" in text
        assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in text  # how to reach the real service
        if os.geteuid() == 0:  # as in most containers: Jupyter alone would refuse to start
            assert "running as root" in text
        url = output[-1].split("open ", 1)[1].strip()
        assert url.startswith(f"http://127.0.0.1:{port}/lab/tree/00_sandbox_tour.ipynb?token=")
        with urllib.request.urlopen(url, timeout=30) as page:  # the URL it printed works
            assert page.status == 200
            assert b"JupyterLab" in page.read()
        token = url.split("token=", 1)[1]
        listing = f"http://127.0.0.1:{port}/api/contents?token={token}"
        with urllib.request.urlopen(listing, timeout=30) as answer:
            names = {item["name"] for item in json.load(answer)["content"]}
        assert {"00_sandbox_tour.ipynb", "04_delivery_receipts.ipynb", "data"} <= names
        copies = tmp_path / "copies"  # the server serves the copies, not notebooks/ itself
        assert (copies / "00_sandbox_tour.ipynb").read_bytes() == \
            (REPO / "notebooks" / "00_sandbox_tour.ipynb").read_bytes()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
        reader.join(timeout=60)
        assert process.stdout is not None
        process.stdout.close()
        server_log.close()
    with socket.socket() as s:  # the server went with it
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_the_copies_are_kept_and_upstream_changes_are_named(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    launcher = _load_launcher()
    source, copies = tmp_path / "notebooks", tmp_path / "copies"
    (source / "data").mkdir(parents=True)
    (source / "00_tour.ipynb").write_text("first")
    (source / "data" / "recipients.csv").write_text("to\n1\n")
    launcher.working_copy(copies, source)
    assert (copies / "data" / "recipients.csv").read_text() == "to\n1\n"

    (copies / "00_tour.ipynb").write_text("first, with my outputs")  # the user ran it
    (source / "00_tour.ipynb").write_text("second")  # and then pulled a newer version
    (source / "01_next.ipynb").write_text("new")
    launcher.working_copy(copies, source)
    out = capsys.readouterr().out
    assert (copies / "00_tour.ipynb").read_text() == "first, with my outputs"
    assert (copies / "01_next.ipynb").read_text() == "new"
    assert "new since last time: 01_next.ipynb" in out
    assert "notebooks/00_tour.ipynb changed since your copy was made; yours is kept" in out


def test_the_default_copies_are_ignored_by_git() -> None:
    ignored = subprocess.run(["git", "check-ignore", "-q", "my-notebooks/00_sandbox_tour.ipynb"],
                             cwd=REPO, check=False)
    assert ignored.returncode == 0


def test_a_notebook_in_lab_shows_notices_quietly_and_tables_whole(lab: JupyterLab,
                                                                   browser_page: Any) -> None:
    """02 in JupyterLab: the sandbox notice and the campaign's plan line are grey lines, not
    red stderr boxes; the dry run and the rows not sent are HTML tables with nothing cut."""
    page = browser_page
    panel = open_notebook(page, lab, "02_campaign_from_a_dataframe.ipynb")
    run_all_cells(page, timeout=240_000)

    stderr = panel.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    assert stderr.count() == 0
    notices = panel.locator(".cams-notice")
    assert "nothing leaves this machine" in notices.nth(0).inner_text()
    assert re.search(r"campaign '\w+': 298 rows, 294 valid", notices.nth(1).inner_text())
    tables = panel.locator("table.cams-table")
    assert tables.count() >= 2
    dry_run = tables.nth(0).inner_text()
    assert "InvalidParameter.TemplateParamsNull" in dry_run  # one word, not cut or wrapped
    outputs = panel.locator(".jp-OutputArea-output").all_inner_texts()
    assert not any("NaN" in text for text in outputs)
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    tables.nth(0).evaluate("el => el.scrollIntoView({block: 'center'})")  # the dry run
    page.screenshot(path=str(OUTPUT_DIR / "notebook_02_dry_run.png"))
