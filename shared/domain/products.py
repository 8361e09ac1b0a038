"""A SKU as the merchant names it: what import writes and discovery matches by."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    sku: str
    title: str
    gtin: str | None = None  # GTIN-14 (shared/domain/gtin.py)
