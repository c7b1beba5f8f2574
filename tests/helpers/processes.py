"""Running code the way users do: in a child process, or without torch (the runtime-only install)."""

from __future__ import annotations

import sys
from pathlib import Path


def runtime_only_env(folder: Path) -> dict[str, str]:
    """An environment in which torch and onnxsim cannot be imported, as on the runtime-only install.

    Packages that raise ImportError shadow the real ones through PYTHONPATH, in every child process.
    """
    import os
    import subprocess

    blocker = folder / "blocker"
    for name in ("torch", "onnxsim"):
        (blocker / name).mkdir(parents=True, exist_ok=True)
        (blocker / name / "__init__.py").write_text(f"raise ImportError('{name} is blocked for this test')\n")
    env = dict(os.environ, PYTHONPATH=f"{blocker}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    assert subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True).returncode != 0
    return env


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def run_python(code: str) -> str:
    import subprocess

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
