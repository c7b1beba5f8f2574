"""Shared fixtures: tiny models, exported once per session because export takes seconds.

The builders they use live in plain modules under ``tests/helpers``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import mlpack
from tests.helpers.models import TESTS, make_gemm_mlp, tiny
from tests.helpers.processes import run_python  # noqa: F401  tests/cli/test_cli.py imports it from here


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, mlpack.ExportResult]:
    """The three model kinds the exporter must handle, exported through the public API."""
    folder = tmp_path_factory.mktemp("exported")
    specs = {
        "mlp": ("x:1x16",),
        "cnn": ("x:1x1x8x8",),
        "encoder": ("ids:batch,seq:int64", "mask:batch,seq:int64"),
    }
    return {
        name: mlpack.export(tiny(name), folder / f"{name}.onnx", inputs=tuple(mlpack.parse_input_spec(s) for s in spec))
        for name, spec in specs.items()
    }


@pytest.fixture
def gemm_mlp(tmp_path: Path) -> Path:
    return make_gemm_mlp(tmp_path / "mlp.onnx")


@pytest.fixture(scope="session")
def digits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The digits example as a new user runs it: train, export, quantise to INT8."""
    out = tmp_path_factory.mktemp("digits")
    examples = TESTS.parent / "examples" / "digits"
    sys.path.insert(0, str(examples))
    try:
        import train
    finally:
        sys.path.remove(str(examples))
    train.save_data(out)
    weights = train.train("cnn", out, epochs=15)
    fp32 = mlpack.export(
        f"{examples / 'model.py'}:cnn",
        out / "model.onnx",
        weights=weights,
        inputs=(mlpack.parse_input_spec("x:1x1x8x8"),),
    )
    int8 = mlpack.optimize(
        fp32.output, out / "model.int8.onnx", quantize=mlpack.QuantMode.DYNAMIC, data=out / "heldout.npz"
    )
    return {
        "fp32": fp32.output,
        "int8": int8.output,
        "heldout": out / "heldout.npz",
        "folder": out,
        "examples": examples,
    }
