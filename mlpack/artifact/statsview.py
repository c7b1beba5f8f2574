"""A package's recorded data statistics in brief, for ``mlpack inspect``."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import Any

from mlpack.artifact.manifest import Manifest
from mlpack.data.stats import MAX_BYTES, parse_stats
from mlpack.errors import DataError


def with_stats_overview(package: Path, manifest: Manifest) -> dict[str, Any]:
    """``manifest``'s JSON form with an ``overview`` added to its ``data_stats`` entry: the sample
    count and each input and output summarised. A manifest without statistics is returned as it is.

    Args:
        package: the ``.mlpack`` file the manifest was read from (its archive checked already).
        manifest: the package's manifest, checked against its own hash.
    """
    shown = manifest.to_dict()
    if manifest.data_stats is None:
        return shown
    overview = _overview(Path(package), manifest, manifest.data_stats.path)
    return {**shown, "data_stats": {**shown["data_stats"], "overview": overview}}


def _overview(package: Path, manifest: Manifest, member: str) -> dict[str, Any]:
    """The statistics' overview, or an ``error`` saying why they cannot be shown (inspect still shows the rest)."""
    with zipfile.ZipFile(package) as archive:
        if member not in archive.namelist():
            return {"error": f"{member} is missing from the package; run mlpack verify"}
        if archive.getinfo(member).file_size > MAX_BYTES:
            return {"error": f"{member} is larger than statistics can be ({MAX_BYTES} bytes); run mlpack verify"}
        raw = archive.read(member)
    # The schema makes the statistics one of the hashed files.
    if hashlib.sha256(raw).hexdigest() != manifest.files[member].sha256:
        return {"error": f"{member} does not match the manifest's hash; run mlpack verify"}
    try:
        return parse_stats(raw, source=f"{package}:{member}").overview()
    except DataError as exc:
        return {"error": exc.message}
