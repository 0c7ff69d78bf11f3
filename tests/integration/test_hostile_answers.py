"""Hostile answers: whatever comes back over the wire, a row ends as a clear error or
``unknown``, within the configured timeout, and never as ``sent`` without a MessageId.

A real :class:`SandboxServer` on loopback serves a core that answers every
``SendChatappMessage`` (or ``ListChatappMessage``) with one hostile answer and delegates the
rest (template lookups, signatures) to a real sandbox core.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pytest

import cams_notebook.sandbox.server as server_module
from cams_notebook import AsyncClient, CamsError, Client, reconcile, send_frame
from cams_notebook.campaigns.journal import JournalRow, MemoryJournal
from cams_notebook.errors import ApiError, OutcomeUnknownError, ServerError
from cams_notebook.sandbox import SandboxCore
from cams_notebook.sandbox._wire import WireRequest, WireResponse
from cams_notebook.sandbox.server import SandboxServer
from tests.helpers import TEMPLATE_CODE

pytestmark = pytest.mark.timeout(60)

KEY_ID, SECRET = "hostile-key", "hostile-secret"
TIMEOUT = 1.0
SLACK = 2.0
"""Seconds allowed beyond the timeout: a thread, an event loop and a template lookup, on a
busy machine. Every hostile answer here would take far longer than that if let run."""
CAMPAIGN: dict[str, Any] = {
    "channel_type": "whatsapp", "type": "template", "from_": "8613800000000",
    "template_code": "830174529611842305", "language": "en", "params": ["name", "order_id"],
}
JSON = {"content-type": "application/json"}
HTML = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway" \
       b"</h1><p>The proxy could not reach the service.</p></body></html>"


def ok(**extra: Any) -> bytes:
    return json.dumps({"RequestId": "r-1", "Code": "OK", "Message": "OK", **extra}).encode()


class HostileCore:
    """A real core for everything but the one action whose answers are hostile."""

    def __init__(self, answer: WireResponse, action: str = "SendChatappMessage") -> None:
        self.real = SandboxCore(keys={KEY_ID: SECRET}, qps=10_000, receipt_delay=0.0)
        self.answer, self.action = answer, action
        self.hits = 0
        self.clock: Callable[[], float] = time.time

    def handle(self, req: WireRequest) -> WireResponse:
        if req.headers.get("x-acs-action") != self.action:
            return self.real.handle(req)
        self.hits += 1
        a = self.answer
        return WireResponse(a.status, dict(a.headers), a.body, a.delay, a.fault)

    def due_pushes(self, now: float) -> list[Any]:
        return []

    def push_done(self, push: Any, ok: bool) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    servers: list[SandboxServer] = []

    def start(answer: WireResponse, action: str = "SendChatappMessage") -> str:
        server = SandboxServer(HostileCore(answer, action)).start()
        servers.append(server)
        return server.url

    yield start
    close_clients()  # before the servers stop, so no connection is left to them
    for server in servers:
        server.stop()


def client_kwargs(url: str) -> dict[str, Any]:
    return {"access_key_id": KEY_ID, "access_key_secret": SECRET, "endpoint": url,
            "timeout": TIMEOUT}


_OPEN: list[Client | AsyncClient] = []


def sync_client(url: str) -> Client:
    """A client for ``url``, closed when the test's servers stop (``serve``)."""
    client = Client(**client_kwargs(url))
    _OPEN.append(client)
    return client


def async_client(url: str) -> AsyncClient:
    """An asyncio client for ``url``, closed when the test's servers stop (``serve``)."""
    client = AsyncClient(**client_kwargs(url))
    _OPEN.append(client)
    return client


def close_clients() -> None:
    while _OPEN:
        client = _OPEN.pop()
        if isinstance(client, Client):
            client.close()
        else:  # its own loop is gone with the campaign: close it on a fresh one
            loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(client.aclose())
            finally:
                loop.close()


def one_row() -> pd.DataFrame:
    return pd.DataFrame({"to": ["8613900000001"], "name": ["Ada"], "order_id": ["A-1"]})


# -- answers that leave the outcome unknown --------------------------------------------------
# (the service may have accepted the message: never resent, reconciled later)

UNKNOWN: dict[str, tuple[WireResponse, str]] = {
    "not JSON": (WireResponse(200, {"content-type": "text/plain"}, b"OK, sent!"), "not CAMS JSON"),
    "an HTML page at 200": (WireResponse(200, {"content-type": "text/html"}, HTML),
                            "not CAMS JSON"),
    "an empty 200": (WireResponse(200, JSON, b""), "(empty)"),
    "a JSON array": (WireResponse(200, JSON, b'["OK"]'), "not CAMS JSON"),
    "a JSON string": (WireResponse(200, JSON, b'"OK"'), "not CAMS JSON"),
    "truncated JSON": (WireResponse(200, JSON, ok()[:-9]), "not CAMS JSON"),
    "invalid UTF-8": (WireResponse(200, JSON, b'{"Code": "\xff\xfe"}'), "not CAMS JSON"),
    "OK without a MessageId": (WireResponse(200, JSON, ok()), "without a MessageId"),
    "a null MessageId": (WireResponse(200, JSON, ok(MessageId=None)), "without a MessageId"),
    "an empty MessageId": (WireResponse(200, JSON, ok(MessageId="")), "without a MessageId"),
    "a numeric MessageId": (WireResponse(200, JSON, ok(MessageId=12345)), "MessageId"),
    "a MessageId object": (WireResponse(200, JSON, ok(MessageId={"id": "m"})), "MessageId"),
    "a huge body": (WireResponse(200, JSON, b'{"Code":"OK","Pad":"' + b"x" * (2 << 20) + b'"}'),
                    "larger than"),
    "JSON nested 100,000 deep": (WireResponse(200, JSON, b"[" * 100_000 + b"]" * 100_000),
                                 "not CAMS JSON"),
    "headers of 1 MiB": (WireResponse(200, {**JSON, "x-pad": "p" * (1 << 20)},
                                      ok(MessageId="m-1")), ""),
    "a slowloris body (a byte every 2 s)": (WireResponse(200, JSON, ok(MessageId="m-1"),
                                                         fault="slowloris"), ""),
    "no answer at all": (WireResponse(200, JSON, b"", fault="hang"), ""),
    "a reset instead of an answer": (WireResponse(200, JSON, b"", fault="reset"), ""),
    "an answer after 10 s": (WireResponse(200, JSON, ok(MessageId="m-1"), delay=10.0), ""),
}


@pytest.mark.parametrize("case", list(UNKNOWN))
def test_a_campaign_row_answered_with_this_is_unknown_within_the_timeout(
        serve: Callable[..., str], case: str) -> None:
    answer, words = UNKNOWN[case]
    url = serve(answer)
    started = time.monotonic()
    result = send_frame(one_row(), client=async_client(url), journal=False,
                        progress=False, **CAMPAIGN)
    elapsed = time.monotonic() - started
    row = result.iloc[0]
    assert (row["status"], row["message_id"], row["attempts"]) == ("unknown", None, 1)
    assert "OutcomeUnknownError" in row["error"] and words in row["error"], row["error"]
    assert elapsed < TIMEOUT + SLACK


@pytest.mark.parametrize("case", list(UNKNOWN))
def test_a_single_send_answered_with_this_raises_outcome_unknown_within_the_timeout(
        serve: Callable[..., str], case: str) -> None:
    answer, words = UNKNOWN[case]
    client = sync_client(serve(answer))
    started = time.monotonic()
    with pytest.raises(OutcomeUnknownError) as info:
        client.send(pd_message())
    assert words in str(info.value)
    assert time.monotonic() - started < TIMEOUT + SLACK


def pd_message() -> Any:
    from cams_notebook import Message

    return Message(channel_type="whatsapp", type="template", from_="8613800000000",
                   to="8613900000001", template_code="830174529611842305", language="en",
                   template_params={"name": "Ada", "order_id": "A-1"})


def test_a_body_dribbled_faster_than_the_read_timeout_still_ends_at_the_timeout(
        serve: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    # each byte comes before the read timeout would fire; only a deadline on the whole
    # answer stops it (the body alone would take 60 bytes x 0.3 s = 18 s)
    monkeypatch.setattr(server_module, "SLOWLORIS_INTERVAL", 0.3)
    url = serve(WireResponse(200, JSON, ok(MessageId="m-1"), fault="slowloris"))
    for send in (lambda: send_frame(one_row(), client=async_client(url),
                                    journal=False, progress=False, **CAMPAIGN),
                 lambda: sync_client(url).send(pd_message())):
        started = time.monotonic()
        try:
            result = send()
        except OutcomeUnknownError:
            pass
        else:
            assert result.iloc[0]["status"] == "unknown"
        assert time.monotonic() - started < TIMEOUT + SLACK


# -- answers that are clear failures -----------------------------------------------------------

FAILED: dict[str, tuple[WireResponse, type[CamsError], str, int]] = {
    # 5xx: the service did not accept it, so the engine retries (5 attempts), then gives up
    "an HTML 502 page": (WireResponse(502, {"content-type": "text/html"}, HTML), ServerError,
                         "Bad Gateway", 5),
    "an empty 503": (WireResponse(503, {}, b""), ServerError, "(empty)", 5),
    "a 500 with JSON but no Code": (WireResponse(500, JSON, b'{"Message": "oops"}'), ServerError,
                                    "oops", 5),
    "a business error with a numeric Code": (WireResponse(200, JSON, b'{"Code": 123}'), ApiError,
                                             "123", 1),
    "a 404 HTML page": (WireResponse(404, {"content-type": "text/html"}, b"<h1>Not Found</h1>"),
                        ApiError, "HTTP404", 1),
    "a 400 that is not JSON": (WireResponse(400, {}, b"bad"), ApiError, "HTTP400", 1),
}


@pytest.mark.parametrize("case", list(FAILED))
def test_a_campaign_row_answered_with_this_fails_with_a_clear_error(
        serve: Callable[..., str], case: str) -> None:
    answer, error, words, attempts = FAILED[case]
    url = serve(answer)
    result = send_frame(one_row(), client=async_client(url), journal=False,
                        progress=False, **CAMPAIGN)
    row = result.iloc[0]
    assert (row["status"], row["message_id"], row["attempts"]) == ("failed", None, attempts)
    assert error.__name__ in row["error"] and words in row["error"], row["error"]
    with pytest.raises(error) as info:
        sync_client(url).send(pd_message())
    assert words in str(info.value)


def test_a_service_that_always_throttles_fails_the_row_after_its_retries(
        serve: Callable[..., str]) -> None:
    answer = WireResponse(400, {**JSON, "x-acs-retry-after": "1"},
                          b'{"Code": "System.LimitControl", "Message": "flow control"}')
    url = serve(answer)
    started = time.monotonic()
    result = send_frame(one_row(), client=async_client(url), journal=False,
                        progress=False, **CAMPAIGN)
    row = result.iloc[0]
    assert (row["status"], row["code"], row["attempts"]) == ("failed", "System.LimitControl", 31)
    assert time.monotonic() - started < 15


# -- the sandbox's own faults over the loopback server ------------------------------------------


@pytest.mark.parametrize("fault", ["reset", "hang"])
def test_a_fault_as_the_sandbox_core_builds_it_reaches_the_client_as_that_fault(
        serve: Callable[..., str], fault: str) -> None:
    # SandboxCore answers a reset or a hang with status 0 (no answer is sent); the server
    # must carry out the fault, not turn it into a 500 the client would retry
    url = serve(WireResponse(0, fault=fault))  # type: ignore[arg-type]
    with pytest.raises(OutcomeUnknownError):
        sync_client(url).send(pd_message())


# -- reconcile against a hostile record of sent messages ---------------------------------------


def unknown_result(rows: int) -> tuple[pd.DataFrame, MemoryJournal]:
    """``rows`` unknown rows and the journal that knows who sent them, when and to whom."""
    now = pd.Timestamp.now(tz="UTC").isoformat(timespec="milliseconds")
    result = pd.DataFrame({
        "status": "unknown", "message_id": None, "code": None, "message": None,
        "request_id": None, "attempts": 1, "latency_ms": 1.0,
        "sent_at": pd.Series([pd.NaT] * rows, dtype="datetime64[ns, UTC]"),
        "error": "timeout", "to": [f"86139{i:08d}" for i in range(rows)],
        "task_id": [f"cn-x-{i:016d}" for i in range(rows)], "key": [f"k{i}" for i in range(rows)]})
    journal = MemoryJournal()
    for i in range(rows):
        journal.intent(JournalRow(key=f"k{i}", status="intent", to=f"86139{i:08d}",
                                 task_id=f"cn-x-{i:016d}", channel="whatsapp",
                                 sender="8613800000000", cust_space_id="space-1",
                                 template_code=TEMPLATE_CODE, attempted_at=now))
    return result, journal


def record(number: str, message_id: str) -> dict[str, object]:
    """One ListChatappMessage record, in the official answer's field names."""
    return {"MessageId": message_id, "UserNumber": number, "BusinessNumber": "8613800000000",
            "ChannelType": "WHATSAPP", "EventAction": "DOWN", "TemplateCode": TEMPLATE_CODE,
            "SendTime": pd.Timestamp.now(tz="UTC").isoformat(timespec="milliseconds")}


LISTINGS: dict[str, WireResponse] = {
    "not JSON": WireResponse(200, {"content-type": "text/html"}, HTML),
    "a 503": WireResponse(503, JSON, b'{"Code": "ServiceUnavailable"}'),
    "no answer": WireResponse(200, JSON, b"", fault="hang"),
    "the invented shape": WireResponse(200, JSON, json.dumps(
        {"Code": "OK", "Data": {"Total": 0, "List": []}}).encode()),
    "Data not a list": WireResponse(200, JSON, b'{"Code": "OK", "Data": "none"}'),
}


@pytest.mark.parametrize("case", list(LISTINGS))
def test_an_unreadable_record_leaves_every_row_unknown_with_the_reason(
        serve: Callable[..., str], case: str) -> None:
    # "no record" may only be concluded from a listing that was read: anything else proves
    # nothing, and a row taken for not_sent would be sent twice
    url = serve(LISTINGS[case], action="ListChatappMessage")
    result, journal = unknown_result(3)
    before = result.copy()
    started = time.monotonic()
    settled = reconcile(result, client=sync_client(url), journal=journal, settle=0,
                        sleep=lambda s: None)
    assert time.monotonic() - started < 5 * (TIMEOUT + SLACK)  # a few tries, each bounded
    assert set(settled["status"]) == {"unknown"}
    assert all(isinstance(e, str) and e and e != "timeout" for e in settled["error"])
    pd.testing.assert_frame_equal(result, before)  # the input is not changed
    assert {r.status for r in journal.rows()} == {"intent"}


@pytest.mark.parametrize("rows", [3, 30])
def test_reconcile_ends_on_a_record_that_repeats_the_same_page_forever(
        serve: Callable[..., str], rows: int) -> None:
    full = [record("8613900000000", "m-0")] + [record("8613999999999", f"other-{i}")
                                               for i in range(99)]
    page = {"Code": "OK", "Success": True, "Data": full}
    url = serve(WireResponse(200, JSON, json.dumps(page).encode()), action="ListChatappMessage")
    result, journal = unknown_result(rows)
    started = time.monotonic()
    settled = reconcile(result, client=sync_client(url), journal=journal, settle=0)
    assert time.monotonic() - started < 20
    assert "not_sent" not in set(settled["status"])  # a listing that never ends proves nothing


def test_reconcile_does_not_take_a_record_for_another_number(serve: Callable[..., str]) -> None:
    page = {"Code": "OK", "Success": True, "Data": [record("8613999999999", "m-0")]}
    url = serve(WireResponse(200, JSON, json.dumps(page).encode()), action="ListChatappMessage")
    result, journal = unknown_result(1)
    settled = reconcile(result, client=sync_client(url), journal=journal, settle=0)
    assert settled["status"].iloc[0] == "not_sent"
    assert pd.isna(settled["message_id"].iloc[0])
