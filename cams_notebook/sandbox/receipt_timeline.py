"""The delivery receipts of the sandbox's accepted messages, over time: scheduled when a message
is accepted, released when due (to ``receipts()``, the SMQ queue and the push callback), and
pushed to the callback in batches, a failed push retried twice. ChatAppAudit events take the
same roads when they happen (the ``ChatAppAudit`` queue, ``audit_events()``, the same callback
URL), always in batches of their own, never mixed with status receipts in one push.

Apart from :mod:`.core` (which owns the lock, the settings and the seeded random generator it
shares with this) because a receipt's life after the answer is its own story: the request path
only schedules it.
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Callable
from typing import Any

from ..models import Message
from ._wire import Push
from .outcomes import Fate
from .queue_service import SandboxMns

__all__ = ["ReceiptTimeline"]

_OFFSETS = {"Sent": (0.05, 0.3), "Delivered": (0.3, 1.5), "Read": (1.5, 5.0), "Failed": (0.3, 1.5)}
"""Seconds after the previous status (before ``receipt_delay`` scales them) each status falls
due, as a (low, high) range."""


class ReceiptTimeline:
    """Receipts due later, released, and waiting to be pushed. Not thread-safe on its own: the
    core calls it under its lock, with its own ``rng`` so one seed decides everything."""

    def __init__(self, rng: random.Random, order_rng: random.Random, mns: SandboxMns) -> None:
        self._rng, self._order_rng, self._mns = rng, order_rng, mns
        self._timeline: list[tuple[float, int, dict[str, Any]]] = []
        self.released: list[dict[str, Any]] = []
        """Every receipt due so far, duplicates included, in the order released."""
        self.audit_released: list[dict[str, Any]] = []
        """Every ChatAppAudit event so far, in the order it happened."""
        self._push_pending: list[dict[str, Any]] = []
        self._audit_pending: list[dict[str, Any]] = []
        self._push_retry: dict[int, tuple[float, Push]] = {}
        self._seq = 0

    def schedule(self, message: Message, template: dict[str, Any] | None, message_id: str,
                 fate: Fate, now: float, *, delay_scale: float,
                 duplicate_rate: float) -> list[tuple[float, str]]:
        """Queue the message's receipts; return (due time, status) of each, in order."""
        base: dict[str, Any] = {
            "MessageId": message_id, "From": message.from_, "To": message.to,
            "OriginPhoneNumber": message.from_, "TaskId": message.task_id or message_id,
            "MsgFrameType": message.type,
            "Type": "TEMPLATE" if message.type == "template" else str(message.message_type).upper(),
        }
        if template is not None:
            base.update(TemplateCode=template["TemplateCode"], TemplateName=template["Name"],
                        Language=template["Language"],
                        ConversationType=str(template.get("Category", "utility")).lower())
        else:
            base["ConversationType"] = "service"
        at = now
        timeline = []
        for status in fate.statuses:
            low, high = _OFFSETS[status]
            at += self._rng.uniform(low, high) * delay_scale
            timeline.append((at, status))
            event = {**base, "Status": status, "StatusDescription": status,
                     "Timestamp": int(at * 1000)}
            if status == "Failed":
                event.update(ErrorCode=fate.error_code, ErrorDescription=fate.error_description)
            self._push_event(at, event)
            if self._rng.random() < duplicate_rate:
                self._push_event(at + self._rng.uniform(0.0, 2.0) * delay_scale, dict(event))
        return timeline

    def _push_event(self, due: float, event: dict[str, Any]) -> None:
        self._seq += 1
        heapq.heappush(self._timeline, (due, self._seq, event))
        self._mns.enqueue("ChatAppStatus", dict(event), due)  # visible on the queue once due

    def audit(self, event: dict[str, Any], at: float, *, pushing: bool) -> None:
        """Put out one ChatAppAudit event at ``at``: on its queue, in the record, and for the
        push callback when ``pushing``."""
        self.audit_released.append(event)
        self._mns.enqueue("ChatAppAudit", dict(event), at)
        if pushing:
            self._audit_pending.append(dict(event))

    def release(self, now: float, *, shuffled: bool, pushing: bool) -> None:
        """Release the receipts due by ``now`` (each batch in a seeded random order when
        ``shuffled``), and keep them for the push callback when ``pushing``."""
        due: list[dict[str, Any]] = []
        while self._timeline and self._timeline[0][0] <= now:
            due.append(heapq.heappop(self._timeline)[2])
        if shuffled:
            self._order_rng.shuffle(due)
        self.released += due
        if pushing:
            self._push_pending += due

    def due_pushes(self, now: float, callback_url: str | None) -> list[Push]:
        """Retries due by ``now``, then the released receipts not yet pushed, in batches (a
        JSON array each, at most 100 receipts) for ``callback_url``."""
        pushes = [p for due, p in self._push_retry.values() if due <= now]
        for p in pushes:
            del self._push_retry[p.ident]
        if callback_url:
            pending, self._push_pending = self._push_pending, []
            self._rng.shuffle(pending)  # receipts arrive out of order
            audit, self._audit_pending = self._audit_pending, []
            for items in (pending, audit):  # audit events in batches of their own
                for start in range(0, len(items), 100):
                    self._seq += 1
                    body = json.dumps(items[start:start + 100], ensure_ascii=False).encode()
                    pushes.append(Push(callback_url, body, 1, self._seq))
        return pushes

    def retry(self, push: Push, clock: Callable[[], float]) -> bool:
        """Schedule a failed push again (after 1 s, then 5 s); False when it has had its three
        attempts and is dropped."""
        if push.attempt >= 3:
            return False
        again = Push(push.url, push.body, push.attempt + 1, push.ident)
        delay = 1.0 if push.attempt == 1 else 5.0
        self._push_retry[push.ident] = (clock() + delay, again)
        return True
