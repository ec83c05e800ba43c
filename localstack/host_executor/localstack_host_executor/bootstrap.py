"""Per-environment Lambda runtime for the host executor (standard library only).

One process serves one execution environment, like the runtime inside a Lambda container: it imports the
handler once (init), then serves ``POST /invoke`` from LocalStack's executor endpoint and posts the logs and
the response or error back to ``$LOCALSTACK_RUNTIME_ENDPOINT/invocations/<request-id>/...``.

It runs on the interpreter that matches the function's runtime (python3.12 for ours), not on LocalStack's,
so it must not import anything outside the standard library.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib
import json
import os
import queue
import resource
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any, cast

Handler = Callable[[Any, Any], Any]

# Exit status after a timeout: the handler thread cannot be interrupted, so the environment is discarded and
# the executor starts a fresh one for the next invoke (Lambda also re-initialises after a timeout).
EXIT_AFTER_TIMEOUT = 3
_MARK_PREFIX = "\x00host-executor-mark:"


@dataclass(slots=True, frozen=True)
class LambdaError:
    """An error as the Python runtime reports it: ``errorType``, ``errorMessage`` and a stack trace."""

    error_type: str
    message: str
    stack_trace: tuple[str, ...] = ()

    def payload(self, request_id: str = "") -> bytes:
        body: dict[str, Any] = {"errorMessage": self.message, "errorType": self.error_type}
        if request_id:
            body["requestId"] = request_id
        body["stackTrace"] = list(self.stack_trace)
        return json.dumps(body).encode()

    def log_line(self) -> str:
        trace = "".join(self.stack_trace)
        suffix = f"\nTraceback (most recent call last):\n{trace}" if trace else ""
        return f"[ERROR] {self.error_type}: {self.message}{suffix}"


class HandlerLoadError(Exception):
    def __init__(self, error: LambdaError) -> None:
        super().__init__(error.message)
        self.error = error


def _stack_of(exc: BaseException) -> tuple[str, ...]:
    return tuple(traceback.format_list(traceback.extract_tb(exc.__traceback__)))


def load_handler(handler_name: str) -> Handler:
    """Import ``module.function`` as the Python runtime does and classify failures like it."""
    try:
        module_name, function_name = handler_name.rsplit(".", 1)
    except ValueError as exc:
        raise HandlerLoadError(
            LambdaError("Runtime.MalformedHandlerName", f"Bad handler '{handler_name}': {exc}")
        ) from exc
    module_name = module_name.replace("/", ".")
    try:
        module: ModuleType = importlib.import_module(module_name)
    except SyntaxError as exc:
        raise HandlerLoadError(
            LambdaError("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}")
        ) from exc
    except ImportError as exc:
        raise HandlerLoadError(
            LambdaError("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}")
        ) from exc
    except Exception as exc:
        raise HandlerLoadError(
            LambdaError(f"Runtime.{type(exc).__name__}", str(exc), _stack_of(exc))
        ) from exc
    handler = getattr(module, function_name, None)
    if handler is None or not callable(handler):
        raise HandlerLoadError(
            LambdaError(
                "Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'"
            )
        )
    return cast(Handler, handler)


def set_task_root(task_root: str, argv0_dir: str | None = None) -> None:
    """Put the function code first on ``sys.path``, ahead of the runtime's own packages (boto3)."""
    if argv0_dir and argv0_dir in sys.path:
        sys.path.remove(argv0_dir)
    if task_root in sys.path:
        sys.path.remove(task_root)
    sys.path.insert(0, task_root)


@dataclass(slots=True)
class LambdaContext:
    """The context object handed to handlers (the attributes the Python runtime provides)."""

    aws_request_id: str
    invoked_function_arn: str
    function_name: str
    function_version: str
    memory_limit_in_mb: int
    log_group_name: str
    log_stream_name: str
    deadline_monotonic: float
    identity: Any = None
    client_context: Any = None
    tenant_id: str | None = None
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline_monotonic - self.clock()) * 1000))


def make_context(
    environ: Mapping[str, str],
    request_id: str,
    invoked_arn: str,
    timeout_s: float,
    now: float,
    clock: Callable[[], float] = time.monotonic,
) -> LambdaContext:
    return LambdaContext(
        aws_request_id=request_id,
        invoked_function_arn=invoked_arn,
        function_name=environ.get("AWS_LAMBDA_FUNCTION_NAME", ""),
        function_version=environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        memory_limit_in_mb=int(environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")),
        log_group_name=environ.get("AWS_LAMBDA_LOG_GROUP_NAME", ""),
        log_stream_name=environ.get("AWS_LAMBDA_LOG_STREAM_NAME", ""),
        deadline_monotonic=now + timeout_s,
        clock=clock,
    )


@dataclass(slots=True, frozen=True)
class Outcome:
    is_error: bool
    payload: bytes
    log_line: str = ""


def run_handler(handler: Handler, event_text: str, context: LambdaContext) -> Outcome:
    """Call the handler and serialise its result or error exactly once."""
    try:
        event = json.loads(event_text) if event_text else {}
    except ValueError as exc:
        error = LambdaError("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}")
        return Outcome(True, error.payload(context.aws_request_id), error.log_line())
    try:
        result = handler(event, context)
    except Exception as exc:
        # the first frame is this function; Lambda's stack trace starts in the user's code
        frames = traceback.extract_tb(exc.__traceback__)[1:]
        error = LambdaError(type(exc).__name__, str(exc), tuple(traceback.format_list(frames)))
        return Outcome(True, error.payload(context.aws_request_id), error.log_line())
    try:
        return Outcome(False, json.dumps(result).encode())
    except (TypeError, ValueError) as exc:
        error = LambdaError("Runtime.MarshalError", f"Unable to marshal response: {exc}")
        return Outcome(True, error.payload(context.aws_request_id), error.log_line())


def timeout_error(request_id: str, timeout_s: float) -> LambdaError:
    return LambdaError(
        "Sandbox.Timedout", f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds"
    )


def report_line(
    request_id: str, duration_ms: float, memory_mb: int, max_rss_mb: int, init_ms: float | None
) -> str:
    init = f"\tInit Duration: {init_ms:.2f} ms" if init_ms is not None else ""
    return (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {max(1, int(duration_ms + 0.999))} ms\tMemory Size: {memory_mb} MB\t"
        f"Max Memory Used: {max_rss_mb} MB{init}"
    )


class OutputCapture:
    """Routes file descriptors 1 and 2 through a pipe so each invocation's output can be shipped as its logs.

    Everything read is also copied to the original stdout, which the executor keeps as the environment's log.
    ``take()`` writes a marker line through the pipe and waits for it, so output written before the call
    (by the handler, its logging handlers or child processes) is never lost or attributed to the next request.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chunks: list[str] = []
        self._marks: dict[str, threading.Event] = {}
        self._tee_fd = os.dup(1)
        read_fd, write_fd = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(write_fd, 1)
        os.dup2(write_fd, 2)
        os.close(write_fd)
        self._reader = threading.Thread(
            target=self._pump, args=(read_fd,), name="output-capture", daemon=True
        )
        self._reader.start()

    def diagnostic(self, message: str) -> None:
        """A line for the environment log only (not the function's CloudWatch logs)."""
        with contextlib.suppress(OSError):
            os.write(self._tee_fd, f"[host-executor] {message}\n".encode())

    def _pump(self, read_fd: int) -> None:
        pending = b""
        while True:
            chunk = os.read(read_fd, 65536)
            if not chunk:
                return
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                text = self._accept(raw.decode("utf-8", "replace"))
                if text:
                    with contextlib.suppress(OSError):
                        os.write(self._tee_fd, text.encode())

    def _accept(self, line: str) -> str:
        """Record one output line; returns the text to copy to the environment log."""
        with self._lock:
            start = line.find(_MARK_PREFIX)
            if start >= 0 and line.endswith("\x00"):
                token = line[start + len(_MARK_PREFIX) : -1]
                text = line[:start] + "\n" if line[:start] else ""
                if text:
                    self._chunks.append(text)
                event = self._marks.pop(token, None)
                if event is not None:
                    event.set()
                return text
            self._chunks.append(line + "\n")
            return line + "\n"

    def take(self, timeout_s: float = 2.0) -> str:
        """Everything captured since the previous ``take``."""
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        token = uuid.uuid4().hex
        event = threading.Event()
        with self._lock:
            self._marks[token] = event
        os.write(1, f"{_MARK_PREFIX}{token}\x00\n".encode())
        event.wait(timeout_s)
        with self._lock:
            text = "".join(self._chunks)
            self._chunks.clear()
        return text


def post(url: str, body: bytes, content_type: str = "application/json") -> None:
    """POST to LocalStack directly (http.client: no proxy lookup, no CA store loaded for urllib's HTTPS)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=30)
    try:
        connection.request("POST", parts.path, body=body, headers={"Content-Type": content_type})
        response = connection.getresponse()
        response.read()
        if response.status >= 400:
            raise OSError(f"POST {parts.path} answered {response.status}")
    finally:
        connection.close()


@dataclass(slots=True, frozen=True)
class Invocation:
    request_id: str
    invoked_arn: str
    payload: str
    trace_id: str

    @classmethod
    def from_json(cls, body: bytes) -> Invocation:
        document = json.loads(body)
        return cls(
            request_id=str(document["invoke-id"]),
            invoked_arn=str(document.get("invoked-function-arn", "")),
            payload=str(document.get("payload", "")),
            trace_id=str(document.get("trace-id", "")),
        )


class Runtime:
    """Init once, then one invocation at a time, each with its own watchdog."""

    def __init__(self, environ: Mapping[str, str], capture: OutputCapture) -> None:
        self.environ = environ
        self.capture = capture
        self.endpoint = environ["LOCALSTACK_RUNTIME_ENDPOINT"].rstrip("/")
        self.handler_name = environ.get("_HANDLER", "")
        self.timeout_s = float(environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"))
        self.memory_mb = int(environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.handler: Handler | None = None
        self.init_error: LambdaError | None = None
        self.init_ms: float | None = None
        self.invocations: queue.Queue[Invocation] = queue.Queue()

    def init(self) -> None:
        started = time.monotonic()
        try:
            self.handler = load_handler(self.handler_name)
            self.init_error = None
        except HandlerLoadError as exc:
            self.init_error = exc.error
            print(exc.error.log_line(), file=sys.stderr, flush=True)
        self.init_ms = (time.monotonic() - started) * 1000

    def serve_forever(self) -> None:
        while True:
            self.handle(self.invocations.get())

    def _send(self, invocation: Invocation, logs: str, is_error: bool, payload: bytes) -> None:
        base = f"{self.endpoint}/invocations/{invocation.request_id}"
        post(f"{base}/logs", json.dumps({"logs": logs}).encode())
        post(f"{base}/error" if is_error else f"{base}/response", payload)

    def handle(self, invocation: Invocation) -> None:
        os.environ["_X_AMZN_TRACE_ID"] = invocation.trace_id
        version = self.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        started = time.monotonic()
        init_ms, self.init_ms = self.init_ms, None
        finished = threading.Lock()

        def on_timeout() -> None:
            if not finished.acquire(blocking=False):
                return
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            error = timeout_error(invocation.request_id, self.timeout_s)
            logs = (
                f"START RequestId: {invocation.request_id} Version: {version}\n"
                + self.capture.take()
                + f"{stamp} {invocation.request_id} Task timed out after {self.timeout_s:.2f} seconds\n"
                + f"END RequestId: {invocation.request_id}\n"
                + report_line(
                    invocation.request_id, self.timeout_s * 1000, self.memory_mb, _max_rss_mb(), init_ms
                )
                + "\n"
            )
            try:
                self._send(invocation, logs, True, error.payload())
            finally:
                self.capture.diagnostic(f"invocation {invocation.request_id} timed out; exiting")
                os._exit(EXIT_AFTER_TIMEOUT)

        watchdog = threading.Timer(max(0.0, self.timeout_s - (time.monotonic() - started)), on_timeout)
        watchdog.daemon = True
        watchdog.start()
        if self.handler is None:
            self.init()
        if self.handler is None:
            error = self.init_error or LambdaError("Runtime.HandlerNotFound", self.handler_name)
            outcome = Outcome(True, error.payload(), "")
        else:
            context = make_context(
                self.environ, invocation.request_id, invocation.invoked_arn, self.timeout_s, started
            )
            outcome = run_handler(self.handler, invocation.payload, context)
        duration_ms = (time.monotonic() - started) * 1000
        if not finished.acquire(blocking=False):
            return  # the watchdog already answered and is ending the process
        watchdog.cancel()
        if outcome.log_line:
            print(outcome.log_line, file=sys.stderr, flush=True)
        logs = (
            f"START RequestId: {invocation.request_id} Version: {version}\n"
            + self.capture.take()
            + f"END RequestId: {invocation.request_id}\n"
            + report_line(invocation.request_id, duration_ms, self.memory_mb, _max_rss_mb(), init_ms)
            + "\n"
        )
        try:
            self._send(invocation, logs, outcome.is_error, outcome.payload)
        except OSError as exc:
            self.capture.diagnostic(f"could not post the result of {invocation.request_id}: {exc}")


def _max_rss_mb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)


def _serve_http(runtime: Runtime) -> ThreadingHTTPServer:
    class InvokeHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.rstrip("/") != "/invoke":
                self.send_response(404)
                self.end_headers()
                return
            try:
                invocation = Invocation.from_json(body)
            except (ValueError, KeyError) as exc:
                self.send_response(400)
                self.end_headers()
                self.wfile.write(str(exc).encode())
                return
            runtime.invocations.put(invocation)
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return  # keep the request log out of the function's output

    server = ThreadingHTTPServer(("127.0.0.1", 0), InvokeHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="invoke-server", daemon=True).start()
    return server


def _exit_when_orphaned(parent_pid: int) -> None:
    # Lambda processes must not outlive LocalStack, even if it is killed without a chance to stop them.
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(1)


def main() -> None:
    environ = dict(os.environ)
    set_task_root(environ["LAMBDA_TASK_ROOT"], os.path.dirname(os.path.abspath(__file__)))
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    capture = OutputCapture()
    runtime = Runtime(environ, capture)
    server = _serve_http(runtime)
    runtime.init()
    port = server.server_address[1]
    runtime_id = environ.get("LOCALSTACK_RUNTIME_ID", "")
    post(f"{runtime.endpoint}/status/{runtime_id}/ready", json.dumps({"port": port}).encode())
    capture.diagnostic(f"runtime {runtime_id} ready on 127.0.0.1:{port} (python {sys.version.split()[0]})")
    runtime.serve_forever()


if __name__ == "__main__":
    main()
