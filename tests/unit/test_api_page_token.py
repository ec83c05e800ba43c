"""List page tokens are opaque, validated, and bound to the tenant that received them (I-4)."""

from __future__ import annotations

import base64
import json

import pytest
from fairshare.domain.errors import ValidationFailed
from fairshare.services.queries import decode_page_token, encode_page_token
from fairshare.services.submission import CLIENT_TOKEN, query_id_for

KEY = {
    "query_id": "4c8f2d6e-0a3b-4e3e-9b61-9c4f7c8e1a20",
    "tenant": "alpha",
    "submitted_at": 1_800_000_000_000,
}


def test_a_token_round_trips_for_its_tenant() -> None:
    assert decode_page_token("alpha", encode_page_token("alpha", KEY)) == KEY


def test_a_token_of_another_tenant_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        decode_page_token("beta", encode_page_token("alpha", KEY))


def test_a_token_rebound_to_another_tenant_still_carries_the_first_tenants_key() -> None:
    forged = base64.urlsafe_b64encode(json.dumps({"t": "beta", "k": KEY}).encode()).decode()
    with pytest.raises(ValidationFailed):
        decode_page_token("beta", forged)


@pytest.mark.parametrize(
    "token",
    [
        "not base64 !",
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(json.dumps({"t": "alpha", "k": {**KEY, "extra": 1}}).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps({"t": "alpha", "k": {**KEY, "query_id": "x"}}).encode()).decode(),
        base64.urlsafe_b64encode(
            json.dumps({"t": "alpha", "k": {**KEY, "submitted_at": "1"}}).encode()
        ).decode(),
        "A" * 2000,
    ],
    ids=["garbage", "list", "extra-key", "bad-uuid", "string-time", "too-long"],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(ValidationFailed):
        decode_page_token("alpha", token)


def test_the_query_id_derives_from_tenant_and_client_token() -> None:
    token = "a" * 32
    assert query_id_for("alpha", token) == query_id_for("alpha", token)
    assert query_id_for("alpha", token) != query_id_for("beta", token)
    assert (
        CLIENT_TOKEN.match(token) and not CLIENT_TOKEN.match("a" * 31) and not CLIENT_TOKEN.match("a" * 129)
    )
