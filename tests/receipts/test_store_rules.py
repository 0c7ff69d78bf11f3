"""The receipt store, rule by rule: what a write reports (and how reports add up over polls),
the frame of raw events (columns, dtypes, values), what a reopened file remembers, the
numbers and times of the inbound 24-hour window, and a write that fails half-way."""

from __future__ import annotations

import base64
import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd
import pytest

from cams_notebook.receipts.events import Receipt
from cams_notebook.receipts.funnel import Funnel
from cams_notebook.receipts.store import DEFAULT_STORE, AddResult, ReceiptStore, open_store
from tests.receipt_helpers import receipt

CLOCK = 1_800_000_000.5
T0 = 1_800_000_000_000


@dataclass
class Queued:
    message_id: str
    body: str


def b64(value: object) -> str:
    return base64.b64encode(json.dumps(value, ensure_ascii=False).encode()).decode()


def inbound(ms: int | None, number: str | None = "15550100001", mid: str = "i1",
            **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"MessageId": mid, "Message": "hi", **extra}
    if number is not None:
        event["From"] = number
    if ms is not None:
        event["Timestamp"] = ms
    return event


# -- what a write reports -------------------------------------------------------------------------


def test_the_reports_of_several_polls_add_up() -> None:
    """The queue consumer sums one AddResult per poll; every count adds and errors append."""
    total = AddResult(new=1, duplicates=2, rejected=3, errors=["Q1: bad"])
    total += AddResult(new=10, duplicates=20, rejected=30, errors=["Q2: worse"])
    assert total == AddResult(new=11, duplicates=22, rejected=33, errors=["Q1: bad", "Q2: worse"])


def test_every_duplicate_in_a_batch_is_counted() -> None:
    result = ReceiptStore().add([receipt(1)] * 4)
    assert (result.new, result.duplicates) == (1, 3)


def test_a_queue_poll_reports_each_bad_body_and_item_by_the_queue_message_id() -> None:
    store = ReceiptStore()
    result = store.add_queue_messages([
        Queued("Q1", "%%% not a body"),
        Queued("Q2", json.dumps([{"neither": "status nor inbound"}, receipt(2)])),
    ])
    assert result == AddResult(new=3, duplicates=0, rejected=2, errors=[
        "Q1: body is neither JSON nor base64 JSON",
        "Q2[0]: an event needs Status (ChatAppStatus), Message (ChatAppInbound), or "
        "Type or AuditStatus with TemplateCode (ChatAppAudit)"])
    assert store.states()["m000002"].status == "delivered"  # the item after the bad one


def test_an_undecodable_item_is_kept_with_its_reason_and_text() -> None:
    store = ReceiptStore()
    store.add_queue_messages([Queued("Q7", b64([{"Nota": "entrega n\u00e3o feita"}]))])
    bad = store.to_frame("undecodable")
    assert bad["error_description"].tolist() == [
        "an event needs Status (ChatAppStatus), Message (ChatAppInbound), or "
        "Type or AuditStatus with TemplateCode (ChatAppAudit)"]
    assert bad["raw"].tolist() == ['{"Nota": "entrega n\u00e3o feita"}']  # readable, unescaped
    assert bad["source"].tolist() == ["queue"]


def test_the_store_file_records_which_queue_message_carried_each_event(tmp_path: Path) -> None:
    """Other processes read the file; ``mns_message_id`` ties an event to its queue message."""
    path = tmp_path / "r.db"
    with ReceiptStore(path) as store:
        store.add_queue_messages([Queued("Q1", b64(receipt(1)))])
        store.add([receipt(2)])
    with ReceiptStore(path) as reopened:
        assert reopened.to_frame()["raw"].tolist() == [receipt(1), receipt(2)]
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute(
            "SELECT message_id, source, mns_message_id FROM events ORDER BY seq").fetchall()
    assert rows == [("m000001", "queue", "Q1"), ("m000002", "api", None)]


def test_models_and_read_only_mappings_are_stored_as_they_arrived() -> None:
    store = ReceiptStore()
    model = Receipt.model_validate(receipt(1, "Read", Extra="kept"))
    store.add([model, MappingProxyType(receipt(2))], source="http")
    frame = store.to_frame()
    assert frame["raw"].tolist() == [receipt(1, "Read", Extra="kept"), receipt(2)]
    assert frame["source"].tolist() == ["http", "http"]


def test_a_batch_that_fails_in_the_database_stores_nothing_and_the_store_goes_on() -> None:
    """A Timestamp SQLite cannot hold fails the insert: the transaction is rolled back (the
    first event is not half-stored) and the next write works."""
    store = ReceiptStore()
    with pytest.raises(OverflowError):
        store.add([receipt(1), receipt(2, Timestamp=2**64)])
    assert len(store) == 0 and store.states() == {}
    assert store.add([receipt(1)]).new == 1 and len(store) == 1


def test_the_version_counts_the_writes_that_stored_something() -> None:
    store = ReceiptStore()
    assert store.version == 0
    store.add([receipt(1)])
    store.add([receipt(1)])
    store.add([receipt(2), receipt(3)])
    assert store.version == 2


# -- the frame of raw events ----------------------------------------------------------------------


COLUMNS = ["message_id", "status", "at", "number", "error_code", "error_description", "task_id",
           "source", "arrivals", "received_at", "raw"]
TIME_AND_COUNT_DTYPES = {"at": "UTC datetime", "arrivals": "int64",
                         "received_at": "UTC datetime"}


def time_and_count_dtypes(frame: pd.DataFrame) -> dict[str, str]:
    """The dtypes of the time and count columns (any time resolution pandas picks)."""
    return {c: "UTC datetime" if isinstance(frame[c].dtype, pd.DatetimeTZDtype)
            and str(frame[c].dtype.tz) == "UTC" else str(frame[c].dtype)
            for c in TIME_AND_COUNT_DTYPES}


def test_the_receipt_frame_has_its_columns_dtypes_and_values() -> None:
    store = ReceiptStore(clock=lambda: CLOCK)
    failed = receipt(1, "Failed", ErrorCode=131026, ErrorDescription="unreachable",
                     To="+86 139-0000-0001", Timestamp=T0 + 250)
    store.add([failed, failed], source="http")
    frame = store.to_frame()
    assert list(frame.columns) == COLUMNS
    assert time_and_count_dtypes(frame) == TIME_AND_COUNT_DTYPES
    assert frame.iloc[0].to_dict() == {
        "message_id": "m000001", "status": "Failed",
        "at": pd.Timestamp(T0 + 250, unit="ms", tz="UTC"), "number": "8613900000001",
        "error_code": "131026", "error_description": "unreachable", "task_id": "t-1",
        "source": "http", "arrivals": 2, "received_at": pd.Timestamp(CLOCK, unit="s", tz="UTC"),
        "raw": failed}


def test_an_empty_store_gives_a_frame_with_the_same_columns_and_time_dtypes() -> None:
    frame = ReceiptStore().to_frame()
    assert frame.empty and list(frame.columns) == COLUMNS
    assert time_and_count_dtypes(frame) == TIME_AND_COUNT_DTYPES


def test_receipts_come_back_as_models_in_arrival_order() -> None:
    store = ReceiptStore()
    store.add([receipt(2, "Read"), inbound(T0), receipt(1, "Sent"), receipt(2, "Read")])
    assert [(r.message_id, r.status) for r in store.receipts()] == [("m000002", "Read"),
                                                                     ("m000001", "Sent")]
    assert [m.message_id for m in store.inbound()] == ["i1"]


# -- states, live and after reopening -------------------------------------------------------------


def test_a_reopened_file_folds_to_the_same_states_with_every_detail(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with ReceiptStore(path) as store:
        store.add([receipt(1, "Sent"), receipt(1, "Read"),
                   receipt(2, "Failed", ErrorCode="131026", ErrorDescription="unreachable"),
                   receipt(3, "subscribe"), inbound(None), inbound(T0, number=None, mid="i2")])
        live = store.states()
    assert live["m000001"].message_id == "m000001" and live["m000001"].to == "8613900000001"
    with ReceiptStore(path) as reopened:
        again = reopened.states()
    assert again == live
    assert (again["m000002"].failed_reason, again["m000002"].task_id, again["m000001"].read_ms) \
        == ("unreachable", "t-2", 1_691_043_638_001)


def test_the_latest_inbound_message_counts_whatever_the_arrival_order(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    later, earlier = T0, T0 - 3_600_000
    with ReceiptStore(path) as store:
        store.add([inbound(later, mid="i1"), inbound(earlier, mid="i2")])
        assert store.last_inbound("15550100001") == datetime.fromtimestamp(later / 1000,
                                                                           timezone.utc)
    with ReceiptStore(path) as reopened:
        assert reopened.last_inbound("15550100001") == datetime(2027, 1, 15, 8, 0,
                                                                tzinfo=timezone.utc)


def test_inbound_events_without_a_number_or_time_open_no_window() -> None:
    store = ReceiptStore(clock=lambda: CLOCK)
    store.add([inbound(None), inbound(T0, number=None, mid="i2")])
    assert store.last_inbound("15550100001") is None
    assert not store.window_open("15550100001")


# -- the 24-hour window ---------------------------------------------------------------------------


def test_a_number_is_the_same_however_it_is_written() -> None:
    store = ReceiptStore(clock=lambda: CLOCK)
    store.add([inbound(T0 - 1000, number="+1 555-010-0001")])
    for spelling in ("15550100001", "+15550100001", " 1-555-010 0001 "):
        assert store.window_open(spelling)
        assert store.last_inbound(spelling) == datetime(2027, 1, 15, 7, 59, 59,
                                                        tzinfo=timezone.utc)
    assert store.last_inbound("15550100002") is None


@pytest.mark.parametrize(("seconds_after", "open_"), [(24 * 3600 - 1, True), (24 * 3600, False)])
def test_the_window_closes_exactly_24_hours_after_the_last_message(seconds_after: int,
                                                                   open_: bool) -> None:
    store = ReceiptStore()
    store.add([inbound(T0)])
    assert store.window_open("15550100001", now=T0 / 1000 + seconds_after) is open_


# -- the funnel and opening a store ---------------------------------------------------------------


def test_the_funnel_is_drawn_from_the_states_and_the_result() -> None:
    store = ReceiptStore()
    store.add([receipt(1, "Read"), receipt(2, "Failed", ErrorCode="131026")])
    result = pd.DataFrame({"status": ["sent", "sent", "sent"],
                           "message_id": ["m000001", "m000002", "m000009"]})
    expected = Funnel.from_states(store.states(), result=result)
    assert store.funnel(result).table.equals(expected.table)
    assert store.funnel().table.loc["pending", "count"] == 0


def test_the_live_funnel_watches_this_store_and_redraws_every_second_by_default() -> None:
    store = ReceiptStore()
    result = pd.DataFrame({"status": ["sent"], "message_id": ["m000001"]})
    for widget, interval in [(store.live_funnel(result), 1.0),
                             (store.live_funnel(result, interval=5.0), 5.0)]:
        try:
            assert widget.store is store and widget.result is result
            assert widget.interval == interval
        finally:
            widget.stop()


def test_a_store_is_opened_from_a_store_a_path_or_the_default_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = ReceiptStore()
    assert open_store(store) is store
    with open_store(tmp_path / "mine.db") as mine:
        assert mine.path == str(tmp_path / "mine.db")
    with open_store(None) as default:
        assert default.path == DEFAULT_STORE and (tmp_path / DEFAULT_STORE).exists()
