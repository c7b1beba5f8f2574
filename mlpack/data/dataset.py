"""A data set matched to a model's inputs: samples along each input's batch axis, or calls as given.

Each input is split into samples along its own batch axis (:mod:`mlpack.core.batching`); an
input without one is fed whole with every batch. A file whose arrays cannot be split into
samples consistently is one call, used exactly as given, and says so in ``notes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlpack.core.batching import signature_batch_axes
from mlpack.core.signature import TensorSpec
from mlpack.errors import DataError, InputSpecError

if TYPE_CHECKING:
    import numpy as np

LABELS_KEY = "labels"
SLICES_KEY = "slices"
RESERVED_KEYS = (LABELS_KEY, SLICES_KEY)


@dataclass(frozen=True)
class Dataset:
    """Inputs by model input name, plus optional labels and slice ids.

    ``axes`` gives each input's batch axis (None: fed whole with every batch); without it, axis 0
    of every input that has one. ``calls`` holds feeds that are used exactly as given (ONNX test
    sets, or a file that cannot be split into samples); ``inputs`` is then the first of them.
    """

    inputs: dict[str, np.ndarray]
    labels: np.ndarray | None = None
    slices: np.ndarray | None = None
    axes: dict[str, int | None] | None = None
    calls: tuple[dict[str, np.ndarray], ...] = ()
    expected: tuple[tuple[np.ndarray, ...] | None, ...] = ()  # per call, from the test-data layout
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def whole(self) -> bool:
        """True when the data is a list of calls used as given, not samples to batch."""
        return bool(self.calls)

    def axis(self, name: str) -> int | None:
        if self.axes is not None:
            return self.axes.get(name)
        return 0 if self.inputs[name].ndim else None

    @property
    def num_samples(self) -> int:
        if self.whole:
            return len(self.calls)
        sizes = [array.shape[a] for name, array in self.inputs.items() if (a := self.axis(name)) is not None]
        return int(sizes[0]) if sizes else 1

    def batch(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Samples ``start:stop`` of every batched input, and every other input whole."""
        if self.whole:
            return dict(self.calls[0])
        return {name: _slice(array, self.axis(name), start, stop) for name, array in self.inputs.items()}

    def rows(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        """The samples at ``indices`` (repeats allowed), every unbatched input whole."""
        import numpy as np

        if self.whole:
            return dict(self.calls[0])
        taken = {}
        for name, array in self.inputs.items():
            axis = self.axis(name)
            taken[name] = array if axis is None else np.ascontiguousarray(np.take(array, indices, axis=axis))
        return taken

    def feeds(self, batch_size: int) -> list[dict[str, np.ndarray]]:
        """Every call needed to run the whole data set, ``batch_size`` samples at a time."""
        if self.whole:
            return [dict(call) for call in self.calls]
        return [self.batch(start, start + batch_size) for start in range(0, self.num_samples, batch_size)]


def _slice(array: np.ndarray, axis: int | None, start: int, stop: int) -> np.ndarray:
    if axis is None:
        return array
    index = [slice(None)] * array.ndim
    index[axis] = slice(start, stop)
    return array[tuple(index)]


def match_inputs(
    arrays: dict[str, np.ndarray], specs: tuple[TensorSpec, ...], *, source: str, consistent: bool = True
) -> dict[str, np.ndarray]:
    """Map arrays to inputs by name (a one-input model may use any single array) and check them.

    Args:
        arrays: the file's arrays.
        specs: the inputs to match.
        source: the file, for messages.
        consistent: also require every input to have the same size on axis 0 (the data's old
            rule; loaders that know each input's batch axis pass False and check themselves).
    """
    if not specs:
        return {}
    matched = arrays_by_input(arrays, specs)
    if matched is None:
        missing = [s.name for s in specs if s.name not in arrays]
        raise InputSpecError(
            f"{source} lacks arrays for the model inputs {missing}; "
            f"it has {sorted(arrays)} (arrays are matched to inputs by name)."
        )
    for spec in specs:
        matched[spec.name] = check_array(matched[spec.name], spec, source=source)
    if consistent:
        sizes = {name: a.shape[0] for name, a in matched.items() if a.ndim > 0}
        if len(set(sizes.values())) > 1:
            raise InputSpecError(f"{source}: inputs disagree on the number of samples: {sizes}.")
    return matched


def arrays_by_input(arrays: dict[str, np.ndarray], specs: tuple[TensorSpec, ...]) -> dict[str, np.ndarray] | None:
    """The arrays by input name (a one-input model may use any single array), unchecked; None where
    an input has no array."""
    if len(specs) == 1 and len(arrays) == 1:
        return {specs[0].name: next(iter(arrays.values()))}
    if any(s.name not in arrays for s in specs):
        return None
    return {s.name: arrays[s.name] for s in specs}


def check_array(array: np.ndarray, spec: TensorSpec, *, source: str) -> np.ndarray:
    """Check one array against an input spec; safe widenings (float64 to float32) are applied."""
    import numpy as np

    if isinstance(array, list) and spec.dtype.startswith("onnx:"):
        return array  # a sequence input (from the test-data layout) goes to onnxruntime as a list
    array = np.asarray(array)
    if array.ndim != len(spec.shape):
        raise InputSpecError(
            f"{source}: input '{spec.name}' has {array.ndim} dimensions {tuple(array.shape)}, "
            f"the model expects {len(spec.shape)}: {spec.shape_text()}."
        )
    for axis, (got, want) in enumerate(zip(array.shape, spec.shape, strict=True)):
        if isinstance(want, int) and got != want:
            raise InputSpecError(
                f"{source}: input '{spec.name}' has shape {tuple(array.shape)}, "
                f"the model expects {spec.shape_text()} (dimension {axis} must be {want})."
            )
    if array.dtype.name != spec.dtype and not spec.dtype.startswith("onnx:"):
        target = np.dtype(spec.dtype)
        same_kind = np.issubdtype(array.dtype, np.floating) and np.issubdtype(target, np.floating)
        both_int = np.issubdtype(array.dtype, np.integer) and np.issubdtype(target, np.integer)
        textual = target == np.dtype(object) and array.dtype.kind in "OUS"
        if not (same_kind or both_int or textual):
            raise InputSpecError(
                f"{source}: input '{spec.name}' has dtype {array.dtype.name}, the model expects {spec.dtype}."
            )
        array = array.astype(target)
    return array


# The one place that says whether data is empty or degenerate, for every source kind (.npz, test-data
# folders, streams) and every use (running, checking, calibrating, golden data).


def empty_error(source: object) -> DataError:
    return DataError(f"{source} holds 0 samples: nothing to run or check; give it at least one sample.")


def check_call_not_empty(call: dict[str, np.ndarray], specs: tuple[TensorSpec, ...], *, source: object) -> None:
    """Refuse a call (an ONNX test set) whose batched inputs hold 0 samples on their batch axis.

    Raises:
        DataError: a batched input has 0 rows (exit 2).
    """

    axes = signature_batch_axes(specs).axes
    for spec in specs:
        array, axis = call.get(spec.name), axes.get(spec.name)
        shape = getattr(array, "shape", None)
        if axis is not None and shape is not None and len(shape) > axis and shape[axis] == 0:
            raise empty_error(source)


class DegeneracyScan:
    """Watches the float inputs of data seen batch by batch; says whether the data is degenerate
    for calibration: non-finite values anywhere, or every float input constant (zero variance)."""

    def __init__(self, source: object) -> None:
        self.source = source
        self.low: dict[str, float] = {}
        self.high: dict[str, float] = {}
        self.seen = 0

    def add(self, feeds: dict[str, np.ndarray]) -> None:
        import numpy as np

        for name, value in feeds.items():
            array = np.asarray(value) if not isinstance(value, list) else None
            if array is None or array.dtype.kind != "f" or array.size == 0:
                continue
            if not np.isfinite(array).all():
                bad = "NaN" if np.isnan(array).any() else "infinite values"
                raise DataError(
                    f"{self.source}: input '{name}' holds {bad} (sample block {self.seen}); calibration ranges "
                    "from it are meaningless: clean the data or drop those samples."
                )
            self.low[name] = min(self.low.get(name, np.inf), float(array.min()))
            self.high[name] = max(self.high.get(name, -np.inf), float(array.max()))
        self.seen += 1

    def finish(self) -> None:
        """Raise when every float input held one value throughout (all zeros, a constant fill).

        Raises:
            DataError: the float inputs are constant (exit 2).
        """
        if self.low and all(self.low[n] == self.high[n] for n in self.low):
            values = ", ".join(f"'{n}' = {self.low[n]:g}" for n in sorted(self.low))
            raise DataError(
                f"{self.source}: every float input is constant ({values}): zero variance, so the ranges calibrated "
                "on it fit no real input; calibrate on representative samples."
            )
