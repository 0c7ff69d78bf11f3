"""One connection to the receipt receiver: h11 does the HTTP/1.1 protocol, this does the socket,
the limits (a stall, a slow request, a body over the limit) and the answers.

Apart from :mod:`.server` (which listens, checks access and stores pushes) because this is the
part that faces the client byte by byte: whatever a client sends, the connection answers or
closes, and the receiver behind it sees only a whole body from a known address.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from typing import Protocol

import h11

from .._http_headers import reason_phrase, request_headers

__all__ = ["SECRET_HEADER", "PushConnection", "PushReceiver", "Refused", "refuse_busy"]

logger = logging.getLogger("cams_notebook.receipts.server")  # the receiver's log, as before

SECRET_HEADER = "X-Cams-Secret"
_LINGER_SECONDS = 1.0
_LINGER_BYTES = 256 * 1024
"""At most this much is read (and dropped) after a refusal: a client that goes on sending
(a chunked body that never ends, a body over the limit) is cut off, not read to the end."""
_READ_SIZE = 65536
_OK = json.dumps({"code": 0, "msg": "success"}).encode()


class Refused(Exception):
    """A request answered with ``status`` and ``message`` (and the connection closed, when
    ``close``), and counted as refused."""

    def __init__(self, status: int, message: str, close: bool = False) -> None:
        super().__init__(message)
        self.status, self.message, self.close = status, message, close


class PushReceiver(Protocol):
    """What a connection needs of the receiver (:class:`~.server.ReceiptServer` provides it)."""

    max_body: int
    read_timeout: float
    request_timeout: float

    @property
    def stopping(self) -> bool:
        """True once the receiver stops: a connection ends after the answer it is sending."""

    def check_access(self, client: str, path: str, secret_header: str | None) -> None:
        """Raise :class:`Refused` unless ``client`` may push to ``path``."""

    def take(self, body: bytes, client: str) -> dict[str, int]:
        """Store one push from ``client``; raise :class:`Refused` for a body that is not one."""

    def record_refusal(self, client: str, refusal: Refused) -> None:
        """Count and log a refused request."""


class PushConnection:
    """One client connection: h11 does the protocol, this does the socket and the limits."""

    def __init__(self, receiver: PushReceiver, sock: socket.socket, client: str) -> None:
        self.receiver = receiver
        self.sock = sock
        self.client = client
        self.conn = h11.Connection(h11.SERVER)
        self.busy = False  # between the first byte of a request and the end of its answer
        self.deadline: float | None = None
        self.finished = threading.Event()
        self._lock = threading.Lock()
        # head and body go out in one write, but an early 100 Continue would stall 40 ms
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def serve(self) -> None:
        """Answer requests in order until the client leaves, stalls, or must be closed."""
        try:
            while True:
                try:
                    event = self._next_event()
                    if isinstance(event, h11.ConnectionClosed):
                        return
                    assert isinstance(event, h11.Request)
                    keep_alive = self._answer_request(event)
                except h11.RemoteProtocolError as exc:
                    self._refuse(Refused(exc.error_status_hint, f"malformed request: {exc}",
                                          close=True))
                    return
                if not keep_alive or self.conn.our_state is h11.MUST_CLOSE:
                    return
                self.conn.start_next_cycle()
                with self._lock:
                    self.busy, self.deadline = False, None
                if self.receiver.stopping:
                    return
        except OSError:  # reset, timed out (TimeoutError is one), or closed by stop()
            pass
        finally:
            self.sock.close()

    def close_if_idle(self) -> None:
        """Called by stop(): wake an idle connection's read so its thread ends."""
        with self._lock:
            if not self.busy:
                try:
                    self.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    # -- reading ------------------------------------------------------------------------

    def _next_event(self) -> h11.Event:
        """The next h11 event, reading from the socket as needed (so never NEED_DATA)."""
        while True:
            event = self.conn.next_event()
            if event is h11.PAUSED:  # pragma: no cover - we never read past an unanswered request
                return h11.ConnectionClosed()
            if isinstance(event, h11.Event):
                return event
            if self.conn.they_are_waiting_for_100_continue:
                self.sock.sendall(self.conn.send(h11.InformationalResponse(status_code=100,
                                                                             headers=[])))
            self.conn.receive_data(self._recv())

    def _recv(self) -> bytes:
        timeout = self.receiver.read_timeout
        if self.deadline is not None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the request took too long to arrive")
            timeout = min(timeout, remaining)
        self.sock.settimeout(timeout)
        data = self.sock.recv(_READ_SIZE)
        if data and self.deadline is None:  # the first bytes of a request start its clock
            with self._lock:
                self.busy = True
                self.deadline = time.monotonic() + self.receiver.request_timeout
        return data

    def _body(self, headers: dict[str, str]) -> bytes:
        """The whole body; refused (unread) when absent or over ``max_body`` bytes."""
        limit = self.receiver.max_body
        length = headers.get("content-length")
        if length is None and "transfer-encoding" not in headers:
            # h11 would read "no body": a push without one is a client that forgot to frame it
            raise Refused(411, "a Content-Length (or chunked body) is required", close=True)
        # h11 checked the digits; a repeated Content-Length (same value, or h11 refuses) joins
        # as "5,5", so the first one speaks for all.
        if length is not None and int(length.split(",")[0]) > limit:
            raise Refused(413, f"body over {limit} bytes", close=True)
        chunks: list[bytes] = []
        size = 0
        while True:
            event = self._next_event()
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > limit:
                    raise Refused(413, f"body over {limit} bytes", close=True)
                chunks.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(chunks)
            else:  # pragma: no cover - h11 yields only Data/EndOfMessage here
                raise h11.RemoteProtocolError(f"unexpected {event!r} in a request body")

    # -- answering ----------------------------------------------------------------------

    def _answer_request(self, request: h11.Request) -> bool:
        """Answer one request; return whether the connection stays open."""
        with self._lock:
            self.busy = True
        if request.http_version not in (b"1.1", b"1.0"):  # h11 parses any N.N
            return self._refuse(Refused(505, "only HTTP/1.0 and HTTP/1.1 are served",
                                         close=True))
        method = request.method.decode("ascii", "replace")
        if method != "POST":
            return self._refuse(Refused(405, f"{method} is not served", close=True),
                                [("Allow", "POST")])
        headers = request_headers(request)
        try:
            self.receiver.check_access(self.client, request.target.decode("latin-1"),
                                        headers.get(SECRET_HEADER.lower()))
            summary = self.receiver.take(self._body(headers), self.client)
        except Refused as refusal:
            return self._refuse(refusal)
        logger.debug("push from %s stored: %s", self.client, summary)
        self._send(200, _OK)
        return True

    def _refuse(self, refusal: Refused, extra: list[tuple[str, str]] | None = None) -> bool:
        self.receiver.record_refusal(self.client, refusal)
        if self.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return False
        body = json.dumps({"code": refusal.status, "msg": refusal.message},
                          ensure_ascii=False).encode()
        close = refusal.close or self.conn.their_state is not h11.DONE
        self._send(refusal.status, body, (extra or []) + ([("Connection", "close")] if close
                                                           else []))
        if close:
            self._linger()
        return not close

    def _send(self, status: int, body: bytes, extra: list[tuple[str, str]] | None = None) -> None:
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                   ("Server", "cams-notebook-receipts"), *(extra or [])]
        head = h11.Response(status_code=status, headers=headers, reason=reason_phrase(status))
        self.sock.sendall(self.conn.send(head)
                          + self.conn.send(h11.Data(data=body))
                          + self.conn.send(h11.EndOfMessage()))

    def _linger(self) -> None:
        """Half-close, then read what the client still sends for a moment before closing.

        Closing with unread input makes the kernel send a reset, which can overtake the
        answer; a lingering close lets the client read it. It lasts at most
        ``_LINGER_SECONDS`` and ``_LINGER_BYTES``: a client still sending past that is reset.
        """
        _linger(self.sock)


def _linger(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_WR)
        until = time.monotonic() + _LINGER_SECONDS
        drained = 0
        while (left := until - time.monotonic()) > 0 and drained < _LINGER_BYTES:
            sock.settimeout(left)
            data = sock.recv(_READ_SIZE)
            if not data:
                return
            drained += len(data)
    except OSError:
        pass


def refuse_busy(sock: socket.socket) -> Refused:
    """Answer 503 on a connection over the receiver's limit, without reading its request
    (it is closed at once: a reset may overtake the answer, and CAMS retries either way)."""
    refusal = Refused(503, "too many connections; try again later", close=True)
    body = json.dumps({"code": refusal.status, "msg": refusal.message}).encode()
    head = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\nRetry-After: 1\r\n\r\n" % len(body))
    try:
        sock.settimeout(0)  # the listener's thread must never wait on a client
        sock.send(head + body)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    return refusal
