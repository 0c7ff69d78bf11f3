"""Delivery receipts and inbound messages: the records, how bodies decode, the status state
machine, and the join onto a campaign result.

CAMS reports what happened to a message as ``ChatAppStatus`` events and hands over what
users write as ``ChatAppInbound`` events (reference ``cams_api.md`` section 5,
``smq_receipts.md`` section 3). They come from the queue (:class:`~.receipt_queue.ReceiptQueue`)
or as HTTP pushes (:class:`~.receipt_server.ReceiptServer`), at least once and in any order,
and are kept in a :class:`~.receipt_store.ReceiptStore`.

The state machine, per MessageId, depends only on the set of events, never their order::

    Sent < Delivered < Read         the highest rank seen wins (a late Sent never undoes Read)
    Failed                          terminal: once seen, the message is failed
    Deleted, subscribe, unsubscribe  recorded, but they do not move the delivery status

A Read without a Delivered implies delivery: ``delivered_at`` is then the read time.

>>> state = DeliveryState("m1")
>>> for status, ms in [("Read", 3000), ("sent", 1000), ("Delivered", 2000), ("Sent", 1000)]:
...     event = {"MessageId": "m1", "Status": status, "Timestamp": ms}
...     _ = state.apply(Receipt.model_validate(event))
>>> state.status, state.events
('read', 4)
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .audit import AuditEvent, is_audit

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DELIVERY_COLUMNS",
    "BodyError",
    "DeliveryState",
    "InboundMessage",
    "Receipt",
    "classify",
    "decode_body",
    "dedupe_key",
    "fold",
    "join_receipts",
]

STATUS_NAMES = {s.lower(): s for s in
                ("Sent", "Delivered", "Read", "Failed", "Deleted", "subscribe", "unsubscribe")}
"""Documented statuses, by their lower-case form (CAMS capitalises them inconsistently)."""
RANK = {"Sent": 1, "Delivered": 2, "Read": 3}
DELIVERY_COLUMNS = ["delivery_status", "delivered_at", "read_at", "failed_code", "failed_reason",
                    "fallback_triggered"]


class BodyError(ValueError):
    """A queue message or HTTP push body that is not receipt JSON."""


class _Event(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    message_id: str = Field(alias="MessageId", min_length=1)
    timestamp: int | None = Field(None, alias="Timestamp")
    """Unix milliseconds."""
    from_: str | None = Field(None, alias="From")
    to: str | None = Field(None, alias="To")
    from_user_id: str | None = Field(None, alias="FromUserId")
    from_parent_user_id: str | None = Field(None, alias="FromParentUserId")
    from_user_name: str | None = Field(None, alias="FromUserName")
    type: str | None = Field(None, alias="Type")

    @field_validator("message_id", "from_", "to", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    @property
    def at(self) -> datetime | None:
        """``Timestamp`` as an aware UTC datetime."""
        return None if self.timestamp is None else datetime.fromtimestamp(self.timestamp / 1000,
                                                                          timezone.utc)

    def wire(self) -> dict[str, Any]:
        """The event as it arrived (wire names, unknown fields included)."""
        return self.model_dump(by_alias=True, exclude_none=True)


class Receipt(_Event):
    """One ``ChatAppStatus`` event. Unknown fields are kept (``model_extra``), not rejected.

    >>> r = Receipt.model_validate(
    ...     {"MessageId": "m1", "Status": "DELIVERED", "Timestamp": 1691043638000})
    >>> r.status, r.at.isoformat()
    ('Delivered', '2023-08-03T06:20:38+00:00')
    """

    status: str = Field(alias="Status", min_length=1)
    """Canonical spelling of a documented status (``Delivered``, ``unsubscribe``); others as
    sent."""
    status_description: str | None = Field(None, alias="StatusDescription")
    error_code: str | None = Field(None, alias="ErrorCode")
    error_description: str | None = Field(None, alias="ErrorDescription")
    conversation_type: str | None = Field(None, alias="ConversationType")
    conversation_id: str | None = Field(None, alias="ConversationId")
    msg_frame_type: str | None = Field(None, alias="MsgFrameType")
    task_id: str | None = Field(None, alias="TaskId")
    origin_phone_number: str | None = Field(None, alias="OriginPhoneNumber")
    template_code: str | None = Field(None, alias="TemplateCode")
    template_name: str | None = Field(None, alias="TemplateName")
    language: str | None = Field(None, alias="Language")

    @field_validator("status", mode="before")
    @classmethod
    def _canonical(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return STATUS_NAMES.get(value.strip().lower(), value.strip())

    @field_validator("error_code", "task_id", "template_code", mode="before")
    @classmethod
    def _code_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    @property
    def is_subscription(self) -> bool:
        """A Viber subscribe/unsubscribe event (about the user, not a message)."""
        return self.status in ("subscribe", "unsubscribe")


class InboundMessage(_Event):
    """One ``ChatAppInbound`` event: a user wrote to a business number.

    ``message`` is text, or a dict for media/location/reply (CAMS sends those as a JSON string).
    """

    message: Any = Field(None, alias="Message")
    display_name: str | None = Field(None, alias="DisplayName")
    cust_space_id: str | None = Field(None, alias="CustSpaceId")
    waba_id: str | None = Field(None, alias="WabaId")
    name: str | None = Field(None, alias="Name")

    @property
    def content(self) -> Any:
        """``Message`` decoded: a dict when it is (or holds) a JSON object, else the text."""
        m = self.message
        if isinstance(m, str) and m.lstrip().startswith("{"):
            try:
                return json.loads(m)
            except ValueError:
                return m
        return m


def classify(item: Mapping[str, Any]) -> str:
    """``"status"``, ``"inbound"``, ``"audit"`` (:mod:`.audit`) or ``"unknown"`` for one
    decoded event. Audit first: a V2 phoneQualityUpdate has a ``Status`` too."""
    if is_audit(item):
        return "audit"
    if "Status" in item:
        return "status"
    # (mutmut: any NoticeType default other than "inbound" classifies the same)
    if (str(item.get("NoticeType", "")).lower() == "inbound"  # pragma: no mutate (equivalent)
            or "Message" in item or "DisplayName" in item):
        return "inbound"
    return "unknown"


def parse_event(item: Any) -> Receipt | InboundMessage | AuditEvent:
    """Validate one decoded event; raises :class:`BodyError` with the reason."""
    if not isinstance(item, Mapping):
        raise BodyError(f"an event must be a JSON object, not {type(item).__name__}")
    kind = classify(item)
    if kind == "unknown":
        raise BodyError("an event needs Status (ChatAppStatus), Message (ChatAppInbound), or "
                        "Type or AuditStatus with TemplateCode (ChatAppAudit)")
    model: type[Receipt | InboundMessage | AuditEvent] = (
        Receipt if kind == "status" else InboundMessage if kind == "inbound" else AuditEvent)
    try:
        return model.model_validate(dict(item))
    except ValueError as exc:
        # (mutmut: model_validate raises only ValidationError, which always has errors())
        reason = exc.errors()[0]["msg"] if hasattr(exc, "errors") else exc  # pragma: no mutate
        raise BodyError(f"invalid {kind} event: {reason}") from None


def decode_body(body: str | bytes, *, require_list: bool = False) -> list[Any]:
    """Decode a queue message body or a push body into a list of JSON values.

    Raw JSON is taken as it is; anything else is strict base64 of UTF-8 JSON (how Alicom
    queues carry it). One object becomes a one-item list, unless ``require_list``.
    """
    text = body.decode(
        "utf-8",  # pragma: no mutate (equivalent: "UTF-8" names the same codec)
    ) if isinstance(body, bytes) else body
    text = text.strip()
    if not text:
        raise BodyError("empty body")
    if text[0] not in "{[":
        try:
            text = base64.b64decode(text, validate=True).decode(
                "utf-8",  # pragma: no mutate (equivalent: "UTF-8" names the same codec)
            ).strip()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise BodyError("body is neither JSON nor base64 JSON") from None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise BodyError(f"body is not JSON: {exc}") from None
    if isinstance(value, list):
        return value
    if require_list:
        raise BodyError(f"body must be a JSON array of events, not {type(value).__name__}")
    return [value]


def dedupe_key(event: Receipt | InboundMessage | AuditEvent) -> str:
    """``status|MessageId|status|Timestamp`` for receipts, ``inbound|MessageId`` for messages,
    :meth:`.AuditEvent.dedupe_key` for audit events."""
    if isinstance(event, AuditEvent):
        return event.dedupe_key()
    if isinstance(event, Receipt):
        return f"status|{event.message_id}|{event.status.lower()}|{event.timestamp or ''}"
    return f"inbound|{event.message_id}"


# -- the state machine ---------------------------------------------------------------------------


def _min(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


@dataclass
class DeliveryState:
    """What is known about one sent message, folded from its receipts in any order."""

    message_id: str
    rank: int = 0
    failed: bool = False
    sent_ms: int | None = None
    delivered_ms: int | None = None
    read_ms: int | None = None
    failed_ms: int | None = None
    failed_code: str | None = None
    failed_reason: str | None = None
    task_id: str | None = None
    to: str | None = None
    events: int = 0
    _failure_seen: bool = field(default=False, repr=False)

    @property
    def status(self) -> str | None:
        """``failed``, ``read``, ``delivered``, ``sent`` or None (only non-delivery events)."""
        if self.failed:
            return "failed"
        return {3: "read", 2: "delivered", 1: "sent"}.get(self.rank)

    @property
    def delivered_at_ms(self) -> int | None:
        return _min(self.delivered_ms, self.read_ms)

    def apply(self, receipt: Receipt) -> bool:
        """Fold one event in; True when the delivery status changed."""
        before = self.status
        self.events += 1
        self.task_id = self.task_id or receipt.task_id
        self.to = self.to or receipt.to
        ts = receipt.timestamp
        if receipt.status == "Failed":
            self.failed = True
            # The earliest failure names the reason; ties break on the text, so the choice
            # never depends on arrival order. (pragma reason, mutmut: any sentinel above every
            # timestamp, and any text for a missing one, keep that promise)
            candidate = (ts if ts is not None else 2**63,  # pragma: no mutate
                         receipt.error_code or "",  # pragma: no mutate
                         receipt.error_description or "",  # pragma: no mutate
                         )
            current = (self.failed_ms if self.failed_ms is not None else 2**63,  # pragma: no mutate
                       self.failed_code or "", self.failed_reason or "",  # pragma: no mutate
                       )
            # (mutmut: <= only rewrites a failure with one equal to it)
            if not self._failure_seen or candidate < current:  # pragma: no mutate (equivalent)
                self.failed_ms, self.failed_code = ts, receipt.error_code
                self.failed_reason = receipt.error_description
            self._failure_seen = True
        elif receipt.status in RANK:
            self.rank = max(self.rank, RANK[receipt.status])
            name = {"Sent": "sent_ms", "Delivered": "delivered_ms",
                    "Read": "read_ms"}[receipt.status]
            setattr(self, name, _min(getattr(self, name), ts))
        return self.status != before


def fold(receipts: Iterable[Receipt]) -> dict[str, DeliveryState]:
    """Every message's state from its receipts (duplicates and any order give the same result)."""
    states: dict[str, DeliveryState] = {}
    for r in receipts:
        if r.is_subscription:
            continue
        state = states.get(r.message_id)
        if state is None:
            state = states[r.message_id] = DeliveryState(r.message_id)
        state.apply(r)
    return states


# -- the join ------------------------------------------------------------------------------------


def _states_of(receipts: Any) -> dict[str, DeliveryState]:
    if hasattr(receipts, "states"):
        return receipts.states()  # type: ignore[no-any-return]
    if isinstance(receipts, Mapping):
        return dict(receipts)
    if hasattr(receipts, "to_dict") and hasattr(receipts, "columns"):  # a DataFrame of raw events
        column = "raw" if "raw" in receipts.columns else None
        rows = ([r if isinstance(r, dict) else json.loads(r) for r in receipts[column]] if column
                else [_fields(r) for r in receipts.to_dict(
                    "records",  # pragma: no mutate (equivalent: pandas reads it case-blind)
                )])
        return fold(Receipt.model_validate(r) for r in rows if classify(r) == "status")
    # (mutmut: model_validate gives a Receipt back as it is)
    return fold(r if isinstance(r, Receipt) else Receipt.model_validate(r)  # pragma: no mutate
                for r in receipts)


def _fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """A frame row as the event it was: the NaN/None a frame puts in for absent fields dropped
    (a frame of receipts has an ErrorCode column, but only its Failed rows had one)."""
    import pandas as pd

    return {k: v for k, v in row.items() if not (pd.api.types.is_scalar(v) and pd.isna(v))}


def join_receipts(result: pd.DataFrame, receipts: Any, *, fallback: Any = None,
                  fallback_duration: float | None = None,
                  now: datetime | None = None) -> pd.DataFrame:
    """``result`` (a campaign result) with the receipts' outcome per row, joined on ``message_id``.

    Adds ``delivery_status`` (``sent``/``delivered``/``read``/``failed``, ``pending`` when
    accepted but no receipt yet, missing when never accepted), ``delivered_at``, ``read_at``
    (UTC), ``failed_code``, ``failed_reason`` and ``fallback_triggered``. ``receipts`` is a
    :class:`~.receipt_store.ReceiptStore`, a frame from its ``to_frame()``, or receipt dicts.

    CAMS does not report fallbacks in receipts, so ``fallback_triggered`` applies its rule:
    for rows sent with a fallback (``fallback``: True, a boolean per row, or a column name;
    by default rows with a non-empty ``fall_back_id``/``fall_back_content`` column), a
    Failed receipt, or with ``fallback_duration`` (seconds, as sent in ``FallBackDuration``)
    no delivery within that time of ``sent_at``.
    """
    import pandas as pd

    states = _states_of(receipts)
    out = result.copy()
    # (mutmut: a Series of None, NaN or missing values holds no string id, whatever its dtype;
    # and no MessageId is empty or a non-string, so get() finds nothing for those either way)
    ids = (out["message_id"] if "message_id" in out
           else pd.Series(None, index=out.index, dtype=object,  # pragma: no mutate
                          ))
    found = [states.get(m) if isinstance(m, str) and m else None for m in ids]  # pragma: no mutate
    accepted = [isinstance(m, str) and bool(m) for m in ids]

    def stamp(ms: list[int | None]) -> pd.Series:
        return pd.to_datetime(pd.Series(ms, index=out.index, dtype="float64"), unit="ms", utc=True)

    out["delivery_status"] = pd.Series(
        [(s.status or "pending") if s else ("pending" if ok else None)
         for s, ok in zip(found, accepted, strict=True)],  # pragma: no mutate (same lengths)
        index=out.index, dtype=object)
    out["delivered_at"] = stamp([s.delivered_at_ms if s else None for s in found])
    out["read_at"] = stamp([s.read_ms if s else None for s in found])
    out["failed_code"] = pd.Series([s.failed_code if s else None for s in found], index=out.index,
                                   dtype=object)
    out["failed_reason"] = pd.Series([s.failed_reason if s else None for s in found],
                                     index=out.index, dtype=object)
    configured = _fallback_rows(out, fallback)
    triggered = out["delivery_status"].eq("failed")
    if fallback_duration is not None and "sent_at" in out:
        when = pd.Timestamp(now) if now is not None else pd.Timestamp.now(
            tz="UTC",  # pragma: no mutate (equivalent: a naive now is localised to UTC below)
        )
        when = when.tz_localize(
            "UTC",  # pragma: no mutate (equivalent: "utc" names the same zone)
        ) if when.tzinfo is None else when
        deadline = (pd.to_datetime(out["sent_at"], utc=True)
                    + pd.Timedelta(seconds=fallback_duration))
        late = out["delivered_at"].isna() | (out["delivered_at"] > deadline)
        triggered |= late & (deadline <= when) & pd.Series(accepted, index=out.index)
    out["fallback_triggered"] = (triggered & configured).astype(bool)
    return out


def _fallback_rows(frame: pd.DataFrame, fallback: Any) -> pd.Series:
    import pandas as pd

    if fallback is None:
        flags = pd.Series(False, index=frame.index)
        for column in ("fall_back_id", "fall_back_content", "FallBackId", "FallBackContent"):
            if column in frame:
                # (mutmut: fillna("") is needed under pandas 2 only: there astype(str) makes
                # NaN the text "nan"; pandas 3 keeps it missing)
                flags |= frame[column].astype(object).fillna(
                    "",  # pragma: no mutate (equivalent under pandas 3, see above)
                ).astype(str).str.len() > 0
        return flags
    if isinstance(fallback, bool):
        return pd.Series(fallback, index=frame.index)
    given = (frame[fallback] if isinstance(fallback, str)
             else pd.Series(list(fallback), index=frame.index))
    # (mutmut: a missing flag filled with None is as false as one filled with False, and the
    # join casts the flags to bool again)
    return given.astype(object).fillna(False).astype(bool)  # pragma: no mutate (see above)
