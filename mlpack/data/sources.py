"""Where model inputs come from: one small interface over every kind of data source, and the one
place that decides which kind a path is.

The kinds are a literal table (:data:`FILE_KINDS`), as pip-audit lists its dependency sources:
an .npz (read whole, or streamed a block of rows at a time), an .npy (the one input of a
one-input model), a folder of ``NAME.npy`` files (one per input), an ONNX test-data folder (each
``test_data_set_N`` one call, as given), and, where no file is given, generated inputs
(:class:`GeneratedInputs`). Stages never test ``is_dir()``: they call :func:`open_source` and
use the interface. Adding a kind is a class here and a line in the table;
``tests/data/test_sources.py`` fails until it is covered. A file of any other kind is refused
in one line that says what it is and what is accepted.
"""

from __future__ import annotations

import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mlpack.core.batching import data_batch_axes, signature_batch_axes, takes_one_sample
from mlpack.core.fileio import require_file
from mlpack.core.signature import TensorSpec
from mlpack.data.dataset import (
    LABELS_KEY,
    RESERVED_KEYS,
    SLICES_KEY,
    Dataset,
    arrays_by_input,
    check_array,
    empty_error,
    match_inputs,
)
from mlpack.data.generate import InputHints, generate_inputs
from mlpack.data.npz import read_npy, read_npz
from mlpack.data.npzstream import count_samples, iter_blocks
from mlpack.data.testdata import first_set_inputs, is_test_data_dir, load_test_data
from mlpack.errors import DataError, InputSpecError

if TYPE_CHECKING:
    import numpy as np

Feed = dict[str, Any]  # model input name -> value


class DataSource(ABC):
    """Model inputs from one source: read whole, counted, or streamed in batches."""

    #: Each unit is one call used exactly as given (an ONNX test set), not rows to batch.
    calls_as_given: ClassVar[bool] = False

    @abstractmethod
    def load(
        self,
        specs: tuple[TensorSpec, ...],
        *,
        need_labels: bool = False,
        given: dict[str, np.ndarray] | None = None,
        defaults: dict[str, np.ndarray] | None = None,
    ) -> Dataset:
        """Every sample (or call) matched to the model inputs; see :func:`load_dataset`."""

    @abstractmethod
    def count(self, specs: tuple[TensorSpec, ...]) -> int:
        """Check the source against the inputs without holding it whole; its samples (or calls)."""

    @abstractmethod
    def batches(self, specs: tuple[TensorSpec, ...], *, batch_size: int, limit: int | None = None) -> Iterator[Feed]:
        """Checked inputs, ``batch_size`` samples at a time (calls as given: one call at a time);
        ``limit`` caps the samples (calls) read."""


class DataFile(DataSource):
    """A data source that is a path on disk; :data:`FILE_KINDS` lists every kind."""

    def __init__(self, path: Path, what: str = "data file") -> None:
        self.path, self.what = Path(path), what  # ``what`` names the file in messages

    @classmethod
    @abstractmethod
    def claims(cls, path: Path) -> bool:
        """True where ``path`` is this kind of source."""

    @abstractmethod
    def example_arrays(self, names: Sequence[str]) -> Feed:
        """The first call's arrays by input name, for a caller with no signature yet (export):
        ``names`` are the inputs in order, used where the source does not name its arrays."""


class NpzFile(DataFile):
    """An .npz: one array per input, named by input, plus optional ``labels`` and ``slices``.
    Read whole by :meth:`load`, or streamed a block of rows at a time by :meth:`batches`."""

    @classmethod
    def claims(cls, path: Path) -> bool:
        path = Path(path)
        # A missing file, too: reading it says it is missing.
        return not path.exists() or (path.is_file() and (path.suffix.lower() == ".npz" or zipfile.is_zipfile(path)))

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array of the source by name (inputs, and ``labels``/``slices`` where present)."""
        return read_npz(self.path)

    def load(
        self,
        specs: tuple[TensorSpec, ...],
        *,
        need_labels: bool = False,
        given: dict[str, np.ndarray] | None = None,
        defaults: dict[str, np.ndarray] | None = None,
    ) -> Dataset:
        path = self.path
        arrays = self.arrays()
        labels = arrays.pop(LABELS_KEY, None)
        slices = arrays.pop(SLICES_KEY, None)
        given = {**{k: v for k, v in (defaults or {}).items() if k not in arrays}, **(given or {})}
        open_specs = tuple(s for s in specs if s.name not in given)
        one_each = _one_sample_per_call(path, arrays, open_specs)
        if one_each is not None:
            dataset = _calls_of_one(path, one_each, open_specs, given, labels, slices)
        else:
            inputs = {**match_inputs(arrays, open_specs, source=str(path), consistent=False), **given}
            dataset = _split(path, specs, open_specs, inputs, labels, slices)
        if need_labels and labels is None:
            raise DataError(
                f"{path} has no '{LABELS_KEY}' array, but labels are needed here; "
                f"add one label per sample under the key '{LABELS_KEY}'."
            )
        _check_labels(path, labels)
        if dataset.whole and one_each is None:  # calls as given: labels describe the outputs joined
            return dataset
        n = dataset.num_samples
        if n == 0:
            raise empty_error(path)
        if labels is not None and len(labels) != n:
            raise DataError(f"{path}: '{LABELS_KEY}' has {len(labels)} entries but the inputs have {n} samples.")
        if slices is not None and (slices.ndim != 1 or len(slices) != n):
            raise DataError(
                f"{path}: '{SLICES_KEY}' must hold one group id per sample ({n}), got shape {tuple(slices.shape)}."
            )
        return dataset

    def count(self, specs: tuple[TensorSpec, ...]) -> int:
        return count_samples(require_file(self.path, self.what), specs)

    def batches(self, specs: tuple[TensorSpec, ...], *, batch_size: int, limit: int | None = None) -> Iterator[Feed]:
        yield from iter_blocks(self.path, specs, batch_size=batch_size, limit=limit)

    def example_arrays(self, names: Sequence[str]) -> Feed:
        arrays: Feed = {k: v for k, v in read_npz(self.path).items() if k not in RESERVED_KEYS}
        if not arrays:
            raise InputSpecError(f"{self.path} holds no input arrays.")
        return arrays


class TestDataFolder(DataFile):
    """ONNX's test-data layout, ``DIR/test_data_set_N/input_K.pb``: each set is one call, as given,
    with its expected outputs where the set holds them. Small by nature, so always read whole."""

    __test__ = False  # not a pytest test class, whatever its name says
    calls_as_given = True

    @classmethod
    def claims(cls, path: Path) -> bool:
        return is_test_data_dir(path)

    def load(
        self,
        specs: tuple[TensorSpec, ...],
        *,
        need_labels: bool = False,
        given: dict[str, np.ndarray] | None = None,
        defaults: dict[str, np.ndarray] | None = None,
    ) -> Dataset:
        return load_test_data(self.path, specs, given=given, defaults=defaults)

    def count(self, specs: tuple[TensorSpec, ...]) -> int:
        return len(self.load(specs).calls)

    def batches(self, specs: tuple[TensorSpec, ...], *, batch_size: int, limit: int | None = None) -> Iterator[Feed]:
        yield from self.load(specs).calls[:limit]

    def example_arrays(self, names: Sequence[str]) -> Feed:
        return first_set_inputs(self.path, names)


class NpyFile(NpzFile):
    """One .npy file: the array of a one-input model (samples on its batch axis). Read whole."""

    @classmethod
    def claims(cls, path: Path) -> bool:
        path = Path(path)
        return path.suffix.lower() == ".npy" and not path.is_dir()

    def arrays(self) -> dict[str, np.ndarray]:
        return {self.path.stem: read_npy(self.path)}

    def count(self, specs: tuple[TensorSpec, ...]) -> int:
        dataset = self.load(specs)
        return len(dataset.calls) if dataset.whole else dataset.num_samples

    def batches(self, specs: tuple[TensorSpec, ...], *, batch_size: int, limit: int | None = None) -> Iterator[Feed]:
        dataset = self.load(specs)
        if dataset.whole:
            yield from dataset.calls[:limit]
            return
        total = dataset.num_samples if limit is None else min(limit, dataset.num_samples)
        for start in range(0, total, batch_size):
            yield dataset.batch(start, min(start + batch_size, total))

    def example_arrays(self, names: Sequence[str]) -> Feed:
        arrays = {k: v for k, v in self.arrays().items() if k not in RESERVED_KEYS}
        if len(arrays) == 1 and names:
            return {names[0]: next(iter(arrays.values()))}
        return arrays


class NpyFolder(NpyFile):
    """A folder of ``NAME.npy`` files, one per input (``labels.npy``, ``slices.npy`` as in an .npz)."""

    @classmethod
    def claims(cls, path: Path) -> bool:
        path = Path(path)
        return path.is_dir() and any(p.suffix.lower() == ".npy" for p in path.iterdir())

    def arrays(self) -> dict[str, np.ndarray]:
        return {p.stem: read_npy(p) for p in sorted(self.path.iterdir()) if p.suffix.lower() == ".npy"}

    def example_arrays(self, names: Sequence[str]) -> Feed:
        arrays = {k: v for k, v in self.arrays().items() if k not in RESERVED_KEYS}
        return {names[0]: next(iter(arrays.values()))} if len(arrays) == 1 and names else arrays


# Every kind of data file, asked in order: the first that claims a path reads it.
FILE_KINDS: tuple[type[DataFile], ...] = (TestDataFolder, NpyFolder, NpyFile, NpzFile)
ACCEPTED = (
    "an .npz (arrays named by input), an .npy (a one-input model), a folder of NAME.npy files "
    "or an ONNX test-data folder (test_data_set_0/input_0.pb, ...)"
)
_KNOWN_SUFFIXES = {
    ".csv": "a CSV file",
    ".tsv": "a TSV file",
    ".txt": "a text file",
    ".json": "a JSON file",
    ".py": "Python source",
    ".onnx": "an ONNX model",
    ".pb": "a protobuf file",
    ".pt": "a PyTorch file",
    ".pth": "a PyTorch file",
    ".pkl": "a pickle",
    ".pickle": "a pickle",
    ".parquet": "a Parquet file",
    ".h5": "an HDF5 file",
    ".toml": "a TOML file",
}


def _what_it_is(path: Path) -> str:
    if path.is_dir():
        return "a folder with neither test_data_set_N folders nor .npy files"
    known = _KNOWN_SUFFIXES.get(path.suffix.lower())
    if known:
        return known
    with open(path, "rb") as handle:
        head = handle.read(4096)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "a binary file that is no zip archive (so no .npz)"
    return "a text file"


def open_source(path: Path, *, what: str = "data file") -> DataFile:
    """The data source ``path`` is: the one place that decides.

    Args:
        path: an .npz, an .npy, a folder of NAME.npy files or an ONNX test-data folder.
        what: how messages name it ("data file", "calibration file").

    Raises:
        DataError: a file or folder that is no kind of data source, in one line (exit 2).
    """
    path = Path(path)
    for kind in FILE_KINDS:
        if kind.claims(path):
            return kind(path, what)
    raise DataError(f"{path} is {_what_it_is(path)}, not a {what} mlpack reads; pass {ACCEPTED}.")


@dataclass(frozen=True)
class GeneratedInputs(DataSource):
    """Seeded inputs that look like what the model would see, where no data is given
    (:mod:`mlpack.data.generate`): one batch of ``batch_size`` samples."""

    batch_size: int
    seed: int = 0
    hints: InputHints = field(default_factory=InputHints)  # what the graph says is plausible
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # planned by mlpack.data.shapes

    def load(
        self,
        specs: tuple[TensorSpec, ...],
        *,
        need_labels: bool = False,
        given: dict[str, np.ndarray] | None = None,
        defaults: dict[str, np.ndarray] | None = None,
    ) -> Dataset:
        if need_labels:
            raise DataError("generated inputs have no labels; pass data with a 'labels' array.")
        # Generated values are no real data: values given and a stream's initial state replace them.
        feeds = generate_inputs(specs, batch_size=self.batch_size, seed=self.seed, hints=self.hints, shapes=self.shapes)
        inputs = {**feeds, **(given or {}), **(defaults or {})}
        return Dataset(inputs=inputs, axes=signature_batch_axes(specs).axes)

    def count(self, specs: tuple[TensorSpec, ...]) -> int:
        return self.batch_size

    def batches(self, specs: tuple[TensorSpec, ...], *, batch_size: int, limit: int | None = None) -> Iterator[Feed]:
        dataset = self.load(specs)
        total = min(limit or self.batch_size, self.batch_size)
        for start in range(0, total, batch_size):
            yield dataset.batch(start, min(start + batch_size, total))


def load_dataset(
    path: Path,
    specs: tuple[TensorSpec, ...],
    *,
    need_labels: bool = False,
    given: dict[str, np.ndarray] | None = None,
    defaults: dict[str, np.ndarray] | None = None,
) -> Dataset:
    """Load a data file (any kind :func:`open_source` takes) and match it to the model inputs.

    Args:
        path: an .npz (one array per input, named by input, plus optional ``labels`` and
            ``slices``), an .npy (one input), a folder of NAME.npy files, or a directory of
            ``test_data_set_N/input_K.pb`` (each set one call).
        specs: the model's inputs; names, shapes and dtypes are checked against them.
        need_labels: raise DataError unless the file has labels.
        given: values for inputs that the file may lack (``--set NAME=VALUE``); they are fed
            whole with every batch and override the file's arrays.
        defaults: values for inputs only where the file lacks them (a stream's initial state).
    """
    return open_source(path).load(specs, need_labels=need_labels, given=given, defaults=defaults)


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


def _one_sample_per_call(
    path: Path, arrays: dict[str, np.ndarray], specs: tuple[TensorSpec, ...]
) -> dict[str, np.ndarray] | None:
    """The arrays by input where the model takes one sample per call (``takes_one_sample``) and the
    file holds more than one on axis 0, to be fed one at a time; else None.

    Raises:
        InputSpecError: the arrays disagree on the number of samples (exit 2).
    """
    matched = arrays_by_input(arrays, specs) if takes_one_sample(specs) else None
    if matched is None:
        return None
    shaped = [spec for spec in specs if spec.shape]  # scalars go whole with every call
    shapes: list[tuple[int, ...]] = [tuple(getattr(matched[spec.name], "shape", ())) for spec in shaped]
    if any(not shape or len(shape) != len(spec.shape) for shape, spec in zip(shapes, shaped, strict=True)):
        return None
    rows = {shape[0] for shape in shapes}
    if len(rows) > 1:  # said as the streamed reader says it, not as "dimension 0 must be 1"
        raise InputSpecError(f"{path}: the input arrays disagree on the number of samples ({sorted(rows)}).")
    return matched if rows.pop() > 1 else None


def _calls_of_one(
    path: Path,
    arrays: dict[str, np.ndarray],
    specs: tuple[TensorSpec, ...],
    given: dict[str, np.ndarray],
    labels: np.ndarray | None,
    slices: np.ndarray | None,
) -> Dataset:
    """Every sample of ``arrays`` (by input) as a call of its own, checked against the inputs; a
    scalar input goes whole with every call."""
    whole = {s.name: check_array(arrays[s.name], s, source=str(path)) for s in specs if not s.shape}
    samples = len(next(arrays[s.name] for s in specs if s.shape))
    calls = tuple(
        {**{s.name: check_array(arrays[s.name][i : i + 1], s, source=str(path)) for s in specs if s.shape}, **whole}
        | given
        for i in range(samples)
    )
    note = (
        f"the model takes one sample per call (its batch dimension is fixed at 1): the {samples} samples are "
        "fed one at a time"
    )
    return Dataset(inputs=dict(calls[0]), labels=labels, slices=slices, calls=calls, notes=(note,))


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
