"""Lambda event filtering (an event source mapping's FilterCriteria), done locally.

A record reaches the function when it matches at least one of the function's patterns; the
rest are dropped by the mapping (a batch left empty is no invocation). Patterns use Lambda's
(EventBridge's) syntax: nested objects narrow, a list holds the values a field may take, an
object in the list is a comparison. Only the comparisons below are emulated; any other is
refused when the stack starts, so the local stack never filters differently from AWS silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_MISSING = object()


def check(pattern: Mapping[str, Any]) -> None:
    """Raise ValueError for what Lambda would refuse or this emulation does not do."""
    for key, value in pattern.items():
        if key == "$or":
            if not isinstance(value, list) or not value:
                raise ValueError("$or takes a non-empty list of patterns")
            for alternative in value:
                check(alternative)
        elif isinstance(value, Mapping):
            check(value)
        elif isinstance(value, list) and value:
            for rule in value:
                if isinstance(rule, Mapping):
                    if len(rule) != 1 or not _operand_ok(*next(iter(rule.items()))):
                        raise ValueError(f"unsupported comparison {rule!r} for {key!r}")
                elif not (rule is None or isinstance(rule, (str, int, float, bool))):
                    raise ValueError(f"unsupported value {rule!r} for {key!r}")
        else:
            raise ValueError(f"{key!r} must be an object or a non-empty list")


def _operand_ok(operator: str, operand: Any) -> bool:
    scalar = (str, int, float)
    if operator in {"prefix", "suffix", "equals-ignore-case"}:
        return isinstance(operand, str)
    if operator == "exists":
        return isinstance(operand, bool)
    if operator == "anything-but":
        values = operand if isinstance(operand, list) else [operand]
        return bool(values) and all(isinstance(v, scalar) for v in values)
    return False


def matches(record: Mapping[str, Any], pattern: Mapping[str, Any]) -> bool:
    for key, value in pattern.items():
        if key == "$or":
            if not any(matches(record, alternative) for alternative in value):
                return False
            continue
        field = record.get(key, _MISSING)
        if isinstance(value, Mapping):
            if not isinstance(field, Mapping) or not matches(field, value):
                return False
        elif not any(_rule(field, rule) for rule in value):
            return False
    return True


def passes(record: Mapping[str, Any], patterns: Sequence[Mapping[str, Any]]) -> bool:
    """No patterns: everything passes (no filter criteria on the mapping)."""
    return not patterns or any(matches(record, p) for p in patterns)


def _rule(field: Any, rule: Any) -> bool:
    if isinstance(field, list):  # a list field matches when one of its values does
        return any(_rule(item, rule) for item in field) if field else _rule(_MISSING, rule)
    if not isinstance(rule, Mapping):
        return field is not _MISSING and not isinstance(field, Mapping) and field == rule
    ((operator, operand),) = rule.items()
    if operator == "exists":
        return (field is not _MISSING) is bool(operand)
    if field is _MISSING or isinstance(field, Mapping):
        return False
    if operator == "prefix":
        return isinstance(field, str) and field.startswith(operand)
    if operator == "suffix":
        return isinstance(field, str) and field.endswith(operand)
    if operator == "equals-ignore-case":
        return isinstance(field, str) and field.lower() == str(operand).lower()
    if operator == "anything-but":
        excluded = operand if isinstance(operand, list) else [operand]
        return field not in excluded
    raise ValueError(f"unsupported comparison {operator!r}")
