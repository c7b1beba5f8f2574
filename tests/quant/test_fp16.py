"""FP16 mode says what its compute costs where the CPU runs it slower than FP32."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from mlpack.quant.modes.fp16 import Float16
from mlpack.quant.passes import PassContext, PassLog, Reference
from mlpack.quant.settings import QuantizeSettings
from mlpack.quant.timing import MeasuredOn
from tests.helpers.models import make_convnet


class FixedTimer:
    """The second model at ``ratio`` of the first's latency, as a device would report it."""

    def __init__(self, ratio: float) -> None:
        self.ratio = ratio

    @property
    def measured_on(self) -> MeasuredOn:
        return MeasuredOn("a scripted timer", "test CPU", ("avx2",), ort.__version__)

    def p50_ratios(self, models: list[Path], feeds: dict[str, Any]) -> list[float]:
        return [1.0, self.ratio][: len(models)]


@pytest.mark.parametrize(("ratio", "warned"), [(1.6, True), (1.02, False)])
def test_fp16_slower_than_fp32_here_is_said(tmp_path: Path, ratio: float, warned: bool) -> None:
    """FP16 ran 1.6x FP32 on the MobileNets here (no FP16 arithmetic on this CPU) without a word."""
    model, data = make_convnet(tmp_path)
    feeds = {"x": np.load(data)["x"][:8]}
    outputs = tuple(ort.InferenceSession(str(model)).run(None, feeds))
    context = PassContext(
        tmp_path,
        QuantizeSettings(),
        Reference(feeds, outputs, ("logits",), "8 samples"),
        Float16.tolerance,
        PassLog(),
        model,
        FixedTimer(ratio),
    )
    assert Float16().call(model, tmp_path / "f16.onnx", context)
    said = [w for w in context.log.warnings if "FP16 measured" in w]
    assert bool(said) is warned
    if warned:
        assert "1.60x FP32's latency on a scripted timer" in said[0] and "--quantize auto" in said[0]
