"""The campaign panel in a real browser: the mapping, the preview, and Stop during a send.

Opens ``05_campaign_panel.ipynb`` (a temporary copy) and runs it. On the first panel it maps
a template variable to a constant (no row turns into an error before a value is typed) and
types it without Enter: the preview follows as it types. Its review, after the finished
send, offers nothing. On the second (paced at 20 messages a second, stopped once from code)
the review offers only the rows left (the journal knows the rest); it sends them with the
button, and clicks Stop while the send runs as a task on the kernel's loop. The outcome must
say it stopped, with rows left ``not_sent``, and the next review offers fewer again. Saves
``test-output/e2e/campaign.png`` (the outcome), ``campaign-mapping.png`` (the mapping) and
``campaign-panel.png`` (the second panel, whole); with ``CAMS_DOCS_SCREENSHOTS=1`` the last
also replaces ``docs/campaign-panel.png``.
"""

from __future__ import annotations

import os
import re
import shutil
from typing import Any

import pytest

from .conftest import OUTPUT_DIR, REPO_ROOT, JupyterLab
from .lab import open_notebook, run_all_cells
from .test_composer_browser import WAIT, save_widget_screenshot

OFFER = re.compile(r"Send (\d+) messages? \(\d+ WhatsApp\) from 298 rows; (\d+) rows done in "
                   r"an earlier run are not sent again; 4 invalid rows will be skipped")

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

    # the send is finished: a review offers only the row whose send took no effect (the
    # sandbox answers 15550100008 with a 503 every time), saying so, never the sent ones
    first.locator(".cams-review").click()
    expect(first.locator(".cams-confirm-view")).to_contain_text(
        "Send 1 message (1 WhatsApp) from 298 rows; 1 of them is tried again (failed in an "
        "earlier run without taking effect, or changed since); 292 rows done in an earlier run "
        "are not sent again", timeout=WAIT)
    expect(first.locator("button.cams-send")).to_have_text(re.compile("Send 1 message"))
    first.locator(".cams-cancel").click()

    # map $(name) to a constant: nothing is an error before a value is typed
    name_row = first.locator(".cams-map---name-")
    name_row.locator("select").select_option(label="constant")
    dry = first.locator(".cams-dry-run-view")
    expect(dry).to_contain_text("Type a value for $(name)", timeout=WAIT)
    expect(dry).not_to_contain_text("298 rows with errors")
    expect(dry).not_to_contain_text("ready to send")  # nothing is, until a value is typed
    # typed, no Enter: the preview (made in the kernel) follows as it types, like the composer
    name_row.locator("input").press_sequentially("Friend", delay=40)
    expect(rows).to_contain_text("Hi Friend, your order A-10282 is on its way!", timeout=WAIT)

    # the second campaign was stopped from code; send the rest with the buttons, then Stop
    offer.scroll_into_view_if_needed()
    offer.locator(".cams-review").click()
    confirm = offer.locator(".cams-confirm-view")
    expect(confirm).to_contain_text(OFFER, timeout=WAIT)
    match = OFFER.search(confirm.inner_text())
    assert match is not None
    left, done = int(match[1]), int(match[2])
    assert left + done == 294 and 0 < left < 294  # the journal knows the rows sent before
    expect(offer.locator("button.cams-send")).to_have_text(re.compile(f"Send {left} messages"))
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
    counts = offer.locator(".cams-counts-view").inner_text()
    assert f"{done} done in an earlier run" in counts  # counted once, apart from this run's
    sent_now = int(re.search(r"sent (\d+)", counts)[1])  # type: ignore[index]
    assert 0 < sent_now < left

    # the next review offers what is left after this stop
    offer.locator(".cams-review").click()
    expect(confirm).not_to_contain_text(f"Send {left} messages", timeout=WAIT)  # the new one
    expect(confirm).to_contain_text(OFFER, timeout=WAIT)
    again = OFFER.search(confirm.inner_text())
    assert again is not None and int(again[1]) < left
    shot = save_widget_screenshot(page, offer, "campaign-panel.png")
    if os.environ.get("CAMS_DOCS_SCREENSHOTS"):
        shutil.copyfile(shot, REPO_ROOT / "docs" / "campaign-panel.png")

    # the panel is taller than the window: keep what a person would look at, page by page
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    first.evaluate("el => el.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(OUTPUT_DIR / "campaign-mapping.png"), animations="disabled")
    outcome.evaluate("el => el.scrollIntoView({block: 'end'})")
    page.screenshot(path=str(OUTPUT_DIR / "campaign.png"), animations="disabled")
