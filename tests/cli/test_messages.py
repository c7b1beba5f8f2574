"""Messages keep their point: text from mlpack and from files is never read as rich markup."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mlpack.cli import app
from tests.helpers.processes import runtime_only_env


def test_install_hints_keep_their_extra(gemm_mlp: Path, tmp_path: Path) -> None:
    """Without onnxsim, optimize says which extra installs it: '[optimize]' is not swallowed as markup."""
    shown = subprocess.run(
        [sys.executable, "-m", "mlpack.cli", "optimize", str(gemm_mlp), "-o", str(tmp_path / "o.onnx")],
        env=runtime_only_env(tmp_path) | {"COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert shown.returncode == 0, shown.stderr
    assert "pip install 'mlpack-edge[optimize]'" in shown.stdout


def test_names_from_files_are_shown_as_written(runner, gemm_mlp: Path, tmp_path: Path) -> None:
    package = tmp_path / "m.mlpack"
    packed = runner.invoke(app, ["pack", str(gemm_mlp), "-o", str(package), "--name", "[bold]net", "--golden", "1"])
    assert packed.exit_code == 0, packed.output
    assert "[bold]net" in packed.stdout
