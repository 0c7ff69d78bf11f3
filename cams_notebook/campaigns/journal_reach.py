"""Who each sender number reached lately, read from the journal: what the unique-user allowance
(:mod:`.allowance`) counts against a sender's messaging tier.

A recipient counts as reached by a sender when a business-initiated (template) message from that
sender to them is ``sent``, or may have gone out (``intent``, ``unknown``: a request that may have
reached the service counts, so the allowance never under-counts), at or after the time asked
about. Its time is ``sent_at``, or ``attempted_at`` when the answer never came. Free-form messages
do not count: they go to people with an open customer-service window, which Meta's limit leaves
out. Every campaign of the journal counts, as Meta counts the number's messages, not a campaign's.

Apart from the stores (:mod:`.journal`) so that the rule is written once: as a pure function over
records for :class:`~.journal.MemoryJournal`, and as the SQL (with the partial index that keeps it
quick on a journal of millions of rows) for :class:`~.journal.SqliteJournal`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from .journal_records import INTENT, JournalRow

__all__ = ["REACH_INDEX", "REACH_QUERY", "REACH_STATUSES", "iso_utc", "reach_of", "utc_datetime"]

REACH_STATUSES = ("sent", INTENT, "unknown")
"""Statuses of a message that reached, or may have reached, its recipient."""

_STATUSES_SQL = ", ".join(f"'{s}'" for s in REACH_STATUSES)
_WHEN_SQL = "COALESCE(sent_at, attempted_at)"
_FILTER_SQL = f"status IN ({_STATUSES_SQL}) AND template_code IS NOT NULL"
# SQLite uses a partial index only when the query's WHERE repeats the index's terms as written,
# so both are built from _FILTER_SQL and _WHEN_SQL.
REACH_INDEX = (f'CREATE INDEX IF NOT EXISTS cams_rows_reach ON cams_rows ({_WHEN_SQL}, sender, '
               f'"to") WHERE {_FILTER_SQL}')
"""The partial index :data:`REACH_QUERY` walks: only rows that count, ordered by their time."""
REACH_QUERY = (f'SELECT sender, "to", MAX({_WHEN_SQL}) FROM cams_rows WHERE {_FILTER_SQL} '
               f'AND {_WHEN_SQL} >= ? AND sender IS NOT NULL AND "to" IS NOT NULL '
               'GROUP BY sender, "to"')
"""Per (sender, recipient) the latest time at or after the one bound, of the rows that count."""


def utc_datetime(when: str | datetime | float, name: str = "since") -> datetime:
    """``when`` (ISO-8601 text with an offset, an aware datetime, or Unix seconds) as an aware
    UTC datetime. A time without an offset is refused (naming the argument ``name``) rather
    than guessed."""
    if isinstance(when, (int, float)) and not isinstance(when, bool):
        moment = datetime.fromtimestamp(when, tz=timezone.utc)
    elif isinstance(when, datetime):
        moment = when
    elif isinstance(when, str):
        try:
            moment = datetime.fromisoformat(when)
        except ValueError:
            raise ValueError(f"{name}: {when!r} is not an ISO-8601 time") from None
    else:
        raise TypeError(f"{name}: expected ISO-8601 text, a datetime or Unix seconds, not "
                        f"{type(when).__name__}")
    if moment.tzinfo is None:
        raise ValueError(f"{name}: {when!r} has no UTC offset; give one (for example +00:00), "
                         "as the journal's times are UTC")
    return moment.astimezone(timezone.utc)


def iso_utc(when: str | datetime | float, name: str = "since") -> str:
    """``when`` (see :func:`utc_datetime`) as the journal writes times: UTC, milliseconds,
    ``+00:00`` (``2026-01-01T00:00:00.000+00:00``), so that times compare as text."""
    return utc_datetime(when, name).isoformat(timespec="milliseconds")


def reach_of(rows: Iterable[JournalRow], since: str) -> dict[str, dict[str, str]]:
    """Per sender, each recipient reached at or after ``since`` (journal time text, see
    :func:`iso_utc`) with the latest such time: the rule of :data:`REACH_QUERY` over records."""
    reached: dict[str, dict[str, str]] = {}
    for row in rows:
        when = row.sent_at or row.attempted_at
        if (row.status not in REACH_STATUSES or row.template_code is None or when is None
                or when < since or row.sender is None or row.to is None):
            continue
        per_sender = reached.setdefault(row.sender, {})
        if when > per_sender.get(row.to, ""):
            per_sender[row.to] = when
    return reached
