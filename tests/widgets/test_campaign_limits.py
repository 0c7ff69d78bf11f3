"""The campaign panel and the platform's limits (issue #13), headless: the confirmation step
shows the health gate's refusals and warnings and the rows the unique-user allowance defers,
asked once per confirmation; the counts show refused, deferred and capped rows; a send the
platform stops says why.

The in-process sandbox's magic senders: 8613800000902 is banned, 8613800000903 is YELLOW at
``TIER_250``; every other number is healthy and unlimited.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

import cams_notebook.campaigns.campaign_run as runner_module
from cams_notebook import Client
from cams_notebook.campaigns.campaign import Campaign
from cams_notebook.campaigns.engine import Counts
from cams_notebook.campaigns.journal import JournalError
from cams_notebook.widgets import CampaignPanel
from cams_notebook.widgets import campaign_html as H
from cams_notebook.widgets.campaign_limits import PlatformPlan, limits_html

BANNED, TIER_250, HEALTHY = "8613800000902", "8613800000903", "8613800000000"


@pytest.fixture(autouse=True)
def _fresh_session_journals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner_module, "_SESSION_JOURNALS", {})


def recipients(n: int) -> pd.DataFrame:
    return pd.DataFrame({"Phone": [f"86139{i:08d}" for i in range(n)],
                         "name": [f"Person {i}" for i in range(n)],
                         "order_id": [f"A-{i}" for i in range(n)]})


def text(value: str) -> str:
    return html.unescape(value)


# -- the confirmation step ---------------------------------------------------------------------


def test_a_refused_sender_disables_send_and_says_why(sandbox_client: Client) -> None:
    panel = CampaignPanel(recipients(3), sandbox_client).set(from_=BANNED)
    said = panel.review()
    assert said.startswith("Nothing can be sent: the health check refuses this campaign before "
                           f"its first request: Sender {BANNED} has Status BANNED, not CONNECTED")
    assert said == panel.confirmation
    assert panel.send_button.disabled
    assert panel.send_button.description == "Refused by the health check"
    assert f"Sender {BANNED} has Status BANNED" in panel.send_button.tooltip
    shown = text(panel.limits_view.value)
    assert "cams-refusal" in shown and "✖ Sender 8613800000902 has Status BANNED" in shown
    assert panel.limits is not None
    assert panel.limits["verdict"].tolist() == ["refused"]
    assert panel.confirm_box.layout.display is None
    assert panel.limits_view in panel.confirm_box.children


def test_rows_beyond_the_allowance_are_not_offered_and_say_until_when(
        sandbox_client: Client) -> None:
    panel = CampaignPanel(recipients(260), sandbox_client).set(from_=TIER_250)
    said = panel.review()
    assert said.startswith("Send 250 messages (250 WhatsApp) from 260 rows; no invalid rows;")
    assert " 10 rows beyond the senders' unique users per 24 hours are deferred until 20" in said
    assert said.endswith(" UTC: a later Send sends them once eligible.")
    assert panel.send_button.description == "Send 250 messages"
    assert not panel.send_button.disabled
    shown = text(panel.limits_view.value)
    assert f"⚠ Sender {TIER_250} has QualityRating YELLOW" in shown  # a warning, Send stays
    assert "<th>deferred</th>" in shown and "<td>TIER_250</td>" in shown
    plan = panel.limits
    assert plan is not None
    assert plan[["rows_now", "rows_deferred"]].values.tolist() == [[250, 10]]
    # Send: 250 go now, 10 wait; the counts and the outcome say so
    panel.sender_mps = None  # the sender's own pace is not what this test is about
    result = panel.send()
    assert result["status"].value_counts().to_dict() == {"sent": 250, "deferred": 10}
    assert panel.progress.max == 250
    assert "deferred <b>10</b> (for a later run)" in panel.counts_view.value
    outcome = text(panel.outcome_view.value)
    assert "10 rows wait for a later Send until 20" in outcome
    assert "click <b>Review and send…</b> again then" in outcome
    # reviewed again at once: the 10 are not eligible yet, so nothing is offered
    again = panel.review()
    assert again.startswith("Nothing to send now from 260 rows; 250 rows done in an earlier run "
                            "are not sent again; 10 rows deferred or capped in an earlier run "
                            "wait until 20")
    assert again.endswith(" UTC (a later Send sends them once eligible).")
    assert panel.send_button.disabled and panel.send_button.description == "Nothing to send"


def test_the_service_is_asked_once_per_confirmation_not_per_edit(
        sandbox_client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []
    limits = Campaign.limits

    def counting(self: Campaign) -> pd.DataFrame:
        asked.append(1)
        return limits(self)

    monkeypatch.setattr(Campaign, "limits", counting)
    panel = CampaignPanel(recipients(3), sandbox_client)
    for number in ("86", "8613", "861380000", HEALTHY):  # typed, key by key
        panel.set(from_=number)
    assert asked == []
    panel.review()
    assert len(asked) == 1
    assert panel.limits is not None
    panel.set(from_=TIER_250)  # an edit withdraws the confirmation and its plan
    assert panel.limits is None and panel.limits_view.value == ""
    assert "deferred" not in panel.confirmation
    panel.review()
    assert len(asked) == 2


@pytest.mark.parametrize("error", [OSError("network is unreachable"),
                                   JournalError("send.db", "it is damaged")])
def test_a_plan_that_cannot_be_made_is_a_warning_and_send_stays(
        sandbox_client: Client, monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    def failing(self: Campaign) -> pd.DataFrame:
        raise error

    monkeypatch.setattr(Campaign, "limits", failing)
    panel = CampaignPanel(recipients(2), sandbox_client).set(from_=HEALTHY)
    panel.review()
    assert not panel.send_button.disabled
    assert (f"⚠ The platform's limits could not be checked before sending "
            f"({type(error).__name__}: {error}); the send checks them again before its first "
            "request." in text(panel.limits_view.value))


def test_limits_html_escapes_what_the_service_says() -> None:
    frame = pd.DataFrame([{"sender": "<b>1</b>", "verdict": "ok"}])
    shown = limits_html(PlatformPlan(frame, warnings=("<script>x</script>",)))
    assert "<script>" not in shown and "&lt;b&gt;1&lt;/b&gt;" in shown
    assert limits_html(None) == ""


# -- the counts while sending, and a stop by bad news -------------------------------------------


def test_counts_show_refused_deferred_and_capped_only_when_there_are_some() -> None:
    quiet = H.counts_html(Counts(sent=5, started_at=0.0), rate=40.0)
    assert "refused" not in quiet and "deferred" not in quiet and "capped" not in quiet
    assert "40 msg/s" in quiet
    busy = H.counts_html(Counts(sent=5, refused=2, deferred=3, capped=1, started_at=0.0),
                         rate=40.0)
    assert "refused <b>2</b> (by the platform, sent again)" in busy
    assert "deferred <b>3</b> (for a later run)" in busy
    assert "capped <b>1</b> (for 24 hours)" in busy


def test_after_the_last_request_the_counts_say_what_they_wait_for_not_a_rate() -> None:
    shown = H.counts_html(Counts(sent=5, done=5, started_at=0.0), rate=3.0, following=4)
    assert "following receipts: <b>4</b> rows waiting for their verdict" in shown
    assert "msg/s" not in shown
    assert "<b>1</b> row waiting" in H.counts_html(Counts(), following=1)


class BadNews:
    """A receipt store in which, from the campaign's first look on, the sender is rated RED."""

    def __init__(self) -> None:
        self.looks = 0

    @property
    def version(self) -> int:
        return 0

    def audits_after(self, seq: int = 0) -> list[tuple[int, Any]]:
        self.looks += 1
        if self.looks < 2:  # the look a campaign takes at its start: nothing new yet
            return []
        return [(1, SimpleNamespace(bad_news=f"sender {HEALTHY} is rated RED (FLAGGED)",
                                    phone_number=HEALTHY, template_code=None))]

    def states_of(self, message_ids: Iterable[str]) -> dict[str, Any]:
        return {}


def test_a_send_the_platform_stops_says_why(sandbox_client: Client) -> None:
    panel = CampaignPanel(recipients(60), sandbox_client, receipts=BadNews()).set(
        from_=HEALTHY)
    result = panel.send()
    assert (result["status"] == "not_sent").any()
    assert set(result["status"]) <= {"sent", "not_sent"}
    assert "state='stopped'" in repr(panel)
    reason = f"sender {HEALTHY} is rated RED (FLAGGED)"
    assert f"stopped: {reason}" in text(panel.counts_view.value)
    assert f"Stopped by the platform ({reason})" in text(panel.outcome_view.value)
