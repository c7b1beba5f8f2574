"""A Timer that answers from a script, for tests of the decisions auto makes on measured latency:
the decisions are under test, not the shared machine's noise (speed is measured by benchmarks/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from mlpack.quant.timing import MeasuredOn


class ScriptedTimer:
    """INT8 cut-outs of convolution groups at ``group_ratio`` (the first timed one, the largest, at
    ``first_ratio``); whole models with QDQ nodes at 0.6 of FP32, dynamic INT8 at 0.8; everything
    else as fast as FP32."""

    def __init__(self, *, group_ratio: float = 0.5, first_ratio: float = 0.5) -> None:
        self.group_ratio, self.first_ratio = group_ratio, first_ratio
        self.calls: list[list[str]] = []
        self.batches: list[set[int]] = []  # each call's batch sizes (axis 0 of every input)

    @property
    def measured_on(self) -> MeasuredOn:
        return MeasuredOn("a scripted timer", "test CPU", ("avx2", "avx512_vnni"), ort.__version__)

    def p50_ratios(self, models: list[Path], feeds: dict[str, Any]) -> list[float]:
        self.calls.append([m.name for m in models])
        self.batches.append({int(np.shape(v)[0]) for v in feeds.values()})
        return [self._ratio(m) for m in models]

    def _ratio(self, model: Path) -> float:
        if model.name.endswith(".qdq.onnx"):
            return self.first_ratio if model.name.startswith("group-0.") else self.group_ratio
        ops = {n.op_type for n in onnx.load(str(model), load_external_data=False).graph.node}
        return 0.6 if "QuantizeLinear" in ops else 0.8 if "DynamicQuantizeLinear" in ops else 1.0
