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

import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .._config import API_VERSION
from ..models import Message
from ..templates import Template
from ._defaults import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from ._wire import Push, WireRequest, WireResponse, json_response
from .audit_events import QualityBoard
from .gateway import GatewayError, NonceCache, authenticate
from .inspection import inspect
from .message_log import PAGE_SIZE_MAX, MessageLog, parse_listing  # noqa: F401 - as before
from .meta_limits import MetaJudge, MetaLimits
from .meta_side import MetaSide
from .number_health import DEFAULT_TIER, check_tier, health_status, phone_numbers
from .outcomes import FAULT_PROFILES, MAGIC_NUMBERS, MAGIC_SENDERS, Fate, draw_fault, fate_for
from .queue_service import DYBASEAPI_VERSION, SandboxMns
from .receipt_timeline import ReceiptTimeline
from .template_actions import list_templates, template_detail
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
_json_response = json_response


class SandboxCore(MetaSide):
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
        limits: MetaLimits | None = None,
        phone_numbers: Iterable[str] = (),
    ) -> None:
        """``limits``: which of Meta's limits after acceptance it imitates (none unless given;
        :mod:`.meta_limits`)."""
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
        self.phone_numbers = frozenset(n.lstrip("+") for n in phone_numbers)
        """The account's WhatsApp numbers besides the default and the magic senders: what
        ``QueryChatappPhoneNumbers`` lists before they have sent anything."""
        """Every sender's ``MessagingLimitTier`` but a magic one's (:mod:`.number_health`)."""
        self.receipt_order = receipt_order
        """``"due"``: receipts in the order they fall due; ``"shuffled"``: each batch that falls
        due together in a seeded random order, as CAMS may deliver them (at least once, in any
        order), so that a consumer relying on "the last status wins" shows its bug."""
        self._lock = threading.Lock()
        self._parsed: dict[tuple[str, str], Template] = {}
        self.mns = SandboxMns(seed=seed)
        """The queue side: QueryTokenForMnsQueue and the SMQ endpoint (``sandbox/mns.py``)."""
        self.limits = limits or MetaLimits()
        self.judge = MetaJudge(self.limits)
        self.board = QualityBoard(tier=lambda: self.tier, space=DEFAULT_CUST_SPACE_ID)
        """Number ratings and template statuses as they stand (:mod:`.audit_events`)."""
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
            self._senders: set[str] = {DEFAULT_SENDER, *MAGIC_SENDERS, *self.phone_numbers}
            self.mns.reset()
            self.judge.reset()
            self.board.reset()
            self.stats: dict[str, int] = {"requests": 0, "accepted": 0, "throttled": 0,
                                          "rejected": 0, "faults": 0, "pushes_dropped": 0,
                                          "refused": 0, "audit_events": 0}
            self.fault_counts: dict[str, int] = {}
            self.refusal_counts: dict[str, int] = {}

    def messages(self) -> list[dict[str, Any]]:
        """Every accepted message: time, AccessKey id, To, MessageId, TaskId and all parameters."""
        with self._lock:
            return [dict(m) for m in self._log.records]

    def receipts(self, now: float | None = None) -> list[dict[str, Any]]:
        """Every ChatAppStatus receipt due by ``now``, refusals and duplicates included, in
        due order."""
        with self._lock:
            self._release(self.clock() if now is None else now)
            return [dict(r) for r in self._receipts.released]

    def audit_events(self, now: float | None = None) -> list[dict[str, Any]]:
        """Every ChatAppAudit event produced so far, in order (``now`` is ignored: an event
        is due when it happens)."""
        with self._lock:
            return [dict(e) for e in self._receipts.audit_released]

    def stats_view(self) -> dict[str, Any]:
        """The counters, with faults and refusals by kind (``/_sandbox/stats``)."""
        with self._lock:
            return {**self.stats, "faults_by_kind": dict(self.fault_counts),
                    "refusals_by_code": dict(self.refusal_counts)}

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
            return inspect(self, req)
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
            paused = template and self.board.refused(template["TemplateCode"],
                                                     template["Language"])
            if paused:
                error = ("InvalidParameter.TemplateNotApproved", "TemplateCode: the template "
                         f"is not approved (status {paused})")
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
        window_open = now - self._inbound.get(message.to, float("-inf")) < INBOUND_WINDOW
        refused = self._meta(message, window_open, space, now) \
            if message.channel_type == "whatsapp" else None
        if refused is not None:  # Meta's limits come before its content rules
            fate = refused
        elif (message.channel_type == "whatsapp" and message.type == "message"
              and not window_open and fate.statuses):
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
    "ListChatappTemplate": list_templates,
    "GetChatappTemplateDetail": template_detail,
    "ListChatappMessage": SandboxCore._list_messages,
    "QueryTokenForMnsQueue": SandboxCore._mns_token,
    "QueryChatappPhoneNumbers": phone_numbers,  # with health: number_health.py
    "GetWhatsappHealthStatus": health_status,
}
