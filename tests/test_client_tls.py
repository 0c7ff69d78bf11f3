"""Client and AsyncClient over TLS, on their default transports: a loopback HTTPS sandbox with
a certificate from a test CA (trustme). The CA is trusted the way httpx documents it, through
``SSL_CERT_FILE``; a client that does not trust it refuses to send, before anything is sent."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from cams_notebook import AsyncClient, Client, Message, RequestNotSentError
from cams_notebook.sandbox import Sandbox
from cams_notebook.sandbox.server import SandboxServer
from tests.helpers import template_fields

CERT_REFUSED = "CERTIFICATE_VERIFY_FAILED|certificate verify failed"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def https_sandbox(ca: trustme.CA) -> Iterator[tuple[Sandbox, str]]:
    """A sandbox served over HTTPS on 127.0.0.1 with a certificate signed by ``ca``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    sandbox = Sandbox(seed=3, receipt_delay=0.0)
    server = SandboxServer(sandbox.core, ssl_context=context).start()
    try:
        assert server.url.startswith("https://127.0.0.1:")
        yield sandbox, server.url
    finally:
        server.stop()
        sandbox.stop()


@pytest.fixture
def trusted(ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trust the test CA as a user would: ``SSL_CERT_FILE`` (httpx's ``trust_env``)."""
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    monkeypatch.setenv("SSL_CERT_FILE", str(pem))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


def _client_kwargs(sandbox: Sandbox, url: str) -> dict[str, object]:
    return {"access_key_id": sandbox.access_key_id,
            "access_key_secret": sandbox.client_kwargs()["access_key_secret"],
            "endpoint": url, "timeout": 10.0}


def message(to: str) -> Message:
    return Message(**{**template_fields(), "to": to})


@pytest.mark.usefixtures("trusted")
def test_client_sends_over_https_and_the_service_sees_the_signed_request(
        https_sandbox: tuple[Sandbox, str]) -> None:
    sandbox, url = https_sandbox
    with Client(**_client_kwargs(sandbox, url)) as client:  # type: ignore[arg-type]
        first = client.send(message("8613900000001"))
        second = client.send(message("8613900000002"))  # over the kept-alive connection
    assert first.message_id and second.message_id and first.message_id != second.message_id
    assert len(sandbox.messages()) == 2


@pytest.mark.usefixtures("trusted")
async def test_async_client_sends_over_https_on_its_default_transport(
        https_sandbox: tuple[Sandbox, str]) -> None:
    import asyncio

    sandbox, url = https_sandbox
    async with AsyncClient(**_client_kwargs(sandbox, url)) as client:  # type: ignore[arg-type]
        results = await asyncio.gather(*(client.send(message(f"86139000001{i:02d}"))
                                         for i in range(20)))
        again = await client.send(message("8613900000200"))  # a pooled connection, reused
    assert len({r.message_id for r in results} | {again.message_id}) == 21
    assert len(sandbox.messages()) == 21


def test_client_refuses_a_certificate_it_does_not_trust(
        https_sandbox: tuple[Sandbox, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    sandbox, url = https_sandbox
    with Client(**_client_kwargs(sandbox, url)) as client:  # type: ignore[arg-type]
        with pytest.raises(RequestNotSentError, match=CERT_REFUSED):
            client.send(message("8613900000001"))
    assert sandbox.messages() == []


async def test_async_client_refuses_a_certificate_it_does_not_trust(
        https_sandbox: tuple[Sandbox, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    sandbox, url = https_sandbox
    async with AsyncClient(**_client_kwargs(sandbox, url)) as client:  # type: ignore[arg-type]
        with pytest.raises(RequestNotSentError, match=CERT_REFUSED):
            await client.send(message("8613900000001"))
    assert sandbox.messages() == []
