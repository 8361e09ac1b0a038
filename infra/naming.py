"""Construct ids and physical names derived from the wiring's logical names."""

from __future__ import annotations

import re

from aws_cdk import ArnFormat, Stack
from constructs import Construct

from infra.ids import construct_id

__all__ = ["construct_id", "lambda_handler", "state_machine_arn"]


def lambda_handler(handler: str) -> str:
    """`functions.webhook.handler:handler` (wiring) -> `functions.webhook.handler.handler`."""
    if not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", handler):
        raise ValueError(f"handler {handler!r} is not 'module.path:function'")
    module, function = handler.split(":")
    return f"{module}.{function}"


def state_machine_arn(scope: Construct, resource_prefix: str, logical_name: str) -> str:
    """A state machine's ARN from its known name, not a reference to it: a task function that
    answers its own machine's tokens would otherwise make the two depend on each other."""
    return Stack.of(scope).format_arn(
        service="states",
        resource="stateMachine",
        resource_name=f"{resource_prefix}-{logical_name}",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
