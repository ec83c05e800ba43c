"""The caller's identity policies decide, as in Athena: the workgroup at start, each table's Glue entry
when the query reads it (moto's IAM policy engine: Allow, explicit Deny, action and ARN globs)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fairshare_athena_emulator.engine import AthenaEngine
from fairshare_athena_emulator.errors import AthenaApiError
from fairshare_athena_emulator.iam import Caller, evaluate, permitted

from .helpers import OUTPUT, FakeClock, MemoryStore, finish, status

ACCOUNT, REGION = "111122223333", "us-east-1"
GLUE = f"arn:aws:glue:{REGION}:{ACCOUNT}"
WORKGROUP = f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/primary"
ROLE = f"arn:aws:sts::{ACCOUNT}:assumed-role/fs-local-tenant-alpha/dispatcher-alpha"


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ALPHA = _policy(
    {"Effect": "Allow", "Action": ["athena:StartQueryExecution"], "Resource": [WORKGROUP]},
    {
        "Effect": "Allow",
        "Action": ["glue:GetTable", "glue:GetDatabase"],
        "Resource": [f"{GLUE}:catalog", f"{GLUE}:database/sales", f"{GLUE}:table/sales/*"],
    },
)


@pytest.fixture
def tables(engine: AthenaEngine, store: MemoryStore) -> None:
    store.put("s3://data/sales/orders/part-0.csv", "id,amount\n1,10\n2,20\n")
    store.put("s3://data/web/events/part-0.csv", "id,kind\n1,click\n")
    engine.settings.update(
        {
            "catalog": {
                "sales.orders": {"format": "csv", "location": "s3://data/sales/orders/"},
                "web.events": {"format": "csv", "location": "s3://data/web/events/"},
            }
        }
    )


def _start(engine: AthenaEngine, sql: str, caller: Caller | None) -> str:
    request = {
        "QueryString": sql,
        "ResultConfiguration": OUTPUT,
        "QueryExecutionContext": {"Database": "sales"},
    }
    return str(engine.start_query_execution(request, caller)["QueryExecutionId"])


def test_a_caller_reads_the_tables_its_role_allows(
    engine: AthenaEngine, clock: FakeClock, tables: None
) -> None:
    execution_id = _start(engine, "SELECT sum(amount) AS total FROM orders", Caller(ROLE, (ALPHA,)))
    finish(engine, clock)
    assert status(engine, execution_id)["Status"]["State"] == "SUCCEEDED"


def test_a_table_outside_the_role_fails_the_query_with_access_denied(
    engine: AthenaEngine, clock: FakeClock, tables: None
) -> None:
    sql = "SELECT o.id FROM orders o JOIN web.events e ON o.id = e.id"
    execution_id = _start(engine, sql, Caller(ROLE, (ALPHA,)))
    finish(engine, clock)
    described = status(engine, execution_id)["Status"]
    assert described["State"] == "FAILED"
    reason = described["StateChangeReason"]
    assert reason.startswith("AccessDeniedException: Insufficient permissions to execute the query.")
    assert (
        f"User: {ROLE} is not authorized to perform: glue:GetTable on resource: {GLUE}:table/web/events"
        in reason
    )
    assert described["AthenaError"]["ErrorCategory"] == 2


def test_the_account_own_credentials_read_everything(
    engine: AthenaEngine, clock: FakeClock, tables: None
) -> None:
    execution_id = _start(engine, "SELECT * FROM web.events", None)
    finish(engine, clock)
    assert status(engine, execution_id)["Status"]["State"] == "SUCCEEDED"


def test_a_start_in_a_workgroup_outside_the_role_is_refused(engine: AthenaEngine, tables: None) -> None:
    other = _policy({"Effect": "Allow", "Action": "athena:*", "Resource": f"{WORKGROUP}-other"})
    with pytest.raises(AthenaApiError) as refused:
        _start(engine, "SELECT 1", Caller(ROLE, (other,)))
    assert refused.value.code == "AccessDeniedException"
    assert "athena:StartQueryExecution" in refused.value.message and WORKGROUP in refused.value.message
    assert engine.active_counts() == {"DML": 0, "DDL": 0}


def test_an_explicit_deny_wins_over_any_allow() -> None:
    allow_all = _policy({"Effect": "Allow", "Action": "glue:*", "Resource": "*"})
    deny_web = _policy({"Effect": "Deny", "Action": "glue:Get*", "Resource": f"{GLUE}:table/web/*"})
    assert evaluate([allow_all], "glue:GetTable", f"{GLUE}:table/web/events")
    assert not evaluate([allow_all, deny_web], "glue:GetTable", f"{GLUE}:table/web/events")
    assert evaluate([allow_all, deny_web], "glue:GetTable", f"{GLUE}:table/sales/orders")


def test_nothing_is_allowed_that_no_statement_allows() -> None:
    assert not permitted(Caller(ROLE, ()), "glue:GetTable", f"{GLUE}:table/sales/orders")
    assert not evaluate([ALPHA], "glue:GetTable", f"{GLUE}:table/salesx/orders")
    assert evaluate([ALPHA], "glue:GetTable", f"{GLUE}:table/sales/orders")
    assert permitted(None, "glue:GetTable", f"{GLUE}:table/anything/at_all")
