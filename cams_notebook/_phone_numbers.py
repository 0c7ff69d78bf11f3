"""Phone numbers as people, spreadsheets and pandas write them, put in ASCII digits or refused
with a reason: the ``From`` and ``To`` rules of :class:`~cams_notebook.models.Message`.

Kept apart from the model because the rules are about text, not about the request: on WhatsApp
and Viber, ``To`` (unless ``RecipientType`` is ``userId``) and ``From`` must be digits.

* A number written as a float, as a spreadsheet or pandas writes a float column and reads it
  back as text (``8613900000001.0``, ``8.613900000001e12``, ``8.6139E+12``), or a Python
  ``float``, stands for its whole-number value, computed exactly with :mod:`decimal`. A
  fraction that is not zero is a problem. What counts as "written as a float": the whole
  value is ASCII digits with one decimal point and/or an exponent (and at most a leading
  ``+``), nothing else.
* Otherwise, in ``To``, spaces, dashes, brackets, a leading ``+`` and dots *between digit
  groups* are removed: ``+1 (555) 010.0001`` and ``555.010.0001`` become ``15550100001`` and
  ``5550100001``. A dot that does not sit between two digits, or a single dot followed only by
  zeros at the end (``+86 13900000001.0``: a float column, not a group), is a problem rather
  than a guess that could name somebody else.
* Only ASCII digits ``0-9`` may remain: full-width, Arabic-Indic or superscript digits are a
  problem. ``To`` has 7 to 15 digits and does not start with 0.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from .problems import Problem, problem

__all__ = ["number_problems", "recipient_number", "sender_number", "whole_number"]

_AS_FLOAT = re.compile(r"\s*\+?(?P<mantissa>[0-9]+(?:\.[0-9]*)?)"
                       r"(?:[eE](?P<exponent>[+-]?[0-9]{1,3}))?\s*")
_PUNCTUATION = re.compile(r"[\s\-().]")
_STRAY_DOT = re.compile(r"(?<![0-9])\.|\.(?![0-9])")
_FLOAT_TAIL = re.compile(r"\.0+\s*$")
_GROUPING = ", spaces, dashes, brackets, dots between digit groups and a leading +"
_PHONE = ("must be a phone number in international form with its country code, in ASCII "
          "digits 0-9 (e.g. 8613900000000)")


def whole_number(text: str) -> str | None:
    """The digits of ``text`` if it is a whole number written as a float; None if it is not
    written as a float at all; "" if it is, but is not a whole number (or starts with 0).

    Exact: ``decimal`` reads the text as written, so ``8.613900000001e12`` is
    ``8613900000001`` and never a binary float's neighbour of it.
    """
    match = _AS_FLOAT.fullmatch(text)
    if match is None or (match["exponent"] is None and "." not in text):
        return None
    mantissa = match["mantissa"]
    if mantissa.startswith("0"):
        return ""
    number = Decimal(f"{mantissa}e{match['exponent'] or 0}").as_tuple()
    digits, exponent = number.digits, int(number.exponent)
    if exponent < 0:
        if any(digits[exponent:]):
            return ""  # a fraction that is not zero
        digits, exponent = digits[:exponent], 0
    return "".join(map(str, digits)) + "0" * exponent


def _not_ascii_digits(text: str, besides: str) -> str:
    """Why ``text`` is not ASCII digits (and ``besides``, the punctuation allowed)."""
    if any(ch.isdigit() and not ch.isascii() for ch in text):
        return ("only ASCII digits 0-9 are accepted, and it has others (full-width, "
                "Arabic-Indic, superscript...)")
    return f"it has characters other than digits{besides}"


def recipient_number(to: str) -> tuple[str, str]:
    """``(digits, "")`` for a recipient phone number written any accepted way, or
    ``("", why)`` when it is not one."""
    if to.isdigit() and to.isascii():
        digits = to
    else:
        whole = whole_number(to)
        if whole == "":
            return "", "it reads as a number with a fraction, not a whole number"
        if whole is not None:
            digits = whole
        elif _STRAY_DOT.search(to) or (to.count(".") == 1 and _FLOAT_TAIL.search(to)):
            return "", ("a dot may only separate groups of digits, and a single final '.0' is "
                        "how a float column reads back, not a group")
        else:
            digits = _PUNCTUATION.sub("", to).removeprefix("+")
            if not (digits.isdigit() and digits.isascii()):
                return "", _not_ascii_digits(digits, _GROUPING)
    if not 7 <= len(digits) <= 15:
        return "", f"it has {len(digits)} digits; a phone number has 7 to 15"
    if digits.startswith("0"):
        return "", "it starts with 0; give the country code without 00 or a trunk 0"
    return digits, ""


def sender_number(sender: str) -> tuple[str, str]:
    """``(digits, "")`` for a sender that must be digits (no punctuation: it is the
    business's own number, written once), or ``("", why)``."""
    if sender.isdigit() and sender.isascii():
        return sender, ""
    whole = whole_number(sender)
    if whole:
        return whole, ""
    if whole == "":
        return "", "it reads as a number with a fraction, not a whole number"
    return "", _not_ascii_digits(sender, "")


def number_problems(fields: dict[str, Any], channel: str, as_sent: bool) -> list[Problem]:
    """``From`` and ``To`` of a message's ``fields`` on a channel that wants phone numbers;
    puts them in digits in ``fields`` (or, ``as_sent``, finds it a problem that they are not in
    digits already)."""
    out: list[Problem] = []
    sender, to = fields["from_"], fields["to"]
    if sender is not None:
        digits, why = sender_number(sender)
        if why:
            out.append(problem("From", "digits_only", f"must contain only ASCII digits 0-9 on "
                               f"{channel}; {why} (got {sender!r})"))
        elif digits != sender and as_sent:
            out.append(problem("From", "digits_only", f"must be sent as ASCII digits 0-9 only "
                               f"on {channel}; the service rewrites nothing (got {sender!r})"))
        elif digits != sender:
            fields["from_"] = digits
    if to is not None and fields["recipient_type"] != "userId":
        digits, why = recipient_number(to)
        if why:
            out.append(problem("To", "digits_only", f"{_PHONE}; {why} (got {to!r})"))
        elif digits != to and as_sent:
            out.append(problem("To", "digits_only", f"{_PHONE}, as sent: the service rewrites "
                               f"nothing ({digits} was meant?) (got {to!r})"))
        elif digits != to:
            fields["to"] = digits
    return out
