"""Dynamic INT8: INT8 weights, activations quantised at run time, where onnxruntime has kernels.

Measured here: dynamic INT8 speeds up MatMul-heavy models (~2x on transformers) but makes
ConvInteger paths 4-11x slower than float convolutions in onnxruntime on x86 CPUs, and can flip
decisions of small conv+LSTM models. So by default only the ops where it pays. Embedding tables
(Gather on a large initializer) have no INT8 kernel at all: they are stored as INT8 *at rest*
(restored when the session loads), since in a transformer with a large vocabulary the table is
often half the file.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from mlpack.core.fidelity import Tolerance
from mlpack.core.quiet import silenced
from mlpack.quant.gemm import gemm_to_matmul_add
from mlpack.quant.modes.weights import store_roles_at_rest
from mlpack.quant.passes import ModelPass, PassContext, PassLog
from mlpack.quant.preprocess import preprocess
from mlpack.quant.settings import QuantizeSettings

DYNAMIC_DEFAULT_OP_TYPES = ("MatMul", "Attention", "LSTM", "Gemm")
# What onnxruntime's dynamic quantiser turns quantised nodes into.
DYNAMIC_INTEGER_OPS = ("MatMulInteger", "DynamicQuantizeMatMul", "ConvInteger", "DynamicQuantizeLSTM", "QAttention")


def quantize_dynamic(src: Path, dst: Path, settings: QuantizeSettings, log: PassLog) -> Counter[str]:
    """onnxruntime's dynamic quantiser on ``settings.op_types``; returns the integer ops it made."""
    import onnx
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization import quantize_dynamic as ort_quantize_dynamic

    op_types = list(settings.op_types or DYNAMIC_DEFAULT_OP_TYPES)
    with tempfile.TemporaryDirectory(prefix="mlpack-quant-") as workdir:
        # Weights beside the pre-processed file: onnxruntime then never holds them serialised
        # (a BERT-base-size model: 1.6 GB peak instead of 2.3 GB).
        prepared = preprocess(src, Path(workdir) / "pre.onnx", log, external_data=True)
        if "Gemm" in op_types:
            # After pre-processing: its graph optimisation fuses MatMul+Add back into Gemm.
            model = onnx.load(str(prepared))
            count = gemm_to_matmul_add(model)
            if count:
                log.steps.append(f"{count} Gemm rewritten as MatMul+Add for the INT8 kernels")
                prepared = Path(workdir) / "gemm.onnx"
                onnx.save_model(model, str(prepared), save_as_external_data=True, location="gemm.onnx.data")
            del model  # onnxruntime loads the file itself: one copy of the weights in memory, not two
            op_types = [t for t in op_types if t != "Gemm"] + (["MatMul"] if "MatMul" not in op_types else [])
        with silenced():
            ort_quantize_dynamic(
                prepared,
                str(dst),
                op_types_to_quantize=op_types,
                per_channel=settings.per_channel,
                nodes_to_exclude=list(settings.exclude_nodes),
                weight_type=QuantType.QInt8,
                extra_options={"MatMulConstBOnly": True},
            )
    return Counter(
        n.op_type for n in onnx.load(str(dst), load_external_data=False).graph.node if n.op_type in DYNAMIC_INTEGER_OPS
    )


class DynamicInt8(ModelPass):
    name = "dynamic INT8"
    reports_layers = True
    tolerance = Tolerance(atol=None, min_cosine=0.99, min_agreement=0.99)
    description = (
        "INT8 weights, activations quantised at run time (MatMul/Gemm/Attention/LSTM); embedding tables INT8 at rest"
    )

    def call(self, model: Path, output: Path, context: PassContext) -> bool:
        settings, log = context.settings, context.log
        integer_ops = quantize_dynamic(model, output, settings, log)
        done = ", ".join(f"{n} {op}" for op, n in sorted(integer_ops.items())) or "no node (nothing to quantise)"
        log.steps.append(f"dynamic INT8: {done} ({'per-channel' if settings.per_channel else 'per-tensor'} weights)")
        if settings.embeddings_at_rest:  # the per-layer report measures them as stored
            self.chosen = tuple(store_roles_at_rest(output, output, settings, log, roles=("embedding table",)))
        return True
