"""The command line of `scripts/deploy.py`: click for arguments, rich for the spinner and messages.

Exit codes: 0 success; 1 Terraform failed; 2 usage error; 3 refused by a guard rail (credentials,
--yes, dirty tree, missing or stale plan); 4 the checkov gate failed; 5 packaging the Lambdas failed;
124 Terraform ran past --timeout. `plan --detailed-exitcode` also exits 10 when the plan has changes.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from fairshare_tools.cli.render import stdout_console
from fairshare_tools.cli.settings import default_config_path
from fairshare_tools.tooling.deploy import (
    COMMANDS,
    EXIT_OK,
    STAGES,
    DeployError,
    find_repo_root,
    format_outputs,
    make_deployer,
)
from fairshare_tools.tooling.stage import (
    default_aws_config_path,
    merge_athena_profiles,
    merge_profiles,
    stage_access,
)
from fairshare_tools.tooling.terraform import TerraformFailed

EXIT_PLAN_HAS_CHANGES = 10


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("stage", type=click.Choice(STAGES))
@click.argument("command", type=click.Choice(COMMANDS))
@click.option(
    "--yes", is_flag=True, help="confirm an apply or destroy of prod, or a destroy of a real stage."
)
@click.option("--skip-checkov", is_flag=True, help="skip the checkov gate (dev and stg only).")
@click.option("--destroy-plan", is_flag=True, help="plan: write a plan that destroys everything.")
@click.option(
    "--detailed-exitcode", is_flag=True, help=f"plan: exit {EXIT_PLAN_HAS_CHANGES} when there are changes."
)
@click.option("--json", "as_json", is_flag=True, help="output: print the outputs as JSON.")
@click.option(
    "--write-profiles",
    is_flag=True,
    help="output: add a tenantctl profile <stage>-<tenant> per tenant to the tenantctl profile file, and "
    "an AWS config profile <stage>-<tenant> whose Athena endpoint is the platform's "
    "(in $AWS_CONFIG_FILE or ~/.aws/config).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=3600,
    show_default=True,
    help="seconds before apply/destroy is stopped (exit 124).",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="repository root (default: found from this file).",
)
@click.option(
    "--terraform", "terraform_binary", default="terraform", show_default=True, envvar="TERRAFORM_BIN"
)
def main(
    stage: str,
    command: str,
    yes: bool,
    skip_checkov: bool,
    destroy_plan: bool,
    detailed_exitcode: bool,
    as_json: bool,
    write_profiles: bool,
    timeout: float,
    root: Path | None,
    terraform_binary: str,
) -> None:
    """Run Terraform for one STAGE (dev, stg, prod, local): init, plan, apply, output or destroy."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    repo = (root or find_repo_root()).resolve()
    exit_code = EXIT_OK
    with console.status(f"terraform {command} [bold]{stage}[/]") as spinner:

        def say(message: str) -> None:
            console.print(f"[dim]{stage}[/] {message}")

        def on_progress(line: str) -> None:
            spinner.update(f"terraform {command} [bold]{stage}[/]: {line}")

        try:
            deployer = make_deployer(
                repo,
                stage,
                say=say,
                on_progress=on_progress,
                terraform_binary=terraform_binary,
                timeout_s=timeout,
            )
            if command == "init":
                deployer.init()
            elif command == "plan":
                changes = deployer.plan(destroy=destroy_plan)
                if changes and detailed_exitcode:
                    exit_code = EXIT_PLAN_HAS_CHANGES
            elif command == "apply":
                deployer.apply(yes=yes, skip_checkov=skip_checkov)
            elif command == "destroy":
                deployer.destroy(yes=yes)
            else:
                outputs = deployer.output()
        except DeployError as exc:
            spinner.stop()
            console.print(f"[red]error:[/] {exc}")
            raise SystemExit(exc.exit_code) from exc
        except TerraformFailed as exc:
            spinner.stop()
            console.print(f"[red]error:[/] {exc}")
            if exc.diagnostics:
                for diagnostic in exc.diagnostics:
                    where = f" ({diagnostic.where})" if diagnostic.where else ""
                    console.print(
                        f"  [red]x[/] {diagnostic.address or '(configuration)'}{where}: {diagnostic.summary}"
                    )
            raise SystemExit(exc.exit_code) from exc
        except FileNotFoundError as exc:
            spinner.stop()
            console.print(f"[red]error:[/] {exc.filename or exc}: not found (is Terraform installed?)")
            raise SystemExit(1) from exc
    if command == "output" and write_profiles:
        try:
            access = stage_access(stage, outputs)
        except DeployError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise SystemExit(exc.exit_code) from exc
        path = default_config_path()
        names = merge_profiles(path, access)
        console.print(f"wrote tenantctl profiles {', '.join(names)} to {path}")
        aws_path = default_aws_config_path()
        try:
            aws_names = merge_athena_profiles(aws_path, access)
        except DeployError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise SystemExit(exc.exit_code) from exc
        console.print(
            f"wrote AWS profiles {', '.join(aws_names)} (Athena through the platform) to {aws_path}"
        )
    if command == "output":
        if as_json:
            click.echo(json.dumps({name: value for name, value in format_outputs(outputs)}, indent=2))
        else:
            table = Table("output", "value")
            for name, value in format_outputs(outputs):
                table.add_row(name, value)
            stdout_console().print(table)
    raise SystemExit(exit_code)
