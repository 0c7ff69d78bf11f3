"""Watching the delivery receipts of one sent message, in a line under the composer.

A part of the composer, made when it is given ``receipts=``: a
:class:`~cams_notebook.receipts.queue.ReceiptQueue` (each look polls it once, without
waiting, unless its own thread is running, then reads its store) or a
:class:`~cams_notebook.receipts.store.ReceiptStore` that someone else fills (each look reads
it). The same for the sandbox and the service: the sandbox's receipts come through its
queue like CAMS's. Polls run in a worker thread, so the notebook stays responsive.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import ipywidgets as W

from ..receipts.queue import ReceiptQueue
from ..receipts.store import ReceiptStore
from . import status_html as S
from .looks import show

__all__ = ["RECEIPT_POLL_INTERVAL", "RECEIPT_POLL_TIMEOUT", "ReceiptWatch"]

RECEIPT_POLL_INTERVAL = 0.5
"""Seconds between two looks at the receipts."""
RECEIPT_POLL_TIMEOUT = 30.0
"""Seconds after which watching the receipts of one message stops."""

_FINAL = frozenset({"Read", "Failed"})
logger = logging.getLogger(__name__)


class ReceiptWatch:
    """Shows one message's delivery status in ``view`` as receipts arrive; ``stop_button``
    is shown while it watches."""

    def __init__(self, receipts: ReceiptQueue | ReceiptStore, view: W.HTML,
                 stop_button: W.Button) -> None:
        if not isinstance(receipts, (ReceiptQueue, ReceiptStore)):
            raise TypeError("receipts= must be a cams_notebook.receipts ReceiptQueue or "
                            f"ReceiptStore, not {type(receipts).__name__}")
        self.queue = receipts if isinstance(receipts, ReceiptQueue) else None
        self.store = receipts.store if isinstance(receipts, ReceiptQueue) else receipts
        self.view, self.stop_button = view, stop_button
        self.task: asyncio.Task[str | None] | None = None
        """The watch a send started in the running loop, if any."""

    def receipts_for(self, message_id: str) -> list[dict[str, Any]]:
        """The stored receipts of one message, in arrival order, as they arrived (wire names)."""
        return [r.wire() for r in self.store.receipts() if r.message_id == message_id]

    def poll(self) -> None:
        """Take what the queue holds now (no wait); nothing to do for a store alone, or when
        the queue's own thread polls it. A failed poll is logged: the next look tries again."""
        if self.queue is None or self.queue.running:
            return
        try:
            self.queue.poll(wait_seconds=0)
        except Exception as exc:  # noqa: BLE001 - a watch shows what it has; it never raises
            logger.warning("could not poll the receipt queue: %s", exc)

    def start(self, message_id: str) -> None:
        """Watch in a task on the running loop; without one, look once and show it."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.poll()
            self.view.value = S.receipts_html(self.receipts_for(message_id))
            return
        self.task = loop.create_task(self.watch(message_id))

    async def watch(self, message_id: str, *, interval: float = RECEIPT_POLL_INTERVAL,
                    timeout: float = RECEIPT_POLL_TIMEOUT) -> str | None:
        """Show the delivery status of one message as it changes; the last status."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        events: list[dict[str, Any]] = []
        state = "stopped"
        polling: asyncio.Future[None] | None = None
        show(self.stop_button, True)
        try:
            while True:
                polling = asyncio.ensure_future(asyncio.to_thread(self.poll))
                await asyncio.shield(polling)  # Stop waits for the poll, not its receipts
                events = self.receipts_for(message_id)
                if any(e.get("Status") in _FINAL for e in events):
                    state = ""
                    break
                if loop.time() >= deadline:
                    state = "timeout"
                    break
                self.view.value = S.receipts_html(events, "watching")
                await asyncio.sleep(interval)
        finally:
            if polling is not None and not polling.done():
                await asyncio.wait([polling])  # what it took is stored: show it
            events = self.receipts_for(message_id)
            self.view.value = S.receipts_html(events, state)
            show(self.stop_button, False)
        return str(events[-1].get("Status")) if events else None

    def stop(self) -> None:
        """Stop watching (the "Stop watching receipts" button); the message stays sent."""
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def clear(self) -> None:
        """Stop watching and empty the line (a new send begins)."""
        self.stop()
        self.view.value = ""
