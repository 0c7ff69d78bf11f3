"""The CAMS clients: :class:`Client` (blocking) and :class:`AsyncClient` (asyncio).

What is not I/O lives once: request building and answer reading in :mod:`~.wire`, the
configuration and the operations (as generators that yield the RPC calls they need, the
sans-I/O shape of httpx's ``Auth.auth_flow``) in :class:`BaseClient`. The two faces add only
the lines that touch the network.

A client owns one httpx transport (``transport=``, or httpx's own for the blocking client and
:mod:`~.lean_transport` for asyncio) and hands it each signed request; wrap the transport to
watch or change traffic (it sees every request, signed once). The local sandbox is such a
transport and is reached like the service: nothing here knows it is there.

Where a client talks is always asked for, never guessed: ``Client.from_env()`` reads the
credentials from ``ALIBABA_CLOUD_*`` and raises :class:`~.errors.MissingCredentialsError`
without them (a cron job with a missing variable must fail, not "send" to a fake service);
``Client.sandbox()`` is the local sandbox, by name, with a one-time notice; :func:`connect`
picks between the two only when told to (``sandbox_fallback=True``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from . import _config as cfg
from . import wire
from .credentials import as_secret, env_client_kwargs, mask_key_id, missing_credentials
from .display import notice
from .httpcore_line import HttpcoreLine
from .models import Message, SendResult
from .signing import AcsV3Auth
from .templates import Template, TemplateSummary
from .wire import resolve_endpoint

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self is 3.11+; annotations are not evaluated

    from .lean_transport import LeanAsyncTransport

__all__ = ["AsyncClient", "BaseClient", "Client", "connect", "missing_credentials",
           "resolve_endpoint"]

_T = TypeVar("_T")
Flow = Generator[tuple[str, Mapping[str, str]], dict[str, Any], _T]
"""An operation without I/O: it yields ``(action, params)`` calls and is sent their answers."""
_CLOSED = "Cannot send a request, as the client has been closed."
_sandbox_notice_shown = False
"""Whether this process has printed :data:`~._config.SANDBOX_NOTICE` (tests reset it)."""
sandbox_client_kwargs: Callable[[bool], dict[str, Any]] | None = None
"""How ``Client.sandbox()`` reaches the local sandbox: client arguments (async or not) for the
process-wide one. The core never imports the sandbox, a capability above it; the package root
(``cams_notebook/__init__.py``) sets this when ``cams_notebook`` is imported."""


class BaseClient:
    """Configuration, request building, answer reading and the operations; no I/O."""

    _is_async: ClassVar[bool] = False

    def __init__(self, *, access_key_id: str, access_key_secret: str | SecretStr,
                 security_token: str | SecretStr | None = None,
                 region: str = cfg.DEFAULT_REGION, endpoint: str | None = None,
                 timeout: float = cfg.DEFAULT_TIMEOUT, clock: Callable[[], float] = time.time,
                 nonce: Callable[[], str] | None = None) -> None:
        if not access_key_id or not access_key_secret:
            raise ValueError("access_key_id and access_key_secret are both required (or "
                             "Client.from_env() to read them from ALIBABA_CLOUD_*, or "
                             "Client.sandbox() for the local sandbox)")
        self.region = region
        self.base_url = resolve_endpoint(endpoint, region)
        self.access_key_id = access_key_id
        self.timeout = float(timeout)
        self._settings: dict[str, Any] = dict(
            access_key_id=access_key_id, access_key_secret=as_secret(access_key_secret),
            security_token=as_secret(security_token), region=region, endpoint=endpoint,
            timeout=timeout, clock=clock, nonce=nonce)
        extra = {"nonce": nonce} if nonce is not None else {}
        self.auth = AcsV3Auth(access_key_id, access_key_secret, security_token=security_token,
                              clock=clock, **extra)
        self._httpx_timeout = httpx.Timeout(self.timeout, connect=min(self.timeout,
                                                                      cfg.DEFAULT_CONNECT_TIMEOUT))
        self._builder = wire.RequestBuilder(self.base_url, self.auth, user_agent=cfg.user_agent(),
                                            timeout=self._httpx_timeout)
        self._closed = False

    @classmethod
    def sandbox(cls, **overrides: Any) -> Self:
        """A client wired to the process-wide local sandbox; nothing leaves this machine.

        Asked for by name, so it is never a silent stand-in for the real service. Every
        client made this way shares one sandbox (``cams_notebook.sandbox.default_sandbox()``:
        its templates, magic numbers, messages and receipts); the first one prints a notice.
        ``overrides`` are client arguments (``timeout=``, ``clock=``...).

        >>> client = Client.sandbox()                     # doctest: +ELLIPSIS
        cams_notebook: this client talks to the local CAMS sandbox, in this process; ...
        >>> client.account
        ('sandbox:in-process', 'sandbox-access-key-id')
        >>> aclient = AsyncClient.sandbox(timeout=2.0)    # the same sandbox, for asyncio
        """
        if sandbox_client_kwargs is None:  # pragma: no cover - the package root always sets it
            raise RuntimeError("no sandbox is wired in: import cams_notebook first")
        kwargs = sandbox_client_kwargs(cls._is_async)
        _announce_sandbox()
        return cls(**{**kwargs, **overrides})

    @property
    def account(self) -> tuple[str, str]:
        """``(endpoint, access_key_id)``: which account at which service this client talks to.

        The endpoint is ``"sandbox:in-process"`` for the in-process sandbox, else the base URL
        (a loopback sandbox server shows as its ``http://127.0.0.1:PORT``). For journals and
        logs: never the secret.

        >>> Client(access_key_id="LTAI5t", access_key_secret="s").account
        ('https://cams.ap-southeast-1.aliyuncs.com', 'LTAI5t')
        """
        local = urlsplit(self.base_url).hostname == cfg.SANDBOX_HOST
        return (cfg.SANDBOX_ENDPOINT if local else self.base_url), self.access_key_id

    @property
    def is_local(self) -> bool:
        """Whether this client talks to this machine (the sandbox, in-process or on loopback)."""
        return wire.is_local(urlsplit(self.base_url).hostname)

    # -- the wire (see cams_notebook.wire) ------------------------------------------------

    def build_request(self, action: str, params: Mapping[str, str]) -> httpx.Request:
        """The signed ``httpx.Request`` of one RPC call (what a ``transport=`` is handed)."""
        return self._builder.build(action, params)

    def request_parts(self, action: str,
                      params: Mapping[str, str]) -> tuple[str, list[tuple[bytes, bytes]]]:
        """The canonical query and signed headers of one RPC call (what the own line sends)."""
        return self._builder.parts(action, params)

    read_response = staticmethod(wire.read_response)
    transport_error = staticmethod(wire.transport_error)

    # -- the operations, as flows ----------------------------------------------------------

    @staticmethod
    def _list_templates_flow(page_size: int,
                             filters: Mapping[str, str | None]) -> Flow[list[TemplateSummary]]:
        wanted, rows, page = wire.template_filters(filters), [], 1
        while True:
            data = yield "ListChatappTemplate", wire.template_list_params(page, page_size, wanted)
            chunk, total = wire.template_page(data)
            rows += chunk
            if not chunk or len(rows) >= total:
                return rows
            page += 1

    @staticmethod
    def _get_template_flow(code: str | None, language: str, name: str | None,
                           template_type: str | None) -> Flow[Template]:
        params = wire.template_detail_params(code, name, language, template_type)
        return Template.model_validate((yield "GetChatappTemplateDetail", params)["Data"])

    def __repr__(self) -> str:
        where = "sandbox" if self.account[0] == cfg.SANDBOX_ENDPOINT else self.base_url
        key = mask_key_id(self.access_key_id)
        return f"{type(self).__name__}(endpoint={where!r}, access_key_id={key!r})"


def _announce_sandbox() -> None:
    """Say once per process that a client talks to the local sandbox. It is information, not
    an error: a quiet line in a notebook (never the red box of stderr), stdout in a terminal."""
    global _sandbox_notice_shown
    if not _sandbox_notice_shown:
        _sandbox_notice_shown = True
        notice(cfg.SANDBOX_NOTICE, stream=sys.stdout)


def connect(*, sandbox_fallback: bool = False, environ: Mapping[str, str] | None = None,
            **overrides: Any) -> Client:
    """A :class:`Client` for the real service when credentials are set; the sandbox only if asked.

    With ``ALIBABA_CLOUD_ACCESS_KEY_ID`` and ``ALIBABA_CLOUD_ACCESS_KEY_SECRET`` set this is
    ``Client.from_env(**overrides)``. Without them it is ``Client.sandbox(**overrides)`` when
    ``sandbox_fallback=True`` (for a notebook meant to run anywhere), and otherwise a
    :class:`~.errors.MissingCredentialsError` naming what to set. ``environ`` replaces
    ``os.environ`` (for tests).

    >>> client = connect()                        # doctest: +SKIP
    >>> demo = connect(sandbox_fallback=True)     # doctest: +SKIP
    """
    if missing_credentials(environ) and sandbox_fallback:
        return Client.sandbox(**overrides)
    return Client.from_env(environ=environ, **overrides)


class Client(BaseClient):
    """Blocking CAMS client.

    ``Client.from_env()`` reaches the real service with the credentials of the environment;
    ``Client.sandbox()`` is the local sandbox, where nothing leaves this machine.

    >>> from cams_notebook import Client, Message
    >>> with Client.from_env() as client:                                # doctest: +SKIP
    ...     result = client.send(Message(channel_type="whatsapp", ...))
    >>> Client.sandbox().send(Message(channel_type="whatsapp", ...))     # doctest: +SKIP
    """

    def __init__(self, *, transport: httpx.BaseTransport | None = None,
                 access_key_id: str, access_key_secret: str | SecretStr,
                 security_token: str | SecretStr | None = None,
                 region: str = cfg.DEFAULT_REGION, endpoint: str | None = None,
                 timeout: float = cfg.DEFAULT_TIMEOUT, clock: Callable[[], float] = time.time,
                 nonce: Callable[[], str] | None = None) -> None:
        super().__init__(access_key_id=access_key_id, access_key_secret=access_key_secret,
                         security_token=security_token, region=region, endpoint=endpoint,
                         timeout=timeout, clock=clock, nonce=nonce)
        self.transport = transport
        """The transport given to this client, or None (then it has its own line)."""
        self._line = None if transport is not None else \
            HttpcoreLine(self.base_url, proxy=wire.env_proxy(self.base_url))

    def async_twin(self, **overrides: Any) -> AsyncClient:
        """An :class:`AsyncClient` with the same credentials, endpoint and (async) transport."""
        transport = self.transport
        if transport is not None and not isinstance(transport, httpx.AsyncBaseTransport):
            raise TypeError("this Client's transport only works synchronously; give the "
                            "campaign an AsyncClient built with an async transport")
        return AsyncClient(**{**self._settings, "transport": transport, **overrides})

    @classmethod
    def from_env(cls, *, environ: Mapping[str, str] | None = None, **overrides: Any) -> Client:
        """A client for the real service, with the credentials of the environment.

        Reads ``ALIBABA_CLOUD_ACCESS_KEY_ID`` and ``ALIBABA_CLOUD_ACCESS_KEY_SECRET`` (both
        needed), ``ALIBABA_CLOUD_SECURITY_TOKEN`` (STS), ``CAMS_NOTEBOOK_ENDPOINT`` and
        ``CAMS_NOTEBOOK_REGION``; ``overrides`` win over them. Without the two keys it raises
        :class:`~.errors.MissingCredentialsError` and never falls back to the sandbox (that is
        ``Client.sandbox()``, asked for by name). ``environ`` replaces ``os.environ``.

        >>> Client.from_env(environ={})                   # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        cams_notebook.errors.MissingCredentialsError: no CAMS credentials: set ALIBABA_CLOUD_...
        """
        return cls(**{**env_client_kwargs(environ), **overrides})

    def call(self, action: str, params: Mapping[str, str]) -> dict[str, Any]:
        """One signed RPC call; the decoded JSON of a successful answer."""
        if self._closed:
            raise RuntimeError(_CLOSED)
        try:
            if self._line is None:
                return self._call_transport(action, params)
            query, headers = self.request_parts(action, params)
            body = wire.Body(self.timeout)
            status, answer_headers, resp = self._line.send(
                f"/?{query}".encode("ascii") if query else b"/", headers, self._builder.timeout)
            try:
                for chunk in self._line.body(resp):
                    body.add(chunk)
            finally:
                resp.close()
        except httpx.HTTPError as exc:
            raise wire.transport_error(exc) from exc
        return wire.read_response(action, status, answer_headers, body.bytes())

    def _call_transport(self, action: str, params: Mapping[str, str]) -> dict[str, Any]:
        """``call`` through the ``transport=`` this client was given."""
        assert self.transport is not None
        request, body = self.build_request(action, params), wire.Body(self.timeout)
        try:
            resp = wire.received(request, self.transport.handle_request(request))
        except httpx.RequestError as exc:
            wire.name_request(exc, request)
            raise
        try:
            for chunk in resp.iter_bytes():
                body.add(chunk)
        finally:
            resp.close()
        return wire.read_response(action, resp.status_code, resp.headers, body.bytes())

    def _run(self, flow: Flow[_T]) -> _T:
        try:
            action, params = next(flow)
            while True:
                action, params = flow.send(self.call(action, params))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def send(self, message: Message) -> SendResult:
        """Send one message; raises a :class:`~.errors.CamsError` unless the answer is ``OK``."""
        return wire.send_result(self.call("SendChatappMessage", message.to_query()))

    def list_templates(self, *, page_size: int = 50,
                       **filters: str | None) -> list[TemplateSummary]:
        """Every template (ListChatappTemplate, all pages); filters: name, code, language,
        audit_status, template_type, category, cust_space_id."""
        return self._run(self._list_templates_flow(page_size, filters))

    def get_template(self, code: str | None = None, *, language: str, name: str | None = None,
                     template_type: str | None = None) -> Template:
        """One template with its components and variables (GetChatappTemplateDetail)."""
        return self._run(self._get_template_flow(code, language, name, template_type))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._line is not None:
                self._line.close()
            else:
                self.transport.close()  # type: ignore[union-attr]

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient(BaseClient):
    """The asyncio twin of :class:`Client`: the same arguments, ``await`` on the calls.

    >>> async with AsyncClient.from_env() as client:                   # doctest: +SKIP
    ...     result = await client.send(message)
    """

    _is_async = True

    def __init__(self, *, transport: httpx.AsyncBaseTransport | None = None,
                 limits: httpx.Limits | None = None,
                 access_key_id: str, access_key_secret: str | SecretStr,
                 security_token: str | SecretStr | None = None,
                 region: str = cfg.DEFAULT_REGION, endpoint: str | None = None,
                 timeout: float = cfg.DEFAULT_TIMEOUT, clock: Callable[[], float] = time.time,
                 nonce: Callable[[], str] | None = None) -> None:
        super().__init__(access_key_id=access_key_id, access_key_secret=access_key_secret,
                         security_token=security_token, region=region, endpoint=endpoint,
                         timeout=timeout, clock=clock, nonce=nonce)
        self.transport = transport
        """The transport given to this client, or None (then it made its own)."""
        self._lean: LeanAsyncTransport | None = None
        if transport is None:  # see cams_notebook.lean_transport for why not httpx's own pool
            from .lean_transport import LeanAsyncTransport, default_async_transport

            transport = default_async_transport(wire.env_proxy(self.base_url), limits)
            if isinstance(transport, LeanAsyncTransport):
                self._lean = transport  # its own line: plain values in, no httpx.Request
        self._transport = transport
        parts = urlsplit(self.base_url)
        self._origin = (parts.scheme, parts.hostname or "", parts.port)

    @classmethod
    def from_env(cls, *, environ: Mapping[str, str] | None = None, **overrides: Any) -> AsyncClient:
        """The asyncio twin of :meth:`Client.from_env`: :class:`MissingCredentialsError` without
        credentials, never the sandbox (that is ``AsyncClient.sandbox()``)."""
        return cls(**{**env_client_kwargs(environ), **overrides})

    async def call(self, action: str, params: Mapping[str, str]) -> dict[str, Any]:
        """One signed RPC call; the decoded JSON of a successful answer."""
        if self._closed:
            raise RuntimeError(_CLOSED)
        try:
            if self._lean is None:
                return await self._call_transport(action, params)
            query, headers = self.request_parts(action, params)
            status, answer_headers, body = await self._lean.exchange(
                *self._origin, "POST", f"/?{query}".encode("ascii") if query else b"/",
                headers, b"", self._builder.timeout)  # it bounds the answer's size and time
        except httpx.HTTPError as exc:
            raise wire.transport_error(exc) from exc
        return wire.read_response(action, status, answer_headers, body)

    async def _call_transport(self, action: str, params: Mapping[str, str]) -> dict[str, Any]:
        """``call`` through the ``transport=`` this client was given."""
        request, body = self.build_request(action, params), wire.Body(self.timeout)
        try:
            resp = wire.received(request, await self._transport.handle_async_request(request))
        except httpx.RequestError as exc:
            wire.name_request(exc, request)
            raise
        try:
            async for chunk in resp.aiter_bytes():
                body.add(chunk)
        finally:
            await resp.aclose()
        return wire.read_response(action, resp.status_code, resp.headers, body.bytes())

    async def _run(self, flow: Flow[_T]) -> _T:
        try:
            action, params = next(flow)
            while True:
                action, params = flow.send(await self.call(action, params))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def send(self, message: Message) -> SendResult:
        """Send one message; raises a :class:`~.errors.CamsError` unless the answer is ``OK``."""
        return wire.send_result(await self.call("SendChatappMessage", message.to_query()))

    async def list_templates(self, *, page_size: int = 50,
                             **filters: str | None) -> list[TemplateSummary]:
        """Every template (ListChatappTemplate, all pages); the filters of
        ``Client.list_templates``."""
        return await self._run(self._list_templates_flow(page_size, filters))

    async def get_template(self, code: str | None = None, *, language: str, name: str | None = None,
                           template_type: str | None = None) -> Template:
        """One template with its components and variables (GetChatappTemplateDetail)."""
        return await self._run(self._get_template_flow(code, language, name, template_type))

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._transport.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

