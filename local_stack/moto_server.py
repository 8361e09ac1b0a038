"""moto served on loopback, one request at a time.

moto takes no lock per request, so concurrent conditional writes would race inside moto and
tests would exercise moto's races instead of Keel's logic. A lock around the WSGI app makes each
request atomic, like DynamoDB's per-item conditions.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


LAMBDA_INVOKE = re.compile(r"^/2015-03-31/functions/[^/]+/invocations$")


class SerializedApp:
    """Lambda Invoke is the exception: the in-process handler it runs calls moto itself, so
    holding the lock through it would deadlock; its own calls are serialized one by one."""

    def __init__(self, app: WSGIApp) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if LAMBDA_INVOKE.match(environ.get("PATH_INFO", "")):
            return self._run(environ, start_response)
        with self._lock:
            return self._run(environ, start_response)

    def _run(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        result = self._app(environ, start_response)
        try:
            return [b"".join(result)]  # consume the whole response while still serialized
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()


class MotoServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server: BaseWSGIServer = make_server(
            host,
            port,
            SerializedApp(DomainDispatcherApplication(create_backend_app)),
            threaded=True,
            request_handler=MotoRequestHandler,
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
