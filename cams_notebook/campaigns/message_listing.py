"""Every outbound message to one person in a time window, read from ``ListChatappMessage``
to the end of its pages, or why it could not all be read.

The listing is the service's record that :mod:`.reconcile` looks in for a send whose answer
was lost. A page that cannot be read, or a listing that never ends, proves nothing, so each is
a reason (a string), never an empty listing. A query sends nothing, so the calls are retried
where the error allows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..client import Client
from ..content import dumps
from ..errors import CamsError, TransportError

__all__ = ["PAGE_SIZE", "Records", "list_messages"]

PAGE_SIZE = 100
_MAX_PAGES = 50
"""5,000 messages to one person in half an hour is no listing to trust to an end."""
_TRIES = 5

Records = list[Mapping[str, Any]]


def _call(client: Client, params: dict[str, str], sleep: Callable[[float], None]) -> dict[str, Any]:
    """One ListChatappMessage call, retried where that is safe (a query sends nothing)."""
    for attempt in range(1, _TRIES + 1):
        try:
            return client.call("ListChatappMessage", params)
        except CamsError as error:
            if attempt == _TRIES or not (error.retry_safe or isinstance(error, TransportError)):
                raise
            sleep(getattr(error, "retry_after", None) or min(5.0, 0.2 * 2 ** attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def _records(data: Mapping[str, Any]) -> Records | str:
    """The records of one answer, or why the answer cannot be read."""
    if data.get("Success") is False:
        return "Success is false"
    items = data.get("Data")
    if not isinstance(items, list):
        return f"Data is {type(items).__name__}, not a list of records"
    for item in items:
        if not isinstance(item, Mapping):
            return f"a record is {type(item).__name__}, not an object"
        for name in ("MessageId", "UserNumber"):
            value = item.get(name)
            if not isinstance(value, str) or not value:
                return f"a record has no {name}"
    return items


def list_messages(client: Client, person: tuple[str, str, str, str], start: int, end: int,
                  sleep: Callable[[float], None]) -> Records | str:
    """Every outbound record to one person in [start, end], or why they could not all be read."""
    channel, sender, to, space = person
    params = {"ChannelType": channel, "CustSpaceId": space, "BusinessNumber": sender,
              "UserNumber": to, "EventAction": "DOWN", "StartTime": str(start),
              "EndTime": str(end)}
    found: dict[str, Mapping[str, Any]] = {}
    for index in range(1, _MAX_PAGES + 1):
        page_params = {**params, "Page": dumps({"Index": index, "Size": PAGE_SIZE})}
        try:
            page = _records(_call(client, page_params, sleep))
        except CamsError as error:
            return f"ListChatappMessage page {index} failed: {type(error).__name__}: {error}"
        if isinstance(page, str):
            return f"ListChatappMessage page {index} cannot be read: {page}"
        fresh = {str(r["MessageId"]): r for r in page if str(r["MessageId"]) not in found}
        if len(page) >= PAGE_SIZE and not fresh:  # a service that serves one page forever
            return f"ListChatappMessage page {index} repeats earlier pages; its end was never seen"
        found.update(fresh)
        if len(page) < PAGE_SIZE:
            return list(found.values())
    return (f"more than {_MAX_PAGES * PAGE_SIZE} messages listed; the listing was not read to "
            "its end")
