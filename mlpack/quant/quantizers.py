"""Importing this module fills the quantiser registry: one module per ``--quantize`` mode."""

import mlpack.quant.auto
import mlpack.quant.dynamic
import mlpack.quant.fp16
import mlpack.quant.int4
import mlpack.quant.static
import mlpack.quant.weights  # noqa: F401
