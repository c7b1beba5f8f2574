"""Calibration data for static INT8, streamed from an .npz one batch at a time, or read from ONNX's
test-data layout (``test_data_set_N/input_K.pb``), where each test set is one batch as given.

The .npz is read lazily, row block by row block, so the file's size never decides memory;
how many activations calibration holds at once is ``mlpack.quant.ranges``'s job (it caps the
batch by the activation bytes it implies, within ``--calibration-memory``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpack.core.batching import takes_one_sample
from mlpack.core.signature import TensorSpec
from mlpack.data.dataset import DegeneracyScan
from mlpack.data.sources import DataFile, open_source

if TYPE_CHECKING:
    import numpy as np

DEFAULT_BATCH = 32


def inspect_calibration(path: Path, specs: tuple[TensorSpec, ...]) -> int:
    """Check the calibration file against the model inputs; return its number of samples (of an
    ONNX test-data directory: its number of test sets, each one batch).

    Raises:
        DataError: no samples, or degenerate data (NaN or infinities, every float input constant):
            ranges calibrated on it would be meaningless (exit 2).
    """
    samples = _source(path).count(specs)
    _scan_once(Path(path), specs)
    return samples


_SCANNED: set[tuple[str, int, int, str]] = set()


def _scan_once(path: Path, specs: tuple[TensorSpec, ...]) -> None:
    """Read the data once per run for NaN and constant inputs (several stages inspect the same file)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, repr(specs))
    if key in _SCANNED:
        return
    scan = DegeneracyScan(path)
    for feeds in iter_batches(path, specs, batch_size=DEFAULT_BATCH):
        scan.add(feeds)
    scan.finish()
    _SCANNED.add(key)


def iter_batches(
    path: Path, specs: tuple[TensorSpec, ...], *, batch_size: int = DEFAULT_BATCH, limit: int | None = None
) -> Iterator[dict[str, np.ndarray]]:
    """Batches of checked model inputs, read lazily from the .npz; of an ONNX test-data directory,
    each test set as given (``limit`` then counts sets)."""
    yield from _source(path).batches(specs, batch_size=batch_size, limit=limit)


def _source(path: Path) -> DataFile:
    return open_source(path, what="calibration file")


class NpzCalibrationReader:
    """onnxruntime's CalibrationDataReader protocol (get_next, __len__, set_range) over an .npz."""

    def __init__(
        self, path: Path, specs: tuple[TensorSpec, ...], *, batch_size: int = DEFAULT_BATCH, limit: int | None = None
    ) -> None:
        batch_size = 1 if takes_one_sample(specs) else batch_size  # as the .npz is read: no larger batch fits
        self.path, self.specs, self.batch_size, self.limit = Path(path), specs, batch_size, limit
        source = _source(self.path)
        samples = source.count(specs)
        self.samples = min(samples, limit) if limit else samples
        # A test set is one batch as given; an .npz's samples are grouped into batches.
        self.batches = self.samples if source.calls_as_given else -(-self.samples // batch_size)
        self._iterator: Iterator[dict[str, Any]] | None = None
        self._left = self.batches

    def __len__(self) -> int:
        return self.batches

    def set_range(self, start_index: int, end_index: int) -> None:
        # onnxruntime asks for consecutive ranges in order; the stream continues where it stopped.
        if self._iterator is None or start_index == 0:
            self._iterator = iter_batches(self.path, self.specs, batch_size=self.batch_size, limit=self.limit)
        self._left = end_index - start_index

    def get_next(self) -> dict[str, Any] | None:
        if self._iterator is None:
            self._iterator = iter_batches(self.path, self.specs, batch_size=self.batch_size, limit=self.limit)
        if self._left <= 0:
            return None
        self._left -= 1
        return next(self._iterator, None)

    def rewind(self) -> None:
        self._iterator = None
        self._left = self.batches

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """All batches from the start (onnxruntime's debugging tools iterate readers)."""
        self.rewind()
        while (batch := self.get_next()) is not None:
            yield batch
