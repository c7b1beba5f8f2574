"""Static INT8 with calibration, accuracy-aware quantisation, and tune."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

import mlpack
from mlpack.cli import app
from mlpack.core.metrics import top1_accuracy
from mlpack.data.runner import predict
from mlpack.data.sources import load_dataset
from mlpack.errors import ExitCode
from mlpack.quant.calibration import NpzCalibrationReader, iter_batches
from mlpack.quant.settings import CalibrationMethod, IntType, QuantFormat, QuantizeSettings, QuantMode
from tests.helpers.models import make_wide_range_classifier


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_wide_range_classifier(tmp_path_factory.mktemp("wide"))


def _accuracy(model: Path, data: Path) -> float:
    dataset = load_dataset(data, mlpack.inspect_model(model).signature.inputs, need_labels=True)
    assert dataset.labels is not None
    return top1_accuracy(predict(model, dataset)[0], dataset.labels)


def test_calibration_streams_in_batches(wide: dict[str, Path]) -> None:
    specs = mlpack.inspect_model(wide["model"]).signature.inputs
    batches = list(iter_batches(wide["calibration"], specs, batch_size=32))
    assert [len(b["x"]) for b in batches] == [32, 32, 32, 32, 22]  # 150 samples
    full = np.load(wide["calibration"])["x"]
    np.testing.assert_array_equal(np.concatenate([b["x"] for b in batches]), full)
    reader = NpzCalibrationReader(wide["calibration"], specs, batch_size=50)
    assert len(reader) == 3 and len(list(reader)) == 3 and len(list(reader)) == 3  # re-iterable


@pytest.mark.parametrize("method", list(CalibrationMethod))
@pytest.mark.parametrize("fmt", list(QuantFormat))
def test_static_int8_methods_and_formats(digits: dict[str, Path], tmp_path: Path, method, fmt) -> None:
    settings = QuantizeSettings(calibration=digits["folder"] / "calib.npz", calibration_method=method, quant_format=fmt)
    result = mlpack.optimize(digits["fp32"], tmp_path / "s.onnx", quantize=QuantMode.STATIC, settings=settings)
    ops = {n.op_type for n in onnx.load(str(result.output)).graph.node}
    assert ("QuantizeLinear" in ops) if fmt is QuantFormat.QDQ else ("QLinearConv" in ops or "QLinearMatMul" in ops)
    assert result.size_ratio <= 0.30
    assert _accuracy(digits["fp32"], digits["heldout"]) - _accuracy(result.output, digits["heldout"]) <= 0.01
    assert "calibration samples" in result.verified_on


def test_zero_points_of_stored_integers_are_left_to_the_default(digits: dict[str, Path], tmp_path: Path) -> None:
    """onnxruntime writes a zero point of zeros for every weight channel and an int32 one per bias
    channel (as large as the bias); they are the default, and dropped, while onnxruntime still
    fuses every convolution into QLinearConv and computes the same outputs."""
    import onnxruntime as ort
    from onnx import numpy_helper

    settings = QuantizeSettings(calibration=digits["folder"] / "calib.npz", quant_format=QuantFormat.QDQ)
    result = mlpack.optimize(digits["fp32"], tmp_path / "s.onnx", quantize=QuantMode.STATIC, settings=settings)
    model = onnx.load(str(result.output))
    stored = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    on_stored = [n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in stored]
    assert on_stored and all(len(n.input) == 2 or stored[n.input[2]].any() for n in on_stored)
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "fused.onnx")
    ort.InferenceSession(str(result.output), options, providers=["CPUExecutionProvider"])
    fused = [n.op_type for n in onnx.load(str(tmp_path / "fused.onnx")).graph.node]
    convs = sum(n.op_type == "Conv" for n in onnx.load(str(digits["fp32"])).graph.node)
    assert convs and fused.count("QLinearConv") == convs and "Conv" not in fused


def test_static_s8_activations(digits: dict[str, Path], tmp_path: Path) -> None:
    settings = QuantizeSettings(calibration=digits["folder"] / "calib.npz", activation_type=IntType.S8)
    result = mlpack.optimize(digits["fp32"], tmp_path / "s.onnx", quantize=QuantMode.STATIC, settings=settings)
    assert "activations S8" in result.steps[-1]


def test_full_static_quantisation_breaks_the_wide_model(wide: dict[str, Path], tmp_path: Path) -> None:
    result = mlpack.optimize(
        wide["model"],
        tmp_path / "q.onnx",
        quantize=QuantMode.STATIC,
        settings=QuantizeSettings(calibration=wide["calibration"]),
        tolerance=mlpack.Tolerance(atol=None, min_cosine=None),
    )
    assert _accuracy(result.output, wide["eval"]) < 0.5  # the premise of the next test


def test_accuracy_aware_keeps_a_few_nodes_in_float(wide: dict[str, Path], tmp_path: Path) -> None:
    result = mlpack.optimize(
        wide["model"],
        tmp_path / "q.onnx",
        quantize=QuantMode.STATIC,
        settings=QuantizeSettings(calibration=wide["calibration"]),
        max_accuracy_drop=0.02,
        eval_data=wide["eval"],
    )
    report = result.accuracy
    assert report is not None
    assert report.full_quant_drop > 0.3 and report.final_drop <= 0.02
    kept = {k.node for k in report.kept_in_float}
    assert "head" in kept  # the MatMul that reads the wide tensor
    assert 0 < len(kept) < 5  # a few, not all
    assert 1.0 - _accuracy(result.output, wide["eval"]) <= 0.02
    assert any(n.op_type == "QuantizeLinear" for n in onnx.load(str(result.output)).graph.node)


def test_accuracy_aware_without_labels_uses_agreement(wide: dict[str, Path], tmp_path: Path) -> None:
    unlabelled = tmp_path / "eval.npz"
    np.savez(unlabelled, x=np.load(wide["eval"])["x"])
    result = mlpack.optimize(
        wide["model"],
        tmp_path / "q.onnx",
        quantize=QuantMode.STATIC,
        settings=QuantizeSettings(calibration=wide["calibration"]),
        max_accuracy_drop=0.02,
        eval_data=unlabelled,
    )
    assert result.accuracy is not None and "agreement" in result.accuracy.metric


def test_unreachable_accuracy_budget_fails_closed(wide: dict[str, Path], runner, tmp_path: Path, monkeypatch) -> None:
    from mlpack.quant import accuracy

    monkeypatch.setattr(accuracy, "MAX_ROUNDS", 1)  # one round of keeping nodes in float, then give up
    out = tmp_path / "q.onnx"
    result = runner.invoke(
        app,
        [
            "optimize",
            str(wide["model"]),
            "-o",
            str(out),
            "--quantize",
            "static",
            "--calibration",
            str(wide["calibration"]),
            "--max-accuracy-drop",
            "0",
            "--eval",
            str(wide["eval"]),
        ],
    )
    assert result.exit_code == ExitCode.FAILED, result.output
    assert "could not reach" in result.output and not out.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "needs calibration data"),
        (["--calibration", "EMPTY"], "holds 0 samples"),
        (["--calibration", "MISMATCH"], "lacks arrays for the model inputs"),
        (["--calibration", "WIDE", "--max-accuracy-drop", "0.01"], "needs --eval"),
        (["--calibration", "WIDE", "--calibration-batch", "0"], "--calibration-batch"),
    ],
)
def test_static_bad_input(wide: dict[str, Path], runner, tmp_path: Path, extra: list[str], message: str) -> None:
    empty = tmp_path / "empty.npz"
    np.savez(empty, x=np.zeros((0, 16), np.float32))
    mismatch = tmp_path / "mismatch.npz"
    np.savez(mismatch, a=np.zeros((4, 16), np.float32), b=np.zeros((4, 16), np.float32))
    names = {"EMPTY": str(empty), "MISMATCH": str(mismatch), "WIDE": str(wide["calibration"])}
    args = [names.get(a, a) for a in extra]
    out = tmp_path / "q.onnx"
    result = runner.invoke(app, ["optimize", str(wide["model"]), "-o", str(out), "--quantize", "static", *args])
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not out.exists()
