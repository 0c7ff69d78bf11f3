"""Simple Message Queue (SMQ, formerly MNS): request signing and the REST calls a receipt
consumer needs (reference ``smq_receipts.md`` section 2).

Signing (MNS API version ``2015-06-06``)::

    StringToSign = VERB \\n Content-MD5 \\n Content-Type \\n Date \\n
                   CanonicalizedMNSHeaders CanonicalizedResource
    Authorization = "MNS " + AccessKeyId + ":" + base64(hmac_sha1(secret, StringToSign))

``CanonicalizedMNSHeaders`` is every ``x-mns-*`` header, sorted, as ``name:value\\n``;
``CanonicalizedResource`` is the path and the query exactly as sent (receipt handles go
into the query unencoded, as the official SDKs send them). The STS token travels in the
``security-token`` header, added after signing and so not signed. ``Content-MD5`` is
``base64(hex(md5(body)))``, the form both official SDKs send.

:class:`MnsAuth` signs for ``httpx``; :class:`MnsClient` makes the five calls a consumer
needs (ReceiveMessage, BatchReceiveMessage, DeleteMessage, BatchDeleteMessage,
ChangeMessageVisibility). ``MessageNotExist`` is an answer, not an error, for a consumer:
an empty queue after the long poll, or a handle that is already gone; the client reports
both as such (an empty list, ``False``) rather than raising.

Written here rather than taken from ``aliyun-mns-sdk`` because that SDK is blocking
``http.client`` without a transport hook (so it cannot reach the in-process sandbox) and
the protocol is small; the SDK is the reference the tests check against.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import TYPE_CHECKING
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import httpx
from pydantic import SecretStr

from .errors import ApiError
from .wire import transport_error

if TYPE_CHECKING:  # typing.Self is 3.11+; annotations are never evaluated at runtime
    from typing_extensions import Self

__all__ = [
    "MNS_VERSION",
    "BatchDeleteResult",
    "MnsAuth",
    "MnsClient",
    "MnsCredentials",
    "MnsError",
    "QueueMessage",
    "content_md5",
    "format_mns_date",
    "mns_authorization",
    "mns_string_to_sign",
]

MNS_VERSION = "2015-06-06"
XMLNS = "http://mns.aliyuncs.com/doc/v1/"
MAX_BATCH = 16
"""BatchReceiveMessage and BatchDeleteMessage take at most 16 messages."""
MAX_WAIT_SECONDS = 30
"""The longest long poll the service allows."""
AUTH_CODES = frozenset({"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
                        "SecurityTokenExpired", "InvalidSecurityToken"})
_XML = "text/xml;charset=UTF-8"


class MnsError(ApiError):
    """SMQ answered with an ``<Error>``: ``code`` (``QueueNotExist``, ``AccessDenied``...),
    ``message``, ``request_id``, ``host_id`` and ``status_code``."""

    @property
    def is_auth(self) -> bool:
        """True when fresh credentials may help (403, or an access/signature code)."""
        return self.status_code == 403 or self.code in AUTH_CODES


@dataclass(frozen=True)
class MnsCredentials:
    """An AccessKey pair for SMQ, usually temporary (STS) with its ``security_token``."""

    access_key_id: str
    access_key_secret: SecretStr
    security_token: SecretStr | None = None
    expires_at: float | None = None
    """Epoch seconds on the local clock after which these are no longer valid, if known."""

    @classmethod
    def of(cls, access_key_id: str, access_key_secret: str, security_token: str | None = None,
           expires_at: float | None = None) -> MnsCredentials:
        return cls(access_key_id, SecretStr(access_key_secret),
                   SecretStr(security_token) if security_token else None, expires_at)


@dataclass(frozen=True)
class QueueMessage:
    """One message as received: ``body`` is the text exactly as the queue holds it."""

    message_id: str
    receipt_handle: str
    body: str
    body_md5: str = ""
    enqueue_time: int = 0
    """Unix milliseconds, as are the other times."""
    first_dequeue_time: int = 0
    next_visible_time: int = 0
    dequeue_count: int = 0
    priority: int = 8


@dataclass
class BatchDeleteResult:
    """Handles that failed to delete, by error code. ``MessageNotExist`` means "already gone"
    (deleted before, or its visibility ran out): a consumer counts it as done."""

    gone: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


# -- signing ---------------------------------------------------------------------------------


def format_mns_date(epoch_seconds: float) -> str:
    """RFC 1123 GMT, e.g. ``Thu, 03 Aug 2023 06:20:38 GMT``."""
    return formatdate(epoch_seconds, usegmt=True)


def content_md5(body: bytes) -> str:
    """``Content-MD5`` as the official SDKs send it: base64 of the hex digest."""
    return base64.b64encode(hashlib.md5(body).hexdigest().encode("ascii")).decode("ascii")


def mns_string_to_sign(method: str, headers: Mapping[str, str], resource: str) -> str:
    """The MNS StringToSign; ``headers`` must have lower-case names."""
    mns_headers = "".join(f"{name}:{headers[name].strip()}\n"
                          for name in sorted(headers) if name.startswith("x-mns-"))
    return (f"{method.upper()}\n{headers.get('content-md5', '')}\n{headers.get('content-type', '')}"
            f"\n{headers.get('date', '')}\n{mns_headers}{resource}")


def mns_signature(secret: str, string_to_sign: str) -> str:
    """base64(HMAC-SHA1(secret, StringToSign))."""
    digest = hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def mns_authorization(access_key_id: str, secret: str, method: str, headers: Mapping[str, str],
                      resource: str) -> str:
    """The ``Authorization`` header value: ``MNS <AccessKeyId>:<Signature>``."""
    signature = mns_signature(secret, mns_string_to_sign(method, headers, resource))
    return f"MNS {access_key_id}:{signature}"


class MnsAuth(httpx.Auth):
    """Signs SMQ requests; ``credentials`` is a pair or a callable returning the current one
    (so a token can be refreshed between requests), ``clock`` gives epoch seconds.

    >>> auth = MnsAuth(MnsCredentials.of("TestAccessID", "TestAccessSecret"), clock=lambda: 0.0)
    >>> auth
    MnsAuth(access_key_id='TestAccessID')
    """

    requires_request_body = True

    def __init__(self, credentials: MnsCredentials | Callable[[], MnsCredentials], *,
                 clock: Callable[[], float] = time.time) -> None:
        self._credentials = credentials
        self._clock = clock

    def current(self) -> MnsCredentials:
        c = self._credentials
        return c if isinstance(c, MnsCredentials) else c()

    def __repr__(self) -> str:
        c = self._credentials
        who = c.access_key_id if isinstance(c, MnsCredentials) else "<refreshing>"
        return f"MnsAuth(access_key_id={who!r})"

    def sign(self, request: httpx.Request) -> None:
        """Add ``date``, ``x-mns-version``, body headers, ``Authorization`` (and the token)."""
        creds = self.current()
        headers = request.headers
        headers["date"] = format_mns_date(self._clock())
        headers["x-mns-version"] = MNS_VERSION
        body = request.content
        if body:
            headers["content-md5"] = content_md5(body)
            headers.setdefault("content-type", _XML)
        lowered = {k.lower(): v for k, v in headers.items()}
        resource = request.url.raw_path.decode("ascii")
        headers["authorization"] = mns_authorization(
            creds.access_key_id, creds.access_key_secret.get_secret_value(), request.method,
            lowered, resource)
        if creds.security_token is not None:
            headers["security-token"] = creds.security_token.get_secret_value()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request


# -- XML -------------------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _fields(element: ElementTree.Element) -> dict[str, str]:
    return {_local(child.tag): (child.text or "") for child in element}


def parse_messages(xml: bytes) -> list[QueueMessage]:
    """``<Messages>`` (BatchReceive) or a single ``<Message>`` (Receive), namespace-agnostic."""
    root = ElementTree.fromstring(xml)
    if _local(root.tag) == "Message":
        items = [root]
    else:
        items = [e for e in root if _local(e.tag) == "Message"]
    out = []
    for item in items:
        f = _fields(item)
        out.append(QueueMessage(
            message_id=f["MessageId"], receipt_handle=f["ReceiptHandle"],
            body=f.get("MessageBody", ""), body_md5=f.get("MessageBodyMD5", ""),
            enqueue_time=int(f.get("EnqueueTime") or 0),
            first_dequeue_time=int(f.get("FirstDequeueTime") or 0),
            next_visible_time=int(f.get("NextVisibleTime") or 0),
            dequeue_count=int(f.get("DequeueCount") or 0), priority=int(f.get("Priority") or 8)))
    return out


def receipt_handles_xml(handles: Sequence[str]) -> bytes:
    """The BatchDeleteMessage body, byte for byte as the Python SDK writes it."""
    inner = "".join(f"<ReceiptHandle>{escape(h)}</ReceiptHandle>" for h in handles)
    return (f'<?xml version="1.0" encoding="utf-8"?><ReceiptHandles xmlns="{XMLNS}">{inner}'
            "</ReceiptHandles>").encode()


def _error(status: int, headers: httpx.Headers, body: bytes) -> MnsError:
    fields: dict[str, str] = {}
    try:
        root = ElementTree.fromstring(body)
        fields = _fields(root) if _local(root.tag) == "Error" else {}
        if _local(root.tag) == "Errors":  # BatchDelete partial failure: report the first
            first = next(iter(root), None)
            fields = _fields(first) if first is not None else {}
            fields = {"Code": fields.get("ErrorCode", ""),
                      "Message": fields.get("ErrorMessage", "")}
    except ElementTree.ParseError:
        pass
    code = fields.get("Code") or f"HTTP{status}"
    message = fields.get("Message") or body[:200].decode("utf-8", "replace") or code
    return MnsError(message, code=code,
                    request_id=fields.get("RequestId") or headers.get("x-mns-request-id"),
                    status_code=status, host_id=fields.get("HostId"))


# -- the client ------------------------------------------------------------------------------


class MnsClient:
    """The SMQ calls a consumer makes, over any httpx transport (blocking).

    >>> mns = MnsClient("https://1493622401794734.mns.ap-southeast-1.aliyuncs.com",
    ...                 MnsCredentials.of("STS.id", "secret", "token"))     # doctest: +SKIP
    >>> queue = "Alicom-Queue-1234567890123456-ChatAppStatus"
    >>> mns.batch_receive(queue, wait_seconds=30)  # doctest: +SKIP
    []
    """

    def __init__(self, endpoint: str,
                 credentials: MnsCredentials | Callable[[], MnsCredentials], *,
                 transport: httpx.BaseTransport | None = None,
                 clock: Callable[[], float] = time.time, timeout: float = 10.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.auth = MnsAuth(credentials, clock=clock)
        self.timeout = timeout
        self._http = httpx.Client(transport=transport, auth=self.auth,
                                  timeout=httpx.Timeout(timeout + MAX_WAIT_SECONDS, connect=5.0))

    def __repr__(self) -> str:
        return f"MnsClient(endpoint={self.endpoint!r})"

    def _url(self, queue: str, query: str = "") -> str:
        return f"{self.endpoint}/queues/{queue}/messages" + (f"?{query}" if query else "")

    def _send(self, method: str, url: str, body: bytes = b"", wait: float = 0.0) -> httpx.Response:
        headers = {"content-type": _XML} if body else {}
        timeout = httpx.Timeout(self.timeout + wait, connect=5.0)
        try:
            return self._http.request(method, url, content=body or None, headers=headers,
                                      timeout=timeout)
        except httpx.HTTPError as exc:
            raise _transport_error(exc) from exc

    def receive(self, queue: str, *, wait_seconds: int | None = None) -> QueueMessage | None:
        """ReceiveMessage: one message, or None when the queue stays empty for the long poll."""
        query = "" if wait_seconds is None else f"waitseconds={_wait(wait_seconds)}"
        resp = self._send("GET", self._url(queue, query), wait=float(wait_seconds or 0))
        messages = self._messages(resp)
        return messages[0] if messages else None

    def batch_receive(self, queue: str, n: int = MAX_BATCH, *,
                      wait_seconds: int | None = None) -> list[QueueMessage]:
        """BatchReceiveMessage: up to ``n`` (<= 16) messages; ``[]`` when the queue stays empty."""
        if not 1 <= n <= MAX_BATCH:
            raise ValueError(f"n must be 1..{MAX_BATCH}, not {n}")
        query = f"numOfMessages={n}"
        if wait_seconds is not None:
            query += f"&waitseconds={_wait(wait_seconds)}"
        resp = self._send("GET", self._url(queue, query), wait=float(wait_seconds or 0))
        return self._messages(resp)

    def delete(self, queue: str, receipt_handle: str) -> bool:
        """DeleteMessage: True when deleted now, False when it was already gone."""
        resp = self._send("DELETE", self._url(queue, f"ReceiptHandle={receipt_handle}"))
        if resp.status_code == 204 or resp.is_success:
            return True
        error = _error(resp.status_code, resp.headers, resp.content)
        if error.code == "MessageNotExist":
            return False
        raise error

    def batch_delete(self, queue: str, receipt_handles: Sequence[str]) -> BatchDeleteResult:
        """BatchDeleteMessage (<= 16 handles); ``MessageNotExist`` per handle is reported as
        gone."""
        if not 1 <= len(receipt_handles) <= MAX_BATCH:
            raise ValueError(f"give 1..{MAX_BATCH} receipt handles, not {len(receipt_handles)}")
        resp = self._send("DELETE", self._url(queue), receipt_handles_xml(receipt_handles))
        result = BatchDeleteResult()
        if resp.is_success:
            return result
        try:
            root = ElementTree.fromstring(resp.content)
        except ElementTree.ParseError:
            raise _error(resp.status_code, resp.headers, resp.content) from None
        if _local(root.tag) != "Errors":
            raise _error(resp.status_code, resp.headers, resp.content)
        for item in root:
            f = _fields(item)
            handle, code = f.get("ReceiptHandle", ""), f.get("ErrorCode", "")
            if code == "MessageNotExist":
                result.gone.append(handle)
            else:
                result.failed[handle] = code
        return result

    def change_visibility(self, queue: str, receipt_handle: str, seconds: int) -> tuple[str, int]:
        """ChangeMessageVisibility: the new receipt handle and NextVisibleTime (ms)."""
        query = f"ReceiptHandle={receipt_handle}&VisibilityTimeout={int(seconds)}"
        resp = self._send("PUT", self._url(queue, query))
        if not resp.is_success:
            raise _error(resp.status_code, resp.headers, resp.content)
        f = _fields(ElementTree.fromstring(resp.content))
        return f["ReceiptHandle"], int(f["NextVisibleTime"])

    def _messages(self, resp: httpx.Response) -> list[QueueMessage]:
        if resp.is_success:
            return parse_messages(resp.content)
        error = _error(resp.status_code, resp.headers, resp.content)
        if error.code == "MessageNotExist":
            return []
        raise error

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _transport_error(exc: httpx.HTTPError) -> Exception:
    return transport_error(exc)  # the one place failures are sorted into not-sent/unknown


def _wait(seconds: int) -> int:
    if not 0 <= seconds <= MAX_WAIT_SECONDS:
        raise ValueError(f"wait_seconds must be 0..{MAX_WAIT_SECONDS}, not {seconds}")
    return int(seconds)
