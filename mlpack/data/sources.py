"""Where model inputs come from: the one place that tells an .npz from a test-data folder.

Every stage that reads data (optimize, calibration, check, export, pack) asks :func:`load_dataset`
(the whole set) or :func:`source_kind` (to choose how to stream it); nothing else looks at whether
a path is a folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlpack.core.batching import data_batch_axes
from mlpack.core.signature import TensorSpec
from mlpack.data.dataset import LABELS_KEY, SLICES_KEY, Dataset, match_inputs
from mlpack.data.npz import read_npz
from mlpack.data.testdata import load_test_data
from mlpack.errors import DataError

if TYPE_CHECKING:
    import numpy as np


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


