"""A pytest plugin for testing code that sends through cams_notebook: a fake clock, and a
sandbox that runs on it, with clients wired to that sandbox.

Why: CAMS has no test mode, and real time makes tests slow (simulated latency, long polls,
receipts that come "later") and flaky (rate windows, token expiry, the 15-minute date check).
Here time only moves when the test moves it, and every wait the sandbox would make advances
the fake clock at once instead. The project's own tests use these fixtures; so can yours.

It is installed with the package as a pytest plugin (entry point ``pytest11`` named
``cams_notebook``), so with cams-notebook installed the fixtures are there with no conftest:

==========================  =============================================================
``clock``                   a :class:`FakeClock`, frozen at the test's start (whole second)
``sandbox``                 a fresh :class:`~cams_notebook.sandbox.Sandbox` on ``clock``
``sandbox_client``          a :class:`~cams_notebook.client.Client` for ``sandbox``, signing
                            on ``clock``; closed at teardown
``async_sandbox_client``    the :class:`~cams_notebook.client.AsyncClient` twin
``sandbox_server``          ``sandbox.serve()``: its loopback HTTP server, stopped at teardown
==========================  =============================================================

A fixture of the same name in your own ``conftest.py`` or test module overrides the plugin's
(pytest's ordinary rule: the closest definition wins), so a ``clock`` or ``sandbox`` fixture of
your own keeps working unchanged. The plugin's fixtures ask for each other by name too: with a
``clock`` of your own (say ``FakeClock(start=...)`` at a fixed instant), the plugin's
``sandbox`` runs on yours. ``pytest -p no:cams_notebook`` switches the plugin off.

The sandbox's clock does not move by itself: its rate window is judged on ``clock``, so a test
that sends more than ``qps`` (250) messages through it should ``clock.advance(1)`` between
bursts, or ask for a ``Sandbox(qps=...)`` of its own.

``import cams_notebook`` never imports this module (nor pytest): only pytest loads it, as a
plugin, or you do, explicitly (``from cams_notebook.testing import FakeClock``).

>>> clock = FakeClock(start=1_800_000_000.0)
>>> clock.sleep(2.5); clock()
1800000002.5
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from .sandbox import Sandbox

if TYPE_CHECKING:
    from .client import AsyncClient, Client
    from .sandbox.server import SandboxServer

__all__ = ["FakeClock", "async_sandbox_client", "clock", "sandbox", "sandbox_client",
           "sandbox_server"]


class FakeClock:
    """Epoch seconds that move only when told to.

    ``clock()`` reads them (pass the clock itself wherever a ``time.time``-like callable is
    asked for: ``Sandbox(clock=...)``, ``Client(clock=...)``, ``MnsClient(clock=...)``);
    :meth:`advance` moves them on, and :meth:`sleep`/:meth:`asleep` advance instead of
    waiting (pass them as ``Sandbox(sleep=..., asleep=...)``). ``now`` may be set directly too,
    to go back in time on purpose.

    ``start`` defaults to the current whole second of the real clock, so that a client that
    signs on the real clock (``sandbox.client()``) is still within the 15 minutes the sandbox
    allows; pass ``start`` for a fixed instant.
    """

    def __init__(self, start: float | None = None) -> None:
        self.start = float(int(time.time())) if start is None else float(start)
        self.now = self.start

    def __call__(self) -> float:
        return self.now

    def __repr__(self) -> str:
        return f"FakeClock(now={self.now!r}, start={self.start!r})"

    @property
    def elapsed(self) -> float:
        """Seconds since ``start``."""
        return self.now - self.start

    def advance(self, seconds: float) -> None:
        """Move on by ``seconds``; never back (zero or less changes nothing)."""
        if seconds > 0:
            self.now += seconds

    def sleep(self, seconds: float) -> None:
        """``time.sleep`` on this clock: advances it and returns at once."""
        self.advance(seconds)

    async def asleep(self, seconds: float) -> None:
        """``asyncio.sleep`` on this clock: advances it, then yields to the loop once (as
        ``asyncio.sleep(0)`` does), so a polling loop lets other tasks run."""
        self.advance(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> FakeClock:
    """A :class:`FakeClock` frozen at the test's start (the current whole second)."""
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[Sandbox]:
    """A fresh sandbox on ``clock``: seed 7, receipts due at once (``receipt_delay=0``), the
    default key pair and rate (250/s). Its waits (latency, hangs, slow answers, long polls)
    advance ``clock`` instead of sleeping. Its loopback server, if started, stops at teardown.
    """
    sb = Sandbox(seed=7, receipt_delay=0.0, clock=clock, sleep=clock.sleep, asleep=clock.asleep)
    yield sb
    sb.stop()


@pytest.fixture
def sandbox_client(sandbox: Sandbox, clock: FakeClock) -> Iterator[Client]:
    """A blocking :class:`~cams_notebook.client.Client` for ``sandbox`` (in-process), signing
    on ``clock``; closed at teardown."""
    client = sandbox.client(clock=clock)
    yield client
    client.close()


@pytest.fixture
def async_sandbox_client(sandbox: Sandbox, clock: FakeClock) -> Iterator[AsyncClient]:
    """An :class:`~cams_notebook.client.AsyncClient` for ``sandbox`` (in-process), signing on
    ``clock``; closed at teardown.

    A plain fixture, so it needs no asyncio plugin and no ``asyncio_mode``: the client binds to
    no event loop, and it is closed on a private loop that leaves the thread's own alone."""
    client = sandbox.async_client(clock=clock)
    yield client
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(client.aclose())
    finally:
        loop.close()


@pytest.fixture
def sandbox_server(sandbox: Sandbox) -> Iterator[SandboxServer]:
    """``sandbox`` served on loopback HTTP (``.url``), for code that needs a real socket: a
    subprocess, a notebook kernel, another SDK. Stopped at teardown. Its clients sign on the
    real clock, which ``clock``'s start (the current whole second) accepts."""
    server = sandbox.serve()
    yield server
    sandbox.stop()
