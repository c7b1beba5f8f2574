"""Activations a quantised model computes in INT8, and a switch to quantise each one alone in FP32.

Where a node computes in INT8, its input activation is quantised too: per call from its own range
(dynamic INT8's DynamicQuantizeLinear, and the kernels that fuse it) or with ranges calibrated on
data (static INT8's QuantizeLinear). The per-layer report measures that share as it measures a
weight's: the FP32 model with only that activation quantised and restored. Each one gets a
Quantize/Dequantize pair and a boolean graph input that selects it (``Where``), so one session
measures every activation, as overridable initializers let one session measure every weight.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlpack.core.onnxio import load_model

# Kernels that quantise their first input at run time, inside the node.
_FUSED_DYNAMIC = ("DynamicQuantizeMatMul", "DynamicQuantizeLSTM")
_FLAG = "mlpack_quantise_activation_"


@dataclass(frozen=True)
class QuantisedActivation:
    """One activation the quantised model computes on in INT8."""

    tensor: str
    label: str  # "int8-activation (per call)" or "int8-activation (calibrated)"
    scale: Any = None  # calibrated: the stored scale and zero point (TensorProtos); per call: None
    zero_point: Any = None


def quantised_activations(source: Any, shrunk: Path) -> list[QuantisedActivation]:
    """The activations of ``source`` (a loaded ModelProto) that ``shrunk`` quantises, by name."""
    model = load_model(shrunk, check=False)
    inits = {i.name: i for i in model.graph.initializer}
    known = {i.name for i in source.graph.input} | {o for n in source.graph.node for o in n.output}
    known -= {i.name for i in source.graph.initializer}
    found: dict[str, QuantisedActivation] = {}
    for node in model.graph.node:
        name = node.input[0] if node.input else ""
        if name not in known or name in found:
            continue
        if node.op_type == "DynamicQuantizeLinear" or node.op_type in _FUSED_DYNAMIC:
            found[name] = QuantisedActivation(name, "int8-activation (per call)")
        elif node.op_type == "QuantizeLinear" and len(node.input) > 2 and {node.input[1], node.input[2]} <= set(inits):
            found[name] = QuantisedActivation(
                name, "int8-activation (calibrated)", inits[node.input[1]], inits[node.input[2]]
            )
    return list(found.values())


def add_switches(model: Any, activations: list[QuantisedActivation]) -> dict[str, str]:
    """Give ``model`` (a loaded ModelProto, changed in place) a switch per activation: a boolean
    input that, when true, feeds its readers the activation quantised and restored. Returns the
    switch input's name per activation."""
    from onnx import TensorProto, helper

    graph = model.graph
    switches = {a.tensor: f"{_FLAG}{i}" for i, a in enumerate(activations)}
    selected = {a.tensor: f"{_FLAG}{i}_value" for i, a in enumerate(activations)}
    original = list(graph.node)
    for node in original:  # readers take the selected value (the switch's nodes are added below)
        for index, name in enumerate(node.input):
            if name in selected:
                node.input[index] = selected[name]
    added = {a.tensor: _switch_nodes(a, switches[a.tensor], selected[a.tensor], graph) for a in activations}
    ordered = [n for a in activations if a.tensor in {i.name for i in graph.input} for n in added[a.tensor]]
    for node in original:
        ordered.append(node)
        ordered += [n for out in node.output if out in added for n in added[out]]
    del graph.node[:]
    graph.node.extend(ordered)
    graph.input.extend(helper.make_tensor_value_info(s, TensorProto.BOOL, []) for s in switches.values())
    return switches


def _switch_nodes(activation: QuantisedActivation, switch: str, selected: str, graph: Any) -> list[Any]:
    from onnx import helper

    x, p = activation.tensor, switch
    if activation.scale is None:
        quantise = [helper.make_node("DynamicQuantizeLinear", [x], [f"{p}_q", f"{p}_s", f"{p}_z"])]
    else:
        for stored, name in ((activation.scale, f"{p}_s"), (activation.zero_point, f"{p}_z")):
            copy = graph.initializer.add()
            copy.CopyFrom(stored)
            copy.name = name
        quantise = [helper.make_node("QuantizeLinear", [x, f"{p}_s", f"{p}_z"], [f"{p}_q"])]
    restore = helper.make_node("DequantizeLinear", [f"{p}_q", f"{p}_s", f"{p}_z"], [f"{p}_r"])
    return [*quantise, restore, helper.make_node("Where", [switch, f"{p}_r", x], [selected])]
