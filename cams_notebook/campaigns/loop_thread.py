"""Run a coroutine on a private event loop in a worker thread, and turn Ctrl-C in the calling
thread into a clean stop.

This is how ``send_frame(...)`` runs the asyncio engine: it works the same from a plain script
and from a notebook cell whose kernel already runs a loop (no nest_asyncio).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ["run_in_thread"]

T = TypeVar("T")


def run_in_thread(make: Callable[[], Awaitable[T]], on_interrupt: Callable[[], None]) -> T:
    """Run a coroutine on a private event loop in a worker thread and wait for it.

    Works whether or not the calling thread runs a loop (a notebook kernel does). A
    ``KeyboardInterrupt`` in the calling thread (Ctrl-C, a kernel interrupt) calls
    ``on_interrupt`` and keeps waiting for the coroutine to wind down, so what was done is
    kept; a second interrupt is passed on. One that comes before the coroutine started
    cancels it outright: it is passed on, and nothing runs.
    """
    box: dict[str, Any] = {}
    # Events, not thread.join()/is_alive(): before Python 3.12 a KeyboardInterrupt inside
    # join() can mark a running thread as stopped (bpo-45274's fix), which would return
    # before the campaign has finished.
    done = threading.Event()
    go = threading.Event()  # the worker starts only once this thread can take a Ctrl-C

    def target() -> None:
        try:
            while not go.wait(0.05):
                pass
            if not box.get("cancelled"):
                box["value"] = asyncio.run(make())  # type: ignore[arg-type]
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=target, name="cams-campaign", daemon=True)
    interrupted = False
    while not done.is_set():
        try:
            if not go.is_set():
                if thread.ident is None:
                    thread.start()
                go.set()
            done.wait(0.1)
        except KeyboardInterrupt:
            if not go.is_set():  # nothing has run: the Ctrl-C cancels the call itself
                box["cancelled"] = True
                go.set()
                raise
            if interrupted:
                raise
            interrupted = True
            on_interrupt()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]
