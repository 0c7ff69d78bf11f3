"""The sandbox's record of accepted messages, and ``ListChatappMessage`` over it in the
official shape (reference ``platform_rules.md`` section 6, SDK ``ListChatappMessageRequest`` /
``ListChatappMessageResponseBody``).

Apart from :mod:`.core` (the request path, which adds a record per accepted message) because
the listing is a query language of its own: its parameters, its filters, and records in the
SDK's field names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..templates import Template

__all__ = ["PAGE_SIZE_MAX", "ListingQuery", "MessageLog", "parse_listing"]

PAGE_SIZE_MAX = 100
"""The largest ``Page.Size`` the sandbox accepts for its list operations."""


def _number(value: str) -> str:
    """A phone number as the records keep it: no ``+``, spaces or dashes."""
    return value.strip().lstrip("+").replace(" ", "").replace("-", "")


@dataclass(frozen=True)
class ListingQuery:
    """One ListChatappMessage question, its parameters read and checked."""

    channel: str
    space: str
    sender: str
    user: str
    start: float
    end: float
    wanted: dict[str, str]
    """Filters compared case-insensitively with the record (``TemplateCode``, ``MessageStatus``)."""
    matches_nothing: bool
    """A filter no sandbox record can meet (``GroupMessageId``, an ``EventAction`` but DOWN)."""
    index: int
    size: int


def parse_listing(params: Mapping[str, str]) -> ListingQuery | tuple[str, str, bool]:
    """The question ``params`` ask, or why they cannot be asked: ``(code, message, gateway)``,
    where ``gateway`` says it is an HTTP 400 (a missing parameter), not a business error.

    Required: ``ChannelType``, ``CustSpaceId``, ``BusinessNumber`` and ``Page`` (JSON
    ``{"Index": n, "Size": m}``). Filters: ``UserNumber``, ``StartTime`` / ``EndTime`` (Unix ms,
    both ends included), ``EventAction`` (only ``DOWN`` records exist here), ``TemplateCode``,
    ``MessageStatus``, ``GroupMessageId`` (the sandbox has no bulk sends, so it matches
    nothing); ``ClientAcceptStatus`` and the ``*TimeStr`` forms are accepted and ignored.
    """
    for name in ("ChannelType", "CustSpaceId", "BusinessNumber", "Page"):
        if not params.get(name):
            return f"Missing{name}", f"{name} is mandatory for this action.", True
    try:
        page = json.loads(params["Page"])
        index, size = int(page["Index"]), int(page["Size"])
        if index < 1 or not 1 <= size <= PAGE_SIZE_MAX:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return ("InvalidParameter.PageInvalid", "Page: must be JSON "
                f'{{"Index": n >= 1, "Size": 1..{PAGE_SIZE_MAX}}}', False)
    try:
        start = int(params["StartTime"]) / 1000 if params.get("StartTime") else float("-inf")
        end = int(params["EndTime"]) / 1000 if params.get("EndTime") else float("inf")
    except ValueError:
        return ("InvalidParameter", "StartTime/EndTime: must be Unix times in milliseconds",
                False)
    return ListingQuery(
        channel=params["ChannelType"].lower(), space=params["CustSpaceId"],
        sender=_number(params["BusinessNumber"]), user=_number(params.get("UserNumber") or ""),
        start=start, end=end,
        wanted={k: params[k] for k in ("TemplateCode", "MessageStatus") if params.get(k)},
        matches_nothing=bool(params.get("GroupMessageId")
                             or params.get("EventAction", "DOWN").upper() != "DOWN"),
        index=index, size=size)


class MessageLog:
    """Every accepted message, indexed the way ListChatappMessage asks: by (AccessKey, space,
    BusinessNumber[, UserNumber]). Not thread-safe on its own: the core calls it under its lock.

    ``templates`` is the core's cache of parsed templates, read to show a template message's
    text as a person reads it.
    """

    def __init__(self, templates: Mapping[tuple[str, str], Template]) -> None:
        self._templates = templates
        self.records: list[dict[str, Any]] = []
        # reconciling a large campaign asks thousands of times, usually for one person, so the
        # records are indexed, not scanned
        self._by_sender: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        self._by_person: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}

    def add(self, record: dict[str, Any]) -> None:
        """Keep one accepted message's record (see ``SandboxCore._accept`` for its keys)."""
        self.records.append(record)
        key_id, space, sender = record["access_key_id"], record["cust_space_id"], \
            _number(record["from"])
        self._by_sender.setdefault((key_id, space, sender), []).append(record)
        self._by_person.setdefault((key_id, space, sender, _number(record["to"])),
                                   []).append(record)

    def listing(self, key_id: str, query: ListingQuery, now: float) -> list[dict[str, Any]]:
        """The page of records ``query`` asks for, of ``key_id``'s messages in its space,
        oldest first, as they stand at ``now``."""
        pool = self._by_person.get((key_id, query.space, query.sender, query.user), []) \
            if query.user else self._by_sender.get((key_id, query.space, query.sender), [])
        if query.matches_nothing:
            pool = []
        records = []
        for m in pool:
            if m["channel_type"] != query.channel or not query.start <= m["time"] <= query.end:
                continue
            record = self._listed(m, now)
            if all(str(record.get(k, "")).lower() == v.lower() for k, v in query.wanted.items()):
                records.append(record)
        return records[(query.index - 1) * query.size: query.index * query.size]

    def _listed(self, m: dict[str, Any], now: float) -> dict[str, Any]:
        """One accepted message as a ListChatappMessage record (SDK field names).

        ``SendTime`` is text, as in the SDK's model, in the format of its example
        (``2025-07-11T01:16:49.761+00:00``). ``MessageStatus`` is the latest delivery
        receipt due by ``now`` in lower case (``sent``, ``delivered``, ``read``, ``failed``),
        or ``success`` (the documented example value) before the first; the service's own
        vocabulary is not documented beyond that example.
        """
        status = next((s for at, s in reversed(m.get("statuses", ())) if at <= now), None)
        when = datetime.fromtimestamp(m["time"], tz=timezone.utc)
        params = m["params"]
        record: dict[str, Any] = {
            "MessageId": m["message_id"], "UserNumber": m["to"], "BusinessNumber": m["from"],
            "ChannelType": m["channel_type"].upper(), "EventAction": "DOWN",
            "EventActionName": "DOWN", "SendTime": when.isoformat(timespec="milliseconds"),
            "Month": when.strftime("%Y%m"), "MessageSource": "api", "FailBackFlag": "N",
            "MessageStatus": status.lower() if status else "success",
            "Type": m["type"], "Message": self._text(m),
        }
        if status == "Failed" and m.get("fail_reason"):
            record["FailReason"] = m["fail_reason"]
        if m["type"] == "template":
            record.update(MessageType="TEMPLATE", TemplateCode=m.get("template_code"),
                          TemplateName=m.get("template_name"), LanguageCode=m.get("language"))
        else:
            kind = str(params.get("MessageType") or "")
            record.update(MessageType=kind.upper(), MessageTypeName=kind)
        return record

    def _text(self, m: dict[str, Any]) -> str:
        """The content as a person reads it: the filled template body, or the text sent."""
        params = m["params"]
        if m["type"] == "template":
            parsed = self._templates.get((m.get("template_code", ""), m.get("language", "")))
            if parsed is None:
                return ""
            values = json.loads(params.get("TemplateParams") or "{}")
            return parsed.render(values).body
        content = params.get("Content") or ""
        try:
            value = json.loads(content)
        except ValueError:
            return content
        if isinstance(value, dict):
            for name in ("text", "caption", "link"):
                if isinstance(value.get(name), str) and value[name]:
                    return str(value[name])
        return content
