"""Reading and writing .npz files; each array measured against the bytes the file really holds first.

An .npy header states a shape and dtype, and numpy allocates what it states before reading a byte:
a 30-byte header can ask for 238 GiB, and a truncated array claims rows that are not there (a lazy
reader then feeds empty batches for hours). Every loader calls :func:`check_npz` first, so a
header's claim is only believed when the member holds that many bytes.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpack.core.fileio import require_file
from mlpack.errors import DataError

if TYPE_CHECKING:
    import numpy as np

# Deflate cannot expand data more than about 1032:1; a member claiming more lies about its size.
_MAX_DEFLATE_RATIO = 1100


def check_npz(archive: zipfile.ZipFile, path: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """Each array's shape and dtype, once every .npy member is shown to hold what its header claims.

    Args:
        archive: the open .npz.
        path: the file, for messages and for its size on disk.

    Returns:
        Array name -> (shape, dtype name).

    Raises:
        DataError: a member larger than the file could hold, a header that cannot be read, or an
            array whose header claims more bytes than the member holds (truncated or forged) (exit 2).
    """
    arrays: dict[str, tuple[tuple[int, ...], str]] = {}
    for info in archive.infolist():
        if info.filename.endswith(".npy"):
            shape, dtype = check_member(archive, info, path)
            arrays[info.filename[:-4]] = (shape, dtype)
    return arrays


def check_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> tuple[tuple[int, ...], str]:
    """One .npy member's shape and dtype name, once it is shown to hold the bytes its header claims.

    Args:
        archive: the open .npz.
        info: the member.
        path: the file, for messages and for its size on disk.

    Raises:
        DataError: see :func:`check_npz` (exit 2).
    """
    import numpy as np
    from numpy.lib import format as npy

    name = info.filename[:-4]
    stored = info.compress_type == zipfile.ZIP_STORED
    if info.compress_size > os.path.getsize(path) or (stored and info.file_size != info.compress_size):
        raise DataError(f"{path}: array '{name}' claims more bytes than the file holds (truncated or forged).")
    if not stored and info.file_size > max(info.compress_size, 1) * _MAX_DEFLATE_RATIO:
        raise DataError(f"{path}: array '{name}' claims to expand beyond what compression allows (forged).")
    try:
        with archive.open(info) as handle:
            version = npy.read_magic(handle)
            reader = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, _, dtype = reader(handle)
            offset = handle.tell()
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: array '{name}' has no readable .npy header: {exc}") from exc
    if not dtype.hasobject:  # object arrays are refused by the loaders, which never unpickle
        claimed = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
        held = info.file_size - offset
        if claimed > held:
            raise DataError(
                f"{path}: array '{name}' claims shape {tuple(shape)} ({claimed:,} bytes) but holds "
                f"{held:,} bytes: the file is truncated or its header is wrong; write it again."
            )
    return tuple(shape), dtype.name


def read_npy(path: Path) -> np.ndarray:
    """The array of one .npy file, once it is shown to hold the bytes its header claims."""
    import numpy as np
    from numpy.lib import format as npy

    path = require_file(Path(path), "data file")
    try:
        with open(path, "rb") as handle:
            version = npy.read_magic(handle)
            reader = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, _, dtype = reader(handle)
            offset = handle.tell()
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{path} is not a readable .npy file (no NumPy array header): {exc}") from exc
    if dtype.hasobject:
        raise DataError(
            f"{path} holds a pickled object array, which mlpack refuses to load (it can run arbitrary code); "
            "save a plain numeric array."
        )
    claimed = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    if claimed > os.path.getsize(path) - offset:
        raise DataError(
            f"{path}: the array claims shape {tuple(shape)} ({claimed:,} bytes) but the file holds "
            f"{os.path.getsize(path) - offset:,}: it is truncated or its header is wrong; write it again."
        )
    return np.load(path, allow_pickle=False)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an .npz file. Pickled object arrays are refused: loading them runs code."""
    import numpy as np

    path = require_file(Path(path), "data file")
    if not zipfile.is_zipfile(path):
        # np.load would read a lone .npy (or text) as something else than a set of named arrays.
        raise DataError(
            f"{path} is not an .npz file (a zip of named arrays); save the inputs with numpy.savez, "
            "or pass an .npy, a folder of NAME.npy files or an ONNX test-data folder."
        )
    try:
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


def npz_bytes(arrays: dict[str, Any]) -> bytes:
    """The arrays as an uncompressed .npz file, in memory (golden samples, run outputs)."""
    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()
