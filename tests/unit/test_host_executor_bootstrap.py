"""The host Lambda executor's runtime (bootstrap.py): handler loading, context, results, logs, timeouts.

bootstrap.py runs on the function's interpreter and uses only the standard library, so it is loaded here by
path; nothing in these tests opens a socket (the callbacks to LocalStack are replaced by a recorder).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BOOTSTRAP_PATH = (
    Path(__file__).resolve().parents[2]
    / "localstack"
    / "host_executor"
    / "localstack_host_executor"
    / "bootstrap.py"
)


def _load_bootstrap() -> ModuleType:
    spec = importlib.util.spec_from_file_location("host_executor_bootstrap", BOOTSTRAP_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bootstrap = _load_bootstrap()


@pytest.fixture
def task_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A function's code folder first on sys.path; its modules are forgotten afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def _write(root: Path, name: str, source: str) -> None:
    (root / name).write_text(textwrap.dedent(source))


def _context(timeout_s: float = 3.0, clock: Any = time.monotonic) -> Any:
    environ = {
        "AWS_LAMBDA_FUNCTION_NAME": "dispatcher",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/dispatcher",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/22/[$LATEST]abc",
    }
    return bootstrap.make_context(
        environ,
        "req-1",
        "arn:aws:lambda:us-east-1:000000000000:function:dispatcher",
        timeout_s,
        clock(),
        clock,
    )


# --- handler loading
def test_a_handler_in_a_package_is_loaded_from_the_task_root(task_root: Path) -> None:
    (task_root / "pkg").mkdir()
    _write(task_root, "pkg/__init__.py", "")
    _write(task_root, "pkg/handlers.py", "def handler(event, context):\n    return event['n'] * 2\n")
    handler = bootstrap.load_handler("pkg.handlers.handler")
    assert handler({"n": 21}, None) == 42


@pytest.mark.parametrize(
    ("handler_name", "source", "error_type", "message_part"),
    [
        ("nodot", None, "Runtime.MalformedHandlerName", "Bad handler 'nodot'"),
        (
            "missing_module.handler",
            None,
            "Runtime.ImportModuleError",
            "Unable to import module 'missing_module'",
        ),
        (
            "broken.handler",
            "def handler(:\n",
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module 'broken'",
        ),
        ("app.nothing", "def handler(e, c):\n    return 1\n", "Runtime.HandlerNotFound", "Handler 'nothing'"),
        ("failing.handler", "raise RuntimeError('no config')\n", "Runtime.RuntimeError", "no config"),
    ],
)
def test_handler_load_failures_are_classified_like_the_python_runtime(
    task_root: Path, handler_name: str, source: str | None, error_type: str, message_part: str
) -> None:
    if source is not None:
        _write(task_root, handler_name.split(".")[0] + ".py", source)
    with pytest.raises(bootstrap.HandlerLoadError) as raised:
        bootstrap.load_handler(handler_name)
    assert raised.value.error.error_type == error_type
    assert message_part in raised.value.error.message


def test_the_task_root_goes_first_on_sys_path_and_the_bootstrap_folder_is_removed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "path", ["/bootstrap/dir", "/stdlib", "/runtime/site-packages", "/code"])
    bootstrap.set_task_root("/code", "/bootstrap/dir")
    assert sys.path == ["/code", "/stdlib", "/runtime/site-packages"]


# --- context and results
def test_the_context_carries_the_function_identity_and_counts_down_the_remaining_time() -> None:
    now = [100.0]
    context = _context(timeout_s=3.0, clock=lambda: now[0])
    assert context.function_name == "dispatcher"
    assert context.memory_limit_in_mb == 512
    assert context.aws_request_id == "req-1"
    assert context.invoked_function_arn.endswith(":function:dispatcher")
    assert context.log_group_name == "/aws/lambda/dispatcher"
    assert context.get_remaining_time_in_millis() == 3000
    now[0] = 101.25
    assert context.get_remaining_time_in_millis() == 1750
    now[0] = 200.0
    assert context.get_remaining_time_in_millis() == 0


def test_a_result_is_serialised_as_json() -> None:
    outcome = bootstrap.run_handler(lambda event, context: {"got": event}, '{"a": 1}', _context())
    assert outcome.is_error is False
    assert json.loads(outcome.payload) == {"got": {"a": 1}}


def test_none_is_serialised_as_json_null() -> None:
    assert bootstrap.run_handler(lambda event, context: None, "{}", _context()).payload == b"null"


def test_an_exception_becomes_an_error_payload_with_the_user_stack_only(task_root: Path) -> None:
    _write(task_root, "app.py", "def handler(event, context):\n    raise KeyError('tenant')\n")
    handler = bootstrap.load_handler("app.handler")
    outcome = bootstrap.run_handler(handler, "{}", _context())
    body = json.loads(outcome.payload)
    assert outcome.is_error is True
    assert body["errorType"] == "KeyError"
    assert body["errorMessage"] == "'tenant'"
    assert body["requestId"] == "req-1"
    assert len(body["stackTrace"]) == 1 and "app.py" in body["stackTrace"][0]
    assert outcome.log_line.startswith("[ERROR] KeyError: 'tenant'\nTraceback (most recent call last):")


def test_an_unserialisable_result_is_a_marshal_error() -> None:
    outcome = bootstrap.run_handler(lambda event, context: {1, 2}, "{}", _context())
    assert outcome.is_error is True
    assert json.loads(outcome.payload)["errorType"] == "Runtime.MarshalError"


def test_an_event_that_is_not_json_is_an_unmarshal_error() -> None:
    outcome = bootstrap.run_handler(lambda event, context: event, "{not json", _context())
    assert json.loads(outcome.payload)["errorType"] == "Runtime.UnmarshalError"


def test_the_report_line_rounds_the_billed_duration_up() -> None:
    line = bootstrap.report_line("req-1", 12.3, 256, 40, None)
    assert line == (
        "REPORT RequestId: req-1\tDuration: 12.30 ms\tBilled Duration: 13 ms\t"
        "Memory Size: 256 MB\tMax Memory Used: 40 MB"
    )
    assert bootstrap.report_line("r", 1.0, 128, 30, 250.0).endswith("\tInit Duration: 250.00 ms")


def test_an_invoke_request_is_parsed_from_the_executor_payload() -> None:
    invocation = bootstrap.Invocation.from_json(
        json.dumps(
            {"invoke-id": "r1", "invoked-function-arn": "arn:x", "payload": "{}", "trace-id": "Root=1"}
        ).encode()
    )
    assert invocation == bootstrap.Invocation("r1", "arn:x", "{}", "Root=1")


# --- one invocation through the runtime, callbacks recorded
class _Capture:
    def __init__(self) -> None:
        self.diagnostics: list[str] = []

    def take(self, timeout_s: float = 2.0) -> str:
        return "handler output\n"

    def diagnostic(self, message: str) -> None:
        self.diagnostics.append(message)


@pytest.fixture
def posts(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bytes]]:
    recorded: list[tuple[str, bytes]] = []
    monkeypatch.setattr(bootstrap, "post", lambda url, body, content_type="": recorded.append((url, body)))
    return recorded


def _runtime(task_root: Path, source: str, timeout_s: str = "3") -> Any:
    _write(task_root, "app.py", source)
    environ = {
        "LOCALSTACK_RUNTIME_ENDPOINT": "http://127.0.0.1:4566/_localstack_lambda/env1",
        "_HANDLER": "app.handler",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": timeout_s,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_NAME": "api",
    }
    return bootstrap.Runtime(environ, _Capture())


def test_an_invocation_posts_its_logs_then_its_response(
    task_root: Path, posts: list[tuple[str, bytes]]
) -> None:
    runtime = _runtime(task_root, "def handler(event, context):\n    return {'ok': event['n']}\n")
    runtime.init()
    runtime.handle(bootstrap.Invocation("r1", "arn:x", '{"n": 1}', "Root=1"))
    base = "http://127.0.0.1:4566/_localstack_lambda/env1/invocations/r1"
    assert [url for url, _ in posts] == [f"{base}/logs", f"{base}/response"]
    logs = json.loads(posts[0][1])["logs"].splitlines()
    assert logs[0] == "START RequestId: r1 Version: $LATEST"
    assert logs[1] == "handler output"
    assert logs[2] == "END RequestId: r1"
    assert logs[3].startswith("REPORT RequestId: r1\tDuration: ") and "Init Duration" in logs[3]
    assert json.loads(posts[1][1]) == {"ok": 1}


def test_an_init_failure_is_answered_on_every_invoke(task_root: Path, posts: list[tuple[str, bytes]]) -> None:
    runtime = _runtime(task_root, "import not_installed_anywhere\ndef handler(e, c):\n    return 1\n")
    runtime.init()
    runtime.handle(bootstrap.Invocation("r1", "arn:x", "{}", ""))
    runtime.handle(bootstrap.Invocation("r2", "arn:x", "{}", ""))
    errors = [json.loads(body) for url, body in posts if url.endswith("/error")]
    assert [error["errorType"] for error in errors] == ["Runtime.ImportModuleError"] * 2


def test_a_timeout_answers_with_sandbox_timedout_and_ends_the_process(
    task_root: Path, posts: list[tuple[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    exited = threading.Event()
    monkeypatch.setattr(bootstrap.os, "_exit", lambda status: exited.set())
    runtime = _runtime(
        task_root, "import time\ndef handler(e, c):\n    time.sleep(0.6)\n    return 1\n", "0.2"
    )
    runtime.init()
    started = time.monotonic()
    runtime.handle(bootstrap.Invocation("r1", "arn:x", "{}", ""))
    assert exited.wait(2), "the runtime did not end itself after the timeout"
    assert time.monotonic() - started < 2
    urls = [url.rsplit("/", 1)[1] for url, _ in posts]
    assert urls == ["logs", "error"], "the late result must not be posted after the timeout answer"
    error = json.loads(posts[1][1])
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"] == "RequestId: r1 Error: Task timed out after 0.20 seconds"
    assert "Task timed out after 0.20 seconds" in json.loads(posts[0][1])["logs"]


# --- output capture (file descriptors 1 and 2), in a child process so pytest's own capture is untouched
def test_output_capture_collects_stdout_stderr_and_child_processes_per_invocation(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import importlib.util, json, os, sys
        spec = importlib.util.spec_from_file_location("bootstrap", {str(BOOTSTRAP_PATH)!r})
        bootstrap = importlib.util.module_from_spec(spec)
        sys.modules["bootstrap"] = bootstrap
        spec.loader.exec_module(bootstrap)
        capture = bootstrap.OutputCapture()
        print("from print")
        print("from stderr", file=sys.stderr)
        os.system("echo from a child process")
        sys.stdout.write("no newline yet")
        first = capture.take()
        print("second invocation")
        second = capture.take()
        with open({str(tmp_path / "out.json")!r}, "w") as handle:
            json.dump([first, second], handle)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    first, second = json.loads((tmp_path / "out.json").read_text())
    assert first == "from print\nfrom stderr\nfrom a child process\nno newline yet\n"
    assert second == "second invocation\n"
    assert "from print" in result.stdout and "host-executor-mark" not in result.stdout
