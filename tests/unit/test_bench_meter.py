"""The cost benchmark's instrument sizes items as DynamoDB bills them (its capacity units)."""

from __future__ import annotations

from benchmarks.meter import _size


def test_item_sizes_follow_dynamodbs_rules() -> None:
    assert _size({"name": {"S": "café"}}) == 4 + 5  # UTF-8 bytes, the name's too
    # one byte per two significant digits, plus one; leading and trailing zeros trimmed
    assert _size({"n": {"N": "12.50"}}) == 1 + 3
    assert _size({"n": {"N": "-1000"}}) == 1 + 2
    assert _size({"b": {"B": "AAEC"}, "t": {"BOOL": True}, "z": {"NULL": True}}) == 4 + 2 + 2
    # a list or map: 3 bytes, plus 1 per element (and a map's keys)
    assert _size({"l": {"L": [{"S": "ab"}, {"N": "7"}]}}) == 1 + 3 + (1 + 2) + (1 + 2)
    assert _size({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + (1 + 1 + 1)
    assert _size({"m": {"M": {}}}) == 1 + 3


def test_a_batch_read_costs_what_its_gets_would() -> None:
    import json
    import threading

    from benchmarks.meter import Counts, Meter

    meter = Meter.__new__(Meter)  # the counting alone, without a stack to wrap
    meter._lock, meter._local, meter.counts = threading.Lock(), threading.local(), Counts()
    key = {"pk": {"S": "a"}, "sk": {"S": "b"}}
    big = {**key, "blob": {"S": "x" * 5000}}  # two 4 KB units
    request = {
        "RequestItems": {
            "t": {"Keys": [key, key, key, key], "ConsistentRead": True},
            "u": {"Keys": [key, key]},
        }
    }
    answer = {
        "Responses": {"t": [big, key], "u": [key]},
        "UnprocessedKeys": {"t": {"Keys": [key]}},  # not read: not billed
    }
    body, response = json.dumps(request).encode(), json.dumps(answer).encode()
    meter._count("DynamoDB_20120810.BatchGetItem", body, response)
    # t: 2 + 1 found, 1 missing (the minimum), strongly consistent; u: 1 + 1 missing, halved
    assert meter.counts.read_units == (2 + 1 + 1) + 0.5 * (1 + 1)
