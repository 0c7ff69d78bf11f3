"""One client connection of the sandbox's loopback server: h11 does the HTTP/1.1 protocol,
this does the asyncio I/O around it, and the faults a real network produces.

Apart from :mod:`.server` (which listens, pushes receipts and runs the lifecycle) because this
is the part that speaks HTTP: a request head as long as the longest URL, a body under a limit,
100-continue, pipelining, refusals that reach the client before the close, and the ``reset``,
``hang`` and ``slowloris`` answers.

No client holds a connection for free: one with no request in progress is closed after
``idle_timeout`` seconds without a byte (longer than clients keep a pooled connection, so a
client never reuses one just as it closes), and a request must arrive whole (head and body)
within ``request_timeout`` seconds of its first byte, or it is answered 408 and closed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct
from collections.abc import Callable
from typing import Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

import h11

from .._http_headers import reason_phrase, request_headers
from ..models import MAX_URL_LENGTH
from ._wire import Push, WireRequest, WireResponse
from .inbound_check import inbound_refusal

__all__ = ["IDLE_TIMEOUT", "MAX_BODY_BYTES", "REQUEST_TIMEOUT", "SLOWLORIS_INTERVAL",
           "HttpConnection", "SandboxCoreLike"]

logger = logging.getLogger("cams_notebook.sandbox.server")  # the server's log, as before

MAX_BODY_BYTES = 1024 * 1024
"""Request bodies larger than this get ``413``; CAMS requests are a few KiB."""
SLOWLORIS_INTERVAL = 2.0
"""Seconds between the body bytes of a ``slowloris`` answer."""
IDLE_TIMEOUT = 15.0
"""Seconds a connection may wait for its next request (httpx keeps a pooled one for 5 s)."""
REQUEST_TIMEOUT = 5.0
"""Seconds from a request's first byte until its head and body must have arrived."""
_LINGER_SECONDS = 1.0
_LINGER_BYTES = 256 * 1024
"""At most this much is read (and dropped) after a refusal before the connection closes."""
_READ_SIZE = 65536
_MAX_HEAD = MAX_URL_LENGTH + 16_384
"""The longest request head read: the longest URL a client sends, plus its headers."""
_NO_BODY_STATUSES = frozenset({204, 304})
_FAULTS = frozenset({None, "refuse", "reset", "hang", "slowloris"})
_REFUSAL_CODES = {
    408: "RequestTimeout",
    413: "RequestEntityTooLarge",
    431: "RequestHeaderTooLarge",
    505: "UnsupportedHTTPVersion",
}


class SandboxCoreLike(Protocol):
    """What the server needs from the sandbox core (``core.SandboxCore`` provides it)."""

    @property
    def clock(self) -> Callable[[], float]:
        """Return the current time in seconds; the push loop asks for due pushes with it."""

    def handle(self, req: WireRequest) -> WireResponse:
        """Answer one request; thread-safe, fast and without I/O (it runs on the event loop)."""

    def due_pushes(self, now: float) -> list[Push]:
        """Return the receipt pushes due at ``now``; each is reported once via push_done."""

    def push_done(self, push: Push, ok: bool) -> None:
        """Take the outcome of one push (``ok`` means a 2xx answer); the core decides retries."""


class HttpConnection:
    """One client connection: h11 does the protocol, this does the I/O and the faults."""

    __slots__ = ("_deadline", "client", "conn", "core", "idle_timeout", "reader",
                 "request_timeout", "slowloris_interval", "writer")

    def __init__(
        self, core: SandboxCoreLike, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
        *, slowloris_interval: float = SLOWLORIS_INTERVAL, idle_timeout: float = IDLE_TIMEOUT,
        request_timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self.core = core
        self.slowloris_interval = slowloris_interval
        self.idle_timeout = idle_timeout
        self.request_timeout = request_timeout
        self._deadline: float | None = None  # loop time by which the current request is due
        self.reader = reader
        self.writer = writer
        # a request head may be as long as the longest URL a client sends (every parameter
        # is in the query): h11's default of 16 KiB would refuse valid long messages with
        # a 431 before the core could judge them
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEAD)
        peer = writer.get_extra_info("peername")
        self.client = str(peer[0]) if peer else ""

    async def serve(self) -> None:
        """Answer requests in order until the client leaves or the connection must close."""
        while True:
            try:
                event = await self._next_event()
                if isinstance(event, h11.ConnectionClosed):
                    self.writer.close()
                    return
                assert isinstance(event, h11.Request)
                if event.http_version not in (b"1.1", b"1.0"):  # h11 parses any N.N
                    await self._refuse(505, "Only HTTP/1.0 and HTTP/1.1 are served")
                    return
                headers = request_headers(event)
                body = await self._read_body(headers)
            except h11.RemoteProtocolError as exc:
                await self._refuse(exc.error_status_hint, f"Malformed HTTP request: {exc}")
                return
            except _Late:
                if self._deadline is None:  # idle between requests: a silent close
                    self.writer.close()
                else:
                    await self._refuse(408, "The request did not arrive in time")
                return
            if body is None:
                await self._refuse(413, f"Request body exceeds {MAX_BODY_BYTES} bytes")
                return
            if not await self._answer(event, headers, body):
                return
            self.conn.start_next_cycle()
            self._deadline = None

    async def _next_event(self) -> h11.Event | type[h11.NEED_DATA | h11.PAUSED]:
        """The next h11 event, reading from the socket as needed (so never NEED_DATA)."""
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            if self.conn.they_are_waiting_for_100_continue:
                self.writer.write(
                    self.conn.send(h11.InformationalResponse(status_code=100, headers=[]))
                )
            self.conn.receive_data(await self._read())

    async def _read(self) -> bytes:
        """The next bytes from the client, within the idle or the request deadline."""
        loop = asyncio.get_running_loop()
        timeout = self.idle_timeout
        if self._deadline is not None:
            timeout = min(self.request_timeout, self._deadline - loop.time())
            if timeout <= 0:
                raise _Late
        try:
            data = await asyncio.wait_for(self.reader.read(_READ_SIZE), timeout)
        except asyncio.TimeoutError:
            raise _Late from None
        if data and self._deadline is None:  # the first bytes of a request start its clock
            self._deadline = loop.time() + self.request_timeout
        return data

    async def _read_body(self, headers: dict[str, str]) -> bytes | None:
        """Return the whole body, or None when it is over the limit (not read any further)."""
        # h11 checked the digits; a repeated Content-Length (same value, or h11 refuses) joins
        # as "5,5", so the first one speaks for all.
        if int(headers.get("content-length", "0").split(",")[0]) > MAX_BODY_BYTES:
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            event = await self._next_event()
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > MAX_BODY_BYTES:
                    return None
                chunks.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(chunks)
            else:  # pragma: no cover - h11 yields only Data/EndOfMessage here
                raise h11.RemoteProtocolError(f"unexpected {event!r} in a request body")

    def _wire_request(
        self, request: h11.Request, headers: dict[str, str], body: bytes
    ) -> WireRequest:
        target = request.target.decode("utf-8", "replace")
        if target.startswith("/"):
            path, _, query = target.partition("?")
        else:  # absolute-form (a client talking to us as a proxy) or "*"
            parts = urlsplit(target)
            path, query = parts.path or target, parts.query
        return WireRequest(
            method=request.method.decode("ascii"),
            path=unquote(path),
            query=tuple(parse_qsl(query, keep_blank_values=True)),
            headers=headers,
            body=body,
            client=self.client,
        )

    async def _answer(self, request: h11.Request, headers: dict[str, str], body: bytes) -> bool:
        """Answer one request as the core says; return whether the connection stays open."""
        try:
            wire = self._wire_request(request, headers, body)
            resp = inbound_refusal(wire) or self.core.handle(wire)
            if resp.fault not in _FAULTS:
                raise ValueError(f"unknown fault {resp.fault!r}")
            delay, fault = float(resp.delay), resp.fault
            if fault == "refuse":  # the request is already here: the closest is a reset
                fault = "reset"
            head, payload = (None, b"") if fault in ("reset", "hang") else \
                _response_events(resp, request.method)
        except RecursionError:  # JSON nested past what Python decodes: the client's mistake
            logger.warning("sandbox refused %r: a JSON value nested too deeply", request.method)
            error = json.dumps({"Code": "InvalidParameter",
                                "Message": "A JSON value in the request is nested too deeply."},
                               separators=(",", ":"))
            head, payload = _response_events(
                WireResponse(400, {"content-type": "application/json"}, error.encode()),
                request.method,
            )
            delay, fault = 0.0, None
        except Exception as exc:
            logger.exception("sandbox core failed on %r %r", request.method, _path_only(request))
            message = f"The sandbox failed to handle the request: {type(exc).__name__}: {exc}"
            error = json.dumps({"Code": "InternalError", "Message": message}, separators=(",", ":"))
            head, payload = _response_events(
                WireResponse(500, {"content-type": "application/json"}, error.encode()),
                request.method,
            )
            delay, fault = 0.0, None
        if delay > 0:
            await asyncio.sleep(delay)
        if fault == "reset":
            self._reset()
            return False
        if fault == "hang":
            while await self.reader.read(_READ_SIZE):  # until the client gives up
                pass
            return False
        assert head is not None
        out = self.conn.send(head)
        if fault == "slowloris":
            self.writer.write(out)
            for i in range(len(payload)):
                await self.writer.drain()
                await asyncio.sleep(self.slowloris_interval)
                self.writer.write(self.conn.send(h11.Data(data=payload[i : i + 1])))
            out = b""
        elif payload:
            out += self.conn.send(h11.Data(data=payload))
        self.writer.write(out + self.conn.send(h11.EndOfMessage()))
        await self.writer.drain()
        if self.conn.our_state is h11.MUST_CLOSE:
            self.writer.close()
            return False
        return True

    async def _refuse(self, status: int, message: str) -> None:
        """Answer an error and close, reading on a while so the client sees the answer.

        Closing with unread input makes the kernel send a reset, which can overtake the
        answer; so half-close, then drain what the client still sends (a lingering close).
        """
        if self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            code = _REFUSAL_CODES.get(status, "BadRequest")
            body = json.dumps({"Code": code, "Message": message}, separators=(",", ":")).encode()
            response = h11.Response(
                status_code=status,
                reason=reason_phrase(status),
                headers=[
                    ("content-type", "application/json"),
                    ("content-length", str(len(body))),
                    ("connection", "close"),
                ],
            )
            self.writer.write(
                self.conn.send(response)
                + self.conn.send(h11.Data(data=body))
                + self.conn.send(h11.EndOfMessage())
            )
            await self.writer.drain()
        if self.writer.can_write_eof():
            self.writer.write_eof()
        try:
            await asyncio.wait_for(self._drain_input(), _LINGER_SECONDS)
        except asyncio.TimeoutError:
            pass
        self.writer.close()

    async def _drain_input(self) -> None:
        drained = 0
        while drained < _LINGER_BYTES and (data := await self.reader.read(_READ_SIZE)):
            drained += len(data)

    def _reset(self) -> None:
        """Close abortively: SO_LINGER 0 makes the kernel send RST instead of FIN."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self.writer.transport.abort()


class _Late(Exception):
    """The client did not send in time (idle, or a request not whole by its deadline)."""


def _path_only(request: h11.Request) -> str:
    """The request's path, without the query: a signed query holds credentials' traces."""
    return request.target.decode("latin-1").partition("?")[0]


def _response_events(resp: WireResponse, method: bytes) -> tuple[h11.Response, bytes]:
    """Build (and so validate) the h11 response head; return it with the body to send.

    Content-Length is always ours (the body's real length, also for HEAD); a HEAD, 204 or
    304 answer carries no body.
    """
    body = bytes(resp.body)
    headers = [
        (name, value)
        for name, value in resp.headers.items()
        if name.lower() not in ("content-length", "transfer-encoding")
    ]
    if resp.status not in _NO_BODY_STATUSES:
        headers.append(("content-length", str(len(body))))
    if method == b"HEAD" or resp.status in _NO_BODY_STATUSES:
        body = b""
    head = h11.Response(
        status_code=resp.status, headers=headers, reason=reason_phrase(resp.status)
    )
    return head, body
