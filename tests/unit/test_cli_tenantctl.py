"""tenantctl end to end against the in-memory tenant API on loopback: parsing, output, exit codes."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fairshare_tools.cli.tenantctl import cli
from fairshare_tools.tooling.fakeapi import FakeTenantApi, serve


@pytest.fixture
def api() -> FakeTenantApi:
    return FakeTenantApi(api_keys={"key-a": "alpha", "key-b": "beta"}, default_duration_s=0.02)


@pytest.fixture
def endpoint(api: FakeTenantApi) -> Iterator[str]:
    with serve(api) as url:
        yield url


@pytest.fixture
def env(endpoint: str, tmp_path: Path) -> dict[str, str]:
    return {
        "TENANTCTL_ENDPOINT": endpoint,
        "TENANTCTL_API_KEY": "key-a",
        "TENANTCTL_CONFIG": str(tmp_path / "absent.toml"),
        "TENANTCTL_PROFILE": "",
        "TENANTCTL_POLL_INTERVAL": "0.02",
    }


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, input=stdin, catch_exceptions=False)


def test_submit_prints_the_query_id_on_stdout_and_a_summary_on_stderr(
    env: dict[str, str], api: FakeTenantApi
) -> None:
    result = run(env, "submit", "SELECT 1", "--database", "sales", "--priority", "2")
    assert result.exit_code == 0, result.stderr
    query_id = result.stdout.strip()
    assert query_id in api.queries
    assert f"submitted {query_id}: " in result.stderr
    assert (api.queries[query_id].database, api.queries[query_id].priority) == ("sales", 2)


def test_submit_records_the_user_given_by_flag_or_environment(
    env: dict[str, str], api: FakeTenantApi
) -> None:
    flagged = run(env, "--user", "ann@example.com", "submit", "SELECT 1").stdout.strip()
    assert api.queries[flagged].submitted_by == "ann@example.com"
    from_env = run({**env, "TENANTCTL_USER": "bob"}, "submit", "SELECT 1").stdout.strip()
    assert api.queries[from_env].submitted_by == "bob"
    status = run(env, "status", flagged)
    assert status.exit_code == 0 and "ann@example.com" in status.stdout


def test_submit_wait_shows_state_changes_and_the_rows(env: dict[str, str]) -> None:
    result = run(env, "submit", "SELECT n FROM t /* fairshare:duration=0.05 */", "--wait", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert "SUCCEEDED" in result.stderr and "scanned 3.1 MB" in result.stderr
    assert list(csv.reader(io.StringIO(result.stdout))) == [
        ["n", "label", "db"],
        ["1", "row-1", "default"],
        ["2", "row-2", "default"],
        ["3", "row-3", "default"],
    ]


def test_submit_wait_output_writes_the_downloaded_csv(env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "results.csv"
    result = run(env, "submit", "SELECT 1", "--wait", "--output", str(target))
    assert result.exit_code == 0, result.stderr
    assert target.read_text().splitlines()[0] == '"n","label","db"'
    assert f"to {target}" in result.stderr


def test_sql_can_come_from_stdin_or_a_file(env: dict[str, str], api: FakeTenantApi, tmp_path: Path) -> None:
    script = tmp_path / "q.sql"
    script.write_text("SELECT 'from file'")
    from_file = run(env, "submit", f"@{script}").stdout.strip()
    from_stdin = run(env, "submit", "-", stdin="SELECT 'from stdin'").stdout.strip()
    assert api.queries[from_file].sql == "SELECT 'from file'"
    assert api.queries[from_stdin].sql == "SELECT 'from stdin'"


def test_a_failed_query_exits_3_with_its_error_on_one_line(env: dict[str, str]) -> None:
    result = run(env, "submit", "SELECT 1 /* fairshare:duration=0.01 fail=TABLE_NOT_FOUND */", "--wait")
    assert result.exit_code == 3
    assert result.stderr.strip().splitlines()[-1] == "error: query_failed: TABLE_NOT_FOUND"


def test_wait_timeout_exits_4(env: dict[str, str]) -> None:
    query_id = run(env, "submit", "SELECT 1 /* fairshare:duration=30 */").stdout.strip()
    result = run(env, "wait", query_id, "--wait-timeout", "0.1")
    assert result.exit_code == 4
    assert result.stderr.strip().endswith(f"error: wait_timeout: query {query_id} still RUNNING after 0.1s")


def test_api_errors_are_one_line_with_the_code_and_exit_1(env: dict[str, str]) -> None:
    result = run(env, "status", "nope")
    assert result.exit_code == 1
    assert result.stderr == "error: not_found: no query nope\n"
    assert result.stdout == ""


def test_a_wrong_key_is_forbidden(env: dict[str, str]) -> None:
    result = run({**env, "TENANTCTL_API_KEY": "bad"}, "usage")
    assert (result.exit_code, result.stderr) == (1, "error: forbidden: Forbidden\n")


def test_usage_errors_exit_2(env: dict[str, str]) -> None:
    assert run(env, "submit", "SELECT 1", "--priority", "12").exit_code == 2
    assert run(env, "results", "x", "--format", "xml").exit_code == 2
    assert run(env, "submit", "SELECT 1", "--output", "x.csv").exit_code == 2
    assert run(env, "submit", "SELECT 1", "--client-token", "short").exit_code == 2
    assert run(env, "submit", "SELECT 1", "--client-token", "x" * 31 + "!").exit_code == 2


def test_without_an_endpoint_the_error_says_where_to_put_one(tmp_path: Path) -> None:
    result = run({"TENANTCTL_CONFIG": str(tmp_path / "none.toml")}, "usage")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: config_error: no API endpoint: pass --endpoint, set $TENANTCTL_ENDPOINT"
    )


def test_the_profile_file_supplies_endpoint_and_key_and_flags_override_it(
    endpoint: str, tmp_path: Path
) -> None:
    profile = tmp_path / "config.toml"
    profile.write_text(
        f'[default]\nendpoint = "{endpoint}"\napi_key = "key-a"\n\n'
        f'[other]\nendpoint = "{endpoint}"\napi_key = "key-b"\n'
    )
    env = {"TENANTCTL_CONFIG": str(profile)}
    assert json.loads(run(env, "usage", "--json").stdout)["tenant"] == "alpha"
    assert json.loads(run(env, "--profile", "other", "usage", "--json").stdout)["tenant"] == "beta"
    assert json.loads(run(env, "--api-key", "key-b", "usage", "--json").stdout)["tenant"] == "beta"
    missing = run(env, "--profile", "nope", "usage")
    assert (missing.exit_code, "profile [nope] not found" in missing.stderr) == (1, True)


def test_status_shows_the_fields_and_json_round_trips(env: dict[str, str]) -> None:
    query_id = run(env, "submit", "SELECT 1", "--wait").stderr.split()[1].rstrip(":")
    table = run(env, "status", query_id)
    assert table.exit_code == 0
    assert "SUCCEEDED" in table.stdout and "bytes_scanned" in table.stdout and "3.1 MB" in table.stdout
    as_json = json.loads(run(env, "status", query_id, "--json").stdout)
    assert (as_json["query_id"], as_json["status"], as_json["bytes_scanned"]) == (
        query_id,
        "SUCCEEDED",
        3145728,
    )


def test_status_of_a_queued_query_says_what_it_waits_for(env: dict[str, str], api: FakeTenantApi) -> None:
    api.queue_s, api.blocking_reason = 30.0, "tenant_cap"
    query_id = run(env, "submit", "SELECT 1").stdout.strip()
    table = run(env, "status", query_id)
    assert "QUEUED" in table.stdout and "waiting_for" in table.stdout and "tenant_cap" in table.stdout
    assert json.loads(run(env, "status", query_id, "--json").stdout)["blocking_reason"] == "tenant_cap"
    api.queries[query_id].queue_s = 0.0  # what it waited for is over
    done = run(env, "wait", query_id)
    assert done.exit_code == 0
    assert json.loads(run(env, "status", query_id, "--json").stdout)["blocking_reason"] is None


def test_results_formats(env: dict[str, str], api: FakeTenantApi) -> None:
    query_id = run(env, "submit", "SELECT 1", "--wait").stderr.split()[1].rstrip(":")
    api.queries[query_id].rows = 5
    lines = run(env, "results", query_id, "--format", "json", "--source", "pages").stdout.splitlines()
    assert [json.loads(line) for line in lines][4] == {"n": "5", "label": "row-5", "db": "default"}
    table = run(env, "results", query_id, "--max-rows", "2")
    assert "row-2" in table.stdout and "row-3" not in table.stdout
    assert "3 more rows not shown" in table.stderr


def test_cancel_and_list(env: dict[str, str]) -> None:
    slow = run(env, "submit", "SELECT 1 /* fairshare:duration=30 */").stdout.strip()
    done = run(env, "submit", "SELECT 2").stdout.strip()
    assert run(env, "cancel", slow).stdout == f"{slow} CANCELLED\n"
    again = run(env, "cancel", slow)
    assert (again.exit_code, again.stderr.startswith("error: conflict: ")) == (1, True)
    listed = json.loads(run(env, "list", "--json").stdout)
    assert {q["query_id"] for q in listed} == {slow, done}
    cancelled = json.loads(run(env, "list", "--status", "cancelled", "--json").stdout)
    assert [q["query_id"] for q in cancelled] == [slow]
    assert slow in run(env, "list").stdout


def test_usage_table(env: dict[str, str]) -> None:
    result = run(env, "usage")
    assert result.exit_code == 0
    assert "alpha" in result.stdout and "DDL 18, DML 190" in result.stdout


def test_submit_many_runs_a_file_with_one_progress_bar(env: dict[str, str], tmp_path: Path) -> None:
    queries = tmp_path / "many.sql"
    queries.write_text(
        "SELECT 1;\nSELECT 2 /* fairshare:duration=0.05 */;\n"
        '{"sql": "SELECT 3 /* fairshare:fail=x */", "priority": 1}\n'
    )
    result = run(env, "submit-many", str(queries), "--concurrency", "2", "--json")
    outcomes = json.loads(result.stdout)
    assert [o["status"] for o in outcomes] == ["SUCCEEDED", "SUCCEEDED", "FAILED"]
    assert "3/3" in result.stderr
    assert "2 ok, 1 failed or cancelled, 0 errors" in result.stderr
    assert result.exit_code == 3


def test_submit_many_names_the_bad_line(env: dict[str, str], tmp_path: Path) -> None:
    queries = tmp_path / "bad.jsonl"
    queries.write_text('{"sql": "SELECT 1"}\n{"sql": ""}\n')
    result = run(env, "submit-many", str(queries))
    assert result.exit_code == 2
    assert "line 2" in result.stderr


def test_the_console_script_is_declared_and_importable() -> None:
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "tenantctl"]
    assert script.value == "fairshare_tools.cli.tenantctl:main"
    assert script.load().__module__ == "fairshare_tools.cli.tenantctl"
