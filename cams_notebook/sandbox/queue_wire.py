"""How the sandbox's queue endpoint reads MNS requests and writes MNS answers: the signed
resource, Content-MD5, bounded integer parameters, and the XML bodies, headers and four-field
errors of the service (``smq_receipts.md`` section 5).

Apart from :mod:`.queue_service` (the queues, tokens and operations) so that the shape of the
wire is in one place, and the operations read as what they do.
"""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import quote

from ..smq import MNS_VERSION, XMLNS
from ._wire import WireRequest, WireResponse

__all__ = ["MnsFault", "bounded_int", "check_md5", "error_answer", "ok_answer", "signed_resources",
           "xml_escape"]


class MnsFault(Exception):
    """An MNS error answer: HTTP ``status``, the service's ``code`` and ``message`` (and a
    ``delay``, for a long poll that found nothing)."""

    def __init__(self, status: int, code: str, message: str, delay: float = 0.0) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.delay = status, code, message, delay


def signed_resources(req: WireRequest) -> list[str]:
    """The signed resource as the client may have sent it: the query is only known decoded,
    so try it as is (the SDKs put handles in unencoded) and percent-encoded."""
    if not req.query:
        return [req.path]
    raw = "&".join(f"{k}={v}" for k, v in req.query)
    encoded = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in req.query)
    return [f"{req.path}?{raw}"] + ([f"{req.path}?{encoded}"] if encoded != raw else [])


def check_md5(value: str | None, body: bytes) -> None:
    """Refuse a ``Content-MD5`` that is not the body's (either form the clients send)."""
    if not value:
        return
    digest = hashlib.md5(body)
    accepted = {base64.b64encode(digest.hexdigest().encode()).decode(),  # what the SDKs send
                base64.b64encode(digest.digest()).decode()}  # RFC 1864
    if value not in accepted:
        raise MnsFault(400, "InvalidDegist", "The Content-MD5 you specified is not valid.")


def bounded_int(value: str, low: int, high: int, name: str) -> int:
    """The integer parameter ``name``, or an ``InvalidArgument`` fault outside low..high."""
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise MnsFault(400, "InvalidArgument", f"{name} must be {low}..{high}, not {value!r}.")
    return number


def xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml_headers(request_id: str) -> dict[str, str]:
    return {"content-type": "text/xml;charset=utf-8", "x-mns-request-id": request_id,
            "x-mns-version": MNS_VERSION}


def ok_answer(status: int, body: bytes, request_id: str, delay: float = 0.0) -> WireResponse:
    """A successful answer (an XML ``body``, or none), after ``delay`` seconds."""
    headers = _xml_headers(request_id) if body else {"x-mns-request-id": request_id,
                                                     "x-mns-version": MNS_VERSION}
    return WireResponse(status, headers, body, delay=max(0.0, delay))


def error_answer(fault: MnsFault, request_id: str, host: str) -> WireResponse:
    """The service's four-field XML error for ``fault``."""
    xml = (f'<?xml version="1.0" encoding="UTF-8"?><Error xmlns="{XMLNS}"><Code>{fault.code}</Code>'
           f"<Message>{xml_escape(fault.message)}</Message><RequestId>{request_id}</RequestId>"
           f"<HostId>{xml_escape(host)}</HostId></Error>")
    return WireResponse(fault.status, _xml_headers(request_id), xml.encode("utf-8"),
                        delay=fault.delay)
