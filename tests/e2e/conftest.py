"""Fixtures for end-to-end tests that drive JupyterLab in a real (headless) Chromium.

* ``jupyter_lab`` (session): a private JupyterLab server on 127.0.0.1, serving a temporary
  copy of the repo's ``notebooks/`` folder, with no token/password and no user config.
* ``browser_page`` (function): a Playwright (sync API) page in Debian's ``chromium``.
  Skipped when chromium is missing locally; a hard failure on CI (``CI`` env var set).
  Install the browser with ``scripts/install-browser``.

Helpers to drive the notebook UI live in ``tests/e2e/lab.py``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

REPO_ROOT = Path(__file__).resolve().parents[2]
OUTPUT_DIR = REPO_ROOT / "test-output" / "e2e"  # git-ignored

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT: ViewportSize = {"width": 1400, "height": 900}

SERVER_START_TIMEOUT = 90.0  # seconds
# Environment variables that must never reach the Jupyter server / kernels.
_SECRET_ENV_PREFIXES = ("ALIBABA_CLOUD_", "ALICLOUD_", "ALIYUN_")
# Variables that would make Jupyter pick up the developer's own config/paths.
_JUPYTER_ENV_TO_DROP = ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "JUPYTER_TOKEN", "JUPYTER_PORT")

# Lab settings that make the UI deterministic for tests (written as *user* settings into the
# temporary JUPYTER_CONFIG_DIR, so the developer's own settings are never used or modified).
_LAB_USER_SETTINGS: dict[str, dict[str, Any]] = {
    # No "Would you like to receive Jupyter news?" toast, no update check (no network).
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker": {
        # Attach every cell to the DOM (no virtualisation) so selectors see all cells.
        "windowingMode": "none",
        # Notebooks without kernelspec metadata start the default kernel, no dialog.
        "autoStartDefaultKernel": True,
    },
}


# --------------------------------------------------------------------------------------
# JupyterLab server
# --------------------------------------------------------------------------------------


@dataclass
class JupyterLab:
    """A running JupyterLab server (what the ``jupyter_lab`` fixture yields)."""

    url: str  # base URL, e.g. "http://127.0.0.1:41234" (no trailing slash)
    root: Path  # the server's root_dir: a temporary copy of the notebooks folder
    log_path: Path  # combined stdout/stderr of the server (and its kernels)
    process: subprocess.Popen[bytes] = field(repr=False)

    def api(self, path: str, method: str = "GET", timeout: float = 10.0) -> Any:
        """Call the Jupyter REST API (``path`` like "/api/sessions"); returns parsed JSON."""
        req = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def sessions(self) -> list[dict[str, Any]]:
        return list(self.api("/api/sessions"))

    def shutdown_kernels(self) -> None:
        """Shut down every kernel (and session) of this server, e.g. between tests."""
        try:
            for session in self.sessions():
                self.api(f"/api/sessions/{session['id']}", method="DELETE", timeout=30)
            for kernel in self.api("/api/kernels"):
                self.api(f"/api/kernels/{kernel['id']}", method="DELETE", timeout=30)
        except (urllib.error.URLError, OSError):
            pass  # the server is gone or going; nothing left to shut down

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "<no server log>"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_env(tmp: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_SECRET_ENV_PREFIXES) and k not in _JUPYTER_ENV_TO_DROP
    }
    # Only the *user-level* dirs are redirected; sys.prefix paths (the venv's
    # share/jupyter with the python3 kernelspec and the jupyterlab-widgets labextension,
    # and etc/jupyter enabling the server extensions) are still searched.
    env["JUPYTER_CONFIG_DIR"] = str(tmp / "config")
    env["JUPYTER_DATA_DIR"] = str(tmp / "data")
    env["JUPYTER_RUNTIME_DIR"] = str(tmp / "runtime")
    env["IPYTHONDIR"] = str(tmp / "ipython")  # no user IPython profile/startup files
    env["JUPYTER_PREFER_ENV_PATH"] = "1"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # silence debugpy's frozen-modules warning
    env["PYTHONUNBUFFERED"] = "1"
    # Kernels import the package from this working tree (it need not be pip-installed).
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    return env


def _write_lab_settings(config_dir: Path) -> None:
    for plugin, settings in _LAB_USER_SETTINGS.items():
        path = config_dir / "lab" / "user-settings" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings, indent=2))


def _stop_process_group(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM the server (it then shuts its kernels down), SIGKILL what is left."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    # The server runs in its own session/process group (start_new_session=True); reap any
    # kernel it left behind. Only this group, which we created, is signalled.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _start_server(tmp: Path, root: Path) -> JupyterLab:
    env = _server_env(tmp)
    for d in ("config", "data", "runtime", "ipython"):
        (tmp / d).mkdir(parents=True, exist_ok=True)
    _write_lab_settings(tmp / "config")

    last_error = ""
    for attempt in range(3):  # retry if the free port got taken between probe and bind
        port = _free_port()
        log_path = tmp / f"jupyter-lab-{attempt}.log"
        cmd = [
            sys.executable, "-m", "jupyter", "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            "--IdentityProvider.token=",
            "--PasswordIdentityProvider.hashed_password=",
            "--ServerApp.disable_check_xsrf=True",
            "--ServerApp.allow_root=True",  # CI runs as root
            f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]  # fmt: skip
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                cmd,
                cwd=root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        lab = JupyterLab(url=f"http://127.0.0.1:{port}", root=root, log_path=log_path, process=proc)
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                lab.api("/api/status", timeout=2)
                return lab
            except (urllib.error.URLError, OSError, ValueError):
                time.sleep(0.2)
        last_error = lab.log_tail()
        _stop_process_group(proc)
        if not re.search(r"address already in use|Errno 98", last_error, re.IGNORECASE):
            break
    raise RuntimeError(f"JupyterLab did not start; server log:\n{last_error}")


@pytest.fixture(scope="session")
def jupyter_lab_notebooks_dir() -> Path:
    """Folder whose copy the server serves. Override this fixture to serve another one."""
    return REPO_ROOT / "notebooks"


@pytest.fixture(scope="session")
def jupyter_lab(jupyter_lab_notebooks_dir: Path) -> Iterator[JupyterLab]:
    """A JupyterLab server for the whole session, serving a *copy* of the notebooks folder.

    Tests may freely write/modify files under ``jupyter_lab.root``; the repo is untouched.
    """
    tmp = Path(tempfile.mkdtemp(prefix="cams-e2e-lab-"))
    root = tmp / "root"
    if jupyter_lab_notebooks_dir.is_dir():
        shutil.copytree(
            jupyter_lab_notebooks_dir,
            root,
            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
        )
    else:  # e.g. an empty notebooks/ is not in a fresh git clone
        root.mkdir(parents=True)
    lab = _start_server(tmp, root)
    try:
        yield lab
    finally:
        lab.shutdown_kernels()
        _stop_process_group(lab.process)
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------
# Browser
# --------------------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    # Screenshot right when the test body fails, before any fixture teardown (e.g. kernel
    # shutdown) changes what the page shows.
    if report.when == "call" and report.failed:
        funcargs = getattr(item, "funcargs", {})
        page = funcargs.get("browser_page")
        if page is not None:
            shot = _failure_screenshot(page, item.name)
            report.sections.append(("e2e failure screenshot", shot))
        server = funcargs.get("lab") or funcargs.get("jupyter_lab")
        if isinstance(server, JupyterLab):
            report.sections.append(("JupyterLab server log (tail)", server.log_tail()))
    return report


def _chromium_or_skip() -> str:
    """Path of the chromium binary; skip the test if unavailable, but fail on CI."""
    path = shutil.which("chromium")
    missing = []
    if not path:
        missing.append("chromium is not installed (run scripts/install-browser)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package is not installed (pip install -e '.[test]')")
    if not missing:
        return str(path)
    msg = "; ".join(missing)
    if os.environ.get("CI"):
        pytest.fail(f"{msg} -- the e2e tests must run on CI", pytrace=False)
    pytest.skip(msg)


def pytest_runtest_setup(item: pytest.Item) -> None:
    # Decide skip/fail before any fixture is set up (no point starting JupyterLab first).
    if "browser_page" in getattr(item, "fixturenames", ()):
        _chromium_or_skip()


@pytest.fixture
def browser_page() -> Iterator[Any]:
    """A fresh Playwright page (1400x900) in headless Debian chromium.

    On test failure a screenshot is saved to ``test-output/e2e/<test-name>-failure.png``.
    """
    executable = _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    user_data_dir = tempfile.mkdtemp(prefix="cams-e2e-chromium-")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            user_data_dir,
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(30_000)
            yield page
        finally:
            context.close()
            shutil.rmtree(user_data_dir, ignore_errors=True)


def _failure_screenshot(page: Any, test_name: str) -> str:
    """Save a full-page screenshot; returns its path or why it could not be taken."""
    from playwright.sync_api import Error as PlaywrightError

    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name).strip("_")
    path = OUTPUT_DIR / f"{safe}-failure.png"
    try:
        page.screenshot(path=str(path), full_page=True, timeout=10_000)
    except (PlaywrightError, OSError) as exc:  # never mask the real failure
        return f"could not save screenshot: {exc}"
    return str(path)


@pytest.fixture
def lab(jupyter_lab: JupyterLab) -> Iterator[JupyterLab]:
    """The session's JupyterLab server, with all kernels shut down after the test.

    Use this instead of ``jupyter_lab`` for tests that must start from a fresh kernel.
    """
    yield jupyter_lab
    jupyter_lab.shutdown_kernels()
