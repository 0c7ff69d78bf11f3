"""How many requests per second the loopback sandbox server sustains, and what each costs it.

    python benchmarks/sandbox_capacity.py

Each scenario starts a fresh ``python -m cams_notebook.sandbox --qps 1000000`` (so nothing
is throttled and no scenario inherits another's state), drives it for a few seconds with
one kind of client sending WhatsApp template messages, and prints the answers per second,
the server process's CPU per request (from ``/proc``) and its share of one core, and this
process's CPU per request. The clients:

  * the official SDK 5.3.1, in threads;
  * cams_notebook ``Client`` in threads, and ``AsyncClient`` with many sends in flight;
  * a raw keep-alive asyncio socket client that writes requests signed beforehand and
    reads the answers, over several connections. The httpx-based clients spend about as
    much CPU per request as the server does, and both share this machine's cores, so they
    may be what limits the rate; this one costs the client little and so shows the
    server's own ceiling.

The requirement (issue "sandbox") is >= 1,000 requests/s. Takes about a minute.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from _common import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    TEMPLATE_FIELDS,
    process_cpu_seconds,
    sandbox_process,
)

from cams_notebook import AsyncClient, Client, Message

DURATION = 6.0
"""Seconds each scenario is measured for, after a short warm-up."""
WARMUP = 0.7
THREADS = 8
IN_FLIGHT = 64
RAW_CONNECTIONS = 8
RAW_REQUESTS = 20_000
"""Requests signed up front for the raw client (more than it can send in DURATION)."""
REQUIRED = 1000
SERVER_BOUND = 0.85
"""A server busy this share of a core is what limits the rate (it runs on one event loop)."""


@dataclass
class Outcome:
    answers: int
    failures: int
    seconds: float
    server_cpu: float
    client_cpu: float

    def line(self, label: str) -> str:
        rate = self.answers / self.seconds
        per_request = 1e6 / max(self.answers, 1)
        return (f"  {label:42s} {rate:7.0f} req/s  {'yes' if rate >= REQUIRED else 'NO ':3s}  "
                f"server {self.server_cpu * per_request:5.0f} us/req "
                f"({self.server_cpu / self.seconds:4.0%} of a core)  "
                f"client {self.client_cpu * per_request:5.0f} us/req"
                + ("  server-bound" if self.server_cpu / self.seconds >= SERVER_BOUND else "")
                + (f"  [{self.failures} failed]" if self.failures else ""))


def measure(base_url: str, pid: int, drive: Callable[[float], tuple[int, int]]) -> Outcome:
    """Run ``drive(deadline)`` (returns answers, failures) once to warm up, then measured."""
    drive(time.monotonic() + WARMUP)
    server0, client0, wall0 = process_cpu_seconds(pid), time.process_time(), time.monotonic()
    answers, failures = drive(wall0 + DURATION)
    wall = time.monotonic() - wall0
    return Outcome(answers, failures, wall, process_cpu_seconds(pid) - server0,
                   time.process_time() - client0)


def in_threads(send: Callable[[], object]) -> Callable[[float], tuple[int, int]]:
    def drive(deadline: float) -> tuple[int, int]:
        counts = [[0, 0] for _ in range(THREADS)]

        def worker(count: list[int]) -> None:
            while time.monotonic() < deadline:
                try:
                    send()
                    count[0] += 1
                except Exception:  # noqa: BLE001 - counted and shown, never fatal here
                    count[1] += 1

        threads = [threading.Thread(target=worker, args=(c,)) for c in counts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return sum(c[0] for c in counts), sum(c[1] for c in counts)

    return drive


def sdk_drive(base_url: str) -> Callable[[float], tuple[int, int]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from alibabacloud_cams20200606 import models as sdk_models
        from alibabacloud_cams20200606.client import Client as SdkClient
        from alibabacloud_tea_openapi.utils_models import Config
        from darabonba.runtime import RuntimeOptions
    import logging

    logging.getLogger("darabonba-core").setLevel(logging.WARNING)
    sdk = SdkClient(Config(access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET,
                           endpoint=urlsplit(base_url).netloc, protocol="http"))

    def send() -> None:
        answer = sdk.send_chatapp_message_with_options(
            sdk_models.SendChatappMessageRequest(**TEMPLATE_FIELDS), RuntimeOptions())
        if answer.body.code != "OK":
            raise RuntimeError(answer.body.code)

    return in_threads(send)


def client_drive(base_url: str) -> Callable[[float], tuple[int, int]]:
    client = Client(access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET,
                    endpoint=base_url)
    return in_threads(lambda: client.send(Message(**TEMPLATE_FIELDS)))


def async_client_drive(base_url: str) -> Callable[[float], tuple[int, int]]:
    async def run(deadline: float) -> tuple[int, int]:
        counts = [0, 0]
        async with AsyncClient(access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET,
                               endpoint=base_url) as client:
            async def sender() -> None:
                while time.monotonic() < deadline:
                    try:
                        await client.send(Message(**TEMPLATE_FIELDS))
                        counts[0] += 1
                    except Exception:  # noqa: BLE001 - counted and shown
                        counts[1] += 1

            await asyncio.gather(*(sender() for _ in range(IN_FLIGHT)))
        return counts[0], counts[1]

    return lambda deadline: asyncio.run(run(deadline))


def signed_requests(base_url: str, count: int) -> list[bytes]:
    """``count`` distinct signed SendChatappMessage requests as HTTP/1.1 bytes (each has its
    own nonce: the sandbox, like CAMS, refuses a nonce it has seen)."""
    client = Client(access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET,
                    endpoint=base_url)
    params = Message(**TEMPLATE_FIELDS).to_query()
    out = []
    for _ in range(count):
        request = client.build_request("SendChatappMessage", params)
        client.auth.sign(request)
        head = b"".join(b"%s: %s\r\n" % pair for pair in request.headers.raw)
        out.append(b"POST %s HTTP/1.1\r\n%s\r\n" % (request.url.raw_path, head))
    client.close()
    return out


def raw_drive(base_url: str, requests: list[bytes]) -> Callable[[float], tuple[int, int]]:
    """Several keep-alive connections, each writing the next pre-signed request and reading
    its answer; when ``requests`` run out, the drive ends early."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    pending = iter(requests)

    async def connection(deadline: float, counts: list[int]) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for request in pending:
                if time.monotonic() >= deadline:
                    return
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length)
                ok = head.startswith(b"HTTP/1.1 200") and b'"Code":"OK"' in body
                counts[0 if ok else 1] += 1
        finally:
            writer.close()

    async def run(deadline: float) -> tuple[int, int]:
        counts = [0, 0]
        await asyncio.gather(*(connection(deadline, counts) for _ in range(RAW_CONNECTIONS)))
        return counts[0], counts[1]

    return lambda deadline: asyncio.run(run(deadline))


def main() -> int:
    began = time.perf_counter()
    print(f"Loopback sandbox server (its own process, --qps 1000000), {DURATION:g} s per client "
          f"kind; {os.cpu_count()} cores shared by server, client and whatever else runs "
          f"(load average {os.getloadavg()[0]:.1f}).")
    print(f"  {'client':42s} {'rate':>13s}  >=1000?")
    scenarios: list[tuple[str, Callable[[str], Callable[[float], tuple[int, int]]]]] = [
        (f"official SDK 5.3.1, {THREADS} threads", sdk_drive),
        (f"cams_notebook Client, {THREADS} threads", client_drive),
        (f"cams_notebook AsyncClient, {IN_FLIGHT} in flight", async_client_drive),
    ]
    results: dict[str, Outcome] = {}
    for label, make in scenarios:
        with sandbox_process("--qps", "1000000") as (base_url, proc):
            results[label] = outcome = measure(base_url, proc.pid, make(base_url))
            print(outcome.line(label), flush=True)
    with sandbox_process("--qps", "1000000") as (base_url, proc):
        requests = signed_requests(base_url, RAW_REQUESTS)
        label = f"raw asyncio sockets, {RAW_CONNECTIONS} connections"
        outcome = measure(base_url, proc.pid, raw_drive(base_url, requests))
        print(outcome.line(label))
        if outcome.seconds < DURATION * 0.95:
            print("  (the raw client ran out of pre-signed requests early; its rate still holds)")

    best = max(o.answers / o.seconds for o in (*results.values(), outcome))
    ceiling = outcome.answers / max(outcome.server_cpu, 1e-9)
    verdict = "clears" if best >= REQUIRED else "does NOT clear"
    share = outcome.server_cpu / outcome.seconds
    print(f"\nBest measured {best:,.0f} req/s: {verdict} "
          f"{REQUIRED:,} req/s. With a whole core, its CPU per request under the raw client "
          f"gives ~{ceiling:,.0f} req/s\n(the raw run had {share:.0%} "
          "of a core; a lower share means other processes took the rest).")
    print(f"(finished in {time.perf_counter() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
