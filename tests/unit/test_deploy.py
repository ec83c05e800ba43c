"""deploy.py: the Terraform adapter against a fake terraform binary, the guard rails, the exit codes."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fairshare_tools.tooling import deploy_cli
from fairshare_tools.tooling.deploy import (
    EXIT_CHECKOV,
    EXIT_PACKAGING,
    EXIT_REFUSED,
    Deployer,
    DeployError,
    StageLayout,
    format_outputs,
    lambda_sources_digest,
    make_deployer,
    parse_checkov,
    resolve_aws_credentials,
    terraform_env,
)
from fairshare_tools.tooling.terraform import Terraform, TerraformFailed, parse_diagnostics, progress_of

# python-terraform 0.10.1 logs failures with the deprecated Logger.warn.
pytestmark = pytest.mark.filterwarnings("ignore:The 'warn' method is deprecated:DeprecationWarning")

# A stand-in for terraform: logs its argv, then behaves as $FAKE_TF_<COMMAND> says.
FAKE_TERRAFORM = r"""#!{python}
import json, os, sys, time
args = sys.argv[1:]
with open(os.environ["FAKE_TF_LOG"], "a") as log:
    log.write(json.dumps({{"args": args, "tf_cli_config_file": os.environ.get("TF_CLI_CONFIG_FILE")}}) + "\n")
command = args[0]
mode = os.environ.get("FAKE_TF_" + command.upper(), "ok")
if mode == "sleep":
    time.sleep(30)
if mode == "fail":
    print("module.platform.aws_sqs_queue.dlq: Creating...")
    print("")
    print("Error: creating SQS Queue (fs-dev-dlq): operation error SQS: CreateQueue, AccessDenied")
    print("")
    print("  with module.platform.module.queues.aws_sqs_queue.dlq,")
    print('  on ../../modules/queues/main.tf line 12, in resource "aws_sqs_queue" "dlq":')
    print("  12: resource \"aws_sqs_queue\" \"dlq\" {{")
    sys.exit(1)
if command == "plan":
    out = [a.split("=", 1)[1] for a in args if a.startswith("-out=")][0]
    open(out, "w").write("plan")
    print("Plan: 3 to add, 0 to change, 0 to destroy.")
    sys.exit(2 if mode == "ok" else 0)
if command == "apply":
    print("module.platform.aws_sqs_queue.q: Creating...")
    print("module.platform.aws_sqs_queue.q: Still creating... [10s elapsed]")
    print("module.platform.aws_sqs_queue.q: Creation complete after 25s [id=q]")
    print("Apply complete! Resources: 3 added, 0 changed, 0 destroyed.")
if command == "destroy":
    print("Destroy complete! Resources: 3 destroyed.")
if command == "output":
    print(json.dumps({{"api_url": {{"value": "http://x", "type": "string", "sensitive": False}},
                      "keys": {{"value": {{"a": "k"}}, "type": "map", "sensitive": True}}}}))
if command == "init":
    print("Terraform has been successfully initialized!")
"""


@pytest.fixture
def fake_tf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    binary = tmp_path / "bin" / "terraform"
    binary.parent.mkdir()
    binary.write_text(FAKE_TERRAFORM.format(python=sys.executable))
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "tf.log"
    monkeypatch.setenv("FAKE_TF_LOG", str(log))
    return binary


def calls(tmp_path: Path) -> list[list[str]]:
    log = tmp_path / "tf.log"
    return [json.loads(line)["args"] for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for stage in ("dev", "stg", "prod", "local"):
        stage_dir = root / "terraform" / "stages" / stage
        stage_dir.mkdir(parents=True)
        (stage_dir / "main.tf").write_text('module "platform" {\n  source = "../../modules/platform"\n}\n')
        if stage != "local":
            (stage_dir / "backend.hcl").write_text('bucket = "tfstate"\n')
    (root / "lambda_src" / "fairshare").mkdir(parents=True)
    (root / "lambda_src" / "fairshare" / "handler.py").write_text("x = 1\n")
    (root / ".build").mkdir()
    (root / ".build" / "terraformrc").write_text("")
    return root


class FakeRun:
    """Stands in for subprocess.run for git, checkov and the packaging script."""

    def __init__(
        self, *, git_status: str = "", checkov: tuple[int, str] = (0, ""), package_rc: int = 0
    ) -> None:
        self.git_status = git_status
        self.checkov = checkov
        self.package_rc = package_rc
        self.commands: list[list[str]] = []

    def __call__(self, command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        self.commands.append(command)
        if command[:2] == ["git", "status"]:
            return subprocess.CompletedProcess(command, 0, self.git_status, "")
        if "checkov" in " ".join(command):
            return subprocess.CompletedProcess(command, self.checkov[0], self.checkov[1], "")
        if command[-1].endswith("package_lambdas.py"):
            return subprocess.CompletedProcess(
                command, self.package_rc, "", "boom" if self.package_rc else ""
            )
        raise AssertionError(f"unexpected command {command}")


def deployer(
    repo: Path, stage: str, fake_tf: Path, run: FakeRun, creds: str | None = "env"
) -> tuple[Deployer, list[str]]:
    said: list[str] = []
    layout = StageLayout(repo, stage)
    terraform = Terraform(
        layout.stage_dir, env={"TF_CLI_CONFIG_FILE": "/x/rc"}, binary=str(fake_tf), timeout_s=10
    )
    return (
        Deployer(
            layout, terraform, said.append, run=run, credentials=lambda: creds, checkov_command=["checkov"]
        ),
        said,
    )


# --- the adapter ----------------------------------------------------------------------------------


def test_init_passes_the_backend_file_and_the_cli_config(fake_tf: Path, repo: Path, tmp_path: Path) -> None:
    stage_dir = repo / "terraform" / "stages" / "dev"
    Terraform(stage_dir, env={"TF_CLI_CONFIG_FILE": "/x/rc"}, binary=str(fake_tf)).init(
        backend_config=stage_dir / "backend.hcl"
    )
    (args,) = calls(tmp_path)
    assert args[0] == "init"
    assert f"-backend-config={stage_dir / 'backend.hcl'}" in args
    assert "-input=false" in args and "-reconfigure" in args
    entry = json.loads((tmp_path / "tf.log").read_text())
    assert entry["tf_cli_config_file"] == "/x/rc"
    assert os.environ.get("TF_CLI_CONFIG_FILE") != "/x/rc"  # scoped to the call


def test_plan_writes_the_plan_file_and_reports_changes(fake_tf: Path, repo: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "plans" / "dev.tfplan"
    changes, result = Terraform(repo, binary=str(fake_tf)).plan(plan_file)
    assert changes is True and plan_file.exists()
    assert result.summary == "Plan: 3 to add, 0 to change, 0 to destroy."
    assert "-detailed-exitcode" in calls(tmp_path)[0]


def test_apply_applies_exactly_the_plan_file_and_streams_progress(
    fake_tf: Path, repo: Path, tmp_path: Path
) -> None:
    progress: list[str] = []
    plan_file = tmp_path / "p.tfplan"
    result = Terraform(repo, binary=str(fake_tf), on_progress=progress.append).apply(plan_file)
    (args,) = calls(tmp_path)
    assert args[-1] == str(plan_file)
    assert not any(a.startswith("-var") or a == "-auto-approve" for a in args)
    assert progress == [
        "module.platform.aws_sqs_queue.q: Creating...",
        "module.platform.aws_sqs_queue.q: Still creating... [10s elapsed]",
        "module.platform.aws_sqs_queue.q: Creation complete after 25s [id=q]",
    ]
    assert result.summary == "Apply complete! Resources: 3 added, 0 changed, 0 destroyed."


def test_destroy_auto_approves_without_the_force_flag(fake_tf: Path, repo: Path, tmp_path: Path) -> None:
    state = tmp_path / "state" / "terraform.tfstate"
    Terraform(repo, binary=str(fake_tf), state_file=state).destroy()
    (args,) = calls(tmp_path)
    assert "-auto-approve" in args and "-force" not in args
    assert f"-state={state}" in args


def test_a_failed_apply_names_the_failing_resource(
    fake_tf: Path, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_TF_APPLY", "fail")
    with pytest.raises(TerraformFailed) as raised:
        Terraform(repo, binary=str(fake_tf)).apply(tmp_path / "p.tfplan")
    assert raised.value.exit_code == 1
    assert str(raised.value) == (
        "terraform apply failed (exit 1): module.platform.module.queues.aws_sqs_queue.dlq: "
        "creating SQS Queue (fs-dev-dlq): operation error SQS: CreateQueue, AccessDenied"
    )
    assert raised.value.diagnostics[0].where == "../../modules/queues/main.tf line 12"


def test_a_hung_terraform_is_stopped_at_the_timeout(
    fake_tf: Path, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_TF_DESTROY", "sleep")
    with pytest.raises(TerraformFailed) as raised:
        Terraform(repo, binary=str(fake_tf), timeout_s=0.5).destroy()
    assert raised.value.timed_out and raised.value.exit_code == 124
    assert raised.value.result.duration_s < 10


def test_outputs_come_back_whole(fake_tf: Path, repo: Path) -> None:
    outputs = Terraform(repo, binary=str(fake_tf)).output()
    assert outputs["api_url"]["value"] == "http://x"
    assert outputs["keys"]["sensitive"] is True


def test_diagnostics_parse_the_boxed_terminal_form_too() -> None:
    output = (
        "╷\n│ Error: No valid credential sources found\n│ \n"
        '│   with provider["registry.terraform.io/hashicorp/aws"],\n'
        '│   on main.tf line 1, in provider "aws":\n╵\n╷\n│ Error: Unsupported argument\n╵\n'
    )
    found = parse_diagnostics(output)
    assert [d.summary for d in found] == ["No valid credential sources found", "Unsupported argument"]
    assert found[0].address == 'provider["registry.terraform.io/hashicorp/aws"]'
    assert found[1].address is None


def test_progress_lines_are_recognised() -> None:
    line = 'aws_sqs_queue.q["a"]: Destroying... [id=x]'
    assert progress_of(f"  {line}\n") == line
    assert progress_of("Warning: Deprecated flag: -state") is None
    assert progress_of("Plan: 1 to add") is None
    assert progress_of("") is None


# --- guard rails ----------------------------------------------------------------------------------


def test_a_real_stage_without_credentials_is_refused_before_terraform_runs(
    fake_tf: Path, repo: Path, tmp_path: Path
) -> None:
    deploy, _ = deployer(repo, "dev", fake_tf, FakeRun(), creds=None)
    with pytest.raises(DeployError) as raised:
        deploy.plan()
    assert raised.value.exit_code == EXIT_REFUSED
    assert str(raised.value).startswith("no AWS credentials found for stage dev")
    assert calls(tmp_path) == []


def test_the_local_stage_needs_no_credentials(fake_tf: Path, repo: Path, tmp_path: Path) -> None:
    deploy, said = deployer(repo, "local", fake_tf, FakeRun(), creds=None)
    assert deploy.plan() is True
    assert [c[0] for c in calls(tmp_path)] == ["init", "plan"]
    assert "-backend=false" in calls(tmp_path)[0]
    assert any("Plan: 3 to add" in line for line in said)


def test_prod_apply_needs_yes(fake_tf: Path, repo: Path) -> None:
    deploy, _ = deployer(repo, "prod", fake_tf, FakeRun())
    with pytest.raises(DeployError, match="apply to prod needs --yes"):
        deploy.apply(yes=False)


def test_prod_apply_refuses_a_dirty_tree(fake_tf: Path, repo: Path) -> None:
    deploy, _ = deployer(
        repo, "prod", fake_tf, FakeRun(git_status=" M terraform/stages/prod/main.tf\n?? x.txt\n")
    )
    with pytest.raises(DeployError) as raised:
        deploy.apply(yes=True)
    assert (
        str(raised.value)
        == "refusing to apply prod from a dirty git tree: terraform/stages/prod/main.tf, x.txt"
    )


def test_apply_without_a_plan_is_refused(fake_tf: Path, repo: Path, tmp_path: Path) -> None:
    deploy, _ = deployer(repo, "local", fake_tf, FakeRun())
    with pytest.raises(
        DeployError, match=r"no plan file .build/plans/local.tfplan: run `deploy.py local plan` first"
    ):
        deploy.apply(yes=False)
    assert calls(tmp_path) == []


def test_apply_refuses_a_plan_made_from_other_lambda_sources(fake_tf: Path, repo: Path) -> None:
    deploy, _ = deployer(repo, "local", fake_tf, FakeRun())
    deploy.plan()
    (repo / "lambda_src" / "fairshare" / "handler.py").write_text("x = 2\n")
    with pytest.raises(DeployError, match="Lambda package changed since the plan"):
        deploy.apply(yes=False)


def test_apply_refuses_a_plan_made_from_another_zip_but_ignores_tooling_edits(
    fake_tf: Path, repo: Path, tmp_path: Path
) -> None:
    zip_path = repo / ".build" / "lambda" / "fairshare.zip"
    zip_path.parent.mkdir(parents=True)
    zip_path.write_bytes(b"zip one")
    deploy, _ = deployer(repo, "local", fake_tf, FakeRun())
    deploy.plan()
    (repo / "lambda_src" / "fairshare_tools" / "tooling").mkdir(parents=True)
    (repo / "lambda_src" / "fairshare_tools" / "tooling" / "deploy.py").write_text("changed = True\n")
    zip_path.write_bytes(b"zip two")
    with pytest.raises(DeployError, match="Lambda package changed since the plan"):
        deploy.apply(yes=False)
    deploy.plan()
    deploy.apply(yes=False)
    assert [c[0] for c in calls(tmp_path) if c[0] != "init"] == ["plan", "plan", "apply"]


def test_a_real_apply_runs_checkov_first_and_applies_the_plan_once(
    fake_tf: Path, repo: Path, tmp_path: Path
) -> None:
    run = FakeRun(checkov=(0, "Passed checks: 40, Failed checks: 0, Skipped checks: 7\n"))
    deploy, said = deployer(repo, "dev", fake_tf, run)
    deploy.plan()
    deploy.apply(yes=False)
    assert "checkov: 40 passed, 0 failed, 7 skipped" in said
    assert [c[0] for c in calls(tmp_path)] == ["init", "plan", "apply"]
    assert not deploy.layout.plan_file.exists()
    with pytest.raises(DeployError, match="no plan file"):
        deploy.apply(yes=False)


def test_a_failing_checkov_gate_stops_the_apply(fake_tf: Path, repo: Path, tmp_path: Path) -> None:
    report = "Check: CKV_AWS_27: ...\nCheck: CKV_AWS_18: ...\n"
    report += "Passed checks: 38, Failed checks: 2, Skipped checks: 7\n"
    deploy, _ = deployer(repo, "stg", fake_tf, FakeRun(checkov=(1, report)))
    deploy.plan()
    with pytest.raises(DeployError) as raised:
        deploy.apply(yes=False)
    assert raised.value.exit_code == EXIT_CHECKOV
    assert (
        str(raised.value)
        == "checkov: 38 passed, 2 failed, 7 skipped (exit 1) (CKV_AWS_18, CKV_AWS_27); apply refused"
    )
    assert "apply" not in [c[0] for c in calls(tmp_path)]


def test_skipping_checkov_is_refused_for_prod(fake_tf: Path, repo: Path) -> None:
    deploy, _ = deployer(repo, "prod", fake_tf, FakeRun())
    deploy.plan()
    with pytest.raises(DeployError, match="not allowed for prod"):
        deploy.apply(yes=True, skip_checkov=True)


def test_lambdas_are_packaged_only_when_their_sources_change(fake_tf: Path, repo: Path) -> None:
    (repo / "scripts").mkdir()
    (repo / "scripts" / "package_lambdas.py").write_text("")
    run = FakeRun()
    deploy, _ = deployer(repo, "local", fake_tf, run)

    def packaged() -> int:
        return sum(1 for c in run.commands if c[-1].endswith("package_lambdas.py"))

    assert deploy.package_lambdas_if_changed() is True
    (repo / ".build" / "lambda" / "fairshare.zip").write_text("zip")
    assert deploy.package_lambdas_if_changed() is False
    (repo / "lambda_src" / "fairshare" / "new.py").write_text("y = 1\n")
    assert deploy.package_lambdas_if_changed() is True
    assert packaged() == 2


def test_a_failed_packaging_has_its_own_exit_code(fake_tf: Path, repo: Path) -> None:
    (repo / "scripts").mkdir()
    (repo / "scripts" / "package_lambdas.py").write_text("")
    deploy, _ = deployer(repo, "local", fake_tf, FakeRun(package_rc=1))
    with pytest.raises(DeployError) as raised:
        deploy.plan()
    assert raised.value.exit_code == EXIT_PACKAGING
    assert str(raised.value) == "packaging the Lambdas failed (exit 1): boom"


def test_the_digest_ignores_caches_and_sees_requirements(repo: Path) -> None:
    before = lambda_sources_digest(repo)
    (repo / "lambda_src" / "fairshare" / "__pycache__").mkdir()
    (repo / "lambda_src" / "fairshare" / "__pycache__" / "x.pyc").write_text("junk")
    assert lambda_sources_digest(repo) == before
    (repo / "lambda_src" / "fairshare_tools" / "cli").mkdir(parents=True)
    (repo / "lambda_src" / "fairshare_tools" / "cli" / "tenantctl.py").write_text("not in the zip\n")
    assert lambda_sources_digest(repo) == before  # the tools never ship
    (repo / "lambda_src" / "fairshare" / "services").mkdir(parents=True, exist_ok=True)
    (repo / "lambda_src" / "fairshare" / "services" / "new.py").write_text("shipped = True\n")
    with_runtime_change = lambda_sources_digest(repo)
    assert with_runtime_change != before  # every runtime module ships
    (repo / "lambda_src" / "requirements.txt").write_text("pydantic==2\n")
    assert lambda_sources_digest(repo) != with_runtime_change


def test_checkov_counts_are_summed_over_frameworks() -> None:
    summary = parse_checkov("Passed checks: 3, Failed checks: 1, Skipped checks: 0\n" * 2, 1)
    assert (summary.passed, summary.failed, summary.skipped, summary.ok) == (6, 2, 0, False)


def test_credentials_come_from_botocore(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    class Session:
        def __init__(self, creds: object) -> None:
            self.creds = creds

        def get_credentials(self) -> object:
            return self.creds

    class Creds:
        method = "env"

    assert resolve_aws_credentials(lambda: Session(None)) is None
    assert resolve_aws_credentials(lambda: Session(Creds())) == "env"


# --- one way to plan and apply -------------------------------------------------------------------

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_plan_initialises_the_stage_even_when_it_holds_a_terraform_folder(
    fake_tf: Path, repo: Path, tmp_path: Path
) -> None:
    # `make tf-init`/`validate` leave a .terraform without the backend; a plan must not run on it
    (repo / "terraform" / "stages" / "dev" / ".terraform").mkdir()
    deploy, _ = deployer(repo, "dev", fake_tf, FakeRun())
    deploy.plan()
    init, plan = calls(tmp_path)
    assert (init[0], plan[0]) == ("init", "plan")
    assert f"-backend-config={deploy.layout.backend_config}" in init
    assert f"-out={deploy.layout.plan_file}" in plan


def test_init_keeps_a_committed_lock_file(fake_tf: Path, repo: Path, tmp_path: Path) -> None:
    deploy, _ = deployer(repo, "stg", fake_tf, FakeRun())
    deploy.init()
    (deploy.layout.stage_dir / ".terraform.lock.hcl").write_text("# pinned\n")
    deploy.init()
    without_lock, with_lock = calls(tmp_path)
    assert "-lockfile=readonly" not in without_lock
    assert "-lockfile=readonly" in with_lock


def test_make_plan_is_deploy_plan() -> None:
    recipe = (REPO_ROOT / "Makefile").read_text(encoding="utf-8").split("\nplan:", 1)[1].split("\n\n", 1)[0]
    assert "$(PY) scripts/deploy.py $(STAGE) plan" in recipe, recipe
    assert "terraform -chdir=terraform/stages/$(STAGE) plan" not in recipe  # no second way to write a plan
    layout = StageLayout(REPO_ROOT, "dev")
    assert layout.plan_file.parent.relative_to(REPO_ROOT) == Path(".build/plans")
    assert "$(BUILD)/plans" in recipe  # the mocked local plan lands beside the real plans


def test_terraform_env_shares_the_plugin_cache_of_make(repo: Path) -> None:
    env = terraform_env(repo)
    assert env["TF_CLI_CONFIG_FILE"] == str(repo / ".build" / "terraformrc")
    assert env["TF_PLUGIN_CACHE_DIR"] == str(repo / ".build" / "tf-plugin-cache")
    assert Path(env["TF_PLUGIN_CACHE_DIR"]).is_dir()


def test_outputs_show_the_platform_members_one_by_one_and_mask_the_keys() -> None:
    outputs = {
        "platform": {
            "value": {"invoke_url": "https://x/v1", "table_names": {"queries": "q"}},
            "sensitive": False,
        },
        "api_key_values": {"value": {"alpha": "secret"}, "sensitive": True},
    }
    assert dict(format_outputs(outputs)) == {
        "api_key_values": "(sensitive)",
        "invoke_url": "https://x/v1",
        "table_names": '{"queries": "q"}',
    }


# --- the command line -----------------------------------------------------------------------------


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.usefixtures("no_aws")
def test_dev_plan_without_credentials_fails_with_one_clear_line(
    fake_tf: Path, repo: Path, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        deploy_cli.main, ["dev", "plan", "--root", str(repo), "--terraform", str(fake_tf)]
    )
    assert result.exit_code == EXIT_REFUSED
    assert result.stderr.strip().splitlines()[-1].startswith("error: no AWS credentials found for stage dev")
    assert calls(tmp_path) == []


def test_cli_usage_errors_exit_2(repo: Path) -> None:
    assert CliRunner().invoke(deploy_cli.main, ["qa", "plan", "--root", str(repo)]).exit_code == 2
    assert CliRunner().invoke(deploy_cli.main, ["dev", "deploy", "--root", str(repo)]).exit_code == 2


def test_cli_terraform_failure_lists_the_resource(
    fake_tf: Path, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_TF_PLAN", "fail")
    result = CliRunner().invoke(
        deploy_cli.main, ["local", "plan", "--root", str(repo), "--terraform", str(fake_tf)]
    )
    assert result.exit_code == 1
    assert (
        "module.platform.module.queues.aws_sqs_queue.dlq (../../modules/queues/main.tf line 12)"
        in result.stderr
    )


def test_cli_output_masks_sensitive_values(fake_tf: Path, repo: Path) -> None:
    result = CliRunner().invoke(
        deploy_cli.main, ["local", "output", "--json", "--root", str(repo), "--terraform", str(fake_tf)]
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"api_url": "http://x", "keys": "(sensitive)"}


def test_cli_detailed_exitcode_reports_changes(fake_tf: Path, repo: Path) -> None:
    args = ["local", "plan", "--detailed-exitcode", "--root", str(repo), "--terraform", str(fake_tf)]
    assert CliRunner().invoke(deploy_cli.main, args).exit_code == deploy_cli.EXIT_PLAN_HAS_CHANGES


# --- real Terraform, with only its built-in provider (offline) -------------------------------------

REAL_CONFIG = """
variable "label" {
  type    = string
  default = "fairshare"
}
resource "terraform_data" "marker" {
  input = var.label
}
output "marker" {
  value = terraform_data.marker.output
}
"""


@pytest.fixture
def real_local_repo(repo: Path) -> Iterator[Path]:
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not installed")
    (repo / "terraform" / "stages" / "local" / "main.tf").write_text(REAL_CONFIG)
    yield repo


@pytest.mark.parametrize("local_backend", [False, True], ids=["no-backend-block", "backend-local"])
def test_real_terraform_local_plan_apply_output_destroy(real_local_repo: Path, local_backend: bool) -> None:
    repo = real_local_repo
    stage_dir = repo / "terraform" / "stages" / "local"
    if local_backend:
        (stage_dir / "backend.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    said: list[str] = []
    deploy = make_deployer(
        repo, "local", say=said.append, env={"TF_CLI_CONFIG_FILE": str(repo / ".build" / "terraformrc")}
    )
    assert deploy.plan() is True
    deploy.apply(yes=False)
    state = json.loads((repo / ".localstack" / "terraform.tfstate").read_text())
    assert [r["type"] for r in state["resources"]] == ["terraform_data"]
    assert deploy.output()["marker"]["value"] == "fairshare"
    assert deploy.plan() is False  # nothing left to do
    deploy.destroy(yes=False)
    state = json.loads((repo / ".localstack" / "terraform.tfstate").read_text())
    assert state["resources"] == []
    assert any(line.startswith("apply local: Apply complete! Resources: 1 added") for line in said), said
