"""The rules of settling, one at a time: how numbers and times are read, what a journal record
gives the query, and which record of ``ListChatappMessage`` fits a send (what a receipt proves
and which message is whose: ``test_settling_evidence.py``).

Oracle: the rules written in ``cams_notebook/campaigns/reconcile.py``'s docstring (a row is
``sent`` only with exactly one candidate no other send could own; ``not_sent`` only from a
complete, readable listing; everything else ``unknown``, saying why) and the official shape of
a ListChatappMessage record (``UserNumber``, ``BusinessNumber``, ``ChannelType``,
``EventAction``, ``TemplateCode``/``TemplateName``, ``SendTime``). These tests call the
settling functions directly, without a campaign, so each rule is pinned on its own and fast;
``test_reconcile.py`` checks the same promises end to end against the sandbox.
"""

from __future__ import annotations

from typing import Any

import pytest

from cams_notebook.campaigns.journal import JournalRow
from cams_notebook.campaigns.settling import (
    WINDOW_MS,
    SendFacts,
    bare_number,
    nonempty_text,
    send_facts,
)
from cams_notebook.campaigns.settling import _fits as fits
from cams_notebook.campaigns.settling import _ms as ms

SENDER, TO, SPACE, TEMPLATE = "8613800000000", "8613900000000", "space-1", "830174529611842305"
AT = "2026-01-01T00:00:00.000+00:00"
AT_MS = 1_767_225_600_000  # AT in Unix ms


def record(**changes: Any) -> JournalRow:
    """A journal record of a template send to TO, written with its intent."""
    fields: dict[str, Any] = dict(key="k1", status="intent", to=TO, channel="WhatsApp",
                                  sender=SENDER, cust_space_id=SPACE, template_code=TEMPLATE,
                                  attempted_at=AT)
    return JournalRow(**{**fields, **changes})


def facts(template: str | None = TEMPLATE, start: int = AT_MS - WINDOW_MS,
          end: int = AT_MS + WINDOW_MS, to: str = TO) -> SendFacts:
    return SendFacts("whatsapp", SENDER, to, SPACE, template, start, end)


def listed(**changes: Any) -> dict[str, Any]:
    """A ListChatappMessage record of the send ``facts()`` describes."""
    return {"MessageId": "m-1", "UserNumber": TO, "BusinessNumber": SENDER,
            "ChannelType": "whatsapp", "EventAction": "DOWN", "TemplateCode": TEMPLATE,
            "SendTime": AT, **changes}


# -- reading numbers, text and times ---------------------------------------------------------


def test_a_number_is_compared_bare_whatever_way_it_was_written() -> None:
    assert bare_number("\t+86 139-0000-0000\n") == TO
    assert bare_number("+8613900000000") == TO
    assert bare_number(TO) == TO


@pytest.mark.parametrize("value", [None, "", 8613900000000, float("nan")])
def test_a_number_that_is_not_text_is_no_number(value: Any) -> None:
    assert bare_number(value) is None


def test_only_nonempty_text_counts_as_text() -> None:
    assert nonempty_text("x") == "x"
    assert nonempty_text("") is None
    assert nonempty_text(None) is None
    assert nonempty_text(3) is None


def test_a_time_is_read_from_unix_ms_as_number_or_digits() -> None:
    assert ms(AT_MS) == AT_MS
    assert ms(float(AT_MS)) == AT_MS
    assert ms(str(AT_MS)) == AT_MS
    assert ms(f" {AT_MS} ") == AT_MS


def test_a_number_too_small_for_unix_ms_is_no_time() -> None:
    # seconds (or a count) read as ms would land in 1970 and exclude every real record
    assert ms(10**11) == 10**11
    assert ms(10**11 - 1) is None
    assert ms(str(AT_MS // 1000)) is None
    assert ms(True) is None and ms(False) is None


def test_a_time_is_read_from_iso_text_only_with_its_zone() -> None:
    assert ms(AT) == AT_MS
    assert ms(" 2026-01-01T02:00:00+02:00 ") == AT_MS
    assert ms("2026-01-01T00:00:00.250Z") == AT_MS + 250
    assert ms("2026-01-01T00:00:00") is None  # without its zone it could be hours off
    assert ms("2026-01-01 08:00") is None


@pytest.mark.parametrize("value", [None, "", "   ", "yesterday", "NaT", [AT_MS], {"t": AT}])
def test_a_time_that_cannot_be_read_is_no_time(value: Any) -> None:
    assert ms(value) is None


# -- what a send's journal record gives the query --------------------------------------------


def test_the_query_facts_come_from_the_journal_record() -> None:
    got = send_facts(record(to="+86 139-0000-0000", sender="+86 138 0000 0000"), "other-space")
    assert got == SendFacts("whatsapp", SENDER, TO, SPACE, TEMPLATE, AT_MS - WINDOW_MS,
                            AT_MS + WINDOW_MS)
    assert got.person == ("whatsapp", SENDER, TO, SPACE)


def test_a_row_sent_without_cust_space_id_takes_the_one_given() -> None:
    got = send_facts(record(cust_space_id=None), "given-space")
    assert isinstance(got, SendFacts) and got.space == "given-space"


def test_a_free_form_row_has_no_template() -> None:
    got = send_facts(record(template_code=""), None)
    assert isinstance(got, SendFacts) and got.template is None


def test_without_a_record_the_facts_say_the_journal_is_missing() -> None:
    assert send_facts(None, SPACE) == ("the journal has no record of this row (pass the "
                                       "journal= given to send_frame)")


def test_a_record_lacking_facts_names_each_one() -> None:
    assert send_facts(record(channel=None), SPACE) == \
        "the journal does not record this row's ChannelType"
    assert send_facts(record(channel="", sender=None, to="+", attempted_at="yesterday"),
                      SPACE) == ("the journal does not record this row's ChannelType, sender, "
                                 "recipient, attempt time")
    assert send_facts(record(attempted_at=None), SPACE) == \
        "the journal does not record this row's attempt time"


def test_a_record_without_any_cust_space_id_says_how_to_give_one() -> None:
    got = send_facts(record(cust_space_id=None), None)
    assert isinstance(got, str) and got.startswith("no CustSpaceId")
    assert "reconcile(cust_space_id=...)" in got and "DEFAULT_CUST_SPACE_ID" in got
    assert send_facts(record(cust_space_id=""), "") == got


# -- which record fits a send ----------------------------------------------------------------


def test_the_record_of_the_send_fits() -> None:
    assert fits(facts(), listed())
    assert fits(facts(), listed(UserNumber="+86 139 0000 0000", BusinessNumber="+8613800000000",
                                ChannelType="WhatsApp", EventAction="down"))


def test_a_record_missing_the_optional_fields_fits() -> None:
    assert fits(facts(), {"MessageId": "m-1", "UserNumber": TO})
    assert fits(facts(), listed(BusinessNumber="", ChannelType=None, EventAction="",
                                SendTime=None))


@pytest.mark.parametrize("change", [
    {"UserNumber": "8613999999999"}, {"UserNumber": None}, {"BusinessNumber": "8613811111111"},
    {"ChannelType": "viber"}, {"EventAction": "UP"}])
def test_a_record_of_another_person_sender_channel_or_direction_does_not_fit(
        change: dict[str, Any]) -> None:
    assert not fits(facts(), listed(**change))


def test_a_record_names_its_template_by_code_or_by_name() -> None:
    assert fits(facts(), listed(TemplateCode=None, TemplateName=TEMPLATE))
    assert fits(facts(template="shipped"), listed(TemplateCode="830", TemplateName="shipped"))
    assert fits(facts(), listed(TemplateCode="", TemplateName=""))  # names none: could be it


def test_a_record_of_another_template_does_not_fit() -> None:
    assert not fits(facts(), listed(TemplateCode="830174529611842417"))
    assert not fits(facts(), listed(TemplateCode=None, TemplateName="welcome"))


def test_a_template_message_does_not_fit_a_free_form_row() -> None:
    assert not fits(facts(template=None), listed())
    assert not fits(facts(template=None), listed(TemplateCode=None, TemplateName="welcome"))
    assert fits(facts(template=None), listed(TemplateCode=None))


def test_a_record_fits_only_inside_the_window_edges_included() -> None:
    window = facts(start=AT_MS - 1000, end=AT_MS + 1000)
    assert fits(window, listed(SendTime=AT_MS - 1000))
    assert fits(window, listed(SendTime=AT_MS + 1000))
    assert not fits(window, listed(SendTime=AT_MS - 1001))
    assert not fits(window, listed(SendTime=AT_MS + 1001))
    assert not fits(window, listed(SendTime="2001-01-01T00:00:00+00:00"))


def test_a_send_time_that_cannot_be_read_excludes_nothing() -> None:
    window = facts(start=AT_MS - 1000, end=AT_MS + 1000)
    assert fits(window, listed(SendTime="2001-01-01 00:00:00"))  # no zone
    assert fits(window, listed(SendTime="soon"))
