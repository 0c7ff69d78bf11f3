"""A lean HTTP/1.1 transport for ``httpx.AsyncClient``, for campaigns at hundreds of requests/s.

Why our own: measured on the 2-core machines this project runs on, httpx's default async
transport (httpcore's connection pool) spends CPU per request that grows with the number
of requests in flight: about 2.5 ms at 10 concurrent requests and 25 ms at 250, so a
campaign at 250 requests/s with 80 ms round trips saturated a core and reached only a
quarter of the rate. The same client over this transport stays well under a millisecond.
CAMS needs little of HTTP: one ``POST /`` with an empty body, a small JSON answer, keep-alive.
So this transport does exactly that with asyncio streams: a LIFO pool of idle keep-alive
connections per origin, one request per connection at a time, ``Content-Length`` and
chunked answers, TLS through :mod:`ssl` with the context ``httpx.create_ssl_context()`` makes
(certifi's CA bundle, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``: what httpx itself trusts).

It keeps httpx's error contract, which the client sorts into "surely not sent" and
"outcome unknown": a failure to connect raises ``httpx.ConnectError``/``ConnectTimeout``;
anything after the request started to be written raises ``httpx.ReadError``,
``ReadTimeout``, ``WriteError`` or ``RemoteProtocolError``. An answer longer than the
client's read timeout in total (a slowloris) or larger than 1 MiB is abandoned.

It is the default for :class:`~cams_notebook.client.AsyncClient` unless the environment sets an
HTTP(S) proxy for the endpoint (then httpx's own transport, which speaks to proxies, is used).

Why not a kept library (``benchmarks/transport_compare.py``: one paced campaign, 250/s
started, about 250 requests in flight, 1000±50 ms answers from the loopback sandbox, client
CPU per message, medians of 3 rounds; Python 3.11, httpx 0.28.1, 2 shared cores):

* httpx's ``AsyncHTTPTransport``: 22,384 us/msg, 5.6 cores at 250/s, reached 42/s. Out.
* ``httpx-aiohttp`` 0.2.0 (aiohttp behind httpx): 1,146 us/msg = 0.29 of a core at 250/s,
  1.29x ours, 244/s. On CPU alone it passes the project's rule (at most 1.5x this
  transport, under half a core at 250/s), but as it stands it cannot be the default:
  it maps every ``aiohttp.ClientConnectionError`` to ``httpx.ConnectTimeout``, so a
  connection reset after the request was written reads as "surely not sent"
  (:class:`~cams_notebook.errors.RequestNotSentError`, retry-safe) and a campaign would
  send that message twice; and aiohttp adds ``Content-Type: application/octet-stream``
  to our empty POST after it was signed, which the service refuses (``content-type``
  must be signed), unless the session skips that header. Adopting it needs a wrapper
  that sorts its errors by their aiohttp cause, and aiohttp as a runtime dependency.
* this transport: 891 us/msg, 0.22 of a core at 250/s, 244/s.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections import deque
from collections.abc import AsyncGenerator, Mapping
from typing import Any

import httpx

from ._config import MAX_RESPONSE_BYTES

__all__ = ["LeanAsyncTransport", "default_async_transport"]

Origin = tuple[str, str, int]
"""Scheme, host and port."""
_PROXY_LIMITS = httpx.Limits(max_connections=400, max_keepalive_connections=400)
"""Through a proxy: enough connections for a campaign's requests in flight."""
_MAX_HEADER_BYTES = 64 * 1024


def default_async_transport(proxy: str | None = None,
                            limits: httpx.Limits | None = None) -> httpx.AsyncBaseTransport:
    """The lean transport; httpx's own (which speaks to proxies) when ``proxy`` is given."""
    if proxy:
        return httpx.AsyncHTTPTransport(proxy=proxy, limits=limits or _PROXY_LIMITS)
    return LeanAsyncTransport()


def _ssl_context() -> ssl.SSLContext:
    """httpx's own verifying context: certifi's CA bundle, or ``SSL_CERT_FILE`` /
    ``SSL_CERT_DIR`` when set, as ``httpx.AsyncClient(trust_env=True)`` would trust."""
    return httpx.create_ssl_context()


class _Connection:
    __slots__ = ("reader", "writer", "used")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.used = reader, writer, 0

    def alive(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()

    def abort(self) -> None:
        """Drop a connection that failed or was cancelled mid-exchange: unlike ``close()``,
        which waits to flush what is still buffered (forever, if the peer stopped reading), the
        socket is closed on the loop's next turn, so none is left to the garbage collector."""
        with contextlib.suppress(Exception):
            self.writer.transport.abort()


class LeanAsyncTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 keep-alive over asyncio streams; see the module docstring for why."""

    def __init__(self, *, max_idle: int = 512) -> None:
        # idle connections per event loop, then per origin: a connection belongs to the loop
        # that opened it and is never handed to another one
        self._idle: dict[asyncio.AbstractEventLoop, dict[Origin, deque[_Connection]]] = {}
        self._watchers: dict[asyncio.AbstractEventLoop, AsyncGenerator[None, None]] = {}
        self._max_idle = max_idle
        self._ssl: ssl.SSLContext | None = None

    def __repr__(self) -> str:
        idle = sum(len(d) for pools in self._idle.values() for d in pools.values())
        return f"LeanAsyncTransport(idle_connections={idle})"

    async def _pools(self) -> dict[Origin, deque[_Connection]]:
        """The running loop's idle connections. On a loop's first request, a watcher is
        registered with the loop as an async generator: ``asyncio.run`` (and so every
        private loop a campaign runs on) finalizes those before it closes the loop, and the
        watcher's ``finally`` closes that loop's connections while the loop can still do it.
        Without it, connections outlive their loop and no later loop can close them."""
        loop = asyncio.get_running_loop()
        pools = self._idle.get(loop)
        if pools is None:
            for gone in [other for other in self._idle if other.is_closed()]:
                del self._idle[gone]  # closed without finalizing: nothing can close them now
                self._watchers.pop(gone, None)
            pools = self._idle[loop] = {}
            watcher = self._close_at_loop_end(loop)
            await watcher.asend(None)
            self._watchers[loop] = watcher
        return pools

    async def _close_at_loop_end(self, loop: asyncio.AbstractEventLoop
                                 ) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            self._watchers.pop(loop, None)
            await _close_all(self._idle.pop(loop, {}))

    async def _connect(self, origin: tuple[str, str, int], timeout: float | None) -> _Connection:
        scheme, host, port = origin
        context = None
        if scheme == "https":
            context = self._ssl = self._ssl or _ssl_context()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=context, limit=_MAX_HEADER_BYTES * 2),
                timeout)
        except asyncio.TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        return _Connection(reader, writer)

    @staticmethod
    def _checkout(pool: deque[_Connection] | None) -> _Connection | None:
        while pool:
            conn = pool.pop()
            if conn.alive():
                return conn
            conn.close()
        return None

    def _checkin(self, pool: deque[_Connection], conn: _Connection) -> None:
        if len(pool) < self._max_idle and conn.alive():
            pool.append(conn)
        else:
            conn.close()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        body = await request.aread()
        try:
            status, headers, content = await self.exchange(
                url.scheme, url.host, url.port, request.method, url.raw_path,
                request.headers.raw, body, request.extensions.get("timeout") or {})
        except httpx.RequestError as exc:
            exc.request = request
            raise
        return httpx.Response(status, headers=headers, content=content, request=request,
                              extensions={"http_version": b"HTTP/1.1"})

    async def exchange(self, scheme: str, host: str, port: int | None, method: str,
                       target: bytes, headers: list[tuple[bytes, bytes]], body: bytes,
                       timeout: Mapping[str, float | None]
                       ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """One request and its whole answer, from and to plain values: what
        :meth:`handle_async_request` does without building httpx's request and answer (the
        asyncio client's own line uses it directly). Failures are httpx exceptions."""
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported scheme {scheme!r}")
        origin = (scheme, host, port or (443 if scheme == "https" else 80))
        write_timeout, read_timeout = timeout.get("write"), timeout.get("read")
        pools = self._idle.get(asyncio.get_running_loop()) or await self._pools()
        pool = pools.get(origin)
        if pool is None:
            pool = pools[origin] = deque()
        conn = self._checkout(pool) or await self._connect(origin, timeout.get("connect"))
        head = [f"{method} {target.decode('ascii')} HTTP/1.1"]
        head += [f"{k.decode('latin-1')}: {v.decode('latin-1')}" for k, v in headers]
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        try:
            try:
                conn.writer.write(data)
                await asyncio.wait_for(conn.writer.drain(), write_timeout)
            except asyncio.TimeoutError:
                raise httpx.WriteTimeout("writing the request timed out") from None
            except (OSError, ConnectionError) as exc:
                raise httpx.WriteError(f"writing the request failed: {exc}") from exc
            deadline = time.monotonic() + (read_timeout if read_timeout is not None else 3600.0)
            status, answer_headers, content, keep = await self._read_response(conn, method,
                                                                               deadline)
        except BaseException:  # failed, timed out or cancelled (a Stop): never reused
            conn.abort()
            raise
        conn.used += 1
        if keep:
            self._checkin(pool, conn)
        else:
            conn.close()
        return status, answer_headers, content

    async def _read_response(self, conn: _Connection, method: str, deadline: float
                             ) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        reader = conn.reader

        async def timed(awaitable: Any) -> Any:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if asyncio.iscoroutine(awaitable):
                    awaitable.close()  # never started: say so, instead of a "never awaited" warning
                raise httpx.ReadTimeout("the answer took longer than the read timeout")
            try:
                return await asyncio.wait_for(awaitable, remaining)
            except asyncio.TimeoutError:
                raise httpx.ReadTimeout("the answer took longer than the read timeout") from None
            except asyncio.IncompleteReadError as exc:
                raise httpx.RemoteProtocolError(
                    "the connection closed in the middle of the answer") from exc
            except asyncio.LimitOverrunError as exc:
                raise httpx.RemoteProtocolError("the answer's headers are too large") from exc
            except (OSError, ConnectionError) as exc:
                raise httpx.ReadError(f"reading the answer failed: {exc}") from exc

        while True:
            raw_head: bytes = await timed(reader.readuntil(b"\r\n\r\n"))
            lines = raw_head.decode("latin-1").split("\r\n")
            try:
                version, code, *_ = lines[0].split(" ", 2)
                status = int(code)
            except ValueError:
                raise httpx.RemoteProtocolError(f"not an HTTP answer: {lines[0][:80]!r}") from None
            if status != 100:
                break
        headers: list[tuple[bytes, bytes]] = []
        length: int | None = None
        chunked = False
        connection = ""
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            name_l, value = name.strip().lower(), value.strip()
            headers.append((name.strip().encode("latin-1"), value.encode("latin-1")))
            if name_l == "content-length":
                try:
                    length = int(value)
                except ValueError:
                    raise httpx.RemoteProtocolError("bad Content-Length") from None
            elif name_l == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name_l == "connection":
                connection = value.lower()
        keep = version == "HTTP/1.1" and "close" not in connection
        if method == "HEAD" or status in (204, 304):
            return status, headers, b"", keep
        if chunked:
            content = await self._read_chunked(timed, reader)
        elif length is not None:
            if length > MAX_RESPONSE_BYTES:
                raise httpx.ReadError(f"the answer is larger than {MAX_RESPONSE_BYTES} bytes")
            content = await timed(reader.readexactly(length))
        else:
            content = await self._read_to_close(timed, reader)
            keep = False
        return status, headers, content, keep

    @staticmethod
    async def _read_chunked(timed: Any, reader: asyncio.StreamReader) -> bytes:
        parts: list[bytes] = []
        size_total = 0
        while True:
            size_line: bytes = await timed(reader.readuntil(b"\r\n"))
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise httpx.RemoteProtocolError("bad chunk size") from None
            if size == 0:
                while (await timed(reader.readuntil(b"\r\n"))) != b"\r\n":
                    pass
                return b"".join(parts)
            size_total += size
            if size_total > MAX_RESPONSE_BYTES:
                raise httpx.ReadError(f"the answer is larger than {MAX_RESPONSE_BYTES} bytes")
            parts.append(await timed(reader.readexactly(size)))
            await timed(reader.readexactly(2))

    @staticmethod
    async def _read_to_close(timed: Any, reader: asyncio.StreamReader) -> bytes:
        parts: list[bytes] = []
        total = 0
        while chunk := await timed(reader.read(65536)):
            total += len(chunk)
            if total > MAX_RESPONSE_BYTES:
                raise httpx.ReadError(f"the answer is larger than {MAX_RESPONSE_BYTES} bytes")
            parts.append(chunk)
        return b"".join(parts)

    async def aclose(self) -> None:
        """Close the running loop's idle connections and wait (a second at most) until each is
        closed, so no socket is left to the garbage collector when the loop ends. The
        transport stays usable: a later request opens a new connection."""
        loop = asyncio.get_running_loop()
        watcher = self._watchers.pop(loop, None)
        pools = self._idle.pop(loop, {})
        if watcher is not None:
            await watcher.aclose()
        await _close_all(pools)


async def _close_all(pools: dict[Origin, deque[_Connection]]) -> None:
    """Close every connection of ``pools`` and wait (a second at most) until each is closed."""
    closing = []
    for pool in pools.values():
        while pool:
            conn = pool.pop()
            conn.close()
            closing.append(conn.writer)
    for writer in closing:
        try:
            await asyncio.wait_for(writer.wait_closed(), 1.0)
        except asyncio.TimeoutError:  # the peer never acknowledged: drop it
            writer.transport.abort()
        except Exception:  # noqa: BLE001 - closed with an error is closed
            pass
