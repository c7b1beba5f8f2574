"""Opening zip archives safely: no absolute paths, no '..', no links, no duplicates, no bombs."""

from __future__ import annotations

import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from mlpack.core.validate import MAX_NAME_BYTES
from mlpack.errors import ArchiveError, TamperError

MAX_ENTRIES = 10_000
MAX_TOTAL_BYTES = 16 * 1024**3  # more than any model we package
MAX_RATIO = 200  # uncompressed / compressed: far above what ONNX weights compress to


def check_entries(archive: zipfile.ZipFile, source: Path) -> list[zipfile.ZipInfo]:
    """Every entry, after refusing anything that could write outside the target or explode."""
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise ArchiveError(f"{source} has {len(infos)} entries (more than {MAX_ENTRIES}): refusing to open it.")
    seen: set[str] = set()
    total = 0
    compressed = 0
    for info in infos:
        name = info.filename
        path = PurePosixPath(name)
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or path.is_absolute():
            raise ArchiveError(f"{source}: entry '{name}' has an absolute path; refusing to extract.")
        if ".." in path.parts or "\\" in name:
            raise ArchiveError(f"{source}: entry '{name}' climbs out of the package ('..'); refusing to extract.")
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise ArchiveError(f"{source}: entry '{name}' is a symbolic link; refusing to extract.")
        if name in seen:
            raise ArchiveError(f"{source}: entry '{name}' appears twice; refusing an ambiguous package.")
        if any(len(part.encode("utf-8")) > MAX_NAME_BYTES for part in path.parts):
            raise ArchiveError(f"{source}: entry '{name[:80]}...' has a name over {MAX_NAME_BYTES} bytes; refusing it.")
        seen.add(name)
        total += info.file_size
        compressed += info.compress_size
    _refuse_file_folder_clash(seen, source)
    if total > MAX_TOTAL_BYTES or (compressed and total / compressed > MAX_RATIO and total > 64 * 1024**2):
        raise ArchiveError(
            f"{source} would expand to {total / 1024**2:.0f} MB from {compressed / 1024**2:.1f} MB "
            "(an archive bomb?); refusing to extract."
        )
    return infos


def _refuse_file_folder_clash(names: set[str], source: Path) -> None:
    """``x`` beside ``x/y``: one of them cannot be extracted, whichever comes second."""
    files = {name for name in names if not name.endswith("/")}
    for name in names:
        parts = name.rstrip("/").split("/")
        for end in range(1, len(parts)):
            if "/".join(parts[:end]) in files:
                raise ArchiveError(
                    f"{source}: entry '{'/'.join(parts[:end])}' is a file and also the folder of '{name}'; refusing it."
                )


def safe_extract(archive: zipfile.ZipFile, source: Path, destination: Path) -> list[Path]:
    """Extract into ``destination`` only, after :func:`check_entries`; returns the files written."""
    destination = destination.resolve()
    written = []
    for info in check_entries(archive, source):
        if info.is_dir():
            continue
        target = (destination / info.filename).resolve()
        if destination not in target.parents:
            raise ArchiveError(f"{source}: entry '{info.filename}' resolves outside the target folder.")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with archive.open(info) as src, open(target, "wb") as dst:
                remaining = info.file_size + 1  # a lying header cannot make us write more than it declared
                while chunk := src.read(min(1024 * 1024, remaining)):
                    remaining -= len(chunk)
                    if remaining <= 0:
                        raise ArchiveError(f"{source}: entry '{info.filename}' is larger than its header says.")
                    dst.write(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:  # CRC or deflate errors: changed bytes
            raise TamperError(f"{source}: '{info.filename}' is corrupt or was modified ({exc}).") from exc
        written.append(target)
    return written
