"""mlpack build with [model] state pairs and set values: every stage after export streams or takes the
values, the package records them, and mistakes are one line with file:line, exit 2, no package."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from typer.testing import CliRunner

from mlpack.artifact.manifest import GOLDEN_INPUTS, MANIFEST
from mlpack.cli import app
from mlpack.errors import ExitCode
from tests.exporter.test_state_export import SOURCE as GRU_SOURCE

runner = CliRunner()


def _manifest(package: Path) -> dict:
    with zipfile.ZipFile(package) as archive:
        return json.loads(archive.read(MANIFEST))


@pytest.fixture
def gru_project(tmp_path: Path) -> Path:
    """A streaming GRU (state [layers, batch, hidden]) with its state pair in the config."""
    pytest.importorskip("torch")
    (tmp_path / "gru.py").write_text(GRU_SOURCE)
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "example.npz",
        x=rng.standard_normal((4, 24)).astype(np.float32),
        state=np.zeros((2, 4, 8), np.float32),
    )
    np.savez(tmp_path / "stream.npz", x=rng.standard_normal((12, 24)).astype(np.float32))
    (tmp_path / "budgets.toml").write_text("[budget]\nmax_size_mb = 5\n")
    config = tmp_path / "mlpack.toml"
    config.write_text(
        '[model]\nname = "vad"\nsource = "gru.py:build"\ninputs = ["x:batch,24", "state:2,batch,8"]\n'
        'example_inputs = "example.npz"\nstate = ["output_1=state"]\n\n'
        '[optimize]\nquantize = "dynamic"\ndata = "stream.npz"\n\n'
        '[check]\nbudgets = "budgets.toml"\ndata = "stream.npz"\n\n'
        '[pack]\ngolden = 3\ngolden_data = "stream.npz"\n'
    )
    return config


def test_build_streams_every_stage_and_the_package_records_the_pairs(gru_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    result = runner.invoke(app, ["build", str(gru_project), "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    package = Path(json.loads(result.stdout)["package"])
    # The check's reference comparison ran the data as a stream: the file has no 'state' array, so
    # only the stream's zero initial state lets it run at all.
    check = json.loads((out / "check.json").read_text())
    assert check["quality"] is not None and check["exit_code"] == 0
    shown = runner.invoke(app, ["verify", str(package), "--run", "--json"])
    assert shown.exit_code == 0, shown.output
    verified = json.loads(shown.stdout)
    assert "as a stream" in verified["golden"]["label"]
    inspected = runner.invoke(app, ["inspect", str(package), "--json"])
    manifest_feeding = json.loads(inspected.stdout)
    assert "output_1=state" in json.dumps(manifest_feeding)
    # A second build with nothing changed reuses every stage, the pairs included in their keys.
    again = runner.invoke(app, ["build", str(gru_project), "-o", str(out), "--json"])
    assert [s["status"] for s in json.loads(again.stdout)["stages"]] == ["up to date"] * 4


def test_build_manifest_records_state_pairs(gru_project: Path, tmp_path: Path) -> None:
    from mlpack.pipeline.build import build

    result = build(gru_project, out=tmp_path / "dist")
    assert result.ok, result.message
    assert result.package is not None
    assert _manifest(result.package)["model"]["feeding"] == {"state": ["output_1=state"], "set": {}}
    optimize = next(s for s in result.stages if s.name == "optimize")
    assert optimize.summary["steps"]


def _scalar_model(path: Path) -> Path:
    """y = x * sr / 16000, with sr a scalar int64 sample rate."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    sr = helper.make_tensor_value_info("sr", TensorProto.INT64, [])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    nodes = [
        helper.make_node("Cast", ["sr"], ["srf"], to=TensorProto.FLOAT),
        helper.make_node("Div", ["srf", "k"], ["scale"]),
        helper.make_node("Mul", ["x", "scale"], ["y"]),
    ]
    inits = [numpy_helper.from_array(np.array(16000.0, np.float32), "k")]
    model = helper.make_model(helper.make_graph(nodes, "scalar", [x, sr], [y], inits))
    model.ir_version = 9
    del model.opset_import[:]
    model.opset_import.append(helper.make_opsetid("", 18))
    onnx.save(model, str(path))
    return path


@pytest.fixture
def scalar_project(tmp_path: Path) -> Path:
    _scalar_model(tmp_path / "scalar.onnx")
    config = tmp_path / "mlpack.toml"
    config.write_text(
        '[model]\nname = "s"\nsource = "scalar.onnx"\nset = { sr = 16000 }\n\n'
        '[optimize]\nquantize = "none"\n\n[pack]\ngolden = 2\n'
    )
    return config


def test_build_feeds_set_values_to_every_stage(scalar_project: Path, tmp_path: Path) -> None:
    from mlpack.pipeline.build import build

    result = build(scalar_project, out=tmp_path / "dist")
    assert result.ok, result.message
    assert result.package is not None
    assert _manifest(result.package)["model"]["feeding"]["set"] == {"sr": "16000"}
    with zipfile.ZipFile(result.package) as archive, archive.open(GOLDEN_INPUTS) as stored:
        assert int(np.load(io.BytesIO(stored.read()))["sr"]) == 16000
    golden = runner.invoke(app, ["verify", str(result.package), "--run", "--json"])
    assert golden.exit_code == 0, golden.output


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('["output_1=state"]', '["output_1"]'), ":6: 'model.state': state takes OUTPUT=INPUT"),
        (lambda t: t.replace('["output_1=state"]', '"output_1=state"'), ":6: 'model.state': must be a list"),
        (
            lambda t: t.replace('["output_1=state"]', '["output_1=state", "output_0=state"]'),
            "'model.state': state feeds the input(s) ['state'] from more than one output",
        ),
        (lambda t: t.replace("[optimize]", 'set = { sr = "fast" }\n\n[optimize]'), "'model.set': sr must be a number"),
        (lambda t: t.replace("[optimize]", "set = 3\n\n[optimize]"), "'model.set': must be a table"),
    ],
)
def test_config_mistakes_name_the_line(gru_project: Path, tmp_path: Path, edit, message: str) -> None:
    gru_project.write_text(edit(gru_project.read_text()))
    out = tmp_path / "dist"
    result = runner.invoke(app, ["build", str(gru_project), "-o", str(out)])
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not out.exists() or not list(out.glob("*.mlpack"))


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ('["output_9=state"]', "[model] state output_9=state: the model has no output 'output_9'"),
        ('["output_1=h0"]', "[model] state output_1=h0: the model has no input 'h0'"),
        ('["output_0=state"]', "a state pair must match in shape and dtype"),
    ],
)
def test_pairs_the_exported_model_lacks_stop_the_build_at_export(
    gru_project: Path, tmp_path: Path, pairs: str, message: str
) -> None:
    gru_project.write_text(gru_project.read_text().replace('["output_1=state"]', pairs))
    out = tmp_path / "dist"
    result = runner.invoke(app, ["build", str(gru_project), "-o", str(out), "--json"])
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    payload = json.loads(result.stdout)
    assert message in payload["message"] and "export stage" in payload["message"]
    assert payload["package"] is None and not list(out.glob("*.mlpack"))


def test_a_set_value_for_an_unknown_input_stops_at_export(scalar_project: Path, tmp_path: Path) -> None:
    scalar_project.write_text(scalar_project.read_text().replace("sr = 16000", "rate = 16000"))
    result = runner.invoke(app, ["build", str(scalar_project), "-o", str(tmp_path / "dist"), "--json"])
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert "[model] set rate=16000: the model has no input 'rate'" in json.loads(result.stdout)["message"]
