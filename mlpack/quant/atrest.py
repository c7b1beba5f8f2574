"""Weights at rest: float initializers stored small, restored inside the graph when a session loads.

A weight is stored as INT8 with float scales (one for the whole tensor, one per output channel,
or one per block of ``block`` values along the reduction axis, with FP16 scales), or as FP16, and restored by
Cast -> Mul (-> Reshape/Slice/Transpose) nodes whose inputs are all constants. onnxruntime's
default session folds such chains into one float initializer when it is created, so a plain
``InferenceSession(path)`` runs the file at FP32 speed. DequantizeLinear would be smaller to write
but is *not* folded by default (onnxruntime keeps it for its QDQ fusions), and made a conv net
2.2x slower in an experiment reported with issue 10 (not re-measured here): the representation
is chosen so that it folds.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import onnx

# Below this many values a tensor is not worth its restore nodes (biases, norms, small convs).
MIN_ELEMENTS = 1024
INT8_MAX = 127  # symmetric range: -127..127, so that 0 is exact and the scale is max|w| / 127


class Representation(str, Enum):
    """How one weight is stored, from the smallest to the most faithful."""

    INT8_TENSOR = "int8-tensor"  # one float32 scale for the whole tensor: no per-channel scales to store
    INT8_CHANNEL = "int8-channel"  # one float32 scale per output channel
    INT8_BLOCK = "int8-block"  # one FP16 scale per block of values along the reduction axis
    FP16 = "fp16"
    FP32 = "fp32"  # left as it was


@dataclass(frozen=True)
class Weight:
    """A float initializer worth shrinking, and how its consumers read it."""

    name: str
    shape: tuple[int, ...]
    channel_axis: int  # the output-channel axis: scales are per channel (and per block)
    consumers: tuple[str, ...]  # "OpType:input_index" of every node that reads it
    role: str  # what it is, for the report: "MatMul weight", "embedding table", ...

    @property
    def elements(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count


@dataclass(frozen=True)
class Choice:
    """The representation chosen for one weight, and why."""

    weight: Weight
    representation: Representation
    block: int | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "tensor": self.weight.name,
            "role": self.weight.role,
            "shape": list(self.weight.shape),
            "representation": self.representation.value,
            "block": self.block,
            "reason": self.reason,
        }


def find_weights(model: onnx.ModelProto, *, min_elements: int = MIN_ELEMENTS) -> list[Weight]:
    """Float initializers of at least ``min_elements`` values, with the channel axis their use implies."""
    from onnx import TensorProto

    graph_inputs = {i.name for i in model.graph.input}  # an initializer that is also an input can be overridden
    consumers: dict[str, list[tuple[str, int, dict[str, int]]]] = {}
    for node in _all_nodes(model.graph):
        attrs = {a.name: a.i for a in node.attribute if a.type == a.INT}
        for index, name in enumerate(node.input):
            consumers.setdefault(name, []).append((node.op_type, index, attrs))
    weights = []
    for init in model.graph.initializer:
        shape = tuple(int(d) for d in init.dims)
        count = 1
        for dim in shape:
            count *= dim
        if init.data_type != TensorProto.FLOAT or count < min_elements or init.name in graph_inputs:
            continue
        if not shape or init.name not in consumers:
            continue
        uses = consumers[init.name]
        axis, role = _channel_axis(shape, uses[0])
        weights.append(Weight(init.name, shape, axis, tuple(f"{op}:{i}" for op, i, _ in uses), role))
    return weights


def _all_nodes(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    """Nodes of a graph and of its subgraphs (If/Loop/Scan bodies read outer initializers)."""
    nodes = []
    for node in graph.node:
        nodes.append(node)
        for attr in node.attribute:
            if attr.g is not None and attr.type == attr.GRAPH:
                nodes.extend(_all_nodes(attr.g))
            for sub in attr.graphs:
                nodes.extend(_all_nodes(sub))
    return nodes


def _channel_axis(shape: tuple[int, ...], use: tuple[str, int, dict[str, int]]) -> tuple[int, str]:
    """The axis whose entries are independent outputs (each gets its own scale), and a role name."""
    op, index, attrs = use
    rank = len(shape)
    if op == "MatMul" and index == 1 and rank >= 2:
        return rank - 1, "MatMul weight"
    if op == "Gemm" and index == 1 and rank == 2:
        return (0 if attrs.get("transB", 0) else 1), "Gemm weight"
    if op in ("Conv", "QLinearConv") and index == 1:
        return 0, "Conv weight"
    if op == "ConvTranspose" and index == 1 and rank >= 2:
        return 1, "ConvTranspose weight"
    if op == "Gather" and index == 0:
        return 0, "embedding table"
    if op in ("LSTM", "GRU", "RNN") and index in (1, 2) and rank == 3:
        return 1, f"{op} {'W' if index == 1 else 'R'}"
    if op in ("Attention", "MultiHeadAttention") and rank == 2:
        return 1, f"{op} weight"
    return 0, f"{op} input {index}"


# --- encoding -------------------------------------------------------------------------------------


def _as_rows(values: np.ndarray, axis: int) -> np.ndarray:
    """[channels, everything else]: the layout scales are computed in."""
    import numpy as np

    return np.moveaxis(values, axis, 0).reshape(values.shape[axis], -1)


def quantize_rows(rows: np.ndarray, block: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric INT8 per row, or per block of ``block`` values within each row (rows padded)."""
    import numpy as np

    if block is None:
        grouped = rows[:, None, :]
    else:
        pad = (-rows.shape[1]) % block
        padded = np.pad(rows, ((0, 0), (0, pad)))
        grouped = padded.reshape(rows.shape[0], -1, block)
    peak = np.abs(grouped).max(axis=2, keepdims=True)
    scale = np.where(peak > 0, peak / INT8_MAX, 1.0)
    if block is not None:
        scale = scale.astype(np.float16).astype(np.float32)  # what the file will hold
        scale = np.where(scale > 0, scale, np.float32(1.0))  # an FP16 underflow must not divide by 0
    quantized = np.clip(np.rint(grouped / scale), -INT8_MAX, INT8_MAX).astype(np.int8)
    return quantized, scale


def quantize_tensor(values: np.ndarray) -> tuple[np.ndarray, np.float32]:
    """Symmetric INT8 with one scale for the whole tensor, in the tensor's own layout."""
    import numpy as np

    peak = float(np.abs(values).max()) if values.size else 0.0
    scale = np.float32(peak / INT8_MAX if peak > 0 else 1.0)
    return np.clip(np.rint(values / scale), -INT8_MAX, INT8_MAX).astype(np.int8), scale


def restored_values(values: np.ndarray, choice: Choice) -> np.ndarray:
    """What the graph will compute at load time for ``values`` stored as ``choice`` says."""
    import numpy as np

    rep = choice.representation
    if rep is Representation.FP32:
        return values
    if rep is Representation.FP16:
        return values.astype(np.float16).astype(np.float32)
    if rep is Representation.INT8_TENSOR:
        whole, tensor_scale = quantize_tensor(values)
        return whole.astype(np.float32) * tensor_scale
    axis = choice.weight.channel_axis
    rows = _as_rows(values, axis)
    quantized, scale = quantize_rows(rows, choice.block if rep is Representation.INT8_BLOCK else None)
    restored = (quantized.astype(np.float32) * scale).reshape(rows.shape[0], -1)[:, : rows.shape[1]]
    moved = np.moveaxis(values, axis, 0).shape
    return np.moveaxis(restored.reshape(moved), 0, axis)


def sqnr_db(values: np.ndarray, choice: Choice) -> float:
    """Signal-to-quantisation-noise ratio of one weight in a representation (dB; higher is closer)."""
    import numpy as np

    noise = float(np.sum((values.astype(np.float64) - restored_values(values, choice)) ** 2))
    signal = float(np.sum(values.astype(np.float64) ** 2))
    if noise == 0:
        return float("inf")
    return 10 * float(np.log10(signal / noise)) if signal > 0 else float("-inf")


# --- rewriting the graph --------------------------------------------------------------------------


def store_at_rest(model: onnx.ModelProto, choices: list[Choice]) -> dict[str, int]:
    """Replace each chosen initializer by its small form and the nodes that restore it; in place.

    The restored tensor keeps the initializer's name, so no consumer changes. Returns how many
    tensors went to each representation.
    """
    from onnx import numpy_helper

    by_name = {c.weight.name: c for c in choices if c.representation is not Representation.FP32}
    kept: list[onnx.TensorProto] = []
    new_nodes: list[onnx.NodeProto] = []
    counts: dict[str, int] = {}
    for init in model.graph.initializer:
        choice = by_name.get(init.name)
        if choice is None:
            kept.append(init)
            continue
        values = numpy_helper.to_array(init)
        initializers, nodes = _restore_chain(values, choice)
        kept.extend(initializers)
        new_nodes.extend(nodes)
        counts[choice.representation.value] = counts.get(choice.representation.value, 0) + 1
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    # Restore nodes first: the graph stays topologically sorted.
    nodes = list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(new_nodes + nodes)
    return counts


def _restore_chain(values: np.ndarray, choice: Choice) -> tuple[list[onnx.TensorProto], list[onnx.NodeProto]]:
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    name = choice.weight.name
    prefix = f"{name}__atrest"
    if choice.representation is Representation.FP16:
        stored = numpy_helper.from_array(values.astype(np.float16), f"{prefix}_fp16")
        return [stored], [helper.make_node("Cast", [stored.name], [name], to=TensorProto.FLOAT, name=f"{prefix}_cast")]
    if choice.representation is Representation.INT8_TENSOR:  # no layout change: Cast -> Mul by one scale
        quantized, tensor_scale = quantize_tensor(values)
        inits = [
            numpy_helper.from_array(quantized, f"{prefix}_q"),
            numpy_helper.from_array(np.array(tensor_scale, dtype=np.float32), f"{prefix}_scale"),
        ]
        nodes = [
            helper.make_node("Cast", [inits[0].name], [f"{prefix}_qf"], to=TensorProto.FLOAT, name=f"{prefix}_cast"),
            helper.make_node("Mul", [f"{prefix}_qf", inits[1].name], [name], name=f"{prefix}_mul"),
        ]
        return inits, nodes
    axis = choice.weight.channel_axis
    rows = _as_rows(values, axis)
    block = choice.block if choice.representation is Representation.INT8_BLOCK else None
    quantized, scale = quantize_rows(rows, block)
    channels, length = rows.shape
    # Stored without the block padding (a row shorter than a block would otherwise store zeros);
    # the restore pads, scales per block, and slices the padding off again: all constant-folded.
    unpadded = quantized.reshape(channels, -1)[:, :length]
    inits = [numpy_helper.from_array(np.ascontiguousarray(unpadded), f"{prefix}_q")]
    nodes = [helper.make_node("Cast", [inits[0].name], [f"{prefix}_qf"], to=TensorProto.FLOAT, name=f"{prefix}_cast")]
    current = f"{prefix}_qf"
    if block is None:
        inits.append(numpy_helper.from_array(scale.reshape(channels, 1).astype(np.float32), f"{prefix}_scale"))
        nodes.append(helper.make_node("Mul", [current, inits[1].name], [f"{prefix}_mul"], name=f"{prefix}_mul"))
        current = f"{prefix}_mul"
    else:
        current = _scale_blocks(inits, nodes, current, scale, block, length, prefix)
    moved = tuple(np.moveaxis(values, axis, 0).shape)
    if axis == 0:
        _reshape(inits, nodes, current, moved, name)
    else:
        current = _reshape(inits, nodes, current, moved, f"{prefix}_moved")
        perm = list(range(1, axis + 1)) + [0] + list(range(axis + 1, values.ndim))
        nodes.append(helper.make_node("Transpose", [current], [name], perm=perm, name=f"{prefix}_transpose"))
    return inits, nodes


def _scale_blocks(
    inits: list, nodes: list, source: str, scale: np.ndarray, block: int, length: int, prefix: str
) -> str:
    """[C, R] INT8-as-float -> padded to whole blocks, times FP16 block scales -> [C, R] float."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    channels, blocks = scale.shape[0], scale.shape[1]
    padded = blocks * block
    current = source
    if padded != length:
        inits.append(numpy_helper.from_array(np.array([0, 0, 0, padded - length], dtype=np.int64), f"{prefix}_pads"))
        nodes.append(helper.make_node("Pad", [current, f"{prefix}_pads"], [f"{prefix}_padded"], name=f"{prefix}_pad"))
        current = f"{prefix}_padded"
    current = _reshape(inits, nodes, current, (channels, blocks, block), f"{prefix}_blocks")
    inits.append(numpy_helper.from_array(scale.astype(np.float16), f"{prefix}_scale16"))
    nodes += [
        helper.make_node("Cast", [f"{prefix}_scale16"], [f"{prefix}_scale"], to=TensorProto.FLOAT, name=f"{prefix}_sc"),
        helper.make_node("Mul", [current, f"{prefix}_scale"], [f"{prefix}_mul"], name=f"{prefix}_mul"),
    ]
    current = _reshape(inits, nodes, f"{prefix}_mul", (channels, padded), f"{prefix}_flat")
    if padded == length:
        return current
    for part, data in (("starts", [0]), ("ends", [length]), ("axes", [1])):
        inits.append(numpy_helper.from_array(np.array(data, dtype=np.int64), f"{prefix}_{part}"))
    nodes.append(
        helper.make_node(
            "Slice",
            [current, f"{prefix}_starts", f"{prefix}_ends", f"{prefix}_axes"],
            [f"{prefix}_sliced"],
            name=f"{prefix}_slice",
        )
    )
    return f"{prefix}_sliced"


def _reshape(inits: list, nodes: list, source: str, shape: tuple[int, ...], output: str) -> str:
    import numpy as np
    from onnx import helper, numpy_helper

    shape_name = f"{output}__shape"
    inits.append(numpy_helper.from_array(np.array(shape, dtype=np.int64), shape_name))
    nodes.append(helper.make_node("Reshape", [source, shape_name], [output], name=f"{output}__reshape"))
    return output
