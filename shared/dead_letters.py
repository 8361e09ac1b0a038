"""A message a consumer dead-letters itself, with why (`error_class`, `error_message` and what
else identifies it as message attributes), so the DLQ explains itself without logs."""

from __future__ import annotations

from typing import Any


def send_dead_letter(
    sqs: Any, dlq_url: str, body: str, error_class: str, message: str, **more: str
) -> None:
    attributes = {"error_class": error_class, "error_message": message[:1000] or "-", **more}
    sqs.send_message(
        QueueUrl=dlq_url,
        MessageBody=body,
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value or "-"}
            for name, value in attributes.items()
        },
    )
