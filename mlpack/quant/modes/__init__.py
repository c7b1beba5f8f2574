"""Which pass implements each ``--quantize`` mode: the one file that names every mode.

A literal table, not a registry filled by importing modules for their side effects (onnx-ir's
explicit pass lists are the model); ``tests/test_choices.py`` checks it covers every mode.
One module per mode beside this one: dynamic, static, fp16, weights, int4, auto.
"""

from __future__ import annotations

from mlpack.core.fidelity import Tolerance
from mlpack.quant.modes.auto import Auto
from mlpack.quant.modes.dynamic import DynamicInt8
from mlpack.quant.modes.fp16 import Float16
from mlpack.quant.modes.int4 import Int4Weights
from mlpack.quant.modes.static import StaticInt8
from mlpack.quant.modes.weights import WeightsAtRest
from mlpack.quant.passes import ModelPass
from mlpack.quant.settings import LOSSLESS_TOLERANCE, QuantMode

# QuantMode.NONE has no quantiser: optimize only simplifies.
QUANTIZERS: dict[QuantMode, type[ModelPass]] = {
    QuantMode.DYNAMIC: DynamicInt8,
    QuantMode.STATIC: StaticInt8,
    QuantMode.FP16: Float16,
    QuantMode.WEIGHTS: WeightsAtRest,
    QuantMode.INT4: Int4Weights,
    QuantMode.AUTO: Auto,
}


def default_tolerance(mode: QuantMode) -> Tolerance:
    """The fail-closed check a mode is held to unless the user states another."""
    if mode is QuantMode.NONE:
        return LOSSLESS_TOLERANCE
    return QUANTIZERS[mode].tolerance
