"""Helpers that drive the JupyterLab 4 notebook UI with Playwright (sync API).

Selectors were checked against the DOM of JupyterLab 4.6:

* notebook panel:      ``.jp-NotebookPanel`` (hidden dock tabs carry ``.lm-mod-hidden``)
* kernel state:        ``.jp-Notebook-ExecutionIndicator[data-status]`` in the panel toolbar
                       (idle / busy / starting / connecting / unknown / ...)
* kernel name:         ``.jp-Toolbar-kernelName`` ("No Kernel" until a session exists)
* cell prompt:         ``.jp-CodeCell .jp-InputPrompt`` -> "[ ]:", "[*]:", "[3]:"
* outputs:             ``.jp-OutputArea-output``; errors: ``[data-mime-type=...stderr]``
* main menu:           ``#jp-MainMenu .lm-MenuBar-item`` -> ``.lm-Menu-item[data-command=...]``

Pitfall: right after the page loads, the indicator says "idle" while the notebook has *no*
kernel yet ("No Kernel" | Initializing), then goes unknown/connecting -> idle. So "kernel
idle" is only trusted together with a kernel name, a stable reading, and the server
reporting a kernel session with an open websocket for the notebook.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

    from .conftest import JupyterLab

ACTIVE_PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"

# JS: state of the active notebook panel, as plain data.
_PANEL_STATE_JS = """
() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return null;
  const ind = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  const name = panel.querySelector('.jp-Toolbar-kernelName');
  const cells = Array.from(panel.querySelectorAll('.jp-Notebook .jp-CodeCell')).map(cell => {
    const prompt = cell.querySelector('.jp-InputArea .jp-InputPrompt');
    const lines = Array.from(cell.querySelectorAll('.jp-InputArea .cm-content .cm-line'));
    return {
      prompt: prompt ? prompt.textContent.trim() : '',
      empty: lines.every(l => l.textContent.trim() === ''),
      error: !!cell.querySelector(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'),
    };
  });
  const dialog = document.querySelector('.jp-Dialog');
  return {
    status: ind ? ind.getAttribute('data-status') : null,
    kernelName: name ? name.textContent.trim() : null,
    cells: cells,
    dialog: dialog ? dialog.textContent.trim().slice(0, 300) : null,
  };
}
"""

_NUMBERED = re.compile(r"^\[\d+\]:?$")


def _panel_state(page: Page) -> dict[str, Any] | None:
    state: dict[str, Any] | None = page.evaluate(_PANEL_STATE_JS)
    return state


def active_notebook(page: Page) -> Locator:
    """Locator of the notebook panel in the active (visible) main-area tab."""
    return page.locator(ACTIVE_PANEL).first


def wait_for_kernel_idle(
    page: Page,
    lab: JupyterLab | None = None,
    path: str | None = None,
    timeout: float = 60_000,
    stable_ms: float = 500,
) -> None:
    """Wait until the active notebook has a connected kernel that is idle.

    Requires the toolbar to show a kernel name and ``data-status="idle"`` continuously for
    ``stable_ms``; with ``lab``/``path`` also that the server has a session for ``path``
    whose kernel is idle and has at least one websocket connection (the browser's).
    ``timeout`` is in milliseconds, like Playwright's.
    """
    deadline = time.monotonic() + timeout / 1000
    idle_since: float | None = None
    state: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        state = _panel_state(page)
        ok = (
            state is not None
            and state["status"] == "idle"
            and state["kernelName"] not in (None, "", "No Kernel")
            and not state["dialog"]
        )
        if ok and lab is not None and path is not None:
            ok = _server_kernel_ready(lab, path)
        if ok:
            now = time.monotonic()
            idle_since = idle_since or now
            if (now - idle_since) * 1000 >= stable_ms:
                return
        else:
            idle_since = None
        page.wait_for_timeout(100)
    raise TimeoutError(f"kernel not idle after {timeout} ms; last UI state: {state}")


def _server_kernel_ready(lab: JupyterLab, path: str) -> bool:
    try:
        sessions = lab.sessions()
    except OSError:
        return False
    for s in sessions:
        if s.get("path") == path and s.get("kernel"):
            k = s["kernel"]
            return bool(k.get("execution_state") == "idle" and k.get("connections", 0) >= 1)
    return False


def open_notebook(page: Page, lab: JupyterLab, name: str, timeout: float = 90_000) -> Locator:
    """Open ``name`` (path relative to ``lab.root``) and wait for an idle, connected kernel.

    Uses ``?reset`` so the Lab workspace saved by an earlier test (other open notebooks)
    is not restored. Returns the notebook panel locator.
    """
    quoted = urllib.parse.quote(name)
    page.goto(f"{lab.url}/lab/tree/{quoted}?reset", wait_until="domcontentloaded")
    panel = active_notebook(page)
    panel.locator(".jp-Notebook").wait_for(state="visible", timeout=timeout)
    wait_for_kernel_idle(page, lab, name, timeout=timeout)
    return panel


def _menu_command(page: Page, menu: str, command: str) -> None:
    """Click main menu ``menu`` (e.g. "Run") then the item bound to ``command``."""
    page.locator("#jp-MainMenu .lm-MenuBar-item", has_text=re.compile(rf"^{menu}$")).click()
    item = page.locator(f'.lm-Menu .lm-Menu-item[data-command="{command}"]')
    item.wait_for(state="visible")
    item.click()
    # The menu closes on click; make sure it is gone before anything else is clicked.
    page.locator(".lm-Menu").wait_for(state="hidden")


def run_all_cells(page: Page, timeout: float = 120_000, raise_on_error: bool = True) -> None:
    """Run every cell of the active notebook (Run > Run All Cells) and wait until done.

    Outputs are cleared first (Edit > Clear Outputs of All Cells) so that execution counts
    saved in the file can't be mistaken for a finished run. Done means: no cell shows
    ``[*]``, every non-empty code cell has an execution count (or a cell failed and the
    rest were skipped), and the kernel is idle. With ``raise_on_error`` a cell error
    raises ``AssertionError`` with the error output's text.
    """
    _menu_command(page, "Edit", "editmenu:clear-all")  # Clear Outputs of All Cells
    _menu_command(page, "Run", "runmenu:run-all")  # Run All Cells

    deadline = time.monotonic() + timeout / 1000
    state: dict[str, Any] | None = None
    done_since: float | None = None
    while time.monotonic() < deadline:
        state = _panel_state(page)
        done = False
        if state is not None and state["status"] == "idle" and not state["dialog"]:
            cells = [c for c in state["cells"] if not c["empty"]]
            running = any(c["prompt"].startswith("[*]") for c in cells)
            finished = all(_NUMBERED.match(c["prompt"]) for c in cells)
            failed = any(c["error"] and _NUMBERED.match(c["prompt"]) for c in cells)
            done = not running and (finished or failed)
        if done:
            now = time.monotonic()
            done_since = done_since or now
            if now - done_since >= 0.3:
                break
        else:
            done_since = None
        page.wait_for_timeout(100)
    else:
        raise TimeoutError(f"cells still running after {timeout} ms; last UI state: {state}")

    if raise_on_error:
        errors = active_notebook(page).locator(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
        )
        for i in range(errors.count()):
            text = errors.nth(i).inner_text()
            if "Traceback" in text or re.search(r"^\w+(Error|Exception)\b", text, re.MULTILINE):
                raise AssertionError(f"a cell raised an error:\n{text}")


OUTPUTS = f"{ACTIVE_PANEL} .jp-OutputArea-output"


def wait_for_text(
    page: Page,
    text: str | re.Pattern[str],
    timeout: float = 30_000,
    *,
    scope: str = OUTPUTS,
    exact: bool = False,
) -> Locator:
    """Wait until ``text`` is visible inside ``scope`` and return its locator.

    ``text`` is a case-insensitive substring (or exact match with ``exact=True``) or a
    regex. The default scope is the cell *outputs* of the active notebook, so the source
    code of a cell (which often contains the very text being waited for) never matches;
    pass ``scope="body"`` to search the whole page (dialogs, status bar, ...).
    """
    loc = page.locator(scope).get_by_text(text, exact=exact).first
    loc.wait_for(state="visible", timeout=timeout)
    return loc


def cell_outputs(page: Page) -> Locator:
    """All output elements of the active notebook."""
    return active_notebook(page).locator(".jp-OutputArea-output")
