"""Shrinking and speeding up ONNX models: simplification and quantisation, verified."""

from mlpack.optimize.pipeline import OptimizeResult, optimize
from mlpack.optimize.registry import QUANTIZERS, QuantizeSettings, QuantMode

__all__ = ["QUANTIZERS", "OptimizeResult", "QuantMode", "QuantizeSettings", "optimize"]
