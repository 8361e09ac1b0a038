"""A small threaded HTTP server on loopback, shared by the gateway and the channel sandboxes."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # as received (case kept)
    body: bytes


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
        return cls(
            status,
            json.dumps(payload).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )


App = Callable[[Request], Response]

MAX_BODY_BYTES = 12 * 1024 * 1024  # above any body a channel sends; larger is refused unread
LISTEN_BACKLOG = 128  # the standard library's 5 drops connections from a burst of clients
_DIGITS = re.compile(r"[0-9]+")


class BadRequest(Exception):
    """A request whose framing cannot be trusted: answered, then the connection is closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def content_length(values: list[str] | None, limit: int = MAX_BODY_BYTES) -> int:
    """The body length a request declares. Anything but one plain decimal number is refused
    (400) rather than trusted: `int()` would take "-1", " 5" or non-ASCII digits, and a
    negative length makes `read()` wait for the client to hang up."""
    if not values:
        return 0
    distinct = {v.strip() for v in values}
    if len(distinct) != 1:
        raise BadRequest(400, "conflicting Content-Length headers")
    (raw,) = distinct
    if not _DIGITS.fullmatch(raw):
        raise BadRequest(400, f"invalid Content-Length: {raw[:40]!r}")
    digits = raw.lstrip("0") or "0"
    length = int(digits) if len(digits) <= len(str(limit)) else limit + 1  # no 60 kB int()
    if length > limit:
        raise BadRequest(413, f"body of {raw[:40]} bytes exceeds the limit of {limit}")
    return length


def read_chunked(stream: Any, limit: int = MAX_BODY_BYTES) -> bytes:
    """A `Transfer-Encoding: chunked` body (what clients stream without a Content-Length), as
    API Gateway takes it: the chunks joined, trailers dropped; over `limit` is refused (413),
    a malformed chunk size 400."""
    body = bytearray()
    while True:
        line = stream.readline(1026)
        size_text = line.split(b";", 1)[0].strip()
        if not size_text or not all(c in b"0123456789abcdefABCDEF" for c in size_text):
            raise BadRequest(400, "malformed chunked body")
        size = int(size_text[:16], 16)
        if size == 0:
            while stream.readline(65537) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return bytes(body)
        if len(body) + size > limit:
            raise BadRequest(413, f"chunked body exceeds the limit of {limit}")
        chunk = stream.read(size)
        if len(chunk) != size:
            raise BadRequest(400, "chunked body ended early")
        body += chunk
        stream.readline(3)  # the CRLF after the chunk


class _Server(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True
    # Clients keep connections alive (the sync function's httpx pool does): stopping must
    # not wait for them to hang up.
    block_on_close = False


class LocalHttpServer:
    def __init__(self, name: str, app: App, host: str = "127.0.0.1", port: int = 0) -> None:
        self.name = name

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 30  # an idle keep-alive connection ends rather than pinning its thread

            def _serve(self) -> None:
                chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
                try:
                    length = content_length(self.headers.get_all("Content-Length"))
                    body = read_chunked(self.rfile) if chunked else b""
                except BadRequest as bad:
                    # The body's end is unknown, so this connection cannot carry another
                    # request: answer, then close it. The server keeps serving others.
                    self.close_connection = True
                    self._send(
                        Response.json(bad.status, {"message": bad.message}, {"Connection": "close"})
                    )
                    return
                parts = urlsplit(self.path)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k: v for k, v in self.headers.items()},
                    body=body if chunked else (self.rfile.read(length) if length else b""),
                )
                try:
                    response = app(request)
                except Exception as exc:  # a bug in local equipment: say so, like a 500 would
                    response = Response.json(500, {"message": f"{type(exc).__name__}: {exc}"})
                self._send(response)

            def _send(self, response: Response) -> None:
                self.send_response(response.status)
                for key, value in response.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)

            # Every method reaches the app, which answers as its original would (API Gateway:
            # 404/403 for a method no route declares), never the standard library's 501.
            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _Server((host, port), _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Safe on a server never started: `shutdown()` would wait for a serve loop forever."""
        running = self._thread.is_alive()
        if running:
            self._server.shutdown()
        self._server.server_close()
        if running:
            self._thread.join(timeout=5)
