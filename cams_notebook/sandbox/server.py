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
installed with httpx); :mod:`.http_connection` does the asyncio I/O around it for each
connection, and this module listens, pushes receipts and runs the server's lifecycle.

Idle connections and requests that never finish arriving are closed (``idle_timeout``,
``request_timeout``), and at most ``max_connections`` are served at once: one more is
answered 503 and closed, so a client that opens connections without end cannot exhaust the
process.

>>> with SandboxServer(core) as srv:           # doctest: +SKIP
...     httpx.post(srv.url + "/", params=query)
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from ._wire import Push
from .http_connection import (
    IDLE_TIMEOUT,
    MAX_BODY_BYTES,
    REQUEST_TIMEOUT,
    SLOWLORIS_INTERVAL,
    HttpConnection,
    SandboxCoreLike,
)

if TYPE_CHECKING:  # typing.Self is 3.11+; annotations are never evaluated at runtime
    from typing_extensions import Self

__all__ = ["IDLE_TIMEOUT", "MAX_BODY_BYTES", "MAX_CONNECTIONS", "REQUEST_TIMEOUT",
           "SandboxCoreLike", "SandboxServer"]

logger = logging.getLogger(__name__)

PUSH_TIMEOUT = 3.0
"""Seconds one receipt push may take before it counts as failed."""
MAX_CONNECTIONS = 1024
"""Connections served at once (a campaign's pool opens up to a few hundred)."""
_BUSY_BODY = b'{"Code":"ServiceUnavailable","Message":"Too many connections; retry later."}'
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
         b"content-length: %d\r\nconnection: close\r\nretry-after: 1\r\n\r\n%s"
         % (len(_BUSY_BODY), _BUSY_BODY))
"""The answer past ``max_connections``: written whole, before any request is read."""
_SignalHandler = Callable[[int, "FrameType | None"], Any] | int | None


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
        idle_timeout: float = IDLE_TIMEOUT,
        request_timeout: float = REQUEST_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be in 0..65535, not {port}")
        if not push_interval > 0:
            raise ValueError(f"push_interval must be positive, not {push_interval}")
        if not idle_timeout > 0 or not request_timeout > 0:
            raise ValueError("idle_timeout and request_timeout must be positive, not "
                             f"{idle_timeout} and {request_timeout}")
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {max_connections}")
        self.idle_timeout = float(idle_timeout)
        self.request_timeout = float(request_timeout)
        self.max_connections = max_connections
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
        self._push_transport: httpx.AsyncHTTPTransport | None = None

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
                if self._push_transport is not None:
                    await self._push_transport.aclose()
                    self._push_transport = None
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
        if self._push_transport is None:
            # A transport, not a client: no HTTP(S)_PROXY from the environment (receivers are
            # usually on loopback), and no "HTTP Request: POST <url>" log line, whose path may
            # hold the receiver's secret.
            self._push_transport = httpx.AsyncHTTPTransport()
        try:
            ok = await asyncio.wait_for(_post(self._push_transport, push), PUSH_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - HTTPError, InvalidURL...: the push failed
            logger.debug("receipt push to %s failed: %s", _origin(push.url), type(exc).__name__)
            ok = False
        try:
            self._core.push_done(push, ok)
        except Exception:
            logger.exception("sandbox core failed in push_done")

    # -- HTTP -------------------------------------------------------------------------

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if len(self._connections) >= self.max_connections:
            writer.write(_BUSY)  # unread: the request is not waited for
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            # SLOWLORIS_INTERVAL is read here, per connection, so a test may set it on this module
            await HttpConnection(self._core, reader, writer,
                                 slowloris_interval=SLOWLORIS_INTERVAL,
                                 idle_timeout=self.idle_timeout,
                                 request_timeout=self.request_timeout).serve()
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


async def _post(transport: httpx.AsyncHTTPTransport, push: Push) -> bool:
    """POST one push; True for a 2xx answer."""
    request = httpx.Request(
        "POST", push.url, content=push.body, headers={"content-type": "application/json"},
        extensions={"timeout": httpx.Timeout(PUSH_TIMEOUT).as_dict()},
    )
    answer = await transport.handle_async_request(request)
    try:
        await answer.aread()
    finally:
        await answer.aclose()
    return answer.is_success


def _origin(url: str) -> str:
    """``scheme://host:port`` of ``url``: the path of a receiver's URL may hold its secret."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}" if parts.netloc else "<url>"
