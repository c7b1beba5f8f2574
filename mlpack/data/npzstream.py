"""Reading an .npz lazily: the rows of each array in blocks, so a large data file never sits in memory.

``np.load`` on an .npz reads a whole array at a time. Calibration, data statistics and drift
read a file once, front to back, one block of rows at a time: each array's .npy member is opened
in the zip (stored or deflated alike) and its header parsed, then rows are read as they are needed.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from mlpack.core.batching import takes_one_sample
from mlpack.core.fileio import require_file
from mlpack.core.signature import TensorSpec
from mlpack.data.dataset import RESERVED_KEYS, check_array, empty_error
from mlpack.data.npz import check_member, check_npz
from mlpack.errors import DataError, InputSpecError

if TYPE_CHECKING:
    import numpy as np


class NpyStream:
    """Rows of one array inside an .npz, read in blocks without loading the whole array."""

    def __init__(self, archive: zipfile.ZipFile, member: str) -> None:
        import numpy as np
        from numpy.lib import format as npy

        # The header's row count is believed only once the member is shown to hold those rows.
        check_member(archive, archive.getinfo(member), Path(str(archive.filename)))
        self.handle = archive.open(member)
        version = npy.read_magic(self.handle)
        if version == (1, 0):
            shape, fortran, dtype = npy.read_array_header_1_0(self.handle)
        else:
            shape, fortran, dtype = npy.read_array_header_2_0(self.handle)
        if fortran or dtype.hasobject:
            raise DataError(f"array '{member}' must be a plain C-ordered numeric array to be read in blocks.")
        self.shape: tuple[int, ...] = shape
        self.dtype: np.dtype = dtype
        self.row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize if shape else dtype.itemsize

    def read(self, rows: int) -> np.ndarray:
        import numpy as np

        data = self.handle.read(rows * self.row_bytes)
        count = len(data) // self.row_bytes if self.row_bytes else rows
        return np.frombuffer(
            data, dtype=self.dtype, count=count * int(np.prod(self.shape[1:], dtype=np.int64))
        ).reshape((count, *self.shape[1:]))


def npz_members(archive: zipfile.ZipFile) -> dict[str, str]:
    """Array name -> its member in the zip."""
    return {name[:-4]: name for name in archive.namelist() if name.endswith(".npy")}


def map_members(members: dict[str, str], specs: tuple[TensorSpec, ...], path: Path) -> dict[str, str]:
    """Model input name -> the zip member holding it (a one-input model may use any single array)."""
    if len(specs) == 1 and len(members) == 1:
        return {specs[0].name: next(iter(members.values()))}
    missing = [s.name for s in specs if s.name not in members]
    if missing:
        raise InputSpecError(f"{path} lacks arrays for the model inputs {missing}; it has {sorted(members)}.")
    return {s.name: members[s.name] for s in specs}


def count_samples(path: Path, specs: tuple[TensorSpec, ...]) -> int:
    """Check an .npz against the model inputs (names, first row's shape and dtype) without reading it
    whole; return its number of samples (at least 1).

    Args:
        path: the .npz data file.
        specs: the model inputs its arrays must match.

    Raises:
        DataError: the file is missing, not a readable .npz, holds no input arrays, no samples, or
            arrays whose headers claim more rows than the file holds (exit 2).
        InputSpecError: an array is missing, has the wrong shape or dtype, or the arrays disagree
            on the number of samples (exit 2).
    """
    path = require_file(Path(path), "data file")
    try:
        with zipfile.ZipFile(path) as archive:
            check_npz(archive, path)  # a header claiming rows the file does not hold is refused here
            members = {k: v for k, v in npz_members(archive).items() if k not in RESERVED_KEYS}
            if not members:
                raise DataError(f"{path} holds no input arrays: it needs samples of the model's inputs.")
            mapping = map_members(members, specs, path)
            counts = set()
            for spec in specs:
                stream = NpyStream(archive, mapping[spec.name])
                counts.add(stream.shape[0] if stream.shape else 0)
                if stream.shape and stream.shape[0]:
                    check_array(stream.read(1), spec, source=str(path))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DataError(f"{path} is not a readable .npz file (corrupt or truncated?): {exc}") from exc
    if len(counts) != 1:
        raise InputSpecError(f"{path}: the input arrays disagree on the number of samples ({sorted(counts)}).")
    samples = counts.pop()
    if samples == 0:
        raise empty_error(path)
    return samples


def iter_blocks(
    path: Path, specs: tuple[TensorSpec, ...], *, batch_size: int, limit: int | None = None
) -> Iterator[dict[str, np.ndarray]]:
    """Blocks of checked model inputs, ``batch_size`` rows at a time, read lazily from the .npz.

    Args:
        path: the .npz data file (check it first with :func:`count_samples` for clear errors).
        specs: the model inputs; each block has one array per input, named by input.
        batch_size: rows per block (the last block may be shorter).
        limit: read at most this many rows (None: all).
    """
    if takes_one_sample(specs):
        batch_size = 1  # no larger batch fits the model
    with zipfile.ZipFile(path) as archive:
        check_npz(archive, path)
        members = {k: v for k, v in npz_members(archive).items() if k not in RESERVED_KEYS}
        mapping = map_members(members, specs, path)
        streams = {spec.name: NpyStream(archive, mapping[spec.name]) for spec in specs}
        total = streams[specs[0].name].shape[0]
        remaining = min(limit or total, total)
        while remaining > 0:
            rows = min(batch_size, remaining)
            yield {spec.name: check_array(streams[spec.name].read(rows), spec, source=str(path)) for spec in specs}
            remaining -= rows
