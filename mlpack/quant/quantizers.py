"""Importing this module fills the quantiser registry: one module per ``--quantize`` mode."""

from mlpack.quant import auto, dynamic, fp16, int4, static, weights

__all__ = ["auto", "dynamic", "fp16", "int4", "static", "weights"]
