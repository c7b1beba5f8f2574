"""Model inputs: loading .npz data files, checking them against a signature, generating them."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlpack.core.fileio import require_file
from mlpack.core.signature import TensorSpec
from mlpack.errors import DataError, InputSpecError

if TYPE_CHECKING:
    import numpy as np

LABELS_KEY = "labels"
SLICES_KEY = "slices"
RESERVED_KEYS = (LABELS_KEY, SLICES_KEY)

DEFAULT_BATCH = 1
DEFAULT_SYMBOLIC_DIM = 8  # stands in for a named dimension such as a sequence length


@dataclass(frozen=True)
class Dataset:
    """Inputs by model input name, plus optional labels and slice ids, one row per sample."""

    inputs: dict[str, np.ndarray]
    labels: np.ndarray | None = None
    slices: np.ndarray | None = None

    @property
    def num_samples(self) -> int:
        return int(next(iter(self.inputs.values())).shape[0])

    def batch(self, start: int, stop: int) -> dict[str, np.ndarray]:
        return {name: array[start:stop] for name, array in self.inputs.items()}


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an .npz file. Pickled object arrays are refused: loading them runs code."""
    import numpy as np

    path = require_file(Path(path), "data file")
    try:
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


def load_dataset(path: Path, specs: tuple[TensorSpec, ...], *, need_labels: bool = False) -> Dataset:
    """Load an .npz and match its arrays to the model inputs, checking names, shapes and dtypes."""
    arrays = read_npz(path)
    labels = arrays.pop(LABELS_KEY, None)
    slices = arrays.pop(SLICES_KEY, None)
    inputs = match_inputs(arrays, specs, source=str(path))
    dataset = Dataset(inputs=inputs, labels=labels, slices=slices)
    n = dataset.num_samples
    if need_labels and labels is None:
        raise DataError(
            f"{path} has no '{LABELS_KEY}' array, but labels are needed here; "
            f"add one label per sample under the key '{LABELS_KEY}'."
        )
    if labels is not None and len(labels) != n:
        raise DataError(f"{path}: '{LABELS_KEY}' has {len(labels)} entries but the inputs have {n} samples.")
    if slices is not None and (slices.ndim != 1 or len(slices) != n):
        raise DataError(
            f"{path}: '{SLICES_KEY}' must hold one group id per sample ({n}), got shape {tuple(slices.shape)}."
        )
    return dataset


def match_inputs(arrays: dict[str, np.ndarray], specs: tuple[TensorSpec, ...], *, source: str) -> dict[str, np.ndarray]:
    """Map arrays to inputs by name (a one-input model may use any single array) and check them."""
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
    sizes = {name: a.shape[0] for name, a in matched.items() if a.ndim > 0}
    if len(set(sizes.values())) > 1:
        raise InputSpecError(f"{source}: inputs disagree on the number of samples: {sizes}.")
    return matched


def check_array(array: np.ndarray, spec: TensorSpec, *, source: str) -> np.ndarray:
    """Check one array against an input spec; safe widenings (float64 to float32) are applied."""
    import numpy as np

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
    if array.dtype.name != spec.dtype:
        target = np.dtype(spec.dtype)
        same_kind = np.issubdtype(array.dtype, np.floating) and np.issubdtype(target, np.floating)
        both_int = np.issubdtype(array.dtype, np.integer) and np.issubdtype(target, np.integer)
        if not (same_kind or both_int):
            raise InputSpecError(
                f"{source}: input '{spec.name}' has dtype {array.dtype.name}, the model expects {spec.dtype}."
            )
        array = array.astype(target)
    return array


def concrete_shape(spec: TensorSpec, *, batch_size: int, dim_values: dict[str, int] | None = None) -> tuple[int, ...]:
    """Fill symbolic dimensions: the first one is the batch, named ones may be given, others default."""
    dim_values = dim_values or {}
    shape: list[int] = []
    for axis, dim in enumerate(spec.shape):
        if isinstance(dim, int):
            shape.append(dim)
        elif isinstance(dim, str) and dim in dim_values:
            shape.append(dim_values[dim])
        elif axis == 0:
            shape.append(batch_size)
        else:
            shape.append(DEFAULT_SYMBOLIC_DIM)
    return tuple(shape)


def generate_inputs(
    specs: tuple[TensorSpec, ...],
    *,
    batch_size: int = DEFAULT_BATCH,
    seed: int = 0,
    dim_values: dict[str, int] | None = None,
) -> dict[str, np.ndarray]:
    """Seeded random inputs matching the signature.

    Floats are standard normal. Integers are 0 or 1, which is in range for any token-id
    input; an integer input named like a mask is all ones, since a fully masked row makes
    attention produce NaN. Real data (``--data``) is the way to measure on meaningful values.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for spec in specs:
        shape = concrete_shape(spec, batch_size=batch_size, dim_values=dim_values)
        if spec.dtype.startswith("onnx:"):
            raise InputSpecError(f"cannot generate data for input '{spec.name}' of type {spec.dtype}; pass --data.")
        dtype = np.dtype(spec.dtype)
        if np.issubdtype(dtype, np.floating):
            feeds[spec.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype == np.bool_:
            feeds[spec.name] = rng.integers(0, 2, shape).astype(bool)
        elif "mask" in spec.name.lower():
            feeds[spec.name] = np.ones(shape, dtype=dtype)
        else:
            feeds[spec.name] = rng.integers(0, 2, shape).astype(dtype)
    return feeds
