"""What the handlers load at cold start: behaviour, not timing (the figures are issue #11's
benchmarks, benchmarks/cold_start.py). Each check imports in a fresh interpreter, with Lambda's
environment where it matters (there the Tracer is on and patches at import)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.cold_start import handler_modules

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, lambda_env: bool = False) -> object:
    """The JSON the code prints, run from the repo root (in Lambda's environment if asked)."""
    env = dict(os.environ)
    if lambda_env:
        env.pop("POWERTOOLS_TRACE_DISABLED", None)
        env.update(
            LAMBDA_TASK_ROOT=str(ROOT),
            AWS_LAMBDA_FUNCTION_NAME="keel-test",
            AWS_XRAY_CONTEXT_MISSING="LOG_ERROR",
            AWS_XRAY_DAEMON_ADDRESS="127.0.0.1:2000",
        )
    out = subprocess.run(
        [sys.executable, "-c", f"import json, sys\n{code}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_webhook_loads_botocore_and_logger_only() -> None:
    """Shopify times the ack, cold start included (DESIGN §2): no boto3 (s3transfer), no
    parsing or validation (pydantic, the channels' normalizers), no httpx, no X-Ray SDK, no
    batch utility; botocore, which every delivery needs, is loaded at import."""
    heavy = (
        "boto3",
        "s3transfer",
        "pydantic",
        "httpx",
        "cryptography",
        "aws_xray_sdk",
        "aws_lambda_powertools.utilities.parameters",
        "aws_lambda_powertools.utilities.batch",
        "shared.wiring",
        "shared.domain.orders",
        "shared.channels.shopify.orders",
    )
    loaded = _run(
        "import functions.webhook.handler\n"
        f"print(json.dumps([m for m in {heavy!r} + ('botocore.session',) if m in sys.modules]))",
        lambda_env=True,
    )
    assert loaded == ["botocore.session"]


def test_no_handler_loads_boto3_or_what_it_was_replaced_for() -> None:
    """Keel uses botocore's clients: boto3 (with s3transfer), Powertools parameters (which
    imports boto3) and pydantic-settings cost cold starts and bought nothing."""
    heavy = ("boto3", "s3transfer", "aws_lambda_powertools.utilities.parameters")
    loaded = _run(
        "".join(f"import {m}\n" for m in handler_modules())
        + f"print(json.dumps([m for m in sys.modules if m in {heavy!r} "
        + "or m.startswith('pydantic_settings')]))",
        lambda_env=True,
    )
    assert loaded == []


def test_tracing_patches_aws_calls_at_import_and_http_calls_on_first_use() -> None:
    """In Lambda the Tracer patches botocore at import; httpx (and sqlite3, which Keel does not
    use) are not imported then: the runtime patches httpx when a call needs its HTTP client."""
    loaded = _run(
        "import functions.ingest.handler\n"
        "from shared.runtime import runtime\n"
        "import botocore.client\n"
        "aws = hasattr(botocore.client.BaseClient._make_api_call, '__wrapped__')\n"
        "before = [m for m in ('httpx', 'sqlite3') if m in sys.modules]\n"
        "traced = type(runtime().http._transport).__name__ == 'SyncInstrumentedTransport'\n"
        "print(json.dumps([aws, before, traced]))",
        lambda_env=True,
    )
    assert loaded == [True, [], True]


def test_functions_that_call_channels_on_some_records_only_import_httpx_on_use() -> None:
    """ingest (channels whose deliveries name orders) and oversell (a policy that cancels
    lines); the relays, release-held and the resync never call a channel."""
    modules = (
        "functions.ingest.handler",
        "functions.oversell.handler",
        "functions.relay.handler",
        "functions.release_held.handler",
        "functions.resync.handler",
    )
    loaded = _run(
        "".join(f"import {m}\n" for m in modules) + "print(json.dumps('httpx' in sys.modules))",
        lambda_env=True,
    )
    assert loaded is False
