"""A stage configuration for the services' unit tests (no AWS resource behind any of its names)."""

from __future__ import annotations

from typing import Any

from fairshare.config import Config, parse_config


def stage_config() -> Config:
    tenant = {"max_aging_boost": 1, "databases": ["default", "sales"]}
    document: dict[str, Any] = {
        "stage": "unit",
        "region": "us-east-1",
        "queries_table": "queries",
        "state_table": "state",
        "submissions_queue_url": "https://sqs.invalid/submissions",
        "submissions_dlq_url": "https://sqs.invalid/submissions-dlq",
        "events_queue_url": "https://sqs.invalid/athena-events",
        "events_dlq_url": "https://sqs.invalid/athena-events-dlq",
        "submissions_quarantine_url": "https://sqs.invalid/submissions-quarantine",
        "events_quarantine_url": "https://sqs.invalid/athena-events-quarantine",
        "results_bucket": "fairshare-results",
        "results_prefix": "results/",
        "pools": {"DML": {"quota": 12, "headroom": 2}, "DDL": {"quota": 4, "headroom": 1}},
        "tenants": {
            "alpha": {**tenant, "weight": 2, "max_concurrency": 4, "max_queued": 6, "workgroup": "wg-alpha"},
            "beta": {**tenant, "weight": 1, "max_concurrency": 3, "workgroup": "wg-beta"},
            "gamma": {
                **tenant,
                "allow_ddl": True,
                "daily_bytes_budget": 1000,
                "budget_action": "reject",
                "workgroup": "wg-gamma",
            },
        },
    }
    return parse_config(document)
