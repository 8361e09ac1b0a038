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
