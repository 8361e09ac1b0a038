"""Construct ids from the wiring's logical names (no CDK import: docs generation uses it too).
The rule is shared/stack_outputs.py's: the CLI names a stack's outputs by it."""

from __future__ import annotations

from shared.stack_outputs import construct_id

__all__ = ["construct_id"]
