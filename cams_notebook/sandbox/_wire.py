"""The wire-level contract between the sandbox core and its two faces.

The core (``core.py``) turns one :class:`WireRequest` into one :class:`WireResponse`
and never touches a socket. The faces (``transport.py`` for in-process httpx, and
``server.py`` for the loopback HTTP server) translate real I/O into these objects and
carry out what the response asks for: a delay before answering, or a fault such as
dropping the connection.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Fault = Literal["refuse", "reset", "hang", "slowloris"]
"""How a face misbehaves instead of answering normally.

``refuse``: as if the connection had been refused: the request never arrived.
``reset``: close the connection without an answer (an abortive close where the face can).
``hang``: never answer; the client's timeout decides what happens.
``slowloris``: answer, but dribble the body out slower than any sane timeout.
"""


@dataclass(frozen=True, slots=True)
class WireRequest:
    """One HTTP request as the sandbox core sees it."""

    method: str
    path: str
    """The path without the query string, e.g. ``/`` or ``/_sandbox/messages``."""
    query: tuple[tuple[str, str], ...]
    """Decoded query parameters in wire order."""
    headers: dict[str, str]
    """Header names in lower case."""
    body: bytes = b""
    client: str = "127.0.0.1"


@dataclass(slots=True)
class WireResponse:
    """What a face must answer, and how."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    """Seconds to wait before answering (simulated service latency)."""
    fault: Fault | None = None


@dataclass(frozen=True, slots=True)
class Push:
    """One HTTP batch push of receipts that the server face should POST."""

    url: str
    body: bytes
    attempt: int
    ident: int


_JSON = {"content-type": "application/json;charset=utf-8"}


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None,
                  delay: float = 0.0) -> WireResponse:
    """A JSON answer (compact, UTF-8, as the service writes it) after ``delay`` seconds."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return WireResponse(status, {**_JSON, **(headers or {})}, body, delay)
