"""A virtual-time event loop for campaign tests (import as ``tests.virtual_time``).

Whenever every task is waiting, the loop's clock jumps to the next timer instead of
sleeping, so a campaign of several virtual seconds, backoffs and grace periods included,
takes milliseconds. The sandbox and the client read the same virtual clock, so the
sandbox's own rate limit judges the engine's pacing. That clock is a
:class:`cams_notebook.testing.FakeClock` which the loop advances to each timer.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

from cams_notebook.sandbox import Sandbox
from cams_notebook.testing import FakeClock

T = TypeVar("T")


class _JumpingSelector(selectors.DefaultSelector):
    """Instead of blocking until the next timer, move the clock to it. The loop's time is kept
    here from 0 (at epoch magnitude a float could not tell the loop's smallest steps apart);
    the wall clock follows it."""

    def __init__(self, wall: FakeClock) -> None:
        super().__init__()
        self.now = 0.0
        self.wall = wall

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout is not None and timeout > 0:
            self.now += timeout
            self.wall.now = self.wall.start + self.now
            timeout = 0
        return super().select(timeout)


class VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock only moves when every task waits (for a timer)."""

    def __init__(self, wall: FakeClock) -> None:
        self._selector_clock = _JumpingSelector(wall)
        super().__init__(self._selector_clock)

    def time(self) -> float:
        return self._selector_clock.now


class VirtualTime:
    """A virtual-time loop plus a wall clock on it, for the sandbox and the client's signer."""

    epoch = 1_767_225_600.0  # 2026-01-01T00:00:00Z

    def __init__(self) -> None:
        self.wall = FakeClock(start=self.epoch)
        self.loop = VirtualLoop(self.wall)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def sandbox(self, **kwargs: Any) -> Sandbox:
        kwargs.setdefault("seed", 1)
        return Sandbox(receipt_delay=0.0, clock=self.wall, **kwargs)

    def client(self, sandbox: Sandbox, **overrides: Any) -> Any:
        return sandbox.async_client(clock=self.wall, **overrides)

    def close(self) -> None:
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


