"""What both HTTP servers (the sandbox's and the receipt receiver's, both on h11) share: the
request's headers as a dict, and a response's reason phrase."""

from __future__ import annotations

from http import HTTPStatus

import h11

__all__ = ["reason_phrase", "request_headers"]


def request_headers(request: h11.Request) -> dict[str, str]:
    """Lower-cased names to values; a repeated header's values joined with ','."""
    headers: dict[str, str] = {}
    # raw_items() is a plain list; iterating h11's Headers goes through __getitem__ per item.
    for raw_name, raw_value in request.headers.raw_items():
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


def reason_phrase(status: int) -> bytes:
    """The standard reason phrase of ``status`` (``b"Not Found"`` for 404), from the stdlib's
    :class:`http.HTTPStatus`; ``b""`` for a code it does not name."""
    try:
        return HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""
