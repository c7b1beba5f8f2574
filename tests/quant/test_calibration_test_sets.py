"""Static INT8 calibrated on ONNX's test-data layout: each test set is one calibration batch, as given."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from onnx import numpy_helper
from typer.testing import CliRunner

import mlpack
from mlpack.cli import app
from mlpack.errors import ExitCode, InputSpecError, VerificationError
from mlpack.quant.calibration import NpzCalibrationReader, inspect_calibration, iter_batches
from tests.helpers.models import make_gemm_mlp

runner = CliRunner()
SIZES = (4, 8, 2)  # test sets need not share a batch size


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return make_gemm_mlp(tmp_path / "mlp.onnx")


@pytest.fixture
def sets(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    data = tmp_path / "calib"
    for index, rows in enumerate(SIZES):
        folder = data / f"test_data_set_{index}"
        folder.mkdir(parents=True)
        x = rng.standard_normal((rows, 16)).astype(np.float32)
        (folder / "input_0.pb").write_bytes(numpy_helper.from_array(x).SerializeToString())
    return data


def test_each_test_set_is_one_batch(model: Path, sets: Path) -> None:
    specs = mlpack.inspect_model(model).signature.inputs
    assert inspect_calibration(sets, specs) == len(SIZES)
    assert [len(b["x"]) for b in iter_batches(sets, specs, batch_size=1)] == list(SIZES)
    assert [len(b["x"]) for b in iter_batches(sets, specs, batch_size=32, limit=2)] == list(SIZES[:2])
    reader = NpzCalibrationReader(sets, specs, batch_size=32)
    assert len(reader) == len(SIZES) and [len(b["x"]) for b in reader] == list(SIZES)


def test_optimize_static_calibrates_and_verifies_on_the_test_sets(tmp_path: Path, model: Path, sets: Path) -> None:
    out = tmp_path / "q.onnx"
    args = ["optimize", str(model), "-o", str(out), "--quantize", "static", "--calibration", str(sets), "--json"]
    # 14 decisions cannot show 99% kept (issue 19): a bar they can show, stated.
    result = runner.invoke(app, [*args, "--min-agreement", "0.8"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert f"{len(SIZES)} test set(s) from {sets}" in payload["verified_on"]
    assert any(f"on {len(SIZES)} samples" in step for step in payload["steps"])
    assert out.is_file()


def test_api_static_with_test_sets(tmp_path: Path, model: Path, sets: Path) -> None:
    settings = mlpack.QuantizeSettings(calibration=sets)
    with pytest.raises(VerificationError, match="more samples would show it"):  # 14 decisions: not 99%
        mlpack.optimize(model, tmp_path / "q.onnx", quantize=mlpack.QuantMode.STATIC, settings=settings)
    bar = mlpack.Tolerance(atol=None, min_cosine=0.98, min_agreement=0.8)
    result = mlpack.optimize(
        model, tmp_path / "q.onnx", quantize=mlpack.QuantMode.STATIC, settings=settings, tolerance=bar
    )
    assert result.size_after > 0


def test_a_test_set_that_does_not_fit_is_one_line_exit_2_nothing_written(
    tmp_path: Path, model: Path, sets: Path
) -> None:
    bad = sets / "test_data_set_1" / "input_0.pb"
    bad.write_bytes(numpy_helper.from_array(np.zeros((2, 15), np.float32)).SerializeToString())
    specs = mlpack.inspect_model(model).signature.inputs
    with pytest.raises(InputSpecError):
        inspect_calibration(sets, specs)
    out = tmp_path / "q.onnx"
    args = ["optimize", str(model), "-o", str(out), "--quantize", "static", "--calibration", str(sets)]
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert "test_data_set_1" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_build_calibrates_on_test_sets_and_notices_when_one_changes(tmp_path: Path, model: Path, sets: Path) -> None:
    from mlpack.pipeline.build import build

    config = tmp_path / "mlpack.toml"
    config.write_text(
        '[model]\nsource = "mlp.onnx"\n\n[optimize]\nquantize = "static"\ncalibration = "calib"\n'
        "min_agreement = 0.8\n\n[pack]\ngolden = 2\n"
    )
    first = build(config, out=tmp_path / "dist")
    assert first.ok, first.message
    again = build(config, out=tmp_path / "dist")
    assert [s.status for s in again.stages][:2] == ["up to date", "up to date"]
    x = np.random.default_rng(5).standard_normal((3, 16)).astype(np.float32)
    (sets / "test_data_set_2" / "input_0.pb").write_bytes(numpy_helper.from_array(x).SerializeToString())
    changed = build(config, out=tmp_path / "dist")
    assert [s.status for s in changed.stages][:2] == ["up to date", "built"]
