"""Audit events in the receipt store: kept in their own table, de-duplicated, durable across
reopening, and the campaign-facing questions (audits_after, failures, version) answered while
a consumer thread writes."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from cams_notebook.receipts.events import BodyError
from cams_notebook.receipts.store import ReceiptStore
from tests.receipt_helpers import receipt

MS = 1_764_700_000_000
SENDER = "8613800000000"


@dataclass
class Queued:
    message_id: str
    body: str


def quality(i: int, status: str = "DOWNGRADE", rating: str = "YELLOW") -> dict[str, Any]:
    """A phoneQualityUpdate for sender number ``i``."""
    return {"Type": "phoneQualityUpdate", "PhoneNumber": f"86138{i:08d}", "Status": status,
            "CurrentLimit": "TIER_250", "QualityRating": rating, "WabaId": "9099999990123",
            "EventTime": MS + i}


PAUSED = {"TemplateCode": "744c", "TemplateName": "order_update", "Language": "en_US",
          "AuditStatus": "paused", "Reason": "Template quality is low", "EventTime": MS}


def test_audit_events_are_kept_apart_de_duplicated_and_counted() -> None:
    store = ReceiptStore()
    first = store.add([receipt(1), quality(1), PAUSED, quality(1)])
    again = store.add([dict(PAUSED), receipt(1)])
    assert (first.new, first.duplicates, again.new, again.duplicates) == (3, 1, 0, 2)
    assert (store.count("audit"), store.count("status"), store.count()) == (2, 1, 3)
    assert [e.kind for e in store.audits()] == ["phone", "template"]
    assert store.receipts()[0].message_id == "m000001"  # receipts are where they were
    assert store.states().keys() == {"m000001"}  # audit events fold into no message


def test_the_audit_frame_shows_what_each_event_means() -> None:
    store = ReceiptStore()
    store.add([quality(1), quality(2, "FLAGGED"), PAUSED, quality(1)], source="http")
    frame = store.to_frame("audit")
    assert frame["seq"].tolist() == [1, 2, 3]
    assert frame["kind"].tolist() == ["phone", "phone", "template"]
    assert frame["phone_number"].tolist()[:2] == ["8613800000001", "8613800000002"]
    assert frame["status"].tolist() == ["DOWNGRADE", "FLAGGED", "paused"]
    assert frame["quality"].tolist() == ["YELLOW", "YELLOW", None]
    assert frame["bad_news"].notna().tolist() == [False, True, True]
    assert frame["warning"].tolist()[0] == ("sender 8613800000001 was downgraded by Meta "
                                            "(quality rating YELLOW, messaging limit TIER_250)")
    assert frame["arrivals"].tolist() == [2, 1, 1]
    assert frame.loc[0, "at"] == datetime.fromtimestamp((MS + 1) / 1000, timezone.utc)
    assert frame["raw"].tolist() == [quality(1), quality(2, "FLAGGED"), PAUSED]  # as arrived
    assert set(frame["source"]) == {"http"}


def test_an_empty_audit_frame_has_its_columns() -> None:
    frame = ReceiptStore().to_frame("audit")
    assert len(frame) == 0 and {"seq", "bad_news", "warning", "raw"} <= set(frame.columns)


def test_audit_events_survive_reopening_and_sequence_numbers_carry_on(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with ReceiptStore(path) as store:
        store.add([quality(1), PAUSED])
        store.add_queue_messages([Queued("Q1", base64.b64encode(
            json.dumps(quality(2)).encode()).decode())])
    with ReceiptStore(path) as reopened:
        assert [seq for seq, _ in reopened.audits_after(0)] == [1, 2, 3]
        assert reopened.audits_after(0)[1][1].bad_news == \
            "template order_update (en_US) was paused: Template quality is low"
        assert reopened.add([quality(1)]).duplicates == 1  # still known after the reopen
        reopened.add([quality(3, "FLAGGED", "RED")])
        [(seq, event)] = reopened.audits_after(3)
        assert seq > 3 and event.phone_number == "8613800000003"
        assert reopened.to_frame("audit")["source"].tolist() == ["api", "api", "queue", "api"]


def test_audits_after_answers_only_what_is_new() -> None:
    store = ReceiptStore()
    assert store.audits_after() == [] and store.audits_after(10) == []
    assert store.audit_seq == 0
    store.add([quality(i) for i in range(1, 6)])
    seen = store.audits_after(0)
    assert [seq for seq, _ in seen] == [1, 2, 3, 4, 5]
    last = seen[-1][0]
    assert store.audit_seq == last  # where a campaign starting now begins to watch
    assert store.audits_after(last) == []
    store.add([receipt(7), quality(6, "FLAGGED")])  # a receipt between takes no position
    assert [(seq, e.status) for seq, e in store.audits_after(last)] == [(6, "FLAGGED")]
    assert [seq for seq, _ in store.audits_after(2)] == [3, 4, 5, 6]
    store.add([quality(6, "FLAGGED"), quality(7)])  # a duplicate may use up a number...
    [(seq, event)] = store.audits_after(6)
    assert seq > 6 and event.phone_number == "8613800000007"  # ...the order holds
    assert store.audit_seq == seq
    store.add([receipt(8)])
    assert store.audit_seq == seq  # receipts do not move it


def test_audit_events_another_process_writes_are_seen_by_a_store_already_open(
        tmp_path: Path) -> None:
    """A receiver run as ``cams-notebook receipts`` in a terminal, a notebook polling the file."""
    path = tmp_path / "r.db"
    with ReceiptStore(path) as notebook:
        start = notebook.audit_seq
        script = ("import json, sys\n"
                  "from cams_notebook.receipts.store import ReceiptStore\n"
                  "with ReceiptStore(sys.argv[1]) as store:\n"
                  "    store.add(json.loads(sys.argv[2]), source='http')\n")
        subprocess.run([sys.executable, "-c", script, str(path),
                        json.dumps([quality(1), quality(2, "FLAGGED")])], check=True, timeout=60)
        assert [e.status for _, e in notebook.audits_after(start)] == ["DOWNGRADE", "FLAGGED"]
        assert notebook.audit_seq == 2 and notebook.count("audit") == 2


def test_failures_give_the_code_and_time_of_failed_messages_only() -> None:
    store = ReceiptStore()
    store.add([receipt(1, "Sent"), receipt(1, "Failed", ErrorCode="130429",
                                           ErrorDescription="rate limit hit"),
               receipt(2, "Delivered"), receipt(3, "Failed", ErrorCode=131049),
               receipt(4, "Read"), receipt(4, "Failed", ErrorCode="131056", Timestamp=None)])
    asked = ["m000001", "m000002", "m000003", "m000004", "m000099"]
    failed = store.failures(asked)
    assert failed == {
        "m000001": ("130429", datetime.fromtimestamp(1_691_043_638.001, timezone.utc)),
        "m000003": ("131049", datetime.fromtimestamp(1_691_043_638.003, timezone.utc)),
        "m000004": ("131056", None),  # failed, but CAMS gave no time
    }
    assert store.failures(iter(["m000002"])) == {} and store.failures([]) == {}


def test_failures_name_the_earliest_failure_whatever_the_arrival_order() -> None:
    store = ReceiptStore()
    store.add([receipt(1, "Failed", ErrorCode="131047", Timestamp=5_000)])
    store.add([receipt(1, "Failed", ErrorCode="130429", Timestamp=4_000)])
    assert store.failures(["m000001"])["m000001"][0] == "130429"


def test_version_grows_with_every_write_that_stored_something() -> None:
    store = ReceiptStore()
    seen = [store.version]
    store.add([quality(1)])
    seen.append(store.version)
    store.add([quality(1)])  # only a duplicate: nothing new
    seen.append(store.version)
    store.add([receipt(1)])
    seen.append(store.version)
    store.add_queue_messages([Queued("Q1", json.dumps(PAUSED))])
    seen.append(store.version)
    with pytest.raises(BodyError):
        store.add([quality(2), {"neither": "kind"}])  # all-or-nothing: nothing stored
    seen.append(store.version)
    assert seen == [0, 1, 1, 2, 3, 3]
    with pytest.raises(AttributeError):
        store.version = 9  # type: ignore[misc]


def test_a_batch_with_a_bad_audit_event_stores_nothing() -> None:
    store = ReceiptStore()
    with pytest.raises(BodyError, match="invalid audit event"):
        store.add([receipt(1), quality(1), {"Type": "phoneQualityUpdate", "EventTime": "soon"}])
    assert store.count() == 0 and store.version == 0


def test_a_queue_message_mixing_kinds_is_stored_kind_by_kind() -> None:
    store = ReceiptStore()
    body = json.dumps([receipt(1), quality(1), {"MessageId": "i1", "From": "1555", "Message":
                                                "hi", "Timestamp": MS}, PAUSED])
    result = store.add_queue_messages([Queued("Q1", body)])
    assert (result.new, result.rejected) == (4, 0)
    assert {k: store.count(k) for k in ("status", "inbound", "audit")} == {
        "status": 1, "inbound": 1, "audit": 2}


def test_an_event_time_sqlite_cannot_hold_is_kept_in_the_raw_event() -> None:
    store = ReceiptStore()
    huge = dict(quality(1), EventTime=10**30)
    assert store.add_queue_messages([Queued("Q1", json.dumps(huge))]).new == 1
    frame = store.to_frame("audit")
    assert frame["at"].isna().all() and frame.loc[0, "raw"]["EventTime"] == 10**30


def test_a_consumer_thread_adds_while_a_campaign_polls(tmp_path: Path) -> None:
    """The engine's loop: skip while the version is unchanged, else ask for audit events after
    the last one seen and for failures of its messages. Nothing is lost, nothing seen twice,
    no lock-up, and no answer shows half of a write."""
    store = ReceiptStore(tmp_path / "r.db")
    batches = 300
    done = threading.Event()
    errors: list[BaseException] = []

    def consumer() -> None:
        try:
            for i in range(batches):
                store.add_queue_messages([Queued(f"Q{i}", json.dumps(
                    [receipt(i, "Failed", ErrorCode="130429"), quality(i), quality(i)]))])
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=consumer)
    thread.start()
    seen: list[int] = []
    failed: set[str] = set()
    last_seq = last_version = 0
    ids = [f"m{i:06d}" for i in range(batches)]
    while True:
        finished = done.is_set()  # read before polling: one more round after the last write
        version = store.version
        if version != last_version:
            last_version = version
            for seq, event in store.audits_after(last_seq):
                assert seq > last_seq
                seen.append(int(event.phone_number or "0") - 8613800000000)
                last_seq = seq
            failed |= store.failures(ids).keys()
            # a write is whole: a batch's audit event seen means its receipt is folded in
            assert {f"m{n:06d}" for n in seen} <= failed
        if finished:
            break
        done.wait(0.001)  # a poller's pause (returns at once when the consumer is done)
    thread.join(timeout=60)
    assert not thread.is_alive() and not errors
    assert seen == list(range(batches))  # each once, in the order written
    assert failed == set(ids)
