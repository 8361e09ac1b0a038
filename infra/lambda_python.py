"""An interpreter of the Lambda runtime's Python version, for compiling the bundle's bytecode
on a machine that has none (Lambda runs 3.14; Debian bookworm and this project's machines have
3.11). Only `compileall` runs on it.

Where from: Debian's development suite builds `python<version>-minimal` (the interpreter and
the part of the standard library that byte-compiling needs). Its packages are downloaded with
apt-get from the mirror this machine's apt already uses, verified with the machine's Debian
archive keyring, and unpacked under `.cache/lambda-python/<version>/` with that suite's C
library beside them (the interpreter needs a newer glibc than the machine's): nothing is
installed into the system, and apt's own state (package lists, cache) is a private one under
the same folder. A wrapper script `bin/python<version>` runs it through the unpacked dynamic
loader. Needs the registry once per machine; where it cannot be had, `provision` returns None
and the build stops, saying how to give an interpreter (infra/bundling.bytecode_interpreter).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE = REPO_ROOT / ".cache" / "lambda-python"
SUITE = "unstable"  # where Debian builds the newest Pythons first
_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
# Debian architecture -> (multiarch triplet, dynamic loader)
_ARCH = {
    "amd64": ("x86_64-linux-gnu", "ld-linux-x86-64.so.2"),
    "arm64": ("aarch64-linux-gnu", "ld-linux-aarch64.so.1"),
}


# What `full` adds: the rest of the standard library and the C libraries its modules link
# (ssl, hashlib, ctypes, sqlite3, ...), for running code (the cold-start benchmark), not only
# compiling it.
_FULL = (
    "libpython{v}-stdlib",
    "libssl3t64",
    "libzstd1",
    "libbz2-1.0",
    "libffi8",
    "liblzma5",
    "libsqlite3-0",
    "libuuid1",
    "libncursesw6",
    "libtinfo6",
    "libreadline8t64",
    "libdb5.3t64",
)


def interpreter_path(version: str, full: bool = False) -> Path:
    """Where the provisioned wrapper lives (whether or not it is there yet)."""
    return CACHE / (f"{version}-full" if full else version) / "bin" / f"python{version}"


def debian_mirror(sources: tuple[Path, ...] = _SOURCES) -> str | None:
    """The first Debian archive URI apt is configured with (not the security archive)."""
    files: list[Path] = []
    for source in sources:
        if source.is_dir():
            files += sorted(source.glob("*.sources")) + sorted(source.glob("*.list"))
        elif source.is_file():
            files.append(source)
    for path in files:
        text = path.read_text(errors="replace")
        uris = re.findall(r"^URIs:\s*(\S+)", text, re.MULTILINE)  # deb822
        uris += re.findall(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)", text, re.MULTILINE)  # one-line
        for uri in map(str, uris):
            if uri.rstrip("/").endswith("/debian"):
                return uri.rstrip("/")
    return None


def provision(version: str, full: bool = False) -> Path | None:
    """The wrapper of a Python `version` interpreter, fetched once; None if it cannot be had.
    `full`: with the whole standard library (see _FULL)."""
    target = interpreter_path(version, full)
    if _works(target, version):
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{target.parents[1].name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _works(target, version):  # another process provisioned it while we waited
            return target
        try:
            _fetch(version, target.parents[1], full)
        except (OSError, subprocess.CalledProcessError, RuntimeError) as exc:
            print(f"note: no Python {version} from Debian's packages: {exc}", file=sys.stderr)
            return None
    return target if _works(target, version) else None


def _works(python: Path, version: str) -> bool:
    if not python.is_file():
        return False
    result = subprocess.run(
        [str(python), "-c", "import sys, compileall; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() == version


def _fetch(version: str, home: Path, full: bool) -> None:
    mirror = debian_mirror()
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if mirror is None or arch not in _ARCH or not _KEYRING.is_file():
        raise RuntimeError(f"no Debian mirror, keyring or known architecture ({arch})")
    triplet, loader = _ARCH[arch]
    staging = home.with_name(f"{home.name}.building-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    apt = staging / "apt"
    for folder in (apt / "lists" / "partial", apt / "cache" / "archives" / "partial"):
        folder.mkdir(parents=True)
    (apt / "sources.list").write_text(f"deb [signed-by={_KEYRING}] {mirror} {SUITE} main\n")
    options = [
        f"-oDir::Etc::SourceList={apt / 'sources.list'}",
        "-oDir::Etc::SourceParts=/dev/null",
        f"-oDir::State::Lists={apt / 'lists'}",
        f"-oDir::Cache={apt / 'cache'}",
        "-oDebug::NoLocking=1",
        "-oAPT::Sandbox::User=root",
        "-qq",
    ]
    print(f"fetching Python {version} from Debian's {SUITE} packages ...", file=sys.stderr)
    subprocess.run(["apt-get", *options, "update"], check=True, capture_output=True)
    packages = [f"python{version}-minimal", f"libpython{version}-minimal"]
    packages += ["libc6", "zlib1g", "libexpat1"]
    packages += [name.format(v=version) for name in _FULL] if full else []
    debs = staging / "debs"
    debs.mkdir()
    subprocess.run(
        ["apt-get", *options, "download", *packages], cwd=debs, check=True, capture_output=True
    )
    root = staging / "root"
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    libs = f"$R/usr/lib/{triplet}:$R/lib/{triplet}"
    wrapper = staging / "bin" / f"python{version}"
    wrapper.parent.mkdir()
    wrapper.write_text(
        "#!/bin/sh\n"
        "# Debian's python, run with the C library it was built against (infra/lambda_python.py)\n"
        'R="$(cd "$(dirname "$0")/.." && pwd)/root"\n'
        # argv[0] is this script: it becomes sys.executable, which multiprocessing starts
        f'PYTHONHOME="$R/usr" exec "$R/usr/lib/{triplet}/{loader}" --library-path "{libs}" '
        f'--argv0 "$0" "$R/usr/bin/python{version}" "$@"\n'
    )
    wrapper.chmod(0o755)
    shutil.rmtree(apt)
    shutil.rmtree(debs)
    if not _works(wrapper, version):
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(f"the unpacked python{version} does not run here")
    # Debian compiles the standard library when it installs it; unpacked, it has no bytecode
    # (and a read-only run would compile it at every start). Test files that do not compile
    # on purpose make compileall's status non-zero: not checked.
    stdlib = root / "usr" / "lib" / f"python{version}"
    subprocess.run([str(wrapper), "-m", "compileall", "-q", "-j", "0", str(stdlib)], check=False)
    shutil.rmtree(home, ignore_errors=True)
    staging.rename(home)
