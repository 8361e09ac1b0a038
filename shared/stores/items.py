"""DynamoDB attribute-value conversion (numbers come back as Decimal)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def av(value: Any) -> dict[str, Any]:
    """One attribute value, for expression values and keys."""
    result: dict[str, Any] = _serializer.serialize(value)
    return result
