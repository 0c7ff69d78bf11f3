"""Take receipts by HTTP push: CAMS POSTs a JSON array of ChatAppStatus (or ChatAppInbound)
events to a callback URL and wants an answer within 3 seconds (``smq_receipts.md`` 6).

:class:`ReceiptServer` answers ``200 {"code":0,"msg":"success"}`` only after the push is
committed to its :class:`~.receipt_store.ReceiptStore`, so anything acknowledged survives
a kill. A body that is not JSON, not an array of events, or over ``max_body`` bytes gets a
4xx and a log line, and nothing of it is stored (CAMS retries a failed push a few times,
then drops it: the queue is the safer way in). A failure to store answers 503, so CAMS
retries. No request can take the server down.

For users who expose it: ``secret=`` requires the secret as the last path segment
(``https://host/receipts/<secret>``) or in an ``X-Cams-Secret`` header, and ``allow=``
restricts source addresses (IPs or CIDR networks, matched on the socket's peer address).

Built on the stdlib's threading HTTP server: the receiver is a handful of lines around the
store, needs no dependency, and runs in a notebook's background thread.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import threading
from collections.abc import Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from .events import BodyError, decode_body
from .store import ReceiptStore, open_store

if TYPE_CHECKING:  # typing.Self is 3.11+; annotations are never evaluated at runtime
    from typing_extensions import Self

__all__ = ["DEFAULT_MAX_BODY", "ReceiptServer"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 4 * 1024 * 1024
"""Bytes; a push carries at most 100 receipts of well under 2 KiB each."""
SECRET_HEADER = "X-Cams-Secret"
READ_TIMEOUT = 10.0
"""Seconds a connection may stall while sending a request before it is dropped."""
_OK = json.dumps({"code": 0, "msg": "success"}).encode()


class _Refused(Exception):
    def __init__(self, status: int, message: str, close: bool = False) -> None:
        super().__init__(message)
        self.status, self.message, self.close = status, message, close


class ReceiptServer:
    """An HTTP receiver for CAMS receipt pushes, in a background thread.

    >>> with ReceiptServer(store="receipts.db") as server:   # doctest: +SKIP
    ...     print(server.url)                               # the callback URL, behind a tunnel
    http://127.0.0.1:54321/
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, path: str = "/", *,
                 store: ReceiptStore | str | os.PathLike[str] | None = None,
                 secret: str | None = None, allow: Iterable[str] | None = None,
                 max_body: int = DEFAULT_MAX_BODY) -> None:
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', not {path!r}")
        self.host = host
        self.path = "/" + path.strip("/") if path.strip("/") else "/"
        self.store = open_store(store)
        self._secret = secret
        self.allow = [ipaddress.ip_network(a, strict=False) for a in allow] if allow else None
        self.max_body = max_body
        self.stats = {"pushes": 0, "events": 0, "new": 0, "duplicates": 0, "refused": 0}
        self._stats_lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), _handler(self), bind_and_activate=True)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

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
            self._thread = threading.Thread(target=self._httpd.serve_forever, name="cams-receipts",
                                            kwargs={"poll_interval": 0.2}, daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop` or KeyboardInterrupt."""
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass

    def stop(self) -> None:
        """Stop listening and close the socket (pushes being answered finish first)."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- one push (called from the handler threads) -----------------------------------------

    def _check_access(self, client: str, path: str, headers: Any) -> None:
        if self.allow is not None:
            try:
                address = ipaddress.ip_address(client)
            except ValueError:
                address = None
            if address is None or not any(address in net for net in self.allow):
                raise _Refused(403, f"source address {client} is not allowed", close=True)
        clean = "/" + path.split("?", 1)[0].strip("/")
        if self._secret is None:
            if clean.rstrip("/") != self.path.rstrip("/"):
                raise _Refused(404, f"no receiver at {clean}", close=True)
            return
        by_header = headers.get(SECRET_HEADER)
        if clean.rstrip("/") == self.path.rstrip("/") and by_header is not None:
            if hmac.compare_digest(by_header.encode(), self._secret.encode()):
                return
            raise _Refused(403, "wrong secret", close=True)
        head, _, last = clean.rpartition("/")
        if (head or "/") == self.path and hmac.compare_digest(last.encode(), self._secret.encode()):
            return
        raise _Refused(404, f"no receiver at {clean}", close=True)

    def _take(self, body: bytes) -> dict[str, int]:
        try:
            items = decode_body(body, require_list=True)
            # Validated before anything is written, and kept exactly as they arrived.
            added = self.store.add(items, source="http")
        except (BodyError, UnicodeDecodeError) as exc:
            raise _Refused(400, str(exc)) from None
        except Exception as exc:  # a store failure must ask CAMS to retry
            logger.exception("could not store a receipt push")
            raise _Refused(503, f"could not store the push: {type(exc).__name__}") from None
        with self._stats_lock:
            self.stats["pushes"] += 1
            self.stats["events"] += len(items)
            self.stats["new"] += added.new
            self.stats["duplicates"] += added.duplicates
        return {"new": added.new, "duplicates": added.duplicates}

    def _refused(self, client: str, refusal: _Refused) -> None:
        with self._stats_lock:
            self.stats["refused"] += 1
        logger.warning("receipt push from %s refused (%d): %s", client, refusal.status,
                       refusal.message)


def _handler(server: ReceiptServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = READ_TIMEOUT
        disable_nagle_algorithm = True  # head and body go out in two writes: no 40 ms stall
        server_version = "cams-notebook-receipts"
        sys_version = ""

        def do_POST(self) -> None:
            client = self.client_address[0]
            try:
                server._check_access(client, self.path, self.headers)
                body = self._body()
                summary = server._take(body)
            except _Refused as refusal:
                server._refused(client, refusal)
                self._answer(refusal.status, {"code": refusal.status, "msg": refusal.message},
                             close=refusal.close)
                return
            logger.debug("push from %s stored: %s", client, summary)
            self._answer(200, None)

        def _body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return self._chunked()
            length = self.headers.get("Content-Length")
            if length is None:
                raise _Refused(411, "a Content-Length (or chunked body) is required", close=True)
            try:
                size = int(length)
            except ValueError:
                raise _Refused(400, "Content-Length is not a number", close=True) from None
            if size < 0 or size > server.max_body:
                raise _Refused(413, f"body over {server.max_body} bytes", close=True)
            body = self.rfile.read(size)
            if len(body) < size:
                raise _Refused(400, "the body ended early", close=True)
            return body

        def _chunked(self) -> bytes:
            chunks: list[bytes] = []
            total = 0
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise _Refused(400, "malformed chunked body", close=True) from None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > server.max_body:
                    raise _Refused(413, f"body over {server.max_body} bytes", close=True)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)

        def _answer(self, status: int, payload: dict[str, Any] | None, close: bool = False) -> None:
            body = _OK if payload is None else json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status, HTTPStatus(status).phrase)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(body)

        def _not_allowed(self) -> None:
            server._refused(self.client_address[0], _Refused(405, f"{self.command} is not served"))
            self.close_connection = True
            self.send_response(405)
            self.send_header("Allow", "POST")
            self.send_header("Connection", "close")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = _not_allowed

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("%s - %s", self.client_address[0], format % args)

    return Handler
