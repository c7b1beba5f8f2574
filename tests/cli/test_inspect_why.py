"""``mlpack inspect --why``: where a model's (or a package's) bytes go, and the INT8-at-rest limit."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
from onnx import helper

import mlpack
from mlpack.cli import app
from mlpack.quant.settings import QuantMode
from tests.helpers.models import make_gemm_mlp


@pytest.fixture(scope="module")
def shrunk(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("why")
    fp32 = make_gemm_mlp(folder / "mlp.onnx", width=64, hidden=256)
    model = onnx.load(str(fp32))
    helper.set_model_props(model, {"note": "x" * 3000})  # metadata a --why must show apart
    onnx.save(model, str(fp32))
    at_rest = mlpack.optimize(fp32, folder / "mlp.weights.onnx", quantize=QuantMode.WEIGHTS).output
    compute = mlpack.optimize(fp32, folder / "mlp.dynamic.onnx", quantize=QuantMode.DYNAMIC).output
    package = folder / "mlp.mlpack"
    mlpack.pack(at_rest, package, golden=1)
    return {"fp32": fp32, "at_rest": at_rest, "compute": compute, "package": package}


def _why(runner, path: Path, *extra: str) -> dict:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["inspect", str(path), "--why", "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_why_splits_float_int8_at_rest_int8_compute_metadata_and_graph(shrunk, runner) -> None:
    fp32 = _why(runner, shrunk["fp32"])["model"]
    size = shrunk["fp32"].stat().st_size
    assert fp32["size_bytes"] == size
    assert fp32["by_kind"] == {"float": (256 * 64 + 256 + 4 * 256 + 4) * 4}
    assert fp32["metadata_bytes"] >= 3000
    assert sum(fp32["by_kind"].values()) + fp32["metadata_bytes"] + fp32["graph_bytes"] == size
    assert fp32["tensors"][0] == {
        "name": "w1", "dtype": "float32", "shape": [256, 64], "bytes": 65536, "kind": "float", "op": "Gemm"
    }  # fmt: skip
    assert fp32["by_op"] == {"Gemm": sum(fp32["by_kind"].values())}
    # The limit: the size less 3/4 of the float32 tensors of >= 1024 values (w1, w2; not the biases).
    assert fp32["int8_at_rest_limit"] == size - 3 * (256 * 64 + 4 * 256) * 4 // 4
    at_rest = _why(runner, shrunk["at_rest"])["model"]
    assert at_rest["by_kind"]["int8 at rest"] >= 256 * 64 and "int8 compute" not in at_rest["by_kind"]
    assert at_rest["tensors"][0]["op"] == "Gemm"  # read through its restore steps
    assert at_rest["size_bytes"] <= fp32["int8_at_rest_limit"] + 4 * 1024
    compute = _why(runner, shrunk["compute"], "--top", "2")["model"]
    assert compute["by_kind"]["int8 compute"] >= 256 * 64 and "int8 at rest" not in compute["by_kind"]
    assert len(compute["tensors"]) == 2 and compute["tensor_count"] > 2


def test_why_on_a_package_names_its_members_and_the_model_inside(shrunk, runner) -> None:
    shown = _why(runner, shrunk["package"])
    members = {m["name"] for m in shown["package"]["members"]}
    assert "manifest.json" in members and any(m.endswith(".onnx") for m in members)
    assert shown["model"]["path"].startswith(f"{shrunk['package']}!")
    assert shown["model"]["by_kind"]["int8 at rest"] >= 256 * 64
    text = runner.invoke(app, ["inspect", str(shrunk["package"]), "--why"])
    assert text.exit_code == 0, text.output
    for heading in ("Package members", "Where the bytes go", "Largest tensors", "INT8-at-rest limit"):
        assert heading in text.output


def test_why_on_what_is_not_a_model_is_bad_input(runner, tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_text("not a model")
    result = runner.invoke(app, ["inspect", str(junk), "--why"])
    assert result.exit_code == 2 and "junk.onnx" in result.output
    assert runner.invoke(app, ["inspect", str(junk), "--why", "--top", "0"]).exit_code == 2
