"""A package's recorded data statistics in brief, for ``mlpack inspect``."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import Any

from mlpack.data.stats import MAX_BYTES, parse_stats
from mlpack.errors import DataError


def with_stats_overview(package: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """``manifest`` with an ``overview`` added to its ``data_stats`` entry: the sample count and each
    input and output summarised. A manifest without statistics is returned as it is.

    Args:
        package: the ``.mlpack`` file the manifest was read from (its archive checked already).
        manifest: the package's manifest, checked against its own hash.
    """
    entry = manifest.get("data_stats")
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        return manifest
    return {**manifest, "data_stats": {**entry, "overview": _overview(Path(package), manifest, entry["path"])}}


def _overview(package: Path, manifest: dict[str, Any], member: str) -> dict[str, Any]:
    """The statistics' overview, or an ``error`` saying why they cannot be shown (inspect still shows the rest)."""
    with zipfile.ZipFile(package) as archive:
        if member not in archive.namelist():
            return {"error": f"{member} is missing from the package; run mlpack verify"}
        if archive.getinfo(member).file_size > MAX_BYTES:
            return {"error": f"{member} is larger than statistics can be ({MAX_BYTES} bytes); run mlpack verify"}
        raw = archive.read(member)
    listed = (manifest.get("files") or {}).get(member, {}).get("sha256")
    if hashlib.sha256(raw).hexdigest() != listed:
        return {"error": f"{member} does not match the manifest's hash; run mlpack verify"}
    try:
        return parse_stats(raw, source=f"{package}:{member}").overview()
    except DataError as exc:
        return {"error": exc.message}
