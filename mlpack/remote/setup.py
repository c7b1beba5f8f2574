"""``mlpack devices setup`` and ``devices check``: put the runtime-only mlpack on a device, in a venv.

The device needs no package index and no ``pip --user`` (refused under PEP 668): the host builds
the running mlpack's wheel (``pip wheel --no-deps``), downloads its dependencies' wheels for the
device's platform (``pip download --platform ... --only-binary=:all:``), copies them into the
device's folder and installs them offline into a venv there (``--no-index --find-links``).
Nothing outside that folder is touched on the device. The venv's Python is recorded on the host
(:mod:`mlpack.remote.devicestate`), so that later ``--target`` runs use it. A second setup finds
the same mlpack version in the venv and changes nothing.

Test hook: where ``MLPACK_SETUP_TEST_SITE`` names a folder of installed packages (the tests'
own site-packages), no dependency is downloaded; the venv reads that folder through a ``.pth``
file and only mlpack's wheel is installed (``--no-deps --ignore-installed``, so that the
mlpack those packages may include is neither counted nor touched). It keeps the tests fast and offline.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlpack.core.version import mlpack_version
from mlpack.errors import RemoteError
from mlpack.remote.devicestate import record_python
from mlpack.remote.ssh import DEFAULT_PYTHON, Target, connect, require_asyncssh

DEFAULT_DIR = ".mlpack-device"  # in the device user's home (where SSH sessions start)
TEST_SITE_ENV = "MLPACK_SETUP_TEST_SITE"
_FACTS = (
    "import json, platform, sys, sysconfig\n"
    "from importlib.metadata import version\n"
    "def v(name):\n"
    "    try:\n"
    "        return version(name)\n"
    "    except Exception:\n"
    "        return None\n"
    "cpu = ''\n"
    "try:\n"
    "    keys = ('model name', 'hardware')\n"
    "    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.lower().startswith(keys)), '')\n"
    "except OSError:\n"
    "    pass\n"
    "try:\n"
    "    from mlpack.core.sysinfo import cpu_features\n"
    "    isa = sorted(k for k, on in cpu_features().items() if on)\n"
    "except Exception:\n"
    "    isa = None\n"
    "print(json.dumps({'python': platform.python_version(), 'executable': sys.executable, 'prefix': sys.prefix,\n"
    "    'platform': sysconfig.get_platform(), 'machine': platform.machine(), 'libc': platform.libc_ver()[1],\n"
    "    'mlpack': v('mlpack-edge'), 'onnxruntime': v('onnxruntime'), 'cpu': cpu, 'isa': isa}))\n"
)


@dataclass(frozen=True)
class SetupResult:
    """What ``devices setup`` did: the venv's Python, and whether anything changed."""

    target: str
    folder: str
    python: str
    changed: bool
    installed: tuple[str, ...]  # the wheels copied and installed (empty when nothing changed)
    facts: dict[str, Any]

    @property
    def exit_code(self) -> int:
        return 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "folder": self.folder,
            "python": self.python,
            "changed": self.changed,
            "installed": list(self.installed),
            "device": self.facts,
        }


def check_device(target: Target, *, folder: str = DEFAULT_DIR) -> dict[str, Any]:
    """What the device has: its Python, and in ``folder``'s venv, mlpack and onnxruntime, CPU/ISA.

    Raises:
        RemoteError: the device cannot be reached, or has no ``python3``.
    """

    async def probe() -> dict[str, Any]:
        connection = await connect(target)
        try:
            base = await _facts(connection, target, DEFAULT_PYTHON, required=True)
            venv = await _facts(connection, target, _venv_python(folder), required=False)
        finally:
            connection.close()
        return {"target": target.url(), "folder": folder, "python": base, "venv": venv}

    return asyncio.run(probe())


def setup_device(target: Target, *, folder: str = DEFAULT_DIR) -> SetupResult:
    """Install this mlpack's runtime-only package into a venv in ``folder`` on the device.

    Raises:
        RemoteError: the device cannot be reached, its Python is older than 3.10, or a step failed.
    """
    return asyncio.run(_setup(target, folder))


async def _setup(target: Target, folder: str) -> SetupResult:
    here = mlpack_version()
    connection = await connect(target)
    try:
        base = await _facts(connection, target, DEFAULT_PYTHON, required=True)
        if tuple(int(p) for p in base["python"].split(".")[:2]) < (3, 10):
            raise RemoteError(f"{target.label} has Python {base['python']}; mlpack needs 3.10 or later there.")
        venv = await _facts(connection, target, _venv_python(folder), required=False)
        if venv and venv.get("mlpack") == here:
            record_python(target, venv["executable"])
            return SetupResult(target.url(), folder, venv["executable"], False, (), venv)
        with tempfile.TemporaryDirectory(prefix="mlpack-setup-") as tmp:
            wheels = _wheels(Path(tmp), base)
            await _copy(connection, target, folder, wheels)
        await _install(connection, target, folder, here, [w.name for w in wheels])
        venv = await _facts(connection, target, _venv_python(folder), required=True)
    finally:
        connection.close()
    record_python(target, venv["executable"])
    return SetupResult(target.url(), folder, venv["executable"], True, tuple(w.name for w in wheels), venv)


def _venv_python(folder: str) -> str:
    return f"{folder.rstrip('/')}/venv/bin/python"


async def _facts(connection: Any, target: Target, python: str, *, required: bool) -> dict[str, Any]:
    done = await connection.run(f"{shlex.quote(python)} -c {shlex.quote(_FACTS)}", check=False)
    if done.exit_status != 0:
        if not required:
            return {}
        raise RemoteError(
            f"{target.label} has no working '{python}': install Python 3.10 or later there "
            f"({str(done.stderr).strip()[-200:]})"
        )
    facts: dict[str, Any] = json.loads(str(done.stdout).strip().splitlines()[-1])
    return facts


def _pip(args: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()] or ["pip failed"]
        raise RemoteError(f"preparing the device's wheels failed: pip {args[0]}: {lines[-1].strip()}")


def _wheels(tmp: Path, base: dict[str, Any]) -> list[Path]:
    """This mlpack's wheel, and (without the test hook) its dependencies' for the device's platform."""
    source = Path(__file__).resolve().parents[2]
    if not (source / "pyproject.toml").is_file():
        raise RemoteError(f"mlpack runs from an installed package, not a source tree ({source}); cannot build it.")
    copy = tmp / "src"  # built from a copy, so that nothing is written into the user's tree
    shutil.copytree(source / "mlpack", copy / "mlpack", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (source / name).is_file():
            shutil.copy2(source / name, copy / name)
    _pip(["wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp / "own"), str(copy)])
    own = sorted((tmp / "own").glob("*.whl"))
    if os.environ.get(TEST_SITE_ENV):
        return own
    major, minor = base["python"].split(".")[:2]
    args = ["download", "-q", "--only-binary=:all:", "--python-version", f"{major}.{minor}", "-d", str(tmp / "deps")]
    for tag in _platform_tags(base):
        args += ["--platform", tag]
    _pip([*args, str(own[0])])
    return own + sorted(w for w in (tmp / "deps").glob("*.whl") if w.name != own[0].name)


def _platform_tags(base: dict[str, Any]) -> list[str]:
    """The wheel platform tags the device takes: manylinux up to its glibc, or its own platform."""
    machine, libc = base["machine"], base.get("libc") or ""
    if not base["platform"].startswith("linux") or not libc:
        return [base["platform"].replace("-", "_").replace(".", "_")]
    glibc_minor = int(libc.split(".")[1])
    tags = [f"manylinux_2_{m}_{machine}" for m in range(glibc_minor, 16, -1)]
    return [*tags, f"manylinux2014_{machine}", f"linux_{machine}"]


async def _copy(connection: Any, target: Target, folder: str, wheels: list[Path]) -> None:
    asyncssh = require_asyncssh()

    try:
        async with connection.start_sftp_client() as sftp:
            await sftp.makedirs(f"{folder}/wheels", exist_ok=True)
            for wheel in wheels:
                await sftp.put(str(wheel), f"{folder}/wheels/{wheel.name}")
    except (asyncssh.SFTPError, OSError) as exc:
        raise RemoteError(f"copying the wheels to {target.label}:{folder} failed: {exc}") from None


async def _install(connection: Any, target: Target, folder: str, version: str, wheels: list[str]) -> None:
    """A venv in the folder (never the system's site-packages, never --user), installed offline."""
    venv, quoted = f"{folder}/venv", shlex.quote
    steps = [f"{DEFAULT_PYTHON} -m venv {quoted(venv)}"]
    site = os.environ.get(TEST_SITE_ENV)
    if site:  # test hook: the dependencies are read from the tests' own site-packages
        write_pth = f"import site; open(site.getsitepackages()[0] + '/mlpack-test-site.pth', 'w').write({site!r})"
        steps.append(f"{quoted(_venv_python(folder))} -c {quoted(write_pth)}")
    pip = f"{quoted(_venv_python(folder))} -m pip install -q --no-cache-dir --disable-pip-version-check --no-index"
    pip += f" --find-links {quoted(folder + '/wheels')}"
    steps.append(f"{pip} {'--no-deps --ignore-installed ' if site else ''}{quoted(f'mlpack-edge=={version}')}")
    for step in steps:
        done = await connection.run(step, check=False)
        if done.exit_status != 0:
            detail = (str(done.stderr).strip().splitlines() or ["no message"])[-1]
            raise RemoteError(f"setting up {target.label}:{folder} failed at '{step.split(' -c ')[0]}': {detail}")
