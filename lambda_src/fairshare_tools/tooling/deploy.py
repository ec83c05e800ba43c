"""`deploy.py STAGE {init,plan,apply,output,destroy}`: Terraform per stage, with the guard rails.

- `init` uses the stage's `backend.hcl`; the `local` stage keeps its state in `.localstack/terraform.tfstate`.
- `plan` (re-)initialises the stage and writes `.build/plans/<stage>.tfplan`; `apply` applies exactly that
  file. `make plan STAGE=<stage>` runs this same `plan`, so either one's plan is what `apply` applies.
- A real stage (dev, stg, prod) needs AWS credentials, checked before Terraform runs.
- `prod` needs `--yes` and a clean git tree; every real-stage apply passes the checkov gate first.
- Lambdas are packaged (`scripts/package_lambdas.py`) before a plan when their sources changed, and an
  apply refuses a plan made from other Lambda sources.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fairshare_tools.tooling.terraform import Terraform

REAL_STAGES = ("dev", "stg", "prod")
LOCAL_STAGE = "local"
STAGES = (*REAL_STAGES, LOCAL_STAGE)
COMMANDS = ("init", "plan", "apply", "output", "destroy")

EXIT_OK = 0
EXIT_TERRAFORM = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_CHECKOV = 4
EXIT_PACKAGING = 5
EXIT_TIMEOUT = 124


class DeployError(Exception):
    """A refusal or failure with a one-line message and a documented exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True, slots=True)
class StageLayout:
    root: Path
    stage: str

    @property
    def stage_dir(self) -> Path:
        return self.root / "terraform" / "stages" / self.stage

    @property
    def plan_file(self) -> Path:
        return self.root / ".build" / "plans" / f"{self.stage}.tfplan"

    @property
    def plan_sources_file(self) -> Path:
        return self.plan_file.with_suffix(".sources")

    @property
    def backend_config(self) -> Path:
        return self.stage_dir / "backend.hcl"

    @property
    def local_state(self) -> Path:
        return self.root / ".localstack" / "terraform.tfstate"

    @property
    def is_real(self) -> bool:
        return self.stage in REAL_STAGES

    def declares_local_backend(self) -> bool:
        return any(
            re.search(r'backend\s+"local"', path.read_text(encoding="utf-8"))
            for path in sorted(self.stage_dir.glob("*.tf"))
        )


@dataclass(frozen=True, slots=True)
class CheckovSummary:
    passed: int
    failed: int
    skipped: int
    returncode: int

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.failed == 0

    def __str__(self) -> str:
        return f"checkov: {self.passed} passed, {self.failed} failed, {self.skipped} skipped"


_CHECKOV_COUNTS = re.compile(r"Passed checks: (\d+), Failed checks: (\d+), Skipped checks: (\d+)")


def parse_checkov(output: str, returncode: int) -> CheckovSummary:
    """Sum checkov's `Passed checks: N, Failed checks: M, Skipped checks: K` lines (one per framework)."""
    totals = [0, 0, 0]
    for match in _CHECKOV_COUNTS.finditer(output):
        for index in range(3):
            totals[index] += int(match.group(index + 1))
    passed, failed, skipped = totals
    return CheckovSummary(passed, failed, skipped, returncode)


LAMBDA_ZIP = Path(".build") / "lambda" / "fairshare.zip"


def lambda_sources_digest(root: Path) -> str:
    """A digest of what goes into the Lambda zip: the runtime package `fairshare` (all of it ships; the
    tools are `fairshare_tools`) and its pinned requirements."""
    digest = hashlib.sha256()
    source_root = root / "lambda_src"
    package = source_root / "fairshare"

    def shipped(path: Path) -> bool:
        if path.name == "requirements.txt" and path.parent == source_root:
            return True
        if not path.is_relative_to(package) or path.suffix not in {".py", ".json"}:
            return False
        parts = path.relative_to(package).parts
        return "__pycache__" not in parts

    for path in sorted(p for p in source_root.rglob("*") if p.is_file() and shipped(p)):
        digest.update(str(path.relative_to(source_root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def package_fingerprint(root: Path) -> str:
    """What the plan was made from: the zip's sha256 when there is a zip, else the sources' digest."""
    zip_path = root / LAMBDA_ZIP
    if zip_path.exists():
        return "zip:" + hashlib.sha256(zip_path.read_bytes()).hexdigest()
    return "sources:" + lambda_sources_digest(root)


def resolve_aws_credentials(session_factory: Callable[[], Any] | None = None) -> str | None:
    """The method botocore would use for credentials (`env`, `shared-credentials-file`, ...), or None."""
    if session_factory is None:
        import botocore.session

        session_factory = botocore.session.Session
    try:
        credentials = session_factory().get_credentials()
    except Exception as exc:  # a broken profile is as good as none, but say why
        raise DeployError(f"AWS credentials could not be resolved: {exc}") from exc
    if credentials is None:
        return None
    return str(getattr(credentials, "method", "unknown"))


def dirty_paths(
    root: Path, run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run
) -> list[str]:
    """Uncommitted or untracked paths of the git tree (ignored files excluded)."""
    result = run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DeployError(f"cannot read the git tree at {root}: {result.stderr.strip()}")
    return [line[3:] for line in result.stdout.splitlines() if line.strip()]


@dataclass
class Deployer:
    """One stage's Terraform operations; side effects go through the injected callables (tests fake them)."""

    layout: StageLayout
    terraform: Terraform
    say: Callable[[str], None]
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run
    credentials: Callable[[], str | None] = resolve_aws_credentials
    python: str = sys.executable
    checkov_command: list[str] | None = None
    env: Mapping[str, str] = field(default_factory=dict)

    # --- the commands --------------------------------------------------------------------------

    def init(self) -> None:
        self._require_credentials()
        self._require_stage_dir()
        layout = self.layout
        # A committed lock file pins the provider; init must not rewrite it (as `make tf-init` does).
        readonly = (layout.stage_dir / ".terraform.lock.hcl").exists()
        if layout.is_real:
            if not layout.backend_config.exists():
                raise DeployError(f"{layout.backend_config} is missing: a real stage needs its backend")
            result = self.terraform.init(backend_config=layout.backend_config, lockfile_readonly=readonly)
        elif layout.declares_local_backend():
            layout.local_state.parent.mkdir(parents=True, exist_ok=True)
            result = self.terraform.init(
                backend_config=_backend_path_file(layout), lockfile_readonly=readonly
            )
        else:
            layout.local_state.parent.mkdir(parents=True, exist_ok=True)
            result = self.terraform.init(backend=False, lockfile_readonly=readonly)
        self.say(f"init {layout.stage}: ok in {result.duration_s:.1f}s")

    def plan(self, *, destroy: bool = False) -> bool:
        self._require_credentials()
        self._require_stage_dir()
        self.package_lambdas_if_changed()
        # Always: a checkout may hold a .terraform made by `validate` (no backend) or for another backend.
        self.init()
        changes, result = self.terraform.plan(self.layout.plan_file, destroy=destroy)
        self.layout.plan_sources_file.write_text(package_fingerprint(self.layout.root) + "\n")
        summary = result.summary or ("changes" if changes else "no changes")
        self.say(f"plan {self.layout.stage}: {summary} -> {self._relative(self.layout.plan_file)}")
        return changes

    def apply(self, *, yes: bool, skip_checkov: bool = False) -> None:
        layout = self.layout
        self._require_stage_dir()
        self._require_prod_guards(yes, "apply")
        self._require_credentials()
        if not layout.plan_file.exists():
            raise DeployError(
                f"no plan file {self._relative(layout.plan_file)}: run `deploy.py {layout.stage} plan` first"
            )
        recorded = layout.plan_sources_file.read_text().strip() if layout.plan_sources_file.exists() else None
        if recorded != package_fingerprint(layout.root):
            raise DeployError(
                f"the Lambda package changed since the plan: run `deploy.py {layout.stage} plan` again"
            )
        if layout.is_real:
            if skip_checkov and layout.stage == "prod":
                raise DeployError("--skip-checkov is not allowed for prod")
            if skip_checkov:
                self.say("checkov: skipped (--skip-checkov)")
            else:
                self.checkov_gate()
        result = self.terraform.apply(layout.plan_file)
        layout.plan_file.unlink(missing_ok=True)  # a plan applies once
        self.say(f"apply {layout.stage}: {result.summary or 'done'} in {result.duration_s:.1f}s")

    def destroy(self, *, yes: bool) -> None:
        self._require_stage_dir()
        if self.layout.is_real and not yes:
            raise DeployError(f"destroying {self.layout.stage} needs --yes")
        self._require_prod_guards(yes, "destroy")
        self._require_credentials()
        if not (self.layout.stage_dir / ".terraform").exists():
            self.init()
        result = self.terraform.destroy()
        self.say(f"destroy {self.layout.stage}: {result.summary or 'done'} in {result.duration_s:.1f}s")

    def output(self) -> dict[str, Any]:
        self._require_credentials()
        self._require_stage_dir()
        return self.terraform.output()

    # --- guard rails ---------------------------------------------------------------------------

    def _require_stage_dir(self) -> None:
        if not any(self.layout.stage_dir.glob("*.tf")):
            raise DeployError(f"no Terraform configuration in {self._relative(self.layout.stage_dir)}")

    def _require_credentials(self) -> None:
        if not self.layout.is_real:
            return
        method = self.credentials()
        if method is None:
            raise DeployError(
                f"no AWS credentials found for stage {self.layout.stage}: set AWS_PROFILE or "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (botocore's resolver found none)"
            )
        self.say(f"AWS credentials: {method}")

    def _require_prod_guards(self, yes: bool, verb: str) -> None:
        if self.layout.stage != "prod":
            return
        if not yes:
            raise DeployError(f"{verb} to prod needs --yes")
        dirty = dirty_paths(self.layout.root, self.run)
        if dirty:
            shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
            raise DeployError(f"refusing to {verb} prod from a dirty git tree: {shown}")

    def checkov_gate(self) -> CheckovSummary:
        command = self.checkov_command or self._default_checkov_command()
        result = self.run(
            command,
            cwd=self.layout.root,
            capture_output=True,
            text=True,
            check=False,
            env={**_os_environ(), **self.env},
        )
        summary = parse_checkov(result.stdout + result.stderr, result.returncode)
        if not summary.ok:
            failing = sorted(set(re.findall(r"Check: (CKV2?_AWS_\d+)", result.stdout)))
            detail = f" ({', '.join(failing[:10])})" if failing else ""
            if summary.failed == 0 and summary.passed == 0:
                tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
                detail = f": {tail[0]}"
            raise DeployError(f"{summary} (exit {result.returncode}){detail}; apply refused", EXIT_CHECKOV)
        self.say(str(summary))
        return summary

    def _default_checkov_command(self) -> list[str]:
        makefile = self.layout.root / "Makefile"
        if makefile.exists() and re.search(r"^checkov:", makefile.read_text(), re.M):
            return ["make", "-s", "--no-print-directory", "checkov", f"STAGE={self.layout.stage}"]
        for candidate in (self.layout.root / ".venv-checkov" / "bin" / "checkov", shutil.which("checkov")):
            if candidate and Path(candidate).exists():
                return [
                    str(candidate),
                    "-d",
                    str(self.layout.root / "terraform"),
                    "--framework",
                    "terraform",
                    "--compact",
                    "--quiet",
                    "--skip-download",
                ]
        raise DeployError(
            "checkov is not available (no `make checkov` target, no checkov on PATH)", EXIT_CHECKOV
        )

    # --- packaging -----------------------------------------------------------------------------

    def package_lambdas_if_changed(self) -> bool:
        """Run scripts/package_lambdas.py when the Lambda sources differ from the last packaging."""
        root = self.layout.root
        script = root / "scripts" / "package_lambdas.py"
        if not script.exists():
            self.say("package: scripts/package_lambdas.py not found, Lambdas not packaged")
            return False
        stamp = root / ".build" / "lambda" / ".sources.sha256"
        digest = lambda_sources_digest(root)
        if stamp.exists() and stamp.read_text().strip() == digest and any(stamp.parent.glob("*.zip")):
            self.say("package: Lambda sources unchanged")
            return False
        result = self.run(
            [self.python, str(script)],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
            env={**_os_environ(), **self.env},
        )
        if result.returncode != 0:
            last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise DeployError(
                f"packaging the Lambdas failed (exit {result.returncode}): {last[0]}", EXIT_PACKAGING
            )
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest + "\n")
        self.say("package: Lambdas packaged")
        return True

    def _relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.layout.root))
        except ValueError:
            return str(path)


def _backend_path_file(layout: StageLayout) -> Path:
    """A `-backend-config` file that points the local backend at `.localstack/terraform.tfstate`."""
    target = layout.root / ".build" / "plans" / f"{layout.stage}.backend.hcl"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f'path = "{layout.local_state}"\n')
    return target


def _os_environ() -> dict[str, str]:
    return dict(os.environ)


def terraform_env(
    root: Path, run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run
) -> dict[str, str]:
    """What Terraform needs here: the CLI config of the offline provider mirror (`make tf-rc` writes it)."""
    rc_file = root / ".build" / "terraformrc"
    if not rc_file.exists():
        result = run(
            ["make", "-s", "--no-print-directory", "tf-rc"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not rc_file.exists():
            raise DeployError(f"`make tf-rc` failed: {(result.stderr or result.stdout).strip()}")
    plugin_cache = root / ".build" / "tf-plugin-cache"  # shared with `make tf-init`
    plugin_cache.mkdir(parents=True, exist_ok=True)
    return {
        "TF_CLI_CONFIG_FILE": str(rc_file),
        "TF_PLUGIN_CACHE_DIR": str(plugin_cache),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }


# A stage root outputs the platform module's `stage_outputs` as this object (terraform/stages/*/outputs.tf).
PLATFORM_OUTPUT = "platform"


def stage_outputs(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """`terraform output -json` of a stage root with the `platform` object's members as outputs of their own.

    Readers ask for `invoke_url`, `table_names`, ... by name, whether they come as members of `platform`
    or (the sensitive `api_key_values`, and stages applied before the object existed) on their own.
    """
    flat = {name: item for name, item in outputs.items() if name != PLATFORM_OUTPUT}
    item = outputs.get(PLATFORM_OUTPUT)
    members = item.get("value") if isinstance(item, dict) and "value" in item else item
    if isinstance(members, dict):
        sensitive = bool(item.get("sensitive")) if isinstance(item, dict) else False
        for name, value in members.items():
            flat.setdefault(name, {"value": value, "sensitive": sensitive})
    elif item is not None:
        flat[PLATFORM_OUTPUT] = item
    return flat


def format_outputs(outputs: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """(name, value) pairs for display, the `platform` object's members one by one; secrets are masked."""
    outputs = stage_outputs(outputs)
    for name in sorted(outputs):
        item = outputs[name]
        if isinstance(item, dict) and item.get("sensitive"):
            yield name, "(sensitive)"
            continue
        value = item.get("value") if isinstance(item, dict) else item
        yield name, value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def find_repo_root(start: Path | None = None) -> Path:
    """The repository holding `terraform/stages`: the working folder's, else this package's checkout."""
    for base in (start or Path.cwd(), Path(__file__).resolve()):
        for parent in (base, *base.parents):
            if (parent / "terraform" / "stages").is_dir() and (parent / "Makefile").exists():
                return parent
    return Path.cwd()


def make_deployer(
    root: Path,
    stage: str,
    *,
    say: Callable[[str], None],
    on_progress: Callable[[str], None] | None = None,
    terraform_binary: str = "terraform",
    timeout_s: float = 3600.0,
    env: Mapping[str, str] | None = None,
) -> Deployer:
    """The deployer of one stage, wired to the real Terraform, git, botocore and checkov."""
    layout = StageLayout(root=root, stage=stage)
    tf_env = dict(env) if env is not None else terraform_env(root)
    # The local stage without a `backend "local"` block keeps its state with -state (deprecated, works).
    state_file = None
    if stage == LOCAL_STAGE and layout.stage_dir.exists() and not layout.declares_local_backend():
        state_file = layout.local_state
    terraform = Terraform(
        working_dir=layout.stage_dir,
        env=tf_env,
        binary=terraform_binary,
        state_file=state_file,
        timeout_s=timeout_s,
        on_progress=on_progress,
    )
    return Deployer(layout=layout, terraform=terraform, say=say, env=tf_env)
