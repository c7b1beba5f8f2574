"""Shrinking each model family: weights at rest, INT4, embeddings in dynamic mode, and auto."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import mlpack
from mlpack.cli import app
from mlpack.core.fidelity import Tolerance, mean_cosine
from mlpack.errors import ExitCode
from mlpack.quant.atrest import Choice, Representation, Weight, restored_values
from mlpack.quant.modes.weights import CHANNEL_ENOUGH_DB, initial_choice
from mlpack.quant.settings import QuantizeSettings, QuantMode
from tests.families import export_family

FAMILIES = ("conv1d", "lstm", "gru", "encoder")


@pytest.fixture(scope="module")
def families(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("families")
    return {name: export_family(name, folder) for name in FAMILIES}


def _outputs(model: Path, data: Path) -> np.ndarray:
    """The first output in a plain, default onnxruntime session: what a user's code would run."""
    session = ort.InferenceSession(str(model))
    arrays = np.load(data)
    feeds = {i.name: arrays[i.name] for i in session.get_inputs()}
    return session.run(None, feeds)[0]


def _folded_graph(model: Path, tmp_path: Path) -> onnx.ModelProto:
    """The graph a default session actually runs, after its load-time optimisations."""
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "folded.onnx")
    ort.InferenceSession(str(model), options)
    return onnx.load(str(tmp_path / "folded.onnx"))


@pytest.mark.parametrize("name", FAMILIES)
def test_weights_at_rest_load_in_a_default_session_at_fp32(families, name: str, tmp_path: Path) -> None:
    model, data = families[name]
    out = tmp_path / "w.onnx"
    result = mlpack.optimize(model, out, quantize=QuantMode.WEIGHTS, data=data)
    stored = onnx.load(str(out))
    int8 = {i.name for i in stored.graph.initializer if i.data_type == onnx.TensorProto.INT8}
    assert int8, "no weight was stored as INT8"
    assert result.size_ratio < 0.45  # tiny models: biases and small convolutions stay float
    assert mean_cosine(_outputs(model, data), _outputs(out, data)) >= 0.99
    assert not any(n.op_type == "DequantizeLinear" for n in stored.graph.node)
    folded = _folded_graph(out, tmp_path)
    # The restore chain is gone after session creation: no node reads an INT8 weight any more.
    assert not any(i in int8 for n in folded.graph.node for i in n.input)


@pytest.mark.parametrize("name", FAMILIES)
def test_auto_keeps_the_outputs_and_is_not_slower(families, name: str, tmp_path: Path) -> None:
    model, data = families[name]
    result = mlpack.optimize(model, tmp_path / "a.onnx", quantize=QuantMode.AUTO, data=data)
    assert result.latency_ratio is not None
    # The promise, not a timing: within 5% of FP32, or the session runs FP32's very graph (weights
    # at rest only, INT8 compute dropped) and auto says the measured difference is the machine's noise.
    noise = any("the difference is noise" in step for step in result.steps)
    assert result.latency_ratio <= 1.05 or noise, result.steps
    assert result.comparison.passed and result.comparison.min_cosine >= 0.99
    assert result.size_ratio < 0.45
    assert result.tensors and all(t["reason"] for t in result.tensors)


def test_auto_fails_closed_when_nothing_smaller_holds(families, runner, tmp_path: Path) -> None:
    model, data = families["gru"]
    out = tmp_path / "a.onnx"
    args = ["optimize", str(model), "-o", str(out), "--quantize", "auto", "--data", str(data), "--no-simplify"]
    result = runner.invoke(app, [*args, "--atol", "1e-9", "--rtol", "0"])
    assert result.exit_code == ExitCode.FAILED, result.output
    assert "no representation smaller than FP32" in result.output and "no file written" in result.output
    assert not out.exists()


def test_auto_refines_the_weights_that_drift(families, tmp_path: Path) -> None:
    """A tolerance per-channel INT8 cannot meet everywhere moves some tensors to finer forms."""
    model, data = families["lstm"]
    result = mlpack.optimize(
        model,
        tmp_path / "a.onnx",
        quantize=QuantMode.AUTO,
        data=data,
        # Per-channel INT8 gives 0.9999992 on the family's 1024 samples (0.999998 on the 256 it had
        # before issue 19 needed more samples): the bar sits just above it.
        tolerance=Tolerance(atol=None, min_cosine=0.9999995),
    )
    forms = {t["representation"] for t in result.tensors}
    assert forms - {"int8-tensor", "int8-channel"}, forms
    assert result.comparison.min_cosine >= 0.9999995


def test_dynamic_stores_embedding_tables_at_rest(families, tmp_path: Path) -> None:
    model, data = families["encoder"]
    result = mlpack.optimize(model, tmp_path / "d.onnx", quantize=QuantMode.DYNAMIC, data=data)
    assert any("embedding table" in step for step in result.steps)
    off = mlpack.optimize(
        model,
        tmp_path / "d2.onnx",
        quantize=QuantMode.DYNAMIC,
        data=data,
        settings=QuantizeSettings(embeddings_at_rest=False),
    )
    assert result.size_after < off.size_after * 0.8


def test_int4_matmul_weights(families, tmp_path: Path) -> None:
    model, data = families["encoder"]
    out = tmp_path / "i4.onnx"
    result = mlpack.optimize(
        model, out, quantize=QuantMode.INT4, data=data, tolerance=Tolerance(atol=None, min_cosine=0.95)
    )
    assert any(n.op_type == "MatMulNBits" for n in onnx.load(str(out)).graph.node)
    assert result.size_ratio < 0.35
    assert mean_cosine(_outputs(model, data), _outputs(out, data)) >= 0.95


def test_cli_auto_json_lists_each_tensor(families, runner, tmp_path: Path) -> None:
    model, data = families["conv1d"]
    out = tmp_path / "a.onnx"
    result = runner.invoke(
        app, ["optimize", str(model), "-o", str(out), "--quantize", "auto", "--data", str(data), "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["latency_ratio"] <= 1.05
    assert {"tensor", "role", "shape", "representation", "reason"} <= set(payload["tensors"][0])


def test_block_size_option(families, runner, tmp_path: Path) -> None:
    model, data = families["gru"]
    out = tmp_path / "b.onnx"
    args = ["optimize", str(model), "-o", str(out), "--quantize", "weights", "--block-size", "16", "--json"]
    result = runner.invoke(app, [*args, "--data", str(data)])
    assert result.exit_code == 0, result.output
    assert any("int8-block" in step for step in json.loads(result.stdout)["steps"])
    bad = runner.invoke(app, ["optimize", str(model), "-o", str(tmp_path / "x.onnx"), "--block-size", "-2"])
    assert bad.exit_code == ExitCode.BAD_INPUT and "--block-size" in bad.output


def test_outlier_rows_get_blocks_and_plain_rows_per_channel() -> None:
    rng = np.random.default_rng(0)
    plain = rng.standard_normal((64, 256)).astype(np.float32)
    spiky = plain.copy()
    spiky[:, ::37] *= 40  # a few huge values in every row: one scale per row wastes the range
    weight = Weight("w", (64, 256), 0, ("LSTM:1",), "LSTM W")
    assert initial_choice(weight, plain, QuantizeSettings()).representation is Representation.INT8_CHANNEL
    chosen = initial_choice(weight, spiky, QuantizeSettings())
    assert chosen.representation is Representation.INT8_BLOCK and str(CHANNEL_ENOUGH_DB)[:2] in chosen.reason


@pytest.mark.parametrize("shape, axis", [((48, 10), 1), ((10, 3, 5), 0), ((2, 12, 7), 1), ((33, 17), 0)])
@pytest.mark.parametrize("block", [None, 4, 16])
def test_restored_values_match_the_graph(shape: tuple[int, ...], axis: int, block: int | None, tmp_path: Path) -> None:
    """What store_at_rest writes, onnxruntime restores exactly as restored_values predicts."""
    from onnx import TensorProto, helper, numpy_helper

    from mlpack.quant.atrest import store_at_rest

    values = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Identity", ["w"], ["y"])],
        "g",
        [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(shape))],
        [numpy_helper.from_array(values, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    rep = Representation.INT8_CHANNEL if block is None else Representation.INT8_BLOCK
    choice = Choice(Weight("w", shape, axis, ("Identity:0",), "test"), rep, block)
    store_at_rest(model, [choice])
    onnx.checker.check_model(model)
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    (restored,) = ort.InferenceSession(str(path)).run(None, {})
    np.testing.assert_allclose(restored, restored_values(values, choice), rtol=1e-6, atol=1e-7)
    assert mean_cosine(values[None].reshape(1, -1), restored[None].reshape(1, -1)) > 0.999
