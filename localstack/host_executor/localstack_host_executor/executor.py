"""LocalStack Lambda runtime executor that runs Python functions as host processes (no Docker).

It speaks the protocol of LocalStack's docker executor: an ``ExecutorEndpoint`` receives the runtime's
``status/ready`` and the ``invocations/<id>/{logs,response,error}`` callbacks, and invokes are POSTed to the
runtime's ``/invoke``. The runtime is ``bootstrap.py`` running on the interpreter that matches the function's
runtime (see ``HOST_EXECUTOR_PYTHONS``). One process is one execution environment and stays warm.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from http import HTTPStatus
from pathlib import Path
from typing import Any

import localstack.config as config
from localstack.aws.api.lambda_ import PackageType
from localstack.http import Response
from localstack.services.lambda_.invocation.executor_endpoint import NAMESPACE, ExecutorEndpoint
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import LambdaRuntimeException, RuntimeExecutor
from werkzeug import Request

LOG = logging.getLogger(__name__)

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
# Extra seconds the executor waits beyond the function timeout before it kills a runtime that did not answer.
KILL_GRACE_S = 5.0
LOG_TAIL_LINES = 2000
# Variables of the LocalStack process a function process may see; everything else comes from Lambda's set.
INHERITED = ("PATH", "LANG", "LC_ALL", "HOME", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


def python_for_runtime(runtime: str) -> str:
    """The interpreter for a Lambda runtime: ``HOST_EXECUTOR_PYTHONS`` (JSON map) or ``pythonX.Y`` on PATH."""
    mapping: dict[str, str] = json.loads(os.environ.get("HOST_EXECUTOR_PYTHONS") or "{}")
    interpreter = mapping.get(runtime) or (shutil.which(runtime) if runtime.startswith("python3.") else None)
    if not interpreter or not os.access(interpreter, os.X_OK):
        supported = ", ".join(sorted(mapping)) or "none configured"
        raise LambdaRuntimeException(
            f"runtime {runtime!r} is not available in the host executor (configured: {supported}); "
            "set HOST_EXECUTOR_PYTHONS"
        )
    return interpreter


def gateway_host() -> str:
    host = str(config.GATEWAY_LISTEN[0].host)
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


class HostExecutorEndpoint(ExecutorEndpoint):  # type: ignore[misc,unused-ignore]
    """The runtime binds an ephemeral port and reports it in the body of ``status/ready``."""

    def status_ready(self, request: Request, executor_id: str) -> Response:
        try:
            self.container_port = int(json.loads(request.data or b"{}")["port"])
        except (ValueError, KeyError, TypeError):
            LOG.warning("runtime %s reported ready without a port: %r", executor_id, request.data)
        if self.startup_future is not None and not self.startup_future.done():
            self.startup_future.set_result(True)
        return Response(status=HTTPStatus.ACCEPTED)


class HostRuntimeExecutor(RuntimeExecutor):  # type: ignore[misc,unused-ignore]
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self.executor_endpoint = HostExecutorEndpoint(
            self.id, container_address="127.0.0.1", container_port=None
        )
        self._env: dict[str, str] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._output: collections.deque[str] = collections.deque(maxlen=LOG_TAIL_LINES)
        self._lock = threading.RLock()
        self._stopped = threading.Event()
        self._tmpdir: str | None = None
        self._current_request: str | None = None

    # -- lifecycle
    def start(self, env_vars: dict[str, str]) -> None:
        self.executor_endpoint.start()
        self._tmpdir = tempfile.mkdtemp(prefix=f"lambda-{self.id}-")
        self._env = self._process_environment(env_vars)
        self._spawn()
        self._wait_ready()

    def _wait_ready(self, timeout_s: float | None = None) -> None:
        future: Future[bool] | None = self.executor_endpoint.startup_future
        if future is None:
            raise LambdaRuntimeException("the executor endpoint was not started")
        try:
            future.result(timeout=timeout_s)
        except FutureTimeout as exc:
            with self._lock:
                process, self._process = self._process, None
            if process is not None:
                _terminate(process)
            raise LambdaRuntimeException(f"the runtime did not get ready within {timeout_s:.0f} s") from exc
        except CancelledError as exc:
            # the environment was stopped while starting (startup timeout or function update)
            raise LambdaRuntimeException("execution environment stopped during startup") from exc

    def _process_environment(self, env_vars: dict[str, Any]) -> dict[str, str]:
        env = {name: os.environ[name] for name in INHERITED if name in os.environ}
        env.update({name: str(value) for name, value in env_vars.items()})
        code = self.function_version.config.code
        if code is None:
            raise LambdaRuntimeException("the host executor runs zip packages only (no code found)")
        env["LAMBDA_TASK_ROOT"] = str(code.get_unzipped_code_location())
        env["LAMBDA_RUNTIME_DIR"] = str(BOOTSTRAP.parent)
        env["TMPDIR"] = self._tmpdir or tempfile.gettempdir()
        env["PYTHONUNBUFFERED"] = "1"
        # what Lambda's Python runtime sets (LocalStack's value is meant to be replaced by the runtime)
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{self.function_version.config.runtime}"
        # The function's own variables win, as on Lambda, except the ones that wire the runtime itself.
        for name, value in (self.function_version.config.environment or {}).items():
            if name not in ("LOCALSTACK_RUNTIME_ENDPOINT", "LOCALSTACK_RUNTIME_ID"):
                env[name] = str(value)
        return env

    def _spawn(self) -> None:
        interpreter = python_for_runtime(str(self.function_version.config.runtime))
        code = self._env["LAMBDA_TASK_ROOT"]
        # -I: no user site, no PYTHON* variables, no script folder on sys.path; bootstrap puts the code first.
        process = subprocess.Popen(
            [interpreter, "-I", str(BOOTSTRAP)],
            cwd=code,
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        with self._lock:
            self._process = process
        LOG.debug("host executor %s: started runtime pid %s (%s)", self.id, process.pid, interpreter)
        threading.Thread(target=self._collect_output, args=(process,), daemon=True).start()

    def _collect_output(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            self._output.append(raw.decode("utf-8", "replace").rstrip("\n"))
        status = process.wait()
        with self._lock:
            if self._stopped.is_set():
                return
            if self._process is process:
                self._process = None
        LOG.debug("host executor %s: runtime pid %s exited with %s", self.id, process.pid, status)
        startup = self.executor_endpoint.startup_future
        if startup is not None and not startup.done():
            startup.set_exception(LambdaRuntimeException(f"runtime exited during init with status {status}"))
        self._fail_pending(f"Runtime exited with error: exit status {status}", "Runtime.ExitError")

    def _fail_pending(self, message: str, error_type: str) -> None:
        future: Future[InvocationResult] | None = self.executor_endpoint.invocation_future
        request_id = self._current_request
        if future is None or future.done() or request_id is None:
            return
        body = json.dumps(
            {"errorMessage": f"RequestId: {request_id} Error: {message}", "errorType": error_type}
        )
        logs = "\n".join(list(self._output)[-50:]) + "\n"
        future.set_result(InvocationResult(request_id, body.encode(), is_error=True, logs=logs))

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            process, self._process = self._process, None
        if process is not None:
            _terminate(process)
        try:
            self.executor_endpoint.shutdown()
        except Exception as exc:
            LOG.debug("host executor %s: endpoint shutdown: %s", self.id, exc)
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    # -- invocation
    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        with self._lock:
            alive = self._process is not None and self._process.poll() is None
        if not alive:
            # The previous runtime ended (a timeout or a crash): initialise a fresh one, as Lambda does.
            self.executor_endpoint.startup_future = Future()
            self._spawn()
            # LocalStack's startup timer covers start() only; a re-initialisation needs its own limit
            self._wait_ready(timeout_s=float(config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT))
        self._current_request = payload["invoke-id"]
        timeout_s = float(self.function_version.config.timeout)
        backstop = threading.Timer(timeout_s + KILL_GRACE_S, self._kill_hung, args=(payload["invoke-id"],))
        backstop.daemon = True
        backstop.start()
        try:
            result: InvocationResult = self.executor_endpoint.invoke(payload)
        finally:
            backstop.cancel()
            self._current_request = None
        if result.is_error and b"Sandbox.Timedout" in (result.payload or b""):
            self._await_exit()  # the runtime ends itself after a timeout; the next invoke gets a fresh one
        return result

    def _await_exit(self, grace_s: float = 3.0) -> None:
        with self._lock:
            process = self._process
        if process is None:
            return
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            _terminate(process)
        with self._lock:
            if self._process is process:
                self._process = None

    def _kill_hung(self, request_id: str) -> None:
        LOG.warning("host executor %s: runtime did not answer %s in time; killing it", self.id, request_id)
        with self._lock:
            process = self._process
        self._fail_pending(
            f"Task timed out after {float(self.function_version.config.timeout):.2f} seconds",
            "Sandbox.Timedout",
        )
        if process is not None:
            _terminate(process)

    # -- addresses and logs
    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return gateway_host()

    def get_runtime_endpoint(self) -> str:
        port = config.GATEWAY_LISTEN[0].port
        return f"http://{gateway_host()}:{port}{NAMESPACE}/{self.id}"

    def get_logs(self) -> str:
        return "\n".join(self._output)

    # -- versions
    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        if function_version.config.package_type != PackageType.Zip:
            raise LambdaRuntimeException("the host executor runs zip packages only (no container images)")
        python_for_runtime(str(function_version.config.runtime))
        if function_version.config.layers:
            LOG.warning("host executor: layers of %s are ignored", function_version.qualified_arn)
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        return None

    @classmethod
    def validate_environment(cls) -> bool:
        return BOOTSTRAP.is_file()


def _terminate(process: subprocess.Popen[bytes], grace_s: float = 3.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(grace_s)
