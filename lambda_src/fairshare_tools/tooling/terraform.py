"""A small adapter over Terraform 1.11: python-terraform where it works, plain subprocess where it doesn't.

python-terraform 0.10.1 (2019) drives `init`, `plan` and `output()` correctly, so those go through it.
Two calls go through `subprocess` instead:
- `apply PLANFILE`: python-terraform buffers the whole output until Terraform exits and has no timeout;
  an apply runs for minutes, and operators need progress and a bounded wait.
- `destroy`: python-terraform passes `-force`, which Terraform 1.11 rejects; it has the same buffering.
Never used: `output(name)` (raises TypeError), `apply()` without a plan (asks for approval: EOF),
`synchronous=False` (leaks into the command line).
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import python_terraform as pt

_ERROR_LINE = re.compile(r"^(?:│\s*)?Error: (?P<summary>.+?)\s*$")
_WITH_LINE = re.compile(r"^(?:│\s*)?\s*with (?P<address>[^,\s]+),\s*$")
_ON_LINE = re.compile(r"^(?:│\s*)?\s*on (?P<where>.+? line \d+)")
_PROGRESS_LINE = re.compile(
    r"^(?P<address>[\w.\[\]\"-]+): (?P<what>[A-Z][\w ]+?(?:\.\.\.|complete.*|\[.*\]))"
)
_PLAN_SUMMARY = re.compile(r"^(Plan: .+|No changes\..*|Apply complete!.+|Destroy complete!.+)$", re.M)

EXIT_TIMEOUT = 124


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One `Error:` block of Terraform's output, with the resource it names when it names one."""

    summary: str
    address: str | None = None
    where: str | None = None

    def __str__(self) -> str:
        return f"{self.address}: {self.summary}" if self.address else self.summary


@dataclass(frozen=True, slots=True)
class TerraformResult:
    command: tuple[str, ...]
    returncode: int
    output: str
    duration_s: float

    @property
    def summary(self) -> str | None:
        """Terraform's own one-line summary (`Plan: 1 to add, ...`, `Apply complete! ...`)."""
        found = _PLAN_SUMMARY.findall(self.output)
        return found[-1].strip() if found else None


class TerraformFailed(Exception):
    """Terraform exited non-zero, or ran past its timeout; the message names the failing resources."""

    def __init__(self, result: TerraformResult, timed_out: bool = False) -> None:
        self.result = result
        self.timed_out = timed_out
        self.diagnostics = parse_diagnostics(result.output)
        verb = " ".join(result.command[1:2])
        if timed_out:
            message = f"terraform {verb} timed out after {result.duration_s:.0f}s"
        else:
            message = f"terraform {verb} failed (exit {result.returncode})"
        if self.diagnostics:
            message += ": " + "; ".join(str(d) for d in self.diagnostics[:5])
            if len(self.diagnostics) > 5:
                message += f"; and {len(self.diagnostics) - 5} more"
        else:
            tail = [line for line in result.output.strip().splitlines() if line.strip()][-3:]
            if tail:
                message += ": " + " / ".join(line.strip() for line in tail)
        super().__init__(message)

    @property
    def exit_code(self) -> int:
        return EXIT_TIMEOUT if self.timed_out else 1


def parse_diagnostics(output: str) -> list[Diagnostic]:
    """The `Error:` blocks of Terraform's human output (with or without the │ box of a terminal)."""
    found: list[Diagnostic] = []
    current: dict[str, str] | None = None
    for line in output.splitlines():
        error = _ERROR_LINE.match(line)
        if error:
            if current is not None:
                found.append(Diagnostic(**current))
            current = {"summary": error.group("summary")}
            continue
        if current is None:
            continue
        with_line = _WITH_LINE.match(line)
        if with_line and "address" not in current:
            current["address"] = with_line.group("address")
            continue
        on_line = _ON_LINE.match(line)
        if on_line and "where" not in current:
            current["where"] = on_line.group("where")
    if current is not None:
        found.append(Diagnostic(**current))
    return found


def progress_of(line: str) -> str | None:
    """`module.x.aws_sqs_queue.q: Still creating... [20s elapsed]` -> a short progress text."""
    text = line.strip()
    return text if _PROGRESS_LINE.match(text) else None


@contextmanager
def _environ(overrides: Mapping[str, str]) -> Iterator[None]:
    # python-terraform passes os.environ to Terraform (is_env_vars_included); scope our additions.
    saved = {k: os.environ.get(k) for k in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass
class Terraform:
    """Terraform in one root module. `state_file` is set for stages that keep a local state file."""

    working_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    binary: str = "terraform"
    state_file: Path | None = None
    timeout_s: float = 3600.0
    on_progress: Callable[[str], None] | None = None

    def _client(self, with_state: bool) -> Any:
        state = str(self.state_file) if with_state and self.state_file else None
        return pt.Terraform(working_dir=str(self.working_dir), terraform_bin_path=self.binary, state=state)

    def _finish(
        self, command: Sequence[str], returncode: int, out: str | None, err: str | None, started: float
    ) -> TerraformResult:
        result = TerraformResult(
            tuple(command), returncode, (out or "") + (err or ""), time.monotonic() - started
        )
        return result

    def init(
        self, *, backend_config: Path | None = None, backend: bool = True, lockfile_readonly: bool = False
    ) -> TerraformResult:
        """`init -input=false -reconfigure`, with `-backend-config=FILE` or `-backend=false`.

        `lockfile_readonly` keeps a committed `.terraform.lock.hcl` as it is (`-lockfile=readonly`).
        """
        started = time.monotonic()
        with _environ(self.env):
            code, out, err = self._client(with_state=False).init(
                backend_config=str(backend_config) if backend_config else None,
                backend=backend,
                input=False,
                no_color=pt.IsFlagged,
                lockfile="readonly" if lockfile_readonly else None,
            )
        result = self._finish((self.binary, "init"), code, out, err, started)
        if code != 0:
            raise TerraformFailed(result)
        return result

    def plan(self, plan_file: Path, *, destroy: bool = False) -> tuple[bool, TerraformResult]:
        """Write `plan_file`; returns whether the plan has changes (`-detailed-exitcode`)."""
        plan_file.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with _environ(self.env):
            code, out, err = self._client(with_state=True).plan(
                out=str(plan_file),
                detailed_exitcode=pt.IsFlagged,
                destroy=pt.IsFlagged if destroy else None,
                input=False,
                no_color=pt.IsFlagged,
            )
        result = self._finish((self.binary, "plan"), code, out, err, started)
        if code not in (0, 2):
            raise TerraformFailed(result)
        return code == 2, result

    def output(self) -> dict[str, Any]:
        """Every output as `{name: {"value", "type", "sensitive"}}` (python-terraform's working form)."""
        kwargs: dict[str, Any] = {"no_color": pt.IsFlagged}
        if self.state_file:
            kwargs["state"] = str(self.state_file)
        with _environ(self.env):
            client = self._client(with_state=False)
            outputs = client.output(**kwargs)
        if outputs is None:
            code, out, err = client.output_cmd(json=pt.IsFlagged, **kwargs)
            raise TerraformFailed(
                TerraformResult((self.binary, "output"), code, (out or "") + (err or ""), 0.0)
            )
        return dict(outputs)

    def apply(self, plan_file: Path) -> TerraformResult:
        """Apply exactly `plan_file` (Terraform refuses a stale plan)."""
        args = ["apply", "-input=false", "-no-color"]
        if self.state_file:
            args += [f"-state={self.state_file}", f"-state-out={self.state_file}"]
        return self.run_streaming([*args, str(plan_file)])

    def destroy(self) -> TerraformResult:
        args = ["destroy", "-auto-approve", "-input=false", "-no-color"]
        if self.state_file:
            args.append(f"-state={self.state_file}")
        return self.run_streaming(args)

    def run_streaming(self, args: Sequence[str]) -> TerraformResult:
        """Run Terraform with a timeout, feeding each resource's progress to `on_progress`."""
        command = (self.binary, *args)
        env = {**os.environ, **self.env}
        started = time.monotonic()
        lines: list[str] = []
        process = subprocess.Popen(
            command,
            cwd=self.working_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        timed_out = threading.Event()

        def kill_on_timeout() -> None:
            timed_out.set()
            process.terminate()  # Terraform saves state on SIGTERM; kill only if it ignores it
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

        watchdog = threading.Timer(self.timeout_s, kill_on_timeout)
        watchdog.daemon = True
        watchdog.start()
        try:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                progress = progress_of(line)
                if progress and self.on_progress is not None:
                    self.on_progress(progress)
            returncode = process.wait()
        finally:
            watchdog.cancel()
        result = TerraformResult(command, returncode, "".join(lines), time.monotonic() - started)
        if timed_out.is_set() or returncode != 0:
            raise TerraformFailed(result, timed_out=timed_out.is_set())
        return result
