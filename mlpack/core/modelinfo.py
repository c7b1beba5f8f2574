"""What is inside an ONNX file: signature, opsets, size, parameters, operators."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlpack.core.batching import signature_batch_axes
from mlpack.core.onnxio import external_data_files, load_model, model_size_bytes
from mlpack.core.signature import Signature, signature_of


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    size_bytes: int  # external data included
    external_data: tuple[str, ...]
    opsets: dict[str, int]
    ir_version: int
    producer: str
    signature: Signature
    parameter_count: int
    initializer_bytes: int
    node_count: int
    op_histogram: dict[str, int]  # "domain::Op" for non-default domains, most frequent first
    batch_axes: dict[str, int | None] = field(default_factory=dict)  # per input; None: fed whole with every batch

    def batching_text(self) -> str:
        """Which inputs carry the batch, on which axis, and which are fed whole."""
        batched = [f"{name} axis {axis}" for name, axis in self.batch_axes.items() if axis is not None]
        whole = [name for name, axis in self.batch_axes.items() if axis is None]
        return "batch: " + (", ".join(batched) or "none") + (f"; fed whole: {', '.join(whole)}" if whole else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "size_bytes": self.size_bytes,
            "external_data": list(self.external_data),
            "opsets": self.opsets,
            "ir_version": self.ir_version,
            "producer": self.producer,
            "signature": self.signature.to_dict(),
            "parameter_count": self.parameter_count,
            "initializer_bytes": self.initializer_bytes,
            "node_count": self.node_count,
            "op_histogram": self.op_histogram,
            "batch_axes": self.batch_axes,
        }


def inspect_model(path: Path) -> ModelInfo:
    """What is inside the ONNX file at ``path``, including where each input carries the batch."""
    path = Path(path)
    model = load_model(path)
    params, init_bytes = _parameters(model.graph)
    signature = signature_of(model)
    ops: Counter[str] = Counter()
    for node in _all_nodes(model.graph):
        ops[node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"] += 1
    return ModelInfo(
        path=path,
        size_bytes=model_size_bytes(path),
        external_data=tuple(str(p.name) for p in external_data_files(path)),
        opsets={o.domain or "ai.onnx": o.version for o in model.opset_import},
        ir_version=model.ir_version,
        producer=f"{model.producer_name} {model.producer_version}".strip(),
        signature=signature,
        parameter_count=params,
        initializer_bytes=init_bytes,
        node_count=sum(ops.values()),
        op_histogram=dict(ops.most_common()),
        batch_axes=signature_batch_axes(signature.inputs).axes,
    )


def _parameters(graph: Any) -> tuple[int, int]:
    """Values and bytes of every constant tensor: initializers and Constant nodes (Paddle's exports
    hold every weight in one), in the graph and its subgraphs."""
    from onnx import AttributeProto, helper

    tensors = list(graph.initializer)
    params = 0
    for node in _all_nodes(graph):
        if node.op_type != "Constant":
            continue
        for attr in node.attribute:
            if attr.type == AttributeProto.TENSOR:
                tensors.append(attr.t)
            elif attr.type in (AttributeProto.FLOATS, AttributeProto.INTS):
                params += len(attr.floats) + len(attr.ints)
    size = 4 * params  # value_floats are float32, value_ints int64 (counted at 4 bytes: close enough)
    for sub in _subgraphs(graph):
        tensors.extend(sub.initializer)
    for tensor in tensors:
        count = 1
        for dim in tensor.dims:
            count *= int(dim)
        params += count
        try:
            size += count * helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
        except (KeyError, ValueError, TypeError):  # types numpy has no dtype for (strings, 4-bit)
            size += count
    return params, size


def _subgraphs(graph: Any) -> list[Any]:
    """Every subgraph below ``graph``, at any depth."""
    from onnx import AttributeProto

    found = []
    for node in graph.node:
        for attr in node.attribute:
            inner = [attr.g] if attr.type == AttributeProto.GRAPH else list(attr.graphs)
            for sub in inner:
                found.append(sub)
                found.extend(_subgraphs(sub))
    return found


def _all_nodes(graph: Any) -> list[Any]:
    """Nodes of the graph and of every subgraph (If/Loop/Scan bodies)."""
    from onnx import AttributeProto

    nodes = []
    for node in graph.node:
        nodes.append(node)
        for attr in node.attribute:
            if attr.type == AttributeProto.GRAPH:
                nodes.extend(_all_nodes(attr.g))
            elif attr.type == AttributeProto.GRAPHS:
                for sub in attr.graphs:
                    nodes.extend(_all_nodes(sub))
    return nodes
