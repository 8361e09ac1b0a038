"""Every carrier Keel books with, each declared as data by its own package."""

from __future__ import annotations

from shared.carriers.sendcloud import CARRIER as SENDCLOUD
from shared.carriers.spec import CarrierSpec

CARRIER_SPECS: dict[str, CarrierSpec] = {c.name: c for c in (SENDCLOUD,)}
CARRIERS: tuple[str, ...] = tuple(CARRIER_SPECS)  # the one list the wiring reads


def workflow_carrier(configured: str | None) -> CarrierSpec:
    """The carrier the order workflow books with: the environment's configured one (KEEL_CARRIER),
    else the only one registered."""
    if configured:
        if configured not in CARRIER_SPECS:
            raise ValueError(f"no carrier {configured!r}; registered: {sorted(CARRIER_SPECS)}")
        return CARRIER_SPECS[configured]
    if len(CARRIER_SPECS) != 1:
        raise ValueError(f"several carriers registered {sorted(CARRIER_SPECS)}: set KEEL_CARRIER")
    return next(iter(CARRIER_SPECS.values()))
