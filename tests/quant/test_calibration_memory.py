"""Static calibration within --calibration-memory: the batch cap, tensor groups, failures, options."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import mlpack
from mlpack.cli import app
from mlpack.errors import BadInputError, ExitCode
from mlpack.quant.ranges import collect_ranges, parse_memory, plan_calibration
from mlpack.quant.settings import CalibrationMethod, QuantizeSettings, QuantMode

WIDTH, HIDDEN = 16, 64


def _mlp(folder: Path, *, scale: float = 1.0) -> dict[str, Path]:
    """x[N,16] -> MatMul -> Relu -> MatMul -> Mul(scale) -> y[N,8], weights as training leaves them."""
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array((rng.normal(0, 0.3, (WIDTH, HIDDEN))).astype(np.float32), "w1")
    w2 = numpy_helper.from_array((rng.normal(0, 0.3, (HIDDEN, 8))).astype(np.float32), "w2")
    s = numpy_helper.from_array(np.array(scale, np.float32), "s")
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm1"),
        helper.make_node("Relu", ["h"], ["r"], name="relu"),
        helper.make_node("MatMul", ["r", "w2"], ["z"], name="mm2"),
        helper.make_node("Mul", ["z", "s"], ["y"], name="scale"),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", WIDTH])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8])],
        [w1, w2, s],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = folder / "mlp.onnx"
    onnx.save(model, str(path))
    calibration = folder / "calib.npz"
    # 400 samples: enough to show agreement >= 0.99 at 95% confidence (issue 19), where 40 were not.
    np.savez(calibration, x=rng.normal(0, 1, (400, WIDTH)).astype(np.float32))
    return {"model": path, "calibration": calibration}


@pytest.fixture(scope="module")
def mlp(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _mlp(tmp_path_factory.mktemp("mlp"))


def _optimize(mlp: dict[str, Path], out: Path, **settings: object) -> mlpack.OptimizeResult:
    return mlpack.optimize(
        mlp["model"],
        out,
        quantize=QuantMode.STATIC,
        settings=QuantizeSettings(calibration=mlp["calibration"], **settings),  # type: ignore[arg-type]
    )


def test_default_memory_keeps_the_batch_and_says_so(mlp: dict[str, Path], tmp_path: Path) -> None:
    result = _optimize(mlp, tmp_path / "q.onnx")
    assert "batches of 32 (" in result.steps[-1] and "within 1.0 GB" in result.steps[-1]
    assert any(n.op_type == "QuantizeLinear" for n in onnx.load(str(result.output)).graph.node)


def test_a_tiny_memory_caps_the_batch_to_one(mlp: dict[str, Path], tmp_path: Path) -> None:
    # One sample of this model is a few hundred bytes of activations: 600 bytes hold one, not two.
    result = _optimize(mlp, tmp_path / "q.onnx", calibration_memory=600)
    assert "batches of 1 (capped from 32 to stay within 600 B" in result.steps[-1]
    assert result.comparison.min_cosine is not None and result.comparison.min_cosine >= 0.98


def _ranges(mlp: dict[str, Path], workdir: Path, settings: QuantizeSettings) -> tuple[dict, object]:
    specs = mlpack.inspect_model(mlp["model"]).signature.inputs
    workdir.mkdir()
    data, plan = collect_ranges(mlp["model"], settings, specs, workdir)
    return dict(data.items()), plan


@pytest.mark.parametrize("method", [CalibrationMethod.PERCENTILE, CalibrationMethod.ENTROPY])
def test_tensor_groups_give_the_ranges_of_one_pass(mlp: dict[str, Path], tmp_path: Path, method) -> None:
    base = QuantizeSettings(calibration=mlp["calibration"], calibration_method=method, calibration_batch=1)
    whole, one = _ranges(mlp, tmp_path / "whole", base)
    grouped, split = _ranges(mlp, tmp_path / "grouped", replace(base, calibration_memory=700))
    assert len(one.groups) == 1 and len(split.groups) > 1  # type: ignore[attr-defined]
    assert split.batch == 1 and "groups" in split.describe()  # type: ignore[attr-defined]
    assert whole.keys() == grouped.keys() and len(whole) >= 4
    for name, data in whole.items():
        np.testing.assert_array_equal(data.range_value, grouped[name].range_value)
        np.testing.assert_array_equal(data.hist, grouped[name].hist)


def test_minmax_ranges_match_onnxruntime_and_never_group(mlp: dict[str, Path], tmp_path: Path) -> None:
    from onnxruntime.quantization.calibrate import create_calibrator

    settings = QuantizeSettings(calibration=mlp["calibration"], calibration_batch=8, calibration_memory=1)
    ours, plan = _ranges(mlp, tmp_path / "ours", settings)
    assert plan.batch == 1 and len(plan.groups) == 1  # type: ignore[attr-defined]
    calibrator = create_calibrator(mlp["model"], None, augmented_model_path=str(tmp_path / "aug.onnx"))
    batches = iter([{"x": np.load(mlp["calibration"])["x"]}])
    calibrator.collect_data(type("Reader", (), {"get_next": lambda self: next(batches, None)})())
    for name, data in calibrator.compute_data().items():
        np.testing.assert_allclose(ours[name].range_value, data.range_value)


def test_plan_groups_in_graph_order_within_memory() -> None:
    sizes = {"a": 100, "b": 100, "c": 300, "d": 50}
    plan = plan_calibration(sizes, memory=400, batch=32, method=CalibrationMethod.PERCENTILE)
    assert plan.groups == (("a",), ("b",), ("c",), ("d",)) or all(
        sum(sizes[t] * 2 for t in g) <= 400 or len(g) == 1 for g in plan.groups
    )
    assert sum(len(g) for g in plan.groups) == 4 and plan.batch == 1
    fits = plan_calibration(sizes, memory=11_000, batch=32, method=CalibrationMethod.PERCENTILE)
    assert fits.batch == 10 and len(fits.groups) == 1  # 11000 // (550 * 2)


def test_entropy_failure_says_what_failed(tmp_path: Path) -> None:
    # A tensor of denormal values: its histogram range is too narrow for 128 bins.
    model = _mlp(tmp_path, scale=1e-44)
    with pytest.raises(BadInputError) as info:
        _optimize(model, tmp_path / "q.onnx", calibration_method=CalibrationMethod.ENTROPY)
    message = str(info.value)
    assert "entropy calibration failed in onnxruntime's calibrator" in message
    assert "Too many bins" in message and "refused these settings" not in message
    assert "\n" not in message and not (tmp_path / "q.onnx").exists()


@pytest.mark.parametrize(
    ("text", "expected"), [("1GB", 1 << 30), ("512 MB", 512 << 20), ("1.5GiB", 3 << 29), ("64", 64 << 20)]
)
def test_parse_memory(text: str, expected: int) -> None:
    assert parse_memory(text) == expected


@pytest.mark.parametrize("command", ["optimize", "tune"])
@pytest.mark.parametrize("value", ["-1GB", "inf", "nan", "1e999GB", "lots", "12 parsecs", "0"])
def test_bad_calibration_memory_exits_2(mlp: dict[str, Path], runner, tmp_path: Path, command, value) -> None:
    out = tmp_path / "q.onnx"
    args = [command, str(mlp["model"]), "-o", str(out), "--calibration", str(mlp["calibration"])]
    args += ["--quantize", "static"] if command == "optimize" else ["--budget", "b.toml", "--data", "d.npz"]
    result = runner.invoke(app, [*args, "--calibration-memory", value])
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert "--calibration-memory" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()


def test_tune_refuses_a_zero_calibration_batch(mlp: dict[str, Path], runner, tmp_path: Path) -> None:
    out = tmp_path / "q.onnx"
    args = ["tune", str(mlp["model"]), "-o", str(out), "--budget", "b.toml", "--data", "d.npz"]
    result = runner.invoke(app, [*args, "--calibration-batch", "0"])
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert "--calibration-batch must be at least 1" in result.output and not out.exists()


def test_tune_marks_fp16_slower_than_fp32(digits: dict[str, Path], tmp_path: Path, monkeypatch) -> None:
    """The slower-than-FP32 rule covers every mode but FP32, FP16 included (it once covered INT8 only)."""
    import mlpack.bench.measure
    import mlpack.pipeline.tune
    from mlpack.pipeline.tune import CandidateSpec, tune
    from mlpack.pipeline.tune_settings import TuneSettings

    real = mlpack.bench.measure.benchmark

    def fp16_slower(models, **kwargs):  # type: ignore[no-untyped-def]
        result = real(models, **kwargs)
        slowed = [
            replace(m, latency_ms=replace(m.latency_ms, p50=m.latency_ms.p50 * 1.5, p95=m.latency_ms.p95 * 1.5))
            if "fp16" in m.model
            else m
            for m in result.measurements
        ]
        return replace(result, measurements=tuple(slowed))

    monkeypatch.setattr(mlpack.bench.measure, "benchmark", fp16_slower)
    specs = [CandidateSpec("fp32", QuantMode.NONE), CandidateSpec("fp16", QuantMode.FP16)]
    monkeypatch.setattr(mlpack.pipeline.tune, "candidate_specs", lambda *a: specs)
    result = tune(
        digits["fp32"],
        tmp_path / "best.onnx",
        budgets=digits["examples"] / "budgets.toml",
        data=digits["heldout"],
        settings=TuneSettings(runs=5, duration_s=0.05),
    )
    marked = {c.spec.name: c.slower_than_fp32 for c in result.candidates}
    assert marked == {"fp32": False, "fp16": True}
    assert result.chosen != "fp16"


def test_auto_holds_its_data_within_the_bound_whatever_the_file_size(mlp: dict[str, Path], tmp_path: Path) -> None:
    """A data file several times the bound: auto reads it a block at a time and keeps only the
    samples that fit with their outputs (it held the whole file and its outputs before)."""
    import tracemalloc

    bound = 2 << 20
    big = tmp_path / "big.npz"
    np.savez(big, x=np.random.default_rng(3).normal(0, 1, (200_000, WIDTH)).astype(np.float32))
    assert big.stat().st_size > 6 * bound
    small = QuantizeSettings(calibration_memory=bound)
    # Once first, so that the modules auto imports on the way (onnxruntime's quantiser brings
    # torch and sympy, 80 MB of them) are not counted as data.
    warm = tmp_path / "warm.onnx"
    mlpack.optimize(mlp["model"], warm, quantize=QuantMode.AUTO, data=mlp["calibration"], simplify=False)
    tracemalloc.start()
    try:
        result = mlpack.optimize(
            mlp["model"], tmp_path / "a.onnx", quantize=QuantMode.AUTO, data=big, settings=small, simplify=False
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < bound, f"peak {peak / 2**20:.1f} MB over the {bound / 2**20:.0f} MB bound"
    assert "of 200000 samples" in result.verified_on and "memory bound of 2 MB" in result.verified_on
    kept = int(result.verified_on.split("the first ")[1].split(" ")[0])
    assert result.comparison.outputs[0].decisions.samples == kept > 1000  # type: ignore[union-attr]
