"""ChatAppAudit events reach the store both ways: pulled from their own SMQ queue, and pushed
to the receipts' callback URL, next to the receipts, while a campaign polls the store.

The bodies are built here; the sandbox's queue only carries them (an audit queue is opened on
it for these tests, whatever the sandbox itself emits)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cams_notebook.receipts.queue import MESSAGE_TYPES, ReceiptQueue, audit_queue_name
from cams_notebook.receipts.server import ReceiptServer
from cams_notebook.sandbox import Sandbox, queue_service
from cams_notebook.testing import FakeClock
from tests.helpers import sandbox_at
from tests.receipt_helpers import receipt

MS = 1_764_700_000_000
AUDIT_QUEUE = "Alicom-Queue-1234567890123456-ChatAppAudit"


def quality(i: int, status: str = "DOWNGRADE", rating: str = "YELLOW") -> dict[str, Any]:
    return {"Type": "phoneQualityUpdate", "PhoneNumber": f"86138{i:08d}", "Status": status,
            "CurrentLimit": "TIER_250", "QualityRating": rating, "EventTime": MS + i}


PAUSED = {"TemplateCode": "744c", "TemplateName": "order_update", "Language": "en_US",
          "AuditStatus": "paused", "Reason": "Template quality is low", "EventTime": MS}


@pytest.fixture
def audit_queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Sandboxes made from here on have a ChatAppAudit queue (as the service has)."""
    types = tuple(dict.fromkeys((*queue_service.MESSAGE_TYPES, "ChatAppAudit")))
    monkeypatch.setattr(queue_service, "MESSAGE_TYPES", types)
    yield


def audit_consumer(sb: Sandbox, clock: FakeClock, **kwargs: Any) -> ReceiptQueue:
    kwargs.setdefault("store", ":memory:")
    return ReceiptQueue(sb.client(clock=clock), message_type="ChatAppAudit", wait_seconds=1,
                        clock=clock, **kwargs)


# -- the queue -------------------------------------------------------------------------------


def test_the_audit_queue_is_named_after_the_status_queue(clock: FakeClock) -> None:
    assert audit_consumer(sandbox_at(clock), clock).queue_name == AUDIT_QUEUE
    assert audit_queue_name("Alicom-Queue-42-ChatAppInbound") == "Alicom-Queue-42-ChatAppAudit"
    assert audit_queue_name("my-own-queue") is None
    assert MESSAGE_TYPES == ("ChatAppStatus", "ChatAppInbound", "ChatAppAudit")


def test_an_unknown_message_type_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="one of ChatAppStatus, ChatAppInbound, ChatAppAudit, "
                                         "not 'ChatAppAudits'"):
        ReceiptQueue(Sandbox().client(), message_type="ChatAppAudits", store=":memory:")


@pytest.mark.usefixtures("audit_queue")
@pytest.mark.parametrize("raw_bodies", [False, True])
def test_audit_events_are_pulled_from_their_queue_stored_then_deleted(
        clock: FakeClock, raw_bodies: bool) -> None:
    sb = sandbox_at(clock)
    sb.core.mns.raw_bodies = raw_bodies
    sb.core.mns.duplicate_rate = 0.3  # the queue's own at-least-once duplicates
    events = [quality(i) for i in range(20)] + [PAUSED]
    for event in events:
        sb.core.mns.enqueue("ChatAppAudit", event, clock())
    sb.core.mns.enqueue("ChatAppAudit", dict(PAUSED), clock())  # CAMS's duplicate
    queue = audit_consumer(sb, clock)
    store = queue.drain(wait_seconds=0)
    assert sb.core.mns.depth("ChatAppAudit") == 0
    assert [e.wire() for e in store.audits()] == events
    assert store.count() == store.count("audit") == 21
    assert store.to_frame("audit")["source"].unique().tolist() == ["queue"]
    assert [e.bad_news for e in store.audits()][-1] == (
        "template order_update (en_US) was paused: Template quality is low")


@pytest.mark.usefixtures("audit_queue")
def test_an_audit_body_may_carry_a_list_and_a_bad_item_is_kept_aside(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    sb.core.mns.raw_bodies = True
    body: Any = [quality(1), {"Type": "phoneQualityUpdate", "EventTime": "soon"}, PAUSED]
    sb.core.mns.enqueue("ChatAppAudit", body, clock())  # one queue message, three events
    queue = audit_consumer(sb, clock)
    result = queue.poll(0)
    assert (result.stored.new, result.stored.rejected, result.deleted) == (3, 1, 1)
    assert queue.store.count("audit") == 2 and queue.store.count("undecodable") == 1
    assert "invalid audit event" in result.stored.errors[0]


@pytest.mark.usefixtures("audit_queue")
def test_a_campaign_polling_the_store_sees_a_red_rating_pulled_in_the_background() -> None:
    """The engine's loop against a running consumer thread: version, then audits_after."""
    sb = Sandbox(seed=3, receipt_delay=0.0)
    for event in (quality(1, "UPGRADE", "GREEN"), quality(2, "DOWNGRADE", "RED")):
        sb.core.mns.enqueue("ChatAppAudit", event, time.time())
    queue = ReceiptQueue(sb.client(), message_type="ChatAppAudit", store=":memory:",
                         wait_seconds=1)
    store = queue.store
    seen: list[str] = []
    version, last = store.version, 0
    queue.start()
    try:
        deadline = time.monotonic() + 20
        while not seen and time.monotonic() < deadline:
            if store.version != version:
                version = store.version
                for seq, event in store.audits_after(last):
                    last = seq
                    if event.bad_news:
                        seen.append(event.bad_news)
            time.sleep(0.02)
    finally:
        queue.stop()
    assert seen == ["sender 8613800000002: quality rating fell to RED (messaging limit now "
                    "TIER_250)"]
    assert store.count("audit") == 2


# -- the HTTP callback -------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[ReceiptServer]:
    with ReceiptServer(store=":memory:") as srv:
        yield srv


def test_audit_events_pushed_with_receipts_are_stored_by_kind(server: ReceiptServer) -> None:
    push = [receipt(1), quality(1, "FLAGGED"), receipt(2, "Failed", ErrorCode="130429"), PAUSED]
    with httpx.Client(base_url=server.url) as http:
        first = http.post("/", json=push)
        again = http.post("/", json=push[1:2])  # CAMS resends
    assert first.status_code == again.status_code == 200
    assert first.json() == {"code": 0, "msg": "success"}
    store = server.store
    assert (store.count("status"), store.count("audit")) == (2, 2)
    assert [e.kind for _, e in store.audits_after(0)] == ["phone", "template"]
    assert store.to_frame("audit")["arrivals"].tolist() == [2, 1]
    [(code, at)] = store.failures(["m000001", "m000002"]).values()
    assert code == "130429" and at is not None and at.timestamp() == 1_691_043_638.002
    assert server.stats["new"] == 4 and server.stats["duplicates"] == 1


def test_a_malformed_audit_event_is_rejected_and_the_rest_of_its_push_stored(
        server: ReceiptServer) -> None:
    late = dict(quality(2), EventTime=10**16)
    with httpx.Client(base_url=server.url) as http:
        mixed = http.post("/", json=[quality(1), late, {"Type": "wabaAccountUpdate",
                                                        "EventTime": []}])
        only_bad = http.post("/", content=json.dumps([late]))
    assert mixed.status_code == 200 and only_bad.status_code == 400
    assert server.store.count("audit") == 1
    reasons = [row["reason"] for row in server.rejected.rows()]
    assert reasons[0] == ("EventTime must be Unix milliseconds from 0 to 7258118400000 "
                          "(year 2200), not 10000000000000000")
    assert reasons[1].startswith("invalid audit event: ")
    assert "EventTime must be" in only_bad.text
