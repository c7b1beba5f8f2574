"""A streaming GRU (state [layers, batch, hidden]) exported, optimised, checked, packed and run as a stream."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mlpack.cli import app

pytest.importorskip("torch")
runner = CliRunner()

SOURCE = """
import torch
from torch import nn


class Streaming(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(24, 16)
        self.gru = nn.GRU(16, 8, num_layers=2)
        self.head = nn.Linear(8, 1)

    def forward(self, x, state):
        out, new_state = self.gru(torch.relu(self.proj(x)).unsqueeze(0), state)
        return torch.sigmoid(self.head(out[0])), new_state


def build():
    torch.manual_seed(0)
    return Streaming()
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gru")
    (folder / "gru.py").write_text(SOURCE)
    rng = np.random.default_rng(0)
    example = folder / "example.npz"
    np.savez(example, x=rng.standard_normal((4, 24)).astype(np.float32), state=np.zeros((2, 4, 8), np.float32))
    model = folder / "gru.onnx"
    args = ["export", f"{folder / 'gru.py'}:build", "-o", str(model), "--example-inputs", str(example)]
    result = runner.invoke(app, [*args, "--input", "x:batch,24", "--input", "state:2,batch,8", "--json"])
    assert result.exit_code == 0, result.output
    shapes = {i["name"]: i["shape"] for i in json.loads(result.stdout)["signature"]["inputs"]}
    assert shapes == {"x": ["batch", 24], "state": [2, "batch", 8]}
    np.savez(folder / "stream.npz", x=rng.standard_normal((12, 24)).astype(np.float32))
    return model


def test_export_infers_the_state_batch_axis_without_specs(tmp_path: Path, exported: Path) -> None:
    result = runner.invoke(
        app,
        [
            "export",
            f"{exported.parent / 'gru.py'}:build",
            "-o",
            str(tmp_path / "g.onnx"),
            "--example-inputs",
            str(exported.parent / "example.npz"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    shapes = {i["name"]: i["shape"] for i in json.loads(result.stdout)["signature"]["inputs"]}
    assert shapes["state"] == [2, "batch", 8]


def test_optimize_streams_the_data(tmp_path: Path, exported: Path) -> None:
    out = tmp_path / "o.onnx"
    args = ["optimize", str(exported), "-o", str(out), "--data", str(exported.parent / "stream.npz")]
    result = runner.invoke(app, [*args, "--state", "output_1=state", "--quantize", "dynamic", "--json"])
    assert result.exit_code == 0, result.output
    assert "a stream of 12 calls" in json.loads(result.stdout)["verified_on"]


def test_bench_times_one_streaming_step(exported: Path) -> None:
    args = ["bench", str(exported), "--runs", "5", "--duration", "0", "--warmup", "1", "--batch-sizes", "1,3"]
    result = runner.invoke(app, [*args, "--state", "output_1=state", "--json", "-"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["settings"]["feeding"]["state"] == ["output_1=state"]


def test_pack_records_the_pairs_and_verify_and_run_stream(tmp_path: Path, exported: Path) -> None:
    package = tmp_path / "gru.mlpack"
    result = runner.invoke(app, ["pack", str(exported), "-o", str(package), "--state", "output_1=state", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["manifest"]["model"]["feeding"]["state"] == ["output_1=state"]
    result = runner.invoke(app, ["verify", str(package), "--run", "--json"])
    assert result.exit_code == 0, result.output
    assert "as a stream" in json.loads(result.stdout)["golden"]["label"]
    outputs = tmp_path / "out.npz"
    stream = exported.parent / "stream.npz"
    result = runner.invoke(app, ["run", str(package), "--data", str(stream), "-o", str(outputs), "--json"])
    assert result.exit_code == 0, result.output
    with np.load(outputs) as produced:
        assert produced["output_0"].shape == (12, 1)
