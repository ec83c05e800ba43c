"""Result links: a presigned URL opens only the object of the caller's own query, and only until it
expires. moto serves presigned URLs without checking their signature, so the check S3 makes is done
here: the SigV4 query signature is computed again over the URL as presented, at the signing time it
carries, and compared; S3 also refuses a URL after `X-Amz-Date + X-Amz-Expires`."""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import boto3
import pytest
import requests
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from fairshare import wiring
from fairshare.adapters.s3 import PRESIGN_CLIENT_CONFIG, S3ResultStore
from fairshare.config import parse_config
from fairshare_tools.testing.fakes import Shared

from tests.integration.conftest import (
    BUCKET,
    REGION,
    Platform,
    api_event,
    athena_event,
    call_api,
    complete,
    config_document,
    dispatch,
    submit,
)

AUTH_PARAMS = {
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
}


def s3_accepts(url: str, now: datetime) -> bool:
    """What S3 decides for a SigV4 presigned GET: the signature matches the URL and it has not expired."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
        return False
    signed_at = datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    if now > signed_at + timedelta(seconds=int(params["X-Amz-Expires"])):
        return False
    rest = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in AUTH_PARAMS]
    request = AWSRequest(method="GET", url=urlunsplit((*parts[:3], urlencode(rest), "")))
    request.context["timestamp"] = params["X-Amz-Date"]
    region = params["X-Amz-Credential"].split("/")[2]
    frozen = boto3.session.Session().get_credentials().get_frozen_credentials()  # what signed it
    credentials = Credentials(frozen.access_key, frozen.secret_key, frozen.token)
    auth = S3SigV4QueryAuth(credentials, "s3", region, expires=int(params["X-Amz-Expires"]))
    auth._modify_request_before_signing(request)
    expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    return hmac.compare_digest(expected, params["X-Amz-Signature"])


@pytest.fixture
def sigv4(platform: Platform) -> Platform:
    """The stage's results store as the Lambdas build it (SigV4 presigning)."""
    platform.deps.results = Shared(
        S3ResultStore(boto3.client("s3", region_name=REGION, config=PRESIGN_CLIENT_CONFIG))
    )
    return platform


def _succeeded(platform: Platform, key: str, tenant: str) -> tuple[str, str]:
    query_id = submit("SELECT 1", key=key)[1]["query_id"]
    dispatch()
    execution = platform.athena.execution_for(query_id)
    assert execution is not None
    object_key = f"results/{tenant}/{execution.execution_id}.csv"
    platform.s3.put_object(Bucket=BUCKET, Key=object_key, Body=f'"owner"\n"{tenant}"\n'.encode())
    platform.athena.finish(execution.execution_id)
    complete(athena_event(execution.execution_id, "SUCCEEDED", execution.workgroup))
    return query_id, object_key


def _link(query_id: str, key: str) -> dict[str, Any]:
    status, body = call_api(api_event("GET", f"/queries/{query_id}/results", key=key))
    assert status == 200, body
    return body


def test_the_link_opens_the_own_result_and_is_signed_for_that_object_only(sigv4: Platform) -> None:
    a_query, a_object = _succeeded(sigv4, "key-alpha", "alpha")
    _, b_object = _succeeded(sigv4, "key-beta", "beta")
    url = _link(a_query, "key-alpha")["download_url"]
    assert urlsplit(url).path.endswith(f"/{a_object}")
    now = datetime.now(UTC)
    assert s3_accepts(url, now)
    assert requests.get(url, timeout=5).content == b'"owner"\n"alpha"\n'
    # the same signature on B's object, or on any other key, bucket or extra parameter, is refused
    for tampered in (
        url.replace(a_object, b_object),
        url.replace("/results/alpha/", "/results/beta/"),
        url.replace(f"{BUCKET}", "other-bucket"),
        url + "&response-content-type=text%2Fhtml",
    ):
        assert not s3_accepts(tampered, now), tampered


def test_the_link_expires_after_the_configured_time(sigv4: Platform) -> None:
    a_query, _ = _succeeded(sigv4, "key-alpha", "alpha")
    body = _link(a_query, "key-alpha")
    expiry = sigv4.config.presign_expiry_s
    assert body["expires_in"] == expiry
    params = dict(parse_qsl(urlsplit(body["download_url"]).query))
    assert int(params["X-Amz-Expires"]) == expiry
    signed_at = datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert s3_accepts(body["download_url"], signed_at + timedelta(seconds=expiry))
    assert not s3_accepts(body["download_url"], signed_at + timedelta(seconds=expiry + 1))


def test_b_cannot_get_a_link_to_a_result_at_all(sigv4: Platform) -> None:
    a_query, _ = _succeeded(sigv4, "key-alpha", "alpha")
    status, body = call_api(api_event("GET", f"/queries/{a_query}/results", key="key-beta"))
    assert status == 404 and "download_url" not in json.dumps(body)


def test_the_lambdas_presign_with_sigv4(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: wiring built the S3 client without a signature version, and botocore presigns with
    SigV2 in us-east-1 (AWSAccessKeyId/Signature/Expires): unsigned extra parameters, refused for
    SSE-KMS objects and by buckets that no longer accept SigV2."""
    config = parse_config(config_document(platform.queues, platform.topic_arn))
    monkeypatch.setattr(wiring, "_deps", None)
    url = wiring.build(config).results.as_tenant("alpha").presign_get(BUCKET, "results/alpha/x.csv", 900)
    params = dict(parse_qsl(urlsplit(url).query))
    assert params["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert "Signature" not in params and "AWSAccessKeyId" not in params
    assert s3_accepts(url, datetime.now(UTC))


def test_a_result_link_is_signed_with_the_tenants_execution_role(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """I-4: the link carries the tenant role's session credentials, never the function's own."""
    iam = boto3.client("iam", region_name=REGION)
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="fs-test-tenant-alpha-link", AssumeRolePolicyDocument=json.dumps(trust))
    document = config_document(platform.queues, platform.topic_arn)
    document["tenants"]["alpha"]["execution_role_arn"] = role["Role"]["Arn"]
    monkeypatch.setattr(wiring, "_deps", None)
    built = wiring.build(parse_config(document))
    url = built.results.as_tenant("alpha").presign_get(BUCKET, "results/alpha/x.csv", 900)
    params = dict(parse_qsl(urlsplit(url).query))
    own = boto3.session.Session().get_credentials().get_frozen_credentials().access_key
    assert params["X-Amz-Credential"].split("/")[0] != own
    assert params.get("X-Amz-Security-Token"), "an assumed role's session token signs the link"
    beta = dict(parse_qsl(urlsplit(built.results.as_tenant("beta").presign_get(BUCKET, "k", 60)).query))
    assert beta["X-Amz-Credential"].split("/")[0] == own  # beta has no role in this stage: its own
