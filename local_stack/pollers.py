"""What Lambda's event source mappings do, done locally: SQS pollers and a stream reader.

SQS: receive up to batch_size, invoke, delete what succeeded (partial batch responses), leave
the rest to reappear; the queue's redrive policy moves a message to its DLQ after
maxReceiveCount receives. The queues keep the wiring's visibility timeout (minutes, longer than
any batch, as in AWS), so a batch that runs long under load is never received a second time by
the other poller; a message the batch failed is made visible again after `retry_after_s` (local
retries come in seconds), unless the handler set its visibility itself (Retry-After).

No long polling against moto: the server handles one request at a time, so a waiting receive
would stall everyone. Instead a poller that found nothing waits for the server's word that its
queue (or its stream's table) got something (`moto_server.Activity`), or `idle_s` at most.
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC
from typing import Any

from botocore.exceptions import ClientError

from local_stack import event_filters

log = logging.getLogger("keel.local")

Invoke = Callable[[str, dict[str, Any]], Any]


class Poller(threading.Thread, ABC):
    def __init__(
        self,
        name: str,
        interval_s: float,
        wake: threading.Event | None = None,
        idle_s: float = 1.0,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self._stop_event = threading.Event()
        self._interval_s = interval_s
        self._wake = wake  # set when there may be work; None: poll every interval_s
        self._idle_s = idle_s  # the longest wait for a wake (what no request announces)
        self.busy = False  # True while a batch it received is being handled
        self.errors = 0
        self.polls = 0

    def stop(self) -> None:
        self._stop_event.set()
        if self._wake is not None:
            self._wake.set()

    def run(self) -> None:
        while not self._stop_event.is_set():
            if self._wake is not None:
                self._wake.clear()  # before asking: what arrives meanwhile wakes the wait
            try:
                self.polls += 1
                worked = self.poll_once()
            except Exception:  # keep polling, as Lambda's poller does
                log.exception("%s: poll failed", self.name)
                self.errors += 1
                worked = False
            if worked:
                continue
            if self._wake is None:
                self._stop_event.wait(self._interval_s)
            else:
                self._wake.wait(self._wait_s())

    def _wait_s(self) -> float:
        return self._idle_s

    @abstractmethod
    def poll_once(self) -> bool:
        """Handle one batch if there is one; True when there was work."""


class SqsPoller(Poller):
    def __init__(
        self,
        function: str,
        queue_url: str,
        queue_arn: str,
        batch_size: int,
        sqs: Any,
        invoke: Invoke,
        region: str,
        interval_s: float = 0.05,
        wake: threading.Event | None = None,
        retry_after_s: float | None = None,
        visibility_changed: Callable[[str], bool] | None = None,
        idle_s: float = 1.0,
        batching_window_s: float = 0.0,
        visible: Callable[[], int] | None = None,
        receive_lock: threading.Lock | None = None,
    ) -> None:
        super().__init__(f"sqs:{function}", interval_s, wake, idle_s)
        # Shared by a queue's pollers: between "a message is visible" and the receive that
        # takes it, no other poller of the queue looks, so it does not receive nothing.
        self._receive_lock = receive_lock or threading.Lock()
        self._batch_limit = batch_size  # what one invocation may get (Lambda: up to 10,000)
        self._batching_window_s = batching_window_s
        # How many messages a receive would get now, asked without a request: a batching
        # window then receives once the batch can fill or the window ends, not on every wake.
        self._visible = visible
        self._function = function
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._batch_size = min(batch_size, 10)  # ReceiveMessage returns at most 10
        self._sqs = sqs
        self._invoke = invoke
        self._region = region
        # None: failed messages come back after the queue's own visibility timeout.
        self._retry_after_s = retry_after_s
        self._visibility_changed = visibility_changed or (lambda _receipt: False)
        self._due: float | None = None  # when messages this poller failed become visible
        self.received = 0
        self.deliveries: collections.Counter[str] = collections.Counter()  # message id -> times

    def _wait_s(self) -> float:
        if self._due is None:
            return self._idle_s
        wait = self._due - time.monotonic()
        if wait <= 0:
            self._due = None
            return 0.0
        return min(self._idle_s, wait)

    def poll_once(self) -> bool:
        with self._receive_lock:
            if self._visible is not None and self._visible() == 0:
                return False  # the other poller took it: no empty receive (Lambda long-polls)
            messages = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=self._batch_size,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
        if not messages:
            return False
        if self._batching_window_s > 0:
            messages += self._fill(len(messages))
        self.received += len(messages)
        self.deliveries.update(m["MessageId"] for m in messages)
        self.busy = True
        try:
            self._deliver(messages)
        finally:
            self.busy = False
        return True

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        records = [self._record(m) for m in messages]
        try:
            response = self._invoke(self._function, {"Records": records})
        except Exception as exc:
            log.warning("%s: invocation failed, whole batch retries: %s", self._function, exc)
            self._retry_soon(messages, self._touched(messages))
            return
        failed = {
            f["itemIdentifier"]
            for f in (response or {}).get("batchItemFailures", [])
            if isinstance(f, dict)
        }
        done = [m for m in messages if m["MessageId"] not in failed]
        self._retry_soon([m for m in messages if m["MessageId"] in failed], self._touched(messages))
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )

    def _fill(self, have: int) -> list[dict[str, Any]]:
        """MaximumBatchingWindowInSeconds: keep gathering until the batch is full or the window
        (counted from the first message) has passed."""
        more: list[dict[str, Any]] = []
        deadline = time.monotonic() + self._batching_window_s
        while have + len(more) < self._batch_limit and not self._stop_event.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            wanted = self._batch_limit - have - len(more)
            visible, wake = self._visible, self._wake
            if visible is not None and wake is not None and visible() < min(10, wanted):
                wake.clear()  # nothing worth a receive yet: wait for more, or the window's end
                if visible() < min(10, wanted):
                    wake.wait(min(left, self._idle_s))
                continue
            got = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=min(10, self._batch_limit - have - len(more)),
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            more += got
            if not got and self._wake is not None:
                self._wake.clear()
                self._wake.wait(min(left, self._idle_s))
            elif not got:
                self._stop_event.wait(min(left, self._interval_s))
        if (visible := self._visible) is not None:  # the window ended: take what came, up
            while (  # to the limit, as long as there is something to take
                have + len(more) < self._batch_limit
                and not self._stop_event.is_set()
                and visible() > 0
            ):
                got = self._sqs.receive_message(
                    QueueUrl=self._queue_url,
                    MaxNumberOfMessages=min(10, self._batch_limit - have - len(more)),
                    WaitTimeSeconds=0,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
                if not got:
                    break
                more += got
        return more

    def _touched(self, messages: list[dict[str, Any]]) -> set[str]:
        """Receipt handles whose visibility the handler changed while it ran (asked once each)."""
        return {
            m["ReceiptHandle"] for m in messages if self._visibility_changed(m["ReceiptHandle"])
        }

    def _retry_soon(self, failed: list[dict[str, Any]], touched: set[str]) -> None:
        """What Lambda leaves to the visibility timeout, locally in `retry_after_s`; a message
        whose visibility the handler changed (Retry-After) keeps the handler's."""
        if self._retry_after_s is None:
            return
        again = [m for m in failed if m["ReceiptHandle"] not in touched]
        for start in range(0, len(again), 10):
            self._sqs.change_message_visibility_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {
                        "Id": str(i),
                        "ReceiptHandle": m["ReceiptHandle"],
                        "VisibilityTimeout": round(self._retry_after_s),
                    }
                    for i, m in enumerate(again[start : start + 10])
                ],
            )
        if failed:
            self._due = time.monotonic() + (self._retry_after_s or 0)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        }
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": attributes,
            "md5OfBody": hashlib.md5(message["Body"].encode()).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self._queue_arn,
            "awsRegion": self._region,
        }


class StreamReader(Poller):
    """Reads every shard of a DynamoDB stream in order; retries a failed batch, then moves on
    (Lambda's MaximumRetryAttempts) and parks the batch's coordinates on the failure queue,
    in the shape of Lambda's on-failure destination record."""

    def __init__(
        self,
        function: str,
        stream_arn: str,
        batch_size: int,
        max_retry_attempts: int,
        streams: Any,
        invoke: Invoke,
        region: str,
        failure_queue_url: str,
        sqs: Any,
        interval_s: float = 0.05,
        wake: threading.Event | None = None,
        idle_s: float = 1.0,
        filters: tuple[dict[str, Any], ...] = (),
        read_records: Callable[[str | None, int], list[dict[str, Any]]] | None = None,
    ) -> None:
        super().__init__(f"stream:{function}", interval_s, wake, idle_s)
        for pattern in filters:
            event_filters.check(pattern)
        self._filters = filters  # the mapping's FilterCriteria: records none matches are dropped
        self._shards: tuple[float, list[str]] = (0.0, [])  # (read at, shard ids)
        self._failure_queue_url = failure_queue_url
        self._sqs = sqs
        self._function = function
        self._stream_arn = stream_arn
        self._batch_size = batch_size
        self._max_retry_attempts = max_retry_attempts
        self._streams = streams
        self._invoke = invoke
        self._region = region
        self._last_sequence: dict[str, str] = {}
        # The iterator the last read handed back, per shard: reading on from it costs one
        # request a poll instead of two. Any doubt (none kept, or refused) falls back to a fresh
        # one from the last sequence number handled, as Lambda's poller checkpoints.
        self._next_iterator: dict[str, str] = {}
        # Records after a sequence number, read without a request (the local stack's own
        # emulator); None: through the streams API.
        self._read_records = read_records

    def _iterator(self, shard_id: str) -> str:
        """A fresh iterator from the last sequence number read (see local_stack/moto_patches.py
        for why moto's iterators can be trusted across a cancelled transaction)."""
        last = self._last_sequence.get(shard_id)
        args: dict[str, Any] = {"StreamArn": self._stream_arn, "ShardId": shard_id}
        if last is None:
            args["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            args["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
            args["SequenceNumber"] = last
        iterator: str = self._streams.get_shard_iterator(**args)["ShardIterator"]
        return iterator

    def _shard_ids(self) -> list[str]:
        """The stream's shards, described again every few seconds rather than every poll
        (moto's stream has one shard for the table's life)."""
        read_at, shard_ids = self._shards
        if not shard_ids or time.monotonic() - read_at > 5.0:
            description = self._streams.describe_stream(StreamArn=self._stream_arn)
            shard_ids = [s["ShardId"] for s in description["StreamDescription"]["Shards"]]
            self._shards = (time.monotonic(), shard_ids)
        return shard_ids

    def pending(self) -> bool:
        """True while the stream holds records this reader has not finished handling."""
        if self._read_records is not None:
            return any(self._read_records(self._last_sequence.get(s), 1) for s in self._shard_ids())
        return any(
            self._streams.get_records(ShardIterator=self._iterator(s), Limit=1).get("Records")
            for s in self._shard_ids()
        )

    def poll_once(self) -> bool:
        worked = False
        for shard_id in self._shard_ids():
            response = self._read(shard_id)
            records = response.get("Records", [])
            if records:
                wanted = [
                    r for r in records if event_filters.passes(self._record(r), self._filters)
                ]
                if wanted:  # a batch the filters emptied is no invocation, as in Lambda
                    self.busy = True
                    try:
                        self._deliver(wanted, shard_id)
                    finally:
                        self.busy = False
                self._last_sequence[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
                worked = True
            following = response.get("NextShardIterator")
            if following:
                self._next_iterator[shard_id] = following
        return worked

    def _read(self, shard_id: str) -> dict[str, Any]:
        if self._read_records is not None:
            last = self._last_sequence.get(shard_id)
            return {"Records": self._read_records(last, self._batch_size)}
        kept = self._next_iterator.pop(shard_id, None)
        if kept is not None:
            try:
                response: dict[str, Any] = self._streams.get_records(
                    ShardIterator=kept, Limit=self._batch_size
                )
                return response
            except ClientError:  # expired or trimmed: read on from the checkpoint
                pass
        response = self._streams.get_records(
            ShardIterator=self._iterator(shard_id), Limit=self._batch_size
        )
        return response

    def _deliver(self, records: list[dict[str, Any]], shard_id: str) -> None:
        pending = [self._record(r) for r in records]
        for _attempt in range(self._max_retry_attempts + 1):
            try:
                response = self._invoke(self._function, {"Records": pending})
            except Exception as exc:
                log.warning("%s: batch failed, retrying: %s", self._function, exc)
                time.sleep(0.1)
                continue
            failures = (response or {}).get("batchItemFailures", [])
            if not failures:
                return
            # Lambda restarts from the first failed sequence number.
            first = min(int(f["itemIdentifier"]) for f in failures)
            pending = [r for r in pending if int(r["dynamodb"]["SequenceNumber"]) >= first]
            time.sleep(0.1)
        log.error("%s: gave up on %d stream records", self._function, len(pending))
        self._park(pending, shard_id)

    def _park(self, records: list[dict[str, Any]], shard_id: str) -> None:
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        info = {
            "requestContext": {
                "functionArn": self._function,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": self._max_retry_attempts + 1,
            },
            "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": first.get("ApproximateCreationDateTime"),
                "approximateArrivalOfLastRecord": last.get("ApproximateCreationDateTime"),
                "batchSize": len(records),
                "streamArn": self._stream_arn,
            },
        }
        self._sqs.send_message(QueueUrl=self._failure_queue_url, MessageBody=json.dumps(info))

    def _record(self, record: dict[str, Any]) -> dict[str, Any]:
        dynamodb = dict(record["dynamodb"])
        created = dynamodb.get("ApproximateCreationDateTime")
        if created is not None and not isinstance(created, (int, float)):
            if created.tzinfo is None:  # moto's own record (read in process) is naive UTC
                created = created.replace(tzinfo=UTC)
            dynamodb["ApproximateCreationDateTime"] = created.timestamp()
        return {
            "eventID": record.get("eventID"),
            "eventName": record.get("eventName"),
            "eventVersion": record.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": self._region,
            "dynamodb": dynamodb,
            "eventSourceARN": self._stream_arn,
        }


class Scheduler(Poller):
    """EventBridge Scheduler, locally: invokes a function every `rate_s` with the event
    `{"schedule": name}`; `fire()` runs it now (tests, operators). A failed run is logged and
    counted; AWS would retry it and then park it on the schedule's DLQ."""

    def __init__(
        self, function: str, schedule: str, rate_s: float, invoke: Invoke, timed: bool = True
    ) -> None:
        super().__init__(f"schedule:{schedule}", interval_s=rate_s)
        self._timed = timed  # False: only `fire()` runs it (tests that decide when polls run)
        self._function = function
        self._schedule = schedule
        self._invoke = invoke
        self._lock = threading.Lock()
        self.runs = 0
        self.schedule = schedule

    def run(self) -> None:
        while not self._stop_event.wait(self._interval_s):
            if not self._timed:
                continue
            try:
                self.fire()
            except Exception:
                log.exception("%s: scheduled run failed", self.name)
                self.errors += 1

    def poll_once(self) -> bool:
        self.fire()
        return True

    def fire(self) -> Any:
        with self._lock:
            self.busy = True
            try:
                result = self._invoke(self._function, {"schedule": self._schedule})
            finally:
                self.busy = False
            self.runs += 1
            return result
