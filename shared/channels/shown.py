"""What a channel shows, as its listing readers get it (strings in CSV and TSV reports, JSON
numbers, empty cells): read into Keel's types once, here, for every channel."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")


def amount(value: Any) -> Decimal | None:
    """A price to the cent; None for an empty cell or something that is not one."""
    if value in (None, ""):
        return None
    try:
        found = Decimal(str(value))
    except InvalidOperation:
        return None
    return found.quantize(CENT) if found.is_finite() else None


def count(value: Any) -> int | None:
    """A quantity; None for an empty cell (not tracked) or something that is not one."""
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
