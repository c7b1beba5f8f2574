"""The inputs an export traces and checks with: from ``--input`` specs, an example data source
(an .npz or the first ONNX test set), or generated; the batch dimension made symbolic.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpack.core.batching import batch_symbol, data_batch_axes
from mlpack.core.signature import TensorSpec
from mlpack.data.dataset import match_inputs
from mlpack.data.generate import DEFAULT_SYMBOLIC_DIM, generate_inputs
from mlpack.data.sources import open_source
from mlpack.errors import InputSpecError

if TYPE_CHECKING:
    import numpy as np

BATCH_DIM = "batch"
# torch.export specialises dimensions of size 0 or 1, so a dynamic dimension is traced at 2 or more.
_EXAMPLE_BATCH = 2


def _forward_parameter_names(module: Any) -> list[str]:
    import inspect

    try:
        params = inspect.signature(module.forward).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def input_specs(
    module: Any, given: Sequence[TensorSpec], example_inputs: Path | None, dynamic_batch: bool
) -> tuple[TensorSpec, ...]:
    """The inputs to export, with the batch dimension made symbolic unless asked not to.

    ``--input`` specs that name their dimensions say where the batch is; specs taken from the
    example arrays alone put it where the arrays' sizes say (axis 0 of the first input).
    """
    if given:
        if batch_symbol(tuple(given)) is not None or not dynamic_batch:
            return tuple(given)
        return tuple(_with_batch(s, 0 if s.shape else None) for s in given)
    assert example_inputs is not None
    arrays = _example_arrays(example_inputs, _forward_parameter_names(module))
    order = [n for n in _forward_parameter_names(module) if n in arrays] or list(arrays)
    if not dynamic_batch:
        return tuple(TensorSpec(n, tuple(arrays[n].shape), arrays[n].dtype.name) for n in order)
    open_specs = tuple(TensorSpec(n, (None,) * arrays[n].ndim, arrays[n].dtype.name) for n in order)
    axes = data_batch_axes(open_specs, arrays, source=str(example_inputs)).axes
    return tuple(_with_batch(TensorSpec(n, tuple(arrays[n].shape), arrays[n].dtype.name), axes[n]) for n in order)


def _with_batch(spec: TensorSpec, axis: int | None) -> TensorSpec:
    if axis is None:
        return spec
    return TensorSpec(spec.name, (*spec.shape[:axis], BATCH_DIM, *spec.shape[axis + 1 :]), spec.dtype)


def _example_arrays(example_inputs: Path, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The example's arrays by input name: an .npz, or the first set of an ONNX test-data directory
    (its tensors' own names, else ``names`` by position)."""
    import numpy as np

    arrays = open_source(example_inputs).example_arrays(names)
    lists = [name for name, value in arrays.items() if not isinstance(value, np.ndarray)]
    if lists:
        raise InputSpecError(f"{example_inputs}: export takes tensors; the inputs {lists} are sequences.")
    return arrays


def dim_sizes(specs: Sequence[TensorSpec], batch: int, other: int) -> dict[str, int]:
    symbol = batch_symbol(tuple(specs))
    sizes: dict[str, int] = {}
    for spec in specs:
        for dim in spec.shape:
            if isinstance(dim, str) and dim not in sizes:
                sizes[dim] = batch if dim == symbol else other
    return sizes


def example_feeds(specs: tuple[TensorSpec, ...], example_inputs: Path | None, seed: int) -> dict[str, np.ndarray]:
    if example_inputs is None:
        return generate_inputs(specs, seed=seed, dim_values=dim_sizes(specs, _EXAMPLE_BATCH, DEFAULT_SYMBOLIC_DIM))
    feeds = match_inputs(
        _example_arrays(example_inputs, [s.name for s in specs]), specs, source=str(example_inputs), consistent=False
    )
    axes = data_batch_axes(specs, feeds, source=str(example_inputs)).axes
    sizes = {name: feeds[name].shape[axis] for name, axis in axes.items() if axis is not None}
    if len(set(sizes.values())) > 1:
        raise InputSpecError(
            f"{example_inputs}: the inputs disagree on the batch size {sizes} (batch axes {axes}); "
            "name each input's batch dimension with --input NAME:SHAPE (e.g. state:2,batch,128)."
        )
    return {name: _at_least_rows(array, _EXAMPLE_BATCH, axes[name]) for name, array in feeds.items()}


def _at_least_rows(array: np.ndarray, rows: int, axis: int | None) -> np.ndarray:
    """Repeat samples so a dynamic batch is traced at a size torch.export does not specialise."""
    import numpy as np

    if axis is None or array.shape[axis] >= rows:
        return array
    return np.take(array, np.arange(rows) % max(array.shape[axis], 1), axis=axis)
