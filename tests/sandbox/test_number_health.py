"""Number and template health in the sandbox, read by the official SDK.

A user about to run a campaign asks CAMS three things: the sender numbers' tier, quality and
status (QueryChatappPhoneNumbers), whether a number or template can send now
(GetWhatsappHealthStatus), and a template's quality (GetChatappTemplateDetail). The SDK
(``alibabacloud_cams20200606``) runs unmodified against the loopback sandbox and parses each
answer into its own models; the tests check the values, for the default sender, the magic
senders and the ``tier`` option.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from alibabacloud_tea_openapi.exceptions import ClientException
from darabonba.runtime import RuntimeOptions

from cams_notebook import Message
from cams_notebook.cli.sandbox import add_arguments, build_core
from cams_notebook.cli.sandbox import main as sandbox_main
from cams_notebook.sandbox import DEFAULT_CUST_SPACE_ID, MAGIC_SENDERS, Sandbox
from cams_notebook.sandbox.number_health import SANDBOX_BUSINESS_ID, SANDBOX_WABA_ID
from cams_notebook.sandbox.server import SandboxServer
from tests.helpers import SENDER, TEMPLATE_CODE, template_fields
from tests.sdk_reference import sdk_client, sdk_models

KEY_ID, SECRET = "sdk-health-key", "sdk-health-secret"
RED, BLOCKED, YELLOW, COEXISTENCE = "8613800000901", "8613800000902", "8613800000903", \
    "8613800000904"
WELCOME_OFFER, PENDING = "830174529611842417", "830174529611842995"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Sandbox, SandboxServer]]:
    """A sandbox at TIER_10K that has sent once from the default and every magic sender."""
    sandbox = Sandbox(access_key_id=KEY_ID, access_key_secret=SECRET, seed=5, tier="TIER_10K")
    client = sandbox.client()
    for sender in (SENDER, RED, BLOCKED, YELLOW, COEXISTENCE):
        # sends are answered as before: a sick sender's message is still accepted
        assert client.send(Message(**template_fields(from_=sender))).message_id
    server = sandbox.serve()
    yield sandbox, server
    sandbox.stop()


def sdk(server: SandboxServer) -> Any:
    return sdk_client(endpoint=f"127.0.0.1:{server.port}", access_key_id=KEY_ID,
                      access_key_secret=SECRET)


def health(server: SandboxServer, **kwargs: Any) -> Any:
    request = sdk_models.GetWhatsappHealthStatusRequest(
        **{"cust_space_id": DEFAULT_CUST_SPACE_ID, **kwargs})
    return sdk(server).get_whatsapp_health_status_with_options(request, RuntimeOptions()).body


# -- QueryChatappPhoneNumbers ---------------------------------------------------------------------


def test_the_sdk_reads_each_sender_s_tier_quality_and_status(
        served: tuple[Sandbox, SandboxServer]) -> None:
    _, server = served
    request = sdk_models.QueryChatappPhoneNumbersRequest(cust_space_id=DEFAULT_CUST_SPACE_ID)
    body = sdk(server).query_chatapp_phone_numbers_with_options(request, RuntimeOptions()).body
    assert isinstance(body, sdk_models.QueryChatappPhoneNumbersResponseBody)
    assert (body.code, body.success) == ("OK", True)
    rows = {n.phone_number: n for n in body.phone_numbers}
    assert all(isinstance(n, sdk_models.QueryChatappPhoneNumbersResponseBodyPhoneNumbers)
               for n in rows.values())
    seen = {number: (n.status, n.quality_rating, n.messaging_limit_tier)
            for number, n in rows.items()}
    assert seen == {
        SENDER: ("CONNECTED", "GREEN", "TIER_10K"),
        RED: ("FLAGGED", "RED", "TIER_10K"),
        BLOCKED: ("BANNED", "RED", "TIER_10K"),
        YELLOW: ("CONNECTED", "YELLOW", "TIER_250"),  # its own tier, whatever the sandbox's
        COEXISTENCE: ("CONNECTED", "GREEN", "TIER_10K"),
        "8613800000905": ("CONNECTED", "GREEN", "TIER_10K"),  # goes RED after 50 sends
    }
    default = rows[SENDER]
    assert (default.verified_name, default.name_status, default.code_verification_status) == \
        ("Sandbox", "APPROVED", "VERIFIED")
    assert default.status_queue and default.up_queue  # the receipt queues, as before


def test_the_status_filter_keeps_only_numbers_in_that_status(
        served: tuple[Sandbox, SandboxServer]) -> None:
    _, server = served
    request = sdk_models.QueryChatappPhoneNumbersRequest(cust_space_id=DEFAULT_CUST_SPACE_ID,
                                                         status="FLAGGED")
    body = sdk(server).query_chatapp_phone_numbers_with_options(request, RuntimeOptions()).body
    assert [n.phone_number for n in body.phone_numbers] == [RED]


def test_the_magic_senders_do_not_collide_with_the_magic_recipients() -> None:
    from cams_notebook.sandbox import MAGIC_NUMBERS

    assert set(MAGIC_SENDERS) == {RED, BLOCKED, YELLOW, COEXISTENCE, "8613800000905"}
    assert not set(MAGIC_SENDERS) & set(MAGIC_NUMBERS)
    assert SENDER not in MAGIC_SENDERS


# -- the tier option -------------------------------------------------------------------------------


def test_the_default_tier_is_unlimited_and_an_edit_takes_effect_on_a_new_sandbox() -> None:
    rows = Sandbox().client().call("QueryChatappPhoneNumbers", {})["PhoneNumbers"]
    tiers = {r["PhoneNumber"]: r["MessagingLimitTier"] for r in rows}
    assert set(tiers) == {SENDER, *MAGIC_SENDERS}  # the account's numbers, listed from the start
    assert tiers[SENDER] == "TIER_UNLIMITED"
    rows = Sandbox(tier="TIER_250").client().call("QueryChatappPhoneNumbers", {})["PhoneNumbers"]
    assert {r["PhoneNumber"]: r["MessagingLimitTier"] for r in rows}[SENDER] == "TIER_250"


def test_numbers_given_to_the_sandbox_are_listed_before_they_send() -> None:
    rows = Sandbox(phone_numbers=["+8613800000077"]).client().call(
        "QueryChatappPhoneNumbers", {})["PhoneNumbers"]
    assert "8613800000077" in {r["PhoneNumber"] for r in rows}


def test_an_unknown_tier_is_refused_naming_the_field_and_the_choices() -> None:
    with pytest.raises(ValueError, match=r"tier must be one of TIER_250, TIER_2K, .*'TIER_1K'"):
        Sandbox(tier="TIER_1K")


def test_the_command_line_tier_reaches_the_core() -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="cams-notebook sandbox")
    add_arguments(parser)
    default: Any = build_core(parser.parse_args([]))
    edited: Any = build_core(parser.parse_args(["--tier", "TIER_2K"]))
    assert (default.tier, edited.tier) == ("TIER_UNLIMITED", "TIER_2K")


def test_the_command_line_refuses_an_unknown_tier_in_one_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert sandbox_main(["--tier", "tier_250", "--port", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tier must be one of TIER_250" in err[0] and "'tier_250'" in err[0]


# -- GetWhatsappHealthStatus -----------------------------------------------------------------------


def entity_of(body: Any, entity_type: str) -> Any:
    (entity,) = [e for e in body.data.entities if e.entity_type == entity_type]
    return entity


def test_a_healthy_number_is_available_with_its_waba_and_business(
        served: tuple[Sandbox, SandboxServer]) -> None:
    _, server = served
    body = health(server, node_type="phone", phone_number=SENDER)
    assert isinstance(body, sdk_models.GetWhatsappHealthStatusResponseBody)
    assert isinstance(body.data, sdk_models.GetWhatsappHealthStatusResponseBodyData)
    assert (body.code, body.success, body.data.can_send_message) == ("OK", True, "AVAILABLE")
    assert [e.entity_type for e in body.data.entities] == ["PHONE_NUMBER", "WABA", "BUSINESS"]
    phone = entity_of(body, "PHONE_NUMBER")
    assert (phone.phone_number, phone.waba_id, phone.can_send_message, phone.errors) == \
        (SENDER, SANDBOX_WABA_ID, "AVAILABLE", [])
    assert entity_of(body, "BUSINESS").business_id == SANDBOX_BUSINESS_ID


@pytest.mark.parametrize(("number", "can_send", "code"), [
    (BLOCKED, "BLOCKED", "131031"),
    (RED, "LIMITED", "Sandbox.QualityRed"),
])
def test_a_sick_number_says_it_cannot_send_freely_and_why(
        served: tuple[Sandbox, SandboxServer], number: str, can_send: str, code: str) -> None:
    _, server = served
    body = health(server, node_type="phone", phone_number=number)
    assert body.data.can_send_message == can_send  # the worst entity decides
    phone = entity_of(body, "PHONE_NUMBER")
    assert phone.can_send_message == can_send
    (error,) = phone.errors
    assert isinstance(error, sdk_models.GetWhatsappHealthStatusResponseBodyDataEntitiesErrors)
    assert error.error_code == code and error.error_description and error.possible_solution
    assert entity_of(body, "WABA").can_send_message == "AVAILABLE"


@pytest.mark.parametrize("number", [YELLOW, COEXISTENCE])
def test_a_yellow_or_coexistence_number_may_still_send(
        served: tuple[Sandbox, SandboxServer], number: str) -> None:
    _, server = served
    assert health(server, node_type="phone", phone_number=number).data.can_send_message == \
        "AVAILABLE"


def test_the_coexistence_number_is_paced_at_20_per_second() -> None:
    from cams_notebook.sandbox.number_health import sender_health

    assert (sender_health(COEXISTENCE).throughput, sender_health(SENDER).throughput) == (20, 80)


def test_a_template_node_follows_the_template_s_review(
        served: tuple[Sandbox, SandboxServer]) -> None:
    _, server = served
    body = health(server, node_type="template", template_code=TEMPLATE_CODE, language="en")
    template = entity_of(body, "MESSAGE_TEMPLATE")
    assert (template.template_code, template.language, template.can_send_message) == \
        (TEMPLATE_CODE, "en", "AVAILABLE")
    body = health(server, node_type="template", template_code=PENDING, language="en")
    assert body.data.can_send_message == "BLOCKED"
    assert entity_of(body, "MESSAGE_TEMPLATE").errors[0].error_code == \
        "Sandbox.TemplateNotApproved"


def test_a_waba_node_answers_the_waba_first(served: tuple[Sandbox, SandboxServer]) -> None:
    _, server = served
    body = health(server, node_type="waba", waba_id=SANDBOX_WABA_ID)
    assert [e.entity_type for e in body.data.entities] == ["WABA", "BUSINESS"]
    assert body.data.can_send_message == "AVAILABLE"


def test_a_missing_node_type_is_the_sdk_s_client_exception(
        served: tuple[Sandbox, SandboxServer]) -> None:
    _, server = served
    with pytest.raises(ClientException) as caught:
        health(server, phone_number=SENDER)
    assert caught.value.code == "MissingNodeType"


@pytest.mark.parametrize(("kwargs", "code", "field"), [
    ({"node_type": "number", "phone_number": SENDER}, "InvalidParameter.NodeType", "NodeType"),
    ({"node_type": "phone"}, "InvalidParameter.PhoneNumber", "PhoneNumber"),
    ({"node_type": "waba", "waba_id": "999"}, "InvalidParameter.WabaId", "WabaId"),
    ({"node_type": "template", "template_code": "1", "language": "en"},
     "DetailError.TemplateNotExist", "template"),
])
def test_bad_health_questions_are_refused_naming_the_field(
        served: tuple[Sandbox, SandboxServer], kwargs: dict[str, str], code: str,
        field: str) -> None:
    _, server = served
    body = health(server, **kwargs)
    assert body.code == code and field in body.message and body.data is None


# -- GetChatappTemplateDetail ----------------------------------------------------------------------


@pytest.mark.parametrize(("code", "audit", "quality", "allow"), [
    (TEMPLATE_CODE, "pass", "GREEN", True),
    (WELCOME_OFFER, "pass", "GREEN", True),
    (PENDING, "auditing", "UNKNOWN", False),
])
def test_the_sdk_reads_a_template_s_quality_and_allow_send(
        served: tuple[Sandbox, SandboxServer], code: str, audit: str, quality: str,
        allow: bool) -> None:
    _, server = served
    request = sdk_models.GetChatappTemplateDetailRequest(
        cust_space_id=DEFAULT_CUST_SPACE_ID, template_code=code, language="en")
    body = sdk(server).get_chatapp_template_detail_with_options(request, RuntimeOptions()).body
    data = body.data
    assert isinstance(data, sdk_models.GetChatappTemplateDetailResponseBodyData)
    assert (data.audit_status, data.quality_score, data.allow_send) == (audit, quality, allow)
    assert isinstance(data.reason, str)
