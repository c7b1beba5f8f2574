"""Shared fixtures: tiny models, exported once per session because export takes seconds."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from typer.testing import CliRunner

import mlpack

TESTS = Path(__file__).resolve().parent
TINY = TESTS / "tiny_models.py"


def tiny(name: str) -> str:
    return f"{TINY}:{name}"


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


def make_gemm_mlp(path: Path, *, width: int = 16, hidden: int = 64, seed: int = 0) -> Path:
    """A two-layer float MLP written with onnx.helper: fast to build, Gemm like torch's Linear."""
    rng = np.random.default_rng(seed)
    w1 = numpy_helper.from_array(rng.standard_normal((hidden, width)).astype(np.float32) * 0.2, "w1")
    b1 = numpy_helper.from_array(rng.standard_normal(hidden).astype(np.float32) * 0.1, "b1")
    w2 = numpy_helper.from_array(rng.standard_normal((4, hidden)).astype(np.float32) * 0.2, "w2")
    b2 = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32) * 0.1, "b2")
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
            helper.make_node("Relu", ["h"], ["r"]),
            helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], transB=1),
        ],
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        [w1, b1, w2, b2],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, path)
    return path


@pytest.fixture
def gemm_mlp(tmp_path: Path) -> Path:
    return make_gemm_mlp(tmp_path / "mlp.onnx")


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def run_python(code: str) -> str:
    import subprocess

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


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
