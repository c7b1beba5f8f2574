"""export --example-inputs takes ONNX's test-data layout: the first set is traced, every set is
verified as given, and expected outputs are checked where PyTorch itself reproduces them."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import numpy as np
import pytest
from onnx import numpy_helper
from typer.testing import CliRunner

from mlpack.cli import app
from mlpack.errors import ExitCode
from tests.exporter.test_state_export import SOURCE

torch = pytest.importorskip("torch")
runner = CliRunner()


def _test_set(
    folder: Path, inputs: list[np.ndarray], outputs: list[np.ndarray] = (), names: tuple[str, ...] = ()
) -> None:
    folder.mkdir(parents=True)
    for kind, arrays in (("input", inputs), ("output", outputs)):
        for k, array in enumerate(arrays):
            name = names[k] if kind == "input" and names else ""
            (folder / f"{kind}_{k}.pb").write_bytes(numpy_helper.from_array(array, name).SerializeToString())


@pytest.fixture(scope="module")
def gru(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gru-sets")
    (folder / "gru.py").write_text(SOURCE)
    return folder / "gru.py"


def _torch_outputs(source: Path, x: np.ndarray, state: np.ndarray) -> list[np.ndarray]:
    module = runpy.run_path(str(source))["build"]()
    with torch.no_grad():
        prob, new_state = module(torch.from_numpy(x), torch.from_numpy(state))
    return [prob.numpy(), new_state.numpy()]


def _sets(folder: Path, gru: Path, *, wrong_expected: bool = False) -> Path:
    """Two unnamed test sets of different batch sizes (inputs by position: x, state); the second
    holds the expected outputs."""
    rng = np.random.default_rng(1)
    data = folder / "sets"
    x0, s0 = rng.standard_normal((3, 24)).astype(np.float32), np.zeros((2, 3, 8), np.float32)
    _test_set(data / "test_data_set_0", [x0, s0])
    x1, s1 = rng.standard_normal((5, 24)).astype(np.float32), rng.standard_normal((2, 5, 8)).astype(np.float32)
    expected = _torch_outputs(gru, x1, s1)
    if wrong_expected:
        expected[0] = expected[0] + 1.0
    _test_set(data / "test_data_set_1", [x1, s1], expected)
    return data


def _export(gru: Path, example: Path, out: Path, *extra: str):
    return runner.invoke(
        app, ["export", f"{gru}:build", "-o", str(out), "--example-inputs", str(example), "--json", *extra]
    )


def test_every_test_set_is_verified_and_expected_outputs_join(tmp_path: Path, gru: Path) -> None:
    result = _export(gru, _sets(tmp_path, gru), tmp_path / "g.onnx")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    shapes = {i["name"]: i["shape"] for i in payload["signature"]["inputs"]}
    assert shapes == {"x": ["batch", 24], "state": [2, "batch", 8]}  # named by forward() position
    labels = [c["label"] for c in payload["checks"]]
    assert any(label.startswith("test set 0 (inputs x[3, 24], state[2, 3, 8])") for label in labels)
    assert any(label.startswith("test set 1 (inputs x[5, 24]") for label in labels)
    assert any(label.startswith("the expected outputs of test set 1") for label in labels)
    assert all(c["passed"] for c in payload["checks"])


def test_expected_outputs_pytorch_does_not_reproduce_are_a_note(tmp_path: Path, gru: Path) -> None:
    result = _export(gru, _sets(tmp_path, gru, wrong_expected=True), tmp_path / "g.onnx")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert any("does not reproduce the expected outputs of test set 1" in n for n in payload["notes"])
    assert not any(c["label"].startswith("the expected outputs") for c in payload["checks"])


def test_named_tensors_and_input_specs(tmp_path: Path, gru: Path) -> None:
    """Tensors that carry the inputs' names are matched by name, in any order, with --input specs too."""
    rng = np.random.default_rng(2)
    x, state = rng.standard_normal((4, 24)).astype(np.float32), np.zeros((2, 4, 8), np.float32)
    data = tmp_path / "named"
    _test_set(data / "test_data_set_0", [state, x], names=("state", "x"))
    result = _export(gru, data, tmp_path / "g.onnx", "--input", "x:batch,24", "--input", "state:2,batch,8")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["checks"][0]["passed"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (("input_0.pb",), "missing 1 required positional argument: 'state'"),
        (("input_0.pb", "input_2.pb"), "must be numbered 0, 1, 2"),
        ((), "test_data_set_0 holds no input_K.pb files"),
    ],
)
def test_a_broken_test_set_is_one_line_exit_2_nothing_written(
    tmp_path: Path, gru: Path, files: tuple[str, ...], message: str
) -> None:
    folder = tmp_path / "broken" / "test_data_set_0"
    folder.mkdir(parents=True)
    for name in files:
        (folder / name).write_bytes(numpy_helper.from_array(np.zeros((2, 24), np.float32)).SerializeToString())
    out = tmp_path / "g.onnx"
    result = _export(gru, tmp_path / "broken", out)
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not out.exists()
