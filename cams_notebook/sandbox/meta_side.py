"""Meta's side of the sandbox core: its verdict on each accepted WhatsApp message (the limits
of :mod:`.meta_limits`) and the changes of rating and template status that Meta reports as
ChatAppAudit events (:mod:`.audit_events`).

A mixin of :class:`~.core.SandboxCore`, apart from it so the request path reads on its own; it
uses the core's lock, board, judge, counters and receipt timeline, declared below.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ..models import Message
from .audit_events import QualityBoard
from .meta_limits import MetaJudge
from .outcomes import Fate
from .receipt_timeline import ReceiptTimeline

__all__ = ["MetaSide"]


class MetaSide:
    """Ratings, template statuses and verdicts; each change is a ChatAppAudit event on the
    ``ChatAppAudit`` queue, the status callback URL and :meth:`audit_events`."""

    _lock: threading.Lock
    _receipts: ReceiptTimeline
    _senders: set[str]
    board: QualityBoard
    judge: MetaJudge
    stats: dict[str, int]
    refusal_counts: dict[str, int]
    callback_url: str | None
    clock: Callable[[], float]

    def set_quality(self, number: str, rating: str) -> dict[str, Any] | None:
        """Rate sender ``number`` GREEN, YELLOW, RED or UNKNOWN; the event, if it changed.
        QueryChatappPhoneNumbers lists the number from now on, sent from or not."""
        with self._lock:
            event = self._emit(self.board.set_quality(number, rating, self.clock()))
            self._senders.add(number.lstrip("+").replace(" ", ""))  # listed from now on
            return event

    def set_template_status(self, code: str, language: str, status: str,
                            reason: str = "") -> dict[str, Any] | None:
        """Give a template an ``AuditStatus`` (e.g. ``paused``); the V1 event, if changed."""
        with self._lock:
            return self._emit(self.board.set_template_status(code, language, status, reason,
                                                             self.clock()))

    def set_template_quality(self, code: str, language: str,
                             score: str) -> dict[str, Any] | None:
        """Give a template a ``QualityScore``; the ``templateQualityUpdate``, if changed."""
        with self._lock:
            return self._emit(self.board.set_template_quality(code, language, score,
                                                              self.clock()))

    def _emit(self, event: dict[str, Any] | None) -> dict[str, Any] | None:
        """Send an audit event (if any) to the queue, the callback and the record."""
        if event is not None:
            self.stats["audit_events"] += 1
            self._receipts.audit(event, event["EventTime"] / 1000,
                                 pushing=bool(self.callback_url))
        return event

    def _meta(self, message: Message, window_open: bool, space: str,
              now: float) -> Fate | None:
        """Meta's verdict on an accepted WhatsApp message: a refusal's fate, or None; and the
        quality events it sets off."""
        sender = message.from_.lstrip("+")
        self._emit(self.board.sent(sender, space, now))
        verdict = self.judge.judge(sender, message.to, template=message.type == "template",
                                   window_open=window_open, tier=self.board.tier(sender),
                                   now=now)
        if verdict.quality_drop:
            self._emit(self.board.lower(sender, now))
        if verdict.code is None:
            return None
        self.stats["refused"] += 1
        self.refusal_counts[verdict.code] = self.refusal_counts.get(verdict.code, 0) + 1
        return Fate(("Failed",), verdict.code)
