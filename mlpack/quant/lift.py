"""Weights wherever exporters put them, made initializers before any mode runs (an exact rewrite).

Paddle's exports (and some tf2onnx ones) hold every weight in a ``Constant`` node; tf2onnx holds
convolution kernels in TF's HWIO layout behind a Transpose; subgraphs (If/Loop bodies) hold their
own constants. Every quantiser (ours, onnxruntime's) reads weights from the main graph's
initializers, so this pass moves them there first: Constant nodes' floats (``value``,
``value_floats``) become initializers, float initializers of subgraphs move to the main graph (a
subgraph reads outer names), and Identity/Cast/Reshape/Transpose applied to a weight that nothing
else reads are computed once (the result replaces the weight under the chain's output name).
A Cast from FP16 or INT8 is never folded: that is a weight already stored small.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlpack.core.onnxio import load_model, save_model
from mlpack.quant.passes import ModelPass, PassContext

if TYPE_CHECKING:
    import numpy as np
    import onnx

_FOLDABLE = ("Identity", "Cast", "Reshape", "Transpose")


def open_dimensions(model: onnx.ModelProto) -> int:
    """Dimensions written as -1 or 0 (Paddle's, keras2onnx's way of saying "any") made unnamed dims, in place.

    onnxruntime accepts them, but shape inference takes them literally: onnxsim folded a
    ``Reshape(x, [0, -1])`` behind a -1 input into a wrong constant shape. Returns how many changed.
    """
    changed = 0
    for value in [*model.graph.input, *model.graph.output, *model.graph.value_info]:
        if not value.type.HasField("tensor_type"):
            continue
        for dim in value.type.tensor_type.shape.dim:
            if dim.HasField("dim_value") and dim.dim_value <= 0:
                dim.ClearField("dim_value")
                changed += 1
    return changed


def lift_weights(model: onnx.ModelProto) -> tuple[int, int]:
    """Move constants to main-graph initializers and fold weight chains, in place.

    Returns (tensors lifted, chain nodes folded).
    """
    lifted = _lift_graph(model.graph, model.graph, is_main=True)
    folded = 0
    while _fold_one(model.graph):
        folded += 1
    return lifted, folded


def _subgraphs(graph: onnx.GraphProto) -> list[onnx.GraphProto]:
    from onnx import AttributeProto

    found = []
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == AttributeProto.GRAPH:
                found.append(attr.g)
            elif attr.type == AttributeProto.GRAPHS:
                found.extend(attr.graphs)
    return found


def _lift_graph(graph: onnx.GraphProto, main: onnx.GraphProto, *, is_main: bool) -> int:
    outputs = {o.name for o in graph.output}
    lifted = 0
    kept = []
    for node in graph.node:
        tensor = _constant_tensor(node) if node.op_type == "Constant" and node.domain in ("", "ai.onnx") else None
        if tensor is None or node.output[0] in outputs:
            kept.append(node)
            continue
        main.initializer.append(tensor)
        lifted += 1
    if lifted:
        del graph.node[:]
        graph.node.extend(kept)
    if not is_main:
        moving = [i for i in graph.initializer if i.data_type in _FLOATS and i.name not in outputs]
        stay = [i for i in graph.initializer if i.data_type not in _FLOATS or i.name in outputs]
        if moving:
            del graph.initializer[:]
            graph.initializer.extend(stay)
            main.initializer.extend(moving)
            lifted += len(moving)
    for sub in _subgraphs(graph):
        lifted += _lift_graph(sub, main, is_main=False)
    return lifted


_FLOATS = (1, 10, 11, 16)  # FLOAT, FLOAT16, DOUBLE, BFLOAT16


def _constant_tensor(node: onnx.NodeProto) -> onnx.TensorProto | None:
    """A Constant node's value as a named tensor (``value_float(s)``/``value_int(s)`` too: the FP16
    converter leaves ``value_float`` float32 beside FP16 neighbours, which onnxruntime refuses;
    a Reshape's shape must be an initializer for the chain it shapes to fold)."""
    import numpy as np
    from onnx import AttributeProto, numpy_helper

    for attr in node.attribute:
        if attr.name == "value" and attr.type == AttributeProto.TENSOR:
            if attr.t.data_location == 1 or attr.t.data_type == 8:  # external data, strings
                return None
            tensor = type(attr.t)()
            tensor.CopyFrom(attr.t)
            tensor.name = node.output[0]
            return tensor
        scalar_or_list = {
            "value_floats": (list(attr.floats), np.float32),
            "value_float": (attr.f, np.float32),
            "value_ints": (list(attr.ints), np.int64),
            "value_int": (attr.i, np.int64),
        }
        if attr.name in scalar_or_list:
            values, dtype = scalar_or_list[attr.name]
            return numpy_helper.from_array(np.array(values, dtype=dtype), node.output[0])
    return None


def _fold_one(graph: onnx.GraphProto) -> bool:
    """Fold one Identity/Cast/Reshape/Transpose whose data input is a float weight read by it alone."""
    from onnx import numpy_helper

    inits = {i.name: i for i in graph.initializer}
    readers: dict[str, int] = {}
    for node in _nodes_everywhere(graph):
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    outputs = {o.name for o in graph.output} | {i.name for i in graph.input}
    for index, node in enumerate(graph.node):
        if node.op_type not in _FOLDABLE or node.domain not in ("", "ai.onnx") or not node.input:
            continue
        source = inits.get(node.input[0])
        if source is None or source.data_type not in (1, 11) or readers.get(source.name) != 1:
            continue
        if source.name in outputs or not all(n in inits for n in node.input[1:] if n):
            continue
        values = _apply(node, numpy_helper.to_array(source), inits)
        if values is None:
            continue
        graph.initializer.remove(source)
        graph.initializer.append(numpy_helper.from_array(values, node.output[0]))
        del graph.node[index]
        return True
    return False


def _apply(node: onnx.NodeProto, values: np.ndarray, inits: dict[str, onnx.TensorProto]) -> np.ndarray | None:
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if node.op_type == "Identity":
        return values
    if node.op_type == "Cast":
        return values.astype(np.float32) if attrs.get("to") == TensorProto.FLOAT else None
    if node.op_type == "Transpose":
        perm = attrs.get("perm")
        return np.ascontiguousarray(np.transpose(values, perm))
    if len(node.input) < 2:
        return None
    shape = [int(d) for d in numpy_helper.to_array(inits[node.input[1]]).ravel()]
    if not attrs.get("allowzero", 0):
        shape = [values.shape[i] if d == 0 and i < values.ndim else d for i, d in enumerate(shape)]
    try:
        return values.reshape(shape)
    except ValueError:
        return None


def _nodes_everywhere(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    nodes = list(graph.node)
    for sub in _subgraphs(graph):
        nodes.extend(_nodes_everywhere(sub))
    return nodes


class Normalise(ModelPass):
    """Exporters' ways of writing a graph made plain: open dimensions unnamed, every float weight
    an initializer of the main graph (so that every mode finds it). An exact rewrite."""

    name = "exporter patterns normalised"

    def call(self, model: Path, output: Path, context: PassContext) -> bool:

        loaded = load_model(model, check=False)
        dims = open_dimensions(loaded)
        lifted, folded = lift_weights(loaded)
        if not (dims or lifted or folded):
            return False
        save_model(loaded, output)
        parts = [f"{dims} dimension{'s' if dims != 1 else ''} written as -1/0 read as open"] if dims else []
        parts += [f"{lifted} constant{'s' if lifted != 1 else ''} made initializers"] if lifted else []
        parts += [f"{folded} Identity/Cast/Reshape/Transpose on weights folded"] if folded else []
        context.log.steps.append("normalised: " + ", ".join(parts))
        return True
