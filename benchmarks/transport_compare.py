"""Which async transport should ``AsyncClient`` use? One campaign, three transports, one run.

The same paced campaign (250 messages/s started, at most 250 requests in flight, the loopback
sandbox in its own process answering after 1000±50 ms, so about 250 are in flight all the
time) is sent by ``AsyncClient`` over:

(a) httpx's own ``httpx.AsyncHTTPTransport`` (httpcore's pool), the baseline;
(b) ``httpx_aiohttp.AiohttpTransport`` (aiohttp's pool behind httpx);
(c) ``cams_notebook.lean_transport.LeanAsyncTransport``, our own.

Printed for each: client CPU per message (``time.process_time``), that CPU as a share of one
core at 250/s, the achieved rate (answers per second) and the ratios against (a). Rounds
interleave the transports (see ``_common``). The project's rule: keep a well-kept library
unless its CPU is more than 1.5x the lean transport's, or a 250/s campaign over it needs
half a core or more. Last, the error contract the client's sorting rests on: what each
transport raises when the service reads a request and then resets the connection (the
message may have been sent, so it must not look like a connect failure).

Run: ``.venv/bin/python benchmarks/transport_compare.py`` (about three minutes).
"""

from __future__ import annotations

import asyncio
import os
import platform
import resource
import socket
import struct
import time
from collections.abc import Callable

import httpx
from _common import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    TEMPLATE_FIELDS,
    fmt_spread,
    median,
    sandbox_process,
)

from cams_notebook import AsyncClient, Message, RequestNotSentError

QPS = 250
IN_FLIGHT = 250
LATENCY_MS = "1000,50"
PER_ROUND = 1500
ROUNDS = 3
WARMUP = 300


def _httpx_transport() -> httpx.AsyncBaseTransport:
    return httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=400,
                                                        max_keepalive_connections=400))


def _aiohttp_transport() -> httpx.AsyncBaseTransport:
    import aiohttp
    from httpx_aiohttp import AiohttpTransport

    # aiohttp adds "Content-Type: application/octet-stream" to a POST without one, after the
    # request was signed; the service then refuses it (content-type must be signed)
    return AiohttpTransport(client=lambda: aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=400), skip_auto_headers={"Content-Type"}))


def _lean_transport() -> httpx.AsyncBaseTransport:
    from cams_notebook.lean_transport import LeanAsyncTransport

    return LeanAsyncTransport()


TRANSPORTS: dict[str, Callable[[], httpx.AsyncBaseTransport]] = {
    "(a) httpx AsyncHTTPTransport": _httpx_transport,
    "(b) httpx-aiohttp": _aiohttp_transport,
    "(c) lean_transport": _lean_transport,
}


async def campaign(client: AsyncClient, n: int, offset: int) -> tuple[float, float, int]:
    """Send ``n`` messages paced at QPS, at most IN_FLIGHT at once: (CPU s, rate/s, sent).

    The rate is of answers: sent messages over the span from the first answer to the last."""
    gate = asyncio.Semaphore(IN_FLIGHT)
    messages = [Message(**{**TEMPLATE_FIELDS, "to": f"86139{offset + i:08d}"}) for i in range(n)]
    done: list[float] = []

    async def one(message: Message) -> None:
        try:
            await client.send(message)
            done.append(time.perf_counter())
        finally:
            gate.release()

    cpu0, wall0 = time.process_time(), time.perf_counter()
    tasks = []
    for i, message in enumerate(messages):
        delay = wall0 + i / QPS - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await gate.acquire()
        tasks.append(asyncio.create_task(one(message)))
    await asyncio.gather(*tasks, return_exceptions=True)
    cpu = time.process_time() - cpu0
    span = max(done) - min(done) if len(done) > 1 else 0.0
    return cpu, (len(done) - 1) / span if span else 0.0, len(done)


async def measure(url: str) -> dict[str, list[tuple[float, float]]]:
    clients = {name: AsyncClient(access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET,
                                 endpoint=url, timeout=30, transport=make())
               for name, make in TRANSPORTS.items()}
    out: dict[str, list[tuple[float, float]]] = {name: [] for name in clients}
    offset = 0
    try:
        for client in clients.values():
            await campaign(client, WARMUP, offset)
            offset += WARMUP
        names = list(clients)
        for r in range(ROUNDS):
            for name in names[r % len(names):] + names[:r % len(names)]:
                async with httpx.AsyncClient() as admin:
                    await admin.post(url + "/_sandbox/reset")
                cpu, rate, sent = await campaign(clients[name], PER_ROUND, offset)
                offset += PER_ROUND
                if sent != PER_ROUND:
                    print(f"  note: {name} sent {sent} of {PER_ROUND} in round {r + 1}")
                out[name].append((cpu / max(sent, 1), rate))
    finally:
        for client in clients.values():
            await client.aclose()
    return out


async def reset_after_request() -> dict[str, str]:
    """What each transport raises when the service takes the whole request, then resets the
    connection: the outcome is unknown, so it must not be a connect error ("not sent")."""
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.close()

    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    out = {}
    for name, make in TRANSPORTS.items():
        async with httpx.AsyncClient(transport=make()) as client:
            try:
                await client.post(f"http://127.0.0.1:{port}/")
                out[name] = "no error"
            except httpx.HTTPError as exc:
                sorted_as = AsyncClient.transport_error(exc)  # how the client sorts it
                kind = ("RequestNotSentError (wrong: retried, sent twice)"
                        if isinstance(sorted_as, RequestNotSentError) else type(sorted_as).__name__)
                out[name] = f"{type(exc).__name__}: {kind}"
    server.close()
    return out


def main() -> None:
    print(f"Python {platform.python_version()}, httpx {httpx.__version__}, {os.cpu_count()} cores,"
          f" load average {os.getloadavg()[0]:.1f}")
    print(f"Campaign: {PER_ROUND} sends x {ROUNDS} rounds per transport, started at {QPS}/s, at "
          f"most {IN_FLIGHT} in flight, sandbox latency {LATENCY_MS} ms (a separate process)")
    started = time.perf_counter()
    with sandbox_process("--qps", "100000", "--latency-ms", LATENCY_MS) as (url, _):
        results = asyncio.run(measure(url))
    cpu = {name: median([c for c, _ in rows]) for name, rows in results.items()}
    rate = {name: median([r for _, r in rows]) for name, rows in results.items()}
    base, lean = cpu["(a) httpx AsyncHTTPTransport"], cpu["(c) lean_transport"]
    print(f"  {'transport':30} {'CPU/msg':>10} {'':5} {'core at 250/s':>13} {'rate/s':>8}"
          f" {'CPU vs (a)':>10} {'CPU vs (c)':>10}")
    for name, rows in results.items():
        spread = fmt_spread([c for c, _ in rows]) or ""
        print(f"  {name:30} {cpu[name] * 1e6:7.0f} us {spread:>5} {cpu[name] * QPS:13.3f}"
              f" {rate[name]:8.1f} {cpu[name] / base:9.2f}x {cpu[name] / lean:9.2f}x")
    print("rule: keep a library unless CPU > 1.5x (c) or a 250/s campaign needs >= 0.5 core")
    for name in list(results)[:2]:
        fits = cpu[name] <= 1.5 * lean and cpu[name] * QPS < 0.5
        print(f"  {name}: {'qualifies' if fits else 'does not qualify'}")
    print("error contract: the service reads the request, then resets the connection")
    for name, said in asyncio.run(reset_after_request()).items():
        print(f"  {name:30} {said}")
    print(f"(finished in {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    main()
