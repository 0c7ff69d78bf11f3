"""Take receipts by HTTP push: CAMS POSTs a JSON array of ChatAppStatus (or ChatAppInbound)
events to a callback URL and wants an answer within 3 seconds (``smq_receipts.md`` 6).

:class:`ReceiptServer` answers ``200 {"code":0,"msg":"success"}`` only after the push is
committed to its :class:`~.store.ReceiptStore`, so anything acknowledged survives a kill. A
body that is not JSON, not an array of events, or over ``max_body`` bytes gets a 4xx and a log
line, and nothing of it is stored (CAMS retries a failed push a few times, then drops it: the
queue is the safer way in). A failure to store answers 503, so CAMS retries. No request can
take the server down, and no client can hold a thread for long: a connection that stalls for
``read_timeout`` seconds, or takes over ``request_timeout`` to send one request, is dropped.

For users who expose it: ``secret=`` requires the secret as the last path segment
(``https://host/receipts/<secret>``) or in an ``X-Cams-Secret`` header, and ``allow=``
restricts source addresses (IPs or CIDR networks, matched on the socket's peer address).

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
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .events import BodyError, decode_body
from .push_connection import SECRET_HEADER, PushConnection, Refused  # noqa: F401 - as before
from .store import ReceiptStore, open_store

if TYPE_CHECKING:  # typing.Self is 3.11+; annotations are never evaluated at runtime
    from typing_extensions import Self

__all__ = ["DEFAULT_MAX_BODY", "READ_TIMEOUT", "REQUEST_TIMEOUT", "ReceiptServer"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 4 * 1024 * 1024
"""Bytes; a push carries at most 100 receipts of well under 2 KiB each."""
READ_TIMEOUT = 10.0
"""Seconds a connection may stall (mid-request, or idle between requests) before it is dropped."""
REQUEST_TIMEOUT = 30.0
"""Seconds a client may take to send one whole request, however steadily it dribbles."""


class ReceiptServer:
    """An HTTP receiver for CAMS receipt pushes, in a background thread.

    >>> with ReceiptServer(store="receipts.db") as server:   # doctest: +SKIP
    ...     print(server.url)                               # the callback URL, behind a tunnel
    http://127.0.0.1:54321/
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, path: str = "/", *,
                 store: ReceiptStore | str | os.PathLike[str] | None = None,
                 secret: str | None = None, allow: Iterable[str] | None = None,
                 max_body: int = DEFAULT_MAX_BODY, read_timeout: float = READ_TIMEOUT,
                 request_timeout: float = REQUEST_TIMEOUT) -> None:
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', not {path!r}")
        if not read_timeout > 0 or not request_timeout > 0:
            raise ValueError("read_timeout and request_timeout must be positive")
        self.host = host
        self.path = "/" + path.strip("/") if path.strip("/") else "/"
        self.store = open_store(store)
        self._secret = secret
        self.allow = [ipaddress.ip_network(a, strict=False) for a in allow] if allow else None
        self.max_body = max_body
        self.read_timeout = float(read_timeout)
        self.request_timeout = float(request_timeout)
        self.stats = {"pushes": 0, "events": 0, "new": 0, "duplicates": 0, "refused": 0}
        self._stats_lock = threading.Lock()
        self._connections: set[PushConnection] = set()
        self._connections_lock = threading.Lock()
        self._stopping = False
        self._listener = _Listener(self, host, port)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._listener.server_address[1])

    @property
    def url(self) -> str:
        """The callback URL (with the secret path segment, when one is set)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        tail = self.path.rstrip("/") + (f"/{self._secret}" if self._secret else "")
        return f"http://{host}:{self.port}{tail or '/'}"

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
        raise Refused(404, f"no receiver at {clean}", close=True)

    def take(self, body: bytes) -> dict[str, int]:
        try:
            items = decode_body(body, require_list=True)
            # Validated before anything is written, and kept exactly as they arrived.
            added = self.store.add(items, source="http")
        except (BodyError, UnicodeDecodeError) as exc:
            raise Refused(400, str(exc)) from None
        except Exception as exc:  # a store failure must ask CAMS to retry
            logger.exception("could not store a receipt push")
            raise Refused(503, f"could not store the push: {type(exc).__name__}") from None
        with self._stats_lock:
            self.stats["pushes"] += 1
            self.stats["events"] += len(items)
            self.stats["new"] += added.new
            self.stats["duplicates"] += added.duplicates
        return {"new": added.new, "duplicates": added.duplicates}

    def record_refusal(self, client: str, refusal: Refused) -> None:
        with self._stats_lock:
            self.stats["refused"] += 1
        logger.warning("receipt push from %s refused (%d): %s", client, refusal.status,
                       refusal.message)

    def _serve_connection(self, sock: socket.socket, client: str) -> None:
        connection = PushConnection(self, sock, client)
        with self._connections_lock:
            if self._stopping:
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

    def finish_request(self, request: socket.socket | tuple[bytes, socket.socket],
                       client_address: Any) -> None:
        assert isinstance(request, socket.socket)  # a stream server's request is its socket
        self.receiver._serve_connection(request, str(client_address[0]))
