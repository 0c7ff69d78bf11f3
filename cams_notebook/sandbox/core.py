"""The sandbox core: a local CAMS that answers like the real one, with no I/O of its own.

:meth:`SandboxCore.handle` takes one :class:`~._wire.WireRequest` and returns one
:class:`~._wire.WireResponse`; the in-process transport and the loopback server are thin
faces around it. All state sits behind one lock, so any number of concurrent clients
(threads or the server's connections) see one consistent service.

What it does, like the service (reference ``cams_api.md``):

* the gateway: signatures (V3 and V1), keys, time skew, nonces (:mod:`.gateway`);
* rate limiting: at most ``qps`` SendChatappMessage requests per AccessKey in any window of
  one second (a sliding window over accepted requests, so 250/s and 260/s differ); the
  excess gets HTTP 400 ``System.LimitControl`` with ``x-acs-retry-after`` (milliseconds);
* request rules: the same :class:`~cams_notebook.models.Message` rules the client applies,
  answered with the service's codes; templates from :mod:`.catalogue` and their variables;
* after accepting: a ``MessageId``, a record of the message, and delivery receipts over
  time (:mod:`.outcomes`) in the ChatAppStatus format, duplicates included;
* ``ListChatappMessage`` in the official shape (reference ``platform_rules.md`` section 6,
  SDK ``ListChatappMessageRequest`` / ``ListChatappMessageResponseBody``): see
  :mod:`.message_log`, which keeps the record of accepted messages; the receipts' life after
  the answer is :mod:`.receipt_timeline`.

Gateway errors (signature, throttling, missing parameters, unknown actions) come back as
HTTP 4xx with the POP error body (``RequestId``, ``HostId``, ``Code``, ``Message``,
``Recommend``); business errors (``InvalidParameter.*``, template problems) as HTTP 200
with ``Code`` set, which is how CAMS reports them (the reference notes both styles; a
client must treat both as failures, and ours does).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from .._config import API_VERSION
from ..models import Message
from ..templates import Template
from . import catalogue
from ._defaults import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from ._wire import Push, WireRequest, WireResponse
from .gateway import GatewayError, NonceCache, authenticate
from .inbound_check import inbound_refusal
from .message_log import PAGE_SIZE_MAX, MessageLog, parse_listing  # noqa: F401 - as before
from .number_health import DEFAULT_TIER, check_tier, health_status, phone_numbers, template_detail
from .outcomes import FAULT_PROFILES, MAGIC_NUMBERS, Fate, draw_fault, fate_for
from .queue_service import DYBASEAPI_VERSION, SandboxMns
from .receipt_timeline import ReceiptTimeline
from .template_match import template_for

__all__ = ["DEFAULT_CUST_SPACE_ID", "SandboxCore"]

HOST_ID = "cams.ap-southeast-1.aliyuncs.com"
WINDOW = 1.0
INBOUND_WINDOW = 24 * 3600.0
DEFAULT_SENDER = "8613800000000"
DEFAULT_CUST_SPACE_ID = "cams-sandbox"
"""The sandbox account's own space (a direct customer's instance ID, in CAMS's words).

A message sent without ``CustSpaceId`` belongs to it, as a direct customer's sends belong to
its instance. ``ListChatappMessage`` requires a ``CustSpaceId`` and lists one space: this one
lists the messages sent without a ``CustSpaceId`` (and those sent with this one); any other
value lists only the messages sent with exactly that ``CustSpaceId``."""
_ACTION_VERSIONS = {"QueryTokenForMnsQueue": DYBASEAPI_VERSION}
_JSON = {"content-type": "application/json;charset=utf-8"}


def _json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None,
                   delay: float = 0.0) -> WireResponse:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return WireResponse(status, {**_JSON, **(headers or {})}, body, delay)


class SandboxCore:
    """The state and rules of one local CAMS service. Thread-safe; no sockets, no sleeps."""

    def __init__(
        self,
        *,
        keys: Mapping[str, str] | None = None,
        qps: int = 250,
        latency: tuple[float, float] = (0.0, 0.0),
        faults: str = "none",
        seed: int = 0,
        callback_url: str | None = None,
        clock: Callable[[], float] = time.time,
        receipt_delay: float = 1.0,
        duplicate_rate: float = 0.03,
        receipt_order: str = "due",
        tier: str = DEFAULT_TIER,
    ) -> None:
        if faults not in FAULT_PROFILES:
            raise ValueError(f"faults must be one of {', '.join(FAULT_PROFILES)}, not {faults!r}")
        if qps <= 0:
            raise ValueError("qps must be positive")
        if receipt_order not in ("due", "shuffled"):
            raise ValueError(f"receipt_order must be 'due' or 'shuffled', not {receipt_order!r}")
        self.keys = dict(keys or {DEFAULT_ACCESS_KEY_ID: DEFAULT_ACCESS_KEY_SECRET})
        self.qps = qps
        self.latency = latency
        self.faults = faults
        self.seed = seed
        self.callback_url = callback_url
        self.clock = clock
        self.receipt_delay = receipt_delay
        """Scale of the simulated delivery timeline (0 makes every receipt due at once)."""
        self.duplicate_rate = duplicate_rate
        self.tier = check_tier(tier)
        """Every sender's ``MessagingLimitTier`` but a magic one's (:mod:`.number_health`)."""
        self.receipt_order = receipt_order
        """``"due"``: receipts in the order they fall due; ``"shuffled"``: each batch that falls
        due together in a seeded random order, as CAMS may deliver them (at least once, in any
        order), so that a consumer relying on "the last status wins" shows its bug."""
        self._lock = threading.Lock()
        self._parsed: dict[tuple[str, str], Template] = {}
        self.mns = SandboxMns(seed=seed)
        """The queue side: QueryTokenForMnsQueue and the SMQ endpoint (``sandbox/mns.py``)."""
        self.reset()

    # -- state ----------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every message, receipt, inbound message, nonce and rate window."""
        with self._lock:
            self._rng = random.Random(self.seed)
            order_rng = random.Random(self.seed)  # apart, so "due" runs stay as they were
            self._windows: dict[str, deque[float]] = {}
            self._nonces = NonceCache()
            self._log = MessageLog(self._parsed)
            self._receipts = ReceiptTimeline(self._rng, order_rng, self.mns)
            self._inbound: dict[str, float] = {}
            self._senders: set[str] = {DEFAULT_SENDER}
            self.mns.reset()
            self.stats: dict[str, int] = {"requests": 0, "accepted": 0, "throttled": 0,
                                          "rejected": 0, "faults": 0, "pushes_dropped": 0}
            self.fault_counts: dict[str, int] = {}

    def messages(self) -> list[dict[str, Any]]:
        """Every accepted message: time, AccessKey id, To, MessageId, TaskId and all parameters."""
        with self._lock:
            return [dict(m) for m in self._log.records]

    def receipts(self, now: float | None = None) -> list[dict[str, Any]]:
        """Every receipt event that is due by ``now``, duplicates included, in due order."""
        with self._lock:
            self._release(self.clock() if now is None else now)
            return [dict(r) for r in self._receipts.released]

    def record_inbound(self, number: str, *, at: float | None = None, text: str = "hi",
                       to: str | None = None) -> dict[str, Any]:
        """Record a message from ``number``: it opens that number's 24-hour window."""
        number = number.lstrip("+").replace(" ", "")
        with self._lock:
            when = self.clock() if at is None else at
            self._inbound[number] = max(self._inbound.get(number, 0.0), when)
            event = {"MessageId": self.mns.new_message_id(), "From": number,
                     "To": to or DEFAULT_SENDER, "Timestamp": int(when * 1000), "Type": "TEXT",
                     "Message": text}
            self.mns.enqueue("ChatAppInbound", event, when)
            return dict(event)

    def window_open(self, number: str, now: float | None = None) -> bool:
        """Whether ``number`` sent an inbound message in the last 24 hours."""
        with self._lock:
            last = self._inbound.get(number)
            if last is None:
                return False
            return (self.clock() if now is None else now) - last < INBOUND_WINDOW

    # -- the request path ------------------------------------------------------------------

    def handle(self, req: WireRequest) -> WireResponse:
        """Answer one request."""
        if req.path.startswith("/_sandbox/"):
            return self._inspect(req)
        now = self.clock()
        if req.path.startswith("/queues/"):  # SMQ (MNS) REST, signed with its own scheme
            with self._lock:
                return self.mns.handle(req, now)
        with self._lock:
            self.stats["requests"] += 1
            request_id = self._request_id()
            try:
                caller = authenticate(req, self.keys, self._nonces, now, API_VERSION,
                                      _ACTION_VERSIONS)
            except GatewayError as exc:
                self.stats["rejected"] += 1
                return self._error(exc.status, exc.code, exc.message, request_id)
            handler = _ACTIONS.get(caller.action)
            if handler is None:
                return self._error(404, "InvalidAction.NotFound",
                                   f"Specified api {caller.action} is not found.", request_id)
            return handler(self, caller.access_key_id, caller.params, now, request_id)

    def _send(self, key_id: str, params: dict[str, str], now: float,
              request_id: str) -> WireResponse:
        window = self._windows.setdefault(key_id, deque())
        while window and window[0] <= now - WINDOW:
            window.popleft()
        to = params.get("To", "")
        fault = draw_fault(FAULT_PROFILES[self.faults], self._rng)
        magic = MAGIC_NUMBERS.get(to)
        if len(window) >= self.qps or fault == "throttle" or magic == "throttled":
            self.stats["throttled"] += 1
            self._count_fault(fault)
            wait = (window[0] + WINDOW - now) if len(window) >= self.qps else 0.2
            return self._error(400, "System.LimitControl", "The system is under flow control.",
                               request_id, {"x-acs-retry-after": str(max(1, int(wait * 1000)))})
        window.append(now)
        if fault in ("server_error", "reset_before") or magic == "server_error":
            self._count_fault(fault)
            if fault == "reset_before":
                return WireResponse(0, fault="reset")
            return self._error(503, "ServiceUnavailable",
                               "The request has failed due to a temporary failure of the server.",
                               request_id)
        # as the service takes it, from any client: nothing put right on the way in
        message, problems = Message.check(params, as_sent=True)
        if message is None:
            return self._reject(problems[0].code, f"{problems[0].field}: {problems[0].message}",
                                request_id, problems[0].code.startswith("Missing"))
        template = None
        if message.type == "template":
            template, error = template_for(message, self._parsed)
            if error:
                return self._reject(error[0], error[1], request_id)
        message_id = f"{self._rng.getrandbits(96):024x}"
        self._accept(key_id, message, template, message_id, request_id, now)
        body = {"RequestId": request_id, "Code": "OK", "Message": "OK", "MessageId": message_id}
        delay = self._latency()
        if magic == "slow":
            delay = 30.0
        elif fault == "slow":
            delay += self._rng.uniform(1.0, 3.0)
        self._count_fault(fault)
        if fault == "reset_after":
            return WireResponse(0, fault="reset", delay=delay)
        if fault == "timeout_after":
            return WireResponse(0, fault="hang")
        return _json_response(200, body, delay=delay)

    def _accept(self, key_id: str, message: Message, template: dict[str, Any] | None,
                message_id: str, request_id: str, now: float) -> None:
        self.stats["accepted"] += 1
        self._senders.add(message.from_)
        query = message.to_query()
        space = message.cust_space_id or DEFAULT_CUST_SPACE_ID
        record = {
            "time": now, "access_key_id": key_id, "to": message.to, "from": message.from_,
            "message_id": message_id, "request_id": request_id, "task_id": message.task_id,
            "channel_type": message.channel_type, "type": message.type, "params": query,
            "cust_space_id": space,
        }
        if template is not None:
            record.update(template_code=template["TemplateCode"], template_name=template["Name"],
                          language=template["Language"])
        self._log.add(record)
        fate = fate_for(message.to, self._rng)
        if (message.channel_type == "whatsapp" and message.type == "message"
                and now - self._inbound.get(message.to, float("-inf")) >= INBOUND_WINDOW
                and fate.statuses):
            fate = Fate(("Failed",), "131047")
        record["statuses"] = self._receipts.schedule(
            message, template, message_id, fate, now, delay_scale=self.receipt_delay,
            duplicate_rate=self.duplicate_rate)
        if fate.error_code:
            record["fail_reason"] = fate.error_description

    def _release(self, now: float) -> None:
        self._receipts.release(now, shuffled=self.receipt_order == "shuffled",
                               pushing=bool(self.callback_url))

    # -- pushes ---------------------------------------------------------------------------

    def due_pushes(self, now: float) -> list[Push]:
        """Receipt batches (a JSON array each, at most 100 receipts) to POST to the callback URL."""
        with self._lock:
            self._release(now)
            return self._receipts.due_pushes(now, self.callback_url)

    def push_done(self, push: Push, ok: bool) -> None:
        """Record a push outcome; a failed push is retried twice (after 1 s, then 5 s), then
        dropped."""
        if ok:
            return
        with self._lock:
            if not self._receipts.retry(push, self.clock):
                self.stats["pushes_dropped"] += 1

    # -- other actions --------------------------------------------------------------------

    def _list_templates(self, key_id: str, params: dict[str, str], now: float,
                        request_id: str) -> WireResponse:
        try:
            page = json.loads(params.get("Page") or '{"Index":1,"Size":10}')
            index, size = int(page["Index"]), int(page["Size"])
            if index < 1 or not 1 <= size <= 100:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return self._reject("InvalidParameter.PageInvalid",
                                "Page: must be JSON {\"Index\": n >= 1, \"Size\": 1..100}",
                                request_id)
        rows = catalogue.list_rows(
            name=params.get("Name"), code=params.get("Code"), language=params.get("Language"),
            audit_status=params.get("AuditStatus"), template_type=params.get("TemplateType"),
            category=params.get("Category"))
        chunk = rows[(index - 1) * size: index * size]
        return _json_response(200, {"RequestId": request_id, "Code": "OK", "Message": "SUCCESS",
                                    "Success": True, "Total": len(rows), "ListTemplate": chunk},
                              delay=self._latency())

    def _template_detail(self, key_id: str, params: dict[str, str], now: float,
                         request_id: str) -> WireResponse:
        language = params.get("Language")
        if not language:
            return self._error(400, "MissingLanguage", "Language is mandatory for this action.",
                               request_id)
        entry = catalogue.find(code=params.get("TemplateCode"), name=params.get("TemplateName"),
                               language=language)
        if entry is None:
            return self._error(400, "DetailError.TemplateNotExist", "The template does not exist.",
                               request_id)
        return _json_response(200, {"RequestId": request_id, "Code": "OK", "Message": "SUCCESS",
                                    "Success": True, "Data": template_detail(entry)},
                              delay=self._latency())

    def _list_messages(self, key_id: str, params: dict[str, str], now: float,
                       request_id: str) -> WireResponse:
        """ListChatappMessage, in the official shape (reference ``platform_rules.md`` section 6).

        The parameters are read by :func:`~.message_log.parse_listing`; a missing required one
        is HTTP 400 ``Missing<Name>``, as the gateway answers for SendChatappMessage. Only the
        calling AccessKey's messages in the given space are listed
        (:data:`DEFAULT_CUST_SPACE_ID`), oldest first; ``Data`` is a list of records
        (``ListChatappMessageResponseBodyData``), with no total.
        """
        query = parse_listing(params)
        if isinstance(query, tuple):
            code, message, gateway = query
            return self._reject(code, message, request_id, gateway=gateway)
        return _json_response(200, {"RequestId": request_id, "Code": "OK", "Message": "OK",
                                    "Success": True,
                                    "Data": self._log.listing(key_id, query, now)},
                              delay=self._latency())

    def _mns_token(self, key_id: str, params: dict[str, str], now: float,
                   request_id: str) -> WireResponse:
        """Dybaseapi QueryTokenForMnsQueue: temporary credentials for one receipt queue."""
        if not params.get("MessageType"):
            return self._error(400, "MissingMessageType",
                               "MessageType is mandatory for this action.", request_id)
        try:
            token = self.mns.issue_token(params["MessageType"], params.get("QueueName"), now)
        except ValueError as exc:
            return self._reject("InvalidParameter", str(exc), request_id)
        return _json_response(200, {"RequestId": request_id, "Code": "OK", "Message": "OK",
                                    "MessageTokenDTO": token})

    # -- inspection endpoints ---------------------------------------------------------------

    def _inspect(self, req: WireRequest) -> WireResponse:
        route = (req.method, req.path.rstrip("/"))
        if route == ("GET", "/_sandbox/messages"):
            return _json_response(200, self.messages())
        if route == ("GET", "/_sandbox/receipts"):
            return _json_response(200, self.receipts())
        if route == ("GET", "/_sandbox/stats"):
            with self._lock:
                stats = {**self.stats, "faults_by_kind": dict(self.fault_counts)}
                return _json_response(200, stats)
        if route == ("POST", "/_sandbox/reset"):
            self.reset()
            return _json_response(200, {"reset": True})
        if route == ("POST", "/_sandbox/inbound"):  # the same rules in-process as served
            refused = inbound_refusal(req)
            if refused is not None:
                return refused
            data = json.loads(req.body or b"{}")
            return _json_response(200, self.record_inbound(str(data["From"]),
                                                           text=data.get("Message", "hi")))
        return _json_response(404, {"Code": "NotFound", "Message": f"no sandbox route {route}"})

    # -- helpers --------------------------------------------------------------------------

    def _request_id(self) -> str:
        h = f"{self._rng.getrandbits(128):032X}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _latency(self) -> float:
        mean, jitter = self.latency
        return max(0.0, self._rng.gauss(mean, jitter)) if jitter else mean

    def _count_fault(self, fault: str | None) -> None:
        if fault is not None:
            self.stats["faults"] += 1
            self.fault_counts[fault] = self.fault_counts.get(fault, 0) + 1

    def _error(self, status: int, code: str, message: str, request_id: str,
               headers: Mapping[str, str] | None = None) -> WireResponse:
        return _json_response(status, {
            "RequestId": request_id, "HostId": HOST_ID, "Code": code, "Message": message,
            "Recommend": f"https://api.aliyun.com/troubleshoot?q={code}&product=cams",
        }, headers, delay=self._latency())

    def _reject(self, code: str, message: str, request_id: str,
                gateway: bool = False) -> WireResponse:
        self.stats["rejected"] += 1
        if gateway:
            return self._error(400, code, message, request_id)
        return _json_response(200, {"RequestId": request_id, "Code": code, "Message": message},
                              delay=self._latency())


_Handler = Callable[[SandboxCore, str, dict[str, str], float, str], WireResponse]
_ACTIONS: dict[str, _Handler] = {
    "SendChatappMessage": SandboxCore._send,
    "ListChatappTemplate": SandboxCore._list_templates,
    "GetChatappTemplateDetail": SandboxCore._template_detail,
    "ListChatappMessage": SandboxCore._list_messages,
    "QueryTokenForMnsQueue": SandboxCore._mns_token,
    "QueryChatappPhoneNumbers": phone_numbers,  # with health: number_health.py
    "GetWhatsappHealthStatus": health_status,
}
