"""SigV4 verification (fairshare.services.sigv4) against requests signed by botocore's own signer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from fairshare.services.athena_protocol import AthenaApiError
from fairshare.services.sigv4 import MAX_SKEW_S, SignedRequest, read_authorization, verify
from hypothesis import given
from hypothesis import strategies as st

SIGNED_AT = datetime(2026, 12, 3, 11, 0, 0, tzinfo=UTC)
NOW = SIGNED_AT.timestamp()
SECRET = "the-api-key-value-0123456789"
URL = "https://abc123.execute-api.us-east-1.amazonaws.com/v1/athena"


def _signed(
    body: bytes = b'{"WorkGroup": "fs-dev-alpha"}',
    *,
    url: str = URL,
    secret: str = SECRET,
    region: str = "us-east-1",
    service: str = "athena",
    at: datetime = SIGNED_AT,
) -> dict[str, list[str]]:
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonAthena.GetWorkGroup"},
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None)):
        SigV4Auth(Credentials("key-alpha", secret), service, region).add_auth(request)
    headers = {name.lower(): [value] for name, value in request.headers.items()}
    headers["host"] = ["abc123.execute-api.us-east-1.amazonaws.com"]
    return headers


def _request(
    headers: dict[str, list[str]], body: bytes = b'{"WorkGroup": "fs-dev-alpha"}', **kw: Any
) -> SignedRequest:
    return SignedRequest(
        method=kw.get("method", "POST"),
        paths=kw.get("paths", ["/v1/athena"]),
        query=kw.get("query", {}),
        headers=headers,
        body=body,
    )


def _verify(request: SignedRequest, *, secret: str = SECRET, now: float = NOW) -> None:
    verify(request, read_authorization(request), secret, region="us-east-1", service="athena", now=now)


def _refusal(request: SignedRequest, **kw: Any) -> tuple[str, str]:
    with pytest.raises(AthenaApiError) as excinfo:
        _verify(request, **kw)
    assert excinfo.value.status == 403
    return excinfo.value.type, excinfo.value.message


def test_a_request_botocore_signed_verifies_with_the_same_secret() -> None:
    request = _request(_signed())
    _verify(request)
    assert read_authorization(request).access_key_id == "key-alpha"


def test_the_wrong_secret_is_an_invalid_signature() -> None:
    kind, message = _refusal(_request(_signed()), secret="another-value")
    assert kind == "InvalidSignatureException" and message.startswith("The request signature we calculated")


def test_a_changed_body_is_an_invalid_signature() -> None:
    assert (
        _refusal(_request(_signed(), body=b'{"WorkGroup": "fs-dev-beta"}'))[0] == "InvalidSignatureException"
    )


def test_a_changed_signed_header_is_an_invalid_signature() -> None:
    headers = _signed()
    headers["x-amz-target"] = ["AmazonAthena.DeleteWorkGroup"]
    assert _refusal(_request(headers))[0] == "InvalidSignatureException"


def test_headers_the_client_did_not_sign_may_be_added_on_the_way() -> None:
    headers = _signed()
    headers["x-forwarded-for"] = ["10.0.0.1"]  # API Gateway adds its own
    headers["x-amzn-trace-id"] = ["Root=1-abc"]
    _verify(_request(headers))


def test_a_signature_over_another_path_is_refused_and_any_candidate_path_may_match() -> None:
    headers = _signed(url="https://abc123.execute-api.us-east-1.amazonaws.com/v1/athena")
    assert _refusal(_request(headers, paths=["/athena"]))[0] == "InvalidSignatureException"
    _verify(_request(headers, paths=["/athena", "/v1/athena"]))


@pytest.mark.parametrize("offset", [-MAX_SKEW_S - 1, MAX_SKEW_S + 1], ids=["ahead", "expired"])
def test_a_signature_more_than_fifteen_minutes_off_is_refused(offset: float) -> None:
    kind, message = _refusal(_request(_signed()), now=NOW + offset)
    assert kind == "InvalidSignatureException" and message.startswith("Signature expired")


@pytest.mark.parametrize("offset", [-MAX_SKEW_S, MAX_SKEW_S])
def test_a_signature_within_fifteen_minutes_verifies(offset: float) -> None:
    _verify(_request(_signed()), now=NOW + offset)


@pytest.mark.parametrize(("region", "service"), [("eu-west-1", "athena"), ("us-east-1", "execute-api")])
def test_a_credential_scoped_elsewhere_is_refused(region: str, service: str) -> None:
    kind, message = _refusal(_request(_signed(region=region, service=service)))
    assert kind == "InvalidSignatureException" and "scoped to us-east-1/athena" in message


def test_an_unsigned_request_is_unrecognized() -> None:
    headers = {
        "host": ["abc123.execute-api.us-east-1.amazonaws.com"],
        "x-amz-target": ["AmazonAthena.ListWorkGroups"],
    }
    with pytest.raises(AthenaApiError) as excinfo:
        read_authorization(_request(headers))
    assert (excinfo.value.type, excinfo.value.status) == ("UnrecognizedClientException", 403)


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic dXNlcjpwYXNz",
        "AWS4-HMAC-SHA256 Credential=key-alpha/20261203/us-east-1/athena/aws4_request, Signature=" + "0" * 64,
        "AWS4-HMAC-SHA256 Credential=key-alpha/20261203/us-east-1/athena, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
        "AWS4-HMAC-SHA256 Credential=key-alpha/20261203/us-east-1/athena/aws4_request, "
        "SignedHeaders=x-amz-date, Signature=" + "0" * 64,
    ],
    ids=["other-scheme", "no-signed-headers", "short-credential", "host-unsigned"],
)
def test_a_malformed_authorization_header_is_an_invalid_signature(authorization: str) -> None:
    headers = _signed()
    headers["authorization"] = [authorization]
    with pytest.raises(AthenaApiError) as excinfo:
        read_authorization(_request(headers))
    assert excinfo.value.type == "InvalidSignatureException"


def test_a_signed_header_missing_from_the_request_is_an_invalid_signature() -> None:
    headers = _signed()
    del headers["x-amz-target"]
    kind, message = _refusal(_request(headers))
    assert kind == "InvalidSignatureException" and "x-amz-target" in message


@given(body=st.binary(max_size=512), flip=st.integers(min_value=0, max_value=511))
def test_any_body_verifies_as_signed_and_no_changed_byte_does(body: bytes, flip: int) -> None:
    headers = _signed(body)
    _verify(_request(headers, body=body))
    if body:
        index = flip % len(body)
        changed = body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1 :]
        assert _refusal(_request(headers, body=changed))[0] == "InvalidSignatureException"
