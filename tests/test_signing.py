"""ACS3-HMAC-SHA256 and V1 signing against the reference's test vectors (the SDK comparison
lives in test_sdk_conformance.py)."""

from __future__ import annotations

import hmac
import uuid

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from cams_notebook.signing import (
    EMPTY_SHA256,
    AcsV3Auth,
    _default_nonce,
    _HmacSha256,
    authorization_v3,
    canonical_query,
    canonical_request_v3,
    signature_v1,
    signature_v3,
)

VECTOR_QUERY = [
    ("ChannelType", "whatsapp"), ("CustSpaceId", "cams-test"), ("From", "8613800000000"),
    ("Language", "en"), ("TemplateCode", "744c4b5c79c9432497a075bdfca3****"),
    ("TemplateParams", '{"name":"Zoë & co","code":"12 34"}'), ("To", "8613900000000"),
    ("Type", "template"),
]
VECTOR_HEADERS = {
    "host": "cams.ap-southeast-1.aliyuncs.com", "x-acs-action": "SendChatappMessage",
    "x-acs-version": "2020-06-06", "x-acs-date": "2025-01-01T00:00:00Z",
    "x-acs-signature-nonce": "3a1b2c3d4e5f60718293a4b5c6d7e8f9",
    "x-acs-content-sha256": EMPTY_SHA256,
}
VECTOR_AUTHORIZATION = (
    "ACS3-HMAC-SHA256 Credential=LTAI_TEST_ID,SignedHeaders=host;x-acs-action;x-acs-content-sha256;"
    "x-acs-date;x-acs-signature-nonce;x-acs-version,"
    "Signature=a865cf5e7d6b75a658596cb64956321411c5697f74a566784060c5ef2c189570"
)


def test_v3_reference_vector_canonical_request_and_authorization() -> None:
    canonical, signed = canonical_request_v3("POST", "/", VECTOR_QUERY, VECTOR_HEADERS,
                                             VECTOR_HEADERS, EMPTY_SHA256)
    assert canonical.split("\n")[2] == (
        "ChannelType=whatsapp&CustSpaceId=cams-test&From=8613800000000&Language=en&"
        "TemplateCode=744c4b5c79c9432497a075bdfca3%2A%2A%2A%2A&TemplateParams=%7B%22name%22%3A%22"
        "Zo%C3%AB%20%26%20co%22%2C%22code%22%3A%2212%2034%22%7D&To=8613900000000&Type=template")
    assert "\n\nhost;x-acs-action" in canonical  # the blank line after the header block
    assert authorization_v3("LTAI_TEST_ID", signed, signature_v3("TEST_SECRET", canonical)) == \
        VECTOR_AUTHORIZATION


def test_auth_flow_reproduces_the_vector_from_an_httpx_request() -> None:
    request = httpx.Request("POST", "https://cams.ap-southeast-1.aliyuncs.com/",
                            params=VECTOR_QUERY,
                            headers={"x-acs-action": "SendChatappMessage",
                                     "x-acs-version": "2020-06-06"})
    auth = AcsV3Auth("LTAI_TEST_ID", "TEST_SECRET", clock=lambda: 1735689600.0,
                     nonce=lambda: "3a1b2c3d4e5f60718293a4b5c6d7e8f9")
    signed = next(auth.auth_flow(request))
    assert signed.headers["authorization"] == VECTOR_AUTHORIZATION
    assert signed.headers["x-acs-date"] == "2025-01-01T00:00:00Z"


def test_v1_reference_vector() -> None:
    params = {
        "Action": "SendChatappMessage", "Format": "json", "Version": "2020-06-06",
        "Timestamp": "2025-01-01T00:00:00Z", "SignatureNonce": "3a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "ChannelType": "whatsapp", "Type": "message", "MessageType": "text",
        "From": "8613800000000", "To": "8613900000000", "Content": '{"text":"hi there"}',
        "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "AccessKeyId": "LTAI_TEST_ID",
    }
    assert signature_v1(params, "POST", "TEST_SECRET") == "yerx03rMG8m3c+UYjsteFxB8Y0c="
    # every parameter but Signature itself is signed: a request carrying its signature
    # verifies against the same vector
    with_signature = {**params, "Signature": "yerx03rMG8m3c+UYjsteFxB8Y0c="}
    assert signature_v1(with_signature, "POST", "TEST_SECRET") == "yerx03rMG8m3c+UYjsteFxB8Y0c="


def test_canonical_query_encodes_per_rfc3986_and_sorts_by_key() -> None:
    assert canonical_query([("b", "a b*~/"), ("a", "")]) == "a=&b=a%20b%2A~%2F"


def test_sts_token_is_sent_and_signed() -> None:
    request = httpx.Request("POST", "https://h/", params={"A": "1"})
    auth = AcsV3Auth("STS.id", "secret", security_token="tok", clock=lambda: 0.0, nonce=lambda: "n")
    signed = next(auth.auth_flow(request))
    assert signed.headers["x-acs-security-token"] == "tok"
    assert signed.headers["x-acs-accesskey-id"] == "STS.id"
    assert "x-acs-security-token" in signed.headers["authorization"]


def test_each_request_gets_a_fresh_nonce_by_default() -> None:
    auth = AcsV3Auth("id", "secret")
    first = next(auth.auth_flow(httpx.Request("POST", "https://h/")))
    second = next(auth.auth_flow(httpx.Request("POST", "https://h/")))
    assert first.headers["x-acs-signature-nonce"] != second.headers["x-acs-signature-nonce"]


def test_a_form_body_is_hashed_and_its_content_type_signed() -> None:
    request = httpx.Request("POST", "https://h/", data={"To": "1"})
    signed = next(AcsV3Auth("id", "s", clock=lambda: 0.0, nonce=lambda: "n").auth_flow(request))
    assert signed.headers["x-acs-content-sha256"] != EMPTY_SHA256
    assert "content-type" in signed.headers["authorization"]


def test_repr_never_shows_the_secret() -> None:
    assert "topsecret" not in repr(AcsV3Auth("id", "topsecret", security_token="tok-secret"))
    assert "tok-secret" not in repr(AcsV3Auth("id", "topsecret", security_token="tok-secret"))


@settings(max_examples=200, deadline=None)
@given(key=st.binary(min_size=0, max_size=200), message=st.binary(max_size=300))
def test_the_signers_keyed_hmac_is_rfc_2104_hmac_sha256(key: bytes, message: bytes) -> None:
    # keys shorter than, equal to and longer than the 64-byte block
    assert _HmacSha256(key).hexdigest(message) == hmac.new(key, message, "sha256").hexdigest()


def test_default_nonces_are_unique_version_4_uuids_across_batches() -> None:
    nonces = [_default_nonce() for _ in range(3 * 256 + 7)]
    assert len(set(nonces)) == len(nonces)
    assert all(uuid.UUID(n).version == 4 and uuid.UUID(n).hex == n for n in nonces)
