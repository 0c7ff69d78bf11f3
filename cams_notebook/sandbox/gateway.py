"""The sandbox's API gateway: who is calling, is the signature right, which action.

It verifies ACS3-HMAC-SHA256 (V3, the official SDK's default) and V1 HMAC-SHA1 (the SDK
with ``signature_algorithm='v2'``) with the same functions the client signs with, and
answers the gateway's error codes and HTTP statuses:

=============================  ======  ==================================================
code                           status  when
=============================  ======  ==================================================
``IncompleteSignature``        400     no Authorization / Signature, or a required header
                                       is not signed
``MissingParameter``           400     a header or parameter the scheme needs is absent
``InvalidAccessKeyId.NotFound`` 404    the AccessKeyId is not configured
``SignatureDoesNotMatch``      400     the signature is wrong (wrong secret, tampered request)
``InvalidTimeStamp.Expired``   400     ``x-acs-date`` / ``Timestamp`` more than 15 minutes off
``SignatureNonceUsed``         400     the nonce was seen in the last 15 minutes
``InvalidVersion``             400     a version other than 2020-06-06 (or than the
                                       action's own, e.g. Dybaseapi's 2017-05-25)
=============================  ======  ==================================================
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from ..signing import EMPTY_SHA256, canonical_request_v3, signature_v1, signature_v3
from ._wire import WireRequest

__all__ = ["Caller", "GatewayError", "NonceCache", "authenticate"]

SKEW_SECONDS = 15 * 60
_V3_REQUIRED = ("host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce",
                "x-acs-content-sha256")


class GatewayError(Exception):
    """A request the gateway refuses before any action runs."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated request: the key, the action, and every parameter (query and form body)."""

    access_key_id: str
    action: str
    params: dict[str, str]
    signature_version: str


class NonceCache:
    """Nonces seen in the last 15 minutes, per AccessKey; bounded by time, not by count."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()
        self._order: deque[tuple[float, tuple[str, str]]] = deque()

    def use(self, key_id: str, nonce: str, now: float) -> bool:
        """Record a nonce; False when it was already used within the window."""
        # Kept twice the skew: a request dated 15 minutes ahead stays valid for 30 minutes.
        while self._order and self._order[0][0] < now - 2 * SKEW_SECONDS:
            self._seen.discard(self._order.popleft()[1])
        item = (key_id, nonce)
        if item in self._seen:
            return False
        self._seen.add(item)
        self._order.append((now, item))
        return True

    def clear(self) -> None:
        self._seen.clear()
        self._order.clear()


def _parse_time(value: str) -> float | None:
    try:
        return float(calendar.timegm(time.strptime(value, "%Y-%m-%dT%H:%M:%SZ")))
    except (ValueError, OverflowError):
        return None


def _check_time(value: str | None, now: float, name: str) -> None:
    if not value:
        raise GatewayError(400, "MissingParameter", f"{name} is mandatory for this action.")
    when = _parse_time(value)
    if when is None:
        raise GatewayError(400, "InvalidTimeStamp.Format",
                           f"{name} {value!r} is not yyyy-MM-ddTHH:mm:ssZ.")
    if abs(now - when) > SKEW_SECONDS:
        raise GatewayError(400, "InvalidTimeStamp.Expired",
                           f"Specified time stamp or date value is expired: {value}.")


def _form_params(req: WireRequest) -> list[tuple[str, str]]:
    ctype = req.headers.get("content-type", "")
    if req.body and ctype.startswith("application/x-www-form-urlencoded"):
        return parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True)
    return []


def authenticate(req: WireRequest, keys: dict[str, str], nonces: NonceCache, now: float,
                 version: str, action_versions: Mapping[str, str] | None = None) -> Caller:
    """Verify the request's signature and return who is calling, or raise :class:`GatewayError`.

    ``action_versions`` names actions of other products served here and their API version.
    """
    auth = req.headers.get("authorization", "")
    query = list(req.query)
    form = _form_params(req)
    params = dict(query)
    params.update(form)
    if auth.startswith("ACS3-HMAC-SHA256 "):
        version = (action_versions or {}).get(req.headers.get("x-acs-action", ""), version)
        return _v3(req, auth, query, params, keys, nonces, now, version)
    if "Signature" in params:
        version = (action_versions or {}).get(params.get("Action", ""), version)
        return _v1(req, params, keys, nonces, now, version)
    raise GatewayError(400, "IncompleteSignature",
                       "The request signature does not conform to Aliyun standards: no signature.")


def _v3(req: WireRequest, auth: str, query: list[tuple[str, str]], params: dict[str, str],
        keys: dict[str, str], nonces: NonceCache, now: float, version: str) -> Caller:
    fields = dict(part.strip().split("=", 1) for part in auth[len("ACS3-HMAC-SHA256 "):].split(",")
                  if "=" in part)
    key_id, signed, signature = (fields.get("Credential"), fields.get("SignedHeaders"),
                                 fields.get("Signature"))
    if not key_id or not signed or not signature:
        raise GatewayError(400, "IncompleteSignature", "Authorization lacks Credential, "
                           "SignedHeaders or Signature.")
    for name in _V3_REQUIRED:
        if name not in req.headers:
            raise GatewayError(400, "MissingParameter", f"The header {name} is mandatory.")
    signed_names = signed.split(";")
    unsigned = [n for n in _V3_REQUIRED if n not in signed_names]
    if "content-type" in req.headers and "content-type" not in signed_names:
        unsigned.append("content-type")
    if unsigned:
        raise GatewayError(400, "IncompleteSignature",
                           f"These headers must be signed: {', '.join(unsigned)}.")
    missing = [n for n in signed_names if n not in req.headers]
    if missing:
        raise GatewayError(400, "IncompleteSignature", f"Signed header {missing[0]} is absent.")
    secret = keys.get(key_id)
    if secret is None:
        raise GatewayError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    body_hash = hashlib.sha256(req.body).hexdigest() if req.body else EMPTY_SHA256
    if req.headers["x-acs-content-sha256"] != body_hash:
        raise GatewayError(400, "SignatureDoesNotMatch",
                           "x-acs-content-sha256 does not match the body.")
    canonical, _ = canonical_request_v3(req.method, req.path, query, req.headers, signed_names,
                                        req.headers["x-acs-content-sha256"])
    if not hmac.compare_digest(signature_v3(secret, canonical), signature):
        raise GatewayError(400, "SignatureDoesNotMatch",
                           "Specified signature does not match our calculation.")
    _check_time(req.headers.get("x-acs-date"), now, "x-acs-date")
    if req.headers["x-acs-version"] != version:
        raise GatewayError(400, "InvalidVersion",
                           f"Specified version {req.headers['x-acs-version']} is not valid.")
    if not nonces.use(key_id, req.headers["x-acs-signature-nonce"], now):
        raise GatewayError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
    return Caller(key_id, req.headers["x-acs-action"], params, "v3")


def _v1(req: WireRequest, params: dict[str, str], keys: dict[str, str], nonces: NonceCache,
        now: float, version: str) -> Caller:
    for name in ("AccessKeyId", "SignatureMethod", "SignatureNonce", "Timestamp", "Action",
                 "Version"):
        if not params.get(name):
            code = "MissingParameter" if name != "AccessKeyId" else "IncompleteSignature"
            raise GatewayError(400, code, f"{name} is mandatory for this action.")
    if params["SignatureMethod"] != "HMAC-SHA1":
        raise GatewayError(400, "InvalidParameter", "SignatureMethod must be HMAC-SHA1.")
    secret = keys.get(params["AccessKeyId"])
    if secret is None:
        raise GatewayError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    if not hmac.compare_digest(signature_v1(params, req.method, secret), params["Signature"]):
        raise GatewayError(400, "SignatureDoesNotMatch",
                           "Specified signature does not match our calculation.")
    _check_time(params["Timestamp"], now, "Timestamp")
    if params["Version"] != version:
        raise GatewayError(400, "InvalidVersion",
                           f"Specified version {params['Version']} is not valid.")
    if not nonces.use(params["AccessKeyId"], params["SignatureNonce"], now):
        raise GatewayError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
    business = {k: v for k, v in params.items() if k not in _V1_COMMON}
    return Caller(params["AccessKeyId"], params["Action"], business, "v1")


_V1_COMMON = frozenset({"AccessKeyId", "Signature", "SignatureMethod", "SignatureVersion",
                        "SignatureNonce", "SignatureType", "Timestamp", "Action", "Version",
                        "Format", "SecurityToken", "RegionId"})
