"""The composer, headless: set widget values, click buttons, read the preview and the result."""

from __future__ import annotations

import asyncio
import html
import threading
from collections.abc import Iterator
from typing import Any

import ipywidgets as W
import pytest

from cams_notebook import Client, Message, MissingCredentialsError, SendResult
from cams_notebook.content import CONTENT_MODELS, dumps
from cams_notebook.receipts.queue import ReceiptQueue
from cams_notebook.receipts.store import ReceiptStore
from cams_notebook.sandbox import Sandbox
from cams_notebook.widgets import Composer
from cams_notebook.widgets.fields import content_specs, is_pass_through
from cams_notebook.widgets.labels import OFFERED_CHANNELS

TEMPLATE = "830174529611842305"  # order_shipped: en, es, pt_BR; variables name, order_id
SENDER = "8613800000000"
READ = "15550100001"  # sandbox magic numbers: Sent, Delivered, Read
NEVER_READ = "15550100002"  # Sent, Delivered, and nothing more
SECRET = "known-secret-value-4f1d"
ENV_SECRET = "known-secret-value-in-env-7a3b"  # of the service_in_env fixture

# A valid value for every structured content key, as a user types it, and as the model reads it.
TYPED = {"text": "Hello there", "link": "https://cdn.example.com/a.jpg",
         "thumbnail": "https://cdn.example.com/t.jpg", "fileSize": "1024", "duration": "30",
         "fileName": "invoice.pdf", "fileType": "pdf", "caption": "Open",
         "action": "https://shop.example.com", "latitude": "30.27", "longitude": "120.15",
         "name": "HQ", "address": "1 Road", "messageId": "m-1", "emoji": "👍"}
PARSED = {**TYPED, "fileSize": 1024, "duration": 30, "latitude": 30.27, "longitude": 120.15}
JSON_CONTENT = {("whatsapp", "contacts"): [{"name": {"formatted_name": "Ada Lovelace"}}],
                ("whatsapp", "interactive"): {"type": "button", "action": {"buttons": []}}}


@pytest.fixture
def client() -> Client:
    return Sandbox(seed=1, receipt_delay=0).client()


@pytest.fixture
def composer(client: Client) -> Composer:
    return Composer(client)


@pytest.fixture
def watched(client: Client) -> Composer:
    """A composer that watches receipts, pulled from the sandbox's queue as from CAMS's."""
    return Composer(client, receipts=ReceiptQueue(client, store=":memory:"))


@pytest.fixture(scope="module")
def shared() -> Iterator[Composer]:
    """One composer for the channel x MessageType matrix: switching types is part of the test."""
    composer = Composer(Sandbox(seed=1, receipt_delay=0).client())
    yield composer
    for widget in list(walk(composer.widget, set())):
        widget.close()


def shown(widget: W.Widget) -> bool:
    return widget.layout.display != "none"


def content_shown(composer: Composer) -> list[str]:
    """The content inputs on screen, in screen order."""
    keys = {id(row): key for key, row in composer.rows.items()}
    return [keys[id(row)] for row in composer.content_box.children if shown(row)]


def parties(channel: str) -> tuple[str, str]:
    return ("12345", "8613900000000") if channel in ("whatsapp", "viber") else ("page-1", "user-1")


def json_value(key: tuple[str, str]) -> Any:
    if key in JSON_CONTENT:
        return JSON_CONTENT[key]
    required = getattr(CONTENT_MODELS[key], "required", ())
    return {k: "x" for k in required} or {"type": "x"}


def fill_template(composer: Composer, to: str = READ, **params: str) -> None:
    composer.fields["From"].value = SENDER
    composer.fields["To"].value = to
    composer.fields["TemplateCode"].value = TEMPLATE
    for name, value in {"name": "Ada", "order_id": "A-1", **params}.items():
        composer.fields[f"TemplateParams.{name}"].value = value


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


# -- free-form: every channel and MessageType ---------------------------------------------


@pytest.mark.parametrize("key", sorted((k for k in CONTENT_MODELS if k[0] in OFFERED_CHANNELS),
                                        key=str), ids=lambda k: "-".join(k))
def test_each_message_type_shows_its_fields_and_builds_the_same_message(
        shared: Composer, key: tuple[str, str]) -> None:
    channel, message_type = key
    sender, recipient = parties(channel)
    shared.fields["ChannelType"].value = channel
    shared.fields["Type"].value = "message"
    shared.fields["MessageType"].value = message_type
    specs = content_specs(CONTENT_MODELS[key])
    expected_keys = ["Content" if s.kind == "json" else f"Content.{s.key}" for s in specs]
    assert content_shown(shared) == expected_keys
    assert not shown(shared.template_box) and shown(shared.message_box)

    for k in expected_keys:
        shared.fields[k].value = ""
    shared.fields["From"].value, shared.fields["To"].value = sender, recipient
    if is_pass_through(CONTENT_MODELS[key]):
        content: Any = json_value(key)
        shared.fields["Content"].value = dumps(content)
    else:
        content = {s.key: PARSED[s.key] for s in specs}
        for s in specs:
            shared.fields[f"Content.{s.key}"].value = TYPED[s.key]

    assert shared.problems == []
    direct = Message(channel_type=channel, type="message", from_=sender, to=recipient,
                     message_type=message_type, content=content)
    assert shared.message is not None
    assert shared.message.to_query() == direct.to_query() == shared.value
    assert not shared.send_button.disabled


def test_message_types_follow_the_channel(composer: Composer) -> None:
    composer.fields["Type"].value = "message"
    composer.fields["ChannelType"].value = "viber"
    assert "text_video_button" in [v for _, v in composer.fields["MessageType"].options]
    composer.fields["MessageType"].value = "text_video_button"
    composer.fields["ChannelType"].value = "messenger"
    assert composer.fields["MessageType"].value == "text"  # not a Messenger type: the first one
    assert content_shown(composer) == ["Content.text"]


def test_only_the_four_channels_of_the_readme_are_offered_by_name(composer: Composer) -> None:
    assert composer.fields["ChannelType"].options == (
        ("WhatsApp", "whatsapp"), ("Viber", "viber"), ("Messenger", "messenger"),
        ("Instagram", "instagram"))
    with pytest.raises(ValueError, match=r"ChannelType: 'line' is not one of \['whatsapp'"):
        composer.set(channel_type="line")


def test_a_channel_offers_only_what_it_can_send(composer: Composer) -> None:
    composer.set(template_code=TEMPLATE)
    for channel in ("messenger", "instagram"):
        composer.fields["ChannelType"].value = channel
        assert composer.fields["Type"].options == (("free-form message", "message"),)
        assert composer.fields["Type"].value == "message" and shown(composer.message_box)
        assert not shown(composer.template_box)
    composer.fields["ChannelType"].value = "viber"
    assert [v for _, v in composer.fields["Type"].options] == ["template", "message"]
    with pytest.raises(ValueError, match="Type: 'template' is not one of"):
        composer.set(channel_type="messenger", type="template")


def test_viber_only_settings_show_for_viber_only(composer: Composer) -> None:
    assert not shown(composer.rows["Ttl"]) and shown(composer.rows["FallBackContent"])
    composer.fields["ChannelType"].value = "viber"
    assert all(shown(composer.rows[k]) for k in ("Label", "Ttl", "Tag", "TrackingData"))


def test_hidden_settings_are_left_out_of_the_message(composer: Composer) -> None:
    composer.set(channel_type="viber", from_="12345", to="8613900000000", message_type="text",
                 content={"text": "Hi"}, ttl=3600, label="transaction")
    assert composer.value["Ttl"] == "3600"
    composer.fields["ChannelType"].value = "whatsapp"
    assert composer.message is not None and "Ttl" not in composer.value


def test_text_shows_a_live_character_count(composer: Composer) -> None:
    composer.set(message_type="text", content={"text": "Hello"})
    assert "5 / 4096 characters" in composer.counts["Content.text"].value
    composer.fields["ChannelType"].value = "viber"
    assert "5 / 1000 characters" in composer.counts["Content.text"].value


# -- validation --------------------------------------------------------------------------------


def test_a_bad_number_disables_send_and_is_explained_next_to_the_field(composer: Composer) -> None:
    fill_template(composer)
    assert not composer.send_button.disabled
    composer.fields["To"].value = "call me"
    assert composer.send_button.disabled and composer.message is None and composer.value == {}
    line = html.unescape(composer.errors["To"].value)
    assert "To</b>: Enter a phone number with its country code, e.g. +1 555 010 0001" in line
    assert "digits only" not in line
    assert "To" in composer.summary.value and "1 thing to fix" in composer.summary.value
    assert composer.errors["From"].value == ""


def test_too_long_text_and_a_bad_link_are_shown_under_their_fields(composer: Composer) -> None:
    composer.set(from_=SENDER, to=READ, message_type="text", content={"text": "x" * 4097})
    assert "Too long: this is 4097 characters long" in composer.errors["Content.text"].value
    assert "#b00020" in composer.counts["Content.text"].value
    composer.set(message_type="image", content={"link": "ftp://x/a.png"})
    assert "starts with https://" in composer.errors["Content.link"].value
    assert composer.send_button.disabled


def test_missing_required_content_is_shown_per_field_once_a_send_is_tried(
        composer: Composer) -> None:
    composer.set(from_=SENDER, to=READ, message_type="document")
    assert composer.errors["Content.fileName"].value == ""  # nothing typed there yet
    assert "fill in: File name, Link" in composer.summary.value
    assert "#b00020" not in composer.summary.value
    with pytest.raises(ValueError, match="not ready to send: File name: This is required"):
        composer.send()
    assert "required" in composer.errors["Content.fileName"].value
    assert "required" in composer.errors["Content.link"].value
    assert "2 things to fix" in composer.summary.value


def test_a_blank_template_variable_is_explained_next_to_it(composer: Composer) -> None:
    fill_template(composer, name="   ")
    line = composer.errors["TemplateParams.name"].value
    assert "is blank" in line and composer.send_button.disabled
    composer.fields["TemplateParams.name"].value = "Ada"
    assert composer.errors["TemplateParams.name"].value == "" and composer.message is not None


def test_an_advanced_problem_opens_the_advanced_section(composer: Composer) -> None:
    fill_template(composer)
    assert composer.advanced.selected_index is None
    composer.fields["FallBackDuration"].value = "5"
    assert "between 60 and 43200" in composer.errors["FallBackDuration"].value
    assert composer.advanced.selected_index == 0


def test_invalid_json_content_is_reported(composer: Composer) -> None:
    composer.set(channel_type="messenger", from_="page", to="psid", message_type="interactive",
                 content='{"type": ')
    assert "not valid JSON" in composer.errors["Content"].value


# -- templates --------------------------------------------------------------------------------


def test_template_picker_lists_approved_templates_first_with_status_for_others(
        composer: Composer) -> None:
    labels = [label for label, _ in composer.fields["TemplateCode"].options]
    assert labels[:2] == ["(choose a template)", "order_shipped"]
    assert "pending_template (auditing)" in labels and "rejected_template (fail)" in labels
    assert labels.index("pending_template (auditing)") > labels.index("appointment_reminder")
    assert not any("viber" in label for label in labels)
    composer.fields["ChannelType"].value = "viber"
    assert [label for label, _ in composer.fields["TemplateCode"].options][1:] == [
        "viber_promo", "viber_notice"]


def test_choosing_a_template_shows_its_languages_and_one_input_per_variable(
        composer: Composer) -> None:
    composer.fields["TemplateCode"].value = TEMPLATE
    assert [v for _, v in composer.fields["Language"].options] == ["en", "es", "pt_BR"]
    assert composer.fields["Language"].value == "en"
    assert composer.fields["TemplateParams.name"].placeholder == "Alice"
    assert composer.fields["TemplateParams.order_id"].placeholder == "A10023"
    assert composer.fields["TemplateParams.name"].value == ""
    composer.fields["Language"].value = "es"
    assert composer.fields["TemplateParams.name"].placeholder == "Lucía"


def test_template_preview_shows_the_filled_body(composer: Composer) -> None:
    fill_template(composer)
    preview = html.unescape(composer.preview.value)
    assert "Hi Ada, your order A-1 is on its way!" in preview
    assert "Track order" in preview and "https://shop.example.com/track/A-1" in preview
    assert '"TemplateParams": "{\\"name\\":\\"Ada\\",\\"order_id\\":\\"A-1\\"}"' in preview


def test_an_unapproved_template_cannot_be_sent(composer: Composer) -> None:
    composer.set(from_=SENDER, to=READ, template_code="830174529611842995",
                 template_params={"name": "Ada", "invoice_id": "I-1", "amount": "9"})
    assert composer.send_button.disabled
    assert "auditing" in composer.errors["TemplateCode"].value


def test_template_details_are_fetched_once_per_language(client: Client,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    fetch = client.get_template

    def counting(code: str, *, language: str) -> Any:
        calls.append((code, language))
        return fetch(code, language=language)

    monkeypatch.setattr(client, "get_template", counting)
    composer = Composer(client)
    for language in ("en", "es", "en", "es"):
        composer.set(template_code=TEMPLATE, language=language)
    assert calls == [(TEMPLATE, "en"), (TEMPLATE, "es")]


def test_a_failed_template_listing_is_shown_once_not_retried_per_keystroke(
        monkeypatch: pytest.MonkeyPatch) -> None:
    client = Sandbox(seed=1, receipt_delay=0).client(access_key_secret="not-the-secret")
    calls = []
    listing = client.list_templates
    monkeypatch.setattr(client, "list_templates", lambda **kw: calls.append(kw) or listing(**kw))
    composer = Composer(client)
    composer.fields["To"].value = "8613900000000"
    composer.fields["From"].value = SENDER
    assert len(calls) == 1
    assert "Could not list templates" in composer.template_note.value
    assert "SignatureDoesNotMatch" in composer.template_note.value


def test_template_variables_survive_a_language_switch(composer: Composer) -> None:
    fill_template(composer)
    composer.fields["Language"].value = "pt_BR"
    assert composer.fields["TemplateParams.name"].value == "Ada"
    assert "Olá Ada" in composer.preview.value


# -- sending ----------------------------------------------------------------------------------


def test_send_click_without_a_loop_sends_and_shows_ids_and_receipts(watched: Composer) -> None:
    fill_template(watched)
    watched.send_button.click()
    result = watched.result
    assert isinstance(result, SendResult) and result.code == "OK"
    assert result.message_id in watched.result_view.value
    assert result.request_id in watched.result_view.value
    assert "Sent → Delivered → Read" in html.unescape(watched.receipt_view.value)


def test_send_async_watches_receipts_in_a_task(watched: Composer) -> None:
    fill_template(watched)

    async def main() -> tuple[Any, str | None]:
        result = await watched.send_async()
        assert watched.receipt_task is not None
        return result, await watched.receipt_task

    result, status = asyncio.run(main())
    assert result.code == "OK" and status == "Read"
    assert "Sent → Delivered → Read" in html.unescape(watched.receipt_view.value)


def test_send_click_in_a_running_loop_uses_a_task_and_stop_stops_watching(
        watched: Composer) -> None:
    fill_template(watched, to=NEVER_READ)

    async def main() -> None:
        watched.send_button.click()
        assert watched.send_task is not None
        await watched.send_task
        await asyncio.sleep(0)
        assert shown(watched.stop_button)
        watched.stop_button.click()
        with pytest.raises(asyncio.CancelledError):
            await watched.receipt_task  # type: ignore[misc]

    asyncio.run(main())
    assert "Sent → Delivered" in html.unescape(watched.receipt_view.value)
    assert "stopped watching" in watched.receipt_view.value
    assert not shown(watched.stop_button)


def test_without_receipts_nothing_is_watched(composer: Composer) -> None:
    fill_template(composer)

    async def main() -> None:
        await composer.send_async()
        assert composer.receipt_task is None

    asyncio.run(main())
    assert composer.receipt_view.value == "" and not shown(composer.stop_button)
    with pytest.raises(ValueError, match="receipts="):
        asyncio.run(composer.watch_receipts("any"))


def test_receipts_from_a_store_someone_else_fills_are_shown(client: Client) -> None:
    store = ReceiptStore()
    composer = Composer(client, receipts=store)
    fill_template(composer)
    queue = ReceiptQueue(client, store=store)  # e.g. started elsewhere in the notebook

    async def main() -> str | None:
        result = await composer.send_async()
        assert isinstance(result, SendResult) and composer.receipt_task is not None
        queue.poll(wait_seconds=0)
        return await composer.receipt_task

    assert asyncio.run(main()) == "Read"
    assert "Sent → Delivered → Read" in html.unescape(composer.receipt_view.value)


def test_a_running_queue_is_read_not_polled_again(client: Client) -> None:
    queue = ReceiptQueue(client, store=":memory:", wait_seconds=0)
    composer = Composer(client, receipts=queue)
    fill_template(composer)
    pollers: set[threading.Thread] = set()
    original = queue.poll

    def poll(*args: Any, **kwargs: Any) -> Any:
        pollers.add(threading.current_thread())
        return original(*args, **kwargs)

    queue.poll = poll  # type: ignore[method-assign]
    with queue:
        queue.start()
        status = asyncio.run(_send_and_watch(composer))
        assert status == "Read" and pollers == {queue._thread}  # only its own thread polls


async def _send_and_watch(composer: Composer) -> str | None:
    await composer.send_async()
    assert composer.receipt_task is not None
    return await composer.receipt_task


def test_receipts_must_be_a_queue_or_a_store(client: Client) -> None:
    with pytest.raises(TypeError, match="ReceiptQueue or ReceiptStore"):
        Composer(client, receipts=[])  # type: ignore[arg-type]


def test_a_refused_send_shows_the_error_class_and_code(composer: Composer) -> None:
    fill_template(composer, to="15550100007")  # always throttled
    result = composer.send()
    assert composer.result is result and getattr(result, "code", None) == "System.LimitControl"
    assert "ThrottledError" in composer.result_view.value
    assert "System.LimitControl" in composer.result_view.value
    assert composer.receipt_view.value == ""


def test_sending_an_invalid_message_is_a_value_error(composer: Composer) -> None:
    with pytest.raises(ValueError, match="not ready to send"):
        composer.send()


# -- API --------------------------------------------------------------------------------------


def test_set_prefills_from_snake_case_or_wire_names(composer: Composer) -> None:
    composer.set(From=SENDER, To="+86 139 0000 0000", TemplateCode=TEMPLATE, Language="pt-br",
                 TemplateParams={"name": "João", "order_id": "A-9"})
    assert composer.value == Message(
        channel_type="whatsapp", type="template", from_=SENDER, to="8613900000000",
        template_code=TEMPLATE, language="pt_BR",
        template_params={"name": "João", "order_id": "A-9"}).to_query()


def test_set_rejects_fields_the_form_does_not_have(composer: Composer) -> None:
    with pytest.raises(TypeError, match="payload"):
        composer.set(payload=["a"])
    with pytest.raises(ValueError, match="not a content field"):
        composer.set(message_type="text", content={"link": "https://x.example"})
    with pytest.raises(ValueError, match="not among"):
        composer.set(template_code="999")


def test_observe_is_called_with_each_new_valid_message(composer: Composer) -> None:
    seen: list[Message] = []
    composer.observe(seen.append)
    fill_template(composer)
    composer.fields["To"].value = "oops"
    composer.fields["To"].value = "8613900000001"
    assert [m.to for m in seen] == [READ, "8613900000001"]
    assert all(isinstance(m, Message) for m in seen)


def test_copy_as_code_round_trips_a_template_message(composer: Composer) -> None:
    fill_template(composer)
    composer.code_button.click()
    assert shown(composer.code_view) and "message = Message(" in composer.code_view.value
    code = composer.code
    assert code is not None and "client.send(message)" in code and "from_=" in code
    # the composer talks to a sandbox, so the code does too, by name (no keys are set here)
    assert "client = Client.sandbox()" in code
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - the point; it sends to the default sandbox
    assert namespace["message"] == composer.message
    assert namespace["result"].code == "OK"
    assert namespace["client"].account == ("sandbox:in-process", "sandbox-access-key-id")


@pytest.mark.parametrize("fields", [
    {"channel_type": "viber", "from_": "12345", "to": "+86 139 0000 0000",
     "message_type": "text_button", "label": "transaction", "ttl": 3600,
     "content": {"text": "Hi 🚚", "caption": "Open", "action": "https://x.example"},
     "fall_back_content": "Hi by SMS"},
    {"channel_type": "whatsapp", "from_": SENDER, "to": READ, "message_type": "location",
     "content": {"latitude": 30.27, "longitude": 120, "name": "HQ"}, "task_id": "T-1"},
    {"channel_type": "messenger", "from_": "page", "to": "psid", "message_type": "quickReply",
     "content": {"text": "Pick", "quick_replies": [{"content_type": "text", "title": "A",
                                                    "payload": "a"}]}},
], ids=["viber-button", "whatsapp-location", "messenger-json"])
def test_copy_as_code_round_trips_free_form_messages(composer: Composer,
                                                     fields: dict[str, Any]) -> None:
    composer.set(**fields)
    namespace: dict[str, Any] = {}
    exec(compile(composer.code or "", "<composer>", "exec"), namespace)  # noqa: S102
    assert namespace["message"] == composer.message
    assert namespace["message"].to_query() == Message(**fields, type="message").to_query()


def test_fallback_sms_preview_counts_segments(composer: Composer) -> None:
    fill_template(composer)
    composer.fields["FallBackContent"].value = "Your order A-1 is on its way"
    assert "1 SMS segment, GSM-7" in composer.preview.value
    composer.fields["FallBackContent"].value = "🚚" * 40
    assert "2 SMS segments, UCS-2" in composer.preview.value


def test_widget_state_never_holds_the_secret() -> None:
    client = Sandbox(access_key_secret=SECRET, seed=1, receipt_delay=0).client()
    composer = Composer(client)
    fill_template(composer)
    composer.fields["TaskId"].value = "T-1"
    composer.code_button.click()
    assert composer.send().code == "OK"  # type: ignore[union-attr]
    widgets = list(walk(composer.widget, set()))
    assert len(widgets) > 50
    for widget in widgets:
        assert SECRET not in repr(widget.get_state())
    assert SECRET not in repr(composer) and SECRET not in str(composer._repr_mimebundle_())


def test_text_repr_is_deterministic(client: Client) -> None:
    first, second = Composer(client), Composer(client)
    fill_template(first)
    fill_template(second)
    first.send()
    assert repr(first) == repr(second) == (
        "Composer(channel='whatsapp', type='template', ready=True)")
    bundle = first._repr_mimebundle_()
    assert bundle["text/plain"] == repr(first)
    assert "application/vnd.jupyter.widget-view+json" in bundle


# -- without a client: the environment's account, or a clear line; never the sandbox silently --


def fill_text(composer: Composer) -> None:
    composer.set(type="message", from_=SENDER, to=READ, message_type="text",
                 content={"text": "Your order has shipped"})


def test_without_a_client_or_credentials_the_composer_still_composes_and_previews() -> None:
    composer = Composer()
    note = html.unescape(composer.template_note.value)
    assert "Could not list templates" in note and "ALIBABA_CLOUD_ACCESS_KEY_ID" in note
    assert "Composer(Client.sandbox())" in note
    fill_text(composer)
    assert composer.message is not None and not composer.problems
    assert "Your order has shipped" in composer.preview.value
    assert composer.value["To"] == READ and not composer.send_button.disabled
    assert composer._client is None  # nothing was made behind the user's back


def test_send_click_without_a_client_or_credentials_shows_what_to_set_not_a_traceback(
        capsys: pytest.CaptureFixture[str]) -> None:
    composer = Composer()
    fill_text(composer)
    composer.send_button.click()  # no loop: the synchronous path
    line = html.unescape(composer.result_view.value)
    assert "Not sent" in line and "MissingCredentialsError" in line
    for name in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                 "Composer(Client.sandbox())"):
        assert name in line
    assert composer.result is None and not composer.send_button.disabled
    assert "sandbox" not in capsys.readouterr().out  # no sandbox client was made

    async def in_a_kernel() -> None:  # ipykernel's running loop: no task, the same line
        composer.result_view.value = ""
        composer.send_button.click()
        assert composer.send_task is None
        assert "MissingCredentialsError" in composer.result_view.value

    asyncio.run(in_a_kernel())
    with pytest.raises(MissingCredentialsError, match="ALIBABA_CLOUD_ACCESS_KEY_SECRET"):
        composer.send()  # the API raises, after saying the same in the widget
    assert not composer._sending


def test_without_a_client_the_composer_uses_the_credentials_of_the_environment(
        service_in_env: Sandbox) -> None:
    composer = Composer()
    fill_template(composer)  # the template list came from the service
    assert composer.client.account == (service_in_env.serve().url, service_in_env.access_key_id)
    code = composer.code or ""
    assert "client = Client.from_env()" in code and "Client.sandbox()" not in code
    assert composer.send().code == "OK"  # type: ignore[union-attr]
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - the copied code reaches the same account
    assert namespace["result"].code == "OK"
    assert [m["to"] for m in service_in_env.messages()] == [READ, READ]
    assert ENV_SECRET not in code
    namespace["client"].close()
    composer.client.close()


def test_an_async_client_is_refused() -> None:
    with pytest.raises(TypeError, match="blocking"):
        Composer(Sandbox(seed=1).async_client())  # type: ignore[arg-type]


def test_copy_as_code_of_a_loopback_sandbox_names_the_sandbox() -> None:
    sandbox = Sandbox(access_key_secret=SECRET, seed=1, receipt_delay=0)
    server = sandbox.serve()
    client = Client(access_key_id=sandbox.access_key_id, access_key_secret=SECRET,
                    endpoint=server.url)
    try:
        composer = Composer(client)
        fill_template(composer)
        assert client.account[0] == server.url
        assert "client = Client.sandbox()" in (composer.code or "")
    finally:
        client.close()
        sandbox.stop()


# -- issue #15: words, errors only once touched, the window, the previous message, copying ------


def test_inputs_are_labelled_in_words_with_the_wire_name_as_tooltip(composer: Composer) -> None:
    for key, words in (("ChannelType", "Channel"), ("TemplateCode", "Template"),
                       ("CustSpaceId", "Space ID"), ("FallBackContent", "Fallback SMS text")):
        label = composer.fields[key].description  # HTML: the wire name is its hover hint
        assert label == f"<span title='{key} (the request parameter)'>{words}</span>"
        assert composer.fields[key].description_allow_html
    composer.set(template_code=TEMPLATE)
    assert composer.fields["TemplateParams.name"].tooltip.startswith("TemplateParams.name")


def test_the_recipient_hint_says_what_is_accepted(composer: Composer) -> None:
    assert "+1 555 010 0001" in composer.fields["To"].placeholder
    assert "digits only" not in composer.fields["To"].placeholder
    fill_template(composer, to="+1 555 010 0001")
    assert composer.message is not None and composer.message.to == "15550100001"


def test_picking_a_template_shows_no_error_before_a_variable_is_typed(composer: Composer) -> None:
    composer.set(from_=SENDER, to=READ)
    composer.fields["TemplateCode"].value = TEMPLATE  # as a person picks it
    assert composer.errors["TemplateParams.name"].value == ""
    assert composer.errors["TemplateParams.order_id"].value == ""
    assert "fill in: name, order_id" in composer.summary.value
    assert "#b00020" not in composer.summary.value and composer.send_button.disabled
    composer.fields["TemplateParams.name"].value = "Ada"
    composer.fields["TemplateParams.name"].value = ""  # typed, then emptied
    assert composer.errors["TemplateParams.name"].value != ""
    assert composer.errors["TemplateParams.order_id"].value == ""  # still untouched


def test_send_of_an_unfinished_message_shows_every_problem_in_words(composer: Composer) -> None:
    composer.set(template_code=TEMPLATE)
    with pytest.raises(ValueError) as caught:
        composer.send()
    assert "[required]" not in str(caught.value)
    assert "To: Enter the recipient." in str(caught.value)
    assert "Enter the recipient" in composer.errors["To"].value
    assert composer.errors["TemplateParams.name"].value != ""


def test_a_free_form_whatsapp_message_to_a_closed_window_is_warned_before_send() -> None:
    sandbox = Sandbox(seed=1, receipt_delay=0)
    client = sandbox.client()
    sandbox.record_inbound("8613900000001")
    with ReceiptQueue(client, message_type="ChatAppInbound", store=":memory:") as inbound:
        inbound.drain(wait_seconds=0)
        composer = Composer(client, inbound=inbound.store)
        composer.set(type="message", from_=SENDER, to="8613900000002", message_type="text",
                     content={"text": "Hi"})
        assert "Ready to send" not in composer.summary.value
        assert "24-hour window is closed" in html.unescape(composer.summary.value)
        assert "131047" in composer.window_view.value
        composer.set(to="+86 139 0000 0001")  # wrote in lately: the window is open
        assert "Ready to send" in composer.summary.value and composer.window_view.value == ""
        composer.set(type="template", template_code=TEMPLATE, template_params={
            "name": "Ada", "order_id": "A-1"}, language="en")
        assert composer.window_view.value == ""  # templates are not bound to the window


def test_without_inbound_the_window_is_mentioned_not_guessed(composer: Composer) -> None:
    composer.set(type="message", from_=SENDER, to=READ, message_type="text",
                 content={"text": "Hi"})
    assert "Ready to send" in composer.summary.value
    assert "inbound=" in composer.window_view.value and "#8a5a00" not in composer.window_view.value


def test_the_stop_button_says_it_stops_watching_receipts(watched: Composer) -> None:
    assert watched.stop_button.description == "Stop watching receipts"
    assert "sent already" in watched.stop_button.tooltip


def test_the_sent_card_becomes_the_previous_message_once_the_form_changes(
        composer: Composer) -> None:
    fill_template(composer)
    result = composer.send()
    assert "<b style='color:#1b7f3b'>Sent</b>" in composer.result_view.value
    composer.fields["To"].value = "not a number"  # a new, still invalid message
    card = composer.result_view.value
    assert "Previous message: sent" in card and "cams-previous" in card
    assert getattr(result, "message_id", "") in card
    composer.fields["To"].value = READ  # back to the message that was sent
    assert "Previous" not in composer.result_view.value


def test_wrong_credentials_are_named_not_taken_for_a_missing_template() -> None:
    from cams_notebook.errors import AuthError

    composer = Composer(Sandbox(seed=1).client(access_key_secret="not-the-secret"))
    with pytest.raises(AuthError) as caught:
        composer.set(template_code=TEMPLATE)
    assert caught.value.code == "SignatureDoesNotMatch"
    assert "AuthError: SignatureDoesNotMatch" in composer.template_note.value


def test_copy_as_code_puts_the_code_on_the_button_for_the_browser(composer: Composer) -> None:
    assert composer.code_button.disabled and composer.code_button.text == ""
    fill_template(composer)
    assert composer.code_button.text == composer.code and not composer.code_button.disabled
    composer.code_button.copied = "failed"  # as the browser reports a refused clipboard
    composer.code_button.clicks += 1
    assert shown(composer.code_view) and "message = Message(" in composer.code_view.value
    assert "select the code below" in composer.copy_note.value
    composer.fields["TemplateParams.name"].value = "Bo"  # another message: not what was copied
    assert composer.code_button.text == composer.code and "Bo" in composer.code_button.text
    assert not shown(composer.code_view) and composer.copy_note.value == ""
