"""The per-layer report measures each tensor as the quantised file stores it (issue 19): 4-bit
blocks where MatMulNBits took it, INT8 per tensor or per channel where an INT8 quantiser did."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import mlpack
from mlpack.core.fidelity import Tolerance
from mlpack.quant.applied import applied_weights
from mlpack.quant.atrest import find_weights
from mlpack.quant.settings import QuantizeSettings, QuantMode
from tests.quant.test_calibration_memory import _mlp


@pytest.fixture(scope="module")
def mlp(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _mlp(tmp_path_factory.mktemp("mlp-layers"))


# mode, its settings, what w1 [16, 64] is stored as, the most one value may move by it, and how
# the input x is quantised where its MatMul computes in INT8
CASES = [
    (QuantMode.INT4, {}, "int4-block32", 1 / 8, None),  # a 4-bit step: the block's largest magnitude / 8
    (QuantMode.DYNAMIC, {"per_channel": False}, "int8-tensor", 1 / 127, "int8-activation (per call)"),
    (QuantMode.STATIC, {"calibration": True}, "int8-channel", 1 / 127, "int8-activation (calibrated)"),
]


@pytest.mark.parametrize(("mode", "settings", "label", "step", "activation"), CASES, ids=[c[2] for c in CASES])
def test_each_tensor_is_measured_as_the_file_stores_it(
    mlp: dict[str, Path],
    tmp_path: Path,
    mode: QuantMode,
    settings: dict[str, object],
    label: str,
    step: float,
    activation: str | None,
) -> None:
    out = tmp_path / "q.onnx"
    chosen = QuantizeSettings(**{k: (mlp["calibration"] if k == "calibration" else v) for k, v in settings.items()})  # type: ignore[arg-type]
    result = mlpack.optimize(
        mlp["model"],
        out,
        quantize=mode,
        settings=chosen,
        data=mlp["calibration"],
        tolerance=Tolerance(atol=None),
        simplify=False,
    )
    measured = {entry["tensor"]: entry["representation"] for entry in result.layers}
    assert measured["w1"] == label, result.layers
    # The activations INT8 nodes compute on are measured too, each alone: a small cost, not none.
    assert measured.get("x") == activation, result.layers
    for entry in result.layers:
        assert 0.99 < entry["cosine"] < 1.0 and entry["decisions"] > 0, entry
    # Read back from the file: within one step of the source everywhere, and not the source itself.
    source = numpy_helper.to_array(next(i for i in onnx.load(str(mlp["model"])).graph.initializer if i.name == "w1"))
    weights = find_weights(onnx.load(str(mlp["model"])), min_elements=0)
    stored = applied_weights(weights, out)["w1"].values
    error = np.abs(stored - source)
    assert 0 < error.max() <= step * np.abs(source).max() * 1.001
