"""What a campaign run knows of its rows: each row's journal record, its result and the counts.

The engine decides what to send and when; this is where a row's fate is written down, the same
way whatever the fate: a row the journal already knows is replayed, never sent again; a
request that surely did not take effect is undone in the journal; a finished row is journaled,
kept as a result, counted and reported to ``on_progress``.

:func:`sends_again` is the one rule for a row the journal already knows; :func:`left_to_send`
applies it before a run, so a confirmation counts only what would really go out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..errors import ApiError, AuthError, CamsError, NotSubscribedError
from .journal import INTENT, Journal, JournalRow, encode_index
from .plan import RowPlan

__all__ = ["WAITING", "Counts", "RowBook", "eligible", "left_to_send", "sends_again"]


@dataclass
class Counts:
    """Live tallies of one run, for the progress bar and the panel.

    ``sent``, ``failed`` and ``unknown`` count this run's requests only; rows the journal
    already knew are ``skipped`` (or ``changed``) and counted there alone, so a re-run
    never counts a row twice. ``retrying`` is how many rows wait to be sent again right now
    (throttled, or a failure worth a retry); ``retries`` how many retries there were in all.
    """

    sent: int = 0
    failed: int = 0
    unknown: int = 0
    throttled: int = 0
    retries: int = 0
    retrying: int = 0
    skipped: int = 0
    changed: int = 0
    deferred: int = 0
    """Rows beyond a sender's unique-user allowance, left for a later run."""
    capped: int = 0
    """Rows Meta's per-user marketing cap held back (131049): for a run 24 h later."""
    refused: int = 0
    """Refusals by the platform after acceptance (130429, 131056): those rows go again."""
    done: int = 0
    started_at: float = field(default_factory=time.monotonic)

    @property
    def answered(self) -> int:
        """This run's requests with an outcome: sent, failed or unknown."""
        return self.sent + self.failed + self.unknown

    def rate(self, now: float) -> float | None:
        """Requests answered per second since the run's start; None while fewer than two
        were answered (one answer, or rows only replayed from the journal, make no rate)."""
        if self.answered < 2:
            return None
        return self.answered / max(now - self.started_at, 1e-3)


def sends_again(record: JournalRow, digest: str | None, on_changed: str,
                now: float | None = None) -> bool:
    """Whether a row the journal knows goes out (again): when it failed without taking effect
    (``retry_safe``: it never reached the service, the service failed before accepting it, or
    refused the credentials; or the platform refused it after acceptance, 130429 or 131056),
    so the person surely got nothing and a later run may try again; when it was ``deferred``
    or ``capped`` and its ``eligible_at`` has come by ``now`` (Unix seconds; default the
    current time); or when its message changed since (``digest``) and it either failed or
    ``on_changed="send"``."""
    if record.status == "failed" and record.retry_safe:
        return True
    if record.status in WAITING:
        return eligible(record, time.time() if now is None else now)
    if record.digest is None or record.digest == digest:
        return False
    return record.status == "failed" or (record.status == "sent" and on_changed == "send")


WAITING = ("deferred", "capped")
"""Statuses of rows that wait for their ``eligible_at`` and are sent by a later run."""


def eligible(record: JournalRow, now: float) -> bool:
    """Whether a waiting row's ``eligible_at`` has come by ``now`` (Unix seconds); a waiting
    row without one (or with one that cannot be read) goes."""
    if not record.eligible_at:
        return True
    try:
        at = datetime.fromisoformat(record.eligible_at)
    except ValueError:
        return True
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.timestamp() <= now


def left_to_send(plans: Iterable[RowPlan], known: Mapping[str, JournalRow], *,
                 on_changed: str = "skip", now: float | None = None) -> list[RowPlan]:
    """The ``plans`` (valid ones) a run would send, given the journal's records ``known`` by
    row key: rows the journal knows are replayed instead (see :func:`sends_again`)."""
    return [plan for plan in plans
            if (record := known.get(plan.key)) is None
            or sends_again(record, plan.digest, on_changed, now)]


class RowBook:
    """The journal records, results and counts of one engine's rows."""

    def __init__(self, ledger: Journal, counts: Counts, *, campaign: str | None,
                 on_changed: str, on_progress: Callable[[Counts], None] | None,
                 wall: Callable[[], float] = time.time) -> None:
        self.ledger, self.counts, self.wall = ledger, counts, wall
        self.campaign, self.on_changed, self.on_progress = campaign, on_changed, on_progress
        self.results: dict[str, tuple[Hashable, JournalRow]] = {}
        self.previous: dict[str, JournalRow] = {}
        """Journal records of rows sent again in a new version, put back if the new one never
        leaves."""
        self._retrying: set[str] = set()

    def to_send(self, plan: RowPlan, record: JournalRow | None) -> bool:
        """Whether ``plan`` goes out, given its journal ``record``: a row the journal knows is
        replayed instead (see :meth:`sends_again`)."""
        if record is not None and not self.sends_again(plan, record):
            self.replay(plan, record)
            return False
        if record is not None:
            self.previous[plan.key] = record
        return True

    def row(self, plan: RowPlan, status: str, **extra: Any) -> JournalRow:
        """A journal record of ``plan`` with ``status`` (and ``extra`` fields)."""
        message = plan.message
        if message is None:
            return JournalRow(key=plan.key, status=status, index=encode_index(plan.index),
                             campaign=self.campaign, **extra)
        return JournalRow(key=plan.key, status=status, index=encode_index(plan.index),
                         to=message.to, task_id=message.task_id, campaign=self.campaign,
                         channel=message.channel_type, sender=message.from_,
                         cust_space_id=message.cust_space_id,
                         template_code=message.template_code or message.template_name,
                         digest=plan.digest, **extra)

    @staticmethod
    def with_error(row: JournalRow, status: str, error: CamsError,
                   latency_ms: float) -> JournalRow:
        """``row`` with ``status`` and what ``error`` says."""
        row.status = status
        row.error = f"{type(error).__name__}: {error}"
        row.latency_ms = latency_ms
        # journaled as "took no effect": a later run sends the row again (see sends_again);
        # refused credentials or subscription are not retried within the run, but took no
        # effect either
        row.retry_safe = error.retry_safe or isinstance(error, (AuthError, NotSubscribedError))
        if isinstance(error, ApiError):
            row.code, row.message, row.request_id = error.code, error.message, error.request_id
        return row

    def retry(self, key: str) -> None:
        """The request surely did not take effect and the row is sent again: the journal goes
        back to what it knew, and the row counts as ``retrying`` until it is finished."""
        self.undo_intent(key)
        if key not in self._retrying:
            self._retrying.add(key)
            self.counts.retrying = len(self._retrying)
        self.counts.retries += 1
        if self.on_progress is not None:
            self.on_progress(self.counts)  # counts froze while it waits: say why

    def undo_intent(self, key: str) -> None:
        """The request surely did not take effect: the journal goes back to what it knew."""
        previous = self.previous.get(key)
        if previous is None:
            self.ledger.forget(key)
        else:
            self.ledger.outcome(previous)

    def sends_again(self, plan: RowPlan, record: JournalRow) -> bool:
        """Whether a row the journal knows goes out (again): see :func:`sends_again`."""
        return sends_again(record, plan.digest, self.on_changed, self.wall())

    def replay(self, plan: RowPlan, row: JournalRow) -> None:
        """A row the journal already knows: report it, never send it again."""
        changed = row.digest is not None and row.digest != plan.digest
        if row.status == INTENT:
            error = "a request may have gone out before the previous run stopped"
            if changed:
                error += "; the row's message has changed since"
            row = JournalRow(**{**row.__dict__, "status": "unknown", "error": error})
        elif changed and row.status == "sent":
            self.counts.changed += 1
            row = JournalRow(**{**row.__dict__, "status": "changed", "message_id": None,
                               "code": None, "message": None, "error": (
                                   f"already sent in this campaign at {row.sent_at} (MessageId "
                                   f"{row.message_id}) with a different message; the new version "
                                   "was not sent (pass on_changed='send' to send it)")})
            self.finish(plan, row, journal=False)
            return
        self.counts.skipped += 1
        self.finish(plan, row, journal=False)

    def revise(self, plan: RowPlan, row: JournalRow, *, again: bool) -> None:
        """A row finished as ``sent`` is revised from its receipts (the platform refused or
        capped it): journal ``row``; when ``again``, it goes out once more and counts as
        ``retrying`` until then, else ``row`` is its result."""
        self.ledger.outcome(row)
        counts = self.counts
        counts.sent -= 1
        if again:
            counts.refused += 1
            counts.done -= 1
            self._retrying.add(plan.key)
            counts.retrying = len(self._retrying)
            counts.retries += 1
        else:
            self.results[plan.key] = (plan.index, row)
            self._count(row.status)
        if self.on_progress is not None:
            self.on_progress(counts)

    def finish(self, plan: RowPlan, row: JournalRow, journal: bool = True) -> None:
        """``row`` is the result of ``plan``: journal it (unless ``journal`` is False), keep it,
        count it."""
        if journal and row.status not in ("not_sent",):
            previous = self.previous.get(plan.key)
            if row.status == "failed" and previous is not None and previous.status == "sent":
                # a new version that failed leaves the record of the one that arrived
                self.ledger.outcome(previous)
            else:
                self.ledger.outcome(row)
        self.results[plan.key] = (plan.index, row)
        counts = self.counts
        counts.done += 1
        if plan.key in self._retrying:
            self._retrying.discard(plan.key)
            counts.retrying = len(self._retrying)
        if journal:  # a replayed row was counted as skipped or changed, not sent again
            self._count(row.status)
        if self.on_progress is not None:
            self.on_progress(counts)

    def _count(self, status: str) -> None:
        counts = self.counts
        if status == "sent":
            counts.sent += 1
        elif status == "failed":
            counts.failed += 1
        elif status == "unknown":
            counts.unknown += 1
        elif status == "deferred":
            counts.deferred += 1
        elif status == "capped":
            counts.capped += 1
