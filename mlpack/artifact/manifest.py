"""The manifest of an .mlpack package: its schema, its canonical form and self-hash, reading it back.

Layout of a package::

    manifest.json          format, name, version, signature, hashes, metrics, provenance, model card
    model/<name>.onnx      the model (and its external data files, if any)
    golden/inputs.npz      a few inputs ...
    golden/outputs.npz     ... and the outputs the model gave for them when packed
    stats/data.json        statistics of the validation inputs and outputs (pack --data), for drift
    files/<name>           user files added with --include (labels, tokenizer files)

Every file's SHA-256 is in the manifest, and the manifest carries the SHA-256 of its own
canonical form, so changing any byte of either is detected by ``verify``. (Without a signature
this catches corruption and careless edits, not an attacker who rewrites both.)
"""

from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from pathlib import Path
from typing import Any

from mlpack.artifact.archive import check_entries
from mlpack.artifact.schema import schema_problem
from mlpack.core.fidelity import Tolerance
from mlpack.core.fileio import require_file
from mlpack.errors import ArchiveError, TamperError

FORMAT = "mlpack.package/1"
MANIFEST = "manifest.json"
GOLDEN_INPUTS = "golden/inputs.npz"
GOLDEN_OUTPUTS = "golden/outputs.npz"
DATA_STATS = "stats/data.json"  # listed under "data_stats" with its sample count and size
# Golden outputs are compared across machines and runtimes: float reassociation, not bugs.
GOLDEN_TOLERANCE = Tolerance(atol=1e-3, rtol=1e-3, min_cosine=0.999)
_REQUIRED = {
    "format": str,
    "name": str,
    "version": str,
    "files": dict,
    "model": dict,
    "provenance": dict,
    "manifest_sha256": str,
}


def manifest_hash(manifest: dict[str, Any]) -> str:
    """SHA-256 of the manifest's canonical form: sorted keys, no whitespace, without its own hash."""
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def seal(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest with its own hash added, as it is written into the package."""
    return {**manifest, "manifest_sha256": manifest_hash(manifest)}


def is_package(path: Path) -> bool:
    """Whether ``path`` is a zip with a manifest (a package, intact or not), as opposed to a model."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return MANIFEST in archive.namelist()


def load_manifest(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The manifest as stored, and what is wrong with it (an empty list when it is intact).

    The manifest is returned even when it fails its checks, so that a verdict can still name the
    package; it is ``{}`` when it cannot be parsed at all. Raises :class:`ArchiveError` where the
    file is not a package that can be opened safely (not a zip, hostile entries, another format).
    """
    path = require_file(Path(path), "package")
    try:
        with zipfile.ZipFile(path) as archive:
            check_entries(archive, path)
            if MANIFEST not in archive.namelist():
                raise ArchiveError(f"{path} has no {MANIFEST}: it is not an .mlpack package.")
            raw = archive.read(MANIFEST)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        if not isinstance(exc, zipfile.BadZipFile) or "CRC" in str(exc):
            return {}, [f"{MANIFEST} is corrupt or was modified ({exc})."]
        raise ArchiveError(f"{path} is not a readable .mlpack package (zip): {exc}") from exc
    try:
        manifest = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}, [f"{MANIFEST} is not valid JSON any more: it was modified or corrupted."]
    if not isinstance(manifest, dict):
        return {}, [f"{MANIFEST} is not a JSON object: not a valid manifest."]
    return manifest, _schema_problems(manifest, path)


def _schema_problems(manifest: dict[str, Any], path: Path) -> list[str]:
    for key, kind in _REQUIRED.items():
        if not isinstance(manifest.get(key), kind):
            return [f"{MANIFEST} lacks '{key}' ({kind.__name__}): not a valid manifest."]
    if manifest["format"] != FORMAT:
        # Not tampering: a package this version cannot read, so the input is unusable here.
        raise ArchiveError(
            f"{path}: package format {manifest['format']!r} is not {FORMAT!r}; use the mlpack version that wrote it."
        )
    if manifest_hash(manifest) != manifest["manifest_sha256"]:
        return [f"{MANIFEST} was modified after packing (its hash does not match)."]
    problem = schema_problem(manifest)
    if problem:  # sealed as it is, so not tampering: a package no mlpack wrote, unsafe to use
        raise ArchiveError(f"{path}: {MANIFEST} is not a valid manifest: {problem}.")
    return []


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of a package, checked against its own hash and its schema.

    Args:
        path: the ``.mlpack`` file.

    Returns:
        The manifest as a dict (see the module docstring for what it holds).

    Raises:
        ArchiveError: ``path`` is not a zip, holds unsafe entries, has no manifest, or was
            written in another package format (exit 2).
        TamperError: the manifest is corrupt, malformed or changed after packing (exit 1).
    """
    manifest, problems = load_manifest(path)
    if problems:
        raise TamperError(f"{path}: {problems[0]}")
    return manifest
