"""The host's record of devices set up by ``mlpack devices setup``: which Python runs mlpack there.

One small TOML file, ``~/.config/mlpack/devices.toml`` (``$XDG_CONFIG_HOME`` honoured), one table
per device by its label (``[devices."pi@rpi4.local"] python = "/home/pi/.mlpack-device/venv/bin/python"``).
A target that names its own ``?python=`` wins over the record.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from mlpack.core.fileio import write_text_atomic
from mlpack.remote.ssh import DEFAULT_PYTHON, Target

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def state_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "mlpack" / "devices.toml"


def _read() -> dict[str, dict[str, str]]:
    try:
        data = tomllib.loads(state_file().read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    devices = data.get("devices", {})
    return devices if isinstance(devices, dict) else {}


def recorded_python(target: Target) -> str:
    """The Python to run on ``target``: its own ``?python=``, else the recorded venv's, else python3."""
    if target.python != DEFAULT_PYTHON:
        return target.python
    entry = _read().get(target.label, {})
    python = entry.get("python") if isinstance(entry, dict) else None
    return python if isinstance(python, str) and python else DEFAULT_PYTHON


def record_python(target: Target, python: str) -> None:
    """Remember that mlpack runs on ``target`` under ``python`` (rewrites the small state file)."""
    devices = _read() | {target.label: {"python": python}}
    lines = ["# Written by `mlpack devices setup`: the Python that runs mlpack on each device.", ""]
    for label, entry in sorted(devices.items()):
        lines += [f"[devices.{json.dumps(label)}]", f"python = {json.dumps(entry.get('python', ''))}", ""]
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, "\n".join(lines))
