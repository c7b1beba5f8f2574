"""Writing outputs so that a failed run never leaves a partial file behind, and hashing files."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mlpack.core.validate import check_output
from mlpack.errors import BadInputError


@contextlib.contextmanager
def atomic_path(destination: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``destination``; rename it into place only on success.

    The temporary file lives in the same folder so that the final rename is atomic on POSIX.
    """
    destination = check_output(Path(destination), option="output")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent)
    except OSError as exc:
        raise BadInputError(f"cannot write {destination}: {exc.strerror or exc}; choose another path.") from exc
    # mkstemp makes the file private (0600); outputs get the mode the user's umask gives new files.
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, destination)
    except OSError as exc:
        full = disk_full(exc, destination)
        if full is None:
            raise
        raise full from exc
    finally:
        tmp.unlink(missing_ok=True)


# A write that the disk, a quota or a file-size limit (ulimit -f) stops: the user's environment, not a bug.
_FULL = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})


def disk_full(exc: BaseException, path: Path | str | None = None) -> BadInputError | None:
    """The one-line error for a write stopped by a full disk, a quota or a file-size limit, naming
    the file (``path``, else the one the OS named); None for any other error."""
    if not isinstance(exc, OSError) or exc.errno not in _FULL:
        return None
    where = path if path is not None else (exc.filename or "an output file")
    reason = os.strerror(exc.errno) if exc.errno is not None else str(exc)
    return BadInputError(
        f"cannot write {where}: {reason} (a full disk, a quota or a file-size limit); "
        "free some space or write elsewhere."
    )


@contextlib.contextmanager
def private_cwd(parent: Path) -> Iterator[Path]:
    """Run a library that writes scratch files into the working directory inside a fresh folder
    under ``parent`` instead, and remove that folder with whatever it left.

    Resolve every relative path before entering: the working directory changes for the duration.
    """
    import shutil

    folder = Path(tempfile.mkdtemp(prefix=".mlpack-cwd-", dir=parent))
    previous = os.getcwd()
    os.chdir(folder)
    try:
        yield folder
    finally:
        os.chdir(previous)
        shutil.rmtree(folder, ignore_errors=True)


def _umask() -> int:
    # The only way to read the umask is to set it; set it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(destination: Path, text: str) -> None:
    with atomic_path(destination) as tmp:
        tmp.write_text(text, encoding="utf-8")


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's content, read in blocks so that a large model never sits in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def require_file(path: Path, what: str = "file") -> Path:
    """Return ``path`` if it is an existing file, else raise a clear BadInputError."""
    path = Path(path)
    if not path.exists():
        raise BadInputError(f"{what} not found: {path}")
    if not path.is_file():
        raise BadInputError(f"{what} is not a file: {path}")
    return path
