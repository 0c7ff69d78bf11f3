"""The service's own record of who a sender reached in the last 24 hours, for the unique-user
allowance: ``ListChatappMessage`` (``EventAction=DOWN``, the sender, the last 24 h; reference
``platform_rules.md`` §6), to add what the journal cannot know (messages sent by other tools,
another machine, or a journal since moved aside).

Asked only for senders with a limited tier (a known tier other than ``TIER_UNLIMITED``): for
the others the answer changes nothing. A record counts when it is a template message
(``MessageType`` ``TEMPLATE`` or a ``TemplateCode``) that did not fail; its time is its
``SendTime`` (or now, when that cannot be read: it is in the window asked for, and now keeps its
unit taken longest, the safe side).

**Page cap**: :data:`MAX_PAGES` pages of :data:`PAGE_SIZE` (5,000 messages) per sender. The
operation is a query at a low rate, asked once per campaign and sender before the first send,
so the cap keeps that wait to seconds; the journal stays the primary record, and a sender with
more messages than that in a day is well past the tiers this matters most for (250 and 2,000).
A listing cut at the cap, or one that cannot be read, is a warning: what was read still counts
(each recipient in it surely was reached), nothing is guessed for the rest.

:func:`service_reach` (blocking client) and :func:`aservice_reach` (asyncio) answer the pages
of one generator, :func:`_pages`, as :mod:`.health_check` does.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from datetime import datetime
from typing import Any

from ..client import AsyncClient, Client
from ..content import dumps
from ..errors import CamsError
from .allowance import WINDOW, tier_limit
from .journal_reach import iso_utc, utc_datetime

__all__ = ["MAX_PAGES", "PAGE_SIZE", "aservice_reach", "service_reach"]

PAGE_SIZE = 100
"""Records per ``ListChatappMessage`` page (the most the sandbox and service answer)."""
MAX_PAGES = 50
"""Pages read per sender at most: see the module docstring."""

_Pages = Generator[dict[str, str], Mapping[str, Any] | CamsError,
                   tuple[dict[str, str], str | None]]
Reach = dict[str, dict[str, str]]


def _limited(senders: Iterable[str], tiers: Mapping[str, str | None]) -> list[str]:
    return [s for s in dict.fromkeys(senders) if tier_limit(tiers.get(s))[0] is not None]


def _pages(sender: str, cust_space_id: str, now: datetime) -> _Pages:
    """Ask for one sender's pages; return ``{recipient: latest ISO time}`` of what was read,
    and why the listing was not read to its end (None when it was)."""
    start, end = int((now - WINDOW).timestamp() * 1000), int(now.timestamp() * 1000)
    params = {"ChannelType": "whatsapp", "CustSpaceId": cust_space_id, "BusinessNumber": sender,
              "EventAction": "DOWN", "StartTime": str(start), "EndTime": str(end)}
    reached: dict[str, str] = {}
    seen: set[str] = set()
    for index in range(1, MAX_PAGES + 1):
        answer = yield {**params, "Page": dumps({"Index": index, "Size": PAGE_SIZE})}
        records = _records(answer)
        if isinstance(records, str):
            return reached, f"page {index} {records}"
        fresh = [r for r in records if str(r.get("MessageId")) not in seen]
        if len(records) >= PAGE_SIZE and not fresh:
            return reached, f"page {index} repeats earlier pages, so its end was never seen"
        for record in fresh:
            seen.add(str(record.get("MessageId")))
            if _counts(record):
                when = _time(record.get("SendTime"), now)
                recipient = str(record["UserNumber"]).lstrip("+")
                reached[recipient] = max(reached.get(recipient, ""), when)
        if len(records) < PAGE_SIZE:
            return reached, None
    return reached, (f"more than {MAX_PAGES * PAGE_SIZE} messages in 24 hours; only the "
                     f"first {MAX_PAGES} pages were read")


def _records(answer: Mapping[str, Any] | CamsError) -> list[Mapping[str, Any]] | str:
    if isinstance(answer, CamsError):
        return f"failed ({type(answer).__name__}: {answer})"
    items = answer.get("Data")
    if answer.get("Success") is False or not isinstance(items, list) or not all(
            isinstance(i, Mapping) and isinstance(i.get("UserNumber"), str) and i["UserNumber"]
            for i in items):
        return "cannot be read (no list of records with a UserNumber)"
    return items


def _counts(record: Mapping[str, Any]) -> bool:
    template = str(record.get("MessageType") or "").upper() == "TEMPLATE" or \
        bool(record.get("TemplateCode"))
    return template and str(record.get("MessageStatus") or "").lower() != "failed"


def _time(value: Any, now: datetime) -> str:
    try:
        if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
            return iso_utc(int(value) / 1000)
        return iso_utc(str(value))
    except (TypeError, ValueError, OverflowError):
        return iso_utc(now)


def _kept(sender: str, result: tuple[dict[str, str], str | None], reach: Reach,
          warnings: list[str]) -> None:
    reached, short = result
    if short is not None:
        warnings.append(f"Sender {sender}: the service's record of who it reached "
                        f"(ListChatappMessage) was read only in part: {short}. The "
                        f"{len(reached)} recipient(s) read count; for the rest the journal "
                        "alone counts.")
    if reached:
        reach[sender] = reached


def service_reach(client: Client, *, senders: Iterable[str], cust_space_id: str | None,
                  tiers: Mapping[str, str | None], now: datetime | float
                  ) -> tuple[Reach, list[str]]:
    """Per sender with a limited tier, the recipients the service saw it message in the 24
    hours before ``now``, with the latest time; and warnings for the listings not used.

    Merge the answer with the journal's (:func:`~.allowance.merge_reach`)."""
    moment = utc_datetime(now, "now")
    reach: Reach = {}
    warnings: list[str] = []
    if cust_space_id is None:
        return reach, ["No CustSpaceId was given, so the service's record of who each sender "
                       "reached (ListChatappMessage needs one) was not read."]
    for sender in _limited(senders, tiers):
        flow = _pages(sender, cust_space_id, moment)
        try:
            params = next(flow)
            while True:
                answer: Mapping[str, Any] | CamsError
                try:
                    answer = client.call("ListChatappMessage", params)
                except CamsError as error:
                    answer = error
                params = flow.send(answer)
        except StopIteration as done:
            _kept(sender, done.value, reach, warnings)
    return reach, warnings


async def aservice_reach(client: AsyncClient, *, senders: Iterable[str],
                         cust_space_id: str | None, tiers: Mapping[str, str | None],
                         now: datetime | float) -> tuple[Reach, list[str]]:
    """The asyncio twin of :func:`service_reach`."""
    moment = utc_datetime(now, "now")
    reach: Reach = {}
    warnings: list[str] = []
    if cust_space_id is None:
        return reach, ["No CustSpaceId was given, so the service's record of who each sender "
                       "reached (ListChatappMessage needs one) was not read."]
    for sender in _limited(senders, tiers):
        flow = _pages(sender, cust_space_id, moment)
        try:
            params = next(flow)
            while True:
                answer: Mapping[str, Any] | CamsError
                try:
                    answer = await client.call("ListChatappMessage", params)
                except CamsError as error:
                    answer = error
                params = flow.send(answer)
        except StopIteration as done:
            _kept(sender, done.value, reach, warnings)
    return reach, warnings
