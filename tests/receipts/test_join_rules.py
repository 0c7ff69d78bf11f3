"""The join of receipts onto a campaign result, rule by rule: the receipt sources it takes,
the columns and dtypes it adds, and when ``fallback_triggered`` is set (configured rows,
failure at once, no delivery within ``fallback_duration``, the boundaries of that time)."""

from __future__ import annotations

import json
import warnings
from datetime import datetime
from typing import Any

import pandas as pd
import pytest

from cams_notebook.campaigns.frames import CampaignResult
from cams_notebook.receipts.events import DELIVERY_COLUMNS, Receipt, fold, join_receipts
from cams_notebook.receipts.store import ReceiptStore

SENT = pd.Timestamp("2023-08-03T06:20:37Z")
SENT_MS = SENT.value // 10**6


def result_of(ids: list[str | None], **columns: list[Any]) -> CampaignResult:
    """A campaign result with one row per id (None: never accepted), all sent at SENT."""
    frame = CampaignResult({"status": ["sent" if m else "failed" for m in ids],
                            "message_id": ids,
                            "sent_at": [SENT if m else pd.NaT for m in ids], **columns},
                           index=pd.Index(range(20, 20 + len(ids))))
    frame["sent_at"] = pd.to_datetime(frame["sent_at"], utc=True)
    return frame


def events(*items: tuple[str, str, int]) -> list[dict[str, Any]]:
    return [{"MessageId": m, "Status": s, "Timestamp": SENT_MS + ms,
             **({"ErrorCode": "131026", "ErrorDescription": "unreachable"} if s == "Failed"
                else {})} for m, s, ms in items]


def store_with(items: list[dict[str, Any]]) -> ReceiptStore:
    store = ReceiptStore()
    store.add(items)
    return store


# -- where receipts come from ---------------------------------------------------------------------


RECEIPTS = events(("m1", "Read", 3000), ("m1", "Delivered", 1000), ("m2", "Failed", 500))
EXPECTED = ["read", "failed", "pending", None]


def test_the_join_takes_folded_states() -> None:
    states = fold(Receipt.model_validate(e) for e in RECEIPTS)
    joined = join_receipts(result_of(["m1", "m2", "m3", None]), states)
    assert joined["delivery_status"].tolist() == EXPECTED


def test_the_join_takes_a_frame_of_receipts_without_a_raw_column() -> None:
    """A frame built from receipt dicts (say, read from a JSON export) has wire columns and no
    ``raw``: each row is a receipt."""
    rows = [{**RECEIPTS[0], "Buttons": ["yes", "no"]}, *RECEIPTS[1:]]  # a list-valued field
    joined = join_receipts(result_of(["m1", "m2", "m3", None]), pd.DataFrame(rows))
    assert joined["delivery_status"].tolist() == EXPECTED
    assert joined.loc[21, "failed_reason"] == "unreachable"


def test_the_join_takes_a_series_of_receipt_dicts() -> None:
    """A column of receipt dicts (say, the payloads of a webhook log) is a list of receipts,
    not a frame."""
    joined = join_receipts(result_of(["m1", "m2", "m3", None]), pd.Series(RECEIPTS))
    assert joined["delivery_status"].tolist() == EXPECTED


def test_the_join_takes_a_store_frame_whose_raw_column_was_saved_as_text(tmp_path: Any) -> None:
    """``to_frame()`` written to CSV and read back holds ``raw`` as JSON text: it still joins,
    and inbound rows in such a frame are skipped."""
    frame = store_with([*RECEIPTS, {"MessageId": "i1", "Message": "hi"}]).to_frame()
    frame["raw"] = [json.dumps(r) for r in frame["raw"]]
    frame.loc[len(frame), "raw"] = json.dumps({"MessageId": "i1", "Message": "hi"})
    path = tmp_path / "receipts.csv"
    frame.to_csv(path, index=False)
    joined = join_receipts(result_of(["m1", "m2", "m3", None]), pd.read_csv(path))
    assert joined["delivery_status"].tolist() == EXPECTED


def test_a_result_without_message_ids_joins_to_no_status() -> None:
    """A result where nothing was accepted (no ``message_id`` column at all) gets the columns,
    all empty, instead of a KeyError."""
    result = pd.DataFrame({"to": ["1", "2"]}, index=pd.Index([7, 9]))
    joined = join_receipts(result, store_with(RECEIPTS))
    assert list(joined.columns) == ["to", *DELIVERY_COLUMNS]
    assert joined["delivery_status"].tolist() == [None, None]
    assert joined["fallback_triggered"].tolist() == [False, False]


def test_a_message_known_only_by_a_deleted_receipt_is_pending() -> None:
    joined = join_receipts(result_of(["m1"]), events(("m1", "Deleted", 10)))
    assert joined["delivery_status"].tolist() == ["pending"]


# -- columns and dtypes ---------------------------------------------------------------------------


def test_the_delivery_columns_have_the_same_dtypes_with_or_without_receipts() -> None:
    """The columns' dtypes do not depend on what has arrived: times are UTC datetimes, codes
    and reasons are objects holding None, the flag is bool (frames concatenate cleanly)."""
    before = join_receipts(result_of(["m1", "m2"]), [])
    after = join_receipts(result_of(["m1", "m2"]), events(("m1", "Read", 2000),
                                                          ("m2", "Failed", 100)))
    for joined in (before, after):
        assert {c: str(joined[c].dtype) for c in DELIVERY_COLUMNS} == {
            "delivery_status": "object", "delivered_at": "datetime64[us, UTC]",
            "read_at": "datetime64[us, UTC]", "failed_code": "object",
            "failed_reason": "object", "fallback_triggered": "bool"}
    assert before["failed_code"].tolist() == [None, None]
    assert after["failed_code"].tolist() == [None, "131026"]


# -- fallback_triggered ---------------------------------------------------------------------------


def test_a_failure_triggers_the_fallback_at_once_before_the_duration_runs_out() -> None:
    store = store_with(events(("m1", "Failed", 1000), ("m2", "Sent", 1000)))
    early = SENT + pd.Timedelta(seconds=10)
    joined = join_receipts(result_of(["m1", "m2"]), store, fallback=True, fallback_duration=60,
                           now=early)
    assert joined["fallback_triggered"].tolist() == [True, False]  # m2 still has time


@pytest.mark.parametrize(("now", "triggered"), [(59, False), (60, True), (61, True)])
def test_an_undelivered_row_triggers_once_the_duration_has_passed(now: int,
                                                                  triggered: bool) -> None:
    """``now`` exactly at ``sent_at + FallBackDuration`` is already past the window."""
    store = store_with(events(("m1", "Sent", 1000)))
    joined = join_receipts(result_of(["m1", None]), store, fallback=True, fallback_duration=60,
                           now=SENT + pd.Timedelta(seconds=now))
    assert joined["fallback_triggered"].tolist() == [triggered, False]


@pytest.mark.parametrize(("delivered_after", "triggered"), [(59_999, False), (60_000, False),
                                                            (60_001, True)])
def test_a_delivery_after_the_duration_triggers_the_fallback(delivered_after: int,
                                                             triggered: bool) -> None:
    """A delivery exactly at the end of the window is in time; a millisecond later is not."""
    store = store_with(events(("m1", "Delivered", delivered_after)))
    joined = join_receipts(result_of(["m1"]), store, fallback=True, fallback_duration=60,
                           now=SENT + pd.Timedelta(hours=1))
    assert joined["fallback_triggered"].tolist() == [triggered]


def test_without_now_the_duration_is_measured_against_the_current_time() -> None:
    """``now`` defaults to the current UTC time; a send from 2023 is long past its window."""
    joined = join_receipts(result_of(["m1"]), events(("m1", "Sent", 1)), fallback=True,
                           fallback_duration=60)
    assert joined["fallback_triggered"].tolist() == [True]


def test_a_naive_now_and_naive_sent_at_are_taken_as_utc() -> None:
    """A ``now`` without a zone and ``sent_at`` read back from a CSV without one are UTC."""
    result = result_of(["m1", "m2"])
    result["sent_at"] = ["2023-08-03 06:20:37", "2023-08-03 06:20:37"]
    store = store_with(events(("m1", "Sent", 1), ("m2", "Delivered", 5000)))
    for now, expected in [(datetime(2023, 8, 3, 6, 21, 36), [False, False]),
                          (datetime(2023, 8, 3, 6, 21, 37), [True, False])]:
        joined = join_receipts(result, store, fallback=True, fallback_duration=60, now=now)
        assert joined["fallback_triggered"].tolist() == expected


# -- which rows were sent with a fallback ---------------------------------------------------------


@pytest.mark.parametrize("column", ["fall_back_id", "fall_back_content", "FallBackId",
                                    "FallBackContent"])
def test_rows_with_a_fallback_column_filled_are_the_ones_configured(column: str) -> None:
    """By default a row has a fallback when any of the fallback columns holds something (a
    one-character id counts; an empty string or a missing value does not)."""
    result = result_of(["m1", "m2", "m3", "m4"], **{column: ["7", "", None, "sms text"]})
    store = store_with(events(*[(m, "Failed", 1) for m in ("m1", "m2", "m3", "m4")]))
    joined = join_receipts(result, store)
    assert joined["fallback_triggered"].tolist() == [True, False, False, True]


def test_any_of_the_fallback_columns_configures_the_row() -> None:
    result = result_of(["m1", "m2", "m3"], fall_back_id=["12", None, None],
                       fall_back_content=[None, "text", None])
    joined = join_receipts(result, events(*[(m, "Failed", 1) for m in ("m1", "m2", "m3")]))
    assert joined["fallback_triggered"].tolist() == [True, True, False]


def test_a_numeric_fallback_id_column_read_from_csv_needs_no_cast(tmp_path: Any) -> None:
    """Ids read back from a CSV are floats with NaN for the blanks; a blank is no fallback,
    and pandas is not asked to fill a float column with text (a warning today, an error in
    pandas 4)."""
    path = tmp_path / "result.csv"
    result_of(["m1", "m2"], fall_back_id=[1234, None]).to_csv(path)
    result = pd.read_csv(path, index_col=0)
    assert str(result["fall_back_id"].dtype) == "float64"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        joined = join_receipts(result, events(("m1", "Failed", 1), ("m2", "Failed", 1)))
    assert joined["fallback_triggered"].tolist() == [True, False]


def test_a_fallback_column_named_by_the_caller_treats_missing_as_no_fallback() -> None:
    result = result_of(["m1", "m2", "m3"], with_sms=[True, None, False])
    joined = join_receipts(result, events(*[(m, "Failed", 1) for m in ("m1", "m2", "m3")]),
                           fallback="with_sms")
    assert joined["fallback_triggered"].tolist() == [True, False, False]
    assert str(joined["fallback_triggered"].dtype) == "bool"


def test_numeric_fallback_flags_with_blanks_need_no_cast(tmp_path: Any) -> None:
    """A 1/0 flag column read back from a CSV, blanks included, is float with NaN: a blank is
    no fallback, whether the flags come as a column name or as a list."""
    path = tmp_path / "result.csv"
    result_of(["m1", "m2", "m3"], with_sms=[1, None, 0]).to_csv(path)
    result = pd.read_csv(path, index_col=0)
    assert str(result["with_sms"].dtype) == "float64"
    failed = events(*[(m, "Failed", 1) for m in ("m1", "m2", "m3")])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        by_name = join_receipts(result, failed, fallback="with_sms")
        by_list = join_receipts(result, failed, fallback=result["with_sms"].tolist())
    assert by_name["fallback_triggered"].tolist() == [True, False, False]
    assert by_list["fallback_triggered"].tolist() == [True, False, False]


def test_a_fallback_list_treats_missing_as_no_fallback() -> None:
    joined = join_receipts(result_of(["m1", "m2", "m3"]),
                           events(*[(m, "Failed", 1) for m in ("m1", "m2", "m3")]),
                           fallback=[True, None, False])
    assert joined["fallback_triggered"].tolist() == [True, False, False]
