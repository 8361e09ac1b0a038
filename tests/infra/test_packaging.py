"""Lambda packaging: a platform-correct dependency layer and a code asset with only the code."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from infra import bundling
from tests.infra.template import Template

pytestmark = pytest.mark.infra


def test_layer_is_built_for_the_lambda_platform_without_the_runtime_sdk(prod: Template) -> None:
    (layer,) = prod.of_type("AWS::Lambda::LayerVersion").values()
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    site = prod.asset_dir(layer["Properties"]["Content"]) / "python"
    names = {p.name for p in site.iterdir()}
    assert {"aws_lambda_powertools", "pydantic", "pydantic_core", "httpx"} <= names
    assert not names & {"boto3", "botocore", "s3transfer", "bin"}
    version = bundling.LAMBDA_PYTHON_VERSION.replace(".", "")
    assert list((site / "pydantic_core").glob(f"*.cpython-{version}-aarch64-linux-gnu.so"))
    # Lambda cannot write bytecode: the layer carries it, compiled by the runtime's Python.
    assert list((site / "pydantic" / "__pycache__").glob(f"main.cpython-{version}.pyc"))


def test_code_asset_holds_only_shared_and_functions(prod: Template) -> None:
    codes = {
        prod.text(f["Properties"]["Code"]) for f in prod.of_type("AWS::Lambda::Function").values()
    }
    assert len(codes) == 1  # one asset for all functions
    (function,) = list(prod.of_type("AWS::Lambda::Function").values())[:1]
    asset = prod.asset_dir(function["Properties"]["Code"])
    assert {p.name for p in asset.iterdir()} == {"shared", "functions"}
    runtime_tag = "cpython-" + bundling.LAMBDA_PYTHON_VERSION.replace(".", "")
    assert all(runtime_tag in p.name for p in asset.rglob("*.pyc"))  # only the runtime's
    for module in asset.rglob("*.py"):  # and every module has it (a read-only file system)
        assert list((module.parent / "__pycache__").glob(f"{module.stem}.{runtime_tag}.pyc"))
    assert not list(asset.rglob("test_*.py"))


def test_layer_cache_key_changes_with_its_inputs() -> None:
    key = bundling.layer_key()
    assert key == bundling.layer_key()
    assert key != bundling.layer_key(python_version="3.13")
    assert key != bundling.layer_key(arch="x86_64")


def test_bytecode_is_compiled_by_the_interpreter_it_is_for(tmp_path: Path) -> None:
    """Lambda cannot write .pyc (read-only), so the bundle carries them, for its Python only."""
    version = "{}.{}".format(*sys.version_info[:2])
    python = bundling.target_interpreter(version)
    assert python is not None  # this interpreter's version is on this machine
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("VALUE = 1\n")
    bundling._compile(tmp_path, python)
    (pyc,) = (tmp_path / "pkg" / "__pycache__").glob("mod.*.pyc")
    assert f"cpython-{version.replace('.', '')}" in pyc.name
    flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
    assert flags == 0b01  # hash-based, unchecked: valid whatever the zip's file times
    assert bundling.target_interpreter("2.1") is None


def test_a_build_that_cannot_compile_for_the_runtime_stops_unless_allowed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """#21: it shipped without bytecode with only a warning, and every cold start compiled."""
    monkeypatch.setattr(bundling, "target_interpreter", lambda *_: None)
    monkeypatch.delenv(bundling.ALLOW_NO_BYTECODE, raising=False)
    with pytest.raises(bundling.NoRuntimeInterpreter, match="KEEL_LAMBDA_PYTHON="):
        bundling.bytecode_interpreter("3.14")
    monkeypatch.setenv(bundling.ALLOW_NO_BYTECODE, "1")
    assert bundling.bytecode_interpreter("3.14") is None
    assert "warning: no Python 3.14" in capsys.readouterr().err
