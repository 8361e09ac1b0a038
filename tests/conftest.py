"""Shared fixtures. AWS is never real here: dummy credentials, and moto where AWS is needed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

SPECS = Path(__file__).resolve().parents[1].parent / "shared" / "specs"

# Dummy credentials before any boto3 client exists, so nothing can reach a real account.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)


def pytest_sessionstart(session: pytest.Session) -> None:
    """The tests check Keel against the vendors' specs: without them, stop at once, saying
    where they were looked for (not six minutes later, test by test)."""
    if not SPECS.is_dir():
        pytest.exit(
            f"channel specs not found at {SPECS}: ../shared/specs must sit beside the repo", 1
        )


@pytest.fixture(scope="session")
def specs() -> Path:
    """The team's channel specs beside the repo. Missing specs fail loudly: never skip."""
    if not SPECS.is_dir():
        pytest.fail(f"channel specs not found at {SPECS}: ../shared/specs must sit beside the repo")
    return SPECS


@pytest.fixture
def clean_clients() -> Iterator[None]:
    from shared.runtime import reset

    reset()
    yield
    reset()
