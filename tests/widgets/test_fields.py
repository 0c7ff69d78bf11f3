"""Field -> input spec: the model decides which input each field gets."""

from __future__ import annotations

import pytest

from cams_notebook.content import CONTENT_MODELS, PassThroughContent
from cams_notebook.models import CHANNELS
from cams_notebook.widgets.fields import (
    ADVANCED,
    VIBER_ONLY,
    content_specs,
    form_value,
    is_pass_through,
    message_spec,
)


def test_literal_fields_become_choices_in_model_order() -> None:
    channel = message_spec("channel_type")
    assert (channel.kind, channel.key, channel.required) == ("choice", "ChannelType", True)
    assert set(channel.options) == set(CHANNELS)
    assert message_spec("type").options == ("template", "message")


def test_optional_choices_offer_leaving_them_out() -> None:
    assert message_spec("fall_back_rule").options == ("", "undelivered", "sentFailed")
    assert message_spec("label").options == ("", "promotion", "transaction")


def test_numbers_are_typed_as_text_with_their_range_as_placeholder() -> None:
    ttl = message_spec("ttl")
    assert (ttl.kind, ttl.placeholder) == ("number", "30 to 1209600 seconds")
    assert message_spec("fall_back_duration").placeholder == "60 to 43200 seconds"


def test_long_text_gets_a_text_area_and_ids_a_line() -> None:
    assert message_spec("fall_back_content").kind == "textarea"
    assert message_spec("task_id").kind == "text"
    assert message_spec("from_").key == "From"


def test_options_turn_a_plain_field_into_a_choice() -> None:
    spec = message_spec("message_type", options=("text", "image"))
    assert (spec.kind, spec.options) == ("choice", ("", "text", "image"))


def test_advanced_lists_the_viber_only_fields() -> None:
    assert set(VIBER_ONLY) <= set(ADVANCED)
    assert set(VIBER_ONLY) == {"label", "ttl", "tag", "tracking_data"}


@pytest.mark.parametrize(("channel", "limit"), [("whatsapp", 4096), ("viber", 1000),
                                                ("messenger", None)])
def test_message_text_is_a_text_area_with_the_channel_limit(channel: str,
                                                            limit: int | None) -> None:
    (spec,) = content_specs(CONTENT_MODELS[(channel, "text")])
    assert (spec.key, spec.kind, spec.limit, spec.required) == ("text", "textarea", limit, True)


def test_viber_button_fields_are_labelled_as_the_button() -> None:
    specs = {s.key: s for s in content_specs(CONTENT_MODELS[("viber", "text_video_button")])}
    assert [*specs] == ["text", "link", "thumbnail", "fileSize", "duration", "caption", "action"]
    assert specs["caption"].label == "Caption (button label)"
    assert specs["caption"].limit == 30
    assert specs["action"].label == "Action (button URL)"
    assert specs["fileSize"].kind == specs["duration"].kind == "number"


def test_whatsapp_caption_is_an_optional_line_with_its_limit() -> None:
    specs = {s.key: s for s in content_specs(CONTENT_MODELS[("whatsapp", "document")])}
    assert [*specs] == ["link", "fileName", "caption"]
    assert (specs["caption"].required, specs["caption"].limit) == (False, 1024)
    assert specs["fileName"].required


def test_location_coordinates_are_numbers() -> None:
    specs = {s.key: s for s in content_specs(CONTENT_MODELS[("whatsapp", "location")])}
    assert [*specs] == ["latitude", "longitude", "name", "address"]
    assert specs["latitude"].kind == "number" and not specs["name"].required


@pytest.mark.parametrize("key", sorted(CONTENT_MODELS, key=str), ids=lambda k: "-".join(k))
def test_every_content_model_gets_inputs_for_all_it_requires(key: tuple[str, str]) -> None:
    model = CONTENT_MODELS[key]
    specs = content_specs(model)
    if is_pass_through(model):
        assert [(s.key, s.kind) for s in specs] == [("Content", "json")]
        if issubclass(model, PassThroughContent):
            assert all(k in specs[0].placeholder for k in model.required)
        return
    required = {str(f.alias or n) for n, f in model.model_fields.items() if f.is_required()}
    assert required <= {s.key for s in specs}
    assert all(s.kind != "json" for s in specs)


def test_contacts_and_interactive_are_edited_as_json() -> None:
    for key in (("whatsapp", "contacts"), ("whatsapp", "interactive"), ("line", "flex")):
        assert is_pass_through(CONTENT_MODELS[key])


def test_form_value_leaves_blank_inputs_out() -> None:
    line, area = message_spec("task_id"), message_spec("fall_back_content")
    assert form_value(line, "") is None and form_value(line, "   ") is None
    assert form_value(line, "  T-1 ") == "T-1"
    assert form_value(area, "") is None
    assert form_value(area, "  ") == "  "  # kept, so "only spaces" can be reported
    assert form_value(area, " hi\n") == " hi\n"


def test_form_value_turns_numbers_into_numbers_and_keeps_the_rest() -> None:
    spec = message_spec("ttl")
    assert form_value(spec, " 3600 ") == 3600
    assert form_value(spec, "30.27") == 30.27
    assert form_value(spec, "soon") == "soon"  # the model reports it
    assert form_value(spec, "nan") == "nan"
