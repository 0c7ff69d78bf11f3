"""The rules of ``POST /_sandbox/inbound`` (a user writes to the business: it opens that
number's 24-hour window), checked before the core records anything.

The body is a JSON object ``{"From": "<phone number>", "Message": "<text>"}``: ``From`` is
required, a phone number as a string (digits, with the spaces, dashes, brackets and leading
``+`` people write; :func:`~cams_notebook._phone_numbers.recipient_number` reads it),
``Message`` is optional text. Anything else is a 400 that names the field and the rule, so a
``null`` never opens the window of a number called "None", and a body nested too deeply to
decode is the client's mistake, not a server failure.

Kept apart from :mod:`.core` so the loopback server can apply it before the core sees the
request; the core's own route may call :func:`inbound_problem` too.
"""

from __future__ import annotations

import json
from typing import Any

from .._phone_numbers import recipient_number
from ._wire import WireRequest, WireResponse

__all__ = ["INBOUND_PATH", "InboundProblem", "inbound_problem", "inbound_refusal"]

INBOUND_PATH = "/_sandbox/inbound"


class InboundProblem(ValueError):
    """Why a ``/_sandbox/inbound`` body is refused: ``field``, ``rule`` and the message."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field, self.rule, self.message = field, rule, message


def inbound_problem(body: bytes) -> InboundProblem | None:
    """What is wrong with a ``/_sandbox/inbound`` body, or None when the core may take it.

    >>> found = inbound_problem(b'{"From": null}')
    >>> found.field, found.rule
    ('From', 'required')
    >>> inbound_problem(b'{"From": "+1 555 010 0002"}') is None
    True
    """
    try:
        data: Any = json.loads(body or b"{}")
    except RecursionError:
        return InboundProblem("body", "json", "body is not JSON: nested too deeply")
    except ValueError as exc:  # JSONDecodeError, and bytes that are not UTF-8
        return InboundProblem("body", "json", f'body must be JSON {{"From": "<number>"}}: {exc}')
    if not isinstance(data, dict):
        return InboundProblem("body", "object", 'body must be a JSON object {"From": "<number>"}, '
                              f"not {type(data).__name__}")
    sender = data.get("From")
    if sender is None:
        shown = "missing" if "From" not in data else "null"
        return InboundProblem("From", "required", f"From is required: the phone number that "
                              f"writes, as a string (it is {shown})")
    if isinstance(sender, bool) or not isinstance(sender, (str, int)):
        return InboundProblem("From", "phone_number", "From must be a phone number as a string, "
                              f"not {type(sender).__name__}")
    _, why = recipient_number(str(sender))
    if why:
        return InboundProblem("From", "phone_number", f"From must be a phone number in "
                              f"international form (e.g. 8613900000000); {why}")
    text = data.get("Message", "hi")
    if not isinstance(text, str):
        return InboundProblem("Message", "text", "Message must be text (a JSON string), not "
                              f"{type(text).__name__}")
    return None


def inbound_refusal(req: WireRequest) -> WireResponse | None:
    """The 400 answer to a ``POST /_sandbox/inbound`` whose body breaks a rule, else None."""
    if req.method != "POST" or req.path.rstrip("/") != INBOUND_PATH:
        return None
    found = inbound_problem(req.body)
    if found is None:
        return None
    payload = {"Code": "InvalidParameter", "Field": found.field, "Rule": found.rule,
               "Message": found.message}
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return WireResponse(400, {"content-type": "application/json"}, body)
