"""Recipient phone numbers: how many digits, and which punctuation is taken away.

Oracle: not the sandbox (it validates with the package's own ``Message``), but the rules as
written down. ``../shared/reference/cams_api.md`` (the ``To`` row: "bare digits with country
code, no ``+``") and ``platform_rules.md`` ("digits-only for WhatsApp"), and E.164 for the
bounds: a number with its country code has at most 15 digits, and 7 is the shortest
subscriber number with a country code that the package accepts (``models.py`` docstring).
Every case below is written out by hand from those rules, not computed by the package.
"""

from __future__ import annotations

import pytest

from cams_notebook import Message
from cams_notebook._phone_numbers import recipient_number, sender_number
from tests.helpers import template_fields


def _to_problems(to: object) -> list[tuple[str, str]]:
    message, problems = Message.check(template_fields(to=to))
    assert message is None, f"{to!r} was accepted as {message.to if message else None!r}"
    return [(p.field, p.rule) for p in problems]


# -- the bounds: 7 to 15 digits, however the number is written ----------------------------

FIFTEEN = "861390000000012"   # 15 digits: the longest E.164 number
SIXTEEN = "8613900000000123"  # 16 digits: one too many


@pytest.mark.parametrize("to", [
    SIXTEEN,                                  # plain digits (the fast path)
    "+" + SIXTEEN,                            # a leading +
    "+86 1390 0000 0001 23",                  # grouped with spaces
    "86-139-0000-0001-234",                   # grouped with dashes
    "8613900000000123.0",                     # a float column read back as text
    "99999999999999999",                      # 17 digits
    "123456",                                 # 6 digits: one too few
    "+12 34-56",                              # 6 digits, grouped
])
def test_a_recipient_with_more_than_15_or_fewer_than_7_digits_is_refused(to: str) -> None:
    """E.164: at most 15 digits with the country code (the 16-digit mutant let these through)."""
    problems = _to_problems(to)
    assert [field for field, _ in problems] == ["To"]


@pytest.mark.parametrize(("to", "digits"), [
    (FIFTEEN, FIFTEEN),
    ("+" + FIFTEEN, FIFTEEN),
    ("+86 1390 0000 0001 2", FIFTEEN),
    ("1234567", "1234567"),
    ("+1 234-567", "1234567"),
])
def test_a_recipient_with_7_to_15_digits_is_accepted_as_those_digits(to: str,
                                                                    digits: str) -> None:
    """The edges themselves are numbers: 7 and 15 digits pass, written any accepted way."""
    assert Message(**template_fields(to=to)).to == digits


def test_the_bounds_problem_says_how_many_digits_there_are() -> None:
    _, problems = Message.check(template_fields(to=SIXTEEN))
    (found,) = [p for p in problems if p.field == "To"]
    assert "16 digits" in found.message and "7 to 15" in found.message


# -- punctuation: spaces, dashes, brackets, a leading + and dots between digit groups -------


@pytest.mark.parametrize(("to", "digits"), [
    ("+1 (555) 010.0001", "15550100001"),     # the example: brackets and dots
    ("(555) 010-0001", "5550100001"),         # brackets without a +
    ("+44(20)79460000", "442079460000"),      # brackets with no spaces around them
    ("555.010.0001", "5550100001"),           # dots between groups
    ("+86.139.0000.0001", "8613900000001"),
])
def test_brackets_and_dots_between_groups_are_punctuation_not_a_problem(to: str,
                                                                       digits: str) -> None:
    """cams_api.md: ``To`` goes out as bare digits; a person's way of writing the number (brackets
    round an area code, dots between groups) is taken away, never reported as ``digits_only``."""
    message, problems = Message.check(template_fields(to=to))
    assert problems == [] and message is not None
    assert message.to == digits
    assert message.to_query()["To"] == digits


@pytest.mark.parametrize("to", ["+1 [555] 0100001", "+1 555/010/0001", "+1 555_010_0001",
                                "+1 555,010,0001", "1 555 010 0001 x12"])
def test_other_punctuation_is_still_a_digits_only_problem(to: str) -> None:
    """Only the listed punctuation goes: anything else could change whom the number names."""
    assert ("To", "digits_only") in _to_problems(to)


# -- the reason given: every refusal says which rule the number broke ------------------------

PHONE = ("must be a phone number in international form with its country code, in ASCII "
         "digits 0-9 (e.g. 8613900000000)")
FRACTION = "it reads as a number with a fraction, not a whole number"
STRAY_DOT = ("a dot may only separate groups of digits, and a single final '.0' is how a float "
             "column reads back, not a group")
NOT_ASCII = ("only ASCII digits 0-9 are accepted, and it has others (full-width, Arabic-Indic, "
             "superscript...)")
OTHER = "it has characters other than digits"
GROUPING = ", spaces, dashes, brackets, dots between digit groups and a leading +"


@pytest.mark.parametrize(("to", "why"), [
    ("8613900000001.5", FRACTION),
    ("08613900000.0", FRACTION),              # a float that starts with 0 is no whole number
    ("8613900000001..0", STRAY_DOT),
    ("+86 13900000001.0", STRAY_DOT),         # one final ".0" after grouping: a float column
    ("+1 [555] 0100001", OTHER + GROUPING),
    ("+1 555_010_0001", OTHER + GROUPING),
    ("８６１３９００００００００１", NOT_ASCII),
    ("+86 １３９ 0000 0001", NOT_ASCII),
    (SIXTEEN, "it has 16 digits; a phone number has 7 to 15"),
    ("+12 34-56", "it has 6 digits; a phone number has 7 to 15"),
    ("08613900000001", "it starts with 0; give the country code without 00 or a trunk 0"),
])
def test_a_refused_recipient_gets_the_reason_of_the_rule_it_broke(to: str, why: str) -> None:
    """The reasons are the rules of the models.py docstring, one each, word for word; the
    public ``recipient_number`` gives the reason and no digits at all."""
    _, problems = Message.check(template_fields(to=to))
    assert [(p.field, p.rule, p.message) for p in problems] == [
        ("To", "digits_only", f"{PHONE}; {why} (got {to!r})")]
    assert recipient_number(to) == ("", why)


@pytest.mark.parametrize(("sender", "why"), [
    ("8613800000000.5", FRACTION),
    ("86-138", OTHER),                        # the sender takes no punctuation at all
    ("+8613800000000", OTHER),
    ("８６１３８", NOT_ASCII),
])
def test_a_refused_sender_gets_the_reason_of_the_rule_it_broke(sender: str, why: str) -> None:
    _, problems = Message.check(template_fields(from_=sender))
    assert [(p.field, p.rule, p.message) for p in problems] == [
        ("From", "digits_only", f"must contain only ASCII digits 0-9 on whatsapp; {why} "
                                f"(got {sender!r})")]
    assert sender_number(sender) == ("", why)


# -- as sent: what reaches the service is held to digits already (the sandbox's check) ------


def test_as_sent_a_number_that_would_be_rewritten_is_a_problem_not_a_rewrite() -> None:
    """cams_api.md: the service takes ``To``/``From`` as bare digits and rewrites nothing; a
    request that arrives with ``+`` or a float's ``.0`` is refused, naming what was meant."""
    fields = template_fields(to="+8613900000001", from_="8613800000000.0")
    _, problems = Message.check(fields, as_sent=True)
    assert [(p.field, p.rule, p.message) for p in problems] == [
        ("From", "digits_only", "must be sent as ASCII digits 0-9 only on whatsapp; the service "
                                "rewrites nothing (got '8613800000000.0')"),
        ("To", "digits_only", f"{PHONE}, as sent: the service rewrites nothing "
                              "(8613900000001 was meant?) (got '+8613900000001')"),
    ]
    message, problems = Message.check(fields)  # not as sent: the same numbers are put in digits
    assert problems == [] and message is not None
    assert (message.from_, message.to) == ("8613800000000", "8613900000001")
    message, problems = Message.check(template_fields(), as_sent=True)
    assert problems == [] and message is not None


def test_a_user_id_recipient_is_no_phone_number_even_when_the_sender_is_rewritten() -> None:
    """RecipientType=userId: ``To`` is a WhatsApp BSUID (cams_api.md ``To`` row), left as given."""
    message, problems = Message.check(template_fields(
        to="US.13491208655302741918", from_="8613800000000.0", recipient_type="userId"))
    assert problems == [] and message is not None
    assert (message.from_, message.to) == ("8613800000000", "US.13491208655302741918")
