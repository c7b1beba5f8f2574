"""Rewrite Gemm as MatMul + Add so that onnxruntime's dynamic quantiser can reach Linear layers.

torch exports ``nn.Linear`` on 2-D inputs as Gemm, and onnxruntime's dynamic INT8 quantiser has
no Gemm kernel (its integer-op registry covers MatMul, Conv, Attention, LSTM), so without this
rewrite the weights that dominate most MLP and CNN heads stay float.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnx


def gemm_to_matmul_add(model: onnx.ModelProto) -> int:
    """Rewrite in place every plain Gemm (alpha=beta=1, no transA, constant 2-D B); return how many."""
    from onnx import helper, numpy_helper

    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    new_nodes = []
    rewritten = 0
    for node in graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        weight = initializers.get(node.input[1]) if node.op_type == "Gemm" and len(node.input) > 1 else None
        plain = (
            node.op_type == "Gemm"
            and node.domain in ("", "ai.onnx")
            and weight is not None
            and len(weight.dims) == 2
            and attrs.get("alpha", 1.0) == 1.0
            and attrs.get("beta", 1.0) == 1.0
            and attrs.get("transA", 0) == 0
        )
        if not plain:
            new_nodes.append(node)
            continue
        assert weight is not None
        weight_name = weight.name
        if attrs.get("transB", 0):
            weight_name = f"{weight.name}__transposed_for_matmul"
            if weight_name not in initializers:
                transposed = numpy_helper.from_array(numpy_helper.to_array(weight).T.copy(), weight_name)
                graph.initializer.append(transposed)
                initializers[weight_name] = transposed
        has_bias = len(node.input) > 2 and node.input[2] != ""
        matmul_out = f"{node.output[0]}__matmul" if has_bias else node.output[0]
        new_nodes.append(
            helper.make_node(
                "MatMul", [node.input[0], weight_name], [matmul_out], name=f"{node.name or node.output[0]}_MatMul"
            )
        )
        if has_bias:
            new_nodes.append(
                helper.make_node(
                    "Add", [matmul_out, node.input[2]], [node.output[0]], name=f"{node.name or node.output[0]}_Add"
                )
            )
        rewritten += 1
    if rewritten:
        del graph.node[:]
        graph.node.extend(new_nodes)
        _drop_unused_initializers(model)
    return rewritten


def _drop_unused_initializers(model: onnx.ModelProto) -> None:
    used = {name for node in model.graph.node for name in node.input}
    used |= {o.name for o in model.graph.output}
    keep = [init for init in model.graph.initializer if init.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)
