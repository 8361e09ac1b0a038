"""Synthesize the real CDK app once per test session, all three environments in one app.

`app.synth()` is what runs the cdk-nag plugin (`Template.from_stack` would skip it), so every
test here reads the cloud assembly the CLI would write. Under xdist the first worker to get the
lock synthesizes into a directory all workers share and the others read it, so a parallel run
pays for one synth (~10 s warm), not one per worker. The Lambda layer comes from `.cache/`.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest

from infra.config import load
from tests.infra.template import Synthesized, Template

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ("dev", "staging", "prod")
FACTS = "keel-facts.json"  # what the tests need from jsii, written by the synthesizing process

# Before jsii starts: it hangs silently when it cannot create its package cache.
os.environ.setdefault("JSII_RUNTIME_PACKAGE_CACHE_ROOT", str(ROOT / ".cache" / "jsii"))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
# The tests synthesize, never deploy: where no Python of Lambda's version can be had, the bundle
# may go without bytecode (a deploy stops instead: infra/bundling.bytecode_interpreter).
os.environ.setdefault("KEEL_ALLOW_NO_BYTECODE", "1")


def _synthesize(outdir: Path) -> None:
    from aws_cdk import App
    from aws_cdk import aws_lambda as lambda_

    from infra.application import build, cdk_context

    app = App(outdir=str(outdir), context=cdk_context())
    build(app, ENVIRONMENTS)
    app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag finding
    pythons = [r.name for r in lambda_.Runtime.ALL if r.family == lambda_.RuntimeFamily.PYTHON]
    newest = max(pythons, key=lambda n: tuple(int(p) for p in n.removeprefix("python").split(".")))
    (outdir / FACTS).write_text(json.dumps({"newest_python_runtime": newest}))


def _read(outdir: Path) -> Synthesized:
    from infra.nag import REPORT_FILE  # imports aws_cdk: only once jsii's cache is set above

    manifest = json.loads((outdir / "manifest.json").read_text())
    templates: dict[str, Template] = {}
    for name in ENVIRONMENTS:
        config = load(name)
        properties = manifest["artifacts"][config.stack_name]["properties"]
        templates[name] = Template(
            body=json.loads((outdir / properties["templateFile"]).read_text()),
            config=config,
            termination_protection=bool(properties.get("terminationProtection")),
            outdir=outdir,
        )
    return Synthesized(
        outdir=outdir,
        templates=templates,
        validation_report=json.loads((outdir / REPORT_FILE).read_text()),
        facts=json.loads((outdir / FACTS).read_text()),
    )


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        outdir = tmp_path_factory.mktemp("cdk.out")
        _synthesize(outdir)
        return _read(outdir)
    shared = tmp_path_factory.getbasetemp().parent / "keel-cdk.out"
    with (shared.parent / "keel-cdk.out.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other workers wait here for the first one
        if not (shared / FACTS).is_file():  # not there yet, or the first attempt failed
            shared.mkdir(exist_ok=True)
            _synthesize(shared)
    return _read(shared)


@pytest.fixture(scope="session", params=ENVIRONMENTS)
def template(request: pytest.FixtureRequest, synthesized: Synthesized) -> Template:
    return synthesized.templates[request.param]


@pytest.fixture(scope="session")
def prod(synthesized: Synthesized) -> Template:
    return synthesized.templates["prod"]


@pytest.fixture(scope="session")
def dev(synthesized: Synthesized) -> Template:
    return synthesized.templates["dev"]
