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


def make_wide_range_classifier(folder: Path, *, samples: int = 300) -> dict[str, Path]:
    """A classifier that full static INT8 breaks: one hidden channel is scaled by 1000 (and then
    ignored by the head), so a per-tensor activation range rounds away the channels that decide.
    Returns the model, calibration data and labelled evaluation data (labels = float decisions)."""
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((16, 64)).astype(np.float32) * 0.5
    b1 = np.zeros(64, np.float32)
    scale = np.ones(64, np.float32)
    scale[0] = 1000.0
    b1[0] = 3.0  # keep the wide channel active
    w2 = rng.standard_normal((64, 4)).astype(np.float32) * 0.3
    w2[0] = 0.0
    inits = [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (scale, "scale"), (w2, "w2"))]
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["h0"], name="fc1"),
            helper.make_node("Add", ["h0", "b1"], ["h1"], name="bias1"),
            helper.make_node("Relu", ["h1"], ["h"], name="relu1"),
            helper.make_node("Mul", ["h", "scale"], ["wide"], name="widen"),
            helper.make_node("MatMul", ["wide", "w2"], ["logits"], name="head"),
        ],
        "wide",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 4])],
        inits,
    )
    model = folder / "wide.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), model)
    x = rng.standard_normal((samples, 16)).astype(np.float32)
    (logits,) = ort.InferenceSession(str(model)).run(None, {"x": x})
    np.savez(folder / "calib.npz", x=x[: samples // 2])
    np.savez(folder / "eval.npz", x=x[samples // 2 :], labels=logits[samples // 2 :].argmax(axis=1))
    return {"model": model, "calibration": folder / "calib.npz", "eval": folder / "eval.npz"}
