"""The receipt receiver against hostile or broken clients: malformed chunk sizes, clients
that never stop sending, pushes with one bad event among good ones, a leaked secret in the
log, connections left half-sent or opened without end."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cams_notebook import Message
from cams_notebook.receipts.rejected import MAX_TIMESTAMP_MS, RejectedEvents
from cams_notebook.receipts.server import PushSummary, ReceiptServer
from cams_notebook.receipts.store import ReceiptStore
from cams_notebook.sandbox import Sandbox
from tests.helpers import template_fields
from tests.receipt_helpers import receipt

pytestmark = pytest.mark.timeout(60)

SECRET = "s3cr3t-Kq9"


@pytest.fixture
def server() -> Iterator[ReceiptServer]:
    with ReceiptServer(store=":memory:", max_body=64 * 1024) as srv:
        yield srv


def chunked_head(path: bytes = b"/") -> bytes:
    return b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def closed_within(sock: socket.socket, bound: float) -> bool:
    """Whether the server closes ``sock`` before ``bound`` seconds pass (a generous bound)."""
    sock.settimeout(bound)
    try:
        read_until_closed(sock)
    except TimeoutError:
        return False
    return True


# -- chunk framing: h11 refuses what is not a chunk size ------------------------------------------


@pytest.mark.parametrize("size", [b"-1", b"zz", b"0x10", b"+5", b" 5", b"1 2", b"f" * 40,
                                  b"1" * 21], ids=["negative", "non-hex", "0x-prefix", "plus",
                                                   "leading-space", "two-numbers", "40-digits",
                                                   "21-digits"])
def test_a_malformed_chunk_size_is_a_400_at_once(server: ReceiptServer, size: bytes) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(chunked_head() + size + b"\r\n")  # no body after it: nothing to wait for
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 400 ") and b"connection: close" in answer.lower()
    assert server.store.count() == 0 and server.stats["refused"] == 1


def test_a_client_that_goes_on_sending_after_a_bad_chunk_size_is_cut_off(
        server: ReceiptServer) -> None:
    block = b"x" * 65536
    sent = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(chunked_head() + b"-1\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 400 ")  # answered before the flood
        try:
            while sent < 512 * 1024 * 1024:
                sock.sendall(block)
                sent += len(block)
        except OSError:  # reset: the receiver stopped reading and closed
            pass
    # Today's limit is 256 KiB read after a refusal; the rest is what the two kernels buffer.
    assert sent < 64 * 1024 * 1024


def test_a_huge_declared_chunk_is_held_to_the_body_limit(server: ReceiptServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(chunked_head() + b"f" * 20 + b"\r\n")  # 2**80 - 1 bytes announced
        try:
            for _ in range(4):  # 256 KiB: past the 64 KiB limit
                sock.sendall(b"[" * 65536)
        except OSError:
            pass
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 413 ") and server.store.count() == 0


# -- one bad event among good ones ---------------------------------------------------------------


@pytest.mark.parametrize("bad, reason", [
    ({"MessageId": "bad", "Status": "Sent", "Timestamp": 10**30}, "Timestamp must be"),
    ({"MessageId": "bad", "Status": "Sent", "Timestamp": -1}, "Timestamp must be"),
    ({"MessageId": "bad", "Timestamp": 1}, "needs Status"),
    ("just text", "JSON object"),
    ({"MessageId": "", "Status": "Sent"}, "invalid status event"),
], ids=["timestamp-overflow", "timestamp-negative", "no-status", "not-an-object", "empty-id"])
def test_a_bad_event_is_set_aside_and_the_good_ones_of_the_push_are_stored(
        server: ReceiptServer, bad: Any, reason: str) -> None:
    push = [receipt(1), bad, receipt(2, "Read")]
    with httpx.Client(base_url=server.url) as http:
        answer = http.post("/", json=push)
        # 200: CAMS resends a whole push on anything else, the good events with it.
        assert answer.status_code == 200 and answer.json() == {"code": 0, "msg": "success"}
        again = http.post("/", json=push)  # CAMS resends anyway (at least once delivery)
        assert again.status_code == 200
    assert server.store.count("status") == 2
    rows = server.rejected.rows()
    assert len(rows) == 1 and reason in rows[0]["reason"] and rows[0]["arrivals"] == 2
    assert json.loads(rows[0]["raw"]) == bad and rows[0]["client"] == "127.0.0.1"
    assert server.stats["rejected"] == 2 and server.stats["refused"] == 0


def test_a_push_of_only_bad_events_is_a_400_never_a_503(server: ReceiptServer) -> None:
    bad = [{"MessageId": "m", "Status": "Sent", "Timestamp": 10**30}, {"Nothing": 1}]
    with httpx.Client(base_url=server.url) as http:
        answer = http.post("/", json=bad)
    assert answer.status_code == 400 and "event 0: Timestamp must be" in answer.json()["msg"]
    assert server.store.count() == 0 and server.rejected.count() == 2
    assert server.stats["rejected"] == 2 and server.stats["refused"] == 1


@pytest.mark.parametrize("body", [
    b"[" * 5000 + b"]" * 5000,
    b'[{"MessageId": "m", "Status": "Sent", "x": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001 + b"]",
], ids=["nested-arrays", "nested-inside-an-event"])
def test_json_nested_too_deeply_is_a_400(server: ReceiptServer, body: bytes) -> None:
    with httpx.Client(base_url=server.url) as http:
        answer = http.post("/", content=body)
        assert answer.status_code == 400 and "nested too deeply" in answer.json()["msg"]
        assert http.post("/", json=[receipt(1)]).status_code == 200  # and it keeps serving


def test_the_largest_timestamp_allowed_is_stored(server: ReceiptServer) -> None:
    with httpx.Client(base_url=server.url) as http:
        assert http.post("/", json=[receipt(1, Timestamp=MAX_TIMESTAMP_MS)]).status_code == 200
    assert server.store.count("status") == 1 and server.rejected.count() == 0
    assert server.store.to_frame()["at"].iloc[0].year == 2200  # still shown as a date


def test_rejected_events_are_kept_in_the_store_file_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "receipts.db"
    bad = {"MessageId": "b", "Status": "Sent", "Timestamp": 10**30}
    with ReceiptServer(store=path) as srv, httpx.Client() as http:
        assert http.post(srv.url, json=[receipt(1), bad]).status_code == 200
    srv.store.close()
    with ReceiptServer(store=path) as srv, httpx.Client() as http:  # restarted: resent push
        assert http.post(srv.url, json=[receipt(1), bad]).status_code == 200
    srv.store.close()
    rows = RejectedEvents(path).rows()
    assert [(r["arrivals"], json.loads(r["raw"])) for r in rows] == [(2, bad)]
    with ReceiptStore(path) as store:  # the store's own table is untouched by the record
        assert store.count() == 1


def test_each_stored_push_is_reported_to_on_push() -> None:
    seen: list[PushSummary] = []
    with ReceiptServer(store=":memory:", on_push=seen.append) as srv, httpx.Client() as http:
        http.post(srv.url, json=[receipt(1), receipt(2)])
        http.post(srv.url, json=[receipt(2), {"x": 1}])
    assert [(s.events, s.new, s.duplicates, s.rejected) for s in seen] == [(2, 2, 0, 0),
                                                                          (2, 0, 1, 1)]


# -- the secret ----------------------------------------------------------------------------------


def test_the_secret_never_reaches_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with ReceiptServer(path="/receipts", store=":memory:", secret=SECRET) as srv:
        origin = f"http://127.0.0.1:{srv.port}"
        with httpx.Client() as http:
            assert http.post(f"{origin}/elsewhere/{SECRET}", json=[receipt(1)]).status_code == 404
            assert http.post(f"{origin}/receipts/{SECRET}/x", json=[receipt(2)]).status_code == 404
            assert http.post(f"{origin}/receipts/{SECRET}", json=[{"x": 1}]).status_code == 400
            assert http.post(srv.url, json=[receipt(3)]).status_code == 200
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
            # a request line h11 refuses: its error quotes the line, secret and all
            sock.sendall(b"POST /receipts/" + SECRET.encode() + b" HTTP/1.1 junk\r\n\r\n")
            assert read_until_closed(sock).startswith(b"HTTP/1.1 400 ")
        assert srv.public_url == f"{origin}/receipts/<secret>"
    ours = [r for r in caplog.records if r.name.startswith("cams_notebook")]
    assert ours and srv.stats["refused"] == 4  # (httpx, the client here, logs its own URLs)
    assert all(SECRET not in r.getMessage() for r in ours)


@pytest.mark.parametrize("secret", ["", "a/b", "has space", "x?y", "tab\there"])
def test_a_secret_that_cannot_be_a_path_segment_is_refused(secret: str, tmp_path: Path) -> None:
    store = tmp_path / "r.db"
    with pytest.raises(ValueError, match="secret must"):
        ReceiptServer(store=store, secret=secret)
    assert not store.exists()


# -- idle and half-sent connections, and a cap ---------------------------------------------------


def test_half_sent_and_idle_connections_are_closed() -> None:
    with ReceiptServer(store=":memory:", read_timeout=0.2, request_timeout=0.5) as srv:
        socks = [socket.create_connection(("127.0.0.1", srv.port), timeout=10)
                 for _ in range(60)]
        try:
            for i, sock in enumerate(socks):
                if i % 3 == 0:
                    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Le")  # half a head
                elif i % 3 == 1:
                    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n[{")
                # else: connected, and silent
            assert all(closed_within(sock, 20.0) for sock in socks)
        finally:
            for sock in socks:
                sock.close()
        with httpx.Client() as http:
            assert http.post(srv.url, json=[receipt(1)]).status_code == 200


def test_connections_past_the_cap_get_503_and_the_receiver_recovers() -> None:
    with ReceiptServer(store=":memory:", max_connections=2) as srv:
        held = [socket.create_connection(("127.0.0.1", srv.port), timeout=10) for _ in range(2)]
        try:
            with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as extra:
                assert read_until_closed(extra).startswith(b"HTTP/1.1 503 ")
        finally:
            for sock in held:
                sock.close()
        with httpx.Client() as http:  # the held ones closed: room again (once they are gone)
            for _ in range(400):
                try:
                    if http.post(srv.url, json=[receipt(1)]).status_code == 200:
                        break
                except httpx.TransportError:  # refused at the cap: a reset may beat the 503
                    pass
                time.sleep(0.05)
            else:
                pytest.fail("the receiver never took a push after the cap was freed")
        assert srv.stats["refused"] >= 1


def test_the_sandbox_pushing_to_a_receiver_with_a_secret_logs_it_nowhere(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: httpx's "HTTP Request: POST <url>" too
    with ReceiptServer(path="/receipts", store=":memory:", secret=SECRET) as srv:
        sb = Sandbox(seed=9, receipt_delay=0.0, callback_url=srv.url)
        sb.serve()
        try:
            client = sb.client()
            for i in range(3):
                client.send(Message(**template_fields(to=f"86139{i:08d}")))
            expected = len({(r["MessageId"], r["Status"], r["Timestamp"])
                            for r in sb.receipts()})
            for _ in range(400):  # the pushes come on the sandbox's own schedule
                if srv.store.count("status") >= expected:
                    break
                time.sleep(0.05)
        finally:
            sb.stop()
        assert srv.store.count("status") == expected
    assert caplog.records and all(SECRET not in r.getMessage() for r in caplog.records)
