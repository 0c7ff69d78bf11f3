"""The HTTP push receiver: nothing lost under concurrent pushes or a kill, bad bodies refused
while it keeps serving, the secret and the allow-list, and the sandbox's own pushes."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from cams_notebook import Message
from cams_notebook.receipts.server import ReceiptServer
from cams_notebook.receipts.store import ReceiptStore
from cams_notebook.sandbox import Sandbox
from tests.helpers import template_fields
from tests.receipt_helpers import receipt


def key(event: dict[str, Any]) -> tuple[str, str, int]:
    return event["MessageId"], event["Status"], event["Timestamp"]


@pytest.fixture
def server() -> Any:
    with ReceiptServer(store=":memory:", max_body=64 * 1024) as srv:
        yield srv


def raw_exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def test_10000_receipts_in_100_pushes_from_4_senders_are_all_stored(tmp_path: Path) -> None:
    events = [receipt(i, random.Random(i).choice(["Sent", "Delivered", "Read", "Failed"]),
                      Note=f"extra-{i}") for i in range(10_000)]
    pushes = [events[i:i + 100] for i in range(0, 10_000, 100)]
    slowest = 0.0
    lock = threading.Lock()
    with ReceiptServer(store=tmp_path / "r.db") as srv:
        def sender(mine: list[list[dict[str, Any]]]) -> None:
            nonlocal slowest
            with httpx.Client(base_url=srv.url) as http:
                for push in mine:
                    started = time.monotonic()
                    resp = http.post("/", json=push)
                    assert resp.status_code == 200 and resp.json() == {"code": 0, "msg": "success"}
                    with lock:
                        slowest = max(slowest, time.monotonic() - started)

        threads = [threading.Thread(target=sender, args=(pushes[w::4],)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert srv.stats["pushes"] == 100
    assert slowest < 3.0  # the service's 3-second rule
    with ReceiptStore(tmp_path / "r.db") as store:
        stored = store.to_frame()
    assert len(stored) == 10_000 and (stored["arrivals"] == 1).all()
    by_key = {key(e): e for e in events}
    assert {key(r) for r in stored["raw"]} == set(by_key)
    assert all(r == by_key[key(r)] for r in stored["raw"])  # unknown fields kept too


def test_duplicated_and_out_of_order_pushes_give_the_right_final_status(
        server: ReceiptServer) -> None:
    timeline = {"m1": ["Sent", "Delivered", "Read"], "m2": ["Sent", "Failed"],
                "m3": ["Sent", "Delivered"]}
    events = [{"MessageId": m, "Status": s, "Timestamp": 1000 + i}
              for m, statuses in timeline.items() for i, s in enumerate(statuses)]
    shuffled = events + events[::2]
    random.Random(4).shuffle(shuffled)
    with httpx.Client(base_url=server.url) as http:
        for i in range(0, len(shuffled), 3):
            assert http.post("/", json=shuffled[i:i + 3]).status_code == 200
    states = server.store.states()
    assert {m: s.status for m, s in states.items()} == {"m1": "read", "m2": "failed",
                                                         "m3": "delivered"}
    assert server.store.count("status") == len(events)


@pytest.mark.parametrize("body, status", [
    (b"not json", 400),
    (b'{"MessageId": "m1", "Status": "Read"}', 400),  # an object, not an array
    (b'[{"Unrelated": 1}, {"MessageId": "m1"}]', 400),  # no valid event at all
    (b"[" * 5000 + b"]" * 5000, 400),  # nested too deeply to decode: never a 503
    (b'["text"]', 400),
    (b"\xff\xfe\x00", 400),
    (b"[" + b" " * 70_000 + b"]", 413),
])
def test_bad_bodies_get_4xx_store_nothing_and_the_server_keeps_serving(
        server: ReceiptServer, body: bytes, status: int) -> None:
    with httpx.Client(base_url=server.url) as http:
        resp = http.post("/", content=body, headers={"content-type": "application/json"})
        assert resp.status_code == status and resp.json()["code"] == status
        assert server.store.count() == 0
        assert http.post("/", json=[receipt(1)]).status_code == 200
    assert server.stats["refused"] == 1


def test_protocol_abuse_is_refused_and_survived(server: ReceiptServer) -> None:
    port = server.port
    assert b" 411 " in raw_exchange(
        port, b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b" 413 " in raw_exchange(
        port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n")
    assert b" 400 " in raw_exchange(port, b"GARBAGE\r\n\r\n")
    big_chunk = b"%x\r\n" % (70_000) + b"[" * 70_000 + b"\r\n0\r\n\r\n"
    assert b" 413 " in raw_exchange(
        port, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + big_chunk)
    body = json.dumps([receipt(2)]).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    answer = raw_exchange(port, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                          b"Connection: close\r\n\r\n" + chunked)
    assert b" 200 " in answer
    with socket.create_connection(("127.0.0.1", port)) as sock:  # a client that leaves mid-body
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[{")
    with httpx.Client(base_url=server.url) as http:
        assert http.get("/").status_code == 405
        assert http.post("/elsewhere", json=[receipt(3)]).status_code == 404
        assert http.post("/", json=[receipt(4)]).status_code == 200
    assert server.store.count() == 2


def test_a_failing_store_answers_503_so_cams_retries(
        server: ReceiptServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(server.store, "add", broken)
    with httpx.Client(base_url=server.url) as http:
        assert http.post("/", json=[receipt(1)]).status_code == 503


def test_the_secret_in_the_path_or_a_header() -> None:
    with ReceiptServer(path="/receipts", store=":memory:", secret="s3cr3t") as srv:
        assert srv.url.endswith("/receipts/s3cr3t")
        with httpx.Client() as http:
            origin = srv.url.rsplit("/receipts", 1)[0]
            assert http.post(srv.url, json=[receipt(1)]).status_code == 200
            assert http.post(f"{origin}/receipts", json=[receipt(2)],
                             headers={"X-Cams-Secret": "s3cr3t"}).status_code == 200
            assert http.post(f"{origin}/receipts", json=[receipt(3)],
                             headers={"X-Cams-Secret": "nope"}).status_code == 403
            assert http.post(f"{origin}/receipts/nope", json=[receipt(4)]).status_code == 404
            assert http.post(f"{origin}/receipts", json=[receipt(5)]).status_code == 404
        assert srv.store.count() == 2 and "s3cr3t" not in repr(srv)


def test_the_allow_list_refuses_other_sources() -> None:
    with ReceiptServer(store=":memory:", allow=["10.0.0.0/8"]) as srv, httpx.Client() as http:
        assert http.post(srv.url, json=[receipt(1)]).status_code == 403
    with ReceiptServer(store=":memory:", allow=["127.0.0.1"]) as srv, httpx.Client() as http:
        assert http.post(srv.url, json=[receipt(1)]).status_code == 200


def test_inbound_pushes_are_stored_too(server: ReceiptServer) -> None:
    inbound = {"MessageId": "i1", "From": "15550100001", "To": "8613800000000",
               "Timestamp": int(time.time() * 1000), "Type": "TEXT", "Message": "hi",
               "NoticeType": "inbound"}
    with httpx.Client(base_url=server.url) as http:
        assert http.post("/", json=[inbound]).status_code == 200
    assert server.store.window_open("15550100001")


def test_the_sandbox_s_own_pushes_are_received() -> None:
    with ReceiptServer(store=":memory:") as srv:
        sb = Sandbox(seed=9, receipt_delay=0.0, callback_url=srv.url)
        sb.serve()
        try:
            client = sb.client()
            for i in range(20):
                client.send(Message(**template_fields(to=f"86139{i:08d}")))
            expected = {key(r) for r in sb.receipts()}
            deadline = time.monotonic() + 10
            while srv.store.count("status") < len(expected) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            sb.stop()
        assert {key(r) for r in srv.store.to_frame()["raw"]} == expected


# -- a kill between pushes ------------------------------------------------------------------------


def start_receiver(store: Path) -> tuple[subprocess.Popen[str], str]:
    code = "import sys; from cams_notebook.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "receipts", "--port", "0", "--store", str(store)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "listening on" in line, line + proc.stderr.read() if proc.stderr else line
    return proc, line.split("listening on ")[1].split(",")[0]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_receiver_loses_nothing_it_acknowledged(tmp_path: Path) -> None:
    store = tmp_path / "receipts.db"
    pushes = [[receipt(p * 50 + i, "Delivered") for i in range(50)] for p in range(400)]
    acknowledged: list[int] = []
    proc, url = start_receiver(store)
    stop = threading.Event()

    def sender() -> None:
        with httpx.Client(timeout=5) as http:
            for n, push in enumerate(pushes):
                if stop.is_set():
                    return
                try:
                    if http.post(url, json=push).status_code == 200:
                        acknowledged.append(n)
                except httpx.HTTPError:
                    return

    thread = threading.Thread(target=sender)
    thread.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)  # mid-stream: pushes may be in flight
    proc.communicate(timeout=10)  # reaps it and closes its pipes
    stop.set()
    thread.join(timeout=10)
    assert len(acknowledged) >= 40

    with ReceiptStore(store) as after_kill:
        stored = {key(r) for r in after_kill.to_frame()["raw"]}
    assert {key(e) for n in acknowledged for e in pushes[n]} <= stored

    # CAMS retries what was not acknowledged; a restarted receiver takes the rest, no doubles.
    proc, url = start_receiver(store)
    try:
        with httpx.Client(timeout=5) as http:
            for n in range(len(pushes)):
                if n not in acknowledged:
                    assert http.post(url, json=pushes[n]).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "20000 receipt(s)" in out
    with ReceiptStore(store) as final:
        assert final.count("status") == 20_000


# -- HTTP framing, done by h11 ----------------------------------------------------------------


def read_answers(sock: socket.socket, count: int) -> list[bytes]:
    """The status lines of ``count`` answers on one connection (each has a Content-Length)."""
    data, answers = b"", []
    while len(answers) < count:
        head_end = data.find(b"\r\n\r\n")
        if head_end < 0:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {len(answers)} answer(s)"
            data += chunk
            continue
        head = data[:head_end].decode("latin-1")
        length = int(next(line.split(":")[1] for line in head.split("\r\n")
                          if line.lower().startswith("content-length")))
        while len(data) < head_end + 4 + length:
            data += sock.recv(65536)
        answers.append(head.split("\r\n")[0].encode())
        data = data[head_end + 4 + length:]
    return answers


def closed(sock: socket.socket) -> bool:
    """Whether the server has closed this connection (EOF, or a reset)."""
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True


def push_request(events: list[dict[str, Any]], *extra: bytes) -> bytes:
    body = json.dumps(events).encode()
    return (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n" % len(body)
            + b"".join(extra) + b"\r\n" + body)


def test_a_chunked_body_split_across_packets_is_stored(server: ReceiptServer) -> None:
    body = json.dumps([receipt(i) for i in range(5)]).encode()
    pieces = [body[i:i + 37] for i in range(0, len(body), 37)]
    wire = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for i in range(0, len(wire), 11):  # chunk sizes, data and CRLFs cut at odd places
            sock.sendall(wire[i:i + 11])
            time.sleep(0.002)
        assert read_answers(sock, 1) == [b"HTTP/1.1 200 OK"]
    assert server.store.count("status") == 5


def test_a_chunked_body_over_the_limit_in_small_chunks_is_refused_unstored(
        server: ReceiptServer) -> None:
    chunk = b"[" + b" " * 1022 + b"]"
    answer = raw_exchange(server.port, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                          b"chunked\r\n\r\n" + b"400\r\n%s\r\n" % chunk * 80 + b"0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413 ") and b"connection: close" in answer.lower()
    assert server.store.count() == 0 and server.stats["refused"] == 1
    with httpx.Client(base_url=server.url) as http:
        assert http.post("/", json=[receipt(1)]).status_code == 200


def test_pipelined_pushes_are_answered_in_order(server: ReceiptServer) -> None:
    bad = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\nnot json"
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(push_request([receipt(1)]) + bad + push_request([receipt(2)]))
        assert read_answers(sock, 3) == [b"HTTP/1.1 200 OK", b"HTTP/1.1 400 Bad Request",
                                         b"HTTP/1.1 200 OK"]
    assert server.store.count("status") == 2


def test_a_client_that_expects_100_continue_gets_it_before_sending(
        server: ReceiptServer) -> None:
    body = json.dumps([receipt(1)]).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body))
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 ")
        sock.sendall(body)
        assert read_answers(sock, 1) == [b"HTTP/1.1 200 OK"]


def test_an_unknown_http_version_is_refused(server: ReceiptServer) -> None:
    assert raw_exchange(server.port, b"POST / HTTP/2.0\r\nHost: x\r\nContent-Length: 2\r\n"
                        b"\r\n[]").startswith(b"HTTP/1.1 505 ")


def test_slow_clients_are_dropped_and_others_served_meanwhile() -> None:
    with ReceiptServer(store=":memory:", read_timeout=0.3, request_timeout=1.0) as srv:
        stalled = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        stalled.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[{")
        dribbler = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
        started = time.monotonic()
        with httpx.Client(base_url=srv.url) as http:
            assert http.post("/", json=[receipt(1)]).status_code == 200
        try:  # a byte every 0.1 s never stalls 0.3 s, but the whole request gets 1 s
            for i in range(60):
                dribbler.sendall((head + b"[" + b" " * 100)[i:i + 1])
                time.sleep(0.1)
        except OSError:
            pass
        assert closed(dribbler) and time.monotonic() - started < 3.0
        assert closed(stalled)  # dropped after 0.3 s without a byte
        stalled.close()
        dribbler.close()
        assert srv.store.count() == 1


def test_stop_closes_idle_keep_alive_connections_at_once() -> None:
    srv = ReceiptServer(store=":memory:").start()  # read_timeout: 10 s
    with socket.create_connection(("127.0.0.1", srv.port), timeout=2) as sock:
        sock.sendall(push_request([receipt(1)]))
        assert read_answers(sock, 1) == [b"HTTP/1.1 200 OK"]  # and the connection stays open
        started = time.monotonic()
        srv.stop()
        assert closed(sock) and time.monotonic() - started < 2.0
    assert srv.store.count() == 1
