"""The issue's "also seen": umask-respecting outputs, build errors on stderr, --op-types checked, a
rejected input names its model, TorchScript failures give a reason, tolerances print faithfully."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mlpack.core.fidelity import Tolerance
from tests.helpers.hostile import file_mode, refused, succeeds


def test_outputs_respect_the_umask(work: Path) -> None:
    previous = os.umask(0o022)
    try:
        succeeds(["pack", work / "m.onnx", "-o", work / "p.mlpack"])
    finally:
        os.umask(previous)
    assert file_mode(work / "p.mlpack") == 0o644


def test_build_errors_on_stderr(work: Path) -> None:
    config = work / "mlpack.toml"
    config.write_text('[model]\nsource = "missing.onnx"\n')
    from typer.testing import CliRunner

    from mlpack.cli import app

    result = CliRunner().invoke(app, ["build", str(config), "-o", str(work / "dist")])
    assert result.exit_code == 2
    assert "missing.onnx" in result.stderr and "build stopped" not in result.stdout


def test_op_types_bogus(work: Path) -> None:
    message = refused(["optimize", work / "m.onnx", "-o", work / "o.onnx", "--op-types", "Bogus"], says="'Bogus'")
    assert "MatMul" in message and not (work / "o.onnx").exists()


def test_rejected_inputs_name_the_model(work: Path, package: Path) -> None:
    from mlpack.core.onnxio import create_session, run_session

    session = create_session(work / "m.onnx")
    try:
        run_session(session, {"x": np.ones((1, 3), np.float32)})
    except Exception as exc:  # noqa: BLE001 - the message is what is tested
        assert "m.onnx rejected its inputs" in str(exc)
    else:
        raise AssertionError("the model accepted a wrong shape")


def test_torchscript_failure_has_a_reason(tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(tmp_path / "broken.pt", "w") as archive:
        archive.writestr("broken/constants.pkl", b"")
    message = refused(["export", tmp_path / "broken.pt", "-o", tmp_path / "o.onnx", "-i", "x:1x4"], says="torchscript")
    assert not message.rstrip().endswith(":")


def test_tolerance_printed_faithfully() -> None:
    assert "0.9999999" in Tolerance(min_cosine=0.9999999).describe()
