"""Where a model's bytes go: per tensor, per operator type, by representation, and the INT8-at-rest limit.

Every constant tensor (initializers, Constant nodes, subgraphs) is counted at its stored size and
classed by how it is used: ``float``; ``int8 at rest`` (8- or 4-bit integers that only restore
steps read: Cast, DequantizeLinear and nodes whose inputs are all constants, folded when a
session is created); ``int8 compute`` (integers an integer kernel reads: QLinearConv,
MatMulInteger, MatMulNBits...); ``other`` (shapes, indices). A tensor counts for the operator
that reads it after those restore steps. Metadata is the model's and nodes' ``metadata_props``
and doc strings; what remains of the file is the graph itself.

The INT8-at-rest limit is the file's size less 3/4 of its float32 tensors of >= 1024 values: the
size if every such tensor were stored in INT8 (the benchmark of exporter patterns and its
conformance test measure ``optimize --quantize auto`` against it).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpack.core.onnxio import external_data_files, load_model, model_size_bytes

if TYPE_CHECKING:
    import onnx

MIN_ELEMENTS = 1024  # float tensors smaller than this stay float at rest (as quant.atrest decides)
_NARROW_INTS = {"INT8", "UINT8", "INT4", "UINT4"}
_FLOATS = {"FLOAT32", "FLOAT16", "BFLOAT16", "DOUBLE"}
_FOLLOW_DEPTH = 6  # restore chains are Cast -> Mul -> Reshape/Slice/Transpose at most


@dataclass(frozen=True)
class TensorSize:
    name: str
    dtype: str
    shape: tuple[int, ...]
    bytes: int
    kind: str  # float, int8 at rest, int8 compute, other
    op: str  # the operator type that reads it (after restore steps); "-" if none does

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape), "bytes": self.bytes}


@dataclass(frozen=True)
class SizeBreakdown:
    """Where the bytes of one ONNX model go."""

    path: str
    size_bytes: int  # external data included
    tensors: tuple[TensorSize, ...]  # largest first
    metadata_bytes: int
    external_data_bytes: int
    external_data: tuple[str, ...]
    int8_at_rest_limit: int

    @property
    def tensor_bytes(self) -> int:
        return sum(t.bytes for t in self.tensors)

    @property
    def graph_bytes(self) -> int:
        """What the file holds beyond its tensors and metadata: nodes, names, shapes, framing."""
        return max(0, self.size_bytes - self.tensor_bytes - self.metadata_bytes)

    def by_kind(self) -> dict[str, int]:
        return _totals((t.kind, t.bytes) for t in self.tensors)

    def by_op(self) -> dict[str, int]:
        return _totals((t.op, t.bytes) for t in self.tensors)

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        return {
            "path": self.path,
            "size_bytes": self.size_bytes,
            "by_kind": self.by_kind(),
            "by_op": self.by_op(),
            "metadata_bytes": self.metadata_bytes,
            "graph_bytes": self.graph_bytes,
            "external_data_bytes": self.external_data_bytes,
            "external_data": list(self.external_data),
            "int8_at_rest_limit": self.int8_at_rest_limit,
            "tensor_count": len(self.tensors),
            "tensors": [t.to_dict() | {"kind": t.kind, "op": t.op} for t in self.tensors[:top]],
        }


def size_breakdown(path: Path) -> SizeBreakdown:
    """Where the bytes of the ONNX file at ``path`` (and its external data) go.

    Raises:
        ModelLoadError: ``path`` is not a readable ONNX model (exit 2).
    """
    path = Path(path)
    model = load_model(path, check=False)
    size = model_size_bytes(path)
    tensors = sorted(_tensor_sizes(model), key=lambda t: (-t.bytes, t.name))
    external = [f for f in external_data_files(path) if f.exists()]
    return SizeBreakdown(
        path=str(path),
        size_bytes=size,
        tensors=tuple(tensors),
        metadata_bytes=_metadata_bytes(model),
        external_data_bytes=sum(f.stat().st_size for f in external),
        external_data=tuple(f.name for f in external),
        int8_at_rest_limit=size - 3 * float32_tensor_bytes(model) // 4,
    )


def float32_tensor_bytes(model: onnx.ModelProto) -> int:
    """Bytes of float32 tensors of >= MIN_ELEMENTS values anywhere in ``model`` (initializers,
    Constant nodes, float-list attributes, subgraphs): what INT8 at rest would store in a quarter."""
    from onnx import AttributeProto, TensorProto

    total = 0
    for graph in _graphs(model.graph):
        for tensor in _graph_tensors(graph):
            if tensor.data_type == TensorProto.FLOAT and _count(tensor) >= MIN_ELEMENTS:
                total += 4 * _count(tensor)
        for node in graph.node:
            for attr in node.attribute:
                if attr.type == AttributeProto.FLOATS and len(attr.floats) >= MIN_ELEMENTS:
                    total += 4 * len(attr.floats)
    return total


def _tensor_sizes(model: onnx.ModelProto) -> list[TensorSize]:
    from onnx import TensorProto

    found = []
    qdq = any(n.op_type == "QuantizeLinear" for g in _graphs(model.graph) for n in g.node)
    for graph in _graphs(model.graph):
        readers, constants = _readers(graph), _constants(graph)
        for tensor in _graph_tensors(graph):
            dtype = TensorProto.DataType.Name(tensor.data_type)
            dtype = "FLOAT32" if dtype == "FLOAT" else dtype
            ops = [node.op_type for node in readers.get(tensor.name, [])]
            found.append(
                TensorSize(
                    name=tensor.name,
                    dtype=dtype.lower(),
                    shape=tuple(int(d) for d in tensor.dims),
                    bytes=_stored_bytes(tensor),
                    kind=_kind(dtype, ops, qdq),
                    op=_final_op(tensor.name, readers, constants),
                )
            )
    return found


def _kind(dtype: str, ops: list[str], qdq: bool) -> str:
    """A narrow integer only Cast or DequantizeLinear reads is restored to float (at rest), unless
    the graph quantises activations too (QDQ), where onnxruntime fuses DequantizeLinear into
    integer kernels."""
    if dtype in _FLOATS:
        return "float"
    if dtype in _NARROW_INTS:
        restored = ops and all(op == "Cast" or (op == "DequantizeLinear" and not qdq) for op in ops)
        return "int8 at rest" if restored else "int8 compute"
    return "other"


def _readers(graph: onnx.GraphProto) -> dict[str, list[Any]]:
    """Each value's reading nodes in ``graph``."""
    readers: dict[str, list[Any]] = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            if name:
                readers[name].append(node)
    return readers


def _final_op(name: str, readers: dict[str, list[Any]], constants: set[str]) -> str:
    """The first operator that reads ``name`` after its restore steps (DequantizeLinear, and nodes
    of constants only, which a session folds: Cast -> Mul -> Reshape)."""
    value = name
    for _ in range(_FOLLOW_DEPTH):
        nodes = readers.get(value, [])
        if not nodes:
            return "-"
        node = nodes[0]
        folded = all(not i or i in constants for i in node.input)
        if not node.output or not (node.op_type == "DequantizeLinear" or folded):
            return node.op_type
        value = node.output[0]
    return "-"


def _constants(graph: onnx.GraphProto) -> set[str]:
    """Values a session can fold: initializers, Constant outputs, and outputs of nodes of those."""
    known = {t.name for t in graph.initializer}
    for node in graph.node:  # graph order is topological
        if node.op_type == "Constant" or all(not i or i in known for i in node.input):
            known.update(node.output)
    return known


def _stored_bytes(tensor: Any) -> int:
    from onnx import TensorProto, helper

    if tensor.raw_data:
        return len(tensor.raw_data)
    count = _count(tensor)
    if tensor.data_type in (TensorProto.INT4, TensorProto.UINT4):
        return (count + 1) // 2
    if tensor.data_type == TensorProto.STRING:
        return sum(len(s) for s in tensor.string_data)
    try:
        return count * helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
    except (KeyError, ValueError, TypeError):
        return count


def _count(tensor: Any) -> int:
    count = 1
    for dim in tensor.dims:
        count *= int(dim)
    return count


def _graph_tensors(graph: onnx.GraphProto) -> list[Any]:
    """The constant tensors ``graph`` itself holds (initializers, Constant nodes' values), named
    as their readers see them."""
    from onnx import AttributeProto

    tensors = list(graph.initializer)
    for node in graph.node:
        for attr in node.attribute:
            if node.op_type == "Constant" and attr.type == AttributeProto.TENSOR and node.output:
                value = type(attr.t)()
                value.CopyFrom(attr.t)
                value.name = node.output[0]
                tensors.append(value)
            elif attr.type == AttributeProto.TENSOR:
                tensors.append(attr.t)
    return tensors


def _graphs(graph: onnx.GraphProto) -> list[onnx.GraphProto]:
    """``graph`` and every subgraph below it, at any depth."""
    from onnx import AttributeProto

    found = [graph]
    for node in graph.node:
        for attr in node.attribute:
            inner = [attr.g] if attr.type == AttributeProto.GRAPH else list(attr.graphs)
            for sub in inner:
                found.extend(_graphs(sub))
    return found


def _metadata_bytes(model: onnx.ModelProto) -> int:
    """Bytes of metadata_props (the model's and every node's) and doc strings."""
    total = sum(len(p.key) + len(p.value) for p in model.metadata_props) + len(model.doc_string)
    for graph in _graphs(model.graph):
        total += len(graph.doc_string)
        for node in graph.node:
            total += len(node.doc_string) + sum(len(p.key) + len(p.value) for p in node.metadata_props)
    return total


def _totals(pairs: Any) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for key, value in pairs:
        totals[key] += value
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


@dataclass(frozen=True)
class SizeChange:
    """One part of a model whose bytes changed between two versions (a tensor, or a representation)."""

    name: str
    before: int
    after: int
    kind: str  # the tensor's representation after (before, where it is gone); a part's own name

    @property
    def change(self) -> int:
        return self.after - self.before

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "before": self.before, "after": self.after, "change": self.change, "kind": self.kind}


def size_changes(before: SizeBreakdown, after: SizeBreakdown, *, top: int = 10) -> dict[str, list[SizeChange]]:
    """The largest changes from ``before`` to ``after``: per part of the file (each representation,
    metadata, graph, external data) and per tensor by name (a renamed tensor is one gone, one new),
    largest change first; unchanged ones left out.
    """
    old_parts, new_parts = _parts(before), _parts(after)
    parts = [SizeChange(k, old_parts.get(k, 0), new_parts.get(k, 0), k) for k in {**old_parts, **new_parts}]
    old = {t.name: t for t in before.tensors}
    new = {t.name: t for t in after.tensors}
    tensors = [
        SizeChange(name, old[name].bytes if name in old else 0, new[name].bytes if name in new else 0,
                   (new.get(name) or old[name]).kind)
        for name in {**old, **new}
    ]  # fmt: skip
    return {
        "parts": _largest(parts, len(parts)),
        "tensors": _largest(tensors, top),
    }


def _parts(sizes: SizeBreakdown) -> dict[str, int]:
    return sizes.by_kind() | {"metadata": sizes.metadata_bytes, "graph": sizes.graph_bytes}


def _largest(changes: list[SizeChange], top: int) -> list[SizeChange]:
    moved = [c for c in changes if c.change]
    return sorted(moved, key=lambda c: (-abs(c.change), c.name))[:top]
