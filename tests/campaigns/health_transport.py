"""A sandbox behind a transport that counts the calls and can change chosen answers: how the
health gate and the allowance's listing are tested against states the sandbox does not take on
by itself (a LIMITED number, a YELLOW template, a permission refused, a listing without end).

A client's ``transport=`` sees every request, signed once (``cams_notebook/client.py``), so this
is the same place a user would watch or change traffic.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

from cams_notebook.client import AsyncClient, Client
from cams_notebook.sandbox import Sandbox

Edit = Callable[[dict[str, str], int, dict[str, Any]], tuple[int, dict[str, Any]]]
"""``(request params, status, answer) -> (status, answer)`` for one action."""


class Watching(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """The sandbox's transport, counting calls per action (``calls``, and ``asked`` with each
    call's parameters) and answering through ``edits[action]`` when one is set; an edit may
    raise an ``httpx`` error to lose the call."""

    def __init__(self, sandbox: Sandbox, edits: dict[str, Edit] | None = None) -> None:
        self.sandbox = sandbox
        self.inner = sandbox.transport
        self.edits = dict(edits or {})
        self.calls: Counter[str] = Counter()
        self.asked: list[tuple[str, dict[str, str]]] = []

    def client(self) -> Client:
        return Client(**{**self.sandbox.client_kwargs(), "transport": self})

    def async_client(self) -> AsyncClient:
        return AsyncClient(**{**self.sandbox.client_kwargs(), "transport": self})

    def _edited(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        action = request.headers.get("x-acs-action", "")
        edit = self.edits.get(action)
        if edit is None:
            return response
        params = dict(request.url.params)
        status, body = edit(params, response.status_code, json.loads(response.content or b"{}"))
        return httpx.Response(status, json=body, request=request)

    def _count(self, request: httpx.Request) -> None:
        action = request.headers.get("x-acs-action", "")
        self.calls[action] += 1
        self.asked.append((action, dict(request.url.params)))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._count(request)
        response = self.inner.handle_request(request)
        response.read()
        return self._edited(request, response)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._count(request)
        response = await self.inner.handle_async_request(request)
        await response.aread()
        return self._edited(request, response)

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


def forbidden(params: dict[str, str], status: int, body: dict[str, Any]
              ) -> tuple[int, dict[str, Any]]:
    """The answer of a RAM policy that does not allow the action."""
    return 403, {"RequestId": "r-403", "Code": "Forbidden.RAM",
                 "Message": "User not authorized to operate on the specified resource."}
