"""validate_frame, preview_frame, send_frame, asend_frame, the ``frame.cams`` accessor and
the result frame, against the in-process sandbox.

Campaigns that would wait out backoffs or throttles run ``asend_frame`` on the virtual-time
loop of ``test_engine`` (the clock jumps instead of sleeping); the rest are small enough
to run in real time.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cams_notebook.campaigns import campaign_run as campaign_module
from cams_notebook.campaigns.frames import (
    PROBLEM_COLUMNS,
    Campaign,
    CampaignResult,
    InvalidFrameError,
    asend_frame,
    preview_frame,
    send_frame,
    validate_frame,
)
from cams_notebook.errors import AuthError
from cams_notebook.receipts.queue import ReceiptQueue
from cams_notebook.sandbox import Sandbox
from tests.virtual_time import VirtualTime

ORDER_SHIPPED = "830174529611842305"  # variables: name, order_id
PENDING = "830174529611842995"
SLOW, ALWAYS_503 = "15550100009", "15550100008"
SHIPPED = {"channel_type": "whatsapp", "type": "template", "from_": "8613800000000",
           "template_code": ORDER_SHIPPED, "language": "en", "params": ["name", "order_id"]}
VIBER_TEXT = {"channel_type": "viber", "type": "message", "from_": "8613800000000",
              "message_type": "text", "content": {"text": "Your parcel is on its way"}}
RESULT_COLUMNS = ["status", "message_id", "code", "message", "request_id", "attempts",
                  "latency_ms", "sent_at", "error"]


@pytest.fixture(autouse=True)
def _fresh_session_journals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(campaign_module, "_SESSION_JOURNALS", {})


@pytest.fixture
def vt() -> Iterator[VirtualTime]:
    virtual = VirtualTime()
    yield virtual
    virtual.close()


def recipients(n: int, start: int = 0, **columns: Any) -> pd.DataFrame:
    frame = pd.DataFrame({"to": [f"86139{i:08d}" for i in range(start, start + n)],
                          "name": [f"Customer {i}" for i in range(start, start + n)],
                          "order_id": [f"A-{i}" for i in range(start, start + n)]})
    for name, values in columns.items():
        frame[name] = values
    return frame


def accepted(sandbox: Sandbox) -> Counter[str]:
    return Counter(m["to"] for m in sandbox.messages())


def problems_by_row(problems: pd.DataFrame) -> set[tuple[Any, str, str, str]]:
    return set(problems[["index", "field", "rule", "severity"]].itertuples(index=False, name=None))


# -- the dry run -------------------------------------------------------------------------------


def test_validate_frame_lists_every_problem_with_its_row_rule_and_severity(
        sandbox: Sandbox) -> None:
    frame = pd.DataFrame({
        "to": ["8613900000000", "8613900000001", "8613900000002", "8613900000003",
               "8613900000004", "8613900000000", None],
        "template_params": [
            {"name": "Ada", "order_id": "A-1"},
            {"name": "Bo"},                                   # order_id missing
            {"name": "Cy", "order_id": "A-3", "coupon": "X"},  # coupon is no variable
            {"name": "   ", "order_id": "A-4"},               # blank
            {"name": None, "order_id": "A-5"},                # null
            {"name": "Ada", "order_id": "A-6"},               # same recipient as row 0
            {"name": "Ed", "order_id": "A-7"},
        ]}, index=list("abcdefg"))
    problems = validate_frame(frame, client=sandbox.client(),
                              **{k: v for k, v in SHIPPED.items() if k != "params"})
    assert list(problems.columns) == PROBLEM_COLUMNS
    assert problems_by_row(problems) == {
        ("b", "TemplateParams.order_id", "missing_variable", "error"),
        ("c", "TemplateParams.coupon", "extra_variable", "error"),
        ("d", "TemplateParams.name", "blank_variable", "error"),
        ("e", "TemplateParams.name", "null_variable", "error"),
        ("f", "To", "duplicate_recipient", "error"),
        ("g", "To", "required", "error"),
    }
    assert set(problems["code"]) >= {"InvalidParameter.TemplateParamsMissing", "MissingTo"}


@pytest.mark.parametrize(("constants", "rule"), [
    ({"template_code": ORDER_SHIPPED, "language": "fr"}, "unknown_template"),
    ({"template_code": "830174529611800000", "language": "en"}, "unknown_template"),
    ({"template_code": PENDING, "language": "en"}, "not_approved"),
])
def test_validate_frame_reports_unknown_and_unapproved_templates(
        sandbox: Sandbox, constants: dict[str, str], rule: str) -> None:
    problems = validate_frame(recipients(2), client=sandbox.client(),
                              **{**SHIPPED, **constants})
    assert set(problems["rule"]) == {rule}
    assert list(problems["index"]) == [0, 1]


FREE_FORM = {"channel_type": "whatsapp", "type": "message", "from_": "8613800000000",
             "message_type": "text", "content": {"text": "hi"}}


def test_validate_frame_learns_open_24_hour_windows_from_the_inbound_queue(
        sandbox: Sandbox) -> None:
    """As against the service: the inbound messages come through the ChatAppInbound queue
    into a store, and the store tells the dry run whose window is open."""
    sandbox.record_inbound("8613900000001")
    client = sandbox.client()
    with ReceiptQueue(client, message_type="ChatAppInbound", store=":memory:") as queue:
        queue.drain(wait_seconds=0)
        problems = validate_frame(recipients(3)[["to"]], client=client, inbound=queue.store,
                                  **FREE_FORM)
    assert problems_by_row(problems) == {(0, "To", "window_closed", "warning"),
                                         (2, "To", "window_closed", "warning")}


def test_validate_frame_without_inbound_says_every_window_may_be_closed(
        sandbox: Sandbox) -> None:
    sandbox.record_inbound("8613900000001")  # nothing tells the dry run about it
    problems = validate_frame(recipients(2)[["to"]], client=sandbox.client(), **FREE_FORM)
    assert problems_by_row(problems) == {(0, "To", "window_maybe_closed", "warning"),
                                         (1, "To", "window_maybe_closed", "warning")}


def test_validate_frame_takes_a_function_as_inbound() -> None:
    problems = validate_frame(recipients(2)[["to"]], inbound=lambda n: n.endswith("1"),
                              **FREE_FORM)
    assert problems_by_row(problems) == {(0, "To", "window_closed", "warning")}
    with pytest.raises(TypeError, match="inbound must have a window_open"):
        validate_frame(recipients(1)[["to"]], inbound=42, **FREE_FORM)


def test_validate_frame_without_a_client_checks_the_rows_alone() -> None:
    frame = recipients(2)
    frame.loc[1, "to"] = "not a number"
    problems = validate_frame(frame, **SHIPPED)
    assert problems_by_row(problems) == {(1, "To", "digits_only", "error")}


def test_preview_shows_what_the_first_rows_will_read(sandbox: Sandbox) -> None:
    preview = preview_frame(recipients(5), 2, client=sandbox.client(), **SHIPPED)
    assert list(preview.index) == [0, 1]
    assert preview.loc[0, "kind"] == "template order_shipped"
    assert "Customer 0" in preview.loc[0, "text"] and "A-0" in preview.loc[0, "text"]


# -- refusing, skipping, and leaving the input alone -------------------------------------------


def test_send_frame_refuses_a_frame_with_invalid_rows_and_sends_nothing(sandbox: Sandbox) -> None:
    frame = recipients(4)
    frame.loc[2, "name"] = None
    with pytest.raises(InvalidFrameError) as info:
        send_frame(frame, client=sandbox.client(), progress=False, **SHIPPED)
    assert problems_by_row(info.value.problems) == {(2, "TemplateParams.name", "null_variable",
                                                     "error")}
    assert "row 2" in str(info.value) and "on_invalid='skip'" in str(info.value)
    assert sandbox.messages() == []


def test_send_frame_with_on_invalid_skip_sends_the_valid_rows_only(sandbox: Sandbox) -> None:
    frame = recipients(4)
    frame.loc[2, "name"] = None
    result = send_frame(frame, client=sandbox.client(), progress=False, on_invalid="skip",
                        **SHIPPED)
    assert list(result["status"]) == ["sent", "sent", "invalid", "sent"]
    assert "null_variable" in result.loc[2, "error"]
    assert result.loc[2, "to"] == "8613900000002"
    assert set(accepted(sandbox)) == {"8613900000000", "8613900000001", "8613900000003"}


def test_send_frame_never_changes_the_input_frame(sandbox: Sandbox) -> None:
    frame = recipients(3)
    frame["to"] = [8.6139e12, 8613900000001.0, float("nan")]
    frame.loc[1, "name"] = None
    before = frame.copy(deep=True)
    send_frame(frame, client=sandbox.client(), progress=False, on_invalid="skip", **SHIPPED)
    pd.testing.assert_frame_equal(frame, before)


# -- the result frame --------------------------------------------------------------------------


def test_the_result_has_the_input_index_and_the_outcome_columns(sandbox: Sandbox) -> None:
    frame = recipients(3).set_index(pd.Index(["cust-9", "cust-3", "cust-5"], name="customer"))
    result = send_frame(frame, client=sandbox.client(), progress=False, **SHIPPED)
    assert isinstance(result, CampaignResult)
    pd.testing.assert_index_equal(result.index, frame.index)
    assert list(result.columns[: len(RESULT_COLUMNS)]) == RESULT_COLUMNS
    assert list(result["status"]) == ["sent"] * 3
    assert list(result["code"]) == ["OK"] * 3
    assert result["message_id"].str.len().gt(0).all()
    assert list(result["attempts"]) == [1, 1, 1]
    assert result["latency_ms"].ge(0).all()
    assert str(result["sent_at"].dt.tz) == "UTC"
    assert result["sent_at"].notna().all()


def test_the_result_keeps_a_multi_index(sandbox: Sandbox) -> None:
    frame = recipients(2).set_index(pd.MultiIndex.from_tuples([("eu", 1), ("us", 1)],
                                                              names=["region", "n"]))
    result = send_frame(frame, client=sandbox.client(), progress=False, **SHIPPED)
    pd.testing.assert_index_equal(result.index, frame.index)


def test_the_summary_counts_rows_by_status_and_code(sandbox: Sandbox) -> None:
    frame = recipients(5)
    frame.loc[4, "name"] = None
    result = send_frame(frame, client=sandbox.client(), progress=False, on_invalid="skip",
                        **SHIPPED)
    summary = result.cams.summary()
    assert summary.to_dict("records") == [{"status": "sent", "code": "OK", "rows": 4},
                                          {"status": "invalid", "code": "", "rows": 1}]
    pd.testing.assert_frame_equal(result.summary(), summary)


def test_progress_announces_the_campaign_and_counts_it(sandbox: Sandbox,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    frame = recipients(3)
    frame.loc[2, "name"] = None
    send_frame(frame, client=sandbox.client(), on_invalid="skip", **SHIPPED)
    err = capsys.readouterr().err
    assert "3 rows, 2 valid (2 whatsapp), 1 invalid" in err
    assert err.startswith("campaign '")
    assert "sent=2" in err


def test_the_html_display_leads_with_the_summary(sandbox: Sandbox) -> None:
    result = send_frame(recipients(3), client=sandbox.client(), progress=False, **SHIPPED)
    html = result._repr_html_()
    assert html.startswith("<div><b>Campaign result</b>: 3 rows: 3 sent</div>")
    assert html.index("rows") < html.index(result["message_id"].iloc[0])
    assert "NaN" not in html and "None" not in html  # empty cells are blank (error, code...)


def test_the_html_display_of_a_big_result_is_cut_as_pandas_cuts_its_own(
        sandbox: Sandbox) -> None:
    result = send_frame(recipients(150), client=sandbox.client(), progress=False, **SHIPPED)
    with pd.option_context("display.max_rows", 60, "display.min_rows", 10):
        html = result._repr_html_()
    assert html.count("<tr>") < 20  # 10 rows, the header, the counts: not 150
    assert "150 rows × " in html


# -- the journal -------------------------------------------------------------------------------


def test_sending_the_same_frame_again_in_the_same_process_sends_nothing(sandbox: Sandbox) -> None:
    frame = recipients(5)
    first = send_frame(frame, client=sandbox.client(), progress=False, **SHIPPED)
    again = send_frame(frame, client=sandbox.client(), progress=False, **SHIPPED)
    assert len(sandbox.messages()) == 5
    pd.testing.assert_frame_equal(again, first)


def test_journal_false_sends_again_on_purpose(sandbox: Sandbox) -> None:
    frame = recipients(3)
    send_frame(frame, client=sandbox.client(), progress=False, **SHIPPED)
    again = send_frame(frame, client=sandbox.client(), progress=False, journal=False, **SHIPPED)
    assert list(again["status"]) == ["sent"] * 3
    assert set(accepted(sandbox).values()) == {2}


def test_a_journal_file_keeps_a_rerun_from_sending_again(sandbox: Sandbox, tmp_path: Path) -> None:
    frame = recipients(4)
    journal = tmp_path / "send.db"
    send_frame(frame, client=sandbox.client(), progress=False, journal=str(journal), **SHIPPED)
    campaign_module._SESSION_JOURNALS.clear()  # as in a new kernel: only the file remembers
    again = send_frame(frame, client=sandbox.client(), progress=False, journal=journal, **SHIPPED)
    assert list(again["status"]) == ["sent"] * 4
    assert set(accepted(sandbox).values()) == {1}


def test_an_unknown_outcome_is_reported_and_not_resent(sandbox: Sandbox) -> None:
    frame = recipients(3)
    frame.loc[1, "to"] = SLOW  # the sandbox answers after 30 s
    client = sandbox.client(timeout=0.1)
    result = send_frame(frame, client=client, progress=False, **SHIPPED)
    assert list(result["status"]) == ["sent", "unknown", "sent"]
    assert result.loc[1, "error"].startswith("OutcomeUnknownError")
    again = send_frame(frame, client=client, progress=False, **SHIPPED)
    assert list(again["status"]) == ["sent", "unknown", "sent"]
    assert accepted(sandbox)[SLOW] == 1
    assert len(sandbox.messages()) == 3  # nothing was sent twice


# -- failures that end or pause the campaign ---------------------------------------------------


def test_an_auth_error_stops_the_campaign_after_one_request(
        capsys: pytest.CaptureFixture[str]) -> None:
    sandbox = Sandbox(latency_ms=(20, 0))
    wrong = sandbox.client(access_key_secret="not-the-secret")
    result = send_frame(recipients(100)[["to"]], client=wrong, progress=False, **VIBER_TEXT)
    assert result["status"].value_counts().to_dict() == {"not_sent": 99, "failed": 1}
    assert result.loc[result["status"] == "failed", "code"].item() == "SignatureDoesNotMatch"
    assert sandbox.core.stats["requests"] == 1
    assert "campaign stopped early: SignatureDoesNotMatch" in capsys.readouterr().err


def test_wrong_credentials_on_a_template_campaign_fail_before_anything_is_sent() -> None:
    sandbox = Sandbox()
    wrong = sandbox.client(access_key_secret="not-the-secret")
    with pytest.raises(AuthError):  # fetching the template for the dry run already fails
        send_frame(recipients(3), client=wrong, progress=False, **SHIPPED)
    assert sandbox.messages() == []


def test_retry_safe_failures_are_retried_then_failed_with_every_attempt_counted(
        vt: VirtualTime) -> None:
    sandbox = vt.sandbox()
    frame = recipients(3)
    frame.loc[0, "to"] = ALWAYS_503
    result = vt.run(asend_frame(frame, client=vt.client(sandbox), progress=False, **SHIPPED))
    assert list(result["status"]) == ["failed", "sent", "sent"]
    assert result.loc[0, "attempts"] == 5  # Backoff's max_attempts
    assert result.loc[0, "code"] == "ServiceUnavailable"
    # the template, the health check once (the account's numbers; the sender's own health
    # needs a CustSpaceId, which this campaign does not give), 5 attempts, 2 rows
    assert sandbox.core.stats["requests"] == 1 + 1 + 5 + 2


def test_throttled_rows_are_retried_and_end_sent(vt: VirtualTime) -> None:
    sandbox = vt.sandbox(qps=20)  # the account allows less than the campaign asks
    result = vt.run(asend_frame(recipients(100), client=vt.client(sandbox), qps=40,
                                progress=False, **SHIPPED))
    assert set(result["status"]) == {"sent"}
    assert sandbox.core.stats["throttled"] > 0
    assert result["attempts"].max() > 1
    assert set(accepted(sandbox).values()) == {1} and len(accepted(sandbox)) == 100


# -- chunks, loops, and the accessor -----------------------------------------------------------


def test_chunked_input_is_read_checked_and_sent_chunk_by_chunk(sandbox: Sandbox,
                                                                tmp_path: Path) -> None:
    csv = tmp_path / "recipients.csv"
    frame = recipients(10)
    frame.loc[7, "name"] = None
    frame.to_csv(csv, index=False)
    with pd.read_csv(csv, chunksize=4) as chunks:
        result = send_frame(chunks, client=sandbox.client(), progress=False, on_invalid="skip",
                            **SHIPPED)
    assert list(result.index) == list(range(10))
    assert list(result["status"]) == ["sent"] * 7 + ["invalid"] + ["sent"] * 2
    assert result.loc[0, "to"] == "8613900000000"  # read as a float, sent as its digits
    assert len(accepted(sandbox)) == 9


def test_a_generator_of_frames_is_sent_like_one_frame(sandbox: Sandbox) -> None:
    chunks = (recipients(3, start) for start in (0, 3, 6))
    result = send_frame(chunks, client=sandbox.client(), progress=False, **SHIPPED)
    assert list(result["status"]) == ["sent"] * 9
    assert len(accepted(sandbox)) == 9


def test_an_invalid_row_in_a_later_chunk_stops_the_campaign_and_says_what_was_sent(
        sandbox: Sandbox, tmp_path: Path) -> None:
    journal = tmp_path / "send.db"
    later = recipients(3, 3).set_index(pd.RangeIndex(3, 6))
    broken = later.assign(name=["Dee", None, "Flo"])

    with pytest.raises(InvalidFrameError) as info:
        send_frame(iter([recipients(3), broken]), client=sandbox.client(), progress=False,
                   journal=journal, **SHIPPED)
    assert problems_by_row(info.value.problems) == {(4, "TemplateParams.name", "null_variable",
                                                     "error")}
    assert info.value.sent == len(sandbox.messages())  # whatever went out is owned up to

    result = send_frame(iter([recipients(3), later]), client=sandbox.client(), progress=False,
                        journal=journal, **SHIPPED)
    assert list(result["status"]) == ["sent"] * 6
    assert set(accepted(sandbox).values()) == {1} and len(accepted(sandbox)) == 6


async def test_send_frame_works_inside_a_running_event_loop(sandbox: Sandbox) -> None:
    asyncio.get_running_loop()  # a notebook cell's situation: a loop is already running
    result = send_frame(recipients(3), client=sandbox.client(), progress=False, **SHIPPED)
    assert list(result["status"]) == ["sent"] * 3


async def test_asend_frame_runs_on_the_callers_loop(sandbox: Sandbox) -> None:
    result = await asend_frame(recipients(3), client=sandbox.async_client(), progress=False,
                               **SHIPPED)
    assert list(result["status"]) == ["sent"] * 3
    assert len(accepted(sandbox)) == 3


def test_the_accessor_validates_previews_sends_and_summarises(sandbox: Sandbox) -> None:
    frame = recipients(2)
    assert frame.cams.validate(client=sandbox.client(), **SHIPPED).empty
    assert len(frame.cams.preview(1, client=sandbox.client(), **SHIPPED)) == 1
    result = frame.cams.send(client=sandbox.client(), progress=False, **SHIPPED)
    assert result.cams.summary().to_dict("records") == [{"status": "sent", "code": "OK",
                                                         "rows": 2}]


# -- Ctrl-C ------------------------------------------------------------------------------------


def _ctrl_c_when(condition: Any) -> threading.Thread:
    def fire() -> None:
        deadline = time.monotonic() + 10
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.002)
        signal.raise_signal(signal.SIGINT)

    thread = threading.Thread(target=fire, daemon=True)
    thread.start()
    return thread


def test_ctrl_c_returns_partial_results_and_loses_nothing(sandbox: Sandbox) -> None:
    frame = recipients(60)
    thread = _ctrl_c_when(lambda: len(sandbox.messages()) >= 5)
    result = send_frame(frame, client=sandbox.client(), qps=20, progress=False, **SHIPPED)
    thread.join()
    counts = result["status"].value_counts().to_dict()
    assert counts.get("sent", 0) >= 5 and counts.get("not_sent", 0) > 0
    assert set(counts) <= {"sent", "not_sent", "unknown"}
    sent = set(result.loc[result["status"] == "sent", "to"])
    assert set(accepted(sandbox)) - sent <= set(result.loc[result["status"] == "unknown", "to"])
    assert sent <= set(accepted(sandbox))


def test_ctrl_c_during_the_dry_run_sends_nothing(sandbox: Sandbox) -> None:
    client = sandbox.async_client()
    fetch = client.get_template

    async def interrupted_fetch(*args: Any, **kwargs: Any) -> Any:
        signal.raise_signal(signal.SIGINT)  # Ctrl-C while the templates are fetched
        await asyncio.sleep(0.3)  # the calling thread takes it within 0.1 s
        return await fetch(*args, **kwargs)

    client.get_template = interrupted_fetch  # type: ignore[method-assign]
    result = send_frame(recipients(5), client=client, progress=False, **SHIPPED)
    assert list(result["status"]) == ["not_sent"] * 5
    assert sandbox.messages() == []


# -- speed -------------------------------------------------------------------------------------


def test_600_rows_at_200_per_second_take_about_three_seconds() -> None:
    # The real figure belongs to a benchmark; this only catches an engine that falls far
    # short of its rate (the virtual-time test in test_engine pins the pacing exactly).
    sandbox = Sandbox(latency_ms=(80, 10))
    began = time.monotonic()
    # one sender number at 200/s: the account's rate is the point, not the sender's limit
    result = asyncio.run(asend_frame(recipients(600), client=sandbox.async_client(), qps=200,
                                     progress=False, sender_mps=None, **SHIPPED))
    elapsed = time.monotonic() - began
    print(f"600 rows at qps=200 against 80 ms latency: {elapsed:.2f} s")
    assert set(result["status"]) == {"sent"}
    assert elapsed < 6.0


# -- the Campaign object -------------------------------------------------------------------------


def test_a_campaign_runs_reports_its_counts_and_keeps_its_result(sandbox: Sandbox) -> None:
    campaign = Campaign(recipients(3), client=sandbox.client(), progress=False, **SHIPPED)
    assert campaign.engine is None and campaign.counts is None and campaign.result is None
    assert repr(campaign) == "Campaign(name=None, state='ready')"
    assert campaign.validate().empty
    result = campaign.run()
    assert result is campaign.result and result["status"].tolist() == ["sent"] * 3
    assert campaign.counts is not None and campaign.counts.sent == 3
    assert repr(campaign) == "Campaign(name=None, state='done')"
    again = campaign.run()  # the same campaign again: its journal knows every row
    assert again["status"].tolist() == ["sent"] * 3 and len(sandbox.messages()) == 3


def test_a_campaign_stopped_before_it_runs_sends_nothing_and_the_next_run_sends(
        sandbox: Sandbox) -> None:
    campaign = Campaign(recipients(3), client=sandbox.client(), progress=False, **SHIPPED)
    campaign.stop()
    assert set(campaign.run()["status"]) == {"not_sent"} and sandbox.messages() == []
    assert campaign.run()["status"].tolist() == ["sent"] * 3


def test_a_campaign_stopped_from_another_thread_keeps_what_was_done(sandbox: Sandbox) -> None:
    campaign = Campaign(recipients(200), client=sandbox.client(), qps=20, progress=False,
                        **SHIPPED)
    timer = threading.Timer(0.5, campaign.stop)
    timer.start()
    result = campaign.run()
    timer.join()
    statuses = set(result["status"])
    assert statuses <= {"sent", "not_sent", "unknown"} and "not_sent" in statuses
    sent = result[result["status"] == "sent"]
    assert len(sent) == len(sandbox.messages()) and campaign.counts is not None
    assert campaign.counts.sent == len(sent)


async def test_a_campaign_runs_on_the_callers_loop(sandbox: Sandbox) -> None:
    campaign = Campaign(recipients(2), client=sandbox.async_client(), progress=False, **SHIPPED)
    result = await campaign.arun()
    assert result["status"].tolist() == ["sent", "sent"]
