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
def digits(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> dict[str, Path]:
    """The digits example as a new user runs it: train, export, quantise to INT8.

    Built once for the whole run: under pytest-xdist the workers share one copy (the first to
    take the lock builds it), since training is the slowest set-up in the suite.
    """
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    out = shared / "digits"
    examples = TESTS.parent / "examples" / "digits"
    paths = {
        "fp32": out / "model.onnx",
        "int8": out / "model.int8.onnx",
        "heldout": out / "heldout.npz",
        "folder": out,
        "examples": examples,
    }
    with FileLock(str(shared / "digits.lock")):
        if not (out / "built").exists():
            _build_digits(out, examples)
            (out / "built").touch()
    return paths


def _build_digits(out: Path, examples: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
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
    mlpack.optimize(fp32.output, out / "model.int8.onnx", quantize=mlpack.QuantMode.DYNAMIC, data=out / "heldout.npz")
