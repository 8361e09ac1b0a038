"""The local HTTP server survives bursts of clients and requests whose framing is wrong."""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from local_stack.http import (
    MAX_BODY_BYTES,
    BadRequest,
    LocalHttpServer,
    Request,
    Response,
    content_length,
)


def echo(request: Request) -> Response:
    return Response.json(200, {"path": request.path, "length": len(request.body)})


@pytest.fixture(scope="module")
def server() -> Iterator[LocalHttpServer]:
    srv = LocalHttpServer("test-http", echo)
    srv.start()
    yield srv
    srv.stop()


def _address(srv: LocalHttpServer) -> tuple[str, int]:
    host, port = srv.url.removeprefix("http://").split(":")
    return host, int(port)


def raw_exchange(srv: LocalHttpServer, head: bytes, timeout: float = 5) -> bytes:
    """Send raw bytes and read until the server closes the connection."""
    with socket.create_connection(_address(srv), timeout=timeout) as sock:
        sock.sendall(head)
        chunks: list[bytes] = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def status_and_body(raw: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


def get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as response:
        result: dict[str, object] = json.loads(response.read())
        return result


@pytest.mark.parametrize("value", ["abc", "-1", "+5", " ", "1.5", "0x10", "١٢"])
def test_a_bad_content_length_is_a_400_and_the_server_keeps_serving(
    server: LocalHttpServer, value: str
) -> None:
    head = f"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: {value}\r\n\r\n".encode()
    status, body = status_and_body(raw_exchange(server, head))
    assert status == 400
    assert "Content-Length" in str(body["message"])
    assert get(server.url + "/after") == {"path": "/after", "length": 0}


def test_conflicting_content_lengths_are_refused(server: LocalHttpServer) -> None:
    head = b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"
    assert status_and_body(raw_exchange(server, head))[0] == 400


@pytest.mark.parametrize("length", [MAX_BODY_BYTES + 1, 10**30, int("9" * 2000)])
def test_an_oversized_body_is_a_413_without_being_read(
    server: LocalHttpServer, length: int
) -> None:
    # No body follows: had the server tried to read it, the exchange would time out.
    head = f"POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: {length}\r\n\r\n".encode()
    status, body = status_and_body(raw_exchange(server, head, timeout=3))
    assert status == 413
    assert "exceeds" in str(body["message"])
    assert get(server.url + "/after")["path"] == "/after"


def test_a_well_formed_body_is_read(server: LocalHttpServer) -> None:
    head = b"POST /ok HTTP/1.1\r\nHost: t\r\nContent-Length: 005\r\nConnection: close\r\n\r\nhello"
    assert status_and_body(raw_exchange(server, head)) == (200, {"path": "/ok", "length": 5})


def test_content_length_parsing() -> None:
    assert content_length(None) == 0
    assert content_length(["12"]) == 12
    assert content_length(["7", "7"]) == 7
    assert content_length([str(MAX_BODY_BYTES)]) == MAX_BODY_BYTES
    with pytest.raises(BadRequest) as too_big:
        content_length([str(MAX_BODY_BYTES + 1)])
    assert too_big.value.status == 413


def test_sixty_concurrent_clients_all_get_answers(server: LocalHttpServer) -> None:
    with ThreadPoolExecutor(max_workers=60) as pool:
        answers = list(pool.map(lambda n: get(f"{server.url}/c{n}"), range(60)))
    assert [a["path"] for a in answers] == [f"/c{n}" for n in range(60)]


def test_connections_queue_while_the_server_is_not_accepting() -> None:
    """Sixty clients connect before the accept loop runs: the listen backlog must hold them
    all (the standard library's backlog of 5 leaves the rest timing out on connect)."""
    srv = LocalHttpServer("test-backlog", echo)
    sockets: list[socket.socket] = []
    try:
        for n in range(60):
            sock = socket.create_connection(_address(srv), timeout=1)
            sock.sendall(f"GET /q{n} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
            sockets.append(sock)
        srv.start()
        for n, sock in enumerate(sockets):
            sock.settimeout(10)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
            assert status_and_body(data) == (200, {"path": f"/q{n}", "length": 0})
    finally:
        for sock in sockets:
            sock.close()
        srv.stop()


def test_a_chunked_body_is_read_whole(server: LocalHttpServer) -> None:
    """#19.8: a chunked body reached the app as empty (a signed webhook then failed)."""
    raw = raw_exchange(
        server,
        b"POST /hook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: y\r\n\r\n",
    )
    assert status_and_body(raw) == (200, {"path": "/hook", "length": 12})


def test_a_malformed_chunked_body_is_a_400(server: LocalHttpServer) -> None:
    raw = raw_exchange(
        server,
        b"POST /hook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n",
    )
    assert status_and_body(raw)[0] == 400


def test_options_reaches_the_app_not_a_501(server: LocalHttpServer) -> None:
    raw = raw_exchange(server, b"OPTIONS /hook HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_and_body(raw) == (200, {"path": "/hook", "length": 0})
