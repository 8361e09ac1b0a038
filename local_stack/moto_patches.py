"""Where moto differs from AWS in a way the local stack would show, it is mended here.

Transactions. moto's TransactWriteItems deep-copies every table a transaction names, once per
item, before it starts (its rollback snapshot), and on cancellation puts the copies back. That
made the local stack's cost per order grow with its tables (~170 ms per order's transaction on
an empty stack, 2 s after 2,000 orders, most of it copying and the garbage collections the
copies set off) — a property of the emulator, not of DynamoDB. It also broke streams: the
restored copy carries a copied stream shard, so an iterator handed out before a cancelled
transaction kept reading the old shard (which held the cancelled writes' records) while the
restored shard reused their sequence numbers, and the reader skipped real records (seen as a
last-unit reservation that never reached WooCommerce).

The mend: before moto runs a transaction, remember only the items it names (a copy of each, or
"absent") and each stream shard's length; let moto's snapshot be the live table itself; on any
failure put those items back and drop what the cancelled transaction appended to the streams.
Every other table is untouched by a transaction, so this restores exactly what moto's copies
did, at a cost that depends on the transaction's size, not the tables'. DynamoDB has one shard
that never holds cancelled writes, which is what the stream readers now see.

Queries. moto answers a Query on a table's key by sorting every item of the table and keeping
those with the partition key asked for, so each Query cost grew with the table (the relay's
"listings of this SKU" read ~46 ms against a 200-SKU catalog). DynamoDB reads only the
partition; so does the mend (index queries keep moto's way).

Fixed costs per request that moto pays and AWS does not show (an ASL parse per execution, a
directory listing per request, a class's method list per request, a whole queue's attributes
per received message) are paid once per process (or not at all): they set the local ceiling, not
Keel's behaviour.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_lock = threading.Lock()
_applied: set[str] = set()
_in_transaction = threading.local()
_query = threading.local()  # the (table, partition key) a base-table Query is reading


@dataclass
class _Saved:
    table: Any  # moto Table
    hash_key: Any  # DynamoType
    range_key: Any  # DynamoType | None
    item: Any  # a copy of the moto Item as it was, or None when absent


def _key_of(table: Any, op_type: str, op: dict[str, Any]) -> tuple[Any, Any] | None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    attrs = op.get("Item") if op_type == "Put" else op.get("Key")
    if not isinstance(attrs, dict) or table.hash_key_attr not in attrs:
        return None  # moto refuses it before it writes anything
    range_key = None
    if table.range_key_attr is not None:
        if table.range_key_attr not in attrs:
            return None
        range_key = DynamoType(attrs[table.range_key_attr])
    return DynamoType(attrs[table.hash_key_attr]), range_key


def _save(backend: Any, transact_items: list[dict[str, Any]]) -> list[_Saved]:
    saved = []
    for entry in transact_items:
        if len(entry) != 1:
            continue
        op_type, op = next(iter(entry.items()))
        table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
        key = _key_of(table, op_type, op) if table is not None else None
        if table is None or key is None:
            continue
        hash_key, range_key = key
        if range_key is None:
            current = table.items.get(hash_key)
        else:
            current = table.items.get(hash_key, {}).get(range_key)
        saved.append(_Saved(table, hash_key, range_key, copy.deepcopy(current)))
    return saved


def _restore(saved: list[_Saved], shards: dict[str, tuple[Any, int]], backend: Any) -> None:
    for entry in reversed(saved):  # the first copy of a key named twice is the original
        items = entry.table.items
        if entry.range_key is None:
            if entry.item is None:
                items.pop(entry.hash_key, None)
            else:
                items[entry.hash_key] = entry.item
        elif entry.item is None:
            items.get(entry.hash_key, {}).pop(entry.range_key, None)
        else:
            items[entry.hash_key][entry.range_key] = entry.item
    for name, (shard, length) in shards.items():
        del shard.items[length:]
        table = backend.tables.get(name)
        if table is not None and table.stream_shard is not shard:  # defensive: keep one shard
            shard.table = table
            table.stream_shard = shard


def rollback_transactions_in_place() -> None:
    """Install the mend (idempotent, process-wide; also for in-process `mock_aws`)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    with _lock:
        if "transactions" in _applied:
            return
        original = DynamoDBBackend.transact_write_items

        def table_deepcopy(self: Any, memo: dict[int, Any]) -> Any:
            if getattr(_in_transaction, "active", False):
                return self  # the "snapshot" is the live table; the saved items undo it
            # Anything else that copies a table (backups) gets Python's default deep copy.
            reduced = self.__reduce_ex__(4)
            return copy._reconstruct(self, memo, *reduced)  # type: ignore[attr-defined]

        @functools.wraps(original)
        def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
            shards = {
                name: (table.stream_shard, len(table.stream_shard.items))
                for name, table in self.tables.items()
                if table.stream_shard is not None
            }
            saved = _save(self, transact_items)
            _in_transaction.active = True
            try:
                original(self, transact_items)
            except Exception:
                _restore(saved, shards, self)
                raise
            finally:
                _in_transaction.active = False

        Table.__deepcopy__ = table_deepcopy  # type: ignore[attr-defined]
        DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
        _applied.add("transactions")


def query_reads_one_partition() -> None:
    """Install the Query mend (idempotent, process-wide)."""
    from moto.dynamodb.models.table import Table

    with _lock:
        if "query" in _applied:
            return
        original_query = Table.query
        original_all_items = Table.all_items

        @functools.wraps(original_all_items)
        def all_items(self: Any) -> list[Any]:
            asked = getattr(_query, "partition", None)
            if asked is None or asked[0] is not self:
                return original_all_items(self)
            found = self.items.get(asked[1])
            if found is None:
                return []
            if self.range_key_attr is None:
                return [found]
            return sorted(found.values(), key=lambda item: item.range_key)

        @functools.wraps(original_query)
        def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
            index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
            if index_name or hash_key is None:
                return original_query(self, hash_key, *args, **kwargs)
            _query.partition = (self, hash_key)
            try:
                return original_query(self, hash_key, *args, **kwargs)
            finally:
                _query.partition = None

        Table.all_items = all_items  # type: ignore[method-assign]
        Table.query = query  # type: ignore[method-assign]
        _applied.add("query")


def reuse_step_functions_clients() -> None:
    """moto's Step Functions engine made a new boto3 client for every Lambda task it ran (tens
    of ms of model loading each, three tasks per order). Clients are thread-safe: keep one per
    region, service and moto endpoint."""
    import sys

    from moto.core.models import botocore_stubber
    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
        lambda_eval_utils,  # noqa: F401  # imported so its reference is replaced below
    )
    from moto.stepfunctions.parser.asl.utils import boto_client

    with _lock:
        if "sfn_clients" in _applied:
            return
        original = boto_client.boto_client_for
        clients: dict[tuple[str, str, str, bool], Any] = {}
        clients_lock = threading.Lock()

        @functools.wraps(original)
        def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
            key = (region, service, str(moto_server_port()), bool(botocore_stubber.enabled))
            with clients_lock:
                if key not in clients:
                    clients[key] = original(region, service, state_credentials)
                return clients[key]

        for name, module in list(sys.modules.items()):
            if name.startswith("moto.stepfunctions") and (
                getattr(module, "boto_client_for", None) is original
            ):
                module.boto_client_for = boto_client_for  # type: ignore[attr-defined]
        _applied.add("sfn_clients")


_delays: dict[str, int | None] = {"max_s": None}


def cap_message_delays(max_s: int | None) -> None:
    """SQS message delays, locally at most `max_s` (None: as sent, up to SQS's 900 s). Not a
    mend but the local stack's clock, as its short visibility timeout is: a stock write's
    delayed confirmation check (5 s, 10 s, ... in AWS) comes back in a second, so the demo and
    the tests do not sit out AWS's pacing. Process-wide, like the moto server it changes."""
    from moto.sqs.models import SQSBackend

    _delays["max_s"] = max_s
    with _lock:
        if "message_delays" in _applied:
            return
        send, send_batch = SQSBackend.send_message, SQSBackend.send_message_batch

        @functools.wraps(send)
        def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
            cap = _delays["max_s"]
            if cap is not None and int(kwargs.get("delay_seconds") or 0) > cap:
                kwargs["delay_seconds"] = cap
            return send(self, *args, **kwargs)

        @functools.wraps(send_batch)
        def send_message_batch(self: Any, queue_name: str, entries: dict[str, Any]) -> Any:
            cap = _delays["max_s"]
            if cap is not None:
                for entry in entries.values():
                    if int(entry.get("DelaySeconds") or 0) > cap:
                        entry["DelaySeconds"] = cap
            return send_batch(self, queue_name, entries)

        SQSBackend.send_message = send_message  # type: ignore[method-assign]
        SQSBackend.send_message_batch = send_message_batch  # type: ignore[method-assign]
        _applied.add("message_delays")


_retries: dict[str, int | None] = {"max_s": None}


def cap_retry_delays(max_s: int | None) -> None:
    """How long a consumer may hide a message it will retry (ChangeMessageVisibility: the
    sync's backoff of 30 s, 60 s, ... before an auth failure is dead-lettered), locally at most
    `max_s`; None: as asked. The local stack's clock, like `cap_message_delays`: a test of the
    operator's journey from a 401 to its DLQ need not sit out AWS's backoff. Process-wide."""
    from moto.sqs.models import SQSBackend

    _retries["max_s"] = max_s
    with _lock:
        if "retry_delays" in _applied:
            return
        change = SQSBackend.change_message_visibility

        @functools.wraps(change)
        def change_message_visibility(
            self: Any, queue_name: str, receipt_handle: str, visibility_timeout: int
        ) -> None:
            cap = _retries["max_s"]
            if cap is not None and visibility_timeout > cap:
                visibility_timeout = cap
            change(self, queue_name, receipt_handle, visibility_timeout)

        SQSBackend.change_message_visibility = change_message_visibility  # type: ignore[method-assign]
        _applied.add("retry_delays")


def parse_each_definition_once() -> None:
    """moto's Step Functions engine lexed and parsed the state machine's ASL (antlr, pure
    Python) for every execution it started: ~200 ms of one core per order, the largest single
    cost of the local stack at 5 orders/s. The parse tree of one definition never changes: keep
    it per definition and build the evaluation components from it afresh for each execution
    (the components carry an execution's state; the tree does not)."""
    from moto.stepfunctions.parser.asl.parse import asl_parser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    with _lock:
        if "asl_parse" in _applied:
            return
        parser = asl_parser.AmazonStateLanguageParser
        original = parser.parse
        trees: dict[str, Any] = {}
        trees_lock = threading.Lock()

        def parse(definition: str) -> tuple[Any, Any]:
            with trees_lock:
                tree = trees.get(definition)
            if tree is None:
                _, tree = original(definition)  # raises on a bad definition, caching nothing
                with trees_lock:
                    trees[definition] = tree
            return Preprocessor().visit(tree), tree

        parser.parse = staticmethod(parse)  # type: ignore[method-assign]
        _applied.add("asl_parse")


def list_moto_services_once() -> None:
    """moto's server found the service a request was for by listing its own package directory
    on every request (~90 stat calls each). The list cannot change while the process runs."""
    from moto import backends

    with _lock:
        if "services_list" in _applied:
            return
        services = tuple(backends.list_of_moto_modules())
        backends.list_of_moto_modules = lambda: services
        _applied.add("services_list")


def retention_check_reads_one_attribute() -> None:
    """For each message a receive returns, moto checked its retention period by building every
    attribute of the queue twice (each an O(messages) count), so a receive cost grew with the
    square of the queue's depth under a backlog. The period is one field of the queue."""
    from moto.core.utils import unix_time
    from moto.sqs.models import SQSBackend

    with _lock:
        if "retention" in _applied:
            return

        def is_message_valid_based_on_retention_period(
            self: Any, queue_name: str, message: Any
        ) -> bool:
            period = int(self.get_queue(queue_name).message_retention_period)
            return bool(period + message.sent_timestamp / 1000 > unix_time())

        SQSBackend.is_message_valid_based_on_retention_period = (  # type: ignore[method-assign]
            is_message_valid_based_on_retention_period
        )
        _applied.add("retention")


def action_names_once_per_class() -> None:
    """moto listed a response class's methods (`inspect.getmembers`) on every request to see
    whether the action exists; a class's methods do not change while the process runs."""
    from moto.core import responses

    with _lock:
        if "action_names" in _applied:
            return
        names = functools.cache(responses.method_names_from_class)  # type: ignore[attr-defined]
        responses.method_names_from_class = names  # type: ignore[attr-defined]
        _applied.add("action_names")


def attribute_keys_once_per_shape() -> None:
    """moto's response serializer finds each output member's value on its Python object by
    asking five alias providers for candidate names, for every member of every item of every
    response (half of a DynamoDB response's cost: each attribute value is a structure of ten
    members). The candidates depend only on the member's shape (its name, serialization name
    and parent, fixed once the service model is loaded: moto caches it), the object's class
    and its class's explicit aliases: cached on those, the same names are tried in the same
    order."""
    from moto.core import serialize

    with _lock:
        if "attribute_keys" in _applied:
            return
        pickers = (serialize.AttributePicker, serialize.XFormedAttributePicker)
        originals = {cls: cls.__dict__["get_possible_keys"] for cls in pickers}
        cache: dict[tuple[Any, ...], tuple[str, ...]] = {}

        def cached(original: Callable[..., Any]) -> Callable[..., Any]:
            def get_possible_keys(self: Any, context: Any) -> tuple[str, ...]:
                obj = context.obj
                meta = getattr(type(obj), "Meta", None)
                if meta is not getattr(obj, "Meta", None):
                    return tuple(original(self, context))  # aliases of its own: not cached
                key = (
                    type(self),
                    tuple(self.alias_providers),
                    context.shape,
                    getattr(context.shape, "parent", None),
                    context.key,
                    type(obj),
                    meta,
                )
                found = cache.get(key)
                if found is None:
                    found = cache[key] = tuple(original(self, context))
                return found

            return get_possible_keys

        for cls in pickers:
            cls.get_possible_keys = cached(originals[cls])  # type: ignore[method-assign]
        _applied.add("attribute_keys")


def token_answered_in_its_invocation_is_seen() -> None:
    """A `.waitForTaskToken` task with `HeartbeatSeconds`: moto sets up the task's heartbeat
    after the Lambda invocation that received the token has returned, and waits on that
    heartbeat before it looks at the callback. A token answered inside that invocation (Keel's
    await_carrier does, when the order already ended or the carrier already took the parcel)
    was not noticed until a heartbeat arrived: a redrive after hand-over hung for days. In AWS
    the token is live during the invocation: a heartbeat set up after an answer is set at once."""
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint

    with _lock:
        if "answered_token" in _applied:
            return
        original = CallbackEndpoint.setup_heartbeat_endpoint

        @functools.wraps(original)
        def setup_heartbeat_endpoint(self: Any, heartbeat_seconds: int) -> Any:
            endpoint = original(self, heartbeat_seconds)
            if self.get_outcome() is not None:  # answered already: nothing to wait for
                endpoint.notify()  # type: ignore[no-untyped-call]
            return endpoint

        CallbackEndpoint.setup_heartbeat_endpoint = setup_heartbeat_endpoint  # type: ignore[method-assign]
        _applied.add("answered_token")


_move_tasks: dict[str, list[dict[str, Any]]] = {}  # source ARN -> its tasks, newest first


def _queue_by_arn(backend: Any, arn: str) -> Any:
    from moto.sqs.exceptions import SQSException

    for queue in backend.queues.values():
        if queue.queue_arn == arn:
            return queue
    raise SQSException("ResourceNotFoundException", f"no queue {arn}")


def _run_move_task(backend: Any, source: Any, task: dict[str, Any]) -> None:
    """Move every message of `source` (see message_move_tasks); the task says how it ended."""
    from moto.sqs.exceptions import SQSException

    moved = 0
    try:
        while batch := backend.receive_message(source.name, 10, 0, 30, ["All"]):
            for message in batch:
                target_arn = task.get("DestinationArn") or message.system_attributes.get(
                    "DeadLetterQueueSourceArn"
                )
                if not target_arn:
                    raise SQSException(
                        "InvalidParameterValue",
                        f"message {message.id} has no source queue: name a destination",
                    )
                target = _queue_by_arn(backend, str(target_arn))
                backend.send_message(
                    target.name, message.body, message_attributes=message.message_attributes
                )
                backend.delete_message(source.name, message.receipt_handle)
                moved += 1
    except SQSException as exc:
        task.update(Status="FAILED", FailureReason=str(exc))
    else:
        task["Status"] = "COMPLETED"
    task["ApproximateNumberOfMessagesMoved"] = moved


def message_move_tasks() -> None:
    """moto has neither StartMessageMoveTask nor ListMessageMoveTasks: served here with AWS's
    semantics, so `keel dlq redrive` takes the same path locally as on AWS. A task moves the
    source's messages to `DestinationArn` (else each message's `DeadLetterQueueSourceArn`, as
    AWS does; a message without one fails the task), each as a new message (new id, the same
    body and attributes), then deletes it from the source; one task per source at a time. It
    runs to the end inside the call (AWS's runs in the background): ListMessageMoveTasks then
    reports it COMPLETED or FAILED with the count moved."""
    import time
    import uuid

    from moto.core.responses import ActionResult
    from moto.sqs.exceptions import SQSException
    from moto.sqs.responses import SQSResponse

    with _lock:
        if "move_tasks" in _applied:
            return

        def start_message_move_task(self: Any) -> Any:
            backend = self.sqs_backend
            source_arn = str(self._get_param("SourceArn"))
            source = _queue_by_arn(backend, source_arn)
            destination_arn = self._get_param("DestinationArn")
            tasks = _move_tasks.setdefault(source_arn, [])
            if any(t["Status"] == "RUNNING" for t in tasks):
                raise SQSException("UnsupportedOperation", "a move task is running already")
            task: dict[str, Any] = {
                "TaskHandle": uuid.uuid4().hex,
                "Status": "RUNNING",
                "SourceArn": source_arn,
                "ApproximateNumberOfMessagesMoved": 0,
                "ApproximateNumberOfMessagesToMove": len(source.messages),
                "StartedTimestamp": int(time.time() * 1000),
            }
            if destination_arn:
                task["DestinationArn"] = destination_arn
            tasks.insert(0, task)
            _run_move_task(backend, source, task)
            return ActionResult({"TaskHandle": task["TaskHandle"]})

        def list_message_move_tasks(self: Any) -> Any:
            source_arn = str(self._get_param("SourceArn"))
            limit = int(self._get_param("MaxResults") or 1)
            results = []
            for task in _move_tasks.get(source_arn, [])[:limit]:
                shown = dict(task)
                if shown["Status"] != "RUNNING":
                    shown.pop("TaskHandle")  # AWS names the handle of a running task only
                results.append(shown)
            return ActionResult({"Results": results})

        SQSResponse.start_message_move_task = start_message_move_task  # type: ignore[attr-defined]
        SQSResponse.list_message_move_tasks = list_message_move_tasks  # type: ignore[attr-defined]
        _applied.add("move_tasks")


def install() -> None:
    """Every mend the local stack runs with."""
    token_answered_in_its_invocation_is_seen()
    rollback_transactions_in_place()
    query_reads_one_partition()
    reuse_step_functions_clients()
    parse_each_definition_once()
    list_moto_services_once()
    retention_check_reads_one_attribute()
    action_names_once_per_class()
    attribute_keys_once_per_shape()
    message_move_tasks()
