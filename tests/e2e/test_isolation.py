"""Tenant data isolation on the local platform (I-4): each tenant's queries run as its own execution
role, which the Athena emulator enforces against the roles Terraform created in LocalStack's IAM.

analytics owns `analytics.*`, finance owns `finance.*`, and both share `default` (terraform/stages/local).
"""

from __future__ import annotations

import pytest
from fairshare.services.tables import MAX_PARSED_BYTES
from fairshare_tools.client import ApiError, Client
from fairshare_tools.tooling.localplatform import TEAM_TABLES


def test_a_table_of_another_tenant_named_fully_is_refused_at_submit(clients: dict[str, Client]) -> None:
    analytics = clients["analytics"]
    with pytest.raises(ApiError) as refused:
        analytics.submit("SELECT sum(amount) AS total FROM finance.ledger", database="analytics")
    assert refused.value.status == 403 and refused.value.code == "forbidden"
    assert "awsdatacatalog.finance.ledger" in refused.value.message


def test_a_reference_the_parser_does_not_see_fails_in_athena_with_access_denied(
    clients: dict[str, Client],
) -> None:
    # Longer than the submit check parses: only the tenant's role stands between it and the table.
    padding = "-- " + "x" * (MAX_PARSED_BYTES + 1024)
    sql = f"SELECT sum(amount) AS total FROM finance.ledger\n{padding}"
    final = clients["analytics"].run(sql, database="analytics", timeout_s=120)
    assert final.status == "FAILED", final
    message = final.error.message if final.error else ""
    assert "AccessDeniedException" in message and "glue:GetTable" in message, final
    assert ":assumed-role/fairshare-local-tenant-analytics/" in message, message
    assert "table/finance/ledger" in message, message


def test_each_tenant_reads_its_own_tables_and_the_shared_ones(clients: dict[str, Client]) -> None:
    own = {"analytics": "analytics.sessions", "finance": "finance.ledger"}
    for tenant, table in own.items():
        final = clients[tenant].run(f"SELECT count(*) AS n FROM {table}", database="default", timeout_s=120)
        assert final.status == "SUCCEEDED", (tenant, final)
        rows = clients[tenant].results_page(final.query_id).rows
        assert rows == [[str(TEAM_TABLES[table].count("\n") - 1)]], (tenant, rows)
    shared = clients["marketing"].run("SELECT count(*) AS n FROM trips", database="default", timeout_s=120)
    assert shared.status == "SUCCEEDED", shared
