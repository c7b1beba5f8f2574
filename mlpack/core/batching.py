"""Which axis of each input carries the batch.

A model input is not always a batch on axis 0: recurrent state carries the batch on another
axis (``state [2, batch, 128]``), and scalars, sample rates and shape tensors carry none (they
are fed whole with every batch). The signature's dimension names say which axis is the batch;
where the model leaves its dimensions unnamed (``?``), the data decides when it can.
A fixed-size axis is never a batch axis: no slice of it would still fit the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlpack.core.signature import TensorSpec
from mlpack.errors import BadInputError, InputSpecError

if TYPE_CHECKING:
    import numpy as np

_BATCH_WORDS = ("batch",)
_BATCH_NAMES = ("n", "b", "bs", "bsz")
_AMBIGUOUS: dict[str, int | None] = {}  # a reading where one input has two axes of the batch size


@dataclass(frozen=True)
class BatchAxes:
    """Per input: the batch axis, or None where the input is fed whole with every batch."""

    axes: dict[str, int | None]
    inferred: tuple[str, ...] = ()  # inputs whose batch axis the data decided, not a dimension name

    @property
    def batched(self) -> bool:
        return any(axis is not None for axis in self.axes.values())

    def describe_inferred(self) -> str:
        return ", ".join(f"'{n}' on axis {self.axes[n]}" for n in self.inferred if self.axes[n] is not None)


def takes_one_sample(specs: tuple[TensorSpec, ...]) -> bool:
    """True where every input with an axis is fixed at 1 on axis 0, as many exports leave them
    (scalars beside them, a rate or a threshold, are fed whole with every call): data with more
    samples there is fed one sample per call (no larger batch fits)."""
    shaped = [spec for spec in specs if spec.shape]
    return bool(shaped) and all(spec.shape[0] == 1 for spec in shaped)


def refuse_larger_batches(model: str, specs: tuple[TensorSpec, ...], batch_sizes: Sequence[int]) -> None:
    """Raise where a batch above 1 is asked of a model that takes one sample per call: each call
    would still be one sample, and a latency or samples/s would count it as a batch.

    Raises:
        BadInputError: such a batch size (exit 2).
    """
    larger = [b for b in batch_sizes if b > 1]
    if larger and takes_one_sample(specs):
        raise BadInputError(
            f"{model} takes one sample per call (its batch dimension is fixed at 1), so batch "
            f"{', '.join(map(str, larger))} cannot be measured on it; measure batch 1, or export it with a dynamic "
            "batch."
        )


def batch_symbol(specs: tuple[TensorSpec, ...]) -> str | None:
    """The dimension name that means "batch": one that says so, else the shared name on axis 0."""
    names = [d for s in specs for d in s.shape if isinstance(d, str)]
    for name in names:
        if any(word in name.lower() for word in _BATCH_WORDS) or name.lower() in _BATCH_NAMES:
            return name
    leading = {s.shape[0] for s in specs if s.shape and isinstance(s.shape[0], str)}
    return leading.pop() if len(leading) == 1 else None


def _candidates(spec: TensorSpec, symbol: str | None) -> list[int]:
    """Axes that may carry the batch but are not named as doing so."""
    return [axis for axis, dim in enumerate(spec.shape) if dim is None or (symbol is None and isinstance(dim, str))]


def signature_batch_axes(specs: tuple[TensorSpec, ...]) -> BatchAxes:
    """Batch axes from the names alone (for generated inputs): unnamed axes guess axis 0 first."""
    symbol = batch_symbol(specs)
    axes: dict[str, int | None] = {}
    for spec in specs:
        if symbol is not None and symbol in spec.shape:
            axes[spec.name] = spec.shape.index(symbol)
        else:
            candidates = _candidates(spec, symbol)
            axes[spec.name] = (0 if 0 in candidates else candidates[0]) if candidates else None
    return BatchAxes(axes)


def data_batch_axes(specs: tuple[TensorSpec, ...], arrays: Mapping[str, np.ndarray], *, source: str) -> BatchAxes:
    """Batch axes for arrays that fit ``specs``: named axes first, unnamed ones inferred from sizes.

    Raises InputSpecError when the sizes fit more than one reading.
    """
    symbol = batch_symbol(specs)
    axes: dict[str, int | None] = {}
    open_specs: list[TensorSpec] = []
    for spec in specs:
        if symbol is not None and symbol in spec.shape:
            axes[spec.name] = spec.shape.index(symbol)
        elif _candidates(spec, symbol):
            open_specs.append(spec)
        else:
            axes[spec.name] = None
    if not open_specs:
        return BatchAxes(axes)
    named_sizes = {arrays[n].shape[a] for n, a in axes.items() if a is not None}
    if len(named_sizes) > 1:
        return BatchAxes({**axes, **{s.name: None for s in open_specs}})
    sizes = sorted(named_sizes) or _possible_sizes(open_specs, arrays, symbol)
    all_readings = [_reading(open_specs, arrays, symbol, n) for n in sizes]
    readings = [r for r in all_readings if r is not None and r is not _AMBIGUOUS]
    if not readings and any(r is _AMBIGUOUS for r in all_readings):
        raise InputSpecError(
            f"{source}: an input has several axes of the same size that could carry the batch; name the batch "
            "dimension in the model (export with --input NAME:batch,... or onnx.tools.update_model_dims)."
        )
    if len(readings) > 1 and not named_sizes:
        # Several sizes fit; the one that puts the first open input's batch on axis 0 is the
        # usual layout, and the one every earlier version of mlpack assumed.
        first = open_specs[0]
        preferred = [r for r in readings if r.get(first.name) == 0]
        readings = preferred if len(preferred) == 1 else readings
    if len(readings) > 1:
        choices = "; ".join(", ".join(f"'{n}' axis {a}" for n, a in r.items() if a is not None) for r in readings)
        raise InputSpecError(
            f"{source}: cannot tell which axis carries the batch ({choices} all fit); name the batch dimension "
            "in the model (export with --input NAME:batch,... or onnx.tools.update_model_dims)."
        )
    chosen = readings[0] if readings else {s.name: None for s in open_specs}
    inferred = tuple(n for n, a in chosen.items() if a is not None)
    return BatchAxes({**axes, **chosen}, inferred=inferred)


def _possible_sizes(open_specs: list[TensorSpec], arrays: Mapping[str, np.ndarray], symbol: str | None) -> list[int]:
    sizes: set[int] = set()
    for spec in open_specs:
        sizes.update(int(arrays[spec.name].shape[a]) for a in _candidates(spec, symbol))
    return sorted(sizes)


def _reading(
    open_specs: list[TensorSpec], arrays: Mapping[str, np.ndarray], symbol: str | None, size: int
) -> dict[str, int | None] | None:
    """Each open input's one axis of ``size``; _AMBIGUOUS if one has two, None if one has none."""
    reading: dict[str, int | None] = {}
    for spec in open_specs:
        matching = [a for a in _candidates(spec, symbol) if arrays[spec.name].shape[a] == size]
        if len(matching) > 1:
            return _AMBIGUOUS
        if not matching:
            return None  # an input that may carry the batch but has no axis of this size: not this size
        reading[spec.name] = matching[0]
    return reading
