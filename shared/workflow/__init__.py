"""The order workflow, declared once: its ASL definition (one file, read by CDK and by the local
stack), the task functions its placeholders name, and how an execution is named.

Stdlib only: the orders stream's starter and the CLI import this.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

DEFINITION = Path(__file__).with_name("order.asl.json")
STATE_MACHINE = "order-workflow"  # logical name; env `ORDER_WORKFLOW_ARN` carries the ARN

# ASL placeholder -> the wiring's function that runs that task.
TASKS: dict[str, str] = {
    "ShipFunction": "workflow-ship",  # Validate, then Ship
    "AwaitCarrierFunction": "workflow-await-carrier",
    "CommitFunction": "workflow-commit",
    "ConfirmFunction": "workflow-confirm",
    "ReplanFunction": "workflow-replan",
    "CompensateFunction": "workflow-compensate",
    "RecordFailureFunction": "workflow-record-failure",
}
# The workflow's steps, in order, as a failure names where it stopped (`failed_step`); the ASL
# runs them in four states on the way (ValidateAndShip, WaitForCarrier, Commit, Confirm).
STEPS = ("Validate", "Ship", "WaitForCarrier", "Commit", "Confirm")


def execution_name(order_key: str) -> str:
    """One execution per order: a replayed start is refused by name. Names allow 80 characters
    of [A-Za-z0-9-_]; the hash keeps two keys that read alike apart."""
    readable = re.sub(r"[^A-Za-z0-9_-]", "-", order_key)[:60]
    return f"{readable}-{hashlib.sha256(order_key.encode()).hexdigest()[:12]}"
