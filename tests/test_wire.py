"""The wire core and the blocking client's own line: requests signed once while built, only
public httpx API, proxies from the environment, failures sorted, the sandbox reached like the
service."""

from __future__ import annotations

import pathlib
import re
import socket
import threading

import httpx
import pytest

import cams_notebook
from cams_notebook import Client, Message, wire
from cams_notebook._config import SANDBOX_HOST, SANDBOX_URL
from cams_notebook.errors import OutcomeUnknownError, RequestNotSentError
from cams_notebook.receipts.queue import ReceiptQueue
from cams_notebook.sandbox import Sandbox
from cams_notebook.signing import AcsV3Auth, canonical_request_v3, signature_v3

PACKAGE = pathlib.Path(cams_notebook.__file__).parent
FIELDS = {"channel_type": "whatsapp", "type": "template", "from_": "8613800000000",
          "to": "8613900000000", "template_code": "830174529611842305", "language": "en",
          "template_params": {"name": "Ada", "order_id": "A-1"}}


def test_the_package_reaches_into_no_private_httpx_attribute() -> None:
    """httpx's privates the package once used (URL._uri_reference, Client._transport_for_url,
    Headers._list and _encoding) appear nowhere in it."""
    private = re.compile(r"_uri_reference|_transport_for_url|\._list\b|\._encoding\b"
                         r"|(?<!self)\._http\.")
    found = [f"{path.relative_to(PACKAGE)}:{number}"
             for path in PACKAGE.rglob("*.py")
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if private.search(line)]
    assert found == []


def test_a_built_request_is_signed_and_its_signature_verifies() -> None:
    auth = AcsV3Auth("LTAI_TEST_ID", "TEST_SECRET", clock=lambda: 0.0, nonce=lambda: "n1")
    builder = wire.RequestBuilder("https://cams.example.com", auth, user_agent="ua")
    request = builder.build("SendChatappMessage", Message(**FIELDS).to_query())
    signed = {k: v for k, v in request.headers.items() if k.startswith("x-acs-") or k == "host"}
    canonical, names = canonical_request_v3("POST", "/", request.url.query.decode(), signed,
                                            signed, signed["x-acs-content-sha256"])
    authorization = request.headers["authorization"]
    assert f"SignedHeaders={names}," in authorization
    assert authorization.endswith(f"Signature={signature_v3('TEST_SECRET', canonical)}")
    assert request.headers["x-acs-date"] == "1970-01-01T00:00:00Z"
    assert request.headers["x-acs-signature-nonce"] == "n1"
    assert request.content == b"" and request.headers["content-length"] == "0"


def test_request_parts_are_what_build_request_sends() -> None:
    client = Client(access_key_id="AKID", access_key_secret="s", nonce=lambda: "n",
                    clock=lambda: 0.0)
    params = Message(**FIELDS).to_query()
    query, headers = client.request_parts("SendChatappMessage", params)
    request = client.build_request("SendChatappMessage", params)
    assert request.url.query.decode() == query
    assert [(k.lower(), v) for k, v in headers] == [(k.lower(), v) for k, v in request.headers.raw]


def test_resigning_a_built_request_through_auth_flow_replaces_the_signature() -> None:
    """The queue changes x-acs-version of a built request and lets httpx sign it again."""
    auth = AcsV3Auth("LTAI_TEST_ID", "TEST_SECRET", clock=lambda: 0.0, nonce=lambda: "n1")
    request = wire.RequestBuilder("https://cams.example.com", auth, user_agent="ua").build(
        "QueryChatappPhoneNumbers", {})
    first = request.headers["authorization"]
    request.headers["x-acs-version"] = "2017-05-25"
    auth.sign(request)
    assert request.headers.get_list("authorization") != [first]
    assert len(request.headers.get_list("authorization")) == 1


@pytest.mark.parametrize(("environ", "url", "expected"), [
    ({}, "https://cams.ap-southeast-1.aliyuncs.com", None),
    ({"HTTPS_PROXY": "http://proxy:3128"}, "https://cams.ap-southeast-1.aliyuncs.com",
     "http://proxy:3128"),
    ({"https_proxy": "http://proxy:3128", "NO_PROXY": ".aliyuncs.com"},
     "https://cams.ap-southeast-1.aliyuncs.com", None),
    ({"ALL_PROXY": "socks5://proxy:1080"}, "https://cams.ap-southeast-1.aliyuncs.com",
     "socks5://proxy:1080"),
    ({"HTTPS_PROXY": "http://proxy:3128"}, "http://127.0.0.1:8787", None),
    ({"HTTPS_PROXY": "http://proxy:3128"}, SANDBOX_URL, None),
])
def test_the_proxy_comes_from_the_environment_as_httpx_would_take_it(
        monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], url: str,
        expected: str | None) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                 "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert wire.env_proxy(url) == expected


def test_the_in_process_sandbox_has_an_address_no_resolver_answers() -> None:
    """Should its transport ever be lost, a sandbox client's request cannot go anywhere."""
    client = Sandbox().client()
    assert client.base_url == f"http://{SANDBOX_HOST}" and SANDBOX_HOST.endswith(".invalid")
    assert client.account[0] == "sandbox:in-process" and client.is_local
    stray = Client(access_key_id="AKID", access_key_secret="s", endpoint=SANDBOX_URL)
    with pytest.raises(RequestNotSentError):
        stray.send(Message(**FIELDS))


def test_plain_http_is_refused_for_hosts_that_are_not_this_machine() -> None:
    with pytest.raises(ValueError, match="plain http"):
        Client(access_key_id="AKID", access_key_secret="s", endpoint="http://cams.example.com")


def _one_shot_server(reply: bytes | None) -> tuple[int, threading.Thread]:
    """A server that reads one request and answers ``reply`` (None: resets the connection)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        connection, _ = listener.accept()
        connection.recv(65536)
        if reply is None:
            linger_zero = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # close() sends a reset
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_zero)
        else:
            connection.sendall(reply)
        connection.close()
        listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return port, thread


def test_the_own_line_sorts_a_refused_connection_as_not_sent() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # closed again: nothing listens there
    client = Client(access_key_id="AKID", access_key_secret="s",
                    endpoint=f"http://127.0.0.1:{port}")
    with pytest.raises(RequestNotSentError) as info:
        client.send(Message(**FIELDS))
    assert isinstance(info.value.cause, httpx.ConnectError)


def test_the_own_line_sorts_a_reset_after_the_request_as_outcome_unknown() -> None:
    port, thread = _one_shot_server(None)
    client = Client(access_key_id="AKID", access_key_secret="s",
                    endpoint=f"http://127.0.0.1:{port}")
    with pytest.raises(OutcomeUnknownError):
        client.send(Message(**FIELDS))
    thread.join(5)


def test_the_own_line_reads_an_answer_and_its_retry_after_header() -> None:
    body = b'{"Code":"Throttling.User","Message":"slow down","RequestId":"r1"}'
    port, thread = _one_shot_server(
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
        b"x-acs-retry-after: 1500\r\nContent-Length: " + str(len(body)).encode() +
        b"\r\nConnection: close\r\n\r\n" + body)
    client = Client(access_key_id="AKID", access_key_secret="s",
                    endpoint=f"http://127.0.0.1:{port}")
    with pytest.raises(cams_notebook.ThrottledError) as info:
        client.send(Message(**FIELDS))
    assert info.value.retry_after == 1.5 and info.value.request_id == "r1"
    thread.join(5)


def test_a_closed_client_refuses_to_send() -> None:
    client = Sandbox().client()
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        client.send(Message(**FIELDS))


def test_the_receipt_queue_borrows_the_client_s_transport_and_never_closes_it() -> None:
    closed: list[bool] = []

    class Watched(httpx.BaseTransport):
        def __init__(self, inner: httpx.BaseTransport) -> None:
            self.inner = inner

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            return self.inner.handle_request(request)

        def close(self) -> None:
            closed.append(True)

    sandbox = Sandbox()
    transport = Watched(sandbox.transport)
    client = Client(**{**sandbox.client_kwargs(), "transport": transport})
    with ReceiptQueue(client, store=":memory:") as queue:
        assert queue.drain(wait_seconds=0) is not None
    assert closed == []  # the queue is closed, the client's transport is not
    assert client.send(Message(**FIELDS)).ok
    client.close()
    assert closed == [True]


async def test_the_async_own_line_sorts_refused_and_reset_like_the_blocking_one() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    async with cams_notebook.AsyncClient(access_key_id="AKID", access_key_secret="s",
                                         endpoint=f"http://127.0.0.1:{port}") as client:
        with pytest.raises(RequestNotSentError):
            await client.send(Message(**FIELDS))
    port, thread = _one_shot_server(None)
    async with cams_notebook.AsyncClient(access_key_id="AKID", access_key_secret="s",
                                         endpoint=f"http://127.0.0.1:{port}") as client:
        with pytest.raises(OutcomeUnknownError):
            await client.send(Message(**FIELDS))
    thread.join(5)


async def test_the_async_own_line_reads_an_answer_and_its_retry_after_header() -> None:
    body = b'{"Code":"Throttling.User","Message":"slow down","RequestId":"r2"}'
    port, thread = _one_shot_server(
        b"HTTP/1.1 400 Bad Request\r\nx-acs-retry-after: 250\r\nContent-Length: " +
        str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
    async with cams_notebook.AsyncClient(access_key_id="AKID", access_key_secret="s",
                                         endpoint=f"http://127.0.0.1:{port}") as client:
        with pytest.raises(cams_notebook.ThrottledError) as info:
            await client.send(Message(**FIELDS))
    assert info.value.retry_after == 0.25 and info.value.request_id == "r2"
    thread.join(5)
