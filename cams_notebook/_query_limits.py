"""What the query string of a request can carry: a length once percent-encoded (at most
:data:`MAX_QUERY_LENGTH`, and why that limit), and only text that encodes as UTF-8. The size
and text rules of :class:`~cams_notebook.models.Message`, apart from it because they are about
the encoding, not the fields.

A ``too_long`` problem names the largest parameter. The model asks :func:`query_bound` first, a
cheap bound made without encoding anything, and encodes the query only when that bound is over
the limit.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .problems import Problem, problem

__all__ = ["MAX_QUERY_LENGTH", "MAX_URL_LENGTH", "encoded_length", "query_bound",
           "too_long_problems", "unsendable"]

MAX_URL_LENGTH = 65_536
"""The longest URL httpx accepts (``httpx._urlparse.MAX_URL_LENGTH``, pinned by a test):
a longer one raises ``httpx.InvalidURL`` before anything is sent."""
MAX_QUERY_LENGTH = MAX_URL_LENGTH - 512
"""The longest percent-encoded query a message may make (65,024 characters).

Every SendChatappMessage parameter travels in the URL of a POST, as the SDK 5.3.1 sends it
(reference 3.2), so the request's size is its URL's. Why this limit: httpx refuses a URL
longer than :data:`MAX_URL_LENGTH` and 512 characters are kept for ``https://host:port/?``
(a DNS name is at most 253). The service's own URL limit is not documented ("gateway URL
limit unconfirmed", reference 3.2), but it must take what the reference documents as valid,
and the longest documented field, a 4,096-character WhatsApp text, encodes to up to 49,152
characters (4-byte characters are 12 once percent-encoded): a lower limit would refuse
messages the reference allows. The per-field limits the reference gives (WhatsApp text,
captions, interactive parts, Viber text and buttons) are enforced by the content models.
"""
_UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
_FIELD_WEIGHT = 32
"""Characters counted per parameter for ``Key=`` and ``&`` in the cheap size bound."""
_ASCII_WEIGHT = 3
"""Most encoded characters one ASCII character of text can become (``&`` is ``%26``)."""
_TEXT_WEIGHT = 12
"""Most encoded characters one character of any text can become: four UTF-8 bytes, each
``%XX`` (an emoji)."""
_JSON_WEIGHT = 18
"""Most encoded characters one character of a JSON value can become: ``\\u001f`` is 6
characters, each at most 3 once percent-encoded (a non-ASCII one is at most 12)."""
_LITERALS = (type(None), bool, float)
"""The JSON values counted as 24 characters, the longest repr of a float, without making it."""


def query_bound(fields: dict[str, Any], given: set[str],
                text_fields: frozenset[str]) -> tuple[int, list[str]]:
    """At least the length of the percent-encoded query the ``given`` fields make, found
    without making it; and the names of the ``text_fields`` among them whose text cannot be
    sent (see :func:`unsendable`).

    Runs for every message (see the client_overhead benchmark): plain ASCII text, most of a
    message, is counted without a call.
    """
    bad_text: list[str] = []
    bound = _FIELD_WEIGHT * len(given)
    for name in given:
        value = fields[name]
        if value is None:
            continue
        # pragma reason (mutmut): a fast path; text sent down the JSON path below is counted
        # at 18 a character (more than 3 or 12) and checked by the same unsendable()
        if type(value) is str:  # pragma: no mutate
            if value.isascii():
                bound += _ASCII_WEIGHT * len(value)
                continue
            bound += _TEXT_WEIGHT * len(value)
        # pragma reason (mutmut): a fast path: _json_chars counts a dict of strings by the
        # same formula, with two calls per item; dict[str, str], so no need to look deeper
        elif name == "template_params":  # pragma: no mutate
            # pragma reason (mutmut): the quotes, colon and comma of each item and the two
            # braces, constants of a character or two (see _json_chars)
            marks = 6 * len(value) + 2  # pragma: no mutate
            bound += _JSON_WEIGHT * (sum(map(len, value)) + sum(map(len, value.values())) + marks)
        else:
            bound += _JSON_WEIGHT * _json_chars(value)
        if name in text_fields and unsendable(value):
            bad_text.append(name)
    return bound, bad_text


def too_long_problems(query: dict[str, str]) -> list[Problem]:
    """``too_long`` on the largest parameter of ``query`` when, percent-encoded, it is over
    :data:`MAX_QUERY_LENGTH`."""
    sizes = {key: len(key) + 1 + encoded_length(value) for key, value in query.items()}
    total = sum(sizes.values()) + len(sizes) - 1
    if total <= MAX_QUERY_LENGTH:
        return []
    field = max(sizes, key=sizes.__getitem__)
    return [problem(field, "too_long", (
        f"makes the request too long to send: {field} is {sizes[field] - len(field) - 1} "
        f"characters once percent-encoded and the whole query {total}; the limit is "
        f"{MAX_QUERY_LENGTH} (every parameter travels in the URL, and httpx refuses URLs "
        f"over {MAX_URL_LENGTH} characters)"))]


def encoded_length(text: str) -> int:
    """The length of ``text`` percent-encoded as :func:`~.signing.canonical_query` encodes it:
    each UTF-8 byte outside ``A-Za-z0-9-_.~`` becomes three characters."""
    raw = text.encode("utf-8")  # pragma: no mutate - "UTF-8" names the same codec
    return len(raw) + 2 * len(raw.translate(None, _UNRESERVED))


def _json_chars(value: Any) -> int:
    """At least the number of characters of ``value`` as compact JSON, escapes aside (which
    :data:`_JSON_WEIGHT` covers). Cheap: no JSON is made.

    Mutation testing: the ``no mutate`` lines hold a fast path or a constant of a character
    or two (quotes, brackets, separators; 24, the longest float's repr). Every count here is
    multiplied by :data:`_JSON_WEIGHT`, 18, where a JSON character becomes at most 12 once
    percent-encoded, so moving such a constant by a character or two leaves the bound above
    the encoded query (what ``tests/test_query_limit_rules.py`` checks); dropping the type
    test sends a value to the last line, whose repr is no shorter than its compact JSON.
    """
    kind = type(value)  # pragma: no mutate
    if kind is str:
        return len(value) + 2  # pragma: no mutate
    if kind is dict:
        items = sum(_json_chars(k) + _json_chars(v) for k, v in value.items())
        return items + 2 * len(value) + 2  # pragma: no mutate - a colon and a comma an item
    if kind is list or kind is tuple:  # pragma: no mutate
        items = sum(_json_chars(v) for v in value)
        return items + len(value) + 2  # pragma: no mutate - a comma an item, 2 brackets
    if kind in _LITERALS:
        return 24  # pragma: no mutate
    if kind is int:
        # decimal digits, without making them: at most one for every three bits, plus a sign
        return int(value.bit_length()) // 3 + 2  # pragma: no mutate
    if isinstance(value, BaseModel):
        extra = value.__pydantic_extra__
        return _json_chars(value.__dict__) + (_json_chars(extra) if extra else 0)
    return len(str(value)) + 2  # pragma: no mutate


def unsendable(value: Any) -> bool:
    """True when text in ``value`` cannot be encoded as UTF-8 (lone surrogates)."""
    # pragma reason (mutmut): the type tests on ``kind`` are a fast path for the common
    # values; without them, the isinstance tests below give the same answers
    kind = type(value)  # pragma: no mutate
    if kind is str:
        # ASCII text (most of it) needs no encoding to know
        return not value.isascii() and _lone_surrogate(value)
    if value is None or kind is int or kind is bool or kind is float:  # pragma: no mutate
        return False
    if isinstance(value, str):
        return _lone_surrogate(value)
    if isinstance(value, dict):
        return any(unsendable(k) or unsendable(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(unsendable(v) for v in value)
    if isinstance(value, BaseModel):
        return unsendable(value.model_dump())
    return False


def _lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")  # pragma: no mutate - "UTF-8" names the same codec
    except UnicodeEncodeError:
        return True
    return False
