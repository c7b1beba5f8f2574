"""What a quantised model actually stores for each source weight, restored to float.

The per-layer report measures each weight with the representation it got. Weights at rest are
described by the pass's choices; the quantisers that write their own formats are read back from
the file they wrote: onnxruntime's MatMulNBits (4-bit blocks: ``NAME_Q4`` with per-block scales,
zero point 8 where none is stored) and dynamic or static INT8 (``NAME_quantized`` with a scale per
tensor or per channel, and a zero point). A Gemm weight rewritten for those kernels is stored
transposed (``NAME__transposed_for_matmul``) and is restored to the source's layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpack.core.onnxio import create_session, load_model, run_session
from mlpack.errors import MlpackError
from mlpack.quant.atrest import Weight

if TYPE_CHECKING:
    import numpy as np

_TRANSPOSED = "__transposed_for_matmul"  # mlpack.quant.gemm's name for a Gemm weight made MatMul's
_CHANNEL_AXIS = {"ConvInteger": 0, "QLinearConv": 0, "MatMulInteger": 1, "DynamicQuantizeMatMul": 1}


@dataclass(frozen=True)
class Applied:
    """One source weight as the quantised model stores it."""

    weight: Weight
    label: str  # "int4-block32", "int8-channel", "int8-tensor"
    values: Any  # the restored float values, in the source weight's shape


def applied_weights(weights: list[Weight], shrunk: Path) -> dict[str, Applied]:
    """Source weight name -> what ``shrunk`` stores for it, where MatMulNBits or an INT8 quantiser
    took it; weights it stores otherwise (at rest, float) are left out."""
    model = load_model(shrunk, check=False)
    inits = {i.name: i for i in model.graph.initializer}
    readers: dict[str, list[Any]] = {}
    for node in model.graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    found: dict[str, Applied] = {}
    for weight in weights:
        for stored, transposed in ((weight.name, False), (weight.name + _TRANSPOSED, True)):
            try:
                read = _nbits(stored, inits, readers, model) or _int8(stored, inits, readers)
            except (KeyError, ValueError, MlpackError):  # a layout this reader does not know: measured as before
                read = None
            if read is None:
                continue
            label, values = read
            values = values.T if transposed else values
            if tuple(values.shape) == tuple(weight.shape):
                found[weight.name] = Applied(weight, label, values)
            break
    return found


def _nbits(
    stored: str, inits: dict[str, Any], readers: dict[str, list[Any]], model: Any
) -> tuple[str, np.ndarray] | None:
    """A MatMulNBits weight ([N, blocks, bytes] of 4-bit pairs) as the [K, N] matrix it computes with."""
    import numpy as np
    from onnx import helper, numpy_helper

    packed_name = f"{stored}_Q4"
    node = next((n for n in readers.get(packed_name, []) if n.op_type == "MatMulNBits"), None)
    if node is None or packed_name not in inits:
        return None
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    k, n, block = int(attrs["K"]), int(attrs["N"]), int(attrs["block_size"])
    packed = numpy_helper.to_array(inits[packed_name]).reshape(n, -1)
    q = np.empty((n, packed.shape[1] * 2), dtype=np.float32)
    q[:, 0::2], q[:, 1::2] = packed & 0x0F, packed >> 4  # the low nibble first
    blocks = q.shape[1] // block
    scales = _value(node.input[2], inits, model).astype(np.float32).reshape(n, blocks)
    zero = np.full((n, blocks), 8.0, dtype=np.float32)
    if len(node.input) > 3 and node.input[3] in inits:
        zp = numpy_helper.to_array(inits[node.input[3]]).reshape(n, -1)
        pairs = np.empty((n, zp.shape[1] * 2), dtype=np.float32)
        pairs[:, 0::2], pairs[:, 1::2] = zp & 0x0F, zp >> 4
        zero = pairs[:, :blocks]
    restored = (q.reshape(n, blocks, block) - zero[..., None]) * scales[..., None]
    return f"int4-block{block}", restored.reshape(n, -1)[:, :k].T


def _int8(stored: str, inits: dict[str, Any], readers: dict[str, list[Any]]) -> tuple[str, np.ndarray] | None:
    """An INT8 (or UINT8) weight with its scale and zero point, per tensor or per channel."""
    import numpy as np
    from onnx import helper, numpy_helper

    quantized, scale_name = f"{stored}_quantized", f"{stored}_scale"
    if quantized not in inits or scale_name not in inits:
        return None
    q = numpy_helper.to_array(inits[quantized]).astype(np.float32)
    scale = numpy_helper.to_array(inits[scale_name]).astype(np.float32)
    zero_name = f"{stored}_zero_point"
    zero = numpy_helper.to_array(inits[zero_name]).astype(np.float32) if zero_name in inits else np.zeros_like(scale)
    if scale.size == 1:
        return "int8-tensor", (q - zero.reshape(())) * scale.reshape(())
    axis = None
    for node in readers.get(quantized, []):
        if node.op_type == "DequantizeLinear":
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            axis = int(attrs.get("axis", 1))
        axis = _CHANNEL_AXIS.get(node.op_type, axis)
    if axis is None or q.shape[axis] != scale.size:
        return None
    shape = [1] * q.ndim
    shape[axis] = scale.size
    return "int8-channel", (q - zero.reshape(shape)) * scale.reshape(shape)


def _value(name: str, inits: dict[str, Any], model: Any) -> np.ndarray:
    """A constant tensor's value: an initializer, or computed from initializers alone (the int4
    mode stores large MatMulNBits scales at rest, restored by Cast -> Mul when a session loads)."""
    from onnx import helper, numpy_helper

    if name in inits:
        return numpy_helper.to_array(inits[name])
    producers = {out: node for node in model.graph.node for out in node.output}
    needed: dict[int, Any] = {}
    stack = [name]
    while stack:
        node = producers[stack.pop()]  # KeyError: not a constant, left to the caller
        if id(node) not in needed:
            needed[id(node)] = node
            stack += [i for i in node.input if i and i not in inits]
    nodes = [n for n in model.graph.node if id(n) in needed]  # in the graph's (topological) order
    leaves = sorted({i for n in nodes for i in n.input if i in inits})
    output = helper.make_empty_tensor_value_info(name)
    graph = helper.make_graph(nodes, "constant", [], [output], [inits[i] for i in leaves])
    small = helper.make_model(graph, opset_imports=model.opset_import, ir_version=model.ir_version)
    return run_session(create_session(small.SerializeToString()), {})[0]
