"""The campaign panel, headless: map columns, read the dry run and the preview, confirm, send,
and stop a send that runs as an asyncio task."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Iterator
from typing import Any

import ipywidgets as W
import pandas as pd
import pytest

import cams_notebook.campaigns.campaign_run as runner_module
from cams_notebook import Client, MissingCredentialsError
from cams_notebook.campaigns.mapping import (
    CampaignMapping,
    Column,
    Constant,
    duration_text,
    match_column,
)
from cams_notebook.sandbox import Sandbox, default_sandbox
from cams_notebook.widgets import CampaignPanel
from cams_notebook.widgets import campaign as campaign_module

ORDER_SHIPPED = "830174529611842305"  # variables name, order_id; en, es, pt_BR
APPOINTMENT = "830174529611842649"  # variables clinic, name, date, time
VIBER_PROMO = "8301745296118427761"
SENDER = "8613800000000"
SECRET = "known-secret-value-9c2e"


@pytest.fixture(autouse=True)
def _fresh_session_journals(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own in-memory campaign journals (they are per kernel otherwise)."""
    monkeypatch.setattr(runner_module, "_SESSION_JOURNALS", {})


@pytest.fixture
def client(sandbox_client: Client) -> Client:
    """The plugin's client for its ``sandbox`` (cams_notebook.testing), under a shorter name."""
    return sandbox_client


def recipients(n: int = 4) -> pd.DataFrame:
    return pd.DataFrame({
        "Phone": [f"86139000000{i:02d}" for i in range(n)],
        "name": [f"Person {i}" for i in range(n)],
        "order_id": [f"A-{i}" for i in range(n)],
        "segment": ["new"] * n,
    })


def broken() -> pd.DataFrame:
    """Row 1 has no phone, row 2 no name, row 3 repeats row 0's recipient (an error too)."""
    frame = recipients(4)
    frame.loc[1, "Phone"] = None
    frame.loc[2, "name"] = None
    frame.loc[3, "Phone"] = frame.loc[0, "Phone"]
    return frame


def walk(widget: W.Widget, seen: set[str]) -> Iterator[W.Widget]:
    if widget.comm is None or widget.model_id in seen:
        return
    seen.add(widget.model_id)
    yield widget
    for name in widget.keys:
        value = getattr(widget, name)
        for item in value if isinstance(value, (list, tuple)) else (value,):
            if isinstance(item, W.Widget):
                yield from walk(item, seen)


def shows_value(panel: CampaignPanel, key: str) -> bool:
    """Whether the row of a field or variable shows its constant's input."""
    return panel.values[key] in panel.rows[key].children


def text(value: str) -> str:
    return html.unescape(value)


# -- mapping ------------------------------------------------------------------------------------


def test_columns_are_matched_to_fields_and_variables_by_name(client: Client) -> None:
    panel = CampaignPanel(recipients(), client)
    fields = panel.mapping.fields
    assert fields["to"] == Column("Phone")
    assert fields["channel_type"] == Constant("whatsapp")
    assert fields["type"] == Constant("template")
    assert fields["template_code"] == Constant(ORDER_SHIPPED)  # the first approved template
    assert fields["language"] == Constant("en")
    assert fields["from_"] is None and fields["task_id"] is None
    assert panel.variables == ("name", "order_id")
    assert panel.mapping.variables == {"name": Column("name"), "order_id": Column("order_id")}
    # the widgets show the model
    assert panel.sources["to"].value == "col:0"
    assert panel.sources["$(order_id)"].value == "col:2"
    assert panel.sources["from_"].value == ""
    assert panel.values["template_code"].value == ORDER_SHIPPED
    assert shows_value(panel, "template_code")  # a constant: its input shows
    assert not shows_value(panel, "to")  # a column: no constant input
    assert panel.rows["content"] not in panel.fields_box.children  # not for templates
    assert panel.rows["to"] in panel.fields_box.children


def test_matching_ignores_case_and_punctuation_and_knows_recipient_aliases() -> None:
    assert match_column(["templatecode"], ["Template-Code", "x"]) == "Template-Code"
    mapping = CampaignMapping.auto(["MSISDN", "TaskId", "From", "lang"], variables=["OrderId"])
    assert mapping.fields["to"] == Column("MSISDN")
    assert mapping.fields["task_id"] == Column("TaskId")
    assert mapping.fields["from_"] == Column("From")
    assert mapping.fields["language"] == Column("lang")
    assert mapping.variables == {"OrderId": None}


def test_only_mapped_columns_reach_the_request(client: Client) -> None:
    frame = recipients(2).assign(tag=["a", "b"])  # "tag" is a request field by name
    panel = CampaignPanel(frame, client).set(from_=SENDER).map(tag=None)
    args = panel.mapping.frame_args(frame)
    assert list(args.frame.columns) == ["to", "$(name)", "$(order_id)"]
    assert args.constants == {"channel_type": "whatsapp", "type": "template", "from_": SENDER,
                              "template_code": ORDER_SHIPPED, "language": "en"}
    assert args.params == {"name": "$(name)", "order_id": "$(order_id)"}
    assert panel.send()["status"].tolist() == ["sent", "sent"]


def test_changing_a_mapping_in_the_widgets_updates_the_model_and_preview(client: Client) -> None:
    panel = CampaignPanel(recipients(), client).set(from_=SENDER)
    assert "Hi Person 0, your order A-0" in text(panel.preview_view.value)
    panel.sources["$(name)"].value = "="  # constant
    panel.values["$(name)"].value = "Friend"
    assert panel.mapping.variables["name"] == Constant("Friend")
    assert "Hi Friend, your order A-0" in text(panel.preview_view.value)
    assert shows_value(panel, "$(name)")
    panel.sources["to"].value = ""  # (not set): every row misses its recipient
    assert panel.mapping.fields["to"] is None
    assert panel.dry_run is not None and panel.dry_run.valid == 0
    assert repr(panel) == "CampaignPanel(rows=4, ready=0, invalid=4, state='nothing to send')"


def test_choosing_another_template_lists_its_variables_and_remembers_choices(
        client: Client) -> None:
    panel = CampaignPanel(recipients(), client).set(from_=SENDER, order_id="X-1")
    panel.values["template_code"].value = APPOINTMENT
    assert panel.variables == ("clinic", "name", "date", "time")
    assert panel.mapping.variables["name"] == Column("name")  # matched by name again
    assert panel.values["$(clinic)"].placeholder == "Riverside Clinic"  # the example
    assert [html.unescape(c.children[0].value) for c in panel.vars_box.children] == [
        f"<b title='TemplateParams.{v} (the request parameter)'>$({v})</b>"
        for v in ("clinic", "name", "date", "time")]
    panel.set(template_code="order_shipped")  # by name
    assert panel.mapping.variables["order_id"] == Constant("X-1")  # the earlier choice


def test_another_channel_brings_its_templates(client: Client) -> None:
    panel = CampaignPanel(recipients(), client)
    panel.values["channel_type"].value = "viber"
    assert panel.mapping.fields["template_code"] == Constant(VIBER_PROMO)
    labels = [label for label, _ in panel.values["template_code"].options]
    assert "viber_promo" in labels and "order_shipped" not in labels
    assert panel.values["from_"].placeholder == "your Viber Service ID"


def test_languages_follow_the_template(client: Client) -> None:
    panel = CampaignPanel(recipients(), client)
    assert [v for _, v in panel.values["language"].options] == ["en", "es", "pt_BR"]
    panel.set(language="es")
    assert "Hola Person 0, ¡tu pedido A-0 ya está en camino!" in text(panel.preview_view.value)
    assert panel.mapping.fields["language"] == Constant("es")


def test_templates_from_a_column_list_the_variables_of_each(client: Client) -> None:
    frame = recipients(2).assign(template=[ORDER_SHIPPED, APPOINTMENT])
    panel = CampaignPanel(frame, client)
    assert panel.mapping.fields["template_code"] == Column("template")
    assert panel.variables == ("name", "order_id", "clinic", "date", "time")


def test_map_and_set_reject_what_is_not_there(client: Client) -> None:
    panel = CampaignPanel(recipients(), client)
    with pytest.raises(ValueError, match="'mobile' is not a column"):
        panel.map(to="mobile")
    with pytest.raises(TypeError, match="neither a field .* nor a variable"):
        panel.set(colour="red")
    with pytest.raises(ValueError, match="'nope' is not among this account's WhatsApp"):
        panel.set(template_code="nope")


def test_panel_needs_a_dataframe_with_unique_columns_and_a_blocking_client(
        sandbox: Sandbox) -> None:
    with pytest.raises(TypeError, match="DataFrame"):
        CampaignPanel([{"to": "1"}])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unique"):
        CampaignPanel(pd.DataFrame([[1, 2]], columns=["to", "to"]), sandbox.client())
    with pytest.raises(TypeError, match="blocking"):
        CampaignPanel(recipients(), sandbox.async_client())  # type: ignore[arg-type]


def test_panel_without_a_client_or_credentials_refuses_to_start_and_says_what_to_pass(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(MissingCredentialsError) as info:
        CampaignPanel(recipients())
    message = str(info.value)
    assert "client=Client.sandbox()" in message
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in message and "ALIBABA_CLOUD_ACCESS_KEY_SECRET" in message
    assert "sandbox" not in capsys.readouterr().out  # no sandbox client was made instead


def test_panel_with_the_sandbox_asked_for_by_name_sends_to_it() -> None:
    panel = CampaignPanel(recipients(2), client=Client.sandbox()).set(from_=SENDER)
    assert panel.send()["status"].tolist() == ["sent", "sent"]
    assert len(default_sandbox().messages()) == 2


def test_panel_without_a_client_uses_the_credentials_of_the_environment(
        service_in_env: Sandbox) -> None:
    panel = CampaignPanel(recipients(2)).set(from_=SENDER)
    assert panel.client.account == (service_in_env.serve().url, service_in_env.access_key_id)
    assert panel.send()["status"].tolist() == ["sent", "sent"]
    assert len(service_in_env.messages()) == 2


# -- dry run, preview, confirmation -------------------------------------------------------------


def test_dry_run_table_shows_the_problems_of_broken_rows(client: Client) -> None:
    panel = CampaignPanel(broken(), client).set(from_=SENDER)
    dry = panel.dry_run
    assert dry is not None and (dry.rows, dry.invalid, dry.valid, dry.warnings) == (4, 3, 1, 0)
    shown = text(panel.dry_view.value)
    assert "1 of 4 rows ready to send, 3 rows with errors (skipped)" in shown
    assert dry.problems[["index", "field", "severity"]].values.tolist() == [
        [1, "To", "error"], [2, "TemplateParams.name", "error"], [3, "To", "error"]]
    for line in ("<td>1</td><td><code>To</code></td>", "is required",
                 "<td>2</td><td><code>TemplateParams.name</code></td>", "has no value in this row",
                 "<td>3</td><td><code>To</code></td>", "also the recipient of row 0"):
        assert line in shown


def test_preview_shows_the_first_rows_filled_in_as_bubbles(client: Client) -> None:
    panel = CampaignPanel(broken(), client, preview_rows=3).set(from_=SENDER)
    shown = text(panel.preview_view.value)
    assert shown.count("cams-row-preview") == 3
    assert "row 0 → 8613900000000" in shown
    assert "Hi Person 0, your order A-0 is on its way!" in shown
    assert "row 1 → (no recipient)" in shown and "To: is required" in shown
    assert "$(name)</span>, your order A-2" in shown  # unfilled, highlighted
    assert "cams-whatsapp" in shown


def test_confirmation_states_rows_channels_invalid_rows_and_duration(client: Client) -> None:
    panel = CampaignPanel(broken(), client, qps=1).set(from_=SENDER)
    assert panel.confirmation == ("Send 1 message (1 WhatsApp) from 4 rows; 3 invalid rows "
                                  "will be skipped; about 1 s at 1 messages/s.")
    assert panel.review() == panel.confirmation
    assert panel.confirm_box.layout.display is None
    assert panel.review_button.layout.display == "none"
    assert panel.send_button.description == "Send 1 message"
    assert "about 1 s" in text(panel.confirm_view.value)
    panel.cancel_button.click()
    assert panel.confirm_box.layout.display == "none"


def test_an_edit_withdraws_the_confirmation(client: Client) -> None:
    panel = CampaignPanel(recipients(), client).set(from_=SENDER)
    panel.review()
    panel.values["from_"].value = "8613800000001"
    assert panel.confirm_box.layout.display == "none"
    assert panel.review_button.layout.display is None


def test_duration_is_estimated_from_the_pace() -> None:
    assert duration_text(294, 250) == "about 2 s"
    assert duration_text(10_000, 20) == "about 9 min"
    assert duration_text(200_000, 20) == "about 2 h 47 min"


def test_large_frames_are_checked_on_request(client: Client,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(campaign_module, "AUTO_CHECK_ROWS", 2)
    panel = CampaignPanel(recipients(4), client).set(from_=SENDER)
    assert panel.dry_run is None and panel.check_box.layout.display is None
    assert "has not run yet" in panel.dry_view.value
    assert repr(panel) == "CampaignPanel(rows=4, state='unchecked')"
    panel.check_button.click()
    assert panel.dry_run is not None and panel.dry_run.valid == 4


# -- sending ------------------------------------------------------------------------------------


def test_send_returns_the_result_with_statuses_and_the_summary(sandbox: Sandbox) -> None:
    frame = broken()
    panel = CampaignPanel(frame, sandbox.client()).set(from_=SENDER)
    result = panel.send()
    assert result is panel.result
    assert list(result.index) == list(frame.index)
    assert result["status"].tolist() == ["sent", "invalid", "invalid", "invalid"]
    assert result.loc[0, "message_id"] and result.loc[0, "code"] == "OK"
    assert len(sandbox.messages()) == 1  # row 3 repeats row 0's recipient: not sent twice
    assert panel.summary is not None
    assert panel.summary.to_dict("records") == [
        {"status": "invalid", "code": "", "rows": 3}, {"status": "sent", "code": "OK", "rows": 1}]
    assert repr(panel) == "CampaignPanel(rows=4, state='done', invalid=3, sent=1)"
    assert "<b>Done</b>: 4 rows: 3 invalid, 1 sent." in panel.outcome_view.value
    assert (panel.progress.value, panel.progress.max, panel.progress.bar_style) == (1, 1, "success")
    assert "sent <b>1</b>" in panel.counts_view.value
    assert panel.run_box.layout.display is None and panel.stop_button.layout.display == "none"


def test_send_button_without_a_loop_sends_synchronously(client: Client) -> None:
    panel = CampaignPanel(recipients(3), client).set(from_=SENDER)
    panel.review_button.click()
    panel.send_button.click()
    assert panel.result is not None and panel.result["status"].tolist() == ["sent"] * 3
    assert panel.send_task is None


def test_nothing_to_send_is_said_not_sent(client: Client) -> None:
    panel = CampaignPanel(recipients(2), client)  # no sender: every row is invalid
    with pytest.raises(ValueError, match="nothing to send: all 2 rows have errors"):
        panel.send()
    panel.send_button.click()  # a click reports it in the panel instead
    assert "Not sent: ValueError: nothing to send" in text(panel.outcome_view.value)
    assert panel.result is None


def test_sending_again_sends_nothing_twice(sandbox: Sandbox) -> None:
    panel = CampaignPanel(recipients(3), sandbox.client()).set(from_=SENDER)
    first = panel.send()
    again = panel.send()
    assert len(sandbox.messages()) == 3
    assert again["message_id"].tolist() == first["message_id"].tolist()
    assert panel.counts is not None and panel.counts.skipped == 3


def test_review_after_a_finished_send_offers_nothing_to_send(sandbox: Sandbox) -> None:
    panel = CampaignPanel(recipients(3), sandbox.client()).set(from_=SENDER)
    panel.send()
    text_ = panel.review()
    assert text_.startswith("Nothing left to send: all 3 valid rows of 3 were done in an "
                            "earlier run")
    assert panel.send_button.disabled and panel.send_button.button_style == ""
    assert panel.send_button.description == "Nothing to send"
    assert "#b00020" not in panel.confirm_view.value


def test_review_offers_again_a_row_whose_send_took_no_effect_and_says_so(
        sandbox: Sandbox) -> None:
    frame = recipients(3)
    frame.loc[1, "Phone"] = "15550100008"  # the sandbox answers it with a 503, every time
    panel = CampaignPanel(frame, sandbox.client()).set(from_=SENDER)
    assert panel.send()["status"].tolist() == ["sent", "failed", "sent"]
    assert panel.review().startswith(
        "Send 1 message (1 WhatsApp) from 3 rows; 1 of them is tried again (failed in an "
        "earlier run without taking effect, or changed since); 2 rows done in an earlier run "
        "are not sent again; no invalid rows")
    assert panel.send_button.description == "Send 1 message"
    panel.send()
    assert len(sandbox.messages()) == 2  # the sent rows were not sent twice


def test_a_bigger_frame_is_offered_only_its_new_rows(sandbox: Sandbox) -> None:
    client = sandbox.client()
    CampaignPanel(recipients(2), client).set(from_=SENDER).send()
    panel = CampaignPanel(recipients(5), client).set(from_=SENDER)  # the edited CSV, re-run
    assert panel.review().startswith("Send 3 messages (3 WhatsApp) from 5 rows; 2 rows done "
                                     "in an earlier run are not sent again; no invalid rows")
    assert panel.send()["status"].tolist() == ["sent"] * 5
    assert len(sandbox.messages()) == 5
    counts = panel.counts
    assert counts is not None and (counts.sent, counts.skipped) == (3, 2)  # each row once
    shown = panel.counts_view.value
    assert "sent <b>3</b>" in shown and "<b>2</b> done in an earlier run" in shown


def test_a_re_run_with_nothing_to_send_shows_no_rate(sandbox: Sandbox) -> None:
    panel = CampaignPanel(recipients(3), sandbox.client()).set(from_=SENDER)
    panel.send()
    panel.send()
    assert panel.counts is not None and panel.counts.sent == 0 and panel.counts.skipped == 3
    assert panel.counts.rate(panel.counts.started_at + 0.001) is None
    assert "msg/s" not in panel.counts_view.value
    assert "sent <b>0</b>" in panel.counts_view.value


def test_a_review_with_a_journal_file_asks_the_file(sandbox: Sandbox, tmp_path: Any) -> None:
    journal = tmp_path / "send.db"
    CampaignPanel(recipients(2), sandbox.client(), journal=journal).set(from_=SENDER).send()
    panel = CampaignPanel(recipients(4), sandbox.client(), journal=journal).set(from_=SENDER)
    assert panel.review().startswith("Send 2 messages")
    assert panel.send()["status"].tolist() == ["sent"] * 4  # the look-up let the file go
    assert len(sandbox.messages()) == 4


def test_a_constant_waits_for_a_value_instead_of_failing_every_row(client: Client) -> None:
    panel = CampaignPanel(recipients(4), client).set(from_=SENDER)
    panel.sources["$(name)"].value = "="
    shown = text(panel.dry_view.value)
    assert "Type a value for $(name)" in shown and "with errors" not in shown
    assert "⚠" not in text(panel.preview_view.value)
    panel.values["$(name)"].value = "Friend"  # no loop here: applies at once
    assert panel.mapping.variables["name"] == Constant("Friend")
    assert "4 of 4 rows ready to send" in text(panel.dry_view.value)
    assert "Hi Friend" in text(panel.preview_view.value)
    panel.values["$(name)"].value = ""  # typed, then emptied: now it is an error
    assert "4 rows with errors" in text(panel.dry_view.value)


def test_an_untyped_constant_is_an_error_once_review_is_asked(client: Client) -> None:
    panel = CampaignPanel(recipients(2), client).set(from_=SENDER)
    panel.sources["$(name)"].value = "="
    assert panel.review().startswith("Nothing to send: all 2 rows have errors")
    assert "2 rows with errors" in text(panel.dry_view.value)


def test_typing_a_constant_applies_once_typing_pauses(client: Client,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from cams_notebook.widgets import campaign_rows

    monkeypatch.setattr(campaign_rows, "TYPING_PAUSE", 0.05)
    panel = CampaignPanel(recipients(2), client).set(from_=SENDER)
    panel.sources["$(name)"].value = "="
    checks: list[int] = []
    original = panel.check

    def counted() -> Any:
        checks.append(1)
        return original()

    panel.check = counted  # type: ignore[method-assign]

    async def type_keys() -> None:
        for typed in ("F", "Fr", "Fri"):  # a keystroke each, as continuous_update sends them
            panel.values["$(name)"].value = typed
        assert panel.mapping.variables["name"] == Constant("")  # not yet: typing goes on
        while panel.mapping.variables["name"] != Constant("Fri"):
            await asyncio.sleep(0.01)

    asyncio.run(asyncio.wait_for(type_keys(), timeout=10))
    assert len(checks) == 1  # one dry run for three keystrokes
    assert "Hi Fri" in text(panel.preview_view.value)
    assert panel.values["$(name)"].continuous_update


def test_stop_ends_an_async_send_early_and_loses_no_row() -> None:
    sandbox = Sandbox(seed=1, receipt_delay=0, latency_ms=(50, 0))
    rows = 40
    panel = CampaignPanel(recipients(rows), sandbox.client(), qps=20).set(from_=SENDER)
    seen: list[int] = []

    async def click_send_then_stop() -> pd.DataFrame | None:
        panel.review_button.click()
        panel.send_button.click()  # a loop runs: the send becomes a task
        assert panel.send_task is not None and not panel.send_task.done()
        while panel.counts is None or panel.counts.sent < 3:
            await asyncio.sleep(0.01)  # the loop is free: the send goes on meanwhile
        seen.append(panel.progress.max)
        panel.stop_button.click()
        assert panel.stop_button.description == "Stopping…"
        return await panel.send_task

    result = asyncio.run(asyncio.wait_for(click_send_then_stop(), timeout=30))
    assert result is not None and result is panel.result
    statuses = result["status"].value_counts().to_dict()
    assert statuses.get("not_sent", 0) > 0
    assert statuses.get("sent", 0) >= 3
    assert sum(statuses.values()) == rows and set(statuses) <= {"sent", "not_sent", "unknown"}
    assert len(sandbox.messages()) == statuses["sent"] + statuses.get("unknown", 0)
    assert seen == [rows]
    assert panel._state == "stopped" and panel.progress.bar_style == "warning"
    assert "<b>Stopped</b>" in panel.outcome_view.value
    assert "send the rest" in panel.outcome_view.value
    assert panel.review_button.layout.display is None  # ready for another go

    # the confirmation offers only what is left (the journal knows what was done)
    left = rows - statuses["sent"] - statuses.get("unknown", 0)
    review = panel.review()
    assert review.startswith(f"Send {left} message{'s' if left != 1 else ''} ")
    assert f"{rows - left} rows done in an earlier run are not sent again" in review
    assert panel.send_button.description == f"Send {left} message{'s' if left != 1 else ''}"
    panel.cancel_button.click()

    # the rest goes out on the next send; the journal keeps the first ones from going twice
    rest = panel.send()
    assert rest["status"].tolist() == ["sent"] * rows
    assert len(sandbox.messages()) == rows
    assert rest["message_id"].nunique() == rows


def test_stop_when_nothing_is_being_sent_does_nothing(client: Client) -> None:
    panel = CampaignPanel(recipients(1), client)
    panel.stop()
    assert panel.stop_button.description == "Stop"


def test_inputs_are_locked_while_sending(client: Client) -> None:
    panel = CampaignPanel(recipients(2), client).set(from_=SENDER)
    states: list[bool] = []

    async def run() -> None:
        task = asyncio.ensure_future(panel.send_async())
        await asyncio.sleep(0)
        states.append(panel.sources["to"].disabled)
        with pytest.raises(RuntimeError, match="being sent"):
            panel.set(from_="1")
        await task

    asyncio.run(run())
    assert states == [True] and not panel.sources["to"].disabled


def test_free_form_messages_map_content_from_a_column(client: Client, sandbox: Sandbox) -> None:
    frame = pd.DataFrame({"to": ["8613900000001"],
                          "content": ['{"text": "Your table is ready"}']})
    sandbox.record_inbound("8613900000001")  # the client is this sandbox's
    panel = CampaignPanel(frame, client).set(type="message", from_=SENDER)
    assert panel.rows["template_code"] not in panel.fields_box.children
    assert panel.rows["content"] in panel.fields_box.children
    assert panel.variables == ()
    assert "Your table is ready" in text(panel.preview_view.value)
    assert panel.send()["status"].tolist() == ["sent"]


# -- display ------------------------------------------------------------------------------------


def test_widget_state_never_holds_the_secret() -> None:
    client = Sandbox(access_key_secret=SECRET, seed=1, receipt_delay=0).client()
    panel = CampaignPanel(recipients(2), client).set(from_=SENDER)
    panel.review()
    panel.send()
    widgets = list(walk(panel.widget, set()))
    assert len(widgets) > 40
    for widget in widgets:
        assert SECRET not in repr(widget.get_state())
    assert SECRET not in repr(panel) and SECRET not in str(panel._repr_mimebundle_())


def test_text_repr_is_deterministic(client: Client) -> None:
    first = CampaignPanel(broken(), client).set(from_=SENDER)
    second = CampaignPanel(broken(), Sandbox(seed=2, receipt_delay=0).client()).set(from_=SENDER)
    assert repr(first) == repr(second) == (
        "CampaignPanel(rows=4, ready=1, invalid=3, state='ready')")
    bundle = first._repr_mimebundle_()
    assert bundle["text/plain"] == repr(first)
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_css_hooks_name_the_parts() -> None:
    panel = CampaignPanel(recipients(1), Sandbox(seed=1).client())
    assert "cams-campaign" in panel.widget._dom_classes
    assert "cams-map-to" in panel.rows["to"]._dom_classes
    assert "cams-send" in panel.send_button._dom_classes


def test_wrong_credentials_are_named_not_taken_for_a_missing_template(sandbox: Sandbox) -> None:
    from cams_notebook.errors import AuthError

    panel = CampaignPanel(recipients(2), sandbox.client(access_key_secret="not-the-secret"))
    with pytest.raises(AuthError) as caught:
        panel.set(template_code="order_shipped")
    assert caught.value.code == "SignatureDoesNotMatch"
    assert "SignatureDoesNotMatch" in panel.vars_note.value


def test_counts_say_retrying_and_count_earlier_rows_once() -> None:
    from cams_notebook.campaigns.bookkeeping import Counts
    from cams_notebook.widgets.campaign_html import counts_html

    out = counts_html(Counts(sent=10, throttled=4, retrying=2, skipped=5), 12.4)
    assert "retrying <b>2</b>" in out and "<b>5</b> done in an earlier run" in out
    assert "12 msg/s" in out and out.count("msg/s") == 1
    assert "retrying" not in counts_html(Counts(sent=3), None)
    assert "msg/s" not in counts_html(Counts(skipped=294), None)


def test_channels_are_offered_by_name_and_only_what_each_can_send(client: Client) -> None:
    panel = CampaignPanel(recipients(2), client)
    assert panel.values["channel_type"].options == (
        ("WhatsApp", "whatsapp"), ("Viber", "viber"), ("Messenger", "messenger"),
        ("Instagram", "instagram"))
    panel.set(channel_type="messenger")
    assert panel.values["type"].options == (("free-form message", "message"),)
    assert panel.mapping.fields["type"] == Constant("message")  # no templates on Messenger
    assert "title='ChannelType" in panel.labels["channel_type"].value
    assert ">Channel</b>" in panel.labels["channel_type"].value


def test_the_outcome_reads_errors_without_their_rule_codes(client: Client) -> None:
    frame = recipients(2)
    frame.loc[1, "Phone"] = None
    panel = CampaignPanel(frame, client).set(from_=SENDER)
    result = panel.send()
    assert result.loc[1, "error"].endswith("[required]")  # the result keeps the rule
    shown = text(panel.outcome_view.value)
    assert "To: is required" in shown and "[required]" not in shown
