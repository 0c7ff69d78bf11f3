"""The campaign panel in a real browser: the mapping, the preview, and Stop during a send.

Opens ``05_campaign_panel.ipynb`` (a temporary copy) and runs it. On the first panel it maps
a template variable to a constant and watches the preview follow; on the second (paced at 20
messages a second, stopped once from code) it reviews, sends the rest with the button, and
clicks Stop while the send runs as a task on the kernel's loop. The outcome must say it
stopped, with rows left ``not_sent``. Saves ``test-output/e2e/campaign.png`` (the outcome)
and ``campaign-mapping.png`` (the mapping).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from .conftest import OUTPUT_DIR, JupyterLab
from .lab import open_notebook, run_all_cells
from .test_composer_browser import WAIT

pytestmark = pytest.mark.e2e


def test_map_preview_send_and_stop_a_campaign_in_the_browser(lab: JupyterLab,
                                                             browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    panel = open_notebook(page, lab, "05_campaign_panel.ipynb")
    run_all_cells(page)

    first, offer = panel.locator(".cams-campaign").nth(0), panel.locator(".cams-campaign").nth(1)
    first.wait_for(state="visible", timeout=WAIT)
    expect(first.locator(".cams-dry-run-view")).to_contain_text(
        "293 of 298 rows ready to send, 5 rows with errors (skipped)", timeout=WAIT)
    expect(first.locator(".cams-outcome-view")).to_contain_text("Done: 298 rows: 292 sent")
    rows = first.locator(".cams-rows-view")
    expect(rows).to_contain_text("Hi Nia, your order A-10282 is on its way!")

    # map $(name) to a constant: the preview (made in the kernel) follows
    name_row = first.locator(".cams-map---name-")
    name_row.locator("select").select_option(label="constant")
    name_input = name_row.locator("input")
    name_input.fill("Friend")
    name_input.press("Enter")  # constants sync on Enter or leaving the field
    expect(rows).to_contain_text("Hi Friend, your order A-10282 is on its way!", timeout=WAIT)

    # the second campaign was stopped from code; send the rest with the buttons, then Stop
    offer.scroll_into_view_if_needed()
    offer.locator(".cams-review").click()
    confirm = offer.locator(".cams-confirm-view")
    expect(confirm).to_contain_text(re.compile(r"Send 294 messages \(294 WhatsApp\) from 298 "
                                               r"rows; 4 invalid rows will be skipped"))
    offer.locator(".cams-send").click()
    stop = offer.locator(".cams-stop")
    expect(stop).to_be_visible(timeout=WAIT)
    counts = offer.locator(".cams-counts-view")
    expect(counts).to_contain_text("sent", timeout=WAIT)  # counts update while it runs
    stop.click()
    outcome = offer.locator(".cams-outcome-view")
    expect(outcome).to_contain_text("Stopped: 298 rows:", timeout=WAIT)
    expect(outcome).to_contain_text("not_sent")
    expect(stop).to_be_hidden()
    expect(offer.locator(".cams-review")).to_be_visible()

    # the panel is taller than the window: keep what a person would look at, page by page
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    first.evaluate("el => el.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(OUTPUT_DIR / "campaign-mapping.png"), animations="disabled")
    outcome.evaluate("el => el.scrollIntoView({block: 'end'})")
    page.screenshot(path=str(OUTPUT_DIR / "campaign.png"), animations="disabled")
