"""Export of the three model kinds, the exporter fallbacks, and every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

import mlpack
from mlpack.cli import app
from mlpack.errors import ExitCode
from tests.helpers.hostile import without_progress
from tests.helpers.models import tiny
from tests.helpers.processes import files_in


@pytest.mark.parametrize("name", ["mlp", "cnn", "encoder"])
def test_export_is_verified_self_contained_and_batch_dynamic(exported: dict, name: str) -> None:
    result = exported[name]
    assert result.exporter in ("dynamo", "torchscript")
    assert result.checks and all(c.passed for c in result.checks)
    # one self-contained file: no external data beside it, and its size is the whole artifact
    assert not list(result.output.parent.glob("*.data"))
    assert result.size_bytes == result.output.stat().st_size
    assert all(spec.shape[0] == "batch" for spec in result.signature.inputs)
    # verified on two batch sizes, the second one different from the traced one
    assert len(result.checks) == 2
    assert result.checks[0].label != result.checks[1].label


def test_encoder_runs_at_new_batch_and_sequence_lengths(exported: dict) -> None:
    session = ort.InferenceSession(str(exported["encoder"].output))
    from tests.tiny_models import encoder

    net = encoder()
    ids = np.random.default_rng(1).integers(0, 50, (4, 11)).astype(np.int64)
    mask = np.ones((4, 11), dtype=np.int64)
    mask[1, 7:] = 0  # padding in one sample
    (onnx_out,) = session.run(None, {"ids": ids, "mask": mask})
    with torch.no_grad():
        torch_out = net(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    np.testing.assert_allclose(onnx_out, torch_out, atol=1e-4, rtol=1e-3)
    assert exported["encoder"].signature.inputs[0].shape == ("batch", "seq")


def test_exporter_debug_metadata_is_stripped(exported: dict) -> None:
    import onnx

    model = onnx.load(str(exported["encoder"].output))
    assert all(len(node.metadata_props) == 0 for node in model.graph.node)
    assert str(Path(__file__).parent) not in model.SerializeToString().decode("latin-1")


def test_cli_export_json(runner, tmp_path: Path) -> None:
    out = tmp_path / "m.onnx"
    result = runner.invoke(app, ["export", tiny("mlp"), "-o", str(out), "--input", "x:1x16", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["output"] == str(out) and out.exists()
    assert payload["checks"][0]["passed"] is True
    assert payload["signature"]["inputs"][0]["shape"] == ["batch", 16]


def test_torchscript_source_uses_the_torchscript_exporter(tmp_path: Path) -> None:
    from tests.tiny_models import cnn

    scripted = torch.jit.trace(cnn(), torch.randn(2, 1, 8, 8))
    path = tmp_path / "cnn.ts"
    scripted.save(str(path))
    result = mlpack.export(str(path), tmp_path / "cnn.onnx", inputs=(mlpack.parse_input_spec("x:1x1x8x8"),))
    assert result.exporter == "torchscript"
    assert all(c.passed for c in result.checks)


def test_example_inputs_npz_and_weights(tmp_path: Path) -> None:
    from tests.tiny_models import mlp

    trained = mlp()
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(0.5)
    weights = tmp_path / "w.pt"
    torch.save(trained.state_dict(), weights)
    example = tmp_path / "ex.npz"
    x = np.random.default_rng(0).standard_normal((1, 16)).astype(np.float32)
    np.savez(example, x=x)
    result = mlpack.export(tiny("mlp"), tmp_path / "m.onnx", example_inputs=example, weights=weights)
    (out,) = ort.InferenceSession(str(result.output)).run(None, {"x": x})
    with torch.no_grad():
        np.testing.assert_allclose(out, trained(torch.from_numpy(x)).numpy(), atol=1e-5)


def test_onnx_source_is_checked_and_copied(exported: dict, tmp_path: Path) -> None:
    result = mlpack.export(str(exported["mlp"].output), tmp_path / "copy.onnx")
    assert result.exporter == "onnx-copy"
    assert (tmp_path / "copy.onnx").read_bytes()


def test_a_mismatch_fails_closed_and_writes_nothing(runner, tmp_path: Path) -> None:
    out = tmp_path / "noisy.onnx"
    result = runner.invoke(app, ["export", tiny("noisy"), "-o", str(out), "--input", "x:1x16"])
    assert result.exit_code == ExitCode.FAILED
    assert "does not match PyTorch" in result.output
    assert files_in(tmp_path) == []


def test_pickled_module_needs_trust_pickle(runner, tmp_path: Path) -> None:
    from tests.tiny_models import mlp

    pickled = tmp_path / "model.pt"
    torch.save(mlp(), pickled)
    out = tmp_path / "m.onnx"
    refused = runner.invoke(app, ["export", str(pickled), "-o", str(out), "--input", "x:1x16"])
    assert refused.exit_code == ExitCode.BAD_INPUT
    assert "--trust-pickle" in refused.output and "arbitrary code" in refused.output
    assert "Traceback" not in refused.output
    assert not out.exists()
    trusted = runner.invoke(app, ["export", str(pickled), "-o", str(out), "--input", "x:1x16", "--trust-pickle"])
    assert trusted.exit_code == 0, trusted.output
    assert out.exists()


def _bad_inputs(tmp_path: Path) -> list[tuple[list[str], str]]:
    truncated = tmp_path / "truncated.onnx"
    state_dict = tmp_path / "sd.pt"
    wrong_weights = tmp_path / "wrong.pt"
    from tests.tiny_models import cnn, mlp

    torch.save(mlp().state_dict(), state_dict)
    torch.save(cnn().state_dict(), wrong_weights)
    truncated.write_bytes(b"\x08\x07\x12\x04ab")
    return [
        ([str(tmp_path / "missing.pt"), "--input", "x:1x16"], "not found"),
        ([f"{tmp_path / 'nope.py'}:mlp", "--input", "x:1x16"], "not found"),
        ([tiny("does_not_exist"), "--input", "x:1x16"], "no attribute"),
        (["no_such_package.models:build", "--input", "x:1x16"], "cannot import module"),
        ([tiny("not_a_module"), "--input", "x:1x16"], "not a torch.nn.Module"),
        ([tiny("broken"), "--input", "x:1x16"], "factory exploded"),
        ([tiny("mlp"), "--input", "x:1by16"], "input spec"),
        ([tiny("mlp"), "--input", "x:1x17"], "rejects inputs"),
        ([tiny("mlp")], "--input"),
        ([str(state_dict), "--input", "x:1x16"], "state dict"),
        ([tiny("mlp"), "--weights", str(wrong_weights), "--input", "x:1x16"], "does not fit the model"),
        ([str(truncated)], "ONNX"),
    ]


def test_bad_inputs_get_one_line_errors_and_exit_2(runner, tmp_path: Path) -> None:
    cases = _bad_inputs(tmp_path)
    before = set(files_in(tmp_path))
    for args, expected in cases:
        out = tmp_path / "out.onnx"
        result = runner.invoke(app, ["export", *args[:1], "-o", str(out), *args[1:]])
        assert result.exit_code == ExitCode.BAD_INPUT, (args, result.output)
        assert expected in result.output, (args, result.output)
        assert "Traceback" not in result.output
        assert without_progress(result.output).strip().startswith("error:")
        assert set(files_in(tmp_path)) == before, f"{args} left files behind"


def test_debug_shows_the_traceback(runner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["--debug", "export", tiny("broken"), "-o", str(tmp_path / "m.onnx"), "-i", "x:1x16"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "Traceback" in result.output
