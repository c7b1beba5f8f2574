"""Second probe, item 8: a full disk or a file-size limit (``ulimit -f``) while writing an output is
bad input naming the file (exit 2), not "a bug in mlpack"; nothing half-written is left."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.hostile import succeeds, without_progress


def _mlpack_limited(args: list[object], cwd: Path, limit: int) -> subprocess.CompletedProcess[str]:
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mlpack.cli", *map(str, args)],
        cwd=cwd,
        env=env,
        preexec_fn=cap,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("command", ["pack", "run", "drift"])
def test_file_size_limit(work: Path, command: str) -> None:
    big = np.random.default_rng(0).standard_normal((3000, 16)).astype(np.float32)
    np.savez(work / "big.npz", x=big)
    if command == "pack":
        args, output = ["pack", "m.onnx", "-o", "m2.mlpack", "--golden-data", "big.npz", "--golden", "500"], "m2.mlpack"
    elif command == "run":
        succeeds(["pack", work / "m.onnx", "-o", work / "m.mlpack"])
        args, output = ["run", "m.mlpack", "--data", "big.npz", "-o", "out.npz"], "out.npz"
    else:
        succeeds(["pack", work / "m.onnx", "-o", work / "m.mlpack", "--data", work / "big.npz"])
        args, output = ["drift", "m.mlpack", "--data", "big.npz", "--json", "d.json", "--markdown", "d.md"], "d.json"
    done = _mlpack_limited(args, work, 2048 if command != "run" else 16384)
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert without_progress(done.stderr).startswith("error: ") and done.stderr.count("error: ") == 1, done.stderr
    assert "Traceback" not in done.stderr and "bug" not in done.stderr
    assert output in done.stderr or command == "drift"
    assert not [p for p in work.iterdir() if p.name.endswith(".tmp")]
