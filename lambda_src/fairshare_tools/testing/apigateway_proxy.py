"""A loopback HTTP server in front of the api Lambda's handler, as API Gateway (REST v1, AWS_PROXY) is.

Each request becomes the proxy event API Gateway passes (`resource`, `path` without the stage, the stage
path in `requestContext.path`, headers single and multi-valued, the body as text), and the handler's reply
becomes the HTTP response. Unchanged HTTP clients (botocore's Athena client, PyAthena) can then talk to the
handler in-process, on moto or on the in-memory ports.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def proxy_event(
    method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes, stage: str
) -> dict[str, Any]:
    """What API Gateway passes to the Lambda for `<method> /<stage>/<resource>`."""
    path = raw_path.split("?", 1)[0]
    resource = path[len(f"/{stage}") :] if path.startswith(f"/{stage}/") else path
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        multi.setdefault(name, []).append(value)
    return {
        "resource": resource,
        "path": resource,
        "httpMethod": method,
        "headers": {name: values[-1] for name, values in multi.items()},
        "multiValueHeaders": multi,
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "resourceId": "res0",
            "stage": stage,
            "requestId": "req-local",
            "httpMethod": method,
            "path": path,
            "resourcePath": resource,
            "identity": {"apiKeyId": None, "apiKey": None, "sourceIp": "127.0.0.1"},
            "apiId": "local",
        },
        "body": body.decode("utf-8"),
        "isBase64Encoded": False,
    }


@contextmanager
def serve(handler: Handler, stage: str = "test") -> Iterator[str]:
    """Serve `handler` on 127.0.0.1 (a free port); yields the stage's base URL, `http://127.0.0.1:<port>/<stage>`."""

    class Request(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as clients' connection pools expect

        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            reply = handler(proxy_event(self.command, self.path, list(self.headers.items()), body, stage))
            payload = str(reply.get("body") or "").encode("utf-8")
            self.send_response(int(reply["statusCode"]))
            for name, value in (reply.get("headers") or {}).items():
                self.send_header(name, str(value))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_POST = do_GET = do_DELETE = _answer

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Request)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{stage}"
    finally:
        server.shutdown()
        server.server_close()
