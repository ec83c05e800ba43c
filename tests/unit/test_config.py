from __future__ import annotations

import json
from typing import Any

import pytest
from fairshare.config import CONFIG_ENV, CONFIG_S3_URI_ENV, ConfigError, load_config, parse_config


def _document(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "stage": "dev",
        "queries_table": "q",
        "state_table": "s",
        "submissions_queue_url": "https://sqs/sub",
        "submissions_dlq_url": "https://sqs/sub-dlq",
        "events_queue_url": "https://sqs/ev",
        "events_dlq_url": "https://sqs/ev-dlq",
        "results_bucket": "bucket",
        "pools": {"DML": {"quota": 20, "headroom": 2}, "DDL": {"quota": 5}},
        "tenants": {
            "analytics": {"weight": 3, "workgroup": "wg-a", "api_key_id": "k1"},
            "finance": {"weight": 1, "workgroup": "wg-f", "api_key_id": "k2", "allow_ddl": True},
        },
    }
    document.update(overrides)
    return document


def test_a_valid_document_builds_policies_and_key_map() -> None:
    config = parse_config(json.dumps(_document()))
    assert config.tenant_for_api_key("k2") == "finance"
    assert config.tenant_for_api_key("nope") is None
    assert config.tenant_for_api_key(None) is None
    assert config.policies["analytics"].weight == 3
    assert config.pools["DML"].limit_policy().ceiling == 18


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"pools": {"DML": {"quota": 20}}}, "missing \\['DDL'\\]"),
        ({"pools": {"DML": {"quota": 5, "headroom": 5}, "DDL": {"quota": 5}}}, "must be >= min_limit"),
        ({"tenants": {}}, "tenants"),
        ({"tenants": {"bad name!": {"workgroup": "w"}}}, "tenant name .bad name!. must match"),
        ({"tenants": {"a": {"workgroup": "w", "weight": 0}}}, "tenants.a.weight"),
        ({"tenants": {"a": {"workgroup": "w", "bytes_scanned_cutoff_per_query": 1024}}}, "10485760"),
        ({"tenants": {"a": {"workgroup": "w", "colour": "red"}}}, "tenants.a.colour: Extra inputs"),
        (
            {
                "tenants": {
                    "a": {"workgroup": "w", "api_key_id": "k"},
                    "b": {"workgroup": "x", "api_key_id": "k"},
                }
            },
            "share one api_key_id",
        ),
        ({"stage": "Prod!"}, "stage"),
    ],
)
def test_invalid_documents_name_the_field(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(_document(**overrides))


def test_missing_environment_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=CONFIG_S3_URI_ENV):
        load_config({})
    with pytest.raises(ConfigError, match="s3://bucket/key"):
        load_config({CONFIG_S3_URI_ENV: "bucket/key"})
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config({CONFIG_ENV: "{nope"})


def test_loads_from_the_s3_object() -> None:
    class _Body:
        def read(self) -> bytes:
            return json.dumps(_document()).encode()

    class _S3:
        def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
            assert (Bucket, Key) == ("cfg-bucket", "config/fairshare.json")
            return {"Body": _Body()}

    config = load_config({CONFIG_S3_URI_ENV: "s3://cfg-bucket/config/fairshare.json"}, s3_client=_S3())
    assert config.stage == "dev"


@pytest.mark.parametrize(
    ("pattern", "ok"),
    [
        ("arn:aws:iam::123456789012:role/analytics-*", True),
        ("arn:aws:sts::123456789012:assumed-role/etl/*", True),
        ("arn:aws:iam::123456789012:user/ann", True),
        ("arn:aws:iam::*:role/analytics-*", False),  # any account
        ("*", False),
        ("arn:aws:s3:::bucket/*", False),
    ],
)
def test_principal_patterns_name_iam_or_sts_principals_of_one_account(pattern: str, ok: bool) -> None:
    from fairshare.config import PRINCIPAL_PATTERN

    assert bool(PRINCIPAL_PATTERN.match(pattern)) is ok
