"""Where the sandboxes find the vendors' published specs, and whether they check against them.

The specs (OpenAPI models, the Shopify introspection) sit beside the repository, in
`../shared/specs`; tests and CI always have them. A user's clone does not: the sandboxes then
run on Keel's own definitions (the Shopify schema subset beside this file; bol and Amazon
bodies unchecked) and say once that strict checking is off. `KEEL_VENDOR_SPECS` points
elsewhere (a path; a missing one means "not here")."""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

ENV = "KEEL_VENDOR_SPECS"
DEFAULT = Path(__file__).resolve().parents[2].parent / "shared" / "specs"


def specs_dir() -> Path:
    configured = os.environ.get(ENV)
    return Path(configured) if configured else DEFAULT


def strict() -> bool:
    """True when the vendor specs are there: requests are checked against them."""
    return specs_dir().is_dir()


@cache
def say_once() -> None:
    """One line on stderr when strict checking is off (once per process)."""
    if not strict():
        print(
            f"vendor specs not found at {specs_dir()}: the sandboxes run on Keel's own "
            "definitions (strict request checking is off; tests and CI have the specs)",
            file=sys.stderr,
        )
