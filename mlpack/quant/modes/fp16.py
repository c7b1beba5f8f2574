"""FP16: half-precision weights and compute, float32 inputs and outputs."""

from __future__ import annotations

from pathlib import Path

from mlpack.core.fidelity import Tolerance
from mlpack.core.quiet import silenced
from mlpack.quant.passes import ModelPass, PassContext
from mlpack.quant.samples import first_samples

# Normalisation stays float32 in FP16 mode: its variance loses precision in half floats, its
# weights are tiny, and onnxruntime 1.32's CPU provider crashed (SIGSEGV) creating a session for
# a transformer encoder whose LayerNormalization ran in FP16 (blocking it alone fixed that).
SLOWER = 1.10  # warned above this (the machine's noise between two models is a few percent)
FP16_KEPT_FLOAT = ("LayerNormalization", "BatchNormalization", "InstanceNormalization", "GroupNormalization")


class Float16(ModelPass):
    name = "FP16"
    tolerance = Tolerance(atol=None, min_cosine=0.999, min_agreement=0.99)
    description = "FP16 weights and compute; float32 inputs and outputs"

    def call(self, model: Path, output: Path, context: PassContext) -> bool:
        import onnx
        from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16
        from onnxruntime.transformers.onnx_model import OnnxModel

        loaded = onnx.load(str(model))
        present = {n.op_type for n in loaded.graph.node}
        if context.settings.op_types is not None:
            op_block_list = sorted(present - set(context.settings.op_types))
        else:
            op_block_list = [*DEFAULT_OP_BLOCK_LIST, *FP16_KEPT_FLOAT]
        with silenced():
            converted = OnnxModel(convert_float_to_float16(loaded, keep_io_types=True, op_block_list=op_block_list))
            # The converter appends the input/output casts at the end of the node list, which
            # breaks the topological order that ONNX requires.
            converted.topological_sort()
        onnx.save_model(converted.model, str(output))
        kept = sorted(present & set(op_block_list))
        context.log.steps.append(
            "FP16 weights and compute, float32 inputs and outputs"
            + (f"; kept in float32: {', '.join(kept)}" if kept else "")
        )
        _say_if_slower(model, output, context)
        return True


def _say_if_slower(model: Path, output: Path, context: PassContext) -> None:
    """Warn where FP16 compute measured slower than FP32: most CPUs have no FP16 arithmetic, and
    onnxruntime runs it through casts (1.6x FP32 on a MobileNetV2 here). FP16 was asked for by
    name, so it is still written; the warning says what it costs and what is faster."""
    ratio = context.timer.p50_ratios([model, output], first_samples(model, context.reference.feeds, 1))[1]
    if ratio > SLOWER:
        context.log.warnings.append(
            f"FP16 measured {ratio:.2f}x FP32's latency on {context.timer.measured_on.device}: it halves the file, "
            "but this CPU computes FP16 slowly; for a smaller file that is not slower, use --quantize auto"
        )
