"""The unique-user allowance on a fake clock: who goes now, who waits and until when exactly.

Oracle: issue #13 (rows beyond the allowance are ``deferred`` with the time the moving window
frees room; a later run sends those that have become eligible) and
``cams_notebook/campaigns/allowance.py``'s docstring (a unit used at ``t`` frees at ``t + 24 h``;
the j-th deferred recipient takes the j-th unit to come free; already reached or open-window
recipients and free-form rows cost nothing). Times are whole hours from a fixed instant, so each
expected ``eligible_at`` is written out, not computed by the rule under test.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from cams_notebook.campaigns.allowance import (
    ALLOWANCE_COLUMNS,
    AllowanceRow,
    allowance_rows,
    merge_reach,
    plan_allowance,
)
from cams_notebook.campaigns.allowance_listing import (
    MAX_PAGES,
    PAGE_SIZE,
    aservice_reach,
    service_reach,
)
from cams_notebook.campaigns.dry_run import plan_chunks
from cams_notebook.campaigns.journal import JournalRow, SqliteJournal
from cams_notebook.models import Message
from cams_notebook.sandbox import DEFAULT_CUST_SPACE_ID, Sandbox
from cams_notebook.testing import FakeClock
from tests.campaigns.health_transport import Watching
from tests.helpers import TEMPLATE_CODE, template_fields

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
DAY = timedelta(hours=24)
A, B, C = "8613800000000", "8613800000903", "8613800000904"


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def people(n: int, sender: str = A, first: int = 0, template: bool = True) -> list[AllowanceRow]:
    return [AllowanceRow(f"{sender}|{i}", sender, f"86139{i:08d}", template)
            for i in range(first, first + n)]


def line(frame: pd.DataFrame, sender: str) -> dict[str, Any]:
    (record,) = frame[frame["sender"] == sender].to_dict("records")
    return record


def test_600_new_recipients_at_tier_250_go_250_now_250_tomorrow_and_100_the_day_after() -> None:
    rows = people(600)
    plan = plan_allowance(rows, tiers={A: "TIER_250"}, reached={}, now=NOW)
    decisions = [plan.decisions[r.key] for r in rows]
    assert decisions == [None] * 250 + ["2026-03-02T12:00:00.000+00:00"] * 250 + \
        ["2026-03-03T12:00:00.000+00:00"] * 100
    assert list(plan.frame.columns) == ALLOWANCE_COLUMNS
    assert line(plan.frame, A) == {
        "sender": A, "tier": "TIER_250", "limit": 250, "used": 0, "left": 250, "rows_now": 250,
        "rows_deferred": 350, "deferred_until": "2026-03-03T12:00:00.000+00:00",
        "note": "250 unique recipients per 24 h"}
    assert len(plan.deferred) == 350 and plan.warnings == []


def test_a_rerun_a_day_later_sends_the_next_250_from_what_the_journal_recorded(
        tmp_path: Path) -> None:
    rows = people(600)
    first = plan_allowance(rows, tiers={A: "TIER_250"}, reached={}, now=NOW)
    journal = SqliteJournal(tmp_path / "send.db")
    for r in rows:  # the first run: 250 sent, 350 deferred
        at = first.decisions[r.key]
        journal.outcome(JournalRow(key=r.key, status="deferred" if at else "sent", to=r.recipient,
                                   sender=A, template_code=TEMPLATE_CODE, eligible_at=at,
                                   sent_at=None if at else iso(NOW)))
    journal.close()
    clock = FakeClock(NOW.timestamp())
    clock.advance(DAY.total_seconds())
    journal = SqliteJournal(tmp_path / "send.db")  # the next day's run
    try:
        now = datetime.fromtimestamp(clock(), tz=timezone.utc)
        due = [r for r in rows if (first.decisions[r.key] or "9") <= iso(now)]
        plan = plan_allowance(due, tiers={A: "TIER_250"},
                              reached=journal.reached_since(iso(now - DAY)), now=clock())
    finally:
        journal.close()
    assert len(due) == 250
    assert set(plan.decisions.values()) == {None}  # yesterday's 250 freed their units just now
    assert (line(plan.frame, A)["used"], line(plan.frame, A)["left"]) == (0, 250)


def test_recipients_already_reached_cost_nothing_and_old_units_free_at_their_time() -> None:
    reached = {A: {f"86139{i:08d}": iso(NOW - timedelta(hours=20)) for i in range(100)}}
    plan = plan_allowance(people(200, first=100), tiers={A: "TIER_250"}, reached=reached,
                          now=NOW)
    values = Counter(plan.decisions.values())
    # 150 units free now; the other 50 wait for the units of 20 h ago: free 4 h from now
    assert values == {None: 150, "2026-03-01T16:00:00.000+00:00": 50}
    assert (line(plan.frame, A)["used"], line(plan.frame, A)["left"]) == (100, 150)


def test_a_reached_recipient_messaged_again_keeps_its_unit_a_day_from_now() -> None:
    reached = {A: {f"86139{i:08d}": iso(NOW - timedelta(hours=20)) for i in range(100)}}
    plan = plan_allowance(people(300), tiers={A: "TIER_250"}, reached=reached, now=NOW)
    values = Counter(plan.decisions.values())
    assert values == {None: 250, "2026-03-02T12:00:00.000+00:00": 50}
    assert all(plan.decisions[r.key] is None for r in people(100))  # the reached ones go now
    assert "100 recipient(s) already reached or with an open window: free" in \
        line(plan.frame, A)["note"]


def test_reach_older_than_24_hours_takes_no_unit() -> None:
    reached = {A: {"86139999": iso(NOW - DAY), "86139998": iso(NOW - DAY + timedelta(hours=1))}}
    plan = plan_allowance(people(1), tiers={A: "TIER_250"}, reached=reached, now=NOW)
    assert line(plan.frame, A)["used"] == 1  # the one of exactly 24 h ago has freed its unit


@pytest.mark.parametrize("window", [
    {"8613900000000", "8613900000001"},
    lambda number: {"8613900000000": True, "8613900000001": True}.get(number),  # None: unknown
], ids=["set", "callable"])
def test_recipients_with_an_open_window_cost_nothing(window: Any) -> None:
    plan = plan_allowance(people(252), tiers={A: "TIER_250"}, reached={}, now=NOW,
                          open_window=window)
    assert plan.deferred == {}  # 250 units for the 250 others
    plan = plan_allowance(people(253), tiers={A: "TIER_250"}, reached={}, now=NOW,
                          open_window=window)
    assert plan.deferred == {f"{A}|252": "2026-03-02T12:00:00.000+00:00"}


def test_free_form_rows_never_count_nor_wait() -> None:
    rows = people(250) + people(10, first=1000, template=False)
    plan = plan_allowance(rows, tiers={A: "TIER_250"}, reached={}, now=NOW)
    assert plan.deferred == {}
    assert line(plan.frame, A)["rows_now"] == 260


def test_rows_to_one_recipient_share_its_decision() -> None:
    rows = people(251) + [AllowanceRow("again-0", A, "8613900000000", True),
                          AllowanceRow("again-250", A, "8613900000250", True)]
    plan = plan_allowance(rows, tiers={A: "TIER_250"}, reached={}, now=NOW)
    assert plan.decisions["again-0"] is None
    assert plan.decisions["again-250"] == plan.decisions[f"{A}|250"] == \
        "2026-03-02T12:00:00.000+00:00"
    assert line(plan.frame, A)["rows_deferred"] == 2


def test_each_sender_has_its_own_allowance() -> None:
    rows = people(300, A) + people(300, B) + people(3000, C)
    plan = plan_allowance(rows, tiers={A: "TIER_UNLIMITED", B: "TIER_250", C: "TIER_2K"},
                          reached={B: {"8613900000000": iso(NOW - timedelta(hours=1))}}, now=NOW)
    counts = plan.frame.set_index("sender")[["limit", "used", "rows_now", "rows_deferred"]]
    assert counts.loc[A, "rows_deferred"] == 0 and pd.isna(counts.loc[A, "limit"])
    assert counts.loc[B].tolist() == [250, 1, 250, 50]  # the reached one is free: 1 + 249
    assert counts.loc[C].tolist() == [2000, 0, 2000, 1000]
    assert line(plan.frame, A)["note"] == "TIER_UNLIMITED: no limit"


def test_a_tier_not_known_sets_no_limit_and_says_so() -> None:
    plan = plan_allowance(people(300, A) + people(300, B), tiers={A: "TIER_1M", B: None},
                          reached={}, now=NOW)
    assert plan.deferred == {}
    new_tier, no_tier = plan.warnings
    assert A in new_tier and "'TIER_1M' is not one the toolkit knows" in new_tier
    assert B in no_tier and "tier is not known" in no_tier


def test_a_tier_that_went_down_waits_for_the_units_beyond_it() -> None:
    # 300 recipients reached an hour apart in the last day (the tier was higher): at TIER_250
    # the next one may go when only 249 remain in the window, at the 51st release
    reached = {A: {f"86138{i:08d}": iso(NOW - DAY + timedelta(minutes=1 + 4 * i))
                   for i in range(300)}}
    plan = plan_allowance(people(2), tiers={A: "TIER_250"}, reached=reached, now=NOW)
    assert [plan.decisions[r.key] for r in people(2)] == [
        iso(NOW + timedelta(minutes=1 + 4 * 50)), iso(NOW + timedelta(minutes=1 + 4 * 51))]
    assert (line(plan.frame, A)["used"], line(plan.frame, A)["left"]) == (300, 0)


def test_bad_rows_and_times_are_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="row 'k1': recipient must be non-empty text"):
        plan_allowance([("k1", A, "", True)], tiers={}, reached={}, now=NOW)
    with pytest.raises(ValueError, match=r"row \('k1', '8613800000000'\): expected \(key, "):
        plan_allowance([("k1", A)], tiers={}, reached={}, now=NOW)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="now: .* has no UTC offset"):
        plan_allowance([], tiers={}, reached={}, now=datetime(2026, 3, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match=r"reached\['8613800000000'\]\['1'\]: 'noon'"):
        plan_allowance(people(1), tiers={A: "TIER_250"}, reached={A: {"1": "noon"}}, now=NOW)


def test_merge_keeps_each_pair_s_latest_time() -> None:
    merged = merge_reach({A: {"1": "2026-03-01T10:00:00.000+00:00"}},
                         {A: {"1": "2026-03-01T11:00:00Z", "2": "2026-03-01T09:00:00Z"},
                          B: {"3": "2026-03-01T08:00:00+08:00"}})
    assert merged == {A: {"1": "2026-03-01T11:00:00.000+00:00",
                          "2": "2026-03-01T09:00:00.000+00:00"},
                      B: {"3": "2026-03-01T00:00:00.000+00:00"}}


def test_allowance_rows_are_the_valid_whatsapp_rows_of_a_plan() -> None:
    frame = pd.DataFrame({"to": ["8613900000001", "8613900000002", "not a number"],
                          "name": "Ada", "order_id": "A-1"})
    _, chunks, _, _ = plan_chunks(frame, {"channel_type": "whatsapp", "type": "template",
                                          "from_": A, "template_code": TEMPLATE_CODE,
                                          "language": "en"}, ["name", "order_id"], None, "c")
    plans = [p for chunk in chunks for p in chunk]
    rows = allowance_rows(plans)
    assert [(r.sender, r.recipient, r.is_template) for r in rows] == [
        (A, "8613900000001", True), (A, "8613900000002", True)]
    assert [r.key for r in rows] == [p.key for p in plans[:2]]


# -- the service's own record ------------------------------------------------------------------

def send_from(sandbox: Sandbox, sender: str, recipients: list[str], **fields: Any) -> None:
    client = sandbox.client()
    for to in recipients:
        client.send(Message(**template_fields(from_=sender, to=to,  # type: ignore[arg-type]
                                              cust_space_id=DEFAULT_CUST_SPACE_ID, **fields)))


def test_the_service_s_record_adds_what_another_tool_sent_for_limited_tiers_only(
        sandbox: Sandbox, clock: FakeClock) -> None:
    send_from(sandbox, B, ["8613900000001", "8613900000002", "8613900000001"])
    send_from(sandbox, A, ["8613900000003"])
    clock.advance(60)
    watching = Watching(sandbox)
    reach, warnings = service_reach(watching.client(), senders=[A, B],
                                    cust_space_id=DEFAULT_CUST_SPACE_ID,
                                    tiers={A: "TIER_UNLIMITED", B: "TIER_250"}, now=clock())
    sent = iso(datetime.fromtimestamp(clock() - 60, tz=timezone.utc))
    assert (reach, warnings) == ({B: {"8613900000001": sent, "8613900000002": sent}}, [])
    (listing,) = [p for a, p in watching.asked if a == "ListChatappMessage"]
    assert (listing["BusinessNumber"], listing["EventAction"], listing["ChannelType"]) == \
        (B, "DOWN", "whatsapp")
    assert int(listing["EndTime"]) - int(listing["StartTime"]) == DAY.total_seconds() * 1000
    plan = plan_allowance(people(2, B, first=1), tiers={B: "TIER_250"},
                          reached=merge_reach(reach), now=clock())
    assert (line(plan.frame, B)["used"], plan.deferred) == (2, {})


def test_free_form_and_failed_messages_in_the_service_s_record_do_not_count(
        sandbox: Sandbox, clock: FakeClock) -> None:
    send_from(sandbox, B, ["8613900000001"])

    def add_records(params: dict[str, str], status: int, body: dict[str, Any]
                    ) -> tuple[int, dict[str, Any]]:
        body["Data"] += [
            {"MessageId": "m-text", "UserNumber": "8613900000007", "MessageType": "TEXT",
             "SendTime": "2026-03-01T10:00:00.000+00:00"},
            {"MessageId": "m-failed", "UserNumber": "8613900000008", "MessageType": "TEMPLATE",
             "TemplateCode": TEMPLATE_CODE, "MessageStatus": "failed"}]
        return status, body

    watching = Watching(sandbox, {"ListChatappMessage": add_records})
    reach, _ = service_reach(watching.client(), senders=[B], cust_space_id=DEFAULT_CUST_SPACE_ID,
                             tiers={B: "TIER_250"}, now=clock())
    assert list(reach[B]) == ["8613900000001"]


def test_a_listing_without_end_stops_at_the_page_cap_and_keeps_what_it_read(
        sandbox: Sandbox, clock: FakeClock) -> None:
    def endless(params: dict[str, str], status: int, body: dict[str, Any]
                ) -> tuple[int, dict[str, Any]]:
        index = int(params["Page"].split('"Index":')[1].split(",")[0])
        body["Data"] = [{"MessageId": f"m{index}-{i}", "UserNumber": f"86139{index:04d}{i:04d}",
                         "MessageType": "TEMPLATE", "SendTime": iso(NOW)}
                        for i in range(PAGE_SIZE)]
        return status, body

    watching = Watching(sandbox, {"ListChatappMessage": endless})
    reach, (warning,) = service_reach(watching.client(), senders=[B],
                                      cust_space_id=DEFAULT_CUST_SPACE_ID,
                                      tiers={B: "TIER_2K"}, now=clock())
    assert watching.calls["ListChatappMessage"] == MAX_PAGES
    assert len(reach[B]) == MAX_PAGES * PAGE_SIZE
    assert B in warning and "only the first 50 pages were read" in warning


def test_a_listing_that_fails_midway_is_a_warning_and_the_journal_alone_counts_the_rest(
        sandbox: Sandbox, clock: FakeClock) -> None:
    send_from(sandbox, B, [f"86139{i:08d}" for i in range(PAGE_SIZE + 5)])

    def second_page_lost(params: dict[str, str], status: int, body: dict[str, Any]
                         ) -> tuple[int, dict[str, Any]]:
        if '"Index":2' in params["Page"]:
            raise httpx.ConnectError("no route")
        return status, body

    whole, _ = service_reach(sandbox.client(), senders=[B], cust_space_id=DEFAULT_CUST_SPACE_ID,
                             tiers={B: "TIER_250"}, now=clock())
    watching = Watching(sandbox, {"ListChatappMessage": second_page_lost})
    reach, (warning,) = service_reach(watching.client(), senders=[B],
                                      cust_space_id=DEFAULT_CUST_SPACE_ID,
                                      tiers={B: "TIER_250"}, now=clock())
    # the first page (the oldest 100 messages; the few the sandbox failed do not count) is kept
    assert reach[B] == {to: at for to, at in whole[B].items() if int(to[-8:]) < PAGE_SIZE}
    assert len(whole[B]) > len(reach[B]) > PAGE_SIZE * 0.9
    assert "page 2 failed (RequestNotSentError" in warning and "journal alone" in warning


def test_without_a_cust_space_id_the_service_s_record_is_not_read(sandbox: Sandbox) -> None:
    watching = Watching(sandbox)
    reach, (warning,) = service_reach(watching.client(), senders=[B], cust_space_id=None,
                                      tiers={B: "TIER_250"}, now=NOW)
    assert reach == {} and "No CustSpaceId" in warning and sum(watching.calls.values()) == 0


async def test_the_asyncio_listing_reads_the_same_record(sandbox: Sandbox,
                                                         clock: FakeClock) -> None:
    send_from(sandbox, B, ["8613900000001", "8613900000002"])
    sync, _ = service_reach(sandbox.client(), senders=[B], cust_space_id=DEFAULT_CUST_SPACE_ID,
                            tiers={B: "TIER_250"}, now=clock())
    async with sandbox.async_client() as client:
        asynchronous, warnings = await aservice_reach(
            client, senders=[B], cust_space_id=DEFAULT_CUST_SPACE_ID, tiers={B: "TIER_250"},
            now=clock())
    assert (asynchronous, warnings) == (sync, []) and len(sync[B]) == 2
