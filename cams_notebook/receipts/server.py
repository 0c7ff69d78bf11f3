"""Take receipts by HTTP push: CAMS POSTs a JSON array of ChatAppStatus (or ChatAppInbound,
or ChatAppAudit: :mod:`.audit`) events to a callback URL and wants an answer within 3
seconds (``smq_receipts.md`` 6). Each kind goes where the store keeps it.

:class:`ReceiptServer` answers ``200 {"code":0,"msg":"success"}`` only after the push is
committed to its :class:`~.store.ReceiptStore`, so anything acknowledged survives a kill.

CAMS resends a push whose answer is not 200 (a few times, then drops it), so the answer says
whether resending can help. A failure to store answers 503: CAMS retries. What can never
succeed answers 4xx (a body that is not JSON, not an array, nested too deeply, or over
``max_body`` bytes), with a log line, and nothing of it is stored. Within a well-formed
array, each event stands alone: the valid ones are stored, the malformed ones (not an event,
a ``Timestamp`` out of range...) are kept aside in the store file's ``rejected_events`` table
(:mod:`.rejected`, :attr:`ReceiptServer.rejected`) with the reason, and the push answers 200
so CAMS does not resend the good ones; only a push with no valid event at all answers 400.

No request can take the server down, and no client can hold a thread for long: a connection
that stalls for ``read_timeout`` seconds (idle between requests, or mid-request), or takes
over ``request_timeout`` to send one request, is dropped; beyond ``max_connections`` open at
once, a new connection gets 503 and is closed.

For users who expose it: ``secret=`` requires the secret as the last path segment
(``https://host/receipts/<secret>``) or in an ``X-Cams-Secret`` header, and ``allow=``
restricts source addresses (IPs or CIDR networks, matched on the socket's peer address).
The secret never reaches the log: a refused path is not logged when a secret is set, and any
message that would hold it shows ``<secret>`` instead. ``secret=None`` (the default) runs
without one; an empty secret is a ``ValueError``, never "no authentication".

Why h11: the receiver faces the internet when a user exposes it, so the HTTP/1.1 parsing
(request line, headers, Content-Length against chunked, chunk framing, keep-alive and
pipelining) must be right in every corner; ``h11`` does exactly that and nothing else, is
already installed with httpx, and is what the sandbox's server speaks too
(:mod:`cams_notebook.sandbox.server`). :mod:`.push_connection` does only the socket I/O around
it, with a thread per connection from the stdlib's ``socketserver``: the store is blocking
SQLite, and the receiver must run in a notebook's background thread.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import socket
import socketserver
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .events import BodyError, decode_body
from .push_connection import SECRET_HEADER, PushConnection, Refused, refuse_busy
from .rejected import RejectedEvents, sort_push
from .store import ReceiptStore, open_store

if TYPE_CHECKING:  # typing.Self is 3.11+; annotations are never evaluated at runtime
    from typing_extensions import Self

__all__ = ["DEFAULT_MAX_BODY", "MAX_CONNECTIONS", "READ_TIMEOUT", "REQUEST_TIMEOUT",
           "SECRET_HEADER", "PushSummary", "ReceiptServer"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 4 * 1024 * 1024
"""Bytes; a push carries at most 100 receipts of well under 2 KiB each."""
READ_TIMEOUT = 5.0
"""Seconds a connection may stall (mid-request, or idle between requests) before it is dropped."""
REQUEST_TIMEOUT = 15.0
"""Seconds a client may take to send one whole request, however steadily it dribbles."""
MAX_CONNECTIONS = 128
"""Connections served at once (a thread each); one more is answered 503 and closed."""
_SECRET_FORBIDDEN = frozenset("/?#%")


@dataclass(frozen=True)
class PushSummary:
    """What one stored push did: from where, how many events, new, duplicates, rejected."""

    client: str
    events: int
    new: int
    duplicates: int
    rejected: int


class ReceiptServer:
    """An HTTP receiver for CAMS receipt pushes, in a background thread.

    The port is bound before the store is opened: a receiver that cannot listen creates no
    store file. ``on_push(summary)`` is called (from the connection's thread) after each
    stored push, with a :class:`PushSummary`.

    >>> with ReceiptServer(store="receipts.db") as server:   # doctest: +SKIP
    ...     print(server.url)                               # the callback URL, behind a tunnel
    http://127.0.0.1:54321/
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, path: str = "/", *,
                 store: ReceiptStore | str | os.PathLike[str] | None = None,
                 secret: str | None = None, allow: Iterable[str] | None = None,
                 max_body: int = DEFAULT_MAX_BODY, read_timeout: float = READ_TIMEOUT,
                 request_timeout: float = REQUEST_TIMEOUT,
                 max_connections: int = MAX_CONNECTIONS,
                 on_push: Callable[[PushSummary], object] | None = None) -> None:
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', not {path!r}")
        if not read_timeout > 0 or not request_timeout > 0:
            raise ValueError("read_timeout and request_timeout must be positive")
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {max_connections}")
        _check_secret(secret)
        self.host = host
        self.path = "/" + path.strip("/") if path.strip("/") else "/"
        self._secret = secret
        self.allow = [ipaddress.ip_network(a, strict=False) for a in allow] if allow else None
        self.max_body = max_body
        self.read_timeout = float(read_timeout)
        self.request_timeout = float(request_timeout)
        self.max_connections = max_connections
        self.on_push = on_push
        self.stats = {"pushes": 0, "events": 0, "new": 0, "duplicates": 0, "rejected": 0,
                      "refused": 0}
        self._stats_lock = threading.Lock()
        self._connections: set[PushConnection] = set()
        self._connections_lock = threading.Lock()
        self._open = 0  # accepted and not yet finished (counted before their thread starts)
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._listener = _Listener(self, host, port)  # first: a busy port creates no store
        try:
            self.store = open_store(store)
            self.rejected = RejectedEvents(self.store.path)
            """Events of pushes that could not be stored (:class:`~.rejected.RejectedEvents`)."""
        except BaseException:
            self._listener.server_close()
            raise

    @property
    def port(self) -> int:
        return int(self._listener.server_address[1])

    @property
    def url(self) -> str:
        """The callback URL (with the secret path segment, when one is set)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        tail = self.path.rstrip("/") + (f"/{self._secret}" if self._secret else "")
        return f"http://{host}:{self.port}{tail or '/'}"

    @property
    def public_url(self) -> str:
        """:attr:`url` with the secret shown as ``<secret>``: safe to print or log."""
        return self.redact(self.url)

    def redact(self, text: str) -> str:
        """``text`` with the secret replaced by ``<secret>``."""
        return text.replace(self._secret, "<secret>") if self._secret else text

    def __repr__(self) -> str:
        where = f"http://{self.host}:{self.port}{self.path}"
        secret = "set" if self._secret else None
        return f"ReceiptServer({where!r}, stored={self.store.count()}, secret={secret})"

    def start(self) -> Self:
        """Serve in a daemon thread (returns at once; the socket already listens)."""
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._listener.serve_forever,
                                            name="cams-receipts", kwargs={"poll_interval": 0.2},
                                            daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop` or KeyboardInterrupt."""
        try:
            self._listener.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass

    def stop(self) -> None:
        """Stop listening and close the socket; idle keep-alive connections are closed, and
        pushes being answered finish first (waited for up to ``read_timeout``)."""
        if self._thread is not None:
            self._listener.shutdown()
            self._thread.join()
            self._thread = None
        self._listener.server_close()
        with self._connections_lock:
            self._stopping = True
            connections = list(self._connections)
        for connection in connections:
            connection.close_if_idle()
        deadline = time.monotonic() + self.read_timeout
        for connection in connections:
            connection.finished.wait(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- one push (called from the connection threads) --------------------------------------

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called: connections end after their current answer."""
        return self._stopping

    def check_access(self, client: str, path: str, secret_header: str | None) -> None:
        if self.allow is not None:
            try:
                address = ipaddress.ip_address(client)
            except ValueError:
                address = None
            if address is None or not any(address in net for net in self.allow):
                raise Refused(403, f"source address {client} is not allowed", close=True)
        clean = "/" + path.split("?", 1)[0].strip("/")
        if self._secret is None:
            if clean.rstrip("/") != self.path.rstrip("/"):
                raise Refused(404, f"no receiver at {clean}", close=True)
            return
        if clean.rstrip("/") == self.path.rstrip("/") and secret_header is not None:
            if hmac.compare_digest(secret_header.encode(), self._secret.encode()):
                return
            raise Refused(403, "wrong secret", close=True)
        head, _, last = clean.rpartition("/")
        if (head or "/") == self.path and hmac.compare_digest(last.encode(), self._secret.encode()):
            return
        # Not the path: a path that is not ours may still hold the secret (a push to the
        # wrong callback URL), so it is neither logged nor echoed.
        raise Refused(404, "no receiver at this path", close=True)

    def take(self, body: bytes, client: str = "") -> dict[str, int]:
        """Store one push: its valid events in the store, its malformed ones in
        :attr:`rejected`; raise :class:`Refused` for a body that is no push at all."""
        try:
            items = decode_body(body, require_list=True)
        except (BodyError, UnicodeDecodeError) as exc:
            raise Refused(400, str(exc)) from None
        except RecursionError:
            raise Refused(400, "body is not JSON: nested too deeply") from None
        push = sort_push(items)
        if push.rejected and not push.valid:
            first = push.rejected[0]
            self._keep_rejected(push.rejected, client)
            with self._stats_lock:
                self.stats["rejected"] += len(push.rejected)
            raise Refused(400, f"no valid event; event {first.index}: {first.reason}")
        try:
            added = self.store.add(push.valid, source="http")
        except BodyError as exc:  # pragma: no cover - sort_push took only what parses
            raise Refused(400, str(exc)) from None
        except (sqlite3.Error, OSError) as exc:  # the disk, a lock: CAMS's retry may succeed
            logger.exception("could not store a receipt push")
            raise Refused(503, f"could not store the push: {type(exc).__name__}") from None
        except Exception as exc:  # a bug of ours: answered 500, so CAMS retries after a fix
            logger.exception("could not store a receipt push")
            raise Refused(500, f"could not store the push: {type(exc).__name__}") from None
        if push.rejected:
            self._keep_rejected(push.rejected, client)
        summary = PushSummary(client, len(items), added.new, added.duplicates,
                              len(push.rejected))
        with self._stats_lock:
            self.stats["pushes"] += 1
            self.stats["events"] += summary.events
            self.stats["new"] += summary.new
            self.stats["duplicates"] += summary.duplicates
            self.stats["rejected"] += summary.rejected
        if self.on_push is not None:
            try:
                self.on_push(summary)
            except Exception:  # the push is stored: a failing observer must not undo the 200
                logger.exception("on_push failed")
        return {"new": added.new, "duplicates": added.duplicates,
                "rejected": len(push.rejected)}

    def _keep_rejected(self, rejected: list[Any], client: str) -> None:
        try:
            self.rejected.add(rejected, source="http", client=client)
        except (sqlite3.Error, OSError) as exc:
            logger.exception("could not record rejected receipt events")
            raise Refused(503, f"could not store the push: {type(exc).__name__}") from None
        for item in rejected:
            logger.warning("receipt event %d from %s rejected: %s", item.index, client,
                           self.redact(item.reason))

    def record_refusal(self, client: str, refusal: Refused) -> None:
        with self._stats_lock:
            self.stats["refused"] += 1
        logger.warning("receipt push from %s refused (%d): %s", client, refusal.status,
                       self.redact(refusal.message))

    # -- connections (called from the listener) --------------------------------------------

    def _admit(self) -> bool:
        """Count a new connection in, unless ``max_connections`` are open already."""
        with self._connections_lock:
            if self._open >= self.max_connections:
                return False
            self._open += 1
            return True

    def _serve_connection(self, sock: socket.socket, client: str) -> None:
        try:
            connection = PushConnection(self, sock, client)
            with self._connections_lock:
                if self._stopping:
                    sock.close()
                    return
                self._connections.add(connection)
            try:
                connection.serve()
            except Exception:  # a bug here must cost one connection, never the server
                logger.exception("receipt connection from %s failed", client)
            finally:
                with self._connections_lock:
                    self._connections.discard(connection)
                connection.finished.set()
        finally:
            with self._connections_lock:
                self._open -= 1


def _check_secret(secret: str | None) -> None:
    """None means no secret; anything else must be usable as a URL path segment."""
    if secret is None:
        return
    if not isinstance(secret, str) or not secret:
        raise ValueError("secret must be a non-empty string (None runs without a secret)")
    if any(c in _SECRET_FORBIDDEN or not c.isprintable() or c.isspace() for c in secret):
        raise ValueError("secret must be printable text without spaces, '/', '?', '#' or '%' "
                         "(it is the last segment of the callback URL)")


class _Listener(socketserver.ThreadingTCPServer):
    """Accepts connections and gives each its own daemon thread; HTTP is
    :class:`~.push_connection.PushConnection`."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, receiver: ReceiptServer, host: str, port: int) -> None:
        self.receiver = receiver
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), socketserver.BaseRequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.receiver._admit():  # full: answered here, without a thread
            self.receiver.record_refusal(str(client_address[0]), refuse_busy(request))
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread started: nobody else will count it out
            with self.receiver._connections_lock:
                self.receiver._open -= 1
            raise

    def finish_request(self, request: socket.socket | tuple[bytes, socket.socket],
                       client_address: Any) -> None:
        assert isinstance(request, socket.socket)  # a stream server's request is its socket
        self.receiver._serve_connection(request, str(client_address[0]))
