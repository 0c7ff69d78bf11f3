"""Smoke test of the e2e machinery: JupyterLab + ipywidgets rendering + kernel round trip."""

from __future__ import annotations

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
