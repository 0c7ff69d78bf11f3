"""The sandbox's queue side: Dybaseapi ``QueryTokenForMnsQueue`` and an SMQ (MNS) queue
endpoint holding the sandbox's receipts and inbound messages (``smq_receipts.md`` section 5).

One Alicom-style queue per message type, ``Alicom-Queue-<16 digits>-ChatAppStatus``,
``-ChatAppInbound`` and ``-ChatAppAudit``. Receipts enter the status queue when the core
schedules them and become visible when they are due; inbound messages enter the inbound queue
when recorded; ChatAppAudit events (:mod:`.audit_events`) enter theirs when they happen.

What it checks and answers like the service:

* ``Authorization: MNS id:signature`` rebuilt from the headers and target as received; the
  AccessKeyId and ``security-token`` must be a pair it issued, unexpired, for that queue;
  ``Date``/``x-mns-date`` within 15 minutes; ``x-mns-version`` present;
* ReceiveMessage / BatchReceiveMessage (at most 16) with long polling: the answer waits until
  the first message becomes visible within ``waitseconds`` (or the whole wait, then 404
  ``MessageNotExist`` with the full four-field error);
* each receive makes the message invisible for ``visibility_timeout`` seconds with a fresh
  receipt handle, ``DequeueCount`` + 1; an undeleted message comes back after that;
* DeleteMessage / BatchDeleteMessage with a stale handle: ``MessageNotExist``; a malformed
  one: ``ReceiptHandleError``; ChangeMessageVisibility returns a new handle;
* bodies are base64 of the JSON (``raw_bodies=True`` stores raw JSON), ``MessageBodyMD5``
  the upper-case MD5 of the stored text; ``duplicate_rate`` redelivers that share of received
  messages at once (an at-least-once duplicate whose first handle is then stale).

The core answers without blocking, so a long poll is decided when it arrives: the answer
carries the messages that become visible first within the wait, and a ``delay`` until then
(the faces wait it out). A message that arrives during the wait is seen by the next poll.
The wire shapes (XML, headers, errors) are in :mod:`.queue_wire`.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import json
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from xml.etree import ElementTree

from ..smq import MAX_BATCH, MAX_WAIT_SECONDS, XMLNS, mns_signature, mns_string_to_sign
from ._wire import WireRequest, WireResponse
from .queue_wire import (
    MnsFault,
    bounded_int,
    check_md5,
    error_answer,
    ok_answer,
    signed_resources,
    xml_escape,
)

__all__ = ["DYBASEAPI_VERSION", "MESSAGE_TYPES", "SANDBOX_ACCOUNT_UID", "SandboxMns"]

DYBASEAPI_VERSION = "2017-05-25"
SANDBOX_ACCOUNT_UID = "1234567890123456"
"""The sandbox account's digits in its queue names (any 16 digits would do)."""
MESSAGE_TYPES = ("ChatAppStatus", "ChatAppInbound", "ChatAppAudit")
SKEW_SECONDS = 15 * 60
_HANDLE = re.compile(r"^\d+-[0-9a-f]{24}$")
_MS = 1000


@dataclass
class _Message:
    id: str
    body: str
    md5: str
    enqueue_ms: int
    visible_at: float
    version: int = 0
    dequeue_count: int = 0
    first_dequeue_ms: int = 0
    handle: str | None = None


@dataclass
class _Queue:
    name: str
    messages: dict[str, _Message] = field(default_factory=dict)
    heap: list[tuple[float, int, str, int]] = field(default_factory=list)
    handles: dict[str, str] = field(default_factory=dict)

    def schedule(self, msg: _Message, seq: int) -> None:
        msg.version += 1
        heapq.heappush(self.heap, (msg.visible_at, seq, msg.id, msg.version))

    def first_visible(self) -> float | None:
        while self.heap:
            at, _, mid, version = self.heap[0]
            msg = self.messages.get(mid)
            if msg is not None and msg.version == version:
                return at
            heapq.heappop(self.heap)
        return None


@dataclass(frozen=True)
class _Token:
    secret: str
    security_token: str
    queue: str
    expires_at: float


class SandboxMns:
    """Queues, tokens and the MNS REST answers of one sandbox. Not thread-safe on its own:
    the core calls it under its lock."""

    def __init__(self, *, seed: int = 0, account_uid: str = SANDBOX_ACCOUNT_UID,
                 visibility_timeout: float = 30.0, token_ttl: float = 3600.0,
                 raw_bodies: bool = False, duplicate_rate: float = 0.0) -> None:
        self.seed = seed
        self.account_uid = account_uid
        self.visibility_timeout = visibility_timeout
        """Seconds a received message stays invisible (the queue attribute, default 30)."""
        self.token_ttl = token_ttl
        """Lifetime of the temporary credentials QueryTokenForMnsQueue hands out."""
        self.raw_bodies = raw_bodies
        self.duplicate_rate = duplicate_rate
        self.reset()

    def reset(self) -> None:
        self._rng = random.Random(self.seed ^ 0x5EED)
        self._seq = 0
        self.queues = {t: _Queue(self.queue_name(t)) for t in MESSAGE_TYPES}
        self._by_name = {q.name: q for q in self.queues.values()}
        self._tokens: dict[str, _Token] = {}
        self.stats = {"enqueued": 0, "received": 0, "deleted": 0, "redelivered": 0}

    def queue_name(self, message_type: str) -> str:
        return f"Alicom-Queue-{self.account_uid}-{message_type}"

    # -- the producer side ----------------------------------------------------------------

    def enqueue(self, message_type: str, event: dict[str, Any], at: float) -> str:
        """Put one event on a queue, visible from ``at``; returns the queue's MessageId."""
        text = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        body = text if self.raw_bodies else base64.b64encode(text.encode("utf-8")).decode("ascii")
        self._seq += 1
        msg = _Message(id=f"{self._rng.getrandbits(128):032X}", body=body,
                       md5=hashlib.md5(body.encode("utf-8")).hexdigest().upper(),
                       enqueue_ms=int(at * _MS), visible_at=at)
        queue = self.queues[message_type]
        queue.messages[msg.id] = msg
        queue.schedule(msg, self._seq)
        self.stats["enqueued"] += 1
        return msg.id

    def new_message_id(self) -> str:
        """A fresh CAMS-style MessageId (for inbound messages), from this side's own generator."""
        return f"{self._rng.getrandbits(96):024x}"

    def depth(self, message_type: str = "ChatAppStatus") -> int:
        """Messages not yet deleted (visible, in flight or not yet due)."""
        return len(self.queues[message_type].messages)

    # -- Dybaseapi ------------------------------------------------------------------------

    def issue_token(self, message_type: str, queue_name: str | None, now: float) -> dict[str, Any]:
        """A ``MessageTokenDTO`` for one queue; raises ValueError for an unknown type/queue."""
        if message_type not in self.queues:
            raise ValueError(f"MessageType must be one of {', '.join(MESSAGE_TYPES)}")
        queue = self.queues[message_type].name
        if queue_name and queue_name != queue:
            raise ValueError(f"QueueName {queue_name!r} is not this account's {message_type} queue")
        key_id = "STS." + "".join(self._rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
                                  for _ in range(24))
        token = _Token(secret=f"{self._rng.getrandbits(160):040x}",
                       security_token="CAIS" + base64.b64encode(self._rng.randbytes(48)).decode(),
                       queue=queue, expires_at=now + self.token_ttl)
        self._tokens[key_id] = token
        beijing = timezone(timedelta(hours=8))  # demos read these as local China time

        def stamp(t: float) -> str:
            return datetime.fromtimestamp(t, beijing).strftime("%Y-%m-%d %H:%M:%S")

        return {"AccessKeyId": key_id, "AccessKeySecret": token.secret,
                "SecurityToken": token.security_token, "CreateTime": stamp(now),
                "ExpireTime": stamp(token.expires_at)}

    # -- the REST endpoint ----------------------------------------------------------------

    def handle(self, req: WireRequest, now: float) -> WireResponse:
        """Answer one ``/queues/...`` request."""
        request_id = f"{self._rng.getrandbits(96):024X}"
        host = req.headers.get("host", "mns.sandbox")
        try:
            queue = self._authorize(req, now)
            return self._operation(req, queue, now, request_id)
        except MnsFault as fault:
            return error_answer(fault, request_id, host)

    def _authorize(self, req: WireRequest, now: float) -> _Queue:
        h = req.headers
        if "x-mns-version" not in h:
            raise MnsFault(400, "MissingVersionHeader", "The x-mns-version header is required.")
        date = h.get("x-mns-date") or h.get("date")
        if not date:
            raise MnsFault(400, "MissingDateHeader", "The Date header is required.")
        auth = h.get("authorization", "")
        match = re.fullmatch(r"MNS ([^:\s]+):(\S+)", auth)
        if not match:
            raise MnsFault(400, "InvalidAuthorizationHeader",
                            "The Authorization header must be 'MNS AccessKeyId:Signature'.")
        key_id, signature = match.groups()
        token = self._tokens.get(key_id)
        if token is None:
            raise MnsFault(403, "InvalidAccessKeyId",
                            "The access key id you provided does not exist.")
        if not any(hmac.compare_digest(mns_signature(token.secret, mns_string_to_sign(
                req.method, h, resource)), signature) for resource in signed_resources(req)):
            raise MnsFault(403, "SignatureDoesNotMatch",
                            "The request signature we calculated does not match the signature "
                            "you provided.")
        if not hmac.compare_digest(h.get("security-token", ""), token.security_token):
            raise MnsFault(403, "AccessDenied", "The security token is missing or does not match "
                            "the access key id.")
        if now >= token.expires_at:
            raise MnsFault(403, "AccessDenied", "The security token you provided has expired.")
        try:
            sent = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            raise MnsFault(400, "InvalidArgument", f"The date {date!r} is not RFC 1123.") from None
        if abs(now - sent) > SKEW_SECONDS:
            raise MnsFault(408, "TimeExpired", "The http request you sent is expired.")
        check_md5(h.get("content-md5"), req.body)
        parts = req.path.split("/")
        if len(parts) < 3 or parts[1] != "queues" or parts[2] not in self._by_name:
            raise MnsFault(404, "QueueNotExist", "The queue name you provided is not exist.")
        queue = self._by_name[parts[2]]
        if queue.name != token.queue:
            raise MnsFault(403, "AccessDenied", "The token does not grant access to this queue.")
        if parts[3:] != ["messages"]:
            raise MnsFault(400, "InvalidArgument", "The sandbox serves only /queues/<q>/messages.")
        return queue

    def _operation(self, req: WireRequest, queue: _Queue, now: float,
                   request_id: str) -> WireResponse:
        params = {k.lower(): v for k, v in req.query}
        if req.method == "GET":
            return self._receive(queue, params, now, request_id, req.headers.get("host", ""))
        if req.method == "DELETE" and "receipthandle" in params:
            self._delete(queue, params["receipthandle"], now)
            return ok_answer(204, b"", request_id)
        if req.method == "DELETE":
            return self._batch_delete(queue, req.body, now, request_id)
        if req.method == "PUT" and "receipthandle" in params:
            return self._change_visibility(queue, params, now, request_id)
        raise MnsFault(400, "InvalidArgument", f"{req.method} is not a queue message operation.")

    def _receive(self, queue: _Queue, params: dict[str, str], now: float, request_id: str,
                 host: str) -> WireResponse:
        batch = "numofmessages" in params
        n = bounded_int(params.get("numofmessages", "1"), 1, MAX_BATCH, "numOfMessages")
        wait = bounded_int(params.get("waitseconds", "0"), 0, MAX_WAIT_SECONDS, "waitseconds")
        first = queue.first_visible()
        if first is None or first > now + wait:
            raise MnsFault(404, "MessageNotExist", "Message not exist.", delay=float(wait))
        at = max(now, first)
        taken: list[_Message] = []
        while len(taken) < n and (when := queue.first_visible()) is not None and when <= at:
            _, _, mid, _ = heapq.heappop(queue.heap)
            msg = queue.messages[mid]
            if msg.handle is not None:
                queue.handles.pop(msg.handle, None)
                self.stats["redelivered"] += 1
            msg.dequeue_count += 1
            msg.first_dequeue_ms = msg.first_dequeue_ms or int(at * _MS)
            msg.handle = f"{msg.dequeue_count}-{self._rng.getrandbits(96):024x}"
            queue.handles[msg.handle] = mid
            msg.visible_at = at + self.visibility_timeout
            taken.append(msg)
            self.stats["received"] += 1
        for msg in taken:
            if self.duplicate_rate and self._rng.random() < self.duplicate_rate:
                msg.visible_at = at  # delivered again to the next receive: a duplicate
            self._seq += 1
            queue.schedule(msg, self._seq)
        items = "".join(_message_xml(m) for m in taken)
        declaration = '<?xml version="1.0" encoding="UTF-8"?>'
        body = (f'{declaration}<Messages xmlns="{XMLNS}">{items}</Messages>' if batch
                else f"{declaration}{_message_xml(taken[0], XMLNS)}")
        return ok_answer(200, body.encode("utf-8"), request_id, delay=at - now)

    def _take(self, queue: _Queue, handle: str, now: float) -> _Message:
        if not _HANDLE.match(handle):
            raise MnsFault(400, "ReceiptHandleError",
                            "The receipt handle you provide is not valid.")
        mid = queue.handles.get(handle)
        msg = queue.messages.get(mid) if mid else None
        if msg is None or msg.handle != handle or now >= msg.visible_at:
            raise MnsFault(404, "MessageNotExist", "Message not exist.")
        return msg

    def _delete(self, queue: _Queue, handle: str, now: float) -> None:
        msg = self._take(queue, handle, now)
        del queue.messages[msg.id]
        queue.handles.pop(handle, None)
        self.stats["deleted"] += 1

    def _batch_delete(self, queue: _Queue, body: bytes, now: float,
                      request_id: str) -> WireResponse:
        try:
            root = ElementTree.fromstring(body)
            handles = [(e.text or "").strip() for e in root
                       if e.tag.rsplit("}", 1)[-1] == "ReceiptHandle"]
        except ElementTree.ParseError:
            raise MnsFault(400, "MalformedXML",
                            "The XML you provided was not well-formed.") from None
        if not 1 <= len(handles) <= MAX_BATCH:
            raise MnsFault(400, "InvalidArgument", f"Give 1..{MAX_BATCH} receipt handles.")
        errors = []
        for handle in handles:
            try:
                self._delete(queue, handle, now)
            except MnsFault as fault:
                errors.append(f"<Error><ErrorCode>{fault.code}</ErrorCode><ErrorMessage>"
                              f"{fault.message}</ErrorMessage><ReceiptHandle>{xml_escape(handle)}"
                              "</ReceiptHandle></Error>")
        if not errors:
            return ok_answer(204, b"", request_id)
        xml = (f'<?xml version="1.0" encoding="UTF-8"?><Errors xmlns="{XMLNS}">{"".join(errors)}'
               "</Errors>")
        return ok_answer(404, xml.encode("utf-8"), request_id)

    def _change_visibility(self, queue: _Queue, params: dict[str, str], now: float,
                           request_id: str) -> WireResponse:
        if "visibilitytimeout" not in params:
            raise MnsFault(400, "MissingVisibilityTimeout", "VisibilityTimeout is required.")
        seconds = bounded_int(params["visibilitytimeout"], 1, 43200, "VisibilityTimeout")
        msg = self._take(queue, params["receipthandle"], now)
        queue.handles.pop(msg.handle or "", None)
        msg.handle = f"{msg.dequeue_count}-{self._rng.getrandbits(96):024x}"
        queue.handles[msg.handle] = msg.id
        msg.visible_at = now + seconds
        self._seq += 1
        queue.schedule(msg, self._seq)
        xml = (f'<?xml version="1.0" encoding="UTF-8"?><ChangeVisibility xmlns="{XMLNS}">'
               f"<ReceiptHandle>{msg.handle}</ReceiptHandle>"
               f"<NextVisibleTime>{int(msg.visible_at * _MS)}</NextVisibleTime></ChangeVisibility>")
        return ok_answer(200, xml.encode("utf-8"), request_id)


def _message_xml(m: _Message, xmlns: str | None = None) -> str:
    ns = f' xmlns="{xmlns}"' if xmlns else ""
    return (f"<Message{ns}><MessageId>{m.id}</MessageId><ReceiptHandle>{m.handle}</ReceiptHandle>"
            f"<MessageBodyMD5>{m.md5}</MessageBodyMD5><MessageBody>{xml_escape(m.body)}</MessageBody>"
            f"<EnqueueTime>{m.enqueue_ms}</EnqueueTime><FirstDequeueTime>{m.first_dequeue_ms}"
            f"</FirstDequeueTime><NextVisibleTime>{int(m.visible_at * _MS)}</NextVisibleTime>"
            f"<DequeueCount>{m.dequeue_count}</DequeueCount><Priority>8</Priority></Message>")
