"""What the journal keeps, and the errors it raises: one row's record (:class:`JournalRow`),
a campaign's identity, and the statuses and names the stores share.

Apart from the stores (:mod:`.journal`, which re-exports every name here) so that the engine,
the result and reconciliation can speak of records without the SQLite and file-lock machinery.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["FORMAT", "INTENT", "SANDBOX_ENDPOINT", "CampaignIdentity", "JournalAccountError",
           "JournalBusyError", "JournalError", "JournalRow", "encode_index"]

INTENT = "intent"
"""The request may be on its way; no outcome was recorded."""
FORMAT = "cams_notebook/2"
"""The journal file format; version 1 keyed rows by their input index and is refused."""
SANDBOX_ENDPOINT = "sandbox:in-process"
"""The endpoint a journal records for the in-process sandbox."""


class JournalError(RuntimeError):
    """The journal file cannot be used (corrupt, truncated, or not a cams_notebook journal)."""

    def __init__(self, path: str, reason: str, advice: str | None = None) -> None:
        super().__init__(f"journal {path!r} cannot be used: {reason}. Nothing was sent. " + (
            advice or "Move it aside (it may still hold the record of what was sent) and start "
            "a new one."))
        self.path = path
        self.reason = reason


class JournalBusyError(JournalError):
    """Another process (or another run in this one) is using the journal right now."""

    def __init__(self, path: str, holder: dict[str, Any]) -> None:
        self.holder = holder
        who = (f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')} since "
               f"{holder.get('since', '?')}")
        super().__init__(path, f"journal in use by {who}", "Wait for that run to finish (or stop "
                         "it), then run again: rows it sent will not be sent twice.")


class JournalAccountError(JournalError):
    """The journal was written for another endpoint or AccessKeyId than this client's."""


@dataclass(frozen=True)
class CampaignIdentity:
    """Who sends a campaign and what it is: recorded in the journal, checked on every run."""

    campaign: str
    """The id in every row key and TaskId: the name given, or one derived from the definition."""
    name: str
    endpoint: str
    access_key_id: str
    fingerprint: str
    """A hash of the message definition (constants and column mapping)."""
    cust_space_id: str | None = None


@dataclass
class JournalRow:
    """One row's record in the journal."""

    key: str
    status: str
    index: str = ""
    to: str | None = None
    task_id: str | None = None
    attempts: int = 0
    message_id: str | None = None
    code: str | None = None
    message: str | None = None
    request_id: str | None = None
    latency_ms: float | None = None
    sent_at: str | None = None
    error: str | None = None
    retry_safe: bool = False
    campaign: str | None = None
    channel: str | None = None
    sender: str | None = None
    cust_space_id: str | None = None
    template_code: str | None = None
    attempted_at: str | None = None
    """ISO-8601 UTC time the latest attempt started (written with the intent)."""
    digest: str | None = None
    """A hash of the request (its wire parameters but the TaskId)."""
    eligible_at: str | None = None
    """ISO-8601 UTC time from which a ``deferred`` row (beyond the sender's unique-user
    allowance) or a ``capped`` row (131049, Meta's per-user marketing cap) may go out."""


def encode_index(value: Any) -> str:
    """A row's input index as JSON text (tuples for MultiIndex rows become lists)."""
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return json.dumps(str(value))
