"""Following rows to delivery while a campaign runs (campaigns/delivery_follow.py + engine).

A scripted platform stands behind a scripted CAMS: every accepted message gets its verdict
a second later (Delivered, or Failed with the code the script gives that recipient's n-th
message), and ChatAppAudit events can be dropped in at a chosen time. Everything runs on
the virtual-time loop, so "within one poll" and "24 hours later" are exact.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from cams_notebook.campaigns.delivery_follow import DeliveryFollower
from cams_notebook.campaigns.engine import CampaignEngine
from cams_notebook.campaigns.journal import MemoryJournal, SqliteJournal
from cams_notebook.errors import PlatformStopError
from cams_notebook.models import Message, SendResult
from tests.campaigns.test_engine import ScriptedClient, busiest_second, numbers, plans_for
from tests.virtual_time import VirtualTime

SENDER = "8613800000000"


@pytest.fixture
def vt() -> Iterator[VirtualTime]:
    virtual = VirtualTime()
    yield virtual
    virtual.close()


@dataclass
class _State:
    status: str
    failed_code: str | None = None
    failed_ms: int | None = None


@dataclass
class _Audit:
    bad_news: str | None
    phone_number: str | None = None
    template_code: str | None = None


class Platform(ScriptedClient):
    """CAMS accepts everything; a second later the platform's verdict is in the store."""

    def __init__(self, vt: VirtualTime, verdicts: dict[str, list[str]] | None = None) -> None:
        super().__init__()
        self.vt = vt
        self.verdicts = {to: list(codes) for to, codes in (verdicts or {}).items()}
        self.sent: dict[str, tuple[float, str]] = {}
        self.audits: list[tuple[float, _Audit]] = []
        self.polls = 0

    async def send(self, message: Message) -> SendResult:
        result = await super().send(message)
        assert result.message_id is not None
        self.sent[result.message_id] = (self.vt.loop.time(), message.to)
        return result

    # -- the ReceiptSource the follower reads ---------------------------------------------

    @property
    def version(self) -> int:
        self.polls += 1
        return self.polls  # always "something new": the follower looks every poll

    def audits_after(self, seq: int = 0) -> list[tuple[int, Any]]:
        now = self.vt.loop.time()
        return [(i + 1, a) for i, (t, a) in enumerate(self.audits) if t <= now and i + 1 > seq]

    def states_of(self, message_ids: Iterable[str]) -> dict[str, Any]:
        now, out = self.vt.loop.time(), {}
        for message_id in message_ids:
            at, to = self.sent[message_id]
            if now < at + 1.0:
                continue
            codes = self.verdicts.get(to)
            nth = [m for m, (_, t) in self.sent.items() if t == to].index(message_id)
            code = codes[nth] if codes and nth < len(codes) else None
            ms = int((self.vt.wall.start + at + 1.0) * 1000)
            out[message_id] = (_State("failed", code, ms) if code and code != "ok"
                               else _State("delivered"))
        return out


def run(vt: VirtualTime, platform: Platform, rows: list[str], *, ledger: Any = None,
        follow_for: float = 30.0, **kwargs: Any) -> tuple[CampaignEngine, dict[str, Any]]:
    follower = DeliveryFollower(platform, senders=[SENDER], templates=["830174529611842305"],
                                follow_for=follow_for, clock=vt.loop.time, wall=vt.wall)
    kwargs.setdefault("sender_mps", 80)
    engine = CampaignEngine(platform, qps=100, ledger=ledger or MemoryJournal(),
                            follower=follower, wall=vt.wall, **kwargs)
    results = vt.run(engine.run([plans_for(rows)]))
    return engine, {row.to: row for _, row in results.values()}


def test_a_130429_refusal_is_sent_again_and_the_sender_slows_down(vt: VirtualTime) -> None:
    rows = numbers(40)
    platform = Platform(vt, {rows[3]: ["130429"], rows[7]: ["130429"]})
    engine, out = run(vt, platform, rows)
    assert {r.status for r in out.values()} == {"sent"}
    assert out[rows[3]].attempts == 2 and out[rows[3]].code == "OK"
    assert engine.counts.refused == 2 and engine.counts.sent == 40
    window = engine.pacer.sender_window(SENDER)
    assert window is not None and window.throttles == 2  # told so, it slowed down
    assert sum(1 for _, to in platform.sent.values() if to == rows[3]) == 2


def test_a_131056_refusal_waits_four_seconds_then_goes_again(vt: VirtualTime) -> None:
    rows = numbers(5)
    platform = Platform(vt, {rows[0]: ["131056"]})
    _, out = run(vt, platform, rows)
    times = sorted(t for t, to in platform.sent.values() if to == rows[0])
    assert len(times) == 2 and times[1] - times[0] >= 1.0 + 4.0
    assert out[rows[0]].status == "sent"


def test_a_row_refused_too_often_fails_with_the_code(vt: VirtualTime) -> None:
    rows = numbers(2)
    platform = Platform(vt, {rows[0]: ["130429"] * 10})
    _, out = run(vt, platform, rows)
    assert out[rows[0]].status == "failed" and out[rows[0]].code == "130429"
    assert out[rows[0]].retry_safe  # never delivered: a later run may send it
    assert sum(1 for _, to in platform.sent.values() if to == rows[0]) == 6  # 1 + 5 resends


def test_131049_is_capped_for_24_hours_then_a_rerun_sends_it(vt: VirtualTime,
                                                              tmp_path: Any) -> None:
    rows = numbers(3)
    platform = Platform(vt, {rows[1]: ["131049"]})
    journal = SqliteJournal(tmp_path / "j.db")
    engine, out = run(vt, platform, rows, ledger=journal)
    capped = out[rows[1]]
    assert capped.status == "capped" and capped.code == "131049"
    sent_at = vt.wall.start + min(t for t, to in platform.sent.values() if to == rows[1])
    failed_ms = int((sent_at + 1.0) * 1000)  # the receipt's time, in ms as receipts carry it
    expected = datetime.fromtimestamp(failed_ms / 1000, timezone.utc) + timedelta(hours=24)
    assert datetime.fromisoformat(capped.eligible_at or "") == expected
    assert engine.counts.capped == 1 and engine.counts.sent == 2

    # the next morning (23 h later): still capped, nothing sent
    vt.wall.advance(23 * 3600)
    before = len(platform.sent)
    _, again = run(vt, platform, rows, ledger=journal)
    assert again[rows[1]].status == "capped" and len(platform.sent) == before
    # 24 h after the failure: sent
    vt.wall.advance(3600 + 2)
    _, later = run(vt, platform, rows, ledger=journal)
    assert later[rows[1]].status == "sent" and len(platform.sent) == before + 1
    assert later[rows[0]].status == "sent" and later[rows[0]].attempts == 1  # replayed
    journal.close()


def test_other_failures_stay_sent_and_say_so_in_delivery(vt: VirtualTime) -> None:
    rows = numbers(3)
    platform = Platform(vt, {rows[2]: ["131026"]})
    engine, out = run(vt, platform, rows)
    assert out[rows[2]].status == "sent"
    assert engine.follower is not None
    assert engine.follower.delivery[out[rows[2]].key] == ("failed", "131026")
    assert engine.follower.delivery[out[rows[0]].key] == ("delivered", None)


def test_a_red_quality_event_stops_the_campaign_within_one_poll(vt: VirtualTime) -> None:
    rows = numbers(400)
    platform = Platform(vt)
    platform.audits.append((2.0, _Audit("sender 8613800000000 is rated RED",
                                        phone_number=SENDER)))
    engine, out = run(vt, platform, rows)
    assert isinstance(engine.stop_reason, PlatformStopError)
    assert "RED" in str(engine.stop_reason)
    last_request = max(t for t, _ in platform.sent.values())
    assert last_request <= 2.0 + 1.0  # the event came at 2.0; one poll is 1 s
    statuses = [r.status for r in out.values()]
    assert statuses.count("not_sent") > 100
    assert set(statuses) <= {"sent", "not_sent"}


def test_news_about_another_sender_does_not_stop_it(vt: VirtualTime) -> None:
    rows = numbers(100)
    platform = Platform(vt)
    platform.audits.append((0.5, _Audit("8613800000999 is RED", phone_number="8613800000999")))
    engine, out = run(vt, platform, rows)
    assert engine.stop_reason is None
    assert {r.status for r in out.values()} == {"sent"}


def test_an_old_event_does_not_stop_a_new_campaign(vt: VirtualTime) -> None:
    platform = Platform(vt)
    platform.audits.append((0.0, _Audit("it was RED yesterday", phone_number=SENDER)))
    engine, out = run(vt, platform, numbers(10))
    assert engine.stop_reason is None and len(out) == 10


def test_it_follows_at_most_follow_for_seconds_after_the_last_request(vt: VirtualTime) -> None:
    class Silent(Platform):
        def states_of(self, message_ids: Iterable[str]) -> dict[str, Any]:
            return {}  # no receipt ever comes

    platform = Silent(vt)
    began = vt.loop.time()
    run(vt, platform, numbers(5), follow_for=12.0)
    assert 12.0 <= vt.loop.time() - began <= 12.0 + 2.0


def test_with_every_verdict_in_it_ends_without_waiting_follow_for(vt: VirtualTime) -> None:
    platform = Platform(vt)
    began = vt.loop.time()
    run(vt, platform, numbers(5), follow_for=600.0)
    assert vt.loop.time() - began < 5.0


def test_a_stop_while_a_refused_row_waits_keeps_it_for_the_next_run(vt: VirtualTime) -> None:
    rows = numbers(2)
    platform = Platform(vt, {rows[0]: ["131056"]})
    journal = MemoryJournal()
    follower = DeliveryFollower(platform, senders=[SENDER], clock=vt.loop.time, wall=vt.wall)
    engine = CampaignEngine(platform, qps=100, ledger=journal, follower=follower, wall=vt.wall)

    async def go() -> Any:
        task = asyncio.ensure_future(engine.run([plans_for(rows)]))
        await asyncio.sleep(2.5)  # the refusal came at ~1 s; its resend waits 4 s
        engine.stop()
        return await task

    results = vt.run(go())
    out = {row.to: row for _, row in results.values()}
    assert out[rows[0]].status == "failed" and out[rows[0]].retry_safe
    assert journal.get_many([out[rows[0]].key])[out[rows[0]].key].retry_safe


def test_refusals_never_push_the_sender_over_its_rate(vt: VirtualTime) -> None:
    rows = numbers(300)
    platform = Platform(vt, {to: ["130429"] for to in rows[::10]})
    _, out = run(vt, platform, rows)
    assert {r.status for r in out.values()} == {"sent"}
    assert busiest_second([t for t, _ in platform.sent.values()]) <= 80
