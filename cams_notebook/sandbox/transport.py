"""The in-process face of the sandbox: an httpx transport that calls the core directly.

No sockets, so notebooks and tests need no server; the same :class:`~.core.SandboxCore`
answers as over the loopback server. The core's latency is honoured with an injected
``sleep`` (``time.sleep`` and ``asyncio.sleep`` by default), and its faults become the
httpx errors a real network would raise: ``refuse`` -> ``ConnectError`` (never arrived),
``reset`` -> ``ReadError`` (arrived, no answer), ``hang`` -> ``ReadTimeout`` after the
request's read timeout, ``slowloris`` -> a body that trickles in.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx

from ._wire import WireRequest, WireResponse
from .core import SandboxCore

__all__ = ["SandboxTransport"]


def _wire_request(request: httpx.Request, body: bytes) -> WireRequest:
    return WireRequest(
        method=request.method,
        path=request.url.path,
        query=tuple(request.url.params.multi_items()),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
    )


def _read_timeout(request: httpx.Request) -> float:
    timeout = request.extensions.get("timeout", {})
    value = timeout.get("read") if isinstance(timeout, dict) else None
    return 10.0 if value is None else float(value)


class _SlowBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    def __init__(self, body: bytes, gap: float, sleep: Callable[[float], None],
                 async_sleep: Callable[[float], Awaitable[None]]) -> None:
        self._body, self._gap, self._sleep, self._async_sleep = body, gap, sleep, async_sleep

    def __iter__(self) -> Iterator[bytes]:
        for i in range(len(self._body)):
            self._sleep(self._gap)
            yield self._body[i:i + 1]

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i in range(len(self._body)):
            await self._async_sleep(self._gap)
            yield self._body[i:i + 1]


class SandboxTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """An httpx transport (sync and async) served by a :class:`SandboxCore`."""

    def __init__(self, core: SandboxCore, *, sleep: Callable[[float], None] = time.sleep,
                 async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.core = core
        self._sleep = sleep
        self._async_sleep = async_sleep

    def __repr__(self) -> str:
        return f"SandboxTransport(qps={self.core.qps}, faults={self.core.faults!r})"

    def _response(self, request: httpx.Request, wire: WireResponse) -> httpx.Response:
        if wire.fault == "refuse":
            raise httpx.ConnectError("[sandbox] connection refused", request=request)
        if wire.fault == "reset":
            raise httpx.ReadError("[sandbox] connection reset by peer", request=request)
        if wire.fault == "slowloris":
            stream = _SlowBody(wire.body, 2.0, self._sleep, self._async_sleep)
            return httpx.Response(wire.status, headers=wire.headers, stream=stream, request=request)
        return httpx.Response(wire.status, headers=wire.headers, content=wire.body, request=request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        wire = self.core.handle(_wire_request(request, request.read()))
        if wire.fault == "hang":
            self._sleep(_read_timeout(request))
            raise httpx.ReadTimeout("[sandbox] no answer", request=request)
        delay = wire.delay
        if delay > _read_timeout(request):
            self._sleep(_read_timeout(request))
            raise httpx.ReadTimeout("[sandbox] answer too slow", request=request)
        if delay > 0:
            self._sleep(delay)
        return self._response(request, wire)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        wire = self.core.handle(_wire_request(request, await request.aread()))
        if wire.fault == "hang":
            await self._async_sleep(_read_timeout(request))
            raise httpx.ReadTimeout("[sandbox] no answer", request=request)
        delay = wire.delay
        if delay > _read_timeout(request):
            await self._async_sleep(_read_timeout(request))
            raise httpx.ReadTimeout("[sandbox] answer too slow", request=request)
        if delay > 0:
            await self._async_sleep(delay)
        return self._response(request, wire)
