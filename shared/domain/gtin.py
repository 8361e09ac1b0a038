"""GTINs (EAN-13, UPC-A, EAN-8, GTIN-14): checked by their check digit and compared as GTIN-14.

One product carries one GTIN whatever its length says: a UPC-A `012345678905` is the EAN-13
`0012345678905` and the GTIN-14 `00012345678905`. Channels spell them differently (Shopify's
barcode as typed, bol's 13-digit EAN, Amazon's product ids), so matching compares the GTIN-14.
"""

from __future__ import annotations

_LENGTHS = (8, 12, 13, 14)


class BadGtin(ValueError):
    """Not a GTIN: wrong length, not digits, or a check digit that does not add up."""


def check_digit(body: str) -> int:
    """The GS1 check digit of the digits before it (weights 3,1,3,... from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def normalize_gtin(value: str) -> str:
    """The GTIN-14 of `value` (spaces and dashes dropped); BadGtin says why it is not one."""
    digits = value.strip().replace(" ", "").replace("-", "")
    if not digits.isdigit() or not digits.isascii():
        raise BadGtin(f"GTIN {value!r} is not all digits")
    if len(digits) not in _LENGTHS:
        raise BadGtin(f"GTIN {value!r} has {len(digits)} digits (8, 12, 13 or 14)")
    if check_digit(digits[:-1]) != int(digits[-1]):
        raise BadGtin(
            f"GTIN {value!r} has a wrong check digit (expected {check_digit(digits[:-1])})"
        )
    if set(digits) == {"0"}:
        raise BadGtin(f"GTIN {value!r} is all zeros")
    return digits.zfill(14)


def gtin_or_none(value: str | None) -> str | None:
    """The GTIN-14 of what a channel shows, None when it shows none or not a GTIN (a barcode
    field holding an internal code is common): such a listing is matched by other means."""
    if not value:
        return None
    try:
        return normalize_gtin(value)
    except BadGtin:
        return None


def ean13(gtin14: str) -> str:
    """The EAN-13 of a GTIN-14 with a leading zero (as bol and most EU shops spell it)."""
    return gtin14[1:] if gtin14.startswith("0") else gtin14
