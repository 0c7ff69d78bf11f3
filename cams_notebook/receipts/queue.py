"""Pull receipts from the account's SMQ (MNS) queue: the default way in for notebooks.

No public URL is needed and nothing is lost while the notebook is closed: CAMS keeps the
receipts on an Alicom-owned queue for days. :class:`ReceiptQueue`

1. finds the queue name itself (``QueryChatappPhoneNumbers`` -> ``StatusQueue``/``UpQueue``)
   unless given one; no field names the ``ChatAppAudit`` queue, so its name is the status
   queue's with the other message type (Alicom queues are ``Alicom-Queue-<uid>-<MessageType>``);
2. gets temporary credentials for it with Dybaseapi ``QueryTokenForMnsQueue`` (signed with
   the CAMS client's key) and refreshes them two minutes before they expire;
3. long-polls ``BatchReceiveMessage`` (16 per call, up to 30 s), decodes the bodies (raw or
   base64 JSON, one object or an array), commits them to a :class:`~.store.ReceiptStore`,
   and only then ``BatchDeleteMessage``\\ s them. A handle that is already gone counts as
   deleted; a crash before the delete means a redelivery, which the store absorbs.

The queue is a network edge of its own: its Dybaseapi and SMQ calls both go over the
``transport=`` it is given, else over the transport the CAMS client was given (borrowed: the
queue never closes it), else httpx's default, through its own ``httpx.Client``. Of the CAMS
client it uses only public parts: the request it builds (``build_request``), its signer
(``auth``), its timeout and transport, and how it reads an answer (``read_response``,
``transport_error``). The sandbox is reached like the service: a client of it has a local
endpoint, and the queue talks to that endpoint for both kinds of call.

Which (Dybaseapi host, MNS endpoint) pair an account uses is not settled in the docs
(``smq_receipts.md`` section 1): the ``intl`` preset is the default, ``cn`` is chosen for
``cn-*`` regions, and both hosts can be given explicitly. A client of the sandbox (in-process
or loopback) talks to the sandbox for both.

The token's ``ExpireTime`` is in an undocumented time zone, so its lifetime is taken as
``ExpireTime - CreateTime`` and counted on the local clock from when it was received.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from .. import _config as cfg
from ..errors import ApiError, CamsError, InvalidRequestError
from ..smq import MAX_BATCH, MAX_WAIT_SECONDS, MnsClient, MnsCredentials, MnsError, QueueMessage
from ..wire import is_local
from .store import AddResult, ReceiptStore, open_store

if TYPE_CHECKING:  # typing.Self is 3.11+; annotations are never evaluated at runtime
    from typing_extensions import Self

    from ..client import Client

__all__ = ["DYBASEAPI_VERSIONS", "MESSAGE_TYPES", "MNS_PRESETS", "MnsPreset", "PollResult",
           "QueueToken", "ReceiptQueue", "audit_queue_name"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MnsPreset:
    """Where an account's receipt queues are: the Dybaseapi host and the MNS endpoint."""

    dybaseapi: str
    mns: str


MNS_PRESETS = {
    "intl": MnsPreset("https://dybaseapi.ap-southeast-1.aliyuncs.com",
                      "https://1493622401794734.mns.ap-southeast-1.aliyuncs.com"),
    "cn": MnsPreset("https://dybaseapi.aliyuncs.com",
                    "https://1943695596114318.mns.cn-hangzhou.aliyuncs.com"),
}
DYBASEAPI_VERSIONS = ("2017-05-25", "2018-05-01")
"""Tried in order: the intl SMS demo used 2018-05-01, the published SDK has only 2017-05-25."""
MESSAGE_TYPES = ("ChatAppStatus", "ChatAppInbound", "ChatAppAudit")
"""The receipt message types, one queue each: delivery statuses, inbound messages, and number,
template and account changes (:mod:`.audit`)."""
_QUEUE_COLUMNS = {"ChatAppStatus": "StatusQueue", "ChatAppInbound": "UpQueue"}
REFRESH_MARGIN = 120.0
"""Seconds before expiry at which a token is renewed (as the Alicom demos do)."""
_BACKOFF_MAX = 30.0


def preset_for_region(region: str) -> str:
    return "cn" if region.startswith("cn-") else "intl"


def audit_queue_name(queue_name: str) -> str | None:
    """The ChatAppAudit queue beside a status or inbound queue (None for another name).

    >>> audit_queue_name("Alicom-Queue-1234567890123456-ChatAppStatus")
    'Alicom-Queue-1234567890123456-ChatAppAudit'
    """
    for message_type in _QUEUE_COLUMNS:
        if queue_name.endswith(f"-{message_type}"):
            return queue_name[:-len(message_type)] + "ChatAppAudit"
    return None


@dataclass(frozen=True)
class QueueToken:
    """Temporary credentials for one queue, and when (local clock) to stop using them."""

    credentials: MnsCredentials
    expires_at: float
    refresh_at: float
    """When to fetch the next one: ``refresh_margin`` before expiry (at most half the lifetime)."""


@dataclass
class PollResult:
    """One receive-store-delete round."""

    received: int = 0
    stored: AddResult = field(default_factory=AddResult)
    deleted: int = 0
    already_gone: int = 0
    delete_failed: int = 0


def _parse_time(text: str | None) -> datetime | None:
    try:
        return datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


class _Borrowed(httpx.BaseTransport):
    """Another's transport, used but never closed by the queue."""

    def __init__(self, transport: httpx.BaseTransport) -> None:
        self._transport = transport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._transport.handle_request(request)


class ReceiptQueue:
    """Pull one message type's queue into a store, now (:meth:`poll`, :meth:`drain`) or in a
    background thread (:meth:`start`/:meth:`stop`).

    >>> from cams_notebook.sandbox import Sandbox
    >>> with ReceiptQueue(Sandbox().client(), store=":memory:") as queue:
    ...     queue.queue_name
    ...     len(queue.drain(wait_seconds=0))
    'Alicom-Queue-1234567890123456-ChatAppStatus'
    0
    """

    def __init__(self, client: Client, *, message_type: str = "ChatAppStatus",
                 queue_name: str | None = None,
                 store: ReceiptStore | str | os.PathLike[str] | None = None,
                 preset: str | None = None, dybaseapi_endpoint: str | None = None,
                 mns_endpoint: str | None = None, transport: httpx.BaseTransport | None = None,
                 wait_seconds: int = MAX_WAIT_SECONDS, batch_size: int = MAX_BATCH,
                 cust_space_id: str | None = None, phone_number: str | None = None,
                 refresh_margin: float = REFRESH_MARGIN,
                 clock: Callable[[], float] = time.time) -> None:
        if not hasattr(client, "build_request") or not hasattr(client, "read_response") or \
                not hasattr(client, "close") or hasattr(client, "aclose"):
            raise TypeError("ReceiptQueue needs a blocking cams_notebook.Client (it runs in its "
                            "own thread)")
        if message_type not in MESSAGE_TYPES:
            raise ValueError(f"message_type must be one of {', '.join(MESSAGE_TYPES)}, "
                             f"not {message_type!r}")
        if preset is not None and preset not in MNS_PRESETS:
            raise ValueError(f"preset must be one of {', '.join(MNS_PRESETS)}, not {preset!r}")
        if not 0 <= wait_seconds <= MAX_WAIT_SECONDS or not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"wait_seconds must be 0..{MAX_WAIT_SECONDS}, "
                             f"batch_size 1..{MAX_BATCH}")
        self.client = client
        self.message_type = message_type
        self.store = open_store(store)
        self.wait_seconds = wait_seconds
        self.batch_size = batch_size
        self.refresh_margin = refresh_margin
        self._clock = clock
        self._queue_name = queue_name
        self._lookup = {"CustSpaceId": cust_space_id} if cust_space_id else {}
        self._phone_number = phone_number
        if is_local(urlsplit(client.base_url).hostname):  # the sandbox serves both
            default = MnsPreset(client.base_url, client.base_url)
        else:
            default = MNS_PRESETS[preset or preset_for_region(client.region)]
        self.dybaseapi_endpoint = (dybaseapi_endpoint or default.dybaseapi).rstrip("/")
        self.mns_endpoint = (mns_endpoint or default.mns).rstrip("/")
        borrowed = getattr(client, "transport", None)
        if transport is None and borrowed is not None:
            transport = _Borrowed(borrowed)
        self._token: QueueToken | None = None
        self._token_lock = threading.Lock()
        self._mns = MnsClient(self.mns_endpoint, self.credentials, transport=transport, clock=clock)
        # Dybaseapi calls are RPCs signed with the client's key, but sent over this queue's
        # transport: the client's own HTTP client is its business.
        self._http = httpx.Client(transport=transport, auth=client.auth, timeout=httpx.Timeout(
            client.timeout, connect=min(client.timeout, cfg.DEFAULT_CONNECT_TIMEOUT)))
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.last_error: BaseException | None = None
        self.totals = PollResult()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (f"ReceiptQueue(message_type={self.message_type!r}, queue={self._queue_name!r}, "
                f"stored={self.store.count()}, {state})")

    # -- the queue and its credentials ----------------------------------------------------

    @property
    def queue_name(self) -> str:
        """The queue's name; asked of QueryChatappPhoneNumbers the first time when not given."""
        if self._queue_name is None:
            data = self.client.call("QueryChatappPhoneNumbers", self._lookup)
            column = _QUEUE_COLUMNS.get(self.message_type, "StatusQueue")
            numbers = data.get("PhoneNumbers") or []
            if self._phone_number:
                numbers = [n for n in numbers if n.get("PhoneNumber") == self._phone_number]
            names = [n[column] for n in numbers if n.get(column)]
            if self.message_type == "ChatAppAudit":
                names = [a for a in map(audit_queue_name, names) if a]
            if not names:
                what = (f"no {column} on any phone number" if self.message_type != "ChatAppAudit"
                        else "no Alicom-Queue-<uid>-ChatAppStatus queue on any phone number to "
                        "name the ChatAppAudit queue after")
                raise InvalidRequestError(
                    f"{what}: switch on the queue for "
                    f"{self.message_type} in the CAMS console (or UpdateAccountWebhook "
                    "QueueFlag=Y), or pass queue_name=",
                    code="QueueNotConfigured")
            self._queue_name = names[0]
        return self._queue_name

    def credentials(self) -> MnsCredentials:
        """The current temporary credentials, renewed when close to expiry."""
        with self._token_lock:
            if self._token is None or self._clock() >= self._token.refresh_at:
                self._token = self._fetch_token()
            return self._token.credentials

    def invalidate_token(self) -> None:
        with self._token_lock:
            self._token = None

    def _fetch_token(self) -> QueueToken:
        params = {"MessageType": self.message_type, "QueueName": self.queue_name}
        error: CamsError | None = None
        for version in DYBASEAPI_VERSIONS:
            try:
                data = self._dybaseapi("QueryTokenForMnsQueue", params, version)
                break
            except InvalidRequestError as exc:  # try the other API version, once
                if not exc.code.startswith(("InvalidVersion", "InvalidAction")):
                    raise
                error = exc
        else:
            assert error is not None
            raise error
        dto = data.get("MessageTokenDTO") or {}
        if not dto.get("AccessKeyId") or not dto.get("AccessKeySecret"):
            raise ApiError("QueryTokenForMnsQueue answered without credentials",
                           code="MissingMessageTokenDTO", request_id=data.get("RequestId"),
                           data=data)
        received = self._clock()
        created, expires = _parse_time(dto.get("CreateTime")), _parse_time(dto.get("ExpireTime"))
        if created and expires:
            ttl = (expires - created).total_seconds()
        elif expires:  # no CreateTime: read ExpireTime as China time, as one consumer does
            china = expires.replace(tzinfo=timezone(timedelta(hours=8)))
            ttl = china.timestamp() - received
        else:
            ttl = 300.0
        creds = MnsCredentials.of(dto["AccessKeyId"], dto["AccessKeySecret"],
                                  dto.get("SecurityToken"), received + ttl)
        return QueueToken(creds, received + ttl, received + ttl - min(self.refresh_margin, ttl / 2))

    def _dybaseapi(self, action: str, params: dict[str, str], version: str) -> dict[str, Any]:
        base = self.client.build_request(action, params)
        url = httpx.URL(self.dybaseapi_endpoint).copy_with(raw_path=base.url.raw_path)
        headers = {k: v for k, v in base.headers.items() if k.lower() != "host"}
        headers["x-acs-version"] = version
        request = httpx.Request("POST", url, headers=headers, extensions=base.extensions)
        try:
            resp = self._http.send(request)
        except httpx.HTTPError as exc:
            raise self.client.transport_error(exc) from exc
        return self.client.read_response(action, resp.status_code, resp.headers, resp.content)

    # -- one round ------------------------------------------------------------------------

    def poll(self, wait_seconds: int | None = None) -> PollResult:
        """Receive up to ``batch_size`` messages (long-polling), store them, then delete them."""
        wait = self.wait_seconds if wait_seconds is None else wait_seconds
        messages = self._with_fresh_token(
            lambda: self._mns.batch_receive(self.queue_name, self.batch_size, wait_seconds=wait))
        result = PollResult(received=len(messages))
        if not messages:
            return result
        result.stored = self.store.add_queue_messages(messages)
        for error in result.stored.errors:
            logger.warning("undecodable queue message kept in the store and deleted: %s", error)
        self._delete(messages, result)
        self._count(result)
        return result

    def _delete(self, messages: list[QueueMessage], result: PollResult) -> None:
        handles = [m.receipt_handle for m in messages]
        outcome = self._with_fresh_token(lambda: self._mns.batch_delete(self.queue_name, handles))
        result.already_gone = len(outcome.gone)
        result.delete_failed = len(outcome.failed)
        result.deleted = len(handles) - result.already_gone - result.delete_failed
        for handle, code in outcome.failed.items():
            logger.warning("could not delete a stored message (%s); it will come back and be "
                           "de-duplicated: %s", code, handle)

    def _with_fresh_token(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except MnsError as exc:
            if not exc.is_auth:
                raise
            self.invalidate_token()  # expired or revoked: one retry with a new token
            return call()

    def _count(self, result: PollResult) -> None:
        t = self.totals
        t.received += result.received
        t.stored += result.stored
        t.deleted += result.deleted
        t.already_gone += result.already_gone
        t.delete_failed += result.delete_failed

    def drain(self, *, wait_seconds: int = 1, max_polls: int | None = None) -> ReceiptStore:
        """Poll until a poll finds the queue empty (after ``wait_seconds``); return the store."""
        polls = 0
        while max_polls is None or polls < max_polls:
            polls += 1
            if not self.poll(wait_seconds).received:
                break
        return self.store

    # -- in the background ----------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Self:
        """Poll in a daemon thread until :meth:`stop`; errors are logged, kept in
        :attr:`last_error` and retried with backoff (up to 30 s)."""
        if self.running:
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="cams-receipt-queue", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        backoff = 0.0
        while not self._stop.is_set():
            try:
                self.poll()
                backoff = 0.0
            except Exception as exc:  # noqa: BLE001 - the poller must outlive any one failure
                self.last_error = exc
                backoff = min(_BACKOFF_MAX, max(1.0, backoff * 2))
                logger.warning("receipt queue poll failed (retrying in %.0f s): %s", backoff, exc)
                self._stop.wait(backoff)

    def stop(self, *, wait: bool = True) -> None:
        """Stop the background thread after its current poll (which may take ``wait_seconds``)."""
        self._stop.set()
        if wait and self._thread is not None:
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        """Stop and release the network clients (the store and the CAMS client stay open)."""
        self.stop()
        self._mns.close()
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

