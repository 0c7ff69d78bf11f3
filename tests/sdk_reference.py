"""The official Alibaba Cloud SDK as a test oracle: what it puts on the wire, and how it signs.

Only tests import this module, and it imports nothing from ``cams_notebook``: the package
must never depend on the SDK (70 MB, 1 000+ modules), but the SDK 5.3.1 is the reference the
package is held to (reference ``cams_api.md`` sections 3 and 4).

* :func:`sdk_wire` / :func:`sdk_query` run the SDK's real ``send_chatapp_message_with_options``
  against a capturing loopback HTTP server and return what arrived: nothing is re-implemented,
  so shrink serialisation, ``str()`` of numbers, dropping of ``None`` and URL encoding are the
  SDK's own. The server starts on first use and lives for the whole test session (one
  ``requests`` session stays warm, so a call costs a few milliseconds).
* :func:`sdk_authorization` and :func:`sdk_v1_signature` call the SDK's own V3
  (``Utils.get_authorization``) and V1 (``Utils.get_rpcsignature``) functions.
* :func:`capture` records what any other client (ours) sends to the same server.

>>> sdk_query(channel_type="whatsapp", type="template", from_="861", to="862",
...           template_code="c", language="en", template_params={"name": "Zoë"})["TemplateParams"]
'{"name":"Zoë"}'
"""

from __future__ import annotations

import atexit
import hashlib
import queue
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

from alibabacloud_cams20200606 import models as sdk_models
from alibabacloud_cams20200606.client import Client as SdkClient
from alibabacloud_tea_openapi.utils import Utils as SdkUtils
from alibabacloud_tea_openapi.utils_models import Config as SdkConfig
from darabonba.request import DaraRequest
from darabonba.runtime import RuntimeOptions

__all__ = [
    "CAPTURE_ANSWER",
    "EMPTY_SHA256",
    "SDK_ACCESS_KEY_ID",
    "SDK_ACCESS_KEY_SECRET",
    "Wire",
    "capture",
    "capture_url",
    "sdk_authorization",
    "sdk_client",
    "sdk_models",
    "sdk_query",
    "sdk_request",
    "sdk_v1_signature",
    "sdk_wire",
    "shutdown",
]

SDK_ACCESS_KEY_ID = "LTAI_TEST_ID"
SDK_ACCESS_KEY_SECRET = "TEST_SECRET"
CAPTURE_ANSWER = b'{"RequestId":"r","Code":"OK","MessageId":"m"}'
"""What the capturing server answers to every request (a successful SendChatappMessage)."""
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_TIMEOUT = 10.0


class Wire(NamedTuple):
    """One request as it arrived: ``(method, path, query_pairs, headers)`` plus the body.

    ``query`` keeps the wire order and duplicates, decoded with
    ``parse_qsl(keep_blank_values=True)``; ``headers`` has lower-case names.
    """

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes = b""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the SDK's requests session reuses one socket
    disable_nagle_algorithm = True  # else each answer waits ~40 ms for a delayed ACK

    def _capture(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        wire = Wire(
            self.command,
            parts.path,
            parse_qsl(parts.query, keep_blank_values=True),
            {name.lower(): value for name, value in self.headers.items()},
            body,
        )
        self.server.captured.put(wire)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("content-type", "application/json;charset=utf-8")
        self.send_header("content-length", str(len(CAPTURE_ANSWER)))
        self.end_headers()
        self.wfile.write(CAPTURE_ANSWER)

    do_POST = do_GET = _capture

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _CaptureServer:
    def __init__(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.captured = queue.Queue()  # type: ignore[attr-defined]
        self.port: int = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="sdk-capture",
                                       daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


_state_lock = threading.Lock()
_call_lock = threading.Lock()  # one request in flight at a time: the capture queue is shared
_server: _CaptureServer | None = None
_clients: dict[str | None, SdkClient] = {}


def _capture_server() -> _CaptureServer:
    global _server
    with _state_lock:
        if _server is None:
            _server = _CaptureServer()
            atexit.register(shutdown)
        return _server


def shutdown() -> None:
    """Stop the capturing server (it restarts on next use)."""
    global _server
    with _state_lock:
        if _server is not None:
            _server.stop()
            _server = None
            _clients.clear()


def capture_url() -> str:
    """Base URL of the capturing server, e.g. ``http://127.0.0.1:40123``."""
    return f"http://127.0.0.1:{_capture_server().port}"


def capture(call: Callable[[], Any]) -> tuple[Any, Wire]:
    """Run ``call`` (which makes exactly one request to :func:`capture_url`); return its result
    and the request as it arrived."""
    server = _capture_server()
    with _call_lock:
        captured: queue.Queue[Wire] = server.httpd.captured  # type: ignore[attr-defined]
        while not captured.empty():  # left over by a caller that failed half-way
            captured.get_nowait()
        result = call()
        try:
            wire = captured.get(timeout=_TIMEOUT)
        except queue.Empty:
            raise AssertionError("the call made no request to the capturing server") from None
        if not captured.empty():
            raise AssertionError("the call made more than one request to the capturing server")
    return result, wire


def sdk_client(signature_algorithm: str | None = None, *, endpoint: str | None = None,
               access_key_id: str = SDK_ACCESS_KEY_ID,
               access_key_secret: str = SDK_ACCESS_KEY_SECRET) -> SdkClient:
    """An unmodified official SDK client over plain http to ``endpoint`` (``host:port``).

    ``signature_algorithm='v2'`` selects the legacy V1 (HMAC-SHA1) path; the default is V3.
    Without ``endpoint`` it is the (cached) client of the capturing server.
    """
    def build(host: str) -> SdkClient:
        config = SdkConfig(access_key_id=access_key_id, access_key_secret=access_key_secret,
                           endpoint=host, protocol="http")
        if signature_algorithm is not None:
            config.signature_algorithm = signature_algorithm
        return SdkClient(config)

    if endpoint is not None:
        return build(endpoint)
    server = _capture_server()
    if (access_key_id, access_key_secret) != (SDK_ACCESS_KEY_ID, SDK_ACCESS_KEY_SECRET):
        return build(f"127.0.0.1:{server.port}")
    with _state_lock:
        client = _clients.get(signature_algorithm)
        if client is None:
            client = _clients[signature_algorithm] = build(f"127.0.0.1:{server.port}")
        return client


def sdk_request(**kwargs: Any) -> sdk_models.SendChatappMessageRequest:
    """``SendChatappMessageRequest(**kwargs)`` (SDK snake_case names, SDK nested models)."""
    return sdk_models.SendChatappMessageRequest(**kwargs)


def sdk_wire(*, signature_algorithm: str | None = None, **kwargs: Any) -> Wire:
    """What the SDK sends for ``SendChatappMessageRequest(**kwargs)``, captured on the wire."""
    client = sdk_client(signature_algorithm)
    request = sdk_request(**kwargs)
    response, wire = capture(
        lambda: client.send_chatapp_message_with_options(request, RuntimeOptions()))
    if response.status_code != 200 or response.body.code != "OK":
        raise AssertionError(f"the SDK did not read the capture answer: {response.to_map()}")
    return wire


def sdk_query(**kwargs: Any) -> dict[str, str]:
    """The query parameters the SDK (V3, its default) sends for
    ``SendChatappMessageRequest(**kwargs)``."""
    wire = sdk_wire(**kwargs)
    query = dict(wire.query)
    if len(query) != len(wire.query):
        raise AssertionError(f"the SDK sent a parameter twice: {wire.query}")
    return query


def sdk_authorization(method: str, query: Mapping[str, str], headers: Mapping[str, str],
                      access_key_id: str, secret: str, *, pathname: str = "/",
                      payload: bytes = b"") -> str:
    """The V3 ``Authorization`` the SDK computes (``Utils.get_authorization``).

    The SDK signs every header it is given, so pass exactly the headers to sign.
    """
    request = DaraRequest()
    request.method = method
    request.pathname = pathname
    request.query = dict(query)
    request.headers = dict(headers)
    hashed = hashlib.sha256(payload).hexdigest()
    return SdkUtils.get_authorization(request, "ACS3-HMAC-SHA256", hashed, access_key_id, secret)


def sdk_v1_signature(params: Mapping[str, str], method: str, secret: str) -> str:
    """The V1 (HMAC-SHA1) ``Signature`` the SDK computes (``Utils.get_rpcsignature``)."""
    return SdkUtils.get_rpcsignature(dict(params), method, secret)
