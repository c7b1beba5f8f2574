"""Model inputs from data files: .npz arrays or ONNX's test-data layout, checked against a signature.

Each input is split into samples along its own batch axis (:mod:`mlpack.core.batching`); an
input without one is fed whole with every batch. A file whose arrays cannot be split into
samples consistently is one call, used exactly as given, and says so in ``notes``.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlpack.core.batching import data_batch_axes
from mlpack.core.fileio import require_file
from mlpack.core.generate import DEFAULT_BATCH, DEFAULT_SYMBOLIC_DIM, concrete_shape, generate_inputs
from mlpack.core.npzcheck import check_npz
from mlpack.core.signature import TensorSpec
from mlpack.errors import DataError, InputSpecError

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "DEFAULT_BATCH",
    "DEFAULT_SYMBOLIC_DIM",
    "Dataset",
    "check_array",
    "concrete_shape",
    "generate_inputs",
    "load_dataset",
    "match_inputs",
    "read_npz",
]

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


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an .npz file. Pickled object arrays are refused: loading them runs code."""
    import numpy as np

    path = require_file(Path(path), "data file")
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as members:
                check_npz(members, path)  # before numpy allocates what a header claims
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DataError(
                f"{path} holds pickled object arrays, which mlpack refuses to load "
                "(they can run arbitrary code); save plain numeric arrays."
            ) from exc
        raise DataError(f"{path} is not a readable .npz file: {exc}") from exc
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path} is not a readable .npz file (corrupt or truncated?): {exc}") from exc


def load_dataset(
    path: Path,
    specs: tuple[TensorSpec, ...],
    *,
    need_labels: bool = False,
    given: dict[str, np.ndarray] | None = None,
    defaults: dict[str, np.ndarray] | None = None,
) -> Dataset:
    """Load an .npz file or an ONNX test-data directory and match it to the model inputs.

    Args:
        path: an .npz (one array per input, named by input, plus optional ``labels`` and
            ``slices``), or a directory of ``test_data_set_N/input_K.pb`` (each set one call).
        specs: the model's inputs; names, shapes and dtypes are checked against them.
        need_labels: raise DataError unless the file has labels.
        given: values for inputs that the file may lack (``--set NAME=VALUE``); they are fed
            whole with every batch and override the file's arrays.
        defaults: values for inputs only where the file lacks them (a stream's initial state).
    """
    if Path(path).is_dir():
        from mlpack.core.testdata import load_test_data

        return load_test_data(Path(path), specs, given=given, defaults=defaults)
    arrays = read_npz(path)
    labels = arrays.pop(LABELS_KEY, None)
    slices = arrays.pop(SLICES_KEY, None)
    given = {**{k: v for k, v in (defaults or {}).items() if k not in arrays}, **(given or {})}
    open_specs = tuple(s for s in specs if s.name not in given)
    inputs = {**match_inputs(arrays, open_specs, source=str(path), consistent=False), **given}
    dataset = _split(path, specs, open_specs, inputs, labels, slices)
    if need_labels and labels is None:
        raise DataError(
            f"{path} has no '{LABELS_KEY}' array, but labels are needed here; "
            f"add one label per sample under the key '{LABELS_KEY}'."
        )
    _check_labels(path, labels)
    if dataset.whole:
        return dataset
    n = dataset.num_samples
    if n == 0:
        raise DataError(f"{path} holds 0 samples: nothing to run or check; give it at least one sample.")
    if labels is not None and len(labels) != n:
        raise DataError(f"{path}: '{LABELS_KEY}' has {len(labels)} entries but the inputs have {n} samples.")
    if slices is not None and (slices.ndim != 1 or len(slices) != n):
        raise DataError(
            f"{path}: '{SLICES_KEY}' must hold one group id per sample ({n}), got shape {tuple(slices.shape)}."
        )
    return dataset


def _check_labels(path: Path, labels: np.ndarray | None) -> None:
    """Labels are one number (a class or a target) per sample, or one target array per sample."""
    if labels is None:
        return
    if labels.ndim == 0:
        raise DataError(f"{path}: '{LABELS_KEY}' is a single value; it needs one label per sample.")
    if labels.dtype.kind not in "biuf":
        raise DataError(
            f"{path}: '{LABELS_KEY}' holds {labels.dtype.name} values; labels must be numbers "
            "(class indices or targets), so map names to class indices first."
        )


def _split(
    path: Path,
    specs: tuple[TensorSpec, ...],
    open_specs: tuple[TensorSpec, ...],
    inputs: dict[str, np.ndarray],
    labels: np.ndarray | None,
    slices: np.ndarray | None,
) -> Dataset:
    """Samples along each input's batch axis, or one call as given where they do not split."""
    found = data_batch_axes(open_specs, inputs, source=str(path))
    axes = {**{s.name: None for s in specs}, **found.axes}
    sizes = {name: inputs[name].shape[a] for name, a in axes.items() if a is not None}
    notes = []
    if found.inferred:
        notes.append(f"batch axes inferred from the data: {found.describe_inferred()}")
    if len(set(sizes.values())) == 1:
        return Dataset(inputs=inputs, labels=labels, slices=slices, axes=axes, notes=tuple(notes))
    why = f"inputs disagree on the number of samples: {sizes}" if sizes else "no input has a batch dimension"
    notes.append(f"one call with the arrays as given: {why}")
    return Dataset(inputs=inputs, labels=labels, slices=slices, axes=axes, calls=(inputs,), notes=tuple(notes))


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
    if len(specs) == 1 and len(arrays) == 1:
        matched = {specs[0].name: next(iter(arrays.values()))}
    else:
        missing = [s.name for s in specs if s.name not in arrays]
        if missing:
            raise InputSpecError(
                f"{source} lacks arrays for the model inputs {missing}; "
                f"it has {sorted(arrays)} (arrays are matched to inputs by name)."
            )
        matched = {s.name: arrays[s.name] for s in specs}
    for spec in specs:
        matched[spec.name] = check_array(matched[spec.name], spec, source=source)
    if consistent:
        sizes = {name: a.shape[0] for name, a in matched.items() if a.ndim > 0}
        if len(set(sizes.values())) > 1:
            raise InputSpecError(f"{source}: inputs disagree on the number of samples: {sizes}.")
    return matched


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
