"""Construct ids and physical names derived from the wiring's logical names."""

from __future__ import annotations

import re


def construct_id(logical_name: str) -> str:
    """`sync-woocommerce` -> `SyncWoocommerce` (stable logical ids in the template)."""
    return "".join(part.capitalize() for part in re.split(r"[-_]", logical_name) if part)


def lambda_handler(handler: str) -> str:
    """`functions.webhook.handler:handler` (wiring) -> `functions.webhook.handler.handler`."""
    if not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", handler):
        raise ValueError(f"handler {handler!r} is not 'module.path:function'")
    module, function = handler.split(":")
    return f"{module}.{function}"
