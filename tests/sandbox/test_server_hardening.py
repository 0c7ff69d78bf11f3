"""The sandbox's loopback server against bad input and idle clients: the inbound route's
rules, JSON nested too deeply, connections left idle or half-sent, too many connections, and
a receiver's secret kept out of the log."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cams_notebook.sandbox import Sandbox
from cams_notebook.sandbox._wire import Push
from cams_notebook.sandbox.server import SandboxServer
from tests.sandbox.test_server import FakeCore, wait_until

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def sandbox() -> Iterator[tuple[Sandbox, httpx.Client]]:
    sb = Sandbox(seed=3)
    server = sb.serve()
    try:
        with httpx.Client(base_url=server.url, trust_env=False, timeout=10) as http:
            yield sb, http
    finally:
        sb.stop()


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


# -- POST /_sandbox/inbound ----------------------------------------------------------------------


@pytest.mark.parametrize("body, field, rule", [
    ({"From": None}, "From", "required"),
    ({}, "From", "required"),
    ({"From": True}, "From", "phone_number"),
    ({"From": ["8613900000001"]}, "From", "phone_number"),
    ({"From": "None"}, "From", "phone_number"),
    ({"From": "12"}, "From", "phone_number"),
    ({"From": "8613900000001", "Message": {"text": "hi"}}, "Message", "text"),
    (["8613900000001"], "body", "object"),
], ids=["null", "missing", "bool", "list", "word", "too-short", "message-object", "array"])
def test_inbound_refuses_a_body_that_names_no_number(
        sandbox: tuple[Sandbox, httpx.Client], body: Any, field: str, rule: str) -> None:
    sb, http = sandbox
    answer = http.post("/_sandbox/inbound", json=body)
    assert answer.status_code == 400
    found = answer.json()
    assert (found["Code"], found["Field"], found["Rule"]) == ("InvalidParameter", field, rule)
    assert field in found["Message"]
    assert not sb.core.window_open("None") and sb.core.mns.depth("ChatAppInbound") == 0


def test_inbound_takes_a_number_as_people_write_it(
        sandbox: tuple[Sandbox, httpx.Client]) -> None:
    sb, http = sandbox
    answer = http.post("/_sandbox/inbound", json={"From": "+1 555 010 0002", "Message": "yo"})
    assert answer.status_code == 200 and answer.json()["Message"] == "yo"
    assert sb.core.window_open("15550100002")


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"From": ' + b'{"a": ' * 100_000],
                         ids=["arrays", "objects"])
def test_json_nested_too_deeply_is_a_400_without_a_traceback(
        sandbox: tuple[Sandbox, httpx.Client], body: bytes,
        caplog: pytest.LogCaptureFixture) -> None:
    _, http = sandbox
    answer = http.post("/_sandbox/inbound", content=body)
    assert answer.status_code == 400 and "nested too deeply" in answer.json()["Message"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert http.get("/_sandbox/stats").status_code == 200  # and it keeps serving


# -- idle and half-sent connections --------------------------------------------------------------


def test_idle_and_half_sent_connections_are_closed_half_sent_ones_with_408() -> None:
    with SandboxServer(FakeCore(), idle_timeout=0.3, request_timeout=0.3) as srv:
        socks = [socket.create_connection(("127.0.0.1", srv.port), timeout=20)
                 for _ in range(90)]
        try:
            for i, sock in enumerate(socks):
                if i % 3 == 0:
                    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Le")  # half a head
                elif i % 3 == 1:
                    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
                # else: connected and silent
            answers = [read_until_closed(sock) for sock in socks]  # each waits for the close
        finally:
            for sock in socks:
                sock.close()
        assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers[0::3] + answers[1::3])
        assert all(a == b"" for a in answers[2::3])  # idle: closed without an answer
        assert httpx.get(srv.url + "/echo", trust_env=False).status_code == 200


def test_a_keep_alive_connection_serves_until_it_is_idle() -> None:
    with SandboxServer(FakeCore(), idle_timeout=0.5, request_timeout=5) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=20) as sock:
            for _ in range(3):  # a request every 0.1 s: never idle long enough to be closed
                sock.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
                assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
                time.sleep(0.1)
            assert read_until_closed(sock) == b""  # then closed, once idle


def test_connections_past_the_cap_get_503_and_the_server_recovers() -> None:
    core = FakeCore()
    with SandboxServer(core, max_connections=2) as srv:
        held = [socket.create_connection(("127.0.0.1", srv.port), timeout=20) for _ in range(2)]
        try:
            for sock in held:  # answered: both are being served
                sock.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
                assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
            with socket.create_connection(("127.0.0.1", srv.port), timeout=20) as extra:
                answer = read_until_closed(extra)
            assert answer.startswith(b"HTTP/1.1 503 ")
            assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["Code"] == "ServiceUnavailable"
        finally:
            for sock in held:
                sock.close()
        with httpx.Client(base_url=srv.url, trust_env=False) as http:
            def served() -> bool:
                try:
                    return http.get("/x").status_code == 200
                except httpx.TransportError:
                    return False
            wait_until(served, timeout=20)


@pytest.mark.parametrize("kwargs", [{"idle_timeout": 0}, {"request_timeout": -1},
                                    {"max_connections": 0}])
def test_bad_limits_are_value_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        SandboxServer(FakeCore(), **kwargs)  # type: ignore[arg-type]


# -- a receiver's secret -------------------------------------------------------------------------


def test_a_failed_push_is_logged_without_the_receiver_s_path(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as closed_port:  # bound, not listening: a refused connection
        closed_port.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed_port.getsockname()[1]}/receipts/s3cr3t-Xy"
        core = FakeCore([Push(url=url, body=b"[]", attempt=1, ident=1)])
        with SandboxServer(core, push_interval=0.01):
            wait_until(lambda: len(core.done) == 1, timeout=20)
    assert core.done[0][1] is False
    messages = [r.getMessage() for r in caplog.records]
    assert any("receipt push to http://127.0.0.1:" in m for m in messages)
    assert not any("s3cr3t" in m for m in messages)
