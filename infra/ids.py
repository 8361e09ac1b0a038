"""Construct ids from the wiring's logical names (no CDK import: docs generation uses it too)."""

from __future__ import annotations

import re


def construct_id(logical_name: str) -> str:
    """`sync-woocommerce` -> `SyncWoocommerce` (stable logical ids in the template)."""
    return "".join(part.capitalize() for part in re.split(r"[-_]", logical_name) if part)
