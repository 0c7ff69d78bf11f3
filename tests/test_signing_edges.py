"""Signing a request the client did not build: blank values, a path, repeated headers, a body;
the signer's secrets kept out of reprs and forked children; its keyed hash at the edges of the
SHA-256 block (RFC 2104, the standard library's ``hmac`` as oracle) and its nonces (RFC 4122
version 4, the standard library's ``uuid`` as oracle).

Oracle: the ACS3-HMAC-SHA256 functions ``canonical_request_v3``/``signature_v3``, which
``tests/integration/test_sdk_conformance.py`` checks against the official SDK's test vectors
and against the SDK's signatures on random requests; here ``AcsV3Auth.sign`` on an arbitrary
``httpx.Request`` must give exactly what those functions give for the parts written out by
hand (the spec: every parameter, blank ones included; the path as sent; each signed header's
values joined with ", ").
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid

import httpx
import pytest

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


def test_keys_around_the_sha256_block_size_give_the_rfc_2104_hmac() -> None:
    """RFC 2104: a key longer than the 64-byte block is hashed first, a key of 64 bytes or
    fewer is used as it is (padded with zeros); the standard library's ``hmac`` is the
    oracle, at the edges of the block."""
    message = b"ACS3-HMAC-SHA256\nabc"
    for size in (0, 1, 63, 64, 65, 128, 200):
        key = bytes(range(256))[:size]
        assert signing._HmacSha256(key).hexdigest(message) == \
            hmac.new(key, message, "sha256").hexdigest(), size


def test_a_secret_given_as_a_secret_str_signs_as_the_plain_string() -> None:
    from pydantic import SecretStr

    request = httpx.Request("POST", "https://cams.example.com/?A=1")
    plain = httpx.Request("POST", "https://cams.example.com/?A=1")
    AcsV3Auth(KEY_ID, SecretStr(SECRET), clock=lambda: 0.0, nonce=lambda: "n1").sign(request)
    signer().sign(plain)
    assert request.headers["Authorization"] == plain.headers["Authorization"]


def test_an_empty_access_key_id_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"^access_key_id must not be empty$"):
        AcsV3Auth("", SECRET)


def test_signing_headers_names_authorization_last_as_documented() -> None:
    added = signer().signing_headers("POST", "/", "A=1", {"host": "cams.example.com"})
    assert list(added) == ["x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256",
                           "Authorization"]


def test_nonces_are_the_system_s_random_bytes_as_version_4_uuids_256_per_call(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """One ``os.urandom`` call of 256 x 16 bytes serves 256 nonces, each 16 bytes of it in
    order, with the version and variant bits of RFC 4122 set (the standard library's
    ``uuid.UUID(bytes=..., version=4)`` is the oracle)."""
    calls: list[int] = []

    def urandom(n: int) -> bytes:
        calls.append(n)
        return bytes((i * 7 + len(calls)) % 256 for i in range(n))

    monkeypatch.setattr(signing.os, "urandom", urandom)
    signing._forget_nonces()
    try:
        nonces = [signing._default_nonce() for _ in range(257)]
    finally:
        signing._forget_nonces()
    assert calls == [4096, 4096]
    first, second = urandom_pool(1), urandom_pool(2)
    assert nonces == [uuid.UUID(bytes=first[i:i + 16], version=4).hex
                      for i in range(0, 4096, 16)] + [uuid.UUID(bytes=second[:16], version=4).hex]


def urandom_pool(call: int) -> bytes:
    return bytes((i * 7 + call) % 256 for i in range(4096))


def test_keys_are_percent_encoded_and_sorted_as_encoded() -> None:
    """Keys, like values, are RFC 3986 encoded, then the pairs sorted by the encoded key
    (reference 3.4-3.5); the standard library's ``quote(..., safe="~")`` is the oracle. A
    digit after a letter sorts before the end of a shorter key ("A" before "A1"), which the
    letters-only shortcut must not get wrong."""
    from urllib.parse import quote

    pairs = [("A1", "x"), ("A", "y"), ("a b", "z"), ("ü", "w")]
    expected = "&".join(f"{k}={v}" for k, v in sorted(
        (quote(k, safe="~"), quote(v, safe="~")) for k, v in pairs))
    assert expected == "%C3%BC=w&A=y&A1=x&a%20b=z"
    assert signing.canonical_query(pairs) == expected


def test_an_empty_path_is_signed_as_the_root() -> None:
    """An RPC request's pathname is "/" (reference 3.1, ``pathname='/'``): a request with no
    path is signed with "/" as its canonical URI."""
    canonical, _ = canonical_request_v3("GET", "", [("A", "1")], {"host": "h"}, ["host"],
                                        EMPTY_SHA256)
    assert canonical.split("\n")[:3] == ["GET", "/", "A=1"]
