"""The funnel: counts and rates, top failures, timings, the plot and the live widget."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from cams_notebook.campaigns.frames import CampaignResult
from cams_notebook.receipts.funnel import Funnel
from cams_notebook.receipts.store import ReceiptStore
from tests.receipt_helpers import receipt

T0 = 1_691_043_638_000


def store_of_ten() -> ReceiptStore:
    store = ReceiptStore()
    events = []
    for i in range(10):
        events.append(receipt(i, "Sent", Timestamp=T0))
        if i < 7:
            events.append(receipt(i, "Delivered", Timestamp=T0 + 1000 * (i + 1)))
        if i < 4:
            events.append(receipt(i, "Read", Timestamp=T0 + 10_000 * (i + 1)))
        if i in (7, 8):
            events.append(receipt(i, "Failed", Timestamp=T0 + 500, ErrorCode="131026",
                                  ErrorDescription="131026:Receiver is incapable"))
        if i == 9:
            events.append(receipt(i, "Failed", Timestamp=T0 + 500, ErrorCode="131049",
                                  ErrorDescription="131049:engagement"))
    store.add(events)
    return store


def test_counts_and_rates() -> None:
    table = store_of_ten().funnel().table
    assert table["count"].to_dict() == {"sent": 10, "delivered": 7, "read": 4, "failed": 3,
                                        "pending": 0}
    assert table.loc["delivered", "rate"] == pytest.approx(0.7)
    assert table.loc["read", "step_rate"] == pytest.approx(4 / 7)


def test_top_failures() -> None:
    failures = store_of_ten().funnel().failures()
    assert failures[["code", "messages"]].values.tolist() == [["131026", 2], ["131049", 1]]
    assert failures["share"].tolist() == pytest.approx([2 / 3, 1 / 3])


def test_timings_run_from_the_send() -> None:
    timings = store_of_ten().funnel().timings()
    assert timings.loc["time_to_deliver", "messages"] == 7
    assert timings.loc["time_to_deliver", "median_s"] == pytest.approx(4.0)
    assert timings.loc["time_to_read", "max_s"] == pytest.approx(40.0)


def test_with_a_result_every_accepted_row_counts_and_missing_receipts_are_pending() -> None:
    result = CampaignResult({
        "status": ["sent", "sent", "failed"], "message_id": ["m000000", "zzz", None],
        "sent_at": pd.to_datetime([T0 - 1000, T0 - 1000, None], unit="ms", utc=True)})
    funnel = store_of_ten().funnel(result)
    assert funnel.table["count"].to_dict() == {"sent": 2, "delivered": 1, "read": 1, "failed": 0,
                                               "pending": 1}
    assert funnel.timings().loc["time_to_deliver", "median_s"] == pytest.approx(2.0)


def test_an_empty_funnel_has_no_rates_and_no_failures() -> None:
    funnel = ReceiptStore().funnel()
    assert funnel.table["count"].sum() == 0 and funnel.failures().empty
    assert repr(funnel) == "Funnel(no messages)"


def test_repr_is_deterministic_text_and_html_shows_failures() -> None:
    funnel = store_of_ten().funnel()
    assert repr(funnel) == ("Funnel(sent 10 (100%), delivered 7 (70%), read 4 (40%), "
                            "failed 3 (30%), pending 0 (0%))")
    assert "131026" in funnel._repr_html_()


def test_plot_draws_the_funnel_counts_and_the_timing_histograms() -> None:
    """The figure shows the table: one bar per stage at its count, labelled "count (rate)", and
    one histogram per timing holding every timed message (7 delivered, 4 read)."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    funnel = store_of_ten().funnel()
    fig = funnel.plot()
    left, right = fig.axes
    try:
        bars = left.patches
        assert [b.get_height() for b in bars] == [10, 7, 4, 3, 0]
        assert [b.get_height() for b in bars] == funnel.table["count"].tolist()
        assert [t.get_text() for t in left.get_xticklabels()] == list(funnel.table.index)
        assert [t.get_text() for t in left.texts] == [
            "10 (100%)", "7 (70%)", "4 (40%)", "3 (30%)", "0 (0%)"]
        labels = right.get_legend_handles_labels()[1]
        assert labels == ["to deliver", "to read"]
        histograms = dict(zip(labels, (c.patches for c in right.containers), strict=True))
        assert {k: sum(p.get_height() for p in v) for k, v in histograms.items()} == {
            "to deliver": 7, "to read": 4}
        deliver = histograms["to deliver"]
        assert deliver[0].get_x() == pytest.approx(1.0)  # the fastest delivery took 1 s
        assert deliver[-1].get_x() + deliver[-1].get_width() == pytest.approx(7.0)
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_the_live_widget_redraws_when_receipts_arrive() -> None:
    store = ReceiptStore()
    widget = store.live_funnel(interval=0.02)
    try:
        assert "sent" in widget.widget.value
        store.add([receipt(1, "Failed", ErrorCode="131026")])
        deadline = time.monotonic() + 3
        while "131026" not in widget.widget.value and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "131026" in widget.widget.value
    finally:
        widget.stop()


def test_funnel_from_states_is_one_plain_pandas_row_per_message() -> None:
    states = store_of_ten().states()
    messages = Funnel.from_states(states).messages
    assert list(messages.columns) == ["message_id", "status", "sent_at", "delivered_at",
                                      "read_at", "failed_code", "failed_reason"]
    assert messages["status"].value_counts().to_dict() == {"read": 4, "delivered": 3,
                                                           "failed": 3}
    assert sorted(messages["message_id"]) == sorted(states)
    empty = Funnel.from_states({}).messages
    assert empty.empty and list(empty.columns) == list(messages.columns)
