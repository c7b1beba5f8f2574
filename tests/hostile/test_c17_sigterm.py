"""Class 17: SIGTERM during a long step unwinds like Ctrl-C: exit 143, one line, no output file and no
temporary folders (with copies of the model) left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from tests.helpers.hostile import without_progress
from tests.helpers.models import make_gemm_mlp

# Stops inside static quantisation, with its temporary folders in place, until the signal arrives.
_SCRIPT = """
import sys, time
from pathlib import Path
import mlpack.quant.modes.static as static

READY = Path(sys.argv[1])

def stuck(*args, **kwargs):
    READY.write_text("ready")
    time.sleep(60)

static.preprocess = stuck
from mlpack.cli import main
sys.argv = ["mlpack", *sys.argv[2:]]
main()
"""


def test_sigterm_during_static_quantisation(tmp_path: Path) -> None:
    model = make_gemm_mlp(tmp_path / "m.onnx")
    np.savez(tmp_path / "calib.npz", x=np.random.default_rng(0).standard_normal((400, 16)).astype(np.float32))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    ready = tmp_path / "ready"
    args = [str(ready), "optimize", str(model), "-o", str(tmp_path / "o.onnx"), "--quantize", "static"]
    args += ["--calibration", str(tmp_path / "calib.npz")]
    env = dict(os.environ, TMPDIR=str(scratch))
    process = subprocess.Popen([sys.executable, "-c", _SCRIPT, *args], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), process.communicate()[1]
    assert [p for p in scratch.iterdir() if p.name.startswith("mlpack-")]  # its folders exist while it works
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 143, stderr
    assert without_progress(stderr).strip() == "error: terminated"
    assert not (tmp_path / "o.onnx").exists()
    assert [p.name for p in scratch.iterdir() if p.is_dir()] == []
