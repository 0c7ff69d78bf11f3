"""The receipt store: de-duplication, raw events kept, durability across reopening,
undecodable queue messages kept, and the inbound 24-hour window."""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from cams_notebook.receipts.events import BodyError
from cams_notebook.receipts.store import ReceiptStore
from tests.receipt_helpers import receipt


@dataclass
class Queued:
    message_id: str
    body: str


def b64(value: object) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def test_duplicates_are_absorbed_and_counted_as_arrivals() -> None:
    store = ReceiptStore()
    first = store.add([receipt(1), receipt(1, "Read"), receipt(1)])
    again = store.add([receipt(1, status="delivered")])  # same event, other capitalisation
    assert (first.new, first.duplicates, again.new, again.duplicates) == (2, 1, 0, 1)
    frame = store.to_frame()
    assert frame["status"].tolist() == ["Delivered", "Read"]
    assert frame["arrivals"].tolist() == [3, 1]
    assert frame.loc[0, "raw"] == receipt(1)  # the event as it first arrived


def test_a_batch_with_an_invalid_event_stores_nothing() -> None:
    store = ReceiptStore()
    with pytest.raises(BodyError):
        store.add([receipt(1), {"Status": "Read"}])
    assert len(store) == 0


def test_queue_messages_decode_and_undecodable_ones_are_kept_not_dropped() -> None:
    store = ReceiptStore()
    result = store.add_queue_messages([
        Queued("Q1", b64(receipt(1))),
        Queued("Q2", json.dumps([receipt(2), receipt(3)])),  # raw JSON, an array
        Queued("Q3", "%%% not a body"),
        Queued("Q4", b64({"neither": "status nor inbound"})),
        Queued("Q1", b64(receipt(1))),  # a redelivery
    ])
    assert (result.new, result.duplicates, result.rejected) == (5, 1, 2)
    assert store.count("status") == 3 and store.count("undecodable") == 2
    bad = store.to_frame("undecodable")
    assert bad["raw"].tolist()[0] == "%%% not a body" and "JSON" in bad["error_description"][0]


def test_a_file_store_survives_reopening_with_its_states(tmp_path: Path) -> None:
    path = tmp_path / "receipts.db"
    with ReceiptStore(path) as store:
        store.add([receipt(1, "Sent"), receipt(1, "Read"),
                   receipt(2, "Failed", ErrorCode="131026")])
        store.add([{"MessageId": "i1", "From": "+15550100001", "Timestamp": 1_691_043_638_000,
                    "Message": "hi"}])
    with ReceiptStore(path) as reopened:
        states = reopened.states()
        assert states["m000001"].status == "read" and states["m000002"].failed_code == "131026"
        assert reopened.window_open("15550100001", now=1_691_043_638 + 3600)
        assert reopened.count() == 4


def test_the_store_uses_wal_and_full_sync(tmp_path: Path) -> None:
    store = ReceiptStore(tmp_path / "r.db")
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_inbound_messages_open_the_24_hour_window() -> None:
    store = ReceiptStore(clock=lambda: 1_800_000_000.0)
    assert not store.window_open("15550100001")
    store.add([{"MessageId": "i1", "From": "15550100001",
                "Timestamp": 1_800_000_000_000 - 3_600_000, "Message": "hi", "Type": "TEXT"}])
    assert store.window_open("+1 5550100001")
    assert not store.window_open("15550100001", now=1_800_000_000.0 + 24 * 3600)
    assert store.last_inbound("15550100001") is not None
    [message] = store.inbound()
    assert message.message == "hi"


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    store = ReceiptStore(tmp_path / "r.db")

    def write(worker: int) -> None:
        for batch in range(10):
            store.add([receipt(worker * 1000 + batch * 10 + i) for i in range(10)])

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count("status") == 400 and len(store.states()) == 400


def test_version_moves_only_when_something_new_is_stored() -> None:
    store = ReceiptStore()
    store.add([receipt(1)])
    version = store.version
    store.add([receipt(1)])
    assert store.version == version
    store.add([receipt(2)])
    assert store.version == version + 1
