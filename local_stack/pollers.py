"""What Lambda's event source mappings do, done locally: SQS pollers and a stream reader.

SQS: receive up to batch_size, invoke, delete what succeeded (partial batch responses), leave
the rest to reappear after the visibility timeout; the queue's redrive policy moves a message
to its DLQ after maxReceiveCount receives. No long polling: the moto server handles one request
at a time, so a waiting receive would stall everyone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

log = logging.getLogger("keel.local")

Invoke = Callable[[str, dict[str, Any]], Any]


class Poller(threading.Thread, ABC):
    def __init__(self, name: str, interval_s: float) -> None:
        super().__init__(name=name, daemon=True)
        self._stop_event = threading.Event()
        self._interval_s = interval_s
        self.busy = False  # True while a batch it received is being handled
        self.errors = 0

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                worked = self.poll_once()
            except Exception:  # keep polling, as Lambda's poller does
                log.exception("%s: poll failed", self.name)
                self.errors += 1
                worked = False
            if not worked:
                self._stop_event.wait(self._interval_s)

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
    ) -> None:
        super().__init__(f"sqs:{function}", interval_s)
        self._function = function
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._batch_size = min(batch_size, 10)  # ReceiveMessage returns at most 10
        self._sqs = sqs
        self._invoke = invoke
        self._region = region

    def poll_once(self) -> bool:
        messages = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return False
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
            return
        failed = {
            f["itemIdentifier"]
            for f in (response or {}).get("batchItemFailures", [])
            if isinstance(f, dict)
        }
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )

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
    ) -> None:
        super().__init__(f"stream:{function}", interval_s)
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

    def _iterator(self, shard_id: str) -> str:
        """A fresh iterator every poll, from the last sequence number read, as Lambda's poller
        checkpoints by sequence number (see also local_stack/moto_patches.py)."""
        last = self._last_sequence.get(shard_id)
        args: dict[str, Any] = {"StreamArn": self._stream_arn, "ShardId": shard_id}
        if last is None:
            args["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            args["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
            args["SequenceNumber"] = last
        iterator: str = self._streams.get_shard_iterator(**args)["ShardIterator"]
        return iterator

    def pending(self) -> bool:
        """True while the stream holds records this reader has not finished handling."""
        shards = self._streams.describe_stream(StreamArn=self._stream_arn)["StreamDescription"][
            "Shards"
        ]
        return any(
            self._streams.get_records(ShardIterator=self._iterator(s["ShardId"]), Limit=1).get(
                "Records"
            )
            for s in shards
        )

    def poll_once(self) -> bool:
        shards = self._streams.describe_stream(StreamArn=self._stream_arn)["StreamDescription"][
            "Shards"
        ]
        worked = False
        for shard in shards:
            shard_id = shard["ShardId"]
            response = self._streams.get_records(
                ShardIterator=self._iterator(shard_id), Limit=self._batch_size
            )
            records = response.get("Records", [])
            if records:
                self.busy = True
                try:
                    self._deliver(records, shard_id)
                finally:
                    self.busy = False
                self._last_sequence[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
                worked = True
        return worked

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

    def __init__(self, function: str, schedule: str, rate_s: float, invoke: Invoke) -> None:
        super().__init__(f"schedule:{schedule}", interval_s=rate_s)
        self._function = function
        self._schedule = schedule
        self._invoke = invoke
        self._lock = threading.Lock()
        self.runs = 0
        self.schedule = schedule

    def run(self) -> None:
        while not self._stop_event.wait(self._interval_s):
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
