"""optimize: each quantisation mode, the fail-closed check, and graceful degradation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import mlpack
from mlpack.cli import app
from mlpack.errors import ExitCode, ModelLoadError, VerificationError
from mlpack.quant.modes import QUANTIZERS
from mlpack.quant.settings import QuantizeSettings, QuantMode
from tests.helpers.processes import files_in


def _op_types(path: Path) -> set[str]:
    return {n.op_type for n in onnx.load(str(path)).graph.node}


def _io_dtypes(path: Path) -> set[str]:
    session = ort.InferenceSession(str(path))
    return {t.type for t in [*session.get_inputs(), *session.get_outputs()]}


def test_every_mode_is_registered_with_a_quantiser() -> None:
    assert set(QUANTIZERS) == set(QuantMode) - {QuantMode.NONE}


def test_simplify_only_is_lossless(exported: dict, tmp_path: Path) -> None:
    result = mlpack.optimize(exported["encoder"].output, tmp_path / "s.onnx")
    assert result.simplified
    assert result.comparison.passed and result.comparison.max_abs_error < 1e-4
    assert result.size_after <= result.size_before


@pytest.mark.parametrize("name", ["mlp", "cnn", "encoder"])
def test_dynamic_int8_quantises_matmuls_and_stays_close(exported: dict, tmp_path: Path, name: str) -> None:
    result = mlpack.optimize(exported[name].output, tmp_path / "q.onnx", quantize=QuantMode.DYNAMIC)
    ops = _op_types(result.output)
    assert {"MatMulInteger", "DynamicQuantizeMatMul"} & ops
    assert "ConvInteger" not in ops  # convolutions stay float by default: INT8 conv is slower on CPUs
    assert result.comparison.passed and result.comparison.min_cosine >= 0.99
    assert result.size_after < result.size_before
    assert _io_dtypes(result.output) <= {"tensor(float)", "tensor(int64)"}


def test_dynamic_int8_of_a_weight_dominated_model_is_under_030(tmp_path: Path) -> None:
    from tests.helpers.models import make_gemm_mlp

    big = make_gemm_mlp(tmp_path / "big.onnx", width=256, hidden=512)
    result = mlpack.optimize(big, tmp_path / "q.onnx", quantize=QuantMode.DYNAMIC)
    assert result.size_ratio <= 0.30


def test_op_types_choose_what_is_quantised(exported: dict, tmp_path: Path) -> None:
    result = mlpack.optimize(
        exported["cnn"].output,
        tmp_path / "q.onnx",
        quantize=QuantMode.DYNAMIC,
        settings=QuantizeSettings(op_types=("Conv",)),
    )
    ops = _op_types(result.output)
    assert "ConvInteger" in ops and "MatMulInteger" not in ops


@pytest.mark.parametrize("name", ["cnn", "encoder"])
def test_fp16_halves_weights_and_keeps_float32_io(exported: dict, tmp_path: Path, name: str) -> None:
    # The encoder's FP16 LayerNormalization crashed onnxruntime's CPU session; it stays float32.
    result = mlpack.optimize(exported[name].output, tmp_path / "h.onnx", quantize=QuantMode.FP16)
    model = onnx.load(str(result.output))
    assert any(init.data_type == onnx.TensorProto.FLOAT16 for init in model.graph.initializer)
    assert _io_dtypes(result.output) <= {"tensor(float)", "tensor(int64)"}
    assert result.comparison.passed
    if name == "encoder":
        assert "kept in float32: LayerNormalization" in result.steps[-1]


def test_per_channel_and_per_tensor_both_work(gemm_mlp: Path, tmp_path: Path) -> None:
    per_channel = mlpack.optimize(gemm_mlp, tmp_path / "pc.onnx", quantize=QuantMode.DYNAMIC)
    per_tensor = mlpack.optimize(
        gemm_mlp, tmp_path / "pt.onnx", quantize=QuantMode.DYNAMIC, settings=QuantizeSettings(per_channel=False)
    )
    assert "per-channel" in " ".join(per_channel.steps) and "per-tensor" in " ".join(per_tensor.steps)
    assert per_channel.comparison.passed and per_tensor.comparison.passed


def test_verification_fails_closed(runner, gemm_mlp: Path, tmp_path: Path) -> None:
    out = tmp_path / "q.onnx"
    result = runner.invoke(
        app, ["optimize", str(gemm_mlp), "-o", str(out), "--quantize", "dynamic", "--atol", "0", "--rtol", "0"]
    )
    assert result.exit_code == ExitCode.FAILED, result.output
    assert "differ" in result.output and "no file written" in result.output
    assert files_in(tmp_path) == ["mlp.onnx"]


def test_verification_on_user_data(gemm_mlp: Path, tmp_path: Path) -> None:
    data = tmp_path / "d.npz"
    np.savez(data, x=np.random.default_rng(3).standard_normal((20, 16)).astype(np.float32))
    # 20 samples cannot show that 99% of the decisions hold (issue 19): fail closed, and say what would.
    with pytest.raises(VerificationError, match="more samples would show it"):
        mlpack.optimize(gemm_mlp, tmp_path / "q.onnx", quantize=QuantMode.DYNAMIC, data=data)
    assert not (tmp_path / "q.onnx").exists()
    lower = mlpack.Tolerance(atol=None, min_cosine=0.99, min_agreement=0.8)
    result = mlpack.optimize(gemm_mlp, tmp_path / "q.onnx", quantize=QuantMode.DYNAMIC, data=data, tolerance=lower)
    assert "20 samples" in result.verified_on


@pytest.mark.parametrize(
    "body, message",
    [
        ("raise RuntimeError('simulated onnxsim failure')", "simulated onnxsim failure"),
        ("import os; os.abort()", "onnxsim crashed (SIGABRT)"),  # a native crash, as onnxsim's C++ can
    ],
)
def test_onnxsim_failure_keeps_the_graph_and_warns(
    gemm_mlp: Path, tmp_path: Path, monkeypatch, body: str, message: str
) -> None:
    # Simplification runs in a child process: a stand-in onnxsim module on its path breaks it there.
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "onnxsim.py").write_text(f"def simplify(*args, **kwargs):\n    {body}\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(fake), *sys.path]))
    result = mlpack.optimize(gemm_mlp, tmp_path / "q.onnx", quantize=QuantMode.DYNAMIC)
    assert not result.simplified
    assert any(message in w for w in result.warnings), result.warnings
    assert result.comparison.passed


def test_pre_processing_degrades_step_by_step(gemm_mlp: Path, tmp_path: Path, monkeypatch) -> None:
    import onnxruntime.quantization.shape_inference as shape_inference

    real = shape_inference.quant_pre_process
    calls: list[dict] = []

    def flaky(src, dst, **options):
        calls.append(options)
        if not options.get("skip_symbolic_shape"):
            raise TypeError("object of type 'NoneType' has no len()")
        return real(src, dst, **options)

    monkeypatch.setattr(shape_inference, "quant_pre_process", flaky)
    result = mlpack.optimize(gemm_mlp, tmp_path / "q.onnx", quantize=QuantMode.DYNAMIC)
    assert calls[1]["skip_symbolic_shape"] is True and "skip_optimization" not in calls[1]
    assert any("NoneType" in w for w in result.warnings)
    # the weaker pre-processing that ran is a warning, never a step shown with a tick
    assert "only pre-processing without symbolic shape inference ran" in " ".join(result.warnings)
    assert not any("pre-processing" in step for step in result.steps)
    assert result.comparison.passed


def test_a_native_crash_in_onnxruntime_is_reported_not_fatal(monkeypatch, tmp_path: Path) -> None:
    from mlpack.quant import probe

    monkeypatch.setattr(probe.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, -11, "", ""))
    with pytest.raises(ModelLoadError, match="SIGSEGV"):
        probe.probe_model(tmp_path / "m.onnx", what="the fp16 model")


def test_cli_optimize_json(runner, gemm_mlp: Path, tmp_path: Path) -> None:
    out = tmp_path / "q.onnx"
    result = runner.invoke(app, ["optimize", str(gemm_mlp), "-o", str(out), "--quantize", "dynamic", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["size_after"] == out.stat().st_size
    assert payload["comparison"]["passed"] is True
    assert payload["quantize"] == "dynamic"


@pytest.mark.parametrize("content", [b"", b"not an onnx file at all", None])
def test_corrupt_or_truncated_models_are_bad_input(runner, gemm_mlp: Path, tmp_path: Path, content) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(gemm_mlp.read_bytes()[:200] if content is None else content)
    out = tmp_path / "q.onnx"
    result = runner.invoke(app, ["optimize", str(bad), "-o", str(out), "--quantize", "dynamic"])
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_data_that_does_not_fit_the_model_is_bad_input(runner, gemm_mlp: Path, tmp_path: Path) -> None:
    data = tmp_path / "d.npz"
    np.savez(data, x=np.zeros((4, 15), np.float32))
    result = runner.invoke(app, ["optimize", str(gemm_mlp), "-o", str(tmp_path / "q.onnx"), "--data", str(data)])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "dimension 1 must be 16" in result.output


def test_output_must_not_overwrite_the_source(gemm_mlp: Path) -> None:
    with pytest.raises(mlpack.MlpackError, match="must differ"):
        mlpack.optimize(gemm_mlp, gemm_mlp)


def test_verification_error_is_exit_1() -> None:
    assert VerificationError("x").exit_code == ExitCode.FAILED
