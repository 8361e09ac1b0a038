"""Counting what a local run does, from its edges: the moto server, the Lambda runtime, httpx.

Nothing is estimated from a model of Keel: every figure is a count of requests that happened
(moto requests by operation, DynamoDB request units from the items' sizes, SQS requests in
64 KB chunks, Lambda invocations and their duration, channel API calls by host). The meter wraps
instruments the bench owns; it never changes what the stack does.
"""

from __future__ import annotations

import base64
import io
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from local_stack.stack import LocalStack

_DDB = "DynamoDB_20120810."
_WRITE_ONE = {"PutItem", "UpdateItem", "DeleteItem"}
_WRITES = _WRITE_ONE | {"TransactWriteItems", "BatchWriteItem"}


def _writes(op: str, request: dict[str, Any]) -> list[tuple[str, Any, Any, int]]:
    """(table, key or None, item written or None, units per KB) for each item a write names:
    a transaction's items (condition checks too) cost two units per KB, others one."""
    if op in _WRITE_ONE:
        return [(str(request.get("TableName")), request.get("Key"), request.get("Item"), 1)]
    found: list[tuple[str, Any, Any, int]] = []
    if op == "TransactWriteItems":
        for entry in request.get("TransactItems", []):
            spec = next(iter(entry.values()))
            found.append((str(spec.get("TableName")), spec.get("Key"), spec.get("Item"), 2))
    elif op == "BatchWriteItem":
        for table, writes in request.get("RequestItems", {}).items():
            for w in writes:
                put, delete = w.get("PutRequest", {}), w.get("DeleteRequest", {})
                found.append((str(table), delete.get("Key"), put.get("Item"), 1))
    return found


def _encoder() -> type[json.JSONEncoder]:
    from moto.dynamodb.models.utilities import DynamoJsonEncoder

    return DynamoJsonEncoder


def _size(item: Any) -> int:
    """An item's size (typed, as on the wire) by DynamoDB's rules ("Item sizes and formats"):
    each attribute's name and value in UTF-8 bytes; a number one byte per two significant
    digits plus one; binary its raw bytes; a boolean or null one byte; a list or map three
    bytes plus one per element (and each map key's bytes)."""
    if not isinstance(item, dict):
        return 0
    return sum(len(str(name).encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: Any) -> int:
    ((kind, v),) = value.items()
    if kind == "S":
        return len(str(v).encode())
    if kind == "N":
        return _number_size(str(v))
    if kind == "B":
        return len(base64.b64decode(v))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(e).encode()) for e in v)
    if kind == "NS":
        return sum(_number_size(str(e)) for e in v)
    if kind == "BS":
        return sum(len(base64.b64decode(e)) for e in v)
    if kind == "L":
        return 3 + sum(1 + _value_size(e) for e in v)
    if kind == "M":
        return 3 + sum(1 + len(str(k).encode()) + _value_size(e) for k, e in v.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def _number_size(number: str) -> int:
    mantissa = number.lstrip("+-").lower().split("e")[0].replace(".", "")
    digits = mantissa.strip("0")
    return (len(digits) + 1) // 2 + 1


@dataclass
class Counts:
    calls: Counter[str] = field(default_factory=Counter)  # moto requests by operation
    read_units: float = 0.0  # DynamoDB RRU (on-demand read request units)
    write_units: float = 0.0  # DynamoDB WRU
    sqs_requests: int = 0  # billed SQS requests (64 KB chunks)
    sqs_empty_receives: int = 0  # of which receives that returned nothing (the local pollers')
    secrets_calls: int = 0
    invocations: Counter[str] = field(default_factory=Counter)  # by function
    duration_ms: Counter[str] = field(default_factory=Counter)  # by function, summed
    handled: Counter[tuple[str, str]] = field(default_factory=Counter)  # (function, SQS msg id)
    channel_calls: Counter[str] = field(default_factory=Counter)  # by channel (API, not control)

    def minus(self, before: Counts) -> Counts:
        out = Counts()
        for name in ("calls", "invocations", "duration_ms", "handled", "channel_calls"):
            counter: Counter[Any] = Counter(getattr(self, name))
            counter.subtract(getattr(before, name))
            setattr(out, name, +counter)
        out.read_units = self.read_units - before.read_units
        out.write_units = self.write_units - before.write_units
        out.sqs_requests = self.sqs_requests - before.sqs_requests
        out.sqs_empty_receives = self.sqs_empty_receives - before.sqs_empty_receives
        out.secrets_calls = self.secrets_calls - before.secrets_calls
        return out


class Meter:
    IGNORED = frozenset({"AmazonSQS.GetQueueAttributes"})  # the bench's own queue sampling

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self._lock = threading.Lock()
        self._local = threading.local()  # a write's units, sized under moto's lock
        # Request units and SQS sizes are priced by the cost part only: parsing every request
        # and sizing every write inside moto's lock slowed the pipeline the propagation part
        # times (15 % of the server's time). Outside `pricing()`, requests are only counted.
        self.pricing_on = False
        self.counts = Counts()
        self._hosts = {
            urlsplit(stack.sandbox_url(c)).netloc: c for c in stack.sandboxes
        }  # channel sandboxes only (carriers are not channels)
        self._wrap_moto()
        self._wrap_runtime()
        self._wrap_httpx()

    @contextmanager
    def pricing(self) -> Iterator[None]:
        self.pricing_on = True
        try:
            yield
        finally:
            self.pricing_on = False

    def snapshot(self) -> Counts:
        with self._lock:
            return self.counts.minus(Counts())

    # --- moto ---
    def _wrap_moto(self) -> None:
        server = self.stack.moto._server  # the bench's own instrument
        inner = server.app

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            target = str(environ.get("HTTP_X_AMZ_TARGET") or "")
            if not target:
                path = str(environ.get("PATH_INFO", "/")).split("/")
                target = f"{environ.get('REQUEST_METHOD')} /{path[1] if len(path) > 1 else ''}"
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            result = b"".join(inner(environ, start_response))
            if target in self.IGNORED:
                pass
            elif self.pricing_on:
                self._count(target, body, result)
            else:
                with self._lock:
                    self.counts.calls[target] += 1
            return [result]

        server.app = app
        self._wrap_moto_writes()

    def _wrap_moto_writes(self) -> None:
        """DynamoDB bills a write by the larger of the item's size before and after it (a
        delete by the item deleted): sizes read from moto's tables around each write, inside
        the server's lock (SerializedApp runs `_app` under it), so nothing moves between."""
        serialized = self.stack.moto.app
        inner = getattr(serialized, "_app", None)
        if inner is None:  # an older stack: writes are sized from the request alone
            return
        from moto.dynamodb.models import dynamodb_backends

        backend = dynamodb_backends[self.stack.config.account][self.stack.config.region]

        def sized(table: str, key: dict[str, Any]) -> int:
            try:
                item = backend.get_item(table, key)
            except Exception:
                return 0
            if item is None:
                return 0
            return _size(json.loads(json.dumps(item.to_json()["Attributes"], cls=_encoder())))

        def key_of(table: str, item: dict[str, Any]) -> dict[str, Any]:
            t = backend.get_table(table)
            names = [t.hash_key_attr, *([t.range_key_attr] if t.range_key_attr else [])]
            return {n: item[n] for n in names if n in item}

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            op = str(environ.get("HTTP_X_AMZ_TARGET") or "").removeprefix(_DDB)
            if op not in _WRITES or not self.pricing_on:
                return inner(environ, start_response)
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            writes = _writes(op, _json(body))  # (table, key or None, item written or None, x)
            keys = [(t, k if k is not None else key_of(t, i or {})) for t, k, i, _ in writes]
            before = [sized(t, k) for t, k in keys]
            result = inner(environ, start_response)
            after = [sized(t, k) for t, k in keys]
            units = 0.0
            for (_t, _k, item, factor), b, a in zip(writes, before, after, strict=True):
                largest = max(b, a, _size(item) if item else 0)
                units += factor * math.ceil(max(1, largest) / 1024)
            self._local.write_units = units
            return result

        serialized._app = app

    def _count(self, target: str, body: bytes, response: bytes) -> None:
        units_r = units_w = 0.0
        op = target.removeprefix(_DDB)
        if target.startswith(_DDB):
            request = _json(body)
            answer = _json(response)
            exact = getattr(self._local, "write_units", None)
            self._local.write_units = None
            if op in _WRITES and exact is not None:
                units_w = exact
            elif op in _WRITE_ONE:
                units_w = math.ceil(max(1, _size(request.get("Item", request.get("Key")))) / 1024)
            elif op == "TransactWriteItems":
                for entry in request.get("TransactItems", []):
                    spec = next(iter(entry.values()))
                    size = _size(spec.get("Item", spec.get("Key")))
                    units_w += 2 * math.ceil(max(1, size) / 1024)
            elif op == "BatchWriteItem":
                for writes in request.get("RequestItems", {}).values():
                    for w in writes:
                        item = w.get("PutRequest", {}).get("Item") or w.get(
                            "DeleteRequest", {}
                        ).get("Key")
                        units_w += math.ceil(max(1, _size(item)) / 1024)
            elif op == "GetItem":
                factor = 1.0 if request.get("ConsistentRead") else 0.5
                units_r = factor * math.ceil(max(1, _size(answer.get("Item", {}))) / 4096)
            elif op == "BatchGetItem":
                # Each key as its own GetItem (a missing item costs the minimum, as there);
                # keys left unprocessed are not read.
                unprocessed = answer.get("UnprocessedKeys") or {}
                for table, spec in request.get("RequestItems", {}).items():
                    factor = 1.0 if spec.get("ConsistentRead") else 0.5
                    items = answer.get("Responses", {}).get(table, [])
                    left = len(unprocessed.get(table, {}).get("Keys", []))
                    missing = len(spec.get("Keys", [])) - left - len(items)
                    sizes = sum(math.ceil(max(1, _size(i)) / 4096) for i in items)
                    units_r += factor * (sizes + max(0, missing))
            elif op in {"Query", "Scan"}:
                factor = 1.0 if request.get("ConsistentRead") else 0.5
                size = sum(_size(i) for i in answer.get("Items", []))
                units_r = factor * max(1, math.ceil(size / 4096))
        with self._lock:
            self.counts.calls[target] += 1
            self.counts.read_units += units_r
            self.counts.write_units += units_w
            if target.startswith("AmazonSQS."):
                self.counts.sqs_requests += max(1, math.ceil(len(body) / 65536))
                if target == "AmazonSQS.ReceiveMessage" and not _json(response).get("Messages"):
                    self.counts.sqs_empty_receives += 1
            if target.startswith("secretsmanager."):
                self.counts.secrets_calls += 1

    # --- Lambda ---
    def _wrap_runtime(self) -> None:
        """Every invocation, whoever made it (gateway, pollers, Step Functions): the runtime's
        observers. A stack without them (an older commit, for A/B runs) is counted at its
        pollers, which then misses the gateway's and Step Functions' invocations."""
        runtime = self.stack.runtime
        if hasattr(runtime, "observers"):
            runtime.observers.append(self._invoked)
            return
        for poller in self.stack.pollers:
            invoke = getattr(poller, "_invoke", None)
            if invoke is not None:
                poller._invoke = self._timed(invoke)  # type: ignore[attr-defined]

    def _timed(self, invoke: Callable[[str, dict[str, Any]], Any]) -> Any:
        def timed(name: str, event: dict[str, Any]) -> Any:
            started = time.perf_counter()
            try:
                return invoke(name, event)
            finally:
                self._invoked(name, event, (time.perf_counter() - started) * 1000)

        return timed

    def _invoked(self, name: str, event: dict[str, Any], elapsed_ms: float) -> None:
        with self._lock:
            self.counts.invocations[name] += 1
            self.counts.duration_ms[name] += round(elapsed_ms)
            for record in event.get("Records", []):
                if record.get("eventSource") == "aws:sqs":
                    self.counts.handled[(name, str(record.get("messageId")))] += 1

    # --- channels ---
    def _wrap_httpx(self) -> None:
        """Every request Keel's adapters send to a channel sandbox's API (not its control
        surface), by channel. Installed for the stack's life; httpx is patched in-process."""
        send = httpx.Client.send
        meter = self

        def counted(client: httpx.Client, request: httpx.Request, **kwargs: Any) -> Any:
            channel = meter._hosts.get(request.url.netloc.decode())
            if channel is not None and not request.url.path.startswith("/__sandbox"):
                with meter._lock:
                    meter.counts.channel_calls[channel] += 1
            return send(client, request, **kwargs)

        httpx.Client.send = counted  # type: ignore[method-assign,assignment]
        self._restore_httpx = send

    def close(self) -> None:
        httpx.Client.send = self._restore_httpx  # type: ignore[method-assign]


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
