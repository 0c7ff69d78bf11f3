"""Secrets: with a known key pair configured, the secret and the request signatures appear in
no output, log, repr, result, journal or receipt store; and the sandbox refuses any request
whose signed parts were changed, replayed, or dated outside the 15-minute window.

The loopback sandbox here records every ``Authorization`` header it receives, so the scan
looks for the signatures that really went over the wire, not only for the secret.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from cams_notebook import (
    AsyncClient,
    AuthError,
    Client,
    Message,
    MissingCredentialsError,
    connect,
    reconcile,
    send_frame,
)
from cams_notebook.receipts.queue import ReceiptQueue
from cams_notebook.sandbox import DEFAULT_CUST_SPACE_ID, Sandbox, SandboxCore
from cams_notebook.sandbox._wire import WireRequest, WireResponse
from cams_notebook.sandbox.server import SandboxServer
from cams_notebook.signing import format_acs_date, signature_v1
from cams_notebook.testing import FakeClock

KEY_ID = "LTAI5tChaosSecretsTest01"
SECRET = "Qz7vChaosSecret9f3a1c8e2d4b6a0f5e7"
OTHER_KEY, OTHER_SECRET = "LTAI5tSomebodyElse00001", "another-secret-for-another-key"
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
CAMPAIGN: dict[str, Any] = {
    "channel_type": "whatsapp", "type": "template", "from_": "8613800000000",
    "template_code": "830174529611842305", "language": "en", "params": ["name", "order_id"],
}
SIGNATURE = re.compile(r"Signature=([0-9a-fA-F]{64})")


class Recording:
    """A sandbox core that keeps every Authorization header it is shown."""

    def __init__(self, core: SandboxCore) -> None:
        self.core = core
        self.authorizations: list[str] = []
        self.clock: Callable[[], float] = core.clock

    def handle(self, req: WireRequest) -> WireResponse:
        if "authorization" in req.headers:
            self.authorizations.append(req.headers["authorization"])
        return self.core.handle(req)

    def due_pushes(self, now: float) -> list[Any]:
        return self.core.due_pushes(now)

    def push_done(self, push: Any, ok: bool) -> None:
        self.core.push_done(push, ok)

    def signatures(self) -> set[str]:
        return {m.group(1) for a in self.authorizations for m in SIGNATURE.finditer(a)}


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Recording]]:
    recording = Recording(SandboxCore(keys={KEY_ID: SECRET}, receipt_delay=0.0, seed=3))
    srv = SandboxServer(recording).start()
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    monkeypatch.setenv("CAMS_NOTEBOOK_ENDPOINT", srv.url)
    yield srv.url, recording
    srv.stop()


def leaks(text: str | bytes, signatures: set[str]) -> list[str]:
    """What of the secret (plain, or as the SDKs and URLs encode it) or a signature is in
    ``text``."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    needles = {"the secret": SECRET, "the secret, reversed": SECRET[::-1],
               "the secret's V1 key": f"{SECRET}&",
               "the secret's middle": SECRET[8:24]}
    found = [name for name, needle in needles.items() if needle in text]
    lower = text.lower()
    found += [f"signature {s[:12]}..." for s in signatures if s.lower() in lower]
    return found


# -- a campaign, reconciliation, receipts, the CLI: every trace they leave ------------------------


def test_a_campaign_with_a_known_secret_leaves_it_in_no_trace(
        server: tuple[str, Recording], tmp_path: Path, caplog: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str]) -> None:
    url, recording = server
    for name in (None, "httpx", "httpcore", "cams_notebook", "hpack", "asyncio"):
        caplog.set_level(logging.DEBUG, logger=name)
    client = Client.from_env(timeout=1.0)
    aclient = AsyncClient.from_env(timeout=1.0)
    numbers = [f"86139{i:08d}" for i in range(30)] + [
        "15550100008",  # always 503: retried, then failed
        "15550100009",  # answered after 30 s: unknown, then reconciled
        "not-a-number",  # invalid
    ]
    frame = pd.DataFrame({"to": numbers, "name": "Ada", "order_id": "A-1"})
    journal = tmp_path / "send.db"
    result = send_frame(frame, client=client, journal=str(journal), on_invalid="skip",
                        progress=True, **CAMPAIGN)
    assert set(result["status"]) == {"sent", "failed", "unknown", "invalid"}

    store_path = tmp_path / "receipts.db"
    queue = ReceiptQueue(client, store=str(store_path), wait_seconds=1)
    deadline = time.monotonic() + 20
    while queue.store.count("status") < 30 and time.monotonic() < deadline:
        queue.poll()
    settled = reconcile(result, client=client, receipts=queue.store, journal=str(journal),
                        settle=0, cust_space_id=DEFAULT_CUST_SPACE_ID)
    assert set(settled["status"]) == {"sent", "failed", "invalid"}
    # a wrong secret: its error must not leak the right one
    with Client(access_key_id=KEY_ID, access_key_secret="wrong", endpoint=url) as wrong, \
            pytest.raises(AuthError) as refused:
        wrong.send(message())

    out = tmp_path / "cli.csv"
    (tmp_path / "in.csv").write_text("to,name,order_id\n8613900009999,Ada,A-1\n")
    cli = subprocess.run(
        [sys.executable, "-c", "import sys; from cams_notebook.cli import main; sys.exit(main())",
         "send", str(tmp_path / "in.csv"),
         "--params", "name,order_id", "--journal", str(tmp_path / "cli.db"), "--out", str(out),
         "--channel-type", "whatsapp", "--type", "template", "--from", "8613800000000",
         "--template-code", "830174529611842305", "--language", "en"],
        capture_output=True, text=True, timeout=60, env=os.environ.copy(), check=False)
    assert cli.returncode == 0, cli.stderr

    signatures = recording.signatures()
    assert len(signatures) > 40 and any(KEY_ID in a for a in recording.authorizations)
    captured = capfd.readouterr()
    traces: dict[str, str | bytes] = {
        "logs": "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records),
        "stdout and stderr": captured.out + captured.err,
        "reprs": "\n".join([repr(client), str(client), repr(aclient), repr(client.auth),
                            repr(aclient.auth), repr(queue), repr(queue.store), repr(refused.value),
                            str(refused.value), repr(refused.value.data)]),
        "attributes": repr(vars(client)) + repr(vars(aclient)) + repr(vars(client.auth)),
        "result": repr(result) + result.to_csv() + (result._repr_html_() or "")
        + repr(result.summary()) + result.to_json(default_handler=str, date_format="iso"),
        "reconciled": repr(settled) + settled.to_csv() + (settled._repr_html_() or ""),
        "the CLI's output": cli.stdout + cli.stderr + out.read_text(),
        "the receipt store's frame": queue.store.to_frame().to_csv(),
    }
    queue.close()
    client.close()
    for path in sorted(tmp_path.iterdir()):  # journals and stores, with their -wal and -shm
        if path.is_file():
            traces[path.name] = path.read_bytes()
    assert caplog.records and journal.exists() and store_path.exists()
    found = {where: what for where, text in traces.items() if (what := leaks(text, signatures))}
    assert not found, found


# -- no credentials: the refusal names the variables, never a value ----------------------------


def test_a_missing_credential_is_named_and_the_one_that_is_set_is_not_shown(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)  # the id is missing
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", SECRET[::-1])
    texts: list[str] = []
    for make in (Client.from_env, AsyncClient.from_env, connect):
        with pytest.raises(MissingCredentialsError) as info:
            make()
        assert info.value.missing == ("ALIBABA_CLOUD_ACCESS_KEY_ID",)
        texts += [str(info.value), repr(info.value), repr(vars(info.value))]
    (tmp_path / "in.csv").write_text("to,name,order_id\n8613900009999,Ada,A-1\n")
    cli = subprocess.run(
        [sys.executable, "-c", "import sys; from cams_notebook.cli import main; sys.exit(main())",
         "send", str(tmp_path / "in.csv"), "--params", "name,order_id",
         "--channel-type", "whatsapp", "--type", "template", "--from", "8613800000000",
         "--template-code", "830174529611842305", "--language", "en"],
        capture_output=True, text=True, timeout=60, env=os.environ.copy(), check=False)
    assert cli.returncode == 2 and "ALIBABA_CLOUD_ACCESS_KEY_ID is not set" in cli.stderr
    texts += [cli.stdout, cli.stderr]
    found = [what for text in texts if (what := leaks(text, set()))]
    assert not found, found


# -- the notebooks ---------------------------------------------------------------------------

LOGGING_CELL = """\
import logging, sys
logging.basicConfig(level=logging.DEBUG, stream=sys.stdout, force=True)
for name in ("httpx", "httpcore", "cams_notebook"):
    logging.getLogger(name).setLevel(logging.DEBUG)
"""
WITH_ENV = ["00_sandbox_tour", "01_compose_a_message", "03_composer", "04_delivery_receipts",
            "05_campaign_panel"]
WITHOUT_ENV = ["02_campaign_from_a_dataframe",  # they inspect their own in-process sandbox
               "06_within_the_platform_limits"]
SWITCHED = {"01_compose_a_message", "03_composer", "05_campaign_panel"}
"""Notebooks that say ``Client.sandbox()``; here switched to ``Client.from_env()``, as a user
with credentials does, so they talk to the recording server with the known key."""


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_every_notebook_run_with_a_known_secret_shows_it_nowhere(
        server: tuple[str, Recording], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    _, recording = server
    work = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, work)
    texts: dict[str, str] = {}
    hits: dict[str, int] = {}
    for name in WITH_ENV + WITHOUT_ENV:
        if name in WITHOUT_ENV:
            for var in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                        "CAMS_NOTEBOOK_ENDPOINT"):
                monkeypatch.delenv(var, raising=False)  # gone since the first of them
        notebook = nbformat.read(work / f"{name}.ipynb", as_version=4)
        if name in SWITCHED:
            code = [c for c in notebook.cells if c.cell_type == "code"]
            assert any("Client.sandbox()" in c.source for c in code), name
            for cell in code:
                cell.source = cell.source.replace("Client.sandbox()", "Client.from_env()")
        notebook.cells.insert(0, nbformat.v4.new_code_cell(LOGGING_CELL))
        before = len(recording.authorizations)
        nbclient.NotebookClient(notebook, timeout=180, kernel_name="python3",
                                resources={"metadata": {"path": str(work)}}).execute()
        hits[name] = len(recording.authorizations) - before
        texts[name] = nbformat.writes(notebook)
        (tmp_path / f"{name}.out.ipynb").write_text(texts[name])
    # the notebooks that read the environment really talked to this server, signed with the key
    assert all(hits[name] > 0 for name in SWITCHED), hits
    signatures = recording.signatures()
    found = {name: what for name, text in texts.items() if (what := leaks(text, signatures))}
    assert not found, found


# -- the sandbox refuses changed, replayed and stale requests -----------------------------------


@pytest.fixture
def two_keys(clock: FakeClock) -> Sandbox:
    """A sandbox on ``clock`` that knows two key pairs: ``KEY_ID`` and ``OTHER_KEY``."""
    core = SandboxCore(keys={KEY_ID: SECRET, OTHER_KEY: OTHER_SECRET}, clock=clock,
                       receipt_delay=0.0)
    return Sandbox(core=core, sleep=clock.sleep, asleep=clock.asleep)


def message() -> Message:
    return Message(channel_type="whatsapp", type="template", from_="8613800000000",
                   to="8613900000001", template_code="830174529611842305", language="en",
                   template_params={"name": "Ada", "order_id": "A-1"})


def signed(sandbox: Sandbox, clock: Callable[[], float], key: str = KEY_ID,
           secret: str = SECRET) -> httpx.Request:
    client = Client(access_key_id=key, access_key_secret=secret, transport=sandbox.transport,
                    clock=clock)
    request = client.build_request("SendChatappMessage", message().to_query())
    client.auth.sign(request)
    return request


def answer(sandbox: Sandbox, request: httpx.Request) -> tuple[int, str]:
    response = sandbox.transport.handle_request(request)
    return response.status_code, str(response.json().get("Code"))


def rebuilt(request: httpx.Request, *, method: str | None = None, url: Any = None,
            headers: dict[str, str] | None = None, drop: str | None = None,
            content: bytes | None = None) -> httpx.Request:
    merged = {k: v for k, v in request.headers.items() if k != drop and k != "content-length"}
    merged.update(headers or {})
    return httpx.Request(method or request.method, url or request.url, headers=merged,
                         content=content)


REFUSED = {"SignatureDoesNotMatch", "IncompleteSignature", "InvalidAccessKeyId.NotFound",
           "MissingParameter", "InvalidTimeStamp.Expired", "InvalidTimeStamp.Format"}


def test_an_untouched_request_is_accepted(two_keys: Sandbox, clock: FakeClock) -> None:
    assert answer(two_keys, signed(two_keys, clock)) == (200, "OK")


def signed_header_changes(request: httpx.Request) -> dict[str, str]:
    """Each signed header with a different value that is still well formed."""
    names = re.search(r"SignedHeaders=([^,]+)", request.headers["authorization"]).group(1)  # type: ignore[union-attr]
    values = {name: request.headers[name] for name in names.split(";")}
    assert set(values) >= {"host", "x-acs-action", "x-acs-version", "x-acs-date",
                           "x-acs-signature-nonce", "x-acs-content-sha256"}
    changes = {
        "host": "cams.ap-southeast-5.aliyuncs.com",
        "x-acs-action": "ListChatappTemplate",
        "x-acs-version": "2017-05-25",
        "x-acs-date": format_acs_date(1_800_000_001.0),
        "x-acs-signature-nonce": values["x-acs-signature-nonce"][::-1],
        "x-acs-content-sha256": hashlib.sha256(b"x").hexdigest(),
    }
    return {name: changes.get(name, values[name] + "x") for name in values}


def test_every_signed_header_changed_one_by_one_is_refused(
        two_keys: Sandbox, clock: FakeClock) -> None:
    request = signed(two_keys, clock)
    changes = signed_header_changes(request)
    for name, value in changes.items():
        assert answer(two_keys, rebuilt(request, headers={name: value}))[1] in REFUSED, name
        if name != "host":  # httpx puts Host back from the URL
            assert answer(two_keys, rebuilt(request, drop=name))[1] in REFUSED, f"without {name}"
    assert two_keys.messages() == []
    assert answer(two_keys, request) == (200, "OK")  # the original, after all that


def test_every_parameter_changed_one_by_one_is_refused(two_keys: Sandbox, clock: FakeClock) -> None:
    request = signed(two_keys, clock)
    params = list(request.url.params.multi_items())
    assert {"To", "From", "TemplateCode", "TemplateParams", "ChannelType", "Type",
            "Language"} <= {k for k, _ in params}
    variants: dict[str, list[tuple[str, str]]] = {}
    for i, (name, value) in enumerate(params):
        other = "8613900000002" if value.isdigit() else value[:-1] + chr(ord(value[-1]) ^ 1)
        variants[f"{name} changed"] = params[:i] + [(name, other)] + params[i + 1:]
        variants[f"{name} removed"] = params[:i] + params[i + 1:]
        variants[f"{name} given twice"] = params + [(name, value)]
        variants[f"{name} renamed"] = params[:i] + [(name.lower(), value)] + params[i + 1:]
    variants["a parameter added"] = params + [("TaskId", "mine")]
    for what, query in variants.items():
        url = request.url.copy_with(query=httpx.QueryParams(query).__str__().encode())
        assert answer(two_keys, rebuilt(request, url=url))[1] in REFUSED, what
    assert two_keys.messages() == []


def test_the_method_path_body_and_authorization_are_bound_to_the_signature(
        two_keys: Sandbox, clock: FakeClock) -> None:
    request = signed(two_keys, clock)
    auth = request.headers["authorization"]
    signature = SIGNATURE.search(auth).group(1)  # type: ignore[union-attr]
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    cases = {
        "GET instead of POST": rebuilt(request, method="GET"),
        "another path": rebuilt(request, url=request.url.copy_with(path="/v2/")),
        "a body": rebuilt(request, content=b"To=8613900000002"),
        "a form body with its hash": rebuilt(
            request, content=b"To=8613900000002",
            headers={"content-type": "application/x-www-form-urlencoded",
                     "x-acs-content-sha256": hashlib.sha256(b"To=8613900000002").hexdigest()}),
        "another key's Credential": rebuilt(request, headers={
            "authorization": auth.replace(f"Credential={KEY_ID}", f"Credential={OTHER_KEY}")}),
        "an unknown Credential": rebuilt(request, headers={
            "authorization": auth.replace(f"Credential={KEY_ID}", "Credential=LTAInobody")}),
        "a signature with one digit changed": rebuilt(request, headers={
            "authorization": auth.replace(signature, flipped)}),
        "the signature in capitals": rebuilt(request, headers={
            "authorization": auth.replace(signature, signature.upper())}),
        "x-acs-date left out of SignedHeaders": rebuilt(request, headers={
            "authorization": auth.replace("x-acs-date;", "")}),
        "another algorithm": rebuilt(request, headers={
            "authorization": auth.replace("ACS3-HMAC-SHA256", "ACS3-HMAC-SHA1")}),
        "no Authorization": rebuilt(request, drop="authorization"),
        "signed with another key's secret": signed(two_keys, clock, KEY_ID, OTHER_SECRET),
    }
    for what, tampered in cases.items():
        assert answer(two_keys, tampered)[1] in REFUSED, what
    assert two_keys.messages() == []


def test_a_replayed_request_is_refused_while_its_date_is_valid_and_after(
        two_keys: Sandbox, clock: FakeClock) -> None:
    request = signed(two_keys, clock)
    assert answer(two_keys, request) == (200, "OK")
    for seconds in (0, 1, 60, 14 * 60, 15 * 60, 15 * 60 + 1, 3600):
        clock.now = clock.start + seconds
        assert answer(two_keys, rebuilt(request))[1] in REFUSED | {"SignatureNonceUsed"}, seconds
    assert len(two_keys.messages()) == 1


@pytest.mark.parametrize("ahead", [60, 14 * 60])
def test_a_request_dated_ahead_cannot_be_replayed_once_its_nonce_would_be_forgotten(
        two_keys: Sandbox, clock: FakeClock, ahead: int) -> None:
    # dated ahead of the service's clock but within 15 minutes: accepted; its date stays
    # valid until 15 minutes after that date, so its nonce must be kept as long
    request = signed(two_keys, lambda: clock.now + ahead)
    assert answer(two_keys, request) == (200, "OK")
    for seconds in (15 * 60 - 1, 15 * 60 + 1, 15 * 60 + ahead - 1):
        clock.now = clock.start + seconds
        assert answer(two_keys, rebuilt(request))[1] in REFUSED | {"SignatureNonceUsed"}, seconds
    assert len(two_keys.messages()) == 1


@pytest.mark.parametrize(("skew", "accepted"), [(-16 * 60, False), (16 * 60, False),
                                                (-14 * 60, True), (14 * 60, True)])
def test_a_date_more_than_15_minutes_off_is_refused(two_keys: Sandbox, clock: FakeClock, skew: int,
                                                    accepted: bool) -> None:
    _, code = answer(two_keys, signed(two_keys, lambda: clock.now + skew))
    assert (code == "OK") is accepted and (accepted or code == "InvalidTimeStamp.Expired")


def v1_params(clock: FakeClock) -> dict[str, str]:
    params = {"AccessKeyId": KEY_ID, "Action": "SendChatappMessage", "Format": "JSON",
              "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "n-1", "SignatureVersion": "1.0",
              "Timestamp": format_acs_date(clock.now), "Version": "2020-06-06",
              **message().to_query()}
    params["Signature"] = signature_v1(params, "POST", SECRET)
    return params


def test_every_v1_parameter_changed_one_by_one_is_refused(
        two_keys: Sandbox, clock: FakeClock) -> None:
    good = v1_params(clock)
    post = httpx.Client(transport=two_keys.transport, base_url="https://cams.ap-southeast-1.aliyuncs.com")
    for name, value in good.items():
        if name in ("Signature",):
            continue
        other = "8613900000002" if value.isdigit() else value[:-1] + chr(ord(value[-1]) ^ 1)
        code = post.post("/", params={**good, name: other}).json()["Code"]
        assert code in REFUSED | {"InvalidParameter", "InvalidVersion"}, name
    assert two_keys.messages() == []
    assert post.post("/", params=good).json()["Code"] == "OK"
    assert post.post("/", params=good).json()["Code"] == "SignatureNonceUsed"


def test_a_header_sent_twice_over_the_wire_is_refused() -> None:
    core = SandboxCore(keys={KEY_ID: SECRET}, receipt_delay=0.0)
    with SandboxServer(core) as srv:
        client = Client(access_key_id=KEY_ID, access_key_secret=SECRET, endpoint=srv.url)
        request = client.build_request("SendChatappMessage", message().to_query())
        client.auth.sign(request)
        raw = [(k, v) for k, v in request.headers.raw] + [
            (b"x-acs-signature-nonce", request.headers["x-acs-signature-nonce"].encode())]
        twice = httpx.Request("POST", request.url, headers=raw)
        with httpx.Client(trust_env=False) as http:
            response = http.send(twice)
        assert response.json()["Code"] in REFUSED
        assert core.messages() == []
        assert json.loads(http_post_once(request)).get("Code") == "OK"


def http_post_once(request: httpx.Request) -> str:
    with httpx.Client(trust_env=False) as http:
        return http.send(httpx.Request("POST", request.url, headers=request.headers)).text
