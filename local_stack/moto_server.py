"""moto served on loopback, one request at a time.

moto takes no lock per request, so concurrent conditional writes would race inside moto and
tests would exercise moto's races instead of Keel's logic. A lock around the WSGI app makes each
request atomic, like DynamoDB's per-item conditions.

Because every request waits for that one lock, idle polling is not free: pollers asking empty
queues and streams 20 times a second held it ~30 % of the time. So the server also says what
happened (`Activity`): a message sent to a queue (or made visible again), a write to a table.
The local pollers wait for that instead of asking, which is what Lambda's long-polling
event source mappings amount to: a new message is picked up at once, and nobody asks in between.
The server also counts requests per operation (benchmarks).

Calls made inside the stack's own process (the handlers, the pollers, moto's own Step Functions
engine) reach the same app without the loopback hop (`dispatch`): botocore still signs and
serializes the request, moto still parses and answers it, only the socket, werkzeug's thread per
connection and its HTTP parsing are skipped: ~30 % of the stack's CPU per order. Other processes
(tests, the CLI, `aws --endpoint-url`) still use the HTTP endpoint, which serves the same app.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import functools
import io
import json
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


LAMBDA_INVOKE = re.compile(r"^/2015-03-31/functions/[^/]+/invocations$")


# Operations after which a queue may hold a visible message, or a table's stream a new record.
_SQS_WAKERS = {
    "AmazonSQS.SendMessage",
    "AmazonSQS.SendMessageBatch",
    "AmazonSQS.ChangeMessageVisibility",
    "AmazonSQS.ChangeMessageVisibilityBatch",
}
_DYNAMODB_WRITES = {
    "DynamoDB_20120810.PutItem",
    "DynamoDB_20120810.UpdateItem",
    "DynamoDB_20120810.DeleteItem",
    "DynamoDB_20120810.BatchWriteItem",
    "DynamoDB_20120810.TransactWriteItems",
    "DynamoDB_20120810.ExecuteStatement",
    "DynamoDB_20120810.BatchExecuteStatement",
    "DynamoDB_20120810.ExecuteTransaction",
}
_TABLE_NAME = re.compile(rb'"TableName"\s*:\s*"([^"]+)"')


def queue_key(queue_url: str) -> str:
    return "sqs:" + queue_url.rstrip("/").rsplit("/", 1)[-1]


def table_key(table: str) -> str:
    return "table:" + table


class Activity:
    """One event per queue and per table, set when a request may have given its pollers work.
    A poller clears its event, asks, and waits on it only when there was nothing."""

    def __init__(self) -> None:
        self._events: dict[str, threading.Event] = {}
        self._changed: set[str] = set()  # receipt handles a handler changed the visibility of
        self._lock = threading.Lock()

    def event(self, key: str) -> threading.Event:
        with self._lock:
            return self._events.setdefault(key, threading.Event())

    def notify(self, key: str) -> None:
        with self._lock:
            event = self._events.get(key)
        if event is not None:
            event.set()

    def notify_all(self) -> None:
        with self._lock:
            events = list(self._events.values())
        for event in events:
            event.set()

    def visibility_changed(self, receipt_handle: str) -> bool:
        """Whether a ChangeMessageVisibility named this receipt handle (forgotten once asked)."""
        with self._lock:
            if receipt_handle in self._changed:
                self._changed.discard(receipt_handle)
                return True
            return False

    def after(self, target: str, body: bytes) -> None:
        if target in _SQS_WAKERS:
            try:
                request = json.loads(body)
            except ValueError:
                self.notify_all()
                return
            if target == "AmazonSQS.ChangeMessageVisibility":
                with self._lock:
                    self._changed.add(str(request.get("ReceiptHandle")))
            self.notify(queue_key(str(request.get("QueueUrl", ""))))
        elif target in _DYNAMODB_WRITES:
            names = {m.decode() for m in _TABLE_NAME.findall(body)}
            if target.endswith("BatchWriteItem"):
                with contextlib.suppress(ValueError, AttributeError):
                    names.update(json.loads(body).get("RequestItems", {}))
            if not names or target.endswith(("Statement", "ExecuteTransaction")):
                self.notify_all()  # PartiQL names its table inside the statement
                return
            for name in names:
                self.notify(table_key(name))


class SerializedApp:
    """Lambda Invoke is the exception: the in-process handler it runs calls moto itself, so
    holding the lock through it would deadlock; its own calls are serialized one by one."""

    def __init__(self, app: WSGIApp, activity: Activity | None = None) -> None:
        self._app = app
        self.lock = threading.Lock()
        self.activity = activity or Activity()
        self.calls: collections.Counter[str] = collections.Counter()  # per operation

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if LAMBDA_INVOKE.match(environ.get("PATH_INFO", "")):
            self.calls["Lambda.Invoke"] += 1
            return self._run(environ, start_response)
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        body = b""
        if target in _SQS_WAKERS or target in _DYNAMODB_WRITES:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
        with self.lock:
            try:
                return self._run(environ, start_response)
            finally:
                self.calls[target or _rest_operation(environ)] += 1
                if body:
                    self.activity.after(target, body)

    def _run(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        result = self._app(environ, start_response)
        try:
            return [b"".join(result)]  # consume the whole response while still serialized
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()


def _rest_operation(environ: dict[str, Any]) -> str:
    """Services without X-Amz-Target (S3, Lambda's REST API): method and first path part."""
    path = str(environ.get("PATH_INFO", "/")).strip("/").split("/", 1)[0]
    return f"{environ.get('REQUEST_METHOD', '?')} /{path}"


class MotoServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = SerializedApp(DomainDispatcherApplication(create_backend_app))
        self._server: BaseWSGIServer = make_server(
            host,
            port,
            self.app,
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

    def queue_depth(self, account: str, region: str, queue_name: str) -> int:
        """Visible + in flight + delayed, as GetQueueAttributes would answer, read in process
        under the server's lock: watching depths (wait_idle, the benchmarks' sampler) then
        costs no request and does not queue behind the pipeline's."""
        from moto.sqs.models import sqs_backends

        with self.app.lock:
            queue = sqs_backends[account][region].queues[queue_name]
            return int(
                queue.approximate_number_of_messages
                + queue.approximate_number_of_messages_not_visible
                + queue.approximate_number_of_messages_delayed
            )

    def queue_visible(self, account: str, region: str, queue_name: str) -> int:
        """Messages a receive would get now (in process, under the lock, as `queue_depth`)."""
        from moto.sqs.models import sqs_backends

        with self.app.lock:
            queue = sqs_backends[account][region].queues[queue_name]
            return int(queue.approximate_number_of_messages)

    def stream_records(
        self, account: str, region: str, table: str, after: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """The table's stream records after sequence number `after` (None: from the oldest),
        as GetRecords answers them, read in process under the lock: what Lambda's own poller
        does inside AWS, without a request per poll (two, with the iterator) over loopback."""
        from moto.dynamodb.models import dynamodb_backends

        with self.app.lock:
            shard = dynamodb_backends[account][region].get_table(table).stream_shard
            if shard is None:
                return []
            start = shard.starting_sequence_number if after is None else int(after) + 1
            return copy.deepcopy(shard.get(start, limit))

    def dispatch(self, request: Any) -> Any:
        """A botocore request (`AWSPreparedRequest`) answered by the server's app, in the
        calling thread: whatever wraps `_server.app` (the lock, the bench's meter) still runs."""
        from botocore.awsrequest import AWSResponse
        from moto.core.botocore_stubber import MockRawResponse
        from werkzeug.test import EnvironBuilder, run_wsgi_app

        url = urlsplit(request.url)
        body = request.body
        if body is None:
            body = b""
        elif isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, bytes | bytearray):
            body = body.read()
        builder = EnvironBuilder(
            path=url.path or "/",
            base_url=f"{url.scheme}://{url.netloc}",
            query_string=url.query,
            method=request.method,
            headers=[
                (k, v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()
            ],
            data=bytes(body),
        )
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        app_iter, status, headers = run_wsgi_app(self._server.app, environ, buffered=True)
        payload = b"".join(app_iter)
        return AWSResponse(
            request.url, int(status.split(" ", 1)[0]), dict(headers), MockRawResponse(payload)
        )

    @property
    def _netlocs(self) -> tuple[str, ...]:
        """The names its endpoint goes by: moto's Step Functions engine calls Lambda at
        `localhost:<port>` (MOTO_PORT), the stack at the address it listens on."""
        host, port = self._server.server_address[:2]
        return (self._netloc, f"localhost:{port}") if host == "127.0.0.1" else (self._netloc,)

    def start(self) -> None:
        self._thread.start()
        for netloc in self._netlocs:
            _IN_PROCESS[netloc] = self
        _install_botocore_hook()

    @property
    def _netloc(self) -> str:
        return urlsplit(self.endpoint).netloc

    def stop(self) -> None:
        for netloc in self._netlocs:
            _IN_PROCESS.pop(netloc, None)
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# Servers running in this process, by the host:port their endpoint names.
_IN_PROCESS: dict[str, MotoServer] = {}


def _in_process(request: Any, **_: Any) -> Any:
    """botocore's `before-send`: a response short-circuits the HTTP send (moto's own mock works
    the same way). Requests to anything but a running in-process server go out as usual."""
    server = _IN_PROCESS.get(urlsplit(request.url).netloc) if _IN_PROCESS else None
    return None if server is None else server.dispatch(request)


@functools.cache
def _install_botocore_hook() -> None:
    """Every botocore session made from now on (each function's cold start makes one) gets it."""
    from botocore.handlers import BUILTIN_HANDLERS

    BUILTIN_HANDLERS.append(("before-send", _in_process))
