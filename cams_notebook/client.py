"""The CAMS clients: :class:`Client` (blocking) and :class:`AsyncClient` (asyncio).

Everything that is not I/O lives once, in :class:`BaseClient`: where the endpoint is, how a
request is built, how an answer or a failure becomes a result or a :class:`~.errors.CamsError`.
The two faces add only the lines that touch the network (the httpx pattern of
``BaseClient`` / ``Client`` / ``AsyncClient``).

Every request is an RPC-style ``POST /`` with the parameters in the query string, signed
with ACS3-HMAC-SHA256 by :class:`~.signing.AcsV3Auth`, exactly as the official SDK 5.3.1
sends it. ``transport=`` accepts any httpx transport; the local sandbox is one.

Transport failures are sorted by what they mean for the message: a connect failure means
the request surely never arrived (:class:`~.errors.RequestNotSentError`, safe to retry);
a timeout or reset after the request was written means it may have been acted on
(:class:`~.errors.OutcomeUnknownError`, never retried blindly).

Where a client talks is always asked for, never guessed: ``Client.from_env()`` reads the
credentials from ``ALIBABA_CLOUD_*`` and raises :class:`~.errors.MissingCredentialsError`
without them (a cron job with a missing variable must fail, not "send" to a fake service);
``Client.sandbox()`` is the local sandbox, by name, with a one-time notice; :func:`connect`
picks between the two only when told to (``sandbox_fallback=True``).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr
from pydantic_core import from_json

from . import _config as cfg
from .content import dumps
from .errors import (
    MissingCredentialsError,
    OutcomeUnknownError,
    RequestNotSentError,
    TransportError,
    classify_api_error,
)
from .models import Message, SendResult
from .signing import CANONICAL_QUERY_EXTENSION, AcsV3Auth, canonical_query
from .templates import Template, TemplateSummary

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self is 3.11+; annotations are not evaluated

__all__ = ["AsyncClient", "BaseClient", "Client", "connect", "missing_credentials"]

_USER_AGENT = f"cams-notebook/0.1.0 httpx/{httpx.__version__}"
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
_C = TypeVar("_C", bound="BaseClient")
_MAX_TEMPLATES = 64
"""Request templates kept per client (one per action name; there are a handful)."""
_FAST_QUERY_MAX = 8192
"""Longer queries go through httpx's URL parser, so its URL length limit still applies."""
_HTTPX_LOG = logging.getLogger("httpx")
_DIRECT = hasattr(httpx.Client, "_transport_for_url") and hasattr(httpx.AsyncClient,
                                                                  "_transport_for_url")
"""Whether requests may go straight to the transport (see ``BaseClient.prepare_direct``)."""
_sandbox_notice_shown = False
sandbox_client_kwargs: Callable[[bool], dict[str, Any]] | None = None
"""How ``Client.sandbox()`` reaches the local sandbox: client arguments (async or not) for the
process-wide one. The core never imports the sandbox, a capability above it; the package root
(``cams_notebook/__init__.py``) sets this when ``cams_notebook`` is imported."""
"""Whether this process has printed :data:`~._config.SANDBOX_NOTICE` (tests reset it)."""


def resolve_endpoint(endpoint: str | None, region: str) -> str:
    """Turn a host, a URL or nothing into a base URL; plain http only for loopback hosts."""
    if not endpoint:
        host = (cfg.DEFAULT_ENDPOINT if region == cfg.DEFAULT_REGION
                else f"cams.{region}.aliyuncs.com")
        return f"https://{host}"
    if "://" not in endpoint:
        return f"https://{endpoint.rstrip('/')}"
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"endpoint must be a host name or an http(s) URL, not {endpoint!r}")
    if parts.scheme == "http" and parts.hostname not in cfg.LOOPBACK_HOSTS:
        raise ValueError(
            f"endpoint {endpoint!r}: plain http is only allowed for loopback hosts "
            "(127.0.0.1, localhost, ::1); use https"
        )
    return f"{parts.scheme}://{parts.netloc}"


class _QueryUrl:
    """``{base_url}/?{query}`` as an ``httpx.URL``, for a query already in canonical form.

    httpx parses and re-validates a URL string character by character, which was the largest
    part of building a request (~40 us for a SendChatappMessage URL). Here the base is parsed
    once and each call only puts its query in. A canonical query holds only unreserved
    characters, ``%XX``, ``=`` and ``&``, which httpx's parser leaves as they are, so the URL
    is the one httpx would parse. This reaches into httpx's ``URL._uri_reference``; the
    result is checked against the public parser at construction and, should it ever differ
    (another httpx version), or for a query too long to skip httpx's length check, the
    public parser is used.
    """

    __slots__ = ("_base", "_fast", "_root")

    def __init__(self, base_url: str) -> None:
        self._root = f"{base_url}/"
        self._base = httpx.URL(self._root)
        self._fast = False
        probe = canonical_query([("A", "x y"), ("B", '{"k":"Zoë & co"}'), ("C", "a-b_c.d~e")])
        try:
            self._fast = (self._replace(probe)._uri_reference
                          == httpx.URL(f"{self._root}?{probe}")._uri_reference)
        except Exception:  # noqa: BLE001 - httpx internals changed: use the public parser
            self._fast = False

    def _replace(self, query: str) -> httpx.URL:
        url = object.__new__(httpx.URL)
        url._uri_reference = self._base._uri_reference._replace(query=query)
        return url

    def __call__(self, query: str) -> httpx.URL:
        if not query:
            return self._base
        if self._fast and len(query) <= _FAST_QUERY_MAX:
            return self._replace(query)
        return httpx.URL(f"{self._root}?{query}")


def _secret(value: str | SecretStr | None) -> SecretStr | None:
    """Kept for async_twin() as a SecretStr, so no repr of the client shows it."""
    return SecretStr(value) if isinstance(value, str) else value


def _mask(key_id: str) -> str:
    return key_id if len(key_id) <= 8 else f"{key_id[:4]}****{key_id[-4:]}"


def missing_credentials(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The credential variables that are unset or blank in ``environ`` (``os.environ``); ``()``
    when ``Client.from_env()`` can start. Names only: no value is read out.

    >>> missing_credentials({"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI..."})
    ('ALIBABA_CLOUD_ACCESS_KEY_SECRET',)
    """
    env = os.environ if environ is None else environ
    return tuple(name for name in cfg.CREDENTIAL_VARIABLES if not env.get(name, "").strip())


class _SandboxName:
    """One name, two faces: on the class, ``Client.sandbox()`` makes a client wired to the local
    sandbox; on a client, ``client.sandbox`` is the in-process sandbox it talks to, or None.

    Both are what a user means by "the sandbox" where they meet it, so they share the name; a
    data descriptor keeps each face typed (a plain classmethod shadowed by an attribute
    would not be).
    """

    @overload
    def __get__(self, obj: None, owner: type[_C]) -> Callable[..., _C]: ...
    @overload
    def __get__(self, obj: BaseClient, owner: type[BaseClient] | None = None) -> Any: ...

    def __get__(self, obj: BaseClient | None, owner: Any = None) -> Any:
        if obj is None:
            return owner._sandbox_client
        return obj.__dict__.get("sandbox")

    def __set__(self, obj: BaseClient, value: Any) -> None:
        obj.__dict__["sandbox"] = value


class BaseClient:
    """Configuration, request building and answer reading shared by both clients; no I/O."""

    sandbox = _SandboxName()
    _is_async: ClassVar[bool] = False

    def __init__(
        self,
        *,
        access_key_id: str,
        access_key_secret: str | SecretStr,
        security_token: str | SecretStr | None = None,
        region: str = cfg.DEFAULT_REGION,
        endpoint: str | None = None,
        timeout: float = cfg.DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] | None = None,
        sandbox: Any = None,
    ) -> None:
        if not access_key_id or not access_key_secret:
            raise ValueError("access_key_id and access_key_secret are both required (or "
                             "Client.from_env() to read them from ALIBABA_CLOUD_*, or "
                             "Client.sandbox() for the local sandbox)")
        self.region = region
        self.base_url = resolve_endpoint(endpoint, region)
        self.access_key_id = access_key_id
        self.timeout = float(timeout)
        self.sandbox = sandbox  # the in-process sandbox this client talks to, or None
        self._settings: dict[str, Any] = dict(
            access_key_id=access_key_id, access_key_secret=_secret(access_key_secret),
            security_token=_secret(security_token), region=region, endpoint=endpoint,
            timeout=timeout, clock=clock, nonce=nonce, sandbox=sandbox)
        extra = {"nonce": nonce} if nonce is not None else {}
        self.auth = AcsV3Auth(access_key_id, access_key_secret, security_token=security_token,
                              clock=clock, **extra)
        self._httpx_timeout = httpx.Timeout(self.timeout, connect=min(self.timeout,
                                                                      cfg.DEFAULT_CONNECT_TIMEOUT))
        self._timeout_extension = self._httpx_timeout.as_dict()
        self._url = _QueryUrl(self.base_url)
        self._templates: dict[str, httpx.Request] = {}

    @classmethod
    def _env_kwargs(cls, environ: Mapping[str, str] | None) -> dict[str, Any]:
        """Client arguments from the environment; :class:`MissingCredentialsError` without keys."""
        env = os.environ if environ is None else environ
        missing = missing_credentials(env)
        if missing:
            raise MissingCredentialsError(missing=missing)
        kwargs: dict[str, Any] = {"access_key_id": env[cfg.ENV_ACCESS_KEY_ID].strip(),
                                  "access_key_secret": env[cfg.ENV_ACCESS_KEY_SECRET].strip()}
        if env.get(cfg.ENV_REGION):
            kwargs["region"] = env[cfg.ENV_REGION]
        if env.get(cfg.ENV_SECURITY_TOKEN):
            kwargs["security_token"] = env[cfg.ENV_SECURITY_TOKEN]
        if env.get(cfg.ENV_ENDPOINT):
            kwargs["endpoint"] = env[cfg.ENV_ENDPOINT]
        return kwargs

    @classmethod
    def _sandbox_client(cls, **overrides: Any) -> Self:
        """A client wired to the process-wide local sandbox; nothing leaves this machine.

        The only way to the sandbox besides building a :class:`~.sandbox.Sandbox` yourself:
        asked for by name, so it is never a silent stand-in for the real service. Every client
        made this way shares one sandbox (``cams_notebook.sandbox.default_sandbox()``: its
        templates, magic numbers, messages and receipts); the first one prints a notice.
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

        The endpoint is ``"sandbox:in-process"`` for a client wired to an in-process sandbox,
        else the base URL (a loopback sandbox server shows as its ``http://127.0.0.1:PORT``).
        For journals and logs: never the secret.

        >>> Client(access_key_id="LTAI5t", access_key_secret="s").account
        ('https://cams.ap-southeast-1.aliyuncs.com', 'LTAI5t')
        """
        endpoint = cfg.SANDBOX_ENDPOINT if self.sandbox is not None else self.base_url
        return endpoint, self.access_key_id

    # -- building --------------------------------------------------------------------------

    def build_request(self, action: str, params: Mapping[str, str]) -> httpx.Request:
        """The unsigned ``httpx.Request`` for one RPC call (signing happens in ``auth``)."""
        # The query goes out in canonical form (sorted, RFC 3986): a valid URL query that the
        # signer can use as it is, and which the service decodes to the same values.
        query = canonical_query(params.items())
        template = self._templates.get(action) or self._template(action)
        # The template's headers (Host and Content-Length included, in httpx's order) and
        # empty body, with this call's query: what httpx.Request would build, for less.
        request = httpx.Request("POST", self._url(query), headers=template.headers,
                                stream=template.stream,
                                extensions={CANONICAL_QUERY_EXTENSION: query})
        request.read()
        return request

    def _template(self, action: str) -> httpx.Request:
        """The request for ``action`` without parameters, built the ordinary way, once."""
        request = httpx.Request(
            "POST",
            self._url(""),
            headers={
                "x-acs-action": action,
                "x-acs-version": cfg.API_VERSION,
                "accept": "application/json",
                "user-agent": _USER_AGENT,
            },
        )
        if len(self._templates) < _MAX_TEMPLATES:
            self._templates[action] = request
        return request

    # -- sending ---------------------------------------------------------------------------
    #
    # What httpx.Client.send does around the transport was a fifth of a send's CPU, most of
    # it filling a cookie jar that no request of ours ever reads (httpx adds cookies only in
    # Client.build_request, which we do not use). Besides that it signs (auth), sets the
    # timeout, wraps the answer's stream to time it and logs a line. So the clients set the
    # timeout and sign themselves, log the same line, and hand the request to the transport
    # httpx would pick (``_transport_for_url``: proxies from the environment are mounts).
    # Without that method (another httpx), or on a closed client, httpx.Client.send is used.

    def prepare_direct(self, request: httpx.Request) -> None:
        """Make ``request`` ready for its transport as ``httpx.Client.send`` would: timeout,
        signature."""
        if "timeout" not in request.extensions:
            request.extensions["timeout"] = self._timeout_extension
        self.auth.sign(request)

    @staticmethod
    def received(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        """Note an answer from the transport as ``httpx.Client.send`` does (its log line too)."""
        response.request = request
        if _HTTPX_LOG.isEnabledFor(logging.INFO):
            _HTTPX_LOG.info('HTTP Request: %s %s "%s %d %s"', request.method, request.url,
                            response.http_version, response.status_code, response.reason_phrase)
        return response

    # -- reading ---------------------------------------------------------------------------

    @staticmethod
    def transport_error(exc: httpx.HTTPError) -> TransportError:
        """Sort an httpx failure into 'surely not sent' or 'outcome unknown'."""
        if isinstance(exc, _NOT_SENT):
            return RequestNotSentError(f"the request did not reach the service: {exc!r}", cause=exc)
        return OutcomeUnknownError(
            f"no answer could be read; the service may have acted on the request: {exc!r}",
            cause=exc)

    def check_body(self, size: int, started: float, now: float) -> None:
        """Stop reading an answer that is too large or arrives too slowly."""
        if size > cfg.MAX_RESPONSE_BYTES:
            raise OutcomeUnknownError(f"the answer is larger than {cfg.MAX_RESPONSE_BYTES} bytes")
        if now - started > self.timeout:
            raise OutcomeUnknownError(f"the answer took longer than {self.timeout:g} s to arrive")

    def read_response(self, action: str, status: int, headers: httpx.Headers,
                      body: bytes) -> dict[str, Any]:
        """Decode an answer; raise :class:`ApiError` for a failure, return the JSON for success."""
        try:
            # pydantic-core's parser: a fifth of json.loads's time on these small answers
            data = from_json(body) if body else None
        except (ValueError, UnicodeDecodeError, RecursionError):  # not JSON, or absurdly nested
            data = None
        retry_after = _retry_after(headers)
        if not isinstance(data, dict):
            snippet = body[:200].decode("utf-8", "replace").strip() or "(empty)"
            if 200 <= status < 300:
                raise OutcomeUnknownError(
                    f"{action}: HTTP {status} with an answer that is not CAMS JSON: {snippet!r}")
            code = "ServiceUnavailable" if status >= 500 else f"HTTP{status}"
            cls = classify_api_error(code, status, retry_after)
            raise cls(f"HTTP {status} with a non-JSON answer: {snippet!r}", code=code,
                      status_code=status, retry_after=retry_after)
        answered = data.get("Code")
        if 200 <= status < 300 and retry_after is None and (answered in ("OK", None, "200")):
            return data
        code = str(answered or f"HTTP{status}")
        cls = classify_api_error(code, status, retry_after)
        raise cls(
            str(data.get("Message") or code), code=code, request_id=data.get("RequestId"),
            status_code=status, recommend=data.get("Recommend"), host_id=data.get("HostId"),
            access_denied_detail=data.get("AccessDeniedDetail"), retry_after=retry_after,
            data=data,
        )

    @staticmethod
    def send_result(data: dict[str, Any]) -> SendResult:
        """A :class:`SendResult` from a successful SendChatappMessage answer."""
        message_id = data.get("MessageId")
        if not isinstance(message_id, str) or not message_id:
            raise OutcomeUnknownError(
                "SendChatappMessage answered OK without a MessageId (got "
                f"{type(message_id).__name__}); the message may have been sent")
        try:
            result = SendResult.model_validate(data)
        except ValueError as exc:
            raise OutcomeUnknownError(
                f"SendChatappMessage answered OK with a malformed body: {exc}") from exc
        if not result.message_id:
            raise OutcomeUnknownError(
                "SendChatappMessage answered OK without a MessageId; the message may have been "
                "sent")
        return result

    @staticmethod
    def template_list_params(page: int, size: int,
                             filters: Mapping[str, str | None]) -> dict[str, str]:
        """ListChatappTemplate parameters for one page (``Page`` is JSON, as the SDK sends it)."""
        params = {k: v for k, v in filters.items() if v is not None}
        params["Page"] = dumps({"Index": page, "Size": size})
        return params

    @staticmethod
    def template_page(data: dict[str, Any]) -> tuple[list[TemplateSummary], int]:
        rows = [TemplateSummary.model_validate(r) for r in data.get("ListTemplate") or []]
        return rows, int(data.get("Total") or 0)

    @staticmethod
    def template_detail_params(code: str | None, name: str | None, language: str,
                               template_type: str | None) -> dict[str, str]:
        if not code and not name:
            raise ValueError("give a template code or a template name")
        params = {"Language": language}
        if code:
            params["TemplateCode"] = code
        if name:
            params["TemplateName"] = name
        if template_type:
            params["TemplateType"] = template_type
        return params

    def __repr__(self) -> str:
        where = "sandbox" if self.sandbox is not None else self.base_url
        key = _mask(self.access_key_id)
        return f"{type(self).__name__}(endpoint={where!r}, access_key_id={key!r})"


_TEMPLATE_FILTERS = ("name", "code", "language", "audit_status", "template_type", "category",
                     "cust_space_id")
_FILTER_WIRE = {"name": "Name", "code": "Code", "language": "Language",
                "audit_status": "AuditStatus", "template_type": "TemplateType",
                "category": "Category", "cust_space_id": "CustSpaceId"}


def _filters(kwargs: Mapping[str, str | None]) -> dict[str, str | None]:
    unknown = set(kwargs) - set(_TEMPLATE_FILTERS)
    if unknown:
        raise TypeError(f"unknown template filter(s): {', '.join(sorted(unknown))}")
    return {_FILTER_WIRE[k]: v for k, v in kwargs.items()}


def _name_request(exc: httpx.RequestError, request: httpx.Request) -> None:
    """Attach the failed request to a transport error, as ``httpx.Client.send`` does."""
    try:
        exc.request  # noqa: B018 - the property raises when no request is attached
    except RuntimeError:
        exc.request = request


def _retry_after(headers: httpx.Headers) -> float | None:
    """``x-acs-retry-after`` in seconds (the header carries milliseconds), or None."""
    entries = getattr(headers, "_list", None)  # httpx's (name, lower-case name, value) triples
    if entries is not None and not any(entry[1] == b"x-acs-retry-after" for entry in entries):
        return None  # the usual case, found without decoding every header
    values = headers.get_list("x-acs-retry-after")  # as headers.get(), without a KeyError
    if not values:
        return None
    raw = ", ".join(values)
    try:
        return max(0.0, float(raw) / 1000.0)
    except ValueError:
        return 1.0


def _announce_sandbox() -> None:
    """Say once per process that a client talks to the local sandbox; stdout, because a notebook
    shows stderr as an error box and this is not an error."""
    global _sandbox_notice_shown
    if not _sandbox_notice_shown:
        _sandbox_notice_shown = True
        print(cfg.SANDBOX_NOTICE, file=sys.stdout, flush=True)


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

    def __init__(self, *, transport: httpx.BaseTransport | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._transport = transport
        self._http = httpx.Client(transport=transport, timeout=self._httpx_timeout, auth=self.auth)

    def async_twin(self, **overrides: Any) -> AsyncClient:
        """An :class:`AsyncClient` with the same credentials, endpoint and (async) transport."""
        transport = self._transport
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
        return cls(**{**cls._env_kwargs(environ), **overrides})

    def call(self, action: str, params: Mapping[str, str]) -> dict[str, Any]:
        """One signed RPC call; the decoded JSON of a successful answer."""
        request = self.build_request(action, params)
        started = time.monotonic()
        try:
            resp = self._open(request)
            try:
                chunks: list[bytes] = []
                size = 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    chunks.append(chunk)
                    self.check_body(size, started, time.monotonic())
            finally:
                resp.close()
        except httpx.HTTPError as exc:
            raise self.transport_error(exc) from exc
        return self.read_response(action, resp.status_code, resp.headers, b"".join(chunks))

    def _open(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; its answer's body is still to be read (see "sending" above)."""
        http = self._http
        if not _DIRECT or http.is_closed:
            return http.send(request, stream=True)
        transport = http._transport_for_url(request.url)
        self.prepare_direct(request)
        try:
            response = transport.handle_request(request)
        except httpx.RequestError as exc:
            _name_request(exc, request)
            raise
        return self.received(request, response)

    def send(self, message: Message) -> SendResult:
        """Send one message; raises a :class:`~.errors.CamsError` unless the answer is ``OK``."""
        return self.send_result(self.call("SendChatappMessage", message.to_query()))

    def list_templates(self, *, page_size: int = 50,
                       **filters: str | None) -> list[TemplateSummary]:
        """Every template (ListChatappTemplate, all pages); filters: name, code, language,
        audit_status, template_type, category, cust_space_id."""
        wanted, rows, page = _filters(filters), [], 1
        while True:
            data = self.call("ListChatappTemplate",
                             self.template_list_params(page, page_size, wanted))
            chunk, total = self.template_page(data)
            rows += chunk
            if not chunk or len(rows) >= total:
                return rows
            page += 1

    def get_template(self, code: str | None = None, *, language: str, name: str | None = None,
                     template_type: str | None = None) -> Template:
        """One template with its components and variables (GetChatappTemplateDetail)."""
        params = self.template_detail_params(code, name, language, template_type)
        return Template.model_validate(self.call("GetChatappTemplateDetail", params)["Data"])

    def close(self) -> None:
        self._http.close()

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
                 limits: httpx.Limits | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if transport is None:  # see cams_notebook.lean_transport for why not httpx's own pool
            from .lean_transport import default_async_transport

            transport = default_async_transport()
        self._http = httpx.AsyncClient(
            transport=transport, timeout=self._httpx_timeout, auth=self.auth,
            limits=limits or httpx.Limits(max_connections=400, max_keepalive_connections=400))

    @classmethod
    def from_env(cls, *, environ: Mapping[str, str] | None = None, **overrides: Any) -> AsyncClient:
        """The asyncio twin of :meth:`Client.from_env`: :class:`MissingCredentialsError` without
        credentials, never the sandbox (that is ``AsyncClient.sandbox()``)."""
        return cls(**{**cls._env_kwargs(environ), **overrides})

    async def call(self, action: str, params: Mapping[str, str]) -> dict[str, Any]:
        """One signed RPC call; the decoded JSON of a successful answer."""
        request = self.build_request(action, params)
        started = time.monotonic()
        try:
            resp = await self._open(request)
            try:
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    chunks.append(chunk)
                    self.check_body(size, started, time.monotonic())
            finally:
                await resp.aclose()
        except httpx.HTTPError as exc:
            raise self.transport_error(exc) from exc
        return self.read_response(action, resp.status_code, resp.headers, b"".join(chunks))

    async def _open(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; its answer's body is still to be read (see "sending" above)."""
        http = self._http
        if not _DIRECT or http.is_closed:
            return await http.send(request, stream=True)
        transport = http._transport_for_url(request.url)
        self.prepare_direct(request)
        try:
            response = await transport.handle_async_request(request)
        except httpx.RequestError as exc:
            _name_request(exc, request)
            raise
        return self.received(request, response)

    async def send(self, message: Message) -> SendResult:
        """Send one message; raises a :class:`~.errors.CamsError` unless the answer is ``OK``."""
        return self.send_result(await self.call("SendChatappMessage", message.to_query()))

    async def list_templates(self, *, page_size: int = 50,
                             **filters: str | None) -> list[TemplateSummary]:
        """Every template (ListChatappTemplate, all pages); the filters of
        ``Client.list_templates``."""
        wanted, rows, page = _filters(filters), [], 1
        while True:
            data = await self.call("ListChatappTemplate",
                                   self.template_list_params(page, page_size, wanted))
            chunk, total = self.template_page(data)
            rows += chunk
            if not chunk or len(rows) >= total:
                return rows
            page += 1

    async def get_template(self, code: str | None = None, *, language: str, name: str | None = None,
                           template_type: str | None = None) -> Template:
        """One template with its components and variables (GetChatappTemplateDetail)."""
        params = self.template_detail_params(code, name, language, template_type)
        data = await self.call("GetChatappTemplateDetail", params)
        return Template.model_validate(data["Data"])

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

