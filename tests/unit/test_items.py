"""Keel's DynamoDB attribute values are boto3's (shared/stores/items.py replaced boto3's
serializer to keep boto3 out of cold starts): checked against boto3 itself."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from hypothesis import given
from hypothesis import strategies as st

from shared.stores.items import av, from_item, to_item

numbers = st.integers(min_value=-(10**37), max_value=10**37) | st.decimals(
    allow_nan=False, allow_infinity=False, places=6, min_value=-(10**20), max_value=10**20
)
scalars = st.none() | st.booleans() | numbers | st.text(max_size=8) | st.binary(max_size=8)
sets = (
    st.frozensets(st.text(max_size=4), min_size=1, max_size=4)
    | st.frozensets(st.integers(-1000, 1000), min_size=1, max_size=4)
    | st.frozensets(st.binary(min_size=1, max_size=4), min_size=1, max_size=4)
)
values = st.recursive(
    scalars | sets,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


def _plain(value: Any) -> Any:
    """boto3's answer with its Binary wrapper unwrapped (Keel reads bytes)."""
    if isinstance(value, Binary):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return {_plain(v) for v in value}
    return value


def _sorted_sets(attribute: Any) -> Any:
    """Set members travel as lists in no particular order."""
    if isinstance(attribute, dict):
        return {
            k: sorted(v) if k in ("SS", "NS", "BS") else _sorted_sets(v)
            for k, v in attribute.items()
        }
    if isinstance(attribute, list):
        return [_sorted_sets(v) for v in attribute]
    return attribute


@given(values)
def test_values_serialize_and_read_back_as_boto3_does(value: Any) -> None:
    ours = av(value)
    assert _sorted_sets(ours) == _sorted_sets(TypeSerializer().serialize(value))
    assert from_item({"v": ours}) == {"v": _plain(TypeDeserializer().deserialize(ours))}


def test_items_skip_none_at_the_top_and_keep_it_inside() -> None:
    item = to_item({"a": None, "b": {"c": None}, "n": Decimal("1.50")})
    assert item == {"b": {"M": {"c": {"NULL": True}}}, "n": {"N": "1.50"}}
    assert from_item(item) == {"b": {"c": None}, "n": Decimal("1.50")}


@pytest.mark.parametrize(
    "bad", [1.5, Decimal("1." + "1" * 40), Decimal("Infinity"), object(), {1.5}]
)
def test_what_dynamodb_cannot_hold_is_refused(bad: Any) -> None:
    with pytest.raises((TypeError, ArithmeticError)):
        av(bad)
