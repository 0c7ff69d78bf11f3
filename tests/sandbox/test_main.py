"""The standalone sandbox process: its garbage-collection policy (``_short_collections``)."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from cams_notebook.cli.sandbox import _short_collections


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the garbage collector frees it


@pytest.fixture
def restore_gc() -> Iterator[None]:
    yield
    gc.unfreeze()  # this test process must not keep anything frozen


def wait_for(condition: object, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_busy_objects_are_frozen_and_cyclic_garbage_is_freed_once_idle(restore_gc: None) -> None:
    core = SimpleNamespace(stats={"requests": 0})
    stop = threading.Event()
    worker = threading.Thread(target=_short_collections, args=(core, 0.02, 0.2, stop), daemon=True)
    gc.unfreeze()
    worker.start()
    try:
        node = _Node()
        dead = weakref.ref(node)
        core.stats["requests"] = 1  # busy: what survives is frozen out of collections
        assert wait_for(lambda: gc.get_freeze_count() > 0)
        del node  # cyclic garbage now, but frozen: collections skip it while busy
        for n in range(2, 6):
            core.stats["requests"] = n
            gc.collect()
            assert dead() is not None
            time.sleep(0.03)
        # idle for longer than ``idle``: unfrozen, collected in full, frozen again
        assert wait_for(lambda: dead() is None)
    finally:
        stop.set()
        worker.join(5)
    assert not worker.is_alive()
