"""The composer in a real browser: JupyterLab on loopback, headless Chromium, the sandbox.

Opens ``03_composer.ipynb`` (a temporary copy), runs it, then works the rendered widget the
way a person would: picks another template (no error shows before a variable is typed),
types its variables, watches the chat-bubble preview follow, copies the code to the
clipboard (read back from the browser's clipboard), clicks Send, reads the new MessageId and
its delivery receipts, and edits on to see the sent card become the previous message. The
widget's elements are found by the ``cams-*`` classes the composer puts on them.

A screenshot of the filled composer is saved as ``test-output/e2e/composer.png``; with
``CAMS_DOCS_SCREENSHOTS=1`` it also replaces ``docs/composer.png``.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from .conftest import OUTPUT_DIR, REPO_ROOT, JupyterLab
from .lab import open_notebook, run_all_cells

pytestmark = pytest.mark.e2e

NOTEBOOK = "03_composer.ipynb"
TEMPLATE = "appointment_reminder"  # WhatsApp; a text header, variables clinic, name, date, time
VALUES = {"clinic": "Harbour Dental", "name": "Grace", "date": "14 May", "time": "09:15"}
MESSAGE_ID = re.compile(r"MessageId\s*(\S+)")
WAIT = 30_000  # ms: a kernel round trip, generous for a loaded CI machine


def message_id(text: str) -> str | None:
    match = MESSAGE_ID.search(text)
    return match.group(1) if match else None


def test_compose_preview_and_send_a_template_in_the_browser(lab: JupyterLab,
                                                             browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    # the clipboard is read back to check "Copy as code"; a person's browser asks once
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab.url)
    panel = open_notebook(page, lab, NOTEBOOK)
    run_all_cells(page)

    composer = panel.locator(".cams-composer").first
    composer.wait_for(state="visible", timeout=WAIT)
    result = composer.locator(".cams-result-view")
    # the notebook's last cell sent the prefilled message; its MessageId is shown already
    expect(result).to_contain_text("MessageId", timeout=WAIT)
    first_id = message_id(result.inner_text())
    assert first_id

    # plain labels; the wire name is the tooltip
    channel = composer.locator(".cams-field-ChannelType")
    expect(channel.locator("label").first).to_have_text("Channel")
    expect(channel.locator("select option")).to_have_text(
        ["WhatsApp", "Viber", "Messenger", "Instagram"])  # no Telegram, no LINE
    spaced = channel.locator("[title^='ChannelType']")
    expect(spaced.first).to_be_attached()

    # choose a template: its variables get an input each, the preview shows them unfilled
    composer.locator(".cams-field-TemplateCode select").select_option(label=TEMPLATE)
    preview = composer.locator(".cams-preview-pane")
    expect(preview).to_contain_text("$(clinic)", timeout=WAIT)
    expect(composer.locator(".cams-field-Language select")).to_have_value("en")
    # nothing typed yet: what is left is listed, in grey, and no field shows an error
    expect(composer.locator(".cams-summary-view")).to_contain_text(
        "To send, fill in: clinic, date, time")  # name: Ada, kept from the first template
    expect(composer.locator(".cams-problem")).to_have_count(0)

    for var, value in VALUES.items():
        box = composer.locator(f".cams-field-TemplateParams-{var} input")
        box.fill(value)
        expect(preview.locator(".cams-bubble")).to_contain_text(value, timeout=WAIT)
    bubble = preview.locator(".cams-bubble")
    expect(bubble).to_contain_text("Appointment at Harbour Dental")
    expect(bubble).to_contain_text("Hello Grace, this is a reminder of your appointment "
                                   "on 14 May at 09:15.")
    expect(bubble.locator(".cams-missing")).to_have_count(0)  # every variable filled
    expect(composer.locator(".cams-summary-view")).to_contain_text("Ready to send")
    expect(preview.locator(".cams-wire")).to_contain_text("830174529611842649")
    wire = preview.locator(".cams-wire-json")
    # the wire JSON stays inside the preview column: it wraps, and scrolls rather than spill
    inside = wire.evaluate("el => el.getBoundingClientRect().right <= "
                           "el.closest('.cams-preview-pane').getBoundingClientRect().right + 1")
    assert inside

    # Copy as code: the code goes on the clipboard at the click, and is shown under the buttons
    copy = composer.locator("button.cams-copy-code")
    expect(copy).to_be_enabled(timeout=WAIT)
    copy.click()
    expect(composer.locator(".cams-copy-note")).to_contain_text("Copied", timeout=WAIT)
    code_view = composer.locator(".cams-code-view")
    expect(code_view).to_contain_text("message = Message(", timeout=WAIT)
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "message = Message(" in copied and "template_code='830174529611842649'" in copied
    assert "'clinic': 'Harbour Dental'" in copied and "client.send(message)" in copied
    assert copied.strip() == code_view.locator("pre").inner_text().strip()

    send = composer.locator(".cams-send")
    expect(send).to_be_enabled()
    send.click()
    expect(result).not_to_contain_text(first_id, timeout=WAIT)
    expect(result).to_contain_text("MessageId", timeout=WAIT)
    new_id = message_id(result.inner_text())
    assert new_id and new_id != first_id
    expect(result).to_contain_text("Sent")
    # receipts are watched in an asyncio task on the kernel's loop: the UI stayed live
    expect(composer.locator(".cams-receipt-view")).to_contain_text("Read", timeout=WAIT)
    expect(composer.locator(".cams-stop")).to_have_text(re.compile("Stop watching receipts"))

    shot = save_widget_screenshot(page, composer, "composer.png")

    # editing on: the sent card is marked as the previous message, not this one's outcome
    composer.locator(".cams-field-TemplateParams-name input").fill("")
    expect(result).to_contain_text("Previous message: sent", timeout=WAIT)
    expect(composer.locator(".cams-field-TemplateParams-name .cams-problem")).to_have_count(
        1, timeout=WAIT)
    if os.environ.get("CAMS_DOCS_SCREENSHOTS"):
        shutil.copyfile(shot, REPO_ROOT / "docs" / "composer.png")


def save_widget_screenshot(page: Any, widget: Any, name: str) -> Path:
    """Screenshot of one widget, on a white margin, under ``test-output/e2e/``."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUTPUT_DIR / name
    # the margin is padding on the widget itself, so neighbouring outputs stay out of the picture
    widget.evaluate("el => { el.style.padding = '12px'; el.style.marginTop = '4px'; "
                    "el.style.background = '#fff'; }")
    # the notebook scrolls inside the window: a window taller than the widget shows all of it
    before = page.viewport_size
    height = int(widget.evaluate("el => el.getBoundingClientRect().height"))
    page.set_viewport_size({"width": before["width"], "height": max(before["height"],
                                                                    height + 320)})
    try:
        widget.evaluate("el => el.scrollIntoView({block: 'center'})")
        widget.screenshot(path=str(path), animations="disabled")
    finally:
        page.set_viewport_size(before)
    return path
