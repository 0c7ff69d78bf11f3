"""Signing a request the client did not build: blank values, a path, repeated headers, a body;
and the signer's secrets kept out of reprs and forked children.

Oracle: the ACS3-HMAC-SHA256 functions ``canonical_request_v3``/``signature_v3``, which
``tests/integration/test_sdk_conformance.py`` checks against the official SDK's test vectors
and against the SDK's signatures on random requests; here ``AcsV3Auth.sign`` on an arbitrary
``httpx.Request`` must give exactly what those functions give for the parts written out by
hand (the spec: every parameter, blank ones included; the path as sent; each signed header's
values joined with ", ").
"""

from __future__ import annotations

import hashlib
import re

import httpx

from cams_notebook import signing
from cams_notebook.signing import (
    EMPTY_SHA256,
    AcsV3Auth,
    authorization_v3,
    canonical_request_v3,
    signature_v3,
)

KEY_ID, SECRET = "LTAI_TEST_ID", "TEST_SECRET"


def expected_authorization(method: str, path: str, query: list[tuple[str, str]],
                           headers: dict[str, str], payload_sha256: str) -> str:
    signed = {**headers, "x-acs-date": "1970-01-01T00:00:00Z", "x-acs-signature-nonce": "n1",
              "x-acs-content-sha256": payload_sha256}
    canonical, names = canonical_request_v3(method, path, query, signed, signed, payload_sha256)
    return authorization_v3(KEY_ID, names, signature_v3(SECRET, canonical))


def signer() -> AcsV3Auth:
    return AcsV3Auth(KEY_ID, SECRET, clock=lambda: 0.0, nonce=lambda: "n1")


def test_a_blank_parameter_and_a_path_are_signed_as_sent() -> None:
    request = httpx.Request("GET", "https://cams.example.com/v2/list?B=&A=1",
                            headers={"x-acs-action": "ListChatappTemplate"})
    signer().sign(request)
    assert request.headers["Authorization"] == expected_authorization(
        "GET", "/v2/list", [("A", "1"), ("B", "")],
        {"host": "cams.example.com", "x-acs-action": "ListChatappTemplate"}, EMPTY_SHA256)
    dropped = expected_authorization(
        "GET", "/v2/list", [("A", "1")],
        {"host": "cams.example.com", "x-acs-action": "ListChatappTemplate"}, EMPTY_SHA256)
    assert request.headers["Authorization"] != dropped


def test_a_repeated_signed_header_is_signed_with_its_values_joined() -> None:
    request = httpx.Request("POST", "https://cams.example.com/?Action=X",
                            headers=[("x-acs-meta", "a"), ("x-acs-meta", "b"),
                                     ("content-type", "text/plain")],
                            content=b"body")
    signer().sign(request)
    assert request.headers["x-acs-content-sha256"] == hashlib.sha256(b"body").hexdigest()
    assert request.headers["Authorization"] == expected_authorization(
        "POST", "/", [("Action", "X")],
        {"host": "cams.example.com", "x-acs-meta": "a, b", "content-type": "text/plain"},
        hashlib.sha256(b"body").hexdigest())


def test_the_keyed_hash_never_shows_its_key() -> None:
    assert repr(signing._HmacSha256(SECRET.encode())) == "_HmacSha256(...)"
    assert SECRET not in repr(signer())


def test_a_forked_child_draws_nonces_of_its_own() -> None:
    """After a fork the child forgets the parent's batch: the next nonce is a fresh UUID4."""
    taken = {signing._default_nonce() for _ in range(3)}
    signing._forget_nonces()
    fresh = signing._default_nonce()
    assert re.fullmatch(r"[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}", fresh)
    assert fresh not in taken
