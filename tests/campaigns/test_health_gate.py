"""The health gate against the sandbox: each refusal and each warning, asked once per campaign.

Oracle: issue #13 ("BLOCKED, not CONNECTED, or a template not approved: refuse before the first
request, saying why and what to do. LIMITED, YELLOW: warn"), the reference
``platform_rules.md`` §3-§4, and ``cams_notebook/campaigns/health_gate.py``'s docstring (a RED
number or template is refused; a check that cannot be made is a warning, never a crash). The
sandbox's magic senders (``sandbox/number_health.py``): 8613800000901 FLAGGED/RED, 902
BANNED/BLOCKED, 903 YELLOW at TIER_250, 904 coexistence. States the sandbox does not take on by
itself are made by changing its answers on the way (``tests/campaigns/health_transport.py``).

The sandbox's QueryChatappPhoneNumbers lists the numbers it has seen send, so each test sends
one message from the senders it checks first: the numbers are the account's, in use.
"""

from __future__ import annotations

from typing import Any

import httpx
import pandas as pd
import pytest

from cams_notebook.campaigns.dry_run import plan_chunks
from cams_notebook.campaigns.health_check import acheck_health, campaign_nodes, check_health
from cams_notebook.campaigns.health_gate import HEALTH_COLUMNS, HealthGateError, HealthReport
from cams_notebook.client import Client
from cams_notebook.errors import CamsError
from cams_notebook.models import Message
from cams_notebook.sandbox import DEFAULT_CUST_SPACE_ID, Sandbox
from cams_notebook.templates import TemplateCatalogue
from tests.campaigns.health_transport import Watching, forbidden
from tests.helpers import TEMPLATE_CODE, template_fields

SPACE = DEFAULT_CUST_SPACE_ID
HEALTHY, RED, BANNED, YELLOW, COEXISTENCE = ("8613800000000", "8613800000901",
                                             "8613800000902", "8613800000903", "8613800000904")
NEVER_USED = "8613800000777"
PENDING, REJECTED, MISSING = "830174529611842995", "83017452961184310072", "830174529600000000"
SHIPPED = (TEMPLATE_CODE, "en")


def in_use(client: Client, *senders: str) -> None:
    """Send one message from each of ``senders``, so that the account lists them."""
    for sender in senders:
        client.send(Message(**template_fields(from_=sender)))  # type: ignore[arg-type]


def gate(client: Client, senders: list[str], templates: list[tuple[str, str]] | None = None,
         space: str | None = SPACE) -> HealthReport:
    return check_health(client, senders=[("whatsapp", s) for s in senders], cust_space_id=space,
                        templates=templates if templates is not None else [SHIPPED])


@pytest.fixture
def watching(sandbox: Sandbox) -> Watching:
    return Watching(sandbox)


def test_a_healthy_sender_and_an_approved_template_pass_with_the_sender_s_tier(
        watching: Watching) -> None:
    report = gate(watching.client(), [HEALTHY])
    assert (report.refusals, report.warnings, report.ok) == ([], [], True)
    assert report.tiers() == {HEALTHY: "TIER_UNLIMITED"}
    sender, template = report.senders[HEALTHY], report.templates[SHIPPED]
    assert (sender.listed, sender.status, sender.quality, sender.can_send) == \
        (True, "CONNECTED", "GREEN", "AVAILABLE")
    assert (template.audit_status, template.quality, template.allow_send, template.can_send) == \
        ("pass", "GREEN", True, "AVAILABLE")
    report.raise_for_refusals()  # nothing to refuse: returns


def test_a_coexistence_number_passes_the_gate(watching: Watching) -> None:
    client = watching.client()
    in_use(client, COEXISTENCE)
    report = gate(client, [COEXISTENCE])
    assert (report.refusals, report.warnings) == ([], [])


def test_a_flagged_red_number_is_refused_naming_it_and_saying_what_to_do(
        watching: Watching) -> None:
    client = watching.client()
    in_use(client, RED)
    report = gate(client, [RED])
    (refusal,) = report.refusals
    assert RED in refusal and "Status FLAGGED, not CONNECTED" in refusal
    assert "QualityRating RED" in refusal and "send from another number" in refusal
    assert report.senders[RED].can_send == "LIMITED"
    assert report.warnings == []  # its LIMITED health repeats why it is refused


def test_a_banned_number_is_refused(watching: Watching) -> None:
    client = watching.client()
    in_use(client, BANNED)
    report = gate(client, [BANNED])
    (refusal,) = report.refusals
    assert BANNED in refusal and "Status BANNED" in refusal and "appeal" in refusal
    assert report.senders[BANNED].can_send == "BLOCKED"
    assert [e.code for e in report.senders[BANNED].errors] == ["131031"]


def test_a_number_the_account_does_not_list_is_refused_and_its_health_not_asked(
        watching: Watching) -> None:
    report = gate(watching.client(), [HEALTHY, NEVER_USED])
    (refusal,) = report.refusals
    assert NEVER_USED in refusal and "not a phone number of this account" in refusal
    assert report.senders[NEVER_USED].listed is False
    phones = [p["PhoneNumber"] for a, p in watching.asked
              if a == "GetWhatsappHealthStatus" and p["NodeType"] == "phone"]
    assert phones == [HEALTHY]


def test_a_yellow_number_is_a_warning_and_its_tier_250_is_reported(watching: Watching) -> None:
    client = watching.client()
    in_use(client, YELLOW)
    report = gate(client, [YELLOW])
    assert report.refusals == []
    (warning,) = report.warnings
    assert YELLOW in warning and "QualityRating YELLOW" in warning
    assert report.tiers() == {YELLOW: "TIER_250"}


def test_templates_not_approved_or_missing_are_refused_each_by_name(watching: Watching) -> None:
    report = gate(watching.client(), [HEALTHY],
                  [SHIPPED, (PENDING, "en"), (REJECTED, "en"), (MISSING, "en")])
    pending, rejected, missing = report.refusals
    assert PENDING in pending and "AuditStatus auditing" in pending and "review" in pending
    assert REJECTED in rejected and "AuditStatus fail" in rejected and "PROMOTIONAL" in rejected
    assert MISSING in missing and "does not exist" in missing
    assert report.templates[(MISSING, "en")].found is False
    frame = report.to_frame().set_index("id")
    assert frame.loc[f"{TEMPLATE_CODE} (en)", "verdict"] == "ok"
    assert frame.loc[f"{PENDING} (en)", "verdict"] == "refused"


def test_a_template_named_rather_than_coded_is_checked_by_its_code(watching: Watching) -> None:
    report = gate(watching.client(), [HEALTHY], [("order_shipped", "en")])
    assert report.refusals == [] and report.templates[("order_shipped", "en")].found
    templates = [p["TemplateCode"] for a, p in watching.asked
                 if a == "GetWhatsappHealthStatus" and p["NodeType"] == "template"]
    assert templates == [TEMPLATE_CODE]


def health(can_send: str, error: tuple[str, str, str] | None = None) -> Any:
    """An edit: GetWhatsappHealthStatus answers ``can_send`` (with one entity error)."""
    def edit(params: dict[str, str], status: int, body: dict[str, Any]
             ) -> tuple[int, dict[str, Any]]:
        body["Data"]["CanSendMessage"] = can_send
        entity = body["Data"]["Entities"][0]
        entity["CanSendMessage"] = can_send
        if error:
            entity["Errors"] = [dict(zip(("ErrorCode", "ErrorDescription", "PossibleSolution"),
                                         error, strict=True))]
        return status, body
    return edit


def detail(**fields: Any) -> Any:
    """An edit: GetChatappTemplateDetail answers with ``fields`` changed."""
    def edit(params: dict[str, str], status: int, body: dict[str, Any]
             ) -> tuple[int, dict[str, Any]]:
        body["Data"].update(fields)
        return status, body
    return edit


def test_limited_health_and_yellow_template_quality_are_warnings(sandbox: Sandbox) -> None:
    watching = Watching(sandbox, {
        "GetWhatsappHealthStatus": health("LIMITED", ("Sandbox.Limited", "Throughput reduced.",
                                                      "Send fewer messages.")),
        "GetChatappTemplateDetail": detail(QualityScore="YELLOW")})
    report = gate(watching.client(), [HEALTHY])
    assert report.refusals == []
    sender, quality, template = report.warnings
    assert HEALTHY in sender and "LIMITED" in sender and "Send fewer messages." in sender
    assert TEMPLATE_CODE in quality and "QualityScore YELLOW" in quality
    assert TEMPLATE_CODE in template and "LIMITED" in template
    assert set(report.to_frame()["verdict"]) == {"warning"}


@pytest.mark.parametrize(("edit", "words"), [
    ({"GetWhatsappHealthStatus": health("BLOCKED", ("131031", "Account locked.", "Appeal."))},
     ["CanSendMessage BLOCKED", "131031: Account locked. (what to do: Appeal.)"]),
    ({"GetChatappTemplateDetail": detail(AllowSend=False, Reason="Marketing paused")},
     ["AllowSend false (Marketing paused)"]),
    ({"GetChatappTemplateDetail": detail(QualityScore="RED")}, ["QualityScore RED"]),
    ({"GetChatappTemplateDetail": detail(AuditStatus="paused")}, ["AuditStatus paused",
                                                                  "paused it for low quality"]),
], ids=["health-blocked", "allow-send-false", "template-red", "template-paused"])
def test_blocked_health_allow_send_false_and_red_or_paused_templates_are_refused(
        sandbox: Sandbox, edit: dict[str, Any], words: list[str]) -> None:
    report = gate(Watching(sandbox, edit).client(), [HEALTHY])
    assert report.refusals
    assert all(w in " ".join(report.refusals) for w in words)


def test_an_operation_the_account_may_not_call_is_a_warning_not_a_refusal(
        sandbox: Sandbox) -> None:
    watching = Watching(sandbox, {"GetWhatsappHealthStatus": forbidden})
    report = gate(watching.client(), [HEALTHY])
    assert report.refusals == []
    assert len(report.warnings) == 2  # the sender's health and the template's
    assert all("may not call GetWhatsappHealthStatus" in w and "RAM" in w
               for w in report.warnings)
    assert report.senders[HEALTHY].status == "CONNECTED"  # what could be read still is


def test_an_unreadable_listing_or_a_lost_call_is_a_warning_and_refuses_no_sender(
        sandbox: Sandbox) -> None:
    def unreadable(params: dict[str, str], status: int, body: dict[str, Any]
                   ) -> tuple[int, dict[str, Any]]:
        return status, {**body, "PhoneNumbers": "not a list"}

    def lost(params: dict[str, str], status: int, body: dict[str, Any]
             ) -> tuple[int, dict[str, Any]]:
        raise httpx.ConnectError("no route")

    report = gate(Watching(sandbox, {"QueryChatappPhoneNumbers": unreadable,
                                     "GetChatappTemplateDetail": lost}).client(), [NEVER_USED])
    assert report.refusals == []
    listing, template = report.warnings
    assert "without a readable PhoneNumbers list" in listing
    assert TEMPLATE_CODE in template and "could not be checked" in template
    assert report.senders[NEVER_USED].listed is None


def test_a_template_detail_that_cannot_be_read_is_a_warning(sandbox: Sandbox) -> None:
    def garbled(params: dict[str, str], status: int, body: dict[str, Any]
                ) -> tuple[int, dict[str, Any]]:
        return status, {**body, "Data": {"AuditStatus": "pass"}}  # no code, name or language

    report = gate(Watching(sandbox, {"GetChatappTemplateDetail": garbled}).client(), [HEALTHY])
    assert report.refusals == []
    (warning,) = report.warnings
    assert TEMPLATE_CODE in warning and "the answer cannot be read (ValidationError" in warning


async def test_the_asyncio_gate_takes_an_unreadable_detail_as_a_warning_too(
        sandbox: Sandbox) -> None:
    def garbled(params: dict[str, str], status: int, body: dict[str, Any]
                ) -> tuple[int, dict[str, Any]]:
        return status, {**body, "Data": []}

    async with Watching(sandbox, {"GetChatappTemplateDetail": garbled}).async_client() as client:
        report = await acheck_health(client, senders=[("whatsapp", HEALTHY)],
                                     cust_space_id=SPACE, templates=[SHIPPED])
    assert report.refusals == [] and "cannot be read" in report.warnings[0]


def test_without_a_cust_space_id_the_health_is_not_asked_and_the_report_says_so(
        watching: Watching) -> None:
    report = gate(watching.client(), [HEALTHY, NEVER_USED], space=None)
    assert watching.calls["GetWhatsappHealthStatus"] == 0
    assert "No CustSpaceId" in report.warnings[0]
    assert [NEVER_USED in r for r in report.refusals] == [True]  # the listing still counts


def test_other_channels_are_skipped_without_a_single_call(watching: Watching) -> None:
    report = check_health(watching.client(), senders=[("viber", "cams_sandbox")],
                          cust_space_id=SPACE, templates=[("8301745296118427761", "en", "viber")])
    assert (report.senders, report.templates, report.warnings) == ({}, {}, [])
    assert check_health(watching.client(), senders=[("viber", "cams_sandbox")],
                        cust_space_id=None).warnings == []  # no CustSpaceId was needed
    assert sum(watching.calls.values()) == 0


def test_a_campaign_is_checked_once_per_sender_and_template_however_many_rows(
        watching: Watching) -> None:
    client = watching.client()
    in_use(client, COEXISTENCE)
    frame = pd.DataFrame({"to": [f"86139{i:08d}" for i in range(300)],
                          "from": [HEALTHY, COEXISTENCE, HEALTHY] * 100,
                          "name": "Ada", "order_id": "A-1"})
    _, chunks, _, _ = plan_chunks(frame, {"channel_type": "whatsapp", "type": "template",
                                          "template_code": TEMPLATE_CODE, "language": "en"},
                                  ["name", "order_id"], None, "gate")
    senders, templates = campaign_nodes([p for chunk in chunks for p in chunk])
    assert senders == [("whatsapp", HEALTHY), ("whatsapp", COEXISTENCE)]
    watching.calls.clear()
    report = check_health(client, senders=senders, cust_space_id=SPACE, templates=templates)
    assert report.ok and report.warnings == []
    assert dict(watching.calls) == {"QueryChatappPhoneNumbers": 1, "GetWhatsappHealthStatus": 3,
                                    "GetChatappTemplateDetail": 1}


def test_a_catalogue_that_already_holds_the_template_is_not_asked_again(
        watching: Watching) -> None:
    client = watching.client()
    catalogue = TemplateCatalogue(client)
    catalogue.get(TEMPLATE_CODE, "en", "WHATSAPP")  # the dry run fetched it
    watching.calls.clear()
    report = check_health(client, senders=[("whatsapp", HEALTHY)], cust_space_id=SPACE,
                          templates=[SHIPPED], catalogue=catalogue)
    assert report.ok and watching.calls["GetChatappTemplateDetail"] == 0


def test_refusals_raise_only_when_the_caller_asks_and_every_one_is_listed(
        watching: Watching) -> None:
    client = watching.client()
    in_use(client, RED, BANNED)
    report = gate(client, [RED, BANNED, HEALTHY], [SHIPPED, (PENDING, "en")])  # never raises
    assert len(report.refusals) == 3 and not report.ok
    with pytest.raises(HealthGateError) as caught:
        report.raise_for_refusals()
    error = caught.value
    assert isinstance(error, ValueError) and not isinstance(error, CamsError)
    assert error.refusals == report.refusals and error.report is report
    assert all(r in str(error) for r in report.refusals)
    assert "nothing was sent" in str(error)
    assert repr(report) == "HealthReport(senders=3, templates=2, refusals=3, warnings=0)"


def test_the_frame_shows_every_sender_and_template_with_its_verdict(watching: Watching) -> None:
    client = watching.client()
    in_use(client, YELLOW, BANNED)
    frame = gate(client, [HEALTHY, YELLOW, BANNED]).to_frame()
    assert list(frame.columns) == HEALTH_COLUMNS
    assert list(zip(frame["id"], frame["verdict"], frame["tier"].fillna("-"), strict=True)) == [
        (HEALTHY, "ok", "TIER_UNLIMITED"), (YELLOW, "warning", "TIER_250"),
        (BANNED, "refused", "TIER_UNLIMITED"), (f"{TEMPLATE_CODE} (en)", "ok", "-")]
    assert "Status BANNED" in frame.loc[2, "why"]


async def test_the_asyncio_gate_reaches_the_same_verdict(watching: Watching) -> None:
    in_use(watching.client(), RED, YELLOW)
    senders = [("whatsapp", s) for s in (RED, YELLOW, NEVER_USED)]
    templates = [SHIPPED, (REJECTED, "en")]
    sync = check_health(watching.client(), senders=senders, cust_space_id=SPACE,
                        templates=templates)
    async with watching.async_client() as client:
        asynchronous = await acheck_health(client, senders=senders, cust_space_id=SPACE,
                                           templates=templates)
    assert (asynchronous.refusals, asynchronous.warnings) == (sync.refusals, sync.warnings)
    assert len(sync.refusals) == 3 and len(sync.warnings) == 1
