"""The queue consumer: queue discovery, temporary credentials and their refresh, endpoint
presets, store-then-delete with crashes and redeliveries, and the background thread."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from cams_notebook import Client, Message
from cams_notebook.receipts import queue as rq
from cams_notebook.receipts.queue import MNS_PRESETS, ReceiptQueue
from cams_notebook.sandbox import Sandbox
from cams_notebook.testing import FakeClock
from tests.helpers import sandbox_at, template_fields
from tests.receipt_helpers import receipt

STATUS_QUEUE = "Alicom-Queue-1234567890123456-ChatAppStatus"


def queue_for(sb: Sandbox, clock: FakeClock, **kwargs: Any) -> ReceiptQueue:
    kwargs.setdefault("store", ":memory:")
    kwargs.setdefault("wait_seconds", 1)
    return ReceiptQueue(sb.client(clock=clock), clock=clock, **kwargs)


def key(event: dict[str, Any]) -> tuple[str, str, int]:
    return event["MessageId"], event["Status"], event["Timestamp"]


def test_the_queue_name_is_found_from_the_phone_numbers(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    assert queue_for(sb, clock).queue_name == STATUS_QUEUE
    inbound = queue_for(sb, clock, message_type="ChatAppInbound")
    assert inbound.queue_name == "Alicom-Queue-1234567890123456-ChatAppInbound"


@pytest.mark.parametrize("region, preset", [("ap-southeast-1", "intl"), ("cn-hangzhou", "cn"),
                                            ("eu-central-1", "intl")])
def test_endpoints_follow_the_region_unless_told(region: str, preset: str) -> None:
    client = Client(access_key_id="id", access_key_secret="secret", region=region)
    queue = ReceiptQueue(client, queue_name="q", store=":memory:")
    assert (queue.dybaseapi_endpoint, queue.mns_endpoint) == (MNS_PRESETS[preset].dybaseapi,
                                                              MNS_PRESETS[preset].mns)
    told = ReceiptQueue(client, queue_name="q", store=":memory:", preset="cn",
                        mns_endpoint="https://9.mns.cn-shanghai.aliyuncs.com")
    assert told.dybaseapi_endpoint == MNS_PRESETS["cn"].dybaseapi
    assert told.mns_endpoint == "https://9.mns.cn-shanghai.aliyuncs.com"


def test_a_sandbox_client_uses_the_sandbox_for_both(clock: FakeClock) -> None:
    queue = queue_for(sandbox_at(clock), clock)
    assert queue.dybaseapi_endpoint == queue.mns_endpoint == queue.client.base_url


class Recording(httpx.BaseTransport):
    """A transport that notes each request's action (or SMQ path), then passes it on."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.seen = inner, []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request.headers.get("x-acs-action") or request.url.path)
        return self.inner.handle_request(request)


def test_dybaseapi_and_smq_calls_go_over_the_queue_s_own_transport(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    sb.core.mns.enqueue("ChatAppStatus", receipt(1), clock())
    client = sb.client(clock=clock)
    recording = Recording(sb.transport)
    queue = ReceiptQueue(client, store=":memory:", wait_seconds=0, transport=recording,
                         clock=clock)
    assert queue.poll(0).stored.new == 1
    assert recording.seen[0] == "QueryTokenForMnsQueue"
    assert {p for p in recording.seen[1:]} == {f"/queues/{STATUS_QUEUE}/messages"}
    queue.close()  # its own HTTP clients: the CAMS client is still usable
    assert client.call("QueryChatappPhoneNumbers", {})["PhoneNumbers"]


def test_an_async_client_is_refused() -> None:
    with pytest.raises(TypeError, match="blocking"):
        ReceiptQueue(Sandbox().async_client(), store=":memory:")  # type: ignore[arg-type]


def test_the_token_is_renewed_two_minutes_before_it_expires(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    sb.core.mns.token_ttl = 600
    queue = queue_for(sb, clock)
    first = queue.credentials()
    assert first.expires_at == pytest.approx(clock() + 600)
    clock.now += 479
    assert queue.credentials() is first
    clock.now += 2
    assert queue.credentials().access_key_id != first.access_key_id
    assert queue.poll(0).received == 0  # and the new one works


def test_a_short_lived_token_is_used_for_half_its_life(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    sb.core.mns.token_ttl = 60
    queue = queue_for(sb, clock)
    first = queue.credentials()
    clock.now += 29
    assert queue.credentials() is first
    clock.now += 2
    assert queue.credentials() is not first


def test_a_refused_token_is_replaced_once_and_the_call_retried(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    sb.core.mns.enqueue("ChatAppStatus", receipt(1), clock())
    queue = queue_for(sb, clock)
    queue.credentials()
    sb.core.mns._tokens.clear()  # revoked behind our back
    assert queue.poll(0).stored.new == 1


def test_the_other_dybaseapi_version_is_tried_when_one_is_refused(
        clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rq, "DYBASEAPI_VERSIONS", ("2018-05-01", "2017-05-25"))
    assert queue_for(sandbox_at(clock), clock).credentials().access_key_id.startswith("STS.")


def test_poll_stores_then_deletes(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    for i in range(20):
        sb.core.mns.enqueue("ChatAppStatus", receipt(i), clock())
    queue = queue_for(sb, clock)
    result = queue.poll(0)
    assert (result.received, result.stored.new, result.deleted) == (16, 16, 16)
    assert sb.core.mns.depth() == 4
    queue.drain(wait_seconds=0)
    assert queue.store.count("status") == 20 and sb.core.mns.depth() == 0


def test_a_poison_message_is_kept_and_deleted(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    sb.core.mns.raw_bodies = True
    sb.core.mns.enqueue("ChatAppStatus", {"no": "status"}, clock())
    queue = queue_for(sb, clock)
    assert queue.poll(0).stored.rejected == 1
    assert sb.core.mns.depth() == 0 and queue.store.count("undecodable") == 1


class Crash(Exception):
    pass


def test_draining_10000_receipts_with_crashes_and_redeliveries_loses_and_doubles_none(
        clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    sb = sandbox_at(clock)
    sb.core.mns.visibility_timeout = 5
    sb.core.mns.duplicate_rate = 0.02  # the queue's own at-least-once duplicates
    events = [receipt(i, "Read" if i % 3 else "Delivered") for i in range(10_000)]
    for event in events:
        sb.core.mns.enqueue("ChatAppStatus", event, clock())
    for event in events[:300]:  # CAMS's duplicates: the same receipt in another queue message
        sb.core.mns.enqueue("ChatAppStatus", dict(event), clock())
    queue = queue_for(sb, clock)
    store_calls = delete_calls = 0
    add, delete = queue.store.add_queue_messages, queue._delete

    def crash_before_storing(messages: Any, **kw: Any) -> Any:
        nonlocal store_calls
        store_calls += 1
        if store_calls % 11 == 0:
            raise Crash("died before the commit")
        return add(messages, **kw)

    def crash_before_deleting(messages: Any, result: Any) -> None:
        nonlocal delete_calls
        delete_calls += 1
        if delete_calls % 7 == 0:
            raise Crash("died after the commit, before the delete")
        delete(messages, result)

    monkeypatch.setattr(queue.store, "add_queue_messages", crash_before_storing)
    monkeypatch.setattr(queue, "_delete", crash_before_deleting)
    started = time.monotonic()
    while True:
        try:
            if not queue.poll(1).received and sb.core.mns.depth() == 0:
                break
        except Crash:
            continue
    elapsed = time.monotonic() - started

    stored = queue.store.to_frame()
    assert len(stored) == 10_000
    assert {key(e) for e in events} == {key(raw) for raw in stored["raw"]}
    by_key = {key(e): e for e in events}
    assert all(raw == by_key[key(raw)] for raw in stored["raw"])  # content, not only keys
    assert stored["arrivals"].sum() > 10_300  # redeliveries happened and were absorbed
    assert sb.core.mns.stats["redelivered"] > 0 and queue.totals.already_gone > 0
    assert elapsed < 30


def test_a_campaign_s_receipts_are_pulled_over_the_loopback_server() -> None:
    sb = Sandbox(seed=11, receipt_delay=0.0)
    server = sb.serve()
    client = Client(access_key_id=sb.access_key_id, access_key_secret=sb._secret,
                    endpoint=server.url)
    try:
        for i in range(30):
            client.send(Message(**template_fields(to=f"86139{i:08d}")))
        queue = ReceiptQueue(client, store=":memory:")
        assert queue.mns_endpoint == server.url
        store = queue.drain(wait_seconds=0)
        queue.close()
    finally:
        client.close()
        sb.stop()
    expected = {key(r) for r in sb.receipts()}
    assert {key(raw) for raw in store.to_frame()["raw"]} == expected
    assert len(store.states()) == 30


def test_the_background_thread_pulls_until_stopped() -> None:
    sb = Sandbox(seed=2, receipt_delay=0.0)
    client = sb.client()
    queue = ReceiptQueue(client, store=":memory:", wait_seconds=1)
    queue.start()
    try:
        for i in range(10):
            client.send(Message(**template_fields(to=f"86139{i:08d}")))
        expected = len({key(r) for r in sb.receipts()})
        deadline = time.monotonic() + 10
        while queue.store.count("status") < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert queue.running
    finally:
        queue.stop()
    assert queue.store.count("status") == expected and not queue.running
    assert "stopped" in repr(queue)


def test_inbound_messages_are_pulled_into_the_same_store(clock: FakeClock) -> None:
    sb = sandbox_at(clock)
    sb.record_inbound("+15550100003", text="stop")
    queue = queue_for(sb, clock, message_type="ChatAppInbound")
    queue.drain(wait_seconds=0)
    [message] = queue.store.inbound()
    assert message.from_ == "15550100003" and message.message == "stop"
    assert queue.store.window_open("15550100003")
    assert json.loads(json.dumps(message.wire()))["Message"] == "stop"
