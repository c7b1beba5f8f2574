"""Generated inputs that look like what the model would see, where no data is given.

Token ids are drawn across the embedding table they index (not the first few ids, which are
padding and unused tokens in most vocabularies), masks are all ones (a fully masked row makes
attention produce NaN), sequence dimensions get a realistic length, and the batch goes on each
input's own batch axis. A check on generated inputs is still only a check on generated inputs:
every result that rests on them says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlpack.core.batching import signature_batch_axes
from mlpack.core.signature import TensorSpec
from mlpack.errors import InputSpecError

if TYPE_CHECKING:
    import numpy as np
    import onnx

DEFAULT_BATCH = 1
DEFAULT_SYMBOLIC_DIM = 64  # a dimension the model leaves open, such as an image side or a window
DEFAULT_SEQUENCE_LENGTH = 128  # a dimension named like a sequence: tokens in a sentence, frames
_SEQUENCE_WORDS = ("seq", "len", "token", "time", "frame", "step", "word", "sentence", "position")
# Ops that pass integer ids through unchanged in value, between an input and the Gather using them.
_ID_PASSTHROUGH = ("Cast", "Reshape", "Unsqueeze", "Squeeze", "Flatten", "Identity", "Expand", "Transpose")


@dataclass(frozen=True)
class InputHints:
    """What the graph says about plausible input values."""

    index_ranges: dict[str, int] = field(default_factory=dict)  # input -> rows of the table it indexes


def input_hints(model: onnx.ModelProto) -> InputHints:
    """Integer inputs that index a table (a Gather on an initializer), with the table's size."""
    sizes = {init.name: tuple(init.dims) for init in model.graph.initializer}
    produced_by = {out: node for node in model.graph.node for out in node.output}
    inputs = {value.name for value in model.graph.input}
    ranges: dict[str, int] = {}
    for node in model.graph.node:
        if node.op_type != "Gather" or len(node.input) < 2 or node.input[0] not in sizes:
            continue
        axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
        table = sizes[node.input[0]]
        if not table:
            continue
        source = _id_source(node.input[1], produced_by, inputs)
        if source is not None:
            rows = int(table[axis % len(table)])
            ranges[source] = min(ranges.get(source, rows), rows)
    return InputHints(index_ranges=ranges)


def _id_source(name: str, produced_by: Mapping[str, onnx.NodeProto], inputs: set[str]) -> str | None:
    for _ in range(8):  # a short chain of reshapes and casts at most
        if name in inputs:
            return name
        node = produced_by.get(name)
        if node is None or node.op_type not in _ID_PASSTHROUGH or not node.input:
            return None
        name = node.input[0]
    return None


def concrete_shape(
    spec: TensorSpec, *, batch_size: int, dim_values: Mapping[str, int] | None = None, batch_axis: int | None = 0
) -> tuple[int, ...]:
    """Fill open dimensions: the batch axis gets ``batch_size``, named ones may be given, others a
    realistic default (sequence-like names a sentence's length)."""
    dim_values = dim_values or {}
    shape: list[int] = []
    for axis, dim in enumerate(spec.shape):
        if isinstance(dim, int):
            shape.append(dim)
        elif isinstance(dim, str) and dim in dim_values:
            shape.append(dim_values[dim])
        elif axis == batch_axis:
            shape.append(batch_size)
        elif isinstance(dim, str) and any(word in dim.lower() for word in _SEQUENCE_WORDS):
            shape.append(DEFAULT_SEQUENCE_LENGTH)
        else:
            shape.append(DEFAULT_SYMBOLIC_DIM)
    return tuple(shape)


def generate_inputs(
    specs: tuple[TensorSpec, ...],
    *,
    batch_size: int = DEFAULT_BATCH,
    seed: int = 0,
    dim_values: Mapping[str, int] | None = None,
    hints: InputHints | None = None,
    shapes: Mapping[str, tuple[int, ...]] | None = None,
) -> dict[str, np.ndarray]:
    """Seeded inputs matching the signature, plausible where the graph says what is plausible.

    Args:
        specs: the model's inputs.
        batch_size: samples on each input's batch axis.
        seed: the random seed.
        dim_values: sizes for named dimensions (a name missing here gets a default).
        hints: value ranges read from the graph (:func:`input_hints`): token ids are drawn
            across the table they index. Without hints, integers are 0 or 1.
        shapes: whole shapes per input (:mod:`mlpack.data.shapes` plans them), over the above.

    Floats are standard normal; an integer input named like a mask is all ones.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    hints = hints or InputHints()
    axes = signature_batch_axes(specs).axes
    feeds: dict[str, np.ndarray] = {}
    for spec in specs:
        shape = (shapes or {}).get(spec.name) or concrete_shape(
            spec, batch_size=batch_size, dim_values=dim_values, batch_axis=axes[spec.name]
        )
        if spec.dtype.startswith("onnx:") or spec.dtype == "object":
            raise InputSpecError(f"cannot generate data for input '{spec.name}' of type {spec.dtype}; pass --data.")
        dtype = np.dtype(spec.dtype)
        if np.issubdtype(dtype, np.floating):
            feeds[spec.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype == np.bool_:
            feeds[spec.name] = rng.integers(0, 2, shape).astype(bool)
        elif "mask" in spec.name.lower():
            feeds[spec.name] = np.ones(shape, dtype=dtype)
        else:
            high = hints.index_ranges.get(spec.name, 2)
            feeds[spec.name] = rng.integers(0, max(high, 1), shape).astype(dtype)
    return feeds
