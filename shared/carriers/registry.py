"""Every carrier Keel books with, each declared as data by its own package."""

from __future__ import annotations

from shared.carriers.sendcloud import CARRIER as SENDCLOUD
from shared.carriers.spec import CarrierSpec

CARRIER_SPECS: dict[str, CarrierSpec] = {c.name: c for c in (SENDCLOUD,)}
