"""The convolutions of a graph as the groups onnxruntime computes in INT8, and what stays float.

onnxruntime fuses a QDQ convolution (DequantizeLinear -> Conv -> QuantizeLinear) into one
QLinearConv, and a Relu or Clip right after it disappears into the output's range: a group is a
Conv and that activation. Between INT8 groups, the ops onnxruntime also runs on INT8 tensors
(adds, pools, concatenations, resizes, sigmoids and products) keep the tensors quantised; they
are quantised only downstream of an INT8 group (see ``float_nodes``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnx

# Absorbed into a QDQ convolution's output range (QDQ removes them where the input is quantised).
FUSED_ACTIVATIONS = ("Relu", "Clip")
# Ops onnxruntime runs on INT8 tensors between convolutions (QLinearAdd, QLinearConcat, ...).
GLUE: tuple[str, ...] = (*FUSED_ACTIVATIONS, "LeakyRelu", "Sigmoid", "Mul", "Add", "MaxPool", "AveragePool")
GLUE += ("GlobalAveragePool", "Concat", "Resize")
STATIC_OP_TYPES = ("Conv", *GLUE)  # what auto calibrates and quantises statically
# Glue whose QDQ output gets its own calibrated range (MaxPool, Relu, Clip and Resize keep their input's).
REQUANTISING = ("Add", "Mul", "Concat", "Sigmoid", "AveragePool", "GlobalAveragePool", "LeakyRelu")


@dataclass(frozen=True)
class ConvGroup:
    """One convolution and the activation fused into it."""

    node: str  # the Conv node's name
    nodes: tuple[str, ...]  # the Conv, then the fused activation if any
    weight: str  # the Conv's weight initializer
    input: str  # the activation it reads
    output: str  # the group's last output
    spec: tuple[object, ...]  # what decides its speed besides its input's shape: attributes, weight shape


def name_nodes(model: onnx.ModelProto) -> bool:
    """Give every unnamed node a unique name (exclusions are by name); in place. Whether any was named."""
    taken = {n.name for n in model.graph.node if n.name}
    changed = False
    for index, node in enumerate(model.graph.node):
        if not node.name:
            name = f"mlpack_{node.op_type}_{index}"
            while name in taken:
                name += "_"
            node.name, changed = name, True
            taken.add(name)
    return changed


def conv_groups(model: onnx.ModelProto) -> list[ConvGroup]:
    """The Conv nodes whose weight is an initializer, each with the Relu/Clip that only it feeds."""
    from onnx import helper

    graph = model.graph
    initializers = {i.name: tuple(int(d) for d in i.dims) for i in graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}
    op_types = {n.name: n.op_type for n in graph.node}
    groups = []
    for node in graph.node:
        if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in initializers:
            continue
        nodes, last = [node.name], node.output[0]
        after = consumers.get(last, [])
        if len(after) == 1 and after[0].op_type in FUSED_ACTIVATIONS and last not in outputs:
            if all(i in initializers or i == last or not i for i in after[0].input):
                nodes.append(after[0].name)
                last = after[0].output[0]
        attrs = tuple(sorted((a.name, str(helper.get_attribute_value(a))) for a in node.attribute))
        spec = (tuple(op_types[n] for n in nodes), attrs, initializers[node.input[1]], len(node.input))
        groups.append(ConvGroup(node.name, tuple(nodes), node.input[1], node.input[0], last, spec))
    return groups


def requantising(model: onnx.ModelProto) -> dict[str, str]:
    """The named glue nodes that write their output on its own range, by name: their op types, in graph order."""
    return {n.name: n.op_type for n in model.graph.node if n.name and n.op_type in REQUANTISING}


def float_nodes(
    model: onnx.ModelProto, groups: list[ConvGroup], chosen: set[str], *, forced_float: set[str] | None = None
) -> list[str]:
    """The nodes static quantisation must leave in float: the groups not chosen, every glue op
    that no chosen group feeds (through other glue ops), and the ``forced_float`` glue ops (a
    fidelity fallback's; what they write is float for the glue after them).

    Glue is quantised downstream of INT8 groups only: there onnxruntime runs it on the INT8 (NHWC)
    tensors the groups write. A glue op fed only by float would run on INT8 in the source layout,
    where onnxruntime's kernels can be far slower than its float ones (a uint8 MaxPool in NCHW
    measured 20x its float time here) and would save no Q/DQ pair.
    """
    forced = forced_float or set()
    in_group = {name: g.node for g in groups for name in g.nodes}
    keep_float = [n.name for n in model.graph.node if n.name in in_group and in_group[n.name] not in chosen]
    int8_tensors: set[str] = set()
    for node in model.graph.node:  # graph order is topological
        group = in_group.get(node.name)
        glue = group is None and node.op_type in GLUE
        if group in chosen or (glue and node.name not in forced and int8_tensors.intersection(node.input)):
            int8_tensors.update(node.output)
        elif glue:
            keep_float.append(node.name)
    return keep_float
