"""Lambda packaging without Docker: a dependency layer built by pip for the target platform, and
the function code staged on its own.

The layer is cached under `.cache/lambda-layer/<key>/python`, the key being a hash of everything
that decides its contents (requirements.lock, the runtime dependencies of pyproject.toml, Python
version, architecture, this recipe). Synth and the infra tests reuse it; a change to any input
builds a new one. Builds are serialized with a file lock and published by an atomic rename, so
parallel test workers neither build twice nor see a half-written directory.

boto3, botocore and s3transfer are left out of the layer: the Lambda Python runtime ships them,
botocore alone is ~30 MB of the ~50 MB the layer would otherwise be, and Keel uses only
long-stable DynamoDB, SQS and Secrets Manager calls. The price is that AWS runs the runtime's
boto3 rather than the pinned one; see docs/decisions.md.

Bytecode. Lambda's file system is read-only, so Python cannot write the `.pyc` files it would
otherwise make on first import: a bundle shipped without them is compiled again at every cold
start (measured, issue #11: webhook 646 ms instead of 296 ms, sync 1,754 ms instead of 853 ms).
Bytecode is specific to the interpreter's minor version, so the layer and the code are compiled
by an interpreter of the runtime's version (`KEEL_LAMBDA_PYTHON`, else `python3.14` on PATH or
under pyenv, else the one the build fetches from Debian's packages into .cache/lambda-python/,
see infra/lambda_python.py), as unchecked-hash `.pyc` (valid whatever the files' times in the
zip). Where none can be had the build stops and says how to give one (or ships without bytecode
with a warning when KEEL_ALLOW_NO_BYTECODE=1);
the cache key records which it is.

Run `python -m infra.bundling` to build (or find) the layer and staged code without synthesizing.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infra import lambda_python

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE_ROOT = REPO_ROOT / ".cache"
LAYER_CACHE = CACHE_ROOT / "lambda-layer"
CODE_CACHE = CACHE_ROOT / "lambda-code"

LAMBDA_PYTHON_VERSION = "3.14"  # must match infra.compute.RUNTIME (checked there)
LAMBDA_ARCH = "aarch64"  # must match infra.compute.ARCHITECTURE (checked there)

# Provided by the Lambda Python runtime; see the module docstring.
EXCLUDED_FROM_LAYER = ("boto3", "botocore", "s3transfer")
# What the functions import at run time. Everything else in the repo stays out of the asset.
CODE_PACKAGES = ("shared", "functions")
_CODE_IGNORED = ("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", ".mypy_cache", "tests", "test_*")
# Bump when the build steps below change, so old cache entries are not reused.
_RECIPE_VERSION = "2"
_STALE_CODE_AFTER_S = 7 * 24 * 3600
_COMPILE_ARGS = ("-q", "-j", "0", "--invalidation-mode", "unchecked-hash")


def target_interpreter(python_version: str = LAMBDA_PYTHON_VERSION) -> Path | None:
    """An interpreter of the Python version on this machine, if any; for the Lambda runtime's
    version, fetched from Debian's packages once if the machine has none."""
    named = os.environ.get("KEEL_LAMBDA_PYTHON")
    candidates = [Path(named)] if named else []
    found = shutil.which(f"python{python_version}")
    if found:
        candidates.append(Path(found))
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv.is_dir():
        candidates += sorted(pyenv.glob(f"{python_version}.*/bin/python{python_version}"))
    candidates.append(lambda_python.interpreter_path(python_version))
    for python in candidates:
        if not python.is_file():
            continue
        version = subprocess.run(
            [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if version == python_version:
            return python
    if python_version == LAMBDA_PYTHON_VERSION:  # the build fetches one (see the docstring)
        return lambda_python.provision(python_version)
    return None


def _compile(tree: Path, python: Path | None) -> None:
    """`.pyc` beside every module, for the runtime's interpreter (see the module docstring)."""
    if python is None:
        return
    subprocess.run(
        [str(python), "-m", "compileall", *_COMPILE_ARGS, str(tree)],
        check=True,
        capture_output=True,
    )


ALLOW_NO_BYTECODE = "KEEL_ALLOW_NO_BYTECODE"  # "1": ship without, saying so (tests, CI)


class NoRuntimeInterpreter(RuntimeError):
    """The build cannot compile for Lambda's Python: it stops rather than ship a slow bundle."""


def bytecode_interpreter(python_version: str = LAMBDA_PYTHON_VERSION) -> Path | None:
    """The interpreter that compiles the bundle, or a loud stop: without it every function
    compiles its code at each cold start (about twice as slow). `KEEL_ALLOW_NO_BYTECODE=1`
    ships without it anyway, with a warning (what the infra tests do where none can be had)."""
    python = target_interpreter(python_version)
    if python is not None:
        return python
    advice = (
        f"no Python {python_version} to compile the Lambda bundle's bytecode. Give one with "
        f"KEEL_LAMBDA_PYTHON=/path/to/python{python_version} (e.g. `pip install uv && uv "
        f"python install {python_version}`, then KEEL_LAMBDA_PYTHON=$(uv python find "
        f"{python_version})), or set {ALLOW_NO_BYTECODE}=1 to ship without (slower cold starts)"
    )
    if os.environ.get(ALLOW_NO_BYTECODE) != "1":
        raise NoRuntimeInterpreter(advice)
    print(f"warning: {advice}", file=sys.stderr)
    return None


def runtime_dependencies(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """`[project] dependencies`: what the functions need, apart from dev, local and CDK extras."""
    with pyproject.open("rb") as f:
        return list(tomllib.load(f)["project"]["dependencies"])


def layer_key(
    python_version: str = LAMBDA_PYTHON_VERSION,
    arch: str = LAMBDA_ARCH,
    lock_file: Path = REPO_ROOT / "requirements.lock",
    pyproject: Path = REPO_ROOT / "pyproject.toml",
) -> str:
    recipe = {
        "lock": hashlib.sha256(lock_file.read_bytes()).hexdigest(),
        "dependencies": sorted(runtime_dependencies(pyproject)),
        "python": python_version,
        "arch": arch,
        "excluded": EXCLUDED_FROM_LAYER,
        "recipe": _RECIPE_VERSION,
        "bytecode": target_interpreter(python_version) is not None,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def dependency_layer(python_version: str = LAMBDA_PYTHON_VERSION, arch: str = LAMBDA_ARCH) -> Path:
    """Directory to give `Code.from_asset` for the layer (it holds `python/`). Built if missing."""
    key = layer_key(python_version, arch)
    target = LAYER_CACHE / key
    if (target / "python").is_dir():
        return target
    with _locked(LAYER_CACHE / f"{key}.lock"):
        if (target / "python").is_dir():  # another process built it while we waited
            return target
        staging = LAYER_CACHE / f"{key}.building-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        _pip_install(staging / "python", python_version, arch)
        _prune_layer(staging / "python")
        _compile(staging / "python", bytecode_interpreter(python_version))
        staging.rename(target)
    return target


def _pip_install(into: Path, python_version: str, arch: str) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",  # .pyc for the local interpreter would be useless: see _compile
        "--target",
        str(into),
        "--platform",
        f"manylinux2014_{arch}",
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--only-binary=:all:",
        "--constraint",
        str(REPO_ROOT / "requirements.lock"),
        *runtime_dependencies(),
    ]
    started = time.monotonic()
    print(f"building Lambda dependency layer into {into} ...", file=sys.stderr)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"pip could not build the Lambda layer:\n{result.stderr[-4000:]}")
    print(f"layer built in {time.monotonic() - started:.1f} s", file=sys.stderr)


def _prune_layer(site: Path) -> None:
    """Drop what the runtime provides, console scripts and caches."""
    excluded = {name.replace("-", "_").lower() for name in EXCLUDED_FROM_LAYER}
    for entry in site.iterdir():
        base = entry.name.split("-")[0].lower() if entry.name.endswith(".dist-info") else entry.name
        if base.lower() in excluded or entry.name == "bin":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    for cache in site.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)


def _code_fingerprint(root: Path, compiled: bool) -> str:
    digest = hashlib.sha256(f"{_RECIPE_VERSION}:{compiled}".encode())
    for package in CODE_PACKAGES:
        for path in sorted((root / package).rglob("*")):
            rel = path.relative_to(root)
            if path.is_file() and not _ignored(rel):
                digest.update(str(rel).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _ignored(rel: Path) -> bool:
    return any(part.match(pattern) for part in map(Path, rel.parts) for pattern in _CODE_IGNORED)


def function_code(root: Path = REPO_ROOT) -> Path:
    """A directory holding only `shared/` and `functions/` (no tests, no caches) for the code asset.

    Staged instead of pointing the asset at the repo root with excludes: CDK would then walk
    `.venv` and `node_modules` to fingerprint the asset.
    """
    python = bytecode_interpreter()
    target = CODE_CACHE / _code_fingerprint(root, python is not None)
    if target.is_dir():
        return target
    staging = CODE_CACHE / f"{target.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    for package in CODE_PACKAGES:
        shutil.copytree(
            root / package, staging / package, ignore=shutil.ignore_patterns(*_CODE_IGNORED)
        )
    _compile(staging, python)
    try:
        staging.rename(target)
    except OSError:  # a parallel process published the same content first
        shutil.rmtree(staging, ignore_errors=True)
    _prune_stale_code(keep=target)
    return target


def _prune_stale_code(keep: Path) -> None:
    cutoff = time.time() - _STALE_CODE_AFTER_S
    for entry in CODE_CACHE.iterdir():
        if entry != keep and entry.is_dir() and entry.stat().st_mtime < cutoff:
            shutil.rmtree(entry, ignore_errors=True)


def main() -> None:
    print(f"layer: {dependency_layer()}")
    print(f"code:  {function_code()}")


if __name__ == "__main__":
    main()
