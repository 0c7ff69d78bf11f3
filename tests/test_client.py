"""Client and AsyncClient: configuration, signed requests, answers, errors, secrets."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import httpx
import pytest

import cams_notebook
from cams_notebook import (
    ApiError,
    AsyncClient,
    AuthError,
    Client,
    InvalidRequestError,
    Message,
    MissingCredentialsError,
    NotSubscribedError,
    OutcomeUnknownError,
    RequestNotSentError,
    ServerError,
    ThrottledError,
    connect,
)
from cams_notebook.client import resolve_endpoint
from cams_notebook.sandbox import Sandbox, default_sandbox
from tests.helpers import template_fields

SECRET = "s3cr3t-DO-NOT-LEAK-9f8e7d"
OK = {"RequestId": "R1", "Code": "OK", "Message": "OK", "MessageId": "M1"}


def client_with(handler: httpx.MockTransport | None = None, **kwargs: object) -> Client:
    transport = handler or httpx.MockTransport(lambda request: httpx.Response(200, json=OK))
    return Client(access_key_id="LTAI_TEST_ID", access_key_secret=SECRET, transport=transport,
                  **kwargs)  # type: ignore[arg-type]


def answer(status: int, body: object = None, headers: dict[str, str] | None = None,
           content: bytes | None = None) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if content is not None:
            return httpx.Response(status, content=content, headers=headers)
        return httpx.Response(status, json=body, headers=headers)
    return httpx.MockTransport(handler)


def raising(exc: type[httpx.HTTPError]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc("boom", request=request)  # type: ignore[call-arg]
    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    ("endpoint", "region", "expected"),
    [
        (None, "ap-southeast-1", "https://cams.ap-southeast-1.aliyuncs.com"),
        (None, "cn-hangzhou", "https://cams.cn-hangzhou.aliyuncs.com"),
        ("cams.example.test", "ap-southeast-1", "https://cams.example.test"),
        ("http://127.0.0.1:8787", "ap-southeast-1", "http://127.0.0.1:8787"),
        ("http://localhost:1/", "ap-southeast-1", "http://localhost:1"),
    ],
)
def test_endpoint_resolution(endpoint: str | None, region: str, expected: str) -> None:
    assert resolve_endpoint(endpoint, region) == expected


def test_plain_http_is_refused_for_remote_hosts() -> None:
    with pytest.raises(ValueError, match="loopback"):
        resolve_endpoint("http://cams.ap-southeast-1.aliyuncs.com", "ap-southeast-1")


def test_configuration_is_keyword_only_and_needs_both_keys() -> None:
    with pytest.raises(TypeError):
        Client("id", "secret")  # type: ignore[misc]
    with pytest.raises(ValueError, match="access_key_secret") as info:
        Client(access_key_id="id", access_key_secret="")
    assert "Client.sandbox()" in str(info.value) and "fall back" not in str(info.value)


def test_send_puts_every_parameter_in_the_query_of_a_signed_empty_post() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=OK)

    message = Message(**template_fields())
    result = client_with(httpx.MockTransport(handler)).send(message)
    assert result.ok and result.message_id == "M1" and result.request_id == "R1"
    request = seen[0]
    assert request.method == "POST" and request.url.path == "/" and request.content == b""
    assert dict(request.url.params) == message.to_query()
    assert request.headers["x-acs-action"] == "SendChatappMessage"
    assert request.headers["x-acs-version"] == "2020-06-06"
    assert request.headers["authorization"].startswith("ACS3-HMAC-SHA256 Credential=LTAI_TEST_ID,")


def test_async_client_sends_the_same_request() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=OK)

    async def main() -> None:
        async with AsyncClient(access_key_id="LTAI_TEST_ID", access_key_secret=SECRET,
                               transport=httpx.MockTransport(handler)) as client:
            result = await client.send(Message(**template_fields()))
            assert result.message_id == "M1"

    asyncio.run(main())
    assert dict(seen[0].url.params) == Message(**template_fields()).to_query()


@pytest.mark.parametrize(
    ("status", "code", "headers", "expected"),
    [
        (400, "System.LimitControl", None, ThrottledError),
        (400, "Throttling.User", None, ThrottledError),
        (429, "Whatever", {"x-acs-retry-after": "1500"}, ThrottledError),
        (400, "SignatureDoesNotMatch", None, AuthError),
        (404, "InvalidAccessKeyId.NotFound", None, AuthError),
        (403, "Forbidden.RAM", None, AuthError),
        (400, "Ram.PermissionDeny", None, AuthError),
        (400, "Product.Unsubscript", None, NotSubscribedError),
        (200, "InvalidParameter.TextNotEmpty", None, InvalidRequestError),
        (400, "MissingChannelType", None, InvalidRequestError),
        (503, "ServiceUnavailable", None, ServerError),
        (500, "InternalError", None, ServerError),
    ],
)
def test_service_errors_are_classed_and_carry_their_details(
        status: int, code: str, headers: dict[str, str] | None, expected: type[ApiError]) -> None:
    body = {"RequestId": "R9", "HostId": "cams.test", "Code": code, "Message": "nope",
            "Recommend": "https://help"}
    with pytest.raises(expected) as info:
        client_with(answer(status, body, headers)).send(Message(**template_fields()))
    error = info.value
    assert (error.code, error.status_code, error.request_id) == (code, status, "R9")
    assert error.recommend == "https://help" and error.host_id == "cams.test"
    assert code in str(error) and "R9" in str(error)


def test_retry_after_header_is_kept_in_seconds() -> None:
    client = client_with(answer(400, {"Code": "System.LimitControl"},
                                {"x-acs-retry-after": "1500"}))
    with pytest.raises(ThrottledError) as info:
        client.send(Message(**template_fields()))
    assert info.value.retry_after == 1.5 and info.value.retry_safe


@pytest.mark.parametrize("exc", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
def test_failures_before_sending_are_retry_safe(exc: type[httpx.HTTPError]) -> None:
    with pytest.raises(RequestNotSentError) as info:
        client_with(raising(exc)).send(Message(**template_fields()))
    assert info.value.retry_safe and isinstance(info.value.cause, exc)


@pytest.mark.parametrize("exc", [httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError,
                                 httpx.WriteTimeout])
def test_failures_after_writing_leave_the_outcome_unknown(exc: type[httpx.HTTPError]) -> None:
    with pytest.raises(OutcomeUnknownError) as info:
        client_with(raising(exc)).send(Message(**template_fields()))
    assert not info.value.retry_safe


@pytest.mark.parametrize(
    ("status", "content", "expected"),
    [
        (200, b"<html>oops</html>", OutcomeUnknownError),
        (200, b"", OutcomeUnknownError),
        (502, b"<html>Bad Gateway</html>", ServerError),
        (404, b"not found", ApiError),
    ],
)
def test_answers_that_are_not_cams_json_become_clear_errors(status: int, content: bytes,
                                                            expected: type[Exception]) -> None:
    with pytest.raises(expected):
        client_with(answer(status, content=content)).send(Message(**template_fields()))


def test_ok_without_message_id_is_an_unknown_outcome() -> None:
    client = client_with(answer(200, {"Code": "OK", "RequestId": "R"}))
    with pytest.raises(OutcomeUnknownError, match="MessageId"):
        client.send(Message(**template_fields()))


def test_huge_answers_are_not_read_into_memory() -> None:
    with pytest.raises(OutcomeUnknownError, match="larger"):
        client_with(answer(200, content=b"x" * (2 << 20))).send(Message(**template_fields()))


def test_from_env_reads_credentials_and_endpoint() -> None:
    client = Client.from_env(environ={"ALIBABA_CLOUD_ACCESS_KEY_ID": "AKID",
                                      "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
                                      "CAMS_NOTEBOOK_ENDPOINT": "http://127.0.0.1:9"})
    assert client.base_url == "http://127.0.0.1:9" and client.transport is None
    assert client.account == ("http://127.0.0.1:9", "AKID")


# -- where a client talks: the environment's account, or the sandbox by name ----------------

CREDENTIALS = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "AKID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET}
TOKEN = "sts-token-value-7c1e"


@pytest.mark.parametrize("cls", [Client, AsyncClient])
@pytest.mark.parametrize(("environ", "missing"), [
    ({}, ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET")),
    ({"ALIBABA_CLOUD_ACCESS_KEY_ID": "AKID"}, ("ALIBABA_CLOUD_ACCESS_KEY_SECRET",)),
    ({"ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET, "ALIBABA_CLOUD_ACCESS_KEY_ID": "  "},
     ("ALIBABA_CLOUD_ACCESS_KEY_ID",)),
    # an endpoint alone is no account: it is read only with the credentials
    ({"CAMS_NOTEBOOK_ENDPOINT": "http://127.0.0.1:9", "ALIBABA_CLOUD_SECURITY_TOKEN": TOKEN},
     ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET")),
], ids=["nothing", "no-secret", "blank-id", "endpoint-only"])
def test_from_env_without_credentials_refuses_and_says_what_to_set(
        cls: type[Client | AsyncClient], environ: dict[str, str], missing: tuple[str, ...],
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(MissingCredentialsError) as info:
        cls.from_env(environ=environ)
    error = info.value
    assert isinstance(error, ValueError) and error.missing == missing
    text = str(error)
    for name in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                 "ALIBABA_CLOUD_SECURITY_TOKEN", "Client.sandbox()"):
        assert name in text
    assert SECRET not in text and TOKEN not in text and "AKID" not in text
    assert "sandbox:" not in capsys.readouterr().out  # no sandbox was made behind the user's back


def test_from_env_reads_os_environ_and_raises_in_a_process_without_credentials(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(MissingCredentialsError):
        Client.from_env()
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "sts-token")
    with Client.from_env() as client:
        assert client.account == ("https://cams.ap-southeast-1.aliyuncs.com", "AKID")
        assert client.transport is None and not client.is_local


@pytest.mark.parametrize("cls", [Client, AsyncClient])
def test_sandbox_is_the_default_sandbox_by_name_with_one_notice_on_stdout(
        cls: type[Client | AsyncClient], capsys: pytest.CaptureFixture[str]) -> None:
    first, second = cls.sandbox(), cls.sandbox(timeout=2.0)
    assert isinstance(first, cls) and isinstance(second, cls)
    assert first.transport is second.transport is default_sandbox().transport
    assert first.account[0] == second.account[0] == "sandbox:in-process"
    assert second.timeout == 2.0  # overrides reach the client
    out, err = capsys.readouterr()
    assert out.count("local CAMS sandbox") == 1 and "nothing leaves this machine" in out
    assert err == ""  # stderr is an error box in a notebook


def test_sandbox_clients_send_to_the_default_sandbox_sync_and_async() -> None:
    assert Client.sandbox().send(Message(**template_fields())).ok

    async def main() -> str:
        async with AsyncClient.sandbox() as client:
            return (await client.send(Message(**template_fields(to="8613900000002")))).code

    assert asyncio.run(main()) == "OK"
    assert [m["to"] for m in default_sandbox().messages()] == ["8613900000000", "8613900000002"]


def test_a_sandbox_client_s_async_twin_talks_to_the_same_sandbox() -> None:
    client = Client.sandbox()
    twin = client.async_twin()
    assert twin.transport is client.transport is not None and twin.account == client.account


@pytest.mark.parametrize(("environ", "fallback", "expected"), [
    (CREDENTIALS, False, ("https://cams.ap-southeast-1.aliyuncs.com", "AKID")),
    (CREDENTIALS, True, ("https://cams.ap-southeast-1.aliyuncs.com", "AKID")),
    ({}, True, ("sandbox:in-process", "sandbox-access-key-id")),
])
def test_connect_uses_the_credentials_and_the_sandbox_only_as_an_asked_for_fallback(
        environ: dict[str, str], fallback: bool, expected: tuple[str, str]) -> None:
    client = connect(sandbox_fallback=fallback, environ=environ, timeout=3.0)
    assert isinstance(client, Client) and client.account == expected and client.timeout == 3.0


def test_connect_without_credentials_and_without_fallback_raises() -> None:
    with pytest.raises(MissingCredentialsError, match="Client.sandbox()"):
        connect(environ={})
    assert cams_notebook.connect is connect


def test_account_names_the_endpoint_and_key_id_never_the_secret() -> None:
    real = Client(access_key_id="LTAI5tABCDEFGHIJ", access_key_secret=SECRET)
    loopback = Client(access_key_id="AKID", access_key_secret=SECRET, endpoint="http://127.0.0.1:9")
    mine = Sandbox(seed=1).client()
    assert real.account == ("https://cams.ap-southeast-1.aliyuncs.com", "LTAI5tABCDEFGHIJ")
    assert loopback.account == ("http://127.0.0.1:9", "AKID")
    assert mine.account == ("sandbox:in-process", "sandbox-access-key-id")
    assert Client.sandbox().account == ("sandbox:in-process", "sandbox-access-key-id")
    assert not [a for a in (real, loopback, mine) if SECRET in repr(a.account)]
    with pytest.raises(AttributeError):
        real.account = ("x", "y")  # type: ignore[misc]


def test_the_secret_appears_in_no_repr_str_log_or_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    client = client_with(answer(400, {"Code": "SignatureDoesNotMatch", "Message": "bad"}))
    texts = [repr(client), str(client), repr(client.auth)]
    # the error must be raised (a send that "succeeds" would check no error text at all)
    with pytest.raises(AuthError) as raised:
        client.send(Message(**template_fields()))
    error = raised.value
    assert error.code == "SignatureDoesNotMatch"
    texts += [str(error), repr(error), repr(error.data)]
    texts.append(caplog.text)
    seen.extend(texts)
    assert not [t for t in seen if SECRET in t]


def test_client_repr_masks_the_access_key_id() -> None:
    client = Client(access_key_id="LTAI5tABCDEFGHIJ", access_key_secret=SECRET,
                    transport=httpx.MockTransport(lambda r: httpx.Response(200, json=OK)))
    assert "LTAI5tABCDEFGHIJ" not in repr(client) and "LTAI****GHIJ" in repr(client)


class Recording(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """A user's transport wrapper: notes each request as it reaches the transport."""

    def __init__(self, inner: httpx.BaseTransport | httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.seen: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        assert isinstance(self.inner, httpx.BaseTransport)
        return self.inner.handle_request(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        assert isinstance(self.inner, httpx.AsyncBaseTransport)
        return await self.inner.handle_async_request(request)


def counting_nonce() -> tuple[list[str], Callable[[], str]]:
    issued: list[str] = []

    def nonce() -> str:
        issued.append(f"nonce-{len(issued)}")
        return issued[-1]
    return issued, nonce


def assert_signed_once_each(seen: list[httpx.Request], nonces: list[str]) -> None:
    assert all(len(r.headers.get_list("authorization")) == 1 for r in seen)
    assert [r.headers["x-acs-signature-nonce"] for r in seen] == nonces  # one signing each
    assert all(r.extensions["timeout"]["read"] == 7.0 for r in seen)  # the client's timeout


def test_a_transport_wrapper_sees_every_request_signed_once(sandbox: Sandbox) -> None:
    wrapper = Recording(sandbox.transport)
    nonces, nonce = counting_nonce()
    with Client(**{**sandbox.client_kwargs(), "transport": wrapper}, nonce=nonce,
                timeout=7.0) as client:
        assert client.send(Message(**template_fields())).ok
        assert client.list_templates(page_size=2)
        assert client.get_template("830174529611842305", language="en").name
        with pytest.raises(InvalidRequestError):  # the service's answer, sorted as before
            client.send(Message(**template_fields(template_code="0")))
    actions = [r.headers["x-acs-action"] for r in wrapper.seen]
    assert actions[0] == "SendChatappMessage" and actions[-1] == "SendChatappMessage"
    assert "GetChatappTemplateDetail" in actions and "ListChatappTemplate" in actions
    assert_signed_once_each(wrapper.seen, nonces)
    assert len(sandbox.messages()) == 1  # the sandbox checked each signature and accepted it


async def test_an_async_transport_wrapper_sees_every_request_signed_once(
        sandbox: Sandbox) -> None:
    wrapper = Recording(sandbox.transport)
    nonces, nonce = counting_nonce()
    async with AsyncClient(**{**sandbox.client_kwargs(is_async=True), "transport": wrapper},
                           nonce=nonce, timeout=7.0) as client:
        results = await asyncio.gather(*(client.send(Message(**template_fields(
            to=f"86139000000{i:02d}"))) for i in range(5)))
        assert await client.get_template("830174529611842305", language="en")
    assert all(r.ok for r in results)
    assert len(wrapper.seen) == 6
    assert_signed_once_each(wrapper.seen, nonces)
    assert len(sandbox.messages()) == 5


