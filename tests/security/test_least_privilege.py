"""Least privilege: every IAM policy document Terraform renders for a stage, parsed and checked.

`tf_policies/` instantiates the platform module with every optional permission on (a stage key, data
locations, Glue databases, a notification topic) and `terraform test` applies it against a mocked
provider, so every ARN has a value and every policy is a known JSON document; `-json -verbose` prints
the resulting state, which this module reads. (A plain `terraform plan` leaves the role policies
unknown: they are built from the ARNs of resources the same plan creates.)

Checks, on every Allow statement of every identity policy:
- no wildcard action on a data service (and no `*` action, `NotAction` or `NotResource` at all);
- no `Resource = "*"` except for the few actions AWS only authorizes on `*` (listed with the reason);
- Athena actions only on the stage's workgroups;
- S3 only on the results bucket and the configured data locations (and the configuration object);
- Glue only on the configured databases, KMS only on the stage key;
- managed policies only from a short, explained allow-list.
Resource policies: an Allow to `Principal: "*"` needs a condition.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TF_ROOT = Path(__file__).resolve().parent / "tf_policies"
TF_RC = ROOT / ".build" / "terraformrc"
ACCOUNT = "123456789012"
REGION = "us-east-1"

DATA_SERVICES = {"s3", "dynamodb", "athena", "glue", "sqs", "sns", "kms", "lakeformation", "secretsmanager"}
# Actions AWS authorizes only on Resource "*" (no resource-level permissions), with the reason each is needed.
STAR_ONLY = {
    "xray:PutTraceSegments": "X-Ray tracing of the Lambdas (Powertools Tracer)",
    "xray:PutTelemetryRecords": "X-Ray tracing of the Lambdas",
    "xray:GetSamplingRules": "X-Ray sampling",
    "xray:GetSamplingTargets": "X-Ray sampling",
    "xray:GetSamplingStatisticSummaries": "X-Ray sampling",
    "cloudwatch:GetMetricData": "the dispatcher's tick reads Athena's usage metric (AWS/Usage ResourceCount)",
}
MANAGED_POLICIES = {
    # its statements are exactly the xray actions of STAR_ONLY
    "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess": "X-Ray daemon writes",
}
DATA_LOCATIONS = [
    "arn:aws:s3:::fs-datalake/analytics/",
    "arn:aws:s3:::fs-shared/reference",
    "arn:aws:s3:::fs-finance/",
]
GLUE_DATABASES = {"default", "web", "ledger"}
# What each tenant of tf_policies owns: its databases, data locations and workgroup name.
TENANT_DATA = {
    "analytics": (
        {"default", "web"},
        ["arn:aws:s3:::fs-datalake/analytics/", "arn:aws:s3:::fs-shared/reference"],
        "fairshare-lp-analytics",
    ),
    "finance": ({"ledger"}, ["arn:aws:s3:::fs-finance/"], "fairshare-lp-finance"),
}
# The Athena endpoint's catalog calls name the data catalog, not a workgroup; only those actions may.
DATA_CATALOG = {f"arn:aws:athena:{REGION}:{ACCOUNT}:datacatalog/AwsDataCatalog"}
CATALOG_ACTIONS = {
    "athena:getdatabase",
    "athena:gettablemetadata",
    "athena:listdatabases",
    "athena:listtablemetadata",
}
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"


@dataclass(frozen=True)
class Document:
    address: str
    kind: str  # "identity" | "resource"
    policy: dict[str, Any]


def _walk(module: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from module.get("resources", [])
    for child in module.get("child_modules", []):
        yield from _walk(child)


def _terraform_state(workdir: Path) -> dict[str, Any]:
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not installed")
    if not TF_RC.exists():
        pytest.skip("no Terraform provider mirror configured: run `make tf-rc` (writes .build/terraformrc)")
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(TF_RC),
        "TF_DATA_DIR": str(workdir / "data"),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }
    cache = ROOT / ".build" / "tf-plugin-cache"
    if cache.is_dir():
        env["TF_PLUGIN_CACHE_DIR"] = str(cache)
    tf = ["terraform", f"-chdir={TF_ROOT}"]
    init = subprocess.run(
        [*tf, "init", "-backend=false", "-input=false", "-no-color", "-lockfile=readonly"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    test = subprocess.run(
        [*tf, "test", "-json", "-verbose", "-no-color"], env=env, capture_output=True, text=True, timeout=600
    )
    messages = [json.loads(line) for line in test.stdout.splitlines() if line.startswith("{")]
    errors = [m["@message"] for m in messages if m.get("@level") == "error"]
    assert test.returncode == 0 and not errors, "\n".join(errors) or test.stderr
    states = [m["test_state"] for m in messages if m.get("type") == "test_state"]
    assert states, "terraform test -verbose printed no state"
    return states[-1]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def resources(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    state = _terraform_state(tmp_path_factory.mktemp("tf"))
    return list(_walk(state["root_module"]))


@pytest.fixture(scope="module")
def documents(resources: list[dict[str, Any]]) -> list[Document]:
    found: list[Document] = []
    identity = {"aws_iam_role_policy", "aws_iam_policy", "aws_iam_user_policy", "aws_iam_group_policy"}
    resource_policies = {
        "aws_s3_bucket_policy",
        "aws_sqs_queue_policy",
        "aws_sns_topic_policy",
        "aws_kms_key",
        "aws_lambda_permission",
        "aws_cloudwatch_event_bus_policy",
    }
    for r in resources:
        values = r["values"]
        text = values.get("policy")
        if isinstance(text, str) and text.startswith("{"):
            if r["type"] in identity:
                found.append(Document(r["address"], "identity", json.loads(text)))
            elif r["type"] in resource_policies:
                found.append(Document(r["address"], "resource", json.loads(text)))
        for inline in values.get("inline_policy") or []:
            if inline.get("policy", "").startswith("{"):
                found.append(Document(r["address"], "identity", json.loads(inline["policy"])))
    return found


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    statements = policy.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def _list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _allows(documents: list[Document]) -> Iterator[tuple[str, dict[str, Any]]]:
    for document in documents:
        if document.kind != "identity":
            continue
        for statement in _statements(document.policy):
            if statement.get("Effect") == "Allow":
                yield f"{document.address} {statement.get('Sid', '')}", statement


def _workgroup_arns(resources: list[dict[str, Any]]) -> set[str]:
    arns: set[str] = set()
    for r in resources:
        if r["type"] == "aws_athena_workgroup":
            arns.add(r["values"]["arn"])
            arns.add(f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/{r['values']['name']}")
    return arns


def _results_bucket_arns(resources: list[dict[str, Any]]) -> set[str]:
    return {
        arn
        for r in resources
        if r["type"] == "aws_s3_bucket"
        for arn in (r["values"]["arn"], f"arn:aws:s3:::{r['values']['bucket']}")
    }


def test_the_stage_renders_the_function_policies(documents: list[Document]) -> None:
    roles = {d.address for d in documents if d.kind == "identity"}
    assert len(roles) >= 4, roles  # api, dispatcher, completion, redrive
    assert all(_statements(d.policy) for d in documents)


def test_no_wildcard_actions(documents: list[Document]) -> None:
    problems = []
    for where, statement in _allows(documents):
        if "NotAction" in statement or "NotResource" in statement:
            problems.append(f"{where}: NotAction/NotResource")
        for action in _list(statement.get("Action")):
            service = action.split(":", 1)[0].lower()
            if action == "*" or ("*" in action and service in DATA_SERVICES):
                problems.append(f"{where}: {action}")
    assert problems == []


def test_resource_star_only_where_aws_allows_nothing_else(documents: list[Document]) -> None:
    problems = []
    for where, statement in _allows(documents):
        if "*" in _list(statement.get("Resource")):
            unexplained = [a for a in _list(statement.get("Action")) if a not in STAR_ONLY]
            if unexplained:
                problems.append(f"{where}: {unexplained} on *")
    assert problems == []


def test_managed_policies_are_only_the_explained_ones(resources: list[dict[str, Any]]) -> None:
    attached = {
        r["values"]["policy_arn"]
        for r in resources
        if r["type"] in ("aws_iam_role_policy_attachment", "aws_iam_policy_attachment")
    }
    attached |= {
        arn
        for r in resources
        if r["type"] == "aws_iam_role"
        for arn in r["values"].get("managed_policy_arns") or []
    }
    assert attached <= set(MANAGED_POLICIES), attached - set(MANAGED_POLICIES)


def test_athena_only_on_the_stage_workgroups(
    documents: list[Document], resources: list[dict[str, Any]]
) -> None:
    workgroups = _workgroup_arns(resources)
    assert workgroups
    problems = []
    for where, statement in _allows(documents):
        actions = {a.lower() for a in _list(statement.get("Action"))}
        if any(a.startswith("athena:") for a in actions):
            allowed = workgroups | (DATA_CATALOG if actions <= CATALOG_ACTIONS else set())
            outside = set(_list(statement.get("Resource"))) - allowed
            if outside:
                problems.append(f"{where}: {sorted(outside)}")
    assert problems == []


def _s3_allowed(arn: str, results: set[str]) -> bool:
    """Objects and the bucket of the results (the configuration object lives there too), or a data
    location: its objects, or its bucket for the bucket-level actions (ListBucket, GetBucketLocation)."""
    if arn in results or any(arn.startswith(f"{bucket}/") for bucket in results):
        return True
    for location in DATA_LOCATIONS:
        bucket = "arn:aws:s3:::" + location.removeprefix("arn:aws:s3:::").split("/", 1)[0]
        if arn == bucket or arn.startswith(location.rstrip("/") + "/"):
            return True
    return False


def test_s3_only_on_the_results_bucket_and_the_data_locations(
    documents: list[Document], resources: list[dict[str, Any]]
) -> None:
    results = _results_bucket_arns(resources)
    assert results
    problems = []
    for where, statement in _allows(documents):
        if any(a.lower().startswith("s3:") for a in _list(statement.get("Action"))):
            for arn in _list(statement.get("Resource")):
                if not _s3_allowed(arn, results):
                    problems.append(f"{where}: {arn}")
    assert problems == []


def test_glue_only_on_the_configured_databases_and_kms_only_on_the_stage_key(
    documents: list[Document],
) -> None:
    glue_prefix = f"arn:aws:glue:{REGION}:{ACCOUNT}:"
    allowed_glue = {f"{glue_prefix}catalog"}
    for db in GLUE_DATABASES:
        allowed_glue |= {f"{glue_prefix}database/{db}", f"{glue_prefix}table/{db}/*"}
    problems = []
    for where, statement in _allows(documents):
        actions = [a.lower() for a in _list(statement.get("Action"))]
        targets = set(_list(statement.get("Resource")))
        if any(a.startswith("glue:") for a in actions) and not targets <= allowed_glue:
            problems.append(f"{where}: {sorted(targets - allowed_glue)}")
        if any(a.startswith("kms:") for a in actions) and targets != {KMS_KEY}:
            problems.append(f"{where}: {sorted(targets)}")
    assert problems == []


_INSTANCE = re.compile(r'\["([^"]+)"\]$')


def _role_policies(documents: list[Document], module: str) -> dict[str, Document]:
    """The inline policies of one module's roles, by for_each key (function or tenant)."""
    found = {}
    for d in documents:
        if d.kind == "identity" and f"module.{module}.aws_iam_role_policy." in d.address:
            match = _INSTANCE.search(d.address)
            assert match, d.address
            found[match.group(1)] = d
    return found


def _tenant_role_arns(resources: list[dict[str, Any]]) -> dict[str, str]:
    return {
        r["index"]: r["values"]["arn"]
        for r in resources
        if r["type"] == "aws_iam_role" and ".tenant_roles." in r["address"]
    }


def test_the_functions_hold_no_data_access_and_act_only_as_the_tenants(
    documents: list[Document], resources: list[dict[str, Any]]
) -> None:
    functions = _role_policies(documents, "functions")
    assert set(functions) == {"api", "dispatcher", "completion", "redrive"}
    tenant_roles = set(_tenant_role_arns(resources).values())
    assert len(tenant_roles) == len(TENANT_DATA)
    problems = []
    for fn, document in functions.items():
        assumes: set[str] = set()
        for statement in _statements(document.policy):
            actions = [a.lower() for a in _list(statement.get("Action"))]
            targets = _list(statement.get("Resource"))
            if any(a.startswith(("athena:", "glue:", "lakeformation:")) for a in actions):
                problems.append(f"{fn} {statement.get('Sid')}: {actions}")
            if any(a.startswith("s3:") for a in actions) and (
                actions != ["s3:getobject"] or not all(t.endswith("/config/fairshare.json") for t in targets)
            ):
                problems.append(f"{fn} {statement.get('Sid')}: S3 beyond the configuration object")
            if "sts:assumerole" in actions:
                assumes |= set(targets)
        expected = set() if fn == "redrive" else tenant_roles
        if assumes != expected:
            problems.append(f"{fn}: assumes {sorted(assumes)}, expected {sorted(expected)}")
    assert problems == []


def test_each_tenant_role_reaches_only_its_own_data(documents: list[Document]) -> None:
    roles = _role_policies(documents, "tenant_roles")
    assert set(roles) == set(TENANT_DATA)
    glue = f"arn:aws:glue:{REGION}:{ACCOUNT}:"
    problems = []
    for tenant, document in roles.items():
        databases, locations, workgroup = TENANT_DATA[tenant]
        own_glue = {f"{glue}catalog"} | {
            arn for db in databases for arn in (f"{glue}database/{db}", f"{glue}table/{db}/*")
        }
        own_results = f"arn:aws:s3:::fairshare-lp-results/results/{tenant}/"
        seen = set()
        for statement in _statements(document.policy):
            actions = [a.lower() for a in _list(statement.get("Action"))]
            for arn in _list(statement.get("Resource")):
                service = actions[0].split(":", 1)[0]
                seen.add(service)
                if service == "athena":
                    ok = arn == f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/{workgroup}" or (
                        arn in DATA_CATALOG and set(actions) <= CATALOG_ACTIONS
                    )
                elif service == "glue":
                    ok = arn in own_glue
                elif service == "s3":
                    buckets = {
                        "arn:aws:s3:::" + loc.removeprefix("arn:aws:s3:::").split("/", 1)[0]
                        for loc in locations
                    }
                    ok = (
                        arn.startswith(own_results)
                        or arn == "arn:aws:s3:::fairshare-lp-results"
                        or arn in buckets
                        or any(arn.startswith(loc.rstrip("/") + "/") for loc in locations)
                    )
                elif service == "kms":
                    ok = arn == KMS_KEY
                else:
                    ok = False
                if not ok:
                    problems.append(f"{tenant} {statement.get('Sid')}: {actions} on {arn}")
        assert {"athena", "glue", "s3"} <= seen, (tenant, seen)
    assert problems == []


def test_a_tenant_role_trusts_only_the_functions_that_act_as_tenants(resources: list[dict[str, Any]]) -> None:
    functions = {
        r["index"]: r["values"]["arn"]
        for r in resources
        if r["type"] == "aws_iam_role" and ".functions." in r["address"]
    }
    expected = {functions["api"], functions["dispatcher"], functions["completion"]}
    for r in resources:
        if r["type"] == "aws_iam_role" and ".tenant_roles." in r["address"]:
            (statement,) = _statements(json.loads(r["values"]["assume_role_policy"]))
            assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRole"
            assert set(statement["Principal"]) == {"AWS"}
            assert set(_list(statement["Principal"]["AWS"])) == expected, r["address"]


def test_resource_policies_open_to_everyone_carry_a_condition(documents: list[Document]) -> None:
    problems = []
    for document in documents:
        if document.kind != "resource":
            continue
        for statement in _statements(document.policy):
            principal = statement.get("Principal")
            everyone = principal == "*" or (
                isinstance(principal, dict) and "*" in _list(principal.get("AWS"))
            )
            if statement.get("Effect") == "Allow" and everyone and not statement.get("Condition"):
                problems.append(f"{document.address} {statement.get('Sid', '')}")
    assert problems == []


def test_the_checks_catch_what_they_look_for() -> None:
    """The checks are not vacuous: a bad document fails each of them."""
    bad = Document(
        "bad",
        "identity",
        {
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::other-bucket/*"]},
                {"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": "*"},
                {
                    "Effect": "Allow",
                    "Action": ["athena:StartQueryExecution"],
                    "Resource": ["arn:aws:athena:us-east-1:123456789012:workgroup/primary"],
                },
            ]
        },
    )
    with pytest.raises(AssertionError):
        test_no_wildcard_actions([bad])
    with pytest.raises(AssertionError):
        test_resource_star_only_where_aws_allows_nothing_else([bad])
    fake = [
        {
            "type": "aws_athena_workgroup",
            "values": {"arn": "arn:aws:athena:us-east-1:123456789012:workgroup/fs", "name": "fs"},
        },
        {"type": "aws_s3_bucket", "values": {"arn": "arn:aws:s3:::results", "bucket": "results"}},
    ]
    with pytest.raises(AssertionError):
        test_athena_only_on_the_stage_workgroups([bad], fake)
    with pytest.raises(AssertionError):
        test_s3_only_on_the_results_bucket_and_the_data_locations([bad], fake)
    # finance's role naming analytics' database and results prefix
    leaky = [
        Document(
            f'module.platform.module.tenant_roles.aws_iam_role_policy.tenant["{tenant}"]',
            "identity",
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["glue:GetTable"],
                        "Resource": [f"arn:aws:glue:{REGION}:{ACCOUNT}:table/{db}/*"],
                    },
                    {
                        "Effect": "Allow",
                        "Action": ["athena:StartQueryExecution"],
                        "Resource": [f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/fairshare-lp-{tenant}"],
                    },
                    {
                        "Effect": "Allow",
                        "Action": ["s3:GetObject"],
                        "Resource": ["arn:aws:s3:::fairshare-lp-results/results/analytics/*"],
                    },
                ]
            },
        )
        for tenant, db in (("analytics", "web"), ("finance", "web"))
    ]
    with pytest.raises(AssertionError):
        test_each_tenant_role_reaches_only_its_own_data(leaky)
