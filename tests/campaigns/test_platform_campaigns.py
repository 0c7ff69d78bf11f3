"""A campaign within the platform's limits, end to end against the sandbox's imitation of them,
on the virtual-time loop (a day passes in no time, "within one poll" is exact).

A pump stands in for the receipt queue's consumer thread: every half second it moves what the
sandbox produced (ChatAppStatus receipts, ChatAppAudit events) into the ReceiptStore the
campaign follows, as a running ``ReceiptQueue`` would.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cams_notebook import HealthGateError, InvalidFrameError, ReceiptStore, asend_frame
from cams_notebook.campaigns.frames import Campaign
from cams_notebook.errors import PlatformStopError
from cams_notebook.sandbox import Sandbox
from tests.virtual_time import VirtualTime

TEMPLATE = {"channel_type": "whatsapp", "type": "template", "template_code": "830174529611842305",
            "language": "en", "params": ["name", "order_id"]}
SENDER, BANNED, YELLOW_250, GOES_RED = ("8613800000000", "8613800000902", "8613800000903",
                                        "8613800000905")


@pytest.fixture
def vt() -> Iterator[VirtualTime]:
    virtual = VirtualTime()
    yield virtual
    virtual.close()


def people(n: int, offset: int = 0) -> pd.DataFrame:
    return pd.DataFrame({"to": [f"86139{offset + i:08d}" for i in range(n)],
                         "name": [f"user{i}" for i in range(n)],
                         "order_id": [f"A-{offset + i}" for i in range(n)]})


def requests(sandbox: Sandbox) -> int:
    return len(sandbox.messages())


@contextlib.asynccontextmanager
async def pumped(sandbox: Sandbox, store: ReceiptStore) -> AsyncIterator[None]:
    """Move the sandbox's receipts and audit events into ``store`` every 0.5 s."""
    async def pump() -> None:
        while True:
            store.add([*sandbox.receipts(), *sandbox.audit_events()])
            await asyncio.sleep(0.5)

    task = asyncio.ensure_future(pump())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# -- the health gate, before the first request -------------------------------------------------


def test_a_banned_sender_is_refused_before_any_message_is_sent(vt: VirtualTime) -> None:
    sandbox = vt.sandbox()
    with pytest.raises(HealthGateError) as caught:
        vt.run(asend_frame(people(3), client=vt.client(sandbox), progress=False,
                           from_=BANNED, **TEMPLATE))
    assert BANNED in str(caught.value) and "BANNED" in str(caught.value)
    assert requests(sandbox) == 0


def test_the_gate_turned_off_lets_the_same_campaign_go(vt: VirtualTime) -> None:
    sandbox = vt.sandbox()
    result = vt.run(asend_frame(people(3), client=vt.client(sandbox), progress=False,
                                health_check=False, from_=BANNED, **TEMPLATE))
    assert set(result["status"]) == {"sent"} and requests(sandbox) == 3


def test_a_template_paused_by_meta_is_refused_before_sending(vt: VirtualTime) -> None:
    sandbox = vt.sandbox()
    sandbox.pause_template(TEMPLATE["template_code"], "en", reason="low quality")
    # the dry run already reads the template's status: every row is refused, with the rule
    with pytest.raises(InvalidFrameError, match="not approved \\(status paused\\)"):
        vt.run(asend_frame(people(3), client=vt.client(sandbox), progress=False,
                           from_=SENDER, **TEMPLATE))
    assert requests(sandbox) == 0


def test_a_yellow_sender_is_a_warning_and_the_campaign_goes(
        vt: VirtualTime, capsys: pytest.CaptureFixture[str]) -> None:
    sandbox = vt.sandbox()
    result = vt.run(asend_frame(people(3), client=vt.client(sandbox), from_=YELLOW_250,
                                **TEMPLATE))
    assert set(result["status"]) == {"sent"}
    err = capsys.readouterr().err
    assert "health check" in err and "YELLOW" in err


# -- the unique-user allowance -----------------------------------------------------------------


def test_a_tier_250_sender_sends_250_today_and_the_next_250_a_day_later(
        vt: VirtualTime, tmp_path: Path) -> None:
    sandbox = vt.sandbox(profile="realistic", quality_drops=False)
    client = vt.client(sandbox)
    frame = people(600)
    kwargs: dict[str, Any] = dict(client=client, journal=str(tmp_path / "j.db"), progress=False,
                                  wall=vt.wall, campaign="tier", from_=YELLOW_250, **TEMPLATE)
    first = vt.run(asend_frame(frame, **kwargs))
    assert first["status"].value_counts().to_dict() == {"deferred": 350, "sent": 250}
    assert requests(sandbox) == 250
    started = datetime.fromtimestamp(VirtualTime.epoch, timezone.utc)
    waits = (first.loc[first["status"] == "deferred", "eligible_at"] - started)
    assert Counter(round(w / timedelta(hours=1)) for w in waits) == {24: 250, 48: 100}
    refused = [r for r in sandbox.receipts() if r.get("ErrorCode") == "131048"]
    assert refused == []  # the platform refused nothing: the campaign kept within the tier

    vt.wall.advance(12 * 3600)  # the same day: nothing more may go
    again = vt.run(asend_frame(frame, **kwargs))
    assert requests(sandbox) == 250 and (again["status"] == "deferred").sum() == 350

    vt.wall.advance(12 * 3600 + 120)  # a day after the first run
    later = vt.run(asend_frame(frame, **kwargs))
    assert requests(sandbox) == 500
    assert later["status"].value_counts().to_dict() == {"sent": 500, "deferred": 100}
    assert [r for r in sandbox.receipts() if r.get("ErrorCode") == "131048"] == []


def test_the_plan_per_sender_says_what_goes_now_and_what_waits(vt: VirtualTime) -> None:
    sandbox = vt.sandbox()
    frame = pd.concat([people(310).assign(from_=YELLOW_250),
                       people(10, 1000).assign(from_=SENDER)], ignore_index=True)
    campaign = Campaign(frame, client=sandbox.client(clock=vt.wall), wall=vt.wall, **TEMPLATE)
    plan = campaign.limits()
    assert set(plan["sender"]) == {YELLOW_250, SENDER}
    assert int(plan.set_index("sender").loc[SENDER, "rows_deferred"]) == 0
    line = plan.set_index("sender").loc[YELLOW_250]
    assert (line["tier"], line["quality"], int(line["limit"])) == ("TIER_250", "YELLOW", 250)
    assert (int(line["rows_now"]), int(line["rows_deferred"])) == (250, 60)
    assert line["verdict"] == "warning"
    assert plan.attrs["refusals"] == [] and any("YELLOW" in w for w in plan.attrs["warnings"])
    assert requests(sandbox) == 0  # a plan sends nothing
    same = frame.cams.limits(client=sandbox.client(clock=vt.wall), wall=vt.wall, **TEMPLATE)
    assert same.equals(plan)  # the accessor asks the same question


# -- following the receipts --------------------------------------------------------------------


def test_a_sender_going_red_stops_the_campaign_within_one_poll(vt: VirtualTime) -> None:
    sandbox = vt.sandbox()
    store = ReceiptStore()

    async def go() -> Any:
        async with pumped(sandbox, store):
            return await asend_frame(people(400), client=vt.client(sandbox), progress=False,
                                     receipts=store, follow_for=5, from_=GOES_RED,
                                     sender_mps=40, **TEMPLATE)

    began = vt.loop.time()
    result = vt.run(go())
    event = next(e for e in sandbox.audit_events() if e.get("PhoneNumber") == GOES_RED)
    red_at = event["EventTime"] / 1000 - vt.wall.start + began
    last = max(m["time"] for m in sandbox.messages()) - vt.wall.start + began
    # the pump takes up to 0.5 s to store it, the campaign up to 1 s (one poll) to read it
    assert last <= red_at + 0.5 + 1.0 + 1e-6
    counts = result["status"].value_counts().to_dict()
    assert counts["sent"] >= 50 and counts["not_sent"] > 200
    stopped = result[result["status"] == "not_sent"]
    assert stopped["error"].str.contains("RED|FLAGGED|quality", regex=True).all()


def test_refusals_after_acceptance_are_sent_again_and_end_delivered(vt: VirtualTime) -> None:
    # the client goes at 250/s from one number; the platform allows 80/s and refuses the rest
    sandbox = vt.sandbox(profile="realistic", quality_drops=False)
    store = ReceiptStore()

    async def go() -> Any:
        async with pumped(sandbox, store):
            return await asend_frame(people(500), client=vt.client(sandbox), progress=False,
                                     receipts=store, follow_for=20, sender_mps=None,
                                     journal=False, from_=SENDER, **TEMPLATE)

    result = vt.run(go())
    refused = Counter(r.get("ErrorCode") for r in sandbox.receipts()
                      if r.get("Status") == "Failed")
    assert refused["130429"] > 0  # it went too fast, and was told so
    assert set(result["status"]) == {"sent"}
    assert (result["attempts"] > 1).sum() > 0
    assert (result["delivery_code"] == "130429").sum() == 0  # each refused row went again
    per_person = Counter(m["to"] for m in sandbox.messages()
                         if not m.get("fail_reason", "") or
                         not str(m.get("fail_reason")).startswith("130429"))
    assert max(per_person.values()) == 1  # delivered once each, never twice


def test_131049_is_capped_then_sent_by_a_run_a_day_later(vt: VirtualTime, tmp_path: Path) -> None:
    sandbox = vt.sandbox()
    store = ReceiptStore()
    frame = pd.concat([people(3), pd.DataFrame({"to": ["15550100004"], "name": ["x"],
                                                "order_id": ["A-x"]})], ignore_index=True)
    kwargs: dict[str, Any] = dict(client=vt.client(sandbox), progress=False, receipts=store,
                                  follow_for=10, wall=vt.wall, journal=str(tmp_path / "j.db"),
                                  campaign="capped", from_=SENDER, **TEMPLATE)

    async def go() -> Any:
        async with pumped(sandbox, store):
            return await asend_frame(frame, **kwargs)

    first = vt.run(go())
    row = first.iloc[3]
    assert (row["status"], row["code"]) == ("capped", "131049")
    assert row["eligible_at"] - row["sent_at"] >= timedelta(hours=24)
    vt.wall.advance(24 * 3600 + 60)
    later = vt.run(go())
    assert later.iloc[3]["status"] == "sent"
    assert Counter(m["to"] for m in sandbox.messages())["15550100004"] == 2
    assert sum(1 for m in sandbox.messages() if m["to"] != "15550100004") == 3  # once each


def test_the_stop_reason_is_a_platform_stop(vt: VirtualTime) -> None:
    sandbox = vt.sandbox()
    store = ReceiptStore()
    campaign = Campaign(people(300), client=vt.client(sandbox), progress=False, receipts=store,
                        follow_for=5, from_=GOES_RED, sender_mps=40, **TEMPLATE)

    async def go() -> Any:
        async with pumped(sandbox, store):
            return await campaign.arun()

    vt.run(go())
    assert campaign.engine is not None
    assert isinstance(campaign.engine.stop_reason, PlatformStopError)
