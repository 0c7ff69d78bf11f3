"""What goes on the wire, without I/O: signed CAMS requests out, answers and failures in.

Both clients (:mod:`cams_notebook.client`) and anything else that talks to CAMS share this
core; the blocking and asyncio faces add only the lines that touch the network (the httpx
``BaseClient`` / ``Client`` / ``AsyncClient`` pattern).

Every request is an RPC-style ``POST /`` with the parameters in the query string and an
empty body, signed with ACS3-HMAC-SHA256, as the official SDK 5.3.1 sends it. A
:class:`RequestBuilder` signs while it builds (the signer takes plain strings:
:meth:`~.signing.AcsV3Auth.signing_headers`), so the request handed to a transport is final
and a transport, the sandbox or a wrapper sees it signed once. Only public httpx API is used.

Transport failures are sorted by what they mean for the message: a connect failure means the
request surely never arrived (:class:`~.errors.RequestNotSentError`, safe to retry); a
timeout or reset after the request was written means it may have been acted on
(:class:`~.errors.OutcomeUnknownError`, never retried blindly).
"""

from __future__ import annotations

import logging
import time
import urllib.request
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import httpx
from pydantic_core import from_json

from . import _config as cfg
from .content import dumps
from .errors import (
    CamsError,
    OutcomeUnknownError,
    RequestNotSentError,
    TransportError,
    classify_api_error,
)
from .models import SendResult
from .signing import CANONICAL_QUERY_EXTENSION, AcsV3Auth, canonical_query
from .templates import TemplateSummary

__all__ = ["Body", "RequestBuilder", "check_body", "env_proxy", "read_response", "received",
           "resolve_endpoint", "retry_after", "send_result", "template_detail_params",
           "template_list_params", "template_page", "transport_error"]

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
_HTTPX_LOG = logging.getLogger("httpx")
_EMPTY_BODY = httpx.ByteStream(b"")
_MAX_ACTIONS = 64
"""Per-action header sets kept per builder (one per action name; there are a handful)."""


def resolve_endpoint(endpoint: str | None, region: str) -> str:
    """Turn a host, a URL or nothing into a base URL; plain http only for local hosts.

    Local hosts are the loopback ones and :data:`~._config.SANDBOX_HOST`, a name under
    ``.invalid`` that no resolver answers (RFC 6761): the in-process sandbox's, which only
    its transport ever reaches.
    """
    if not endpoint:
        host = (cfg.DEFAULT_ENDPOINT if region == cfg.DEFAULT_REGION
                else f"cams.{region}.aliyuncs.com")
        return f"https://{host}"
    if "://" not in endpoint:
        return f"https://{endpoint.rstrip('/')}"
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"endpoint must be a host name or an http(s) URL, not {endpoint!r}")
    if parts.scheme == "http" and not is_local(parts.hostname):
        raise ValueError(
            f"endpoint {endpoint!r}: plain http is only allowed for loopback hosts "
            "(127.0.0.1, localhost, ::1); use https"
        )
    return f"{parts.scheme}://{parts.netloc}"


def is_local(host: str | None) -> bool:
    """Whether ``host`` is this machine: a loopback name or the in-process sandbox's."""
    return host in cfg.LOOPBACK_HOSTS or host == cfg.SANDBOX_HOST


def env_proxy(url: str) -> str | None:
    """The proxy the environment sets for ``url`` (``HTTPS_PROXY``, ``ALL_PROXY``... minus
    ``NO_PROXY``), as ``httpx.Client(trust_env=True)`` would pick it; None for a direct line."""
    parts = urlsplit(url)
    if is_local(parts.hostname):
        return None
    proxies = urllib.request.getproxies_environment()
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if not proxies or bypass(parts.netloc, proxies):
        return None
    return proxies.get(parts.scheme) or proxies.get("all")


class _Action(NamedTuple):
    headers: list[tuple[bytes, bytes]]
    """Sent as they are, before the signing headers."""
    signed: dict[str, str]
    """Lower-case name -> value of those that are signed."""


class RequestBuilder:
    """Builds the signed ``httpx.Request`` of one RPC call; holds no connection.

    >>> from cams_notebook.signing import AcsV3Auth
    >>> auth = AcsV3Auth("LTAI_TEST_ID", "TEST_SECRET", clock=lambda: 0.0, nonce=lambda: "n1")
    >>> request = RequestBuilder("https://cams.ap-southeast-1.aliyuncs.com", auth,
    ...                          user_agent="test").build("GetChatappTemplateDetail", {"A": "1"})
    >>> str(request.url), request.headers["x-acs-date"]
    ('https://cams.ap-southeast-1.aliyuncs.com/?A=1', '1970-01-01T00:00:00Z')
    """

    __slots__ = ("_actions", "_root", "auth", "host", "timeout", "user_agent")

    def __init__(self, base_url: str, auth: AcsV3Auth, *, user_agent: str,
                 timeout: httpx.Timeout | None = None) -> None:
        self._root = f"{base_url}/"
        self.host = httpx.URL(self._root).netloc.decode("ascii")
        self.auth = auth
        self.user_agent = user_agent
        self.timeout = (timeout or httpx.Timeout(cfg.DEFAULT_TIMEOUT)).as_dict()
        self._actions: dict[str, _Action] = {}

    def parts(self, action: str,
              params: Mapping[str, str]) -> tuple[str, list[tuple[bytes, bytes]]]:
        """The query string and the signed headers of a call: all a line to the service needs.

        The query is in canonical form (sorted, RFC 3986): a valid URL query that the signer
        uses as it is and the service decodes to the same values.
        """
        query = canonical_query(params.items())
        known = self._actions.get(action) or self._action(action)
        added = self.auth.signing_headers("POST", "/", query, known.signed)
        return query, known.headers + [(name.encode(), value.encode())
                                       for name, value in added.items()]

    def build(self, action: str, params: Mapping[str, str]) -> httpx.Request:
        """The signed request, for an httpx transport."""
        query, headers = self.parts(action, params)
        url = httpx.URL(f"{self._root}?{query}" if query else self._root)
        request = httpx.Request("POST", url, headers=headers, stream=_EMPTY_BODY,
                                extensions={"timeout": self.timeout,
                                            CANONICAL_QUERY_EXTENSION: query})
        request.read()  # the empty body, so request.content works for a transport
        return request

    def _action(self, action: str) -> _Action:
        signed = {"host": self.host, "x-acs-action": action, "x-acs-version": cfg.API_VERSION}
        sent = [("Host", self.host), ("x-acs-action", action),
                ("x-acs-version", cfg.API_VERSION), ("accept", "application/json"),
                ("user-agent", self.user_agent), ("Content-Length", "0")]
        known = _Action([(k.encode(), v.encode()) for k, v in sent], signed)
        if len(self._actions) < _MAX_ACTIONS:
            self._actions[action] = known
        return known


def received(request: httpx.Request, response: httpx.Response) -> httpx.Response:
    """Note an answer from a transport as ``httpx.Client.send`` does, its log line included."""
    response.request = request
    if _HTTPX_LOG.isEnabledFor(logging.INFO):
        _HTTPX_LOG.info('HTTP Request: %s %s "%s %d %s"', request.method, request.url,
                        response.http_version, response.status_code, response.reason_phrase)
    return response


def name_request(exc: httpx.RequestError, request: httpx.Request) -> None:
    """Attach the failed request to a transport error, as ``httpx.Client.send`` does."""
    try:
        exc.request  # noqa: B018 - the property raises when no request is attached
    except RuntimeError:
        exc.request = request


def transport_error(exc: httpx.HTTPError) -> TransportError:
    """Sort an httpx failure into 'surely not sent' or 'outcome unknown'."""
    if isinstance(exc, _NOT_SENT):
        return RequestNotSentError(f"the request did not reach the service: {exc!r}", cause=exc)
    return OutcomeUnknownError(
        f"no answer could be read; the service may have acted on the request: {exc!r}",
        cause=exc)


def check_body(size: int, seconds: float, timeout: float) -> None:
    """Stop reading an answer that is too large or arrives too slowly."""
    if size > cfg.MAX_RESPONSE_BYTES:
        raise OutcomeUnknownError(f"the answer is larger than {cfg.MAX_RESPONSE_BYTES} bytes")
    if seconds > timeout:
        raise OutcomeUnknownError(f"the answer took longer than {timeout:g} s to arrive")


class Body:
    """An answer's body as its chunks arrive, abandoned when too large or too slow in total
    (a slowloris answer keeps each read under the read timeout)."""

    __slots__ = ("_chunks", "_size", "_started", "_timeout")

    def __init__(self, timeout: float) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        self._started = time.monotonic()
        self._timeout = timeout

    def add(self, chunk: bytes) -> None:
        self._size += len(chunk)
        self._chunks.append(chunk)
        check_body(self._size, time.monotonic() - self._started, self._timeout)

    def bytes(self) -> bytes:
        return b"".join(self._chunks)


def read_response(action: str, status: int, headers: httpx.Headers | list[tuple[bytes, bytes]],
                  body: bytes) -> dict[str, Any]:
    """Decode an answer; raise :class:`~.errors.ApiError` for a failure, return the JSON."""
    try:
        # pydantic-core's parser: a fifth of json.loads's time on these small answers
        data = from_json(body) if body else None
    except (ValueError, UnicodeDecodeError, RecursionError):  # not JSON, or absurdly nested
        data = None
    wait = retry_after(headers)
    if not isinstance(data, dict):
        raise _not_json(action, status, body, wait)
    answered = data.get("Code")
    if 200 <= status < 300 and wait is None and (answered in ("OK", None, "200")):
        return data
    code = str(answered or f"HTTP{status}")
    cls = classify_api_error(code, status, wait)
    raise cls(
        str(data.get("Message") or code), code=code, request_id=data.get("RequestId"),
        status_code=status, recommend=data.get("Recommend"), host_id=data.get("HostId"),
        access_denied_detail=data.get("AccessDeniedDetail"), retry_after=wait, data=data,
    )


def _not_json(action: str, status: int, body: bytes, wait: float | None) -> CamsError:
    snippet = body[:200].decode("utf-8", "replace").strip() or "(empty)"
    if 200 <= status < 300:
        return OutcomeUnknownError(
            f"{action}: HTTP {status} with an answer that is not CAMS JSON: {snippet!r}")
    code = "ServiceUnavailable" if status >= 500 else f"HTTP{status}"
    cls = classify_api_error(code, status, wait)
    return cls(f"HTTP {status} with a non-JSON answer: {snippet!r}", code=code,
               status_code=status, retry_after=wait)


def retry_after(headers: httpx.Headers | list[tuple[bytes, bytes]]) -> float | None:
    """``x-acs-retry-after`` in seconds (the header carries milliseconds), or None."""
    pairs = headers.raw if isinstance(headers, httpx.Headers) else headers
    values = [value for name, value in pairs if name.lower() == b"x-acs-retry-after"]
    if not values:
        return None
    try:
        return max(0.0, float(b", ".join(values).decode("latin-1")) / 1000.0)
    except ValueError:
        return 1.0


def send_result(data: dict[str, Any]) -> SendResult:
    """A :class:`~.models.SendResult` from a successful SendChatappMessage answer."""
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


TEMPLATE_FILTERS = {"name": "Name", "code": "Code", "language": "Language",
                    "audit_status": "AuditStatus", "template_type": "TemplateType",
                    "category": "Category", "cust_space_id": "CustSpaceId"}
"""``list_templates`` keyword -> ListChatappTemplate parameter."""


def template_filters(kwargs: Mapping[str, str | None]) -> dict[str, str | None]:
    unknown = set(kwargs) - set(TEMPLATE_FILTERS)
    if unknown:
        raise TypeError(f"unknown template filter(s): {', '.join(sorted(unknown))}")
    return {TEMPLATE_FILTERS[k]: v for k, v in kwargs.items()}


def template_list_params(page: int, size: int,
                         filters: Mapping[str, str | None]) -> dict[str, str]:
    """ListChatappTemplate parameters for one page (``Page`` is JSON, as the SDK sends it)."""
    params = {k: v for k, v in filters.items() if v is not None}
    params["Page"] = dumps({"Index": page, "Size": size})
    return params


def template_page(data: dict[str, Any]) -> tuple[list[TemplateSummary], int]:
    rows = [TemplateSummary.model_validate(r) for r in data.get("ListTemplate") or []]
    return rows, int(data.get("Total") or 0)


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
