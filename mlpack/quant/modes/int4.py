"""``--quantize int4``: MatMul weights in 4-bit blocks (onnxruntime's MatMulNBits), the rest at rest.

MatMulNBits keeps its weights packed in memory and dequantises them block by block inside the
kernel, so this is the one mode that also shrinks the weights in RAM. It pays on weight-heavy
transformers; the fidelity check decides whether 4 bits are enough for a given model.
"""

from __future__ import annotations

from pathlib import Path

from mlpack.core.fidelity import Tolerance
from mlpack.core.onnxio import load_model, save_model
from mlpack.core.quiet import silenced
from mlpack.errors import MissingDependencyError
from mlpack.quant.gemm import gemm_to_matmul_add
from mlpack.quant.modes.weights import store_roles_at_rest
from mlpack.quant.passes import ModelPass, PassContext, PassLog
from mlpack.quant.settings import QuantizeSettings


def quantize_int4(src: Path, dst: Path, settings: QuantizeSettings, log: PassLog) -> int:
    """MatMul weights to 4-bit blocks; returns how many MatMulNBits nodes were made.

    Raises:
        MissingDependencyError: onnxruntime's 4-bit quantiser needs onnx-ir, which the runtime-only
            install lacks (exit 2, naming the extra).
    """
    try:
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    except ImportError as exc:
        raise MissingDependencyError(
            f"--quantize int4 needs onnxruntime's 4-bit quantiser, which imports {exc.name or 'a module'} "
            "that this install lacks: pip install 'mlpack-edge[optimize]'."
        ) from exc

    model = load_model(src, check=False)
    rewritten = gemm_to_matmul_add(model)  # MatMulNBits replaces MatMul only; torch's Linear is often Gemm
    if rewritten:
        log.steps.append(f"{rewritten} Gemm rewritten as MatMul+Add for the 4-bit kernels")
    with silenced():
        quantizer = MatMulNBitsQuantizer(
            model,
            bits=4,
            block_size=settings.int4_block_size,
            is_symmetric=True,
            nodes_to_exclude=list(settings.exclude_nodes),
            op_types_to_quantize=("MatMul",),
        )
        quantizer.process()
    result = quantizer.model.model
    count = sum(1 for n in result.graph.node if n.op_type == "MatMulNBits")
    save_model(result, dst)
    log.steps.append(f"INT4: {count} MatMul weights in 4-bit blocks of {settings.int4_block_size} (MatMulNBits)")
    return count


class Int4Weights(ModelPass):
    name = "INT4 weights"
    reports_layers = True
    tolerance = Tolerance(atol=None, min_cosine=0.98, min_agreement=0.99)
    description = "4-bit block-wise MatMul weights (MatMulNBits, smaller in RAM too); other weights INT8 at rest"

    def call(self, model: Path, output: Path, context: PassContext) -> bool:
        count = quantize_int4(model, output, context.settings, context.log)
        rest = store_roles_at_rest(
            output,
            output,
            context.settings,
            context.log,
            roles=None,  # what MatMulNBits did not take: embeddings, convolutions, recurrent weights
        )
        self.chosen = tuple(rest)  # the per-layer report measures them as stored; MatMulNBits' read back
        if count == 0 and not rest:
            context.log.warnings.append("no MatMul weight could take 4 bits and no other weight was large enough")
        return bool(count or rest)
