"""inspect, and the CLI's promises: fast help, no heavy imports, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import onnx

import mlpack
from mlpack.cli import app
from mlpack.errors import ExitCode
from tests.conftest import run_python


def test_inspect_reports_signature_params_and_ops(gemm_mlp: Path) -> None:
    info = mlpack.inspect_model(gemm_mlp)
    assert [s.name for s in info.signature.inputs] == ["x"]
    assert info.signature.inputs[0].shape == ("batch", 16)
    assert info.signature.outputs[0].shape == ("batch", 4)
    assert info.parameter_count == 64 * 16 + 64 + 4 * 64 + 4
    assert info.op_histogram == {"Gemm": 2, "Relu": 1}
    assert info.opsets == {"ai.onnx": 17}
    assert info.size_bytes == gemm_mlp.stat().st_size


def test_inspect_counts_external_data(gemm_mlp: Path, tmp_path: Path) -> None:
    model = onnx.load(str(gemm_mlp))
    split = tmp_path / "split.onnx"
    onnx.save_model(model, str(split), save_as_external_data=True, location="split.onnx.data", size_threshold=0)
    info = mlpack.inspect_model(split)
    assert info.external_data == ("split.onnx.data",)
    assert info.size_bytes == split.stat().st_size + (tmp_path / "split.onnx.data").stat().st_size


def test_cli_inspect_json_and_table(runner, exported: dict) -> None:
    path = str(exported["encoder"].output)
    result = runner.invoke(app, ["inspect", path, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["signature"]["inputs"][0] == {"name": "ids", "shape": ["batch", "seq"], "dtype": "int64"}
    assert payload["op_histogram"]
    table = runner.invoke(app, ["inspect", path])
    assert table.exit_code == 0
    assert "[batch, seq]" in table.output and "int64" in table.output


def test_inspect_missing_and_corrupt(runner, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["inspect", str(tmp_path / "nope.onnx")])
    assert missing.exit_code == ExitCode.BAD_INPUT and "not found" in missing.output
    corrupt = tmp_path / "c.onnx"
    corrupt.write_bytes(b"\xff\xfe garbage")
    bad = runner.invoke(app, ["inspect", str(corrupt)])
    assert bad.exit_code == ExitCode.BAD_INPUT and "Traceback" not in bad.output


def test_import_and_help_do_not_import_heavy_modules() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "import mlpack, mlpack.cli\n"
        "r = CliRunner().invoke(mlpack.cli.app, ['--help'])\n"
        "assert r.exit_code == 0\n"
        "print(' '.join(m for m in ('torch', 'onnxruntime', 'onnxsim', 'onnx', 'numpy') if m in sys.modules))\n"
    )
    assert run_python(code).strip() == ""


def test_unexpected_exceptions_are_reported_as_bugs(runner, gemm_mlp: Path, tmp_path: Path, monkeypatch) -> None:
    import mlpack.core.modelinfo

    def boom(path):
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(mlpack.core.modelinfo, "inspect_model", boom)
    result = runner.invoke(app, ["inspect", str(gemm_mlp)])
    assert result.exit_code == ExitCode.INTERNAL
    assert "internal error" in result.output and "Traceback" not in result.output


def test_models_over_the_protobuf_limit_keep_one_data_file(gemm_mlp: Path, tmp_path: Path, monkeypatch) -> None:
    """The >2 GB path, exercised by lowering the limit: a model file plus one '.data' file,
    both renamed into place, and every size counts the data file."""
    import numpy as np
    import onnxruntime as ort

    from mlpack.core import onnxio

    monkeypatch.setattr(onnxio, "_PROTOBUF_LIMIT", 100)
    target = tmp_path / "out" / "big.onnx"
    target.parent.mkdir()  # outputs never create their folders (issue 24)
    onnxio.save_model(onnx.load(str(gemm_mlp)), target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["big.onnx", "big.onnx.data"]
    assert onnxio.model_size_bytes(target) == target.stat().st_size + (target.parent / "big.onnx.data").stat().st_size
    x = np.ones((2, 16), np.float32)
    (expected,) = ort.InferenceSession(str(gemm_mlp)).run(None, {"x": x})
    (actual,) = ort.InferenceSession(str(target)).run(None, {"x": x})
    np.testing.assert_allclose(actual, expected)
