"""Class 1: user code that exits, interrupts or raises while imported or called becomes one clean
error naming it (exit 2), for export and through build; nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.hostile import refused

FACTORIES = {
    "exit0": "import sys\ndef f():\n    sys.exit(0)\n",
    "exit3": "import sys\ndef f():\n    sys.exit(3)\n",
    "interrupt": "def f():\n    raise KeyboardInterrupt\n",
    "raises": "def f():\n    raise RuntimeError('no weights here')\n",
    "import_exit": "import sys\nsys.exit(0)\ndef f():\n    pass\n",
    "import_raises": "raise ValueError('bad module')\ndef f():\n    pass\n",
}


@pytest.mark.parametrize("kind", sorted(FACTORIES))
def test_export_guards_user_code(tmp_path: Path, kind: str) -> None:
    source = tmp_path / f"{kind}.py"
    source.write_text(FACTORIES[kind])
    message = refused(["export", f"{source}:f", "-o", tmp_path / "out.onnx", "-i", "x:1x4"])
    assert str(source) in message
    assert not (tmp_path / "out.onnx").exists()


@pytest.mark.parametrize("kind", ["exit0", "exit3"])
def test_build_guards_user_code(tmp_path: Path, kind: str) -> None:
    (tmp_path / "model.py").write_text(FACTORIES[kind])
    config = tmp_path / "mlpack.toml"
    config.write_text('[model]\nsource = "model.py:f"\ninputs = ["x:1x4"]\n')
    out = tmp_path / "dist"
    message = refused(["build", config, "-o", out])
    assert "sys.exit" in message and "model.py:f" in message
    assert not list(out.glob("*.mlpack")) and not (out / "model.onnx").exists()
