"""ListChatappTemplate and GetChatappTemplateDetail: the sandbox's catalogue (:mod:`.catalogue`)
as the service lists it and details one template, with what has changed since (a paused
template, a quality score set: the core's board, :mod:`.audit_events`).

Apart from :mod:`.core` (the request path and the state) because these answers only read the
catalogue and the board.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from . import catalogue
from ._wire import WireResponse, json_response

__all__ = ["list_templates", "template_detail"]


class _Board(Protocol):
    def template(self, *, code: str | None = None, name: str | None = None,
                 language: str) -> dict[str, Any] | None: ...
    def rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]: ...


class _Core(Protocol):
    @property
    def board(self) -> _Board: ...

    def _error(self, status: int, code: str, message: str, request_id: str,
               headers: Mapping[str, str] | None = None) -> WireResponse: ...
    def _reject(self, code: str, message: str, request_id: str,
                gateway: bool = False) -> WireResponse: ...
    def _latency(self) -> float: ...


def list_templates(core: _Core, key_id: str, params: dict[str, str], now: float,
                   request_id: str) -> WireResponse:
    """ListChatappTemplate: the catalogue's rows matching the request's filters, one page."""
    try:
        page = json.loads(params.get("Page") or '{"Index":1,"Size":10}')
        index, size = int(page["Index"]), int(page["Size"])
        if index < 1 or not 1 <= size <= 100:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return core._reject("InvalidParameter.PageInvalid",
                            "Page: must be JSON {\"Index\": n >= 1, \"Size\": 1..100}",
                            request_id)
    rows = core.board.rows(catalogue.list_rows(
        name=params.get("Name"), code=params.get("Code"), language=params.get("Language"),
        template_type=params.get("TemplateType"), category=params.get("Category")))
    wanted = params.get("AuditStatus")
    if wanted:  # after the board: a paused template is listed as paused
        rows = [r for r in rows if r["AuditStatus"].lower() == wanted.lower()]
    chunk = rows[(index - 1) * size: index * size]
    return json_response(200, {"RequestId": request_id, "Code": "OK", "Message": "SUCCESS",
                               "Success": True, "Total": len(rows), "ListTemplate": chunk},
                         delay=core._latency())


def template_detail(core: _Core, key_id: str, params: dict[str, str], now: float,
                    request_id: str) -> WireResponse:
    """GetChatappTemplateDetail: one template in one language, as it stands now."""
    language = params.get("Language")
    if not language:
        return core._error(400, "MissingLanguage", "Language is mandatory for this action.",
                           request_id)
    entry = core.board.template(code=params.get("TemplateCode"),
                                name=params.get("TemplateName"), language=language)
    if entry is None:
        return core._error(400, "DetailError.TemplateNotExist", "The template does not exist.",
                           request_id)
    return json_response(200, {"RequestId": request_id, "Code": "OK", "Message": "SUCCESS",
                               "Success": True, "Data": entry}, delay=core._latency())
