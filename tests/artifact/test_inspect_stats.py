"""mlpack inspect PKG shows the recorded data statistics (samples, size, inputs and outputs in
brief), in the table and in --json; drift is part of the lazy public API."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import mlpack
from mlpack.artifact.manifest import DATA_STATS
from mlpack.cli import app
from tests.helpers.models import make_gemm_mlp

runner = CliRunner()
SAMPLES = 120


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("inspect-stats")
    model = make_gemm_mlp(folder / "mlp.onnx")
    rng = np.random.default_rng(0)
    val = folder / "val.npz"
    np.savez(val, x=rng.standard_normal((SAMPLES, 16)).astype(np.float32))
    package = folder / "mlp.mlpack"
    mlpack.pack(model, package, data=val)
    bare = folder / "bare.mlpack"
    mlpack.pack(model, bare)
    return {"model": model, "val": val, "package": package, "bare": bare, "folder": folder}


def test_json_adds_an_overview_of_the_statistics(packed: dict[str, Path]) -> None:
    result = runner.invoke(app, ["inspect", str(packed["package"]), "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)["data_stats"]
    assert stats["samples"] == SAMPLES and stats["size_bytes"] > 0 and stats["path"] == DATA_STATS
    overview = stats["overview"]
    assert overview["samples"] == SAMPLES and overview["source"] == "val.npz"
    (x,) = overview["inputs"]
    assert x["name"] == "x" and x["features"] == 16 and x["view"] == "features"
    assert -0.5 < x["numeric"]["mean"] < 0.5 and 0.5 < x["numeric"]["std"] < 1.5 and x["numeric"]["nan_rate"] == 0
    (y,) = overview["outputs"]
    assert y["name"] == "y" and "top" in y["categorical"]  # 4 class scores: the predicted class


def test_table_shows_samples_size_and_each_tensor(packed: dict[str, Path]) -> None:
    result = runner.invoke(app, ["inspect", str(packed["package"])], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert f"Data statistics: {SAMPLES} samples from val.npz" in result.output
    rows = [line for line in result.output.splitlines() if "input" in line and " features " in line]
    assert rows and "mean" in rows[0] and "range" in rows[0]
    assert any("output" in line and " y " in line and "most often" in line for line in result.output.splitlines())


def test_a_package_without_statistics_says_how_to_record_them(packed: dict[str, Path]) -> None:
    table = runner.invoke(app, ["inspect", str(packed["bare"])], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "none recorded (pack with --data" in table.output
    shown = runner.invoke(app, ["inspect", str(packed["bare"]), "--json"])
    assert json.loads(shown.stdout)["data_stats"] is None


def test_statistics_changed_after_packing_are_named_not_shown(packed: dict[str, Path], tmp_path: Path) -> None:
    tampered = tmp_path / "tampered.mlpack"
    with zipfile.ZipFile(packed["package"]) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            content = src.read(info)
            if info.filename == DATA_STATS:
                content = content.replace(b'"samples":120', b'"samples":121')
            dst.writestr(info, content)
    shown = runner.invoke(app, ["inspect", str(tampered), "--json"])
    assert shown.exit_code == 0, shown.output
    assert "does not match the manifest's hash" in json.loads(shown.stdout)["data_stats"]["overview"]["error"]
    table = runner.invoke(app, ["inspect", str(tampered)], env={"COLUMNS": "200"})
    assert "run mlpack verify" in table.output


def test_drift_is_in_the_public_api(packed: dict[str, Path]) -> None:
    assert {"drift", "DriftResult", "DriftThresholds"} <= set(mlpack.__all__)
    result = mlpack.drift(packed["package"], data=packed["val"], thresholds=mlpack.DriftThresholds())
    assert isinstance(result, mlpack.DriftResult) and result.ok and result.samples == SAMPLES
