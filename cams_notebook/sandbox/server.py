"""The loopback HTTP face of the sandbox: a local fake CAMS service on a real socket.

:class:`SandboxServer` listens on ``127.0.0.1``, turns each HTTP/1.1 request into a
:class:`~cams_notebook.sandbox._wire.WireRequest`, asks the core for a
:class:`~cams_notebook.sandbox._wire.WireResponse` and carries out what it asks for: a
delay (``asyncio.sleep``, so other connections go on), or a fault (``reset``, ``hang``,
``slowloris``) that a real network produces and an in-process transport cannot. A push
loop POSTs the receipt batches the core says are due.

Why our own server: the sandbox must misbehave on purpose at the socket level (an abortive
close, a connection that never answers, a body dribbled out a byte at a time) and must
start in a background thread of a notebook kernel with no extra dependency. uvicorn and
aiohttp hide the socket behind their response objects and are not dependencies here. So the
HTTP/1.1 parsing, framing, keep-alive and pipelining rules come from ``h11`` (already
installed with httpx); this module only does the asyncio I/O around it.

>>> with SandboxServer(core) as srv:           # doctest: +SKIP
...     httpx.post(srv.url + "/", params=query)
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
import ssl
import struct
import threading
from collections.abc import Callable
from http import HTTPStatus
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

import h11
import httpx

from .._http_headers import request_headers
from ..models import MAX_URL_LENGTH
from ._wire import Push, WireRequest, WireResponse

if TYPE_CHECKING:  # typing.Self is 3.11+; annotations are never evaluated at runtime
    from typing_extensions import Self

__all__ = ["MAX_BODY_BYTES", "SandboxCoreLike", "SandboxServer"]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
"""Request bodies larger than this get ``413``; CAMS requests are a few KiB."""
PUSH_TIMEOUT = 3.0
"""Seconds one receipt push may take before it counts as failed."""
SLOWLORIS_INTERVAL = 2.0
"""Seconds between the body bytes of a ``slowloris`` answer."""
_LINGER_SECONDS = 1.0
_READ_SIZE = 65536
_MAX_HEAD = MAX_URL_LENGTH + 16_384
"""The longest request head read: the longest URL a client sends, plus its headers."""
_NO_BODY_STATUSES = frozenset({204, 304})
_FAULTS = frozenset({None, "refuse", "reset", "hang", "slowloris"})
_REASONS = {s.value: s.phrase.encode("ascii") for s in HTTPStatus}
_REFUSAL_CODES = {
    413: "RequestEntityTooLarge",
    431: "RequestHeaderTooLarge",
    505: "UnsupportedHTTPVersion",
}
_SignalHandler = Callable[[int, "FrameType | None"], Any] | int | None


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


class SandboxServer:
    """Serve a sandbox core over HTTP/1.1 on a loopback socket, plus its receipt pushes.

    ``start()`` runs it in a daemon thread with its own event loop (the notebook way);
    ``serve_forever()`` runs it in the foreground until SIGINT/SIGTERM (the CLI way). With
    ``port=0`` the OS picks a free port; read it from :attr:`port` or :attr:`url`.
    ``ssl_context`` (a server-side :class:`ssl.SSLContext`) serves HTTPS instead, for tests of a
    client over TLS; :attr:`url` then starts with ``https://``.

    >>> with SandboxServer(core) as srv:           # doctest: +SKIP
    ...     srv.url
    'http://127.0.0.1:54321'
    """

    def __init__(
        self,
        core: SandboxCoreLike,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        push_interval: float = 0.05,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be in 0..65535, not {port}")
        if not push_interval > 0:
            raise ValueError(f"push_interval must be positive, not {push_interval}")
        self._core = core
        self._host = host
        self._requested_port = port
        self._push_interval = push_interval
        self._ssl_context = ssl_context
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._stop_requested = False
        self._loop_thread: threading.Thread | None = None
        self._bound_port: int | None = None
        self._thread: threading.Thread | None = None
        self._startup_error: BaseException | None = None
        self._listening = threading.Event()
        self._finished = threading.Event()
        self._connections: set[asyncio.Task[None]] = set()
        self._push_tasks: set[asyncio.Task[None]] = set()
        self._push_client: httpx.AsyncClient | None = None

    # -- where it listens -------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port it listens on (the OS-chosen one when created with ``port=0``)."""
        if self._bound_port is None:
            raise RuntimeError("the sandbox server is not listening; call start() first")
        return self._bound_port

    @property
    def url(self) -> str:
        """Base URL of the service, e.g. ``http://127.0.0.1:54321`` (``https://`` with TLS)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://{host}:{self.port}"

    def __repr__(self) -> str:
        where = self.url if self._bound_port is not None else "not listening"
        return f"<SandboxServer {where}>"

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> Self:
        """Start serving in a background daemon thread; return once the socket listens.

        Raises the bind error (e.g. ``OSError`` for a port in use) in the caller's thread.
        """
        if self._thread is not None:
            raise RuntimeError("the sandbox server is already running")
        self._reset_state()
        self._thread = threading.Thread(
            target=self._thread_main, name="cams-sandbox-server", daemon=True
        )
        self._thread.start()
        self._listening.wait()
        if self._startup_error is not None:
            self._thread.join()
            self._thread = None
            raise self._startup_error
        return self

    def stop(self) -> None:
        """Close the listener and every connection, then wait for the server to finish.

        Safe to call twice, before ``start()``, or from another thread than the one that
        runs ``serve_forever()``. Pushes still in flight are abandoned without push_done.
        """
        with self._lock:
            self._stop_requested = True
            loop, event, loop_thread = self._loop, self._stop_event, self._loop_thread
        if loop is not None and event is not None:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # the loop has already closed: nothing left to stop
                pass
            if loop_thread is not threading.current_thread():
                self._finished.wait(timeout=10)
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return
        thread.join(timeout=10)
        if thread.is_alive():  # pragma: no cover - only when the core blocks the loop
            logger.warning("sandbox server thread did not stop within 10 s")
            return
        self._thread = None

    def serve_forever(self, ready: Callable[[SandboxServer], None] | None = None) -> None:
        """Serve in the calling thread until SIGINT/SIGTERM or :meth:`stop`.

        ``ready(server)`` is called once the socket listens, so a caller can print the URL
        (this method prints nothing). Signal handlers are installed only in the main thread
        and the previous ones are put back on return.
        """
        if self._thread is not None:
            raise RuntimeError("the sandbox server is already running in a background thread")
        self._reset_state()

        async def main() -> None:
            loop = asyncio.get_running_loop()
            installed: list[tuple[signal.Signals, _SignalHandler]] = []
            if threading.current_thread() is threading.main_thread():
                for sig in (signal.SIGINT, signal.SIGTERM):
                    previous = signal.getsignal(sig)
                    try:
                        loop.add_signal_handler(sig, self._request_stop_in_loop)
                    except (NotImplementedError, RuntimeError):  # Windows: Ctrl-C still raises
                        continue
                    installed.append((sig, previous))
            try:
                await self._serve(lambda: ready(self) if ready is not None else None)
            finally:
                for sig, previous in installed:
                    loop.remove_signal_handler(sig)
                    signal.signal(sig, signal.SIG_DFL if previous is None else previous)

        try:
            asyncio.run(main())
        except KeyboardInterrupt:  # where signal handlers could not be installed
            pass

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _reset_state(self) -> None:
        with self._lock:
            self._stop_requested = False
            self._loop = self._stop_event = None
            self._loop_thread = None
        self._bound_port = None
        self._startup_error = None
        self._listening.clear()
        self._finished.clear()

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._serve(self._listening.set))
        except BaseException as exc:  # handed to start(), or logged
            if self._listening.is_set():
                logger.exception("sandbox server stopped on an error")
            else:
                self._startup_error = exc
        finally:
            self._listening.set()

    def _request_stop_in_loop(self) -> None:
        if self._stop_event is not None:
            self._stop_event.set()

    async def _serve(self, ready: Callable[[], object]) -> None:
        loop = asyncio.get_running_loop()
        stop_event = asyncio.Event()
        with self._lock:
            self._loop, self._stop_event = loop, stop_event
            self._loop_thread = threading.current_thread()
            if self._stop_requested:
                stop_event.set()
        self._connections = set()
        self._push_tasks = set()
        try:
            server = await asyncio.start_server(
                self._on_connection, self._host, self._requested_port, backlog=1024,
                ssl=self._ssl_context,
            )
            self._bound_port = int(server.sockets[0].getsockname()[1])
            pusher = loop.create_task(self._push_loop())
            ready()
            try:
                await stop_event.wait()
            finally:
                server.close()
                pusher.cancel()
                await self._cancel_all(pusher)
                await server.wait_closed()
                if self._push_client is not None:
                    await self._push_client.aclose()
                    self._push_client = None
        finally:
            self._bound_port = None
            self._finished.set()

    async def _cancel_all(self, pusher: asyncio.Task[None]) -> None:
        tasks: set[asyncio.Task[None]] = {pusher}
        # A connection accepted just before close() gets its task one loop turn later.
        while tasks:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.sleep(0)
            tasks = {t for t in self._connections | self._push_tasks if not t.done()}

    # -- receipt pushes ---------------------------------------------------------------

    async def _push_loop(self) -> None:
        while True:
            try:
                pushes = self._core.due_pushes(self._core.clock())
            except Exception:
                logger.exception("sandbox core failed in due_pushes")
                pushes = []
            for push in pushes:
                task = asyncio.get_running_loop().create_task(self._deliver(push))
                self._push_tasks.add(task)
                task.add_done_callback(self._push_tasks.discard)
            await asyncio.sleep(self._push_interval)

    async def _deliver(self, push: Push) -> None:
        if self._push_client is None:
            # trust_env=False: receivers are usually on loopback, and an HTTP(S)_PROXY from
            # the environment would send the push somewhere else.
            self._push_client = httpx.AsyncClient(timeout=PUSH_TIMEOUT, trust_env=False)
        try:
            answer = await self._push_client.post(
                push.url, content=push.body, headers={"content-type": "application/json"}
            )
            ok = answer.is_success
        except Exception as exc:  # noqa: BLE001 - HTTPError, InvalidURL...: the push failed
            logger.debug("receipt push to %s failed: %r", push.url, exc)
            ok = False
        try:
            self._core.push_done(push, ok)
        except Exception:
            logger.exception("sandbox core failed in push_done")

    # -- HTTP -------------------------------------------------------------------------

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            await _HttpConnection(self._core, reader, writer).serve()
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Stopping the server cancels open keep-alive connections. Swallowed, because
            # asyncio's stream callback (3.11) would log a cancelled handler as an error.
            pass
        except Exception:  # a bug here must cost one connection, never the server
            logger.exception("sandbox connection failed")
        finally:
            if task is not None:
                self._connections.discard(task)
            if not writer.transport.is_closing():
                writer.transport.abort()


class _HttpConnection:
    """One client connection: h11 does the protocol, this does the I/O and the faults."""

    __slots__ = ("client", "conn", "core", "reader", "writer")

    def __init__(
        self, core: SandboxCoreLike, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.core = core
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
            if body is None:
                await self._refuse(413, f"Request body exceeds {MAX_BODY_BYTES} bytes")
                return
            if not await self._answer(event, headers, body):
                return
            self.conn.start_next_cycle()

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
            self.conn.receive_data(await self.reader.read(_READ_SIZE))

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
            resp = self.core.handle(self._wire_request(request, headers, body))
            if resp.fault not in _FAULTS:
                raise ValueError(f"unknown fault {resp.fault!r}")
            delay, fault = float(resp.delay), resp.fault
            if fault == "refuse":  # the request is already here: the closest is a reset
                fault = "reset"
            head, payload = (None, b"") if fault in ("reset", "hang") else \
                _response_events(resp, request.method)
        except Exception as exc:
            logger.exception("sandbox core failed on %r %r", request.method, request.target)
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
                await asyncio.sleep(SLOWLORIS_INTERVAL)
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
                reason=_REASONS.get(status, b""),
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
        while await self.reader.read(_READ_SIZE):
            pass

    def _reset(self) -> None:
        """Close abortively: SO_LINGER 0 makes the kernel send RST instead of FIN."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self.writer.transport.abort()



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
        status_code=resp.status, headers=headers, reason=_REASONS.get(resp.status, b"")
    )
    return head, body
