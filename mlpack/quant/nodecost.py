"""What each convolution group's INT8 compute costs on its own: its input activation rounded to its
calibrated INT8 range and its weight to INT8 per channel, every other tensor exact.

One session serves every group, as in ``layers``: before each group's Conv the model computes
``x + on * (DequantizeLinear(QuantizeLinear(x)) - x)``, with ``on`` an input fed 0 (the default)
or 1, and the Conv's weight is an overridable input. A group's cost is one run with its switch on
and its weight replaced, judged against the exact run by the fidelity module: decisions lost and
the output cosine. What the group's output range adds is the next group's input: it is counted
there.

The glue ops that requantise (an Add, a Concat, a pool: their QDQ output gets its own range) are
costed the same way, by node name: a switch fake-quantises the node's output and those of its
inputs that no group writes (a group's output is the group's own cost).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpack.core.fidelity import Tolerance, compare_outputs
from mlpack.core.onnxio import create_session, load_model, run_session, save_model
from mlpack.quant.atrest import Choice, Representation, Weight, restored_values
from mlpack.quant.convgroups import ConvGroup, requantising
from mlpack.quant.int8format import Int8Format
from mlpack.quant.settings import IntType

if TYPE_CHECKING:
    import onnx


@dataclass(frozen=True)
class NodeCost:
    node: str
    decisions_lost: int
    cosine: float


def node_costs(
    model: Path,
    groups: list[ConvGroup],
    ranges: Any,
    fmt: Int8Format,
    feeds: dict[str, Any],
    tolerance: Tolerance,
    workdir: Path,
    *,
    glue: set[str] | None = None,
) -> dict[str, NodeCost]:
    """Each group's cost alone on ``feeds`` (a few samples), by Conv node, and that of each
    requantising glue node whose output was calibrated, by its name.

    Args:
        model: the FP32 model the groups belong to (nodes named).
        groups: the groups to measure.
        ranges: onnxruntime's TensorsData for the model (each group's input range).
        fmt: the INT8 types the builds use.
        feeds: a few samples of the model's inputs.
        tolerance: the run's check (its output rules decide what a decision is).
        workdir: a folder for the switchable model.
        glue: the glue nodes that may be costed (those INT8 groups can feed); None: every one.
    """
    from onnx import numpy_helper

    loaded = load_model(model, check=False)
    initializers = {i.name: i for i in loaded.graph.initializer}
    measured = [g for g in groups if g.input in ranges.data and g.weight in initializers and g.node]
    costed = [n for n in _costed_glue(loaded, groups, ranges) if glue is None or n in glue]
    if not measured and not costed:
        return {}
    values = {g.weight: numpy_helper.to_array(initializers[g.weight]) for g in measured}
    _add_switches(loaded, measured, ranges, fmt)
    _add_glue_switches(loaded, costed, {g.output for g in groups}, ranges, fmt)
    session = create_session(save_model(loaded, workdir / "node-costs.onnx"))
    del loaded, initializers
    names = [o.name for o in session.get_outputs()]
    reference = run_session(session, feeds)
    plain = Tolerance(atol=None, outputs=tolerance.outputs, confidence=tolerance.confidence)

    def cost(node: str, override: dict[str, Any]) -> NodeCost:
        judged = compare_outputs(
            reference, run_session(session, {**feeds, **override}), names=names, tolerance=plain, label="node"
        )
        lost = sum(o.decisions.lost for o in judged.outputs if o.decisions is not None)
        return NodeCost(node, lost, judged.min_cosine)

    costs = {}
    for group in measured:
        weight = values[group.weight]
        choice = Choice(Weight(group.weight, weight.shape, 0, ("Conv:1",), "Conv weight"), Representation.INT8_CHANNEL)
        override = {_switch(group): _one(), group.weight: restored_values(weight, choice).astype(weight.dtype)}
        costs[group.node] = cost(group.node, override)
    for node in costed:
        costs[node] = cost(node, {_switch(node): _one()})
    return costs


def _switch(group: ConvGroup | str) -> str:
    return f"{group.node if isinstance(group, ConvGroup) else group}__int8_on"


def _one() -> Any:
    import numpy as np

    return np.array(1.0, dtype=np.float32)


def _add_switches(model: onnx.ModelProto, groups: list[ConvGroup], ranges: Any, fmt: Int8Format) -> None:
    """Before each group's Conv and after its last node, a switchable fake quantisation on the
    tensor's calibrated range (what static QDQ puts there); weights overridable; in place."""
    from onnx import TensorProto, helper

    inputs = {i.name for i in model.graph.input}
    initializers = {i.name: i for i in model.graph.initializer}
    by_name = {n.name: n for n in model.graph.node}
    graph_outputs = {o.name for o in model.graph.output}
    before: list[list[onnx.NodeProto]] = []
    after: list[list[onnx.NodeProto]] = []
    for group in groups:
        on = _switch(group)
        model.graph.initializer.append(helper.make_tensor(on, TensorProto.FLOAT, [], [0.0]))
        model.graph.input.append(helper.make_tensor_value_info(on, TensorProto.FLOAT, []))
        if group.weight not in inputs:
            dims = list(initializers[group.weight].dims)
            model.graph.input.append(helper.make_tensor_value_info(group.weight, TensorProto.FLOAT, dims))
        chain, faked = _fake_quant(model, group.input, ranges, fmt, on, f"{group.node}__int8_in")
        by_name[group.node].input[0] = faked
        before.append(chain)
    for group in groups:
        if group.output in graph_outputs or group.output not in ranges.data:
            continue
        chain, faked = _fake_quant(model, group.output, ranges, fmt, _switch(group), f"{group.node}__int8_out")
        for node in [*model.graph.node, *(n for c in before + after for n in c)]:
            node.input[:] = [faked if name == group.output else name for name in node.input]
        after.append(chain)
    _insert_sorted(model, after + before)


def _costed_glue(model: onnx.ModelProto, groups: list[ConvGroup], ranges: Any) -> list[str]:
    """The requantising glue nodes whose output has a calibrated range and is not a graph output
    (as for groups, the output a model returns is not costed), outside every group."""
    glue = requantising(model)
    grouped = {name for g in groups for name in g.nodes}
    outputs = {o.name for o in model.graph.output}
    return [
        n.name
        for n in model.graph.node
        if n.name in glue and n.name not in grouped and n.output[0] in ranges.data and n.output[0] not in outputs
    ]


def _add_glue_switches(
    model: onnx.ModelProto, glue: list[str], written: set[str], ranges: Any, fmt: Int8Format
) -> None:
    """A switch per glue node: its output fake-quantised for every reader, and the calibrated
    inputs no group writes (``written``) fake-quantised for it alone; in place, sorted after."""
    from onnx import TensorProto, helper

    initializers = {i.name for i in model.graph.initializer}
    by_name = {n.name: n for n in model.graph.node}
    nodes = [by_name[name] for name in glue]
    chains: list[list[onnx.NodeProto]] = []
    for node in nodes:
        on = _switch(node.name)
        model.graph.initializer.append(helper.make_tensor(on, TensorProto.FLOAT, [], [0.0]))
        model.graph.input.append(helper.make_tensor_value_info(on, TensorProto.FLOAT, []))
        for index, name in enumerate(node.input):
            if name in ranges.data and name not in initializers and name not in written:
                chain, faked = _fake_quant(model, name, ranges, fmt, on, f"{node.name}__int8_in{index}")
                node.input[index] = faked
                chains.append(chain)
    for node in nodes:
        output = node.output[0]
        chain, faked = _fake_quant(model, output, ranges, fmt, _switch(node.name), f"{node.name}__int8_out")
        for reader in [*model.graph.node, *(n for c in chains for n in c)]:
            reader.input[:] = [faked if name == output else name for name in reader.input]
        chains.append(chain)
    _insert_sorted(model, chains)


def _fake_quant(
    model: onnx.ModelProto, tensor: str, ranges: Any, fmt: Int8Format, on: str, prefix: str
) -> tuple[list[onnx.NodeProto], str]:
    """``tensor + on * (DequantizeLinear(QuantizeLinear(tensor)) - tensor)``: its nodes, and its output."""
    import numpy as np
    from onnx import helper, numpy_helper
    from onnxruntime.quantization.quant_utils import QuantType, compute_scale_zp, get_qmin_qmax_for_qType

    qtype = QuantType.QUInt8 if fmt.activation is IntType.U8 else QuantType.QInt8
    qmin, qmax = get_qmin_qmax_for_qType(qtype.tensor_type)
    low, high = (float(np.asarray(v).ravel()[0]) for v in ranges.data[tensor].range_value)
    zero, scale = compute_scale_zp(np.float32(low), np.float32(high), qmin, qmax)
    dtype = np.uint8 if fmt.activation is IntType.U8 else np.int8
    scale_name, zero_name = f"{prefix}_scale", f"{prefix}_zero"
    model.graph.initializer.extend(
        [
            numpy_helper.from_array(np.asarray(scale, dtype=np.float32).reshape(()), scale_name),
            numpy_helper.from_array(np.asarray(zero, dtype=dtype).reshape(()), zero_name),
        ]
    )
    chain = [
        helper.make_node("QuantizeLinear", [tensor, scale_name, zero_name], [f"{prefix}_q"]),
        helper.make_node("DequantizeLinear", [f"{prefix}_q", scale_name, zero_name], [f"{prefix}_dq"]),
        helper.make_node("Sub", [f"{prefix}_dq", tensor], [f"{prefix}_noise"]),
        helper.make_node("Mul", [f"{prefix}_noise", on], [f"{prefix}_on"]),
        helper.make_node("Add", [tensor, f"{prefix}_on"], [f"{prefix}_x"]),
    ]
    return chain, f"{prefix}_x"


def _insert_sorted(model: onnx.ModelProto, chains: list[list[onnx.NodeProto]]) -> None:
    """The graph's nodes and the chains, topologically sorted (graph order kept where free)."""
    import heapq

    nodes = [*model.graph.node, *(n for chain in chains for n in chain)]
    producer = {out: index for index, node in enumerate(nodes) for out in node.output}
    waiting = [{producer[name] for name in node.input if name in producer} for node in nodes]
    users: dict[int, list[int]] = {}
    for index, needs in enumerate(waiting):
        for need in needs:
            users.setdefault(need, []).append(index)
    ready = [index for index, needs in enumerate(waiting) if not needs]
    heapq.heapify(ready)
    ordered = []
    while ready:
        index = heapq.heappop(ready)
        ordered.append(nodes[index])
        for user in users.get(index, []):
            waiting[user].discard(index)
            if not waiting[user]:
                heapq.heappush(ready, user)
    del model.graph.node[:]
    model.graph.node.extend(ordered)
