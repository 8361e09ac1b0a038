"""Carriers Keel books parcels with. Each has one account (one secret) per environment."""

CARRIERS: tuple[str, ...] = ("sendcloud",)
