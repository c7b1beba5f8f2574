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

The manifest is a typed object, :class:`Manifest`, read and written only here: pack builds one
and seals it, and every reader (verify, run, drift, inspect) gets one from :func:`read_manifest`
or :class:`~mlpack.artifact.opened.OpenedPackage`. Its JSON form (:meth:`Manifest.to_dict`) is
the manifest as stored: the self-hash is computed over it, so packages made before still verify.
"""

from __future__ import annotations

import copy
import hashlib
import json
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlpack.artifact.archive import check_entries
from mlpack.artifact.schema import schema_problem
from mlpack.core.fidelity import Tolerance
from mlpack.core.fileio import require_file
from mlpack.core.jsonout import strict
from mlpack.core.signature import Signature
from mlpack.data.feeds import FeedOptions
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


@dataclass(frozen=True)
class FileEntry:
    """One packaged file: its SHA-256 and size in bytes."""

    sha256: str
    size: int | None = None  # None only in a hand-made manifest that leaves it out

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "size": self.size}


@dataclass(frozen=True)
class ModelEntry:
    """The packaged model: where it is, what it takes and gives, and how it is fed."""

    path: str
    signature: Signature
    opset: int = 0
    producer: str = ""
    size_bytes: int = 0  # the model and its external data files
    # As stored; parsed by :meth:`feed_options` where it is used, so a verify or inspect that does
    # not feed the model never refuses a package for it.
    feeding: Mapping[str, Any] | None = None

    def feed_options(self) -> FeedOptions:
        """The state pairs and values by name the package was made with (none in older packages)."""
        return FeedOptions.from_dict(dict(self.feeding) if self.feeding is not None else None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "signature": self.signature.to_dict(),
            "opset": self.opset,
            "producer": self.producer,
            "size_bytes": self.size_bytes,
            "feeding": dict(self.feeding) if self.feeding is not None else None,
        }


@dataclass(frozen=True)
class GoldenEntry:
    """Golden samples: inputs, the outputs the model gave for them when packed, and how close a
    machine must come to those outputs."""

    count: int
    inputs: str = GOLDEN_INPUTS
    outputs: str = GOLDEN_OUTPUTS
    tolerance: Tolerance = GOLDEN_TOLERANCE

    def to_dict(self) -> dict[str, Any]:
        tolerance = self.tolerance.to_dict()
        return {"count": self.count, "inputs": self.inputs, "outputs": self.outputs, "tolerance": tolerance}


@dataclass(frozen=True)
class DataStatsEntry:
    """Where the recorded data statistics are, how many samples they summarise, their size."""

    path: str
    schema: str | None = None
    samples: int | None = None
    source: str | None = None
    size_bytes: int | None = None
    max_bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "schema": self.schema,
            "samples": self.samples,
            "source": self.source,
            "size_bytes": self.size_bytes,
            "max_bytes": self.max_bytes,
        }


@dataclass(frozen=True)
class Manifest(Mapping[str, Any]):
    """A package's manifest. Also a read-only mapping of its JSON form (``manifest["files"]``), as
    :func:`read_manifest` returned before it was typed.

    Built by pack (then :meth:`sealed`), or parsed by :meth:`from_dict` from a manifest whose hash
    and schema were checked. Free-form sections (preprocessing, optimization, the check report,
    the model card, provenance) are kept as the tables they are.
    """

    name: str
    version: str
    files: Mapping[str, FileEntry]
    model: ModelEntry
    provenance: Mapping[str, Any]
    format: str = FORMAT
    created: str | None = None
    preprocessing: Mapping[str, Any] = field(default_factory=dict)
    optimization: Mapping[str, Any] = field(default_factory=dict)
    check: Mapping[str, Any] | None = None
    golden: GoldenEntry | None = None
    data_stats: DataStatsEntry | None = None
    model_card: Mapping[str, Any] = field(default_factory=dict)
    manifest_sha256: str = ""
    # The JSON form: built from the fields, or, for a manifest read from a package, exactly as
    # stored (an older package may lack a key this version writes; the hash covers what is stored).
    _json: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_json", self._build())

    def _build(self) -> dict[str, Any]:
        built = {
            "format": self.format,
            "name": self.name,
            "version": self.version,
            "created": self.created,
            "files": {name: entry.to_dict() for name, entry in self.files.items()},
            "model": self.model.to_dict(),
            "preprocessing": dict(self.preprocessing),
            "optimization": dict(self.optimization),
            "check": dict(self.check) if self.check is not None else None,
            "golden": self.golden.to_dict() if self.golden else None,
            "data_stats": self.data_stats.to_dict() if self.data_stats else None,
            "model_card": dict(self.model_card),
            "provenance": dict(self.provenance),
        }
        return {**built, "manifest_sha256": self.manifest_sha256} if self.manifest_sha256 else built

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, as written into (or read from) ``manifest.json``."""
        return copy.deepcopy(self._json)

    def sealed(self) -> Manifest:
        """This manifest with its own hash, as it is written into the package."""
        return replace(self, manifest_sha256=manifest_hash(self._build()))

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> Manifest:
        """A manifest as stored in a package (its hash and schema checked by the reader)."""
        model, golden, stats = stored["model"], stored.get("golden"), stored.get("data_stats")
        manifest = cls(
            name=stored["name"],
            version=stored["version"],
            files={name: FileEntry(e["sha256"], e.get("size")) for name, e in stored["files"].items()},
            model=ModelEntry(
                path=model["path"],
                signature=Signature.from_dict(model["signature"]),
                opset=model.get("opset", 0),
                producer=model.get("producer", ""),
                size_bytes=model.get("size_bytes", 0),
                feeding=model.get("feeding"),
            ),
            provenance=stored["provenance"],
            format=stored["format"],
            created=stored.get("created"),
            preprocessing=stored.get("preprocessing") or {},
            optimization=stored.get("optimization") or {},
            check=stored.get("check"),
            golden=_golden(golden) if golden else None,
            data_stats=DataStatsEntry(**{k: stats.get(k) for k in _STATS_KEYS}) if stats else None,
            model_card=stored.get("model_card") or {},
            manifest_sha256=stored["manifest_sha256"],
        )
        object.__setattr__(manifest, "_json", stored)
        return manifest

    # The read-only mapping of the JSON form.
    def __getitem__(self, key: str) -> Any:
        return self._json[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._json)

    def __len__(self) -> int:
        return len(self._json)


_STATS_KEYS = ("path", "schema", "samples", "source", "size_bytes", "max_bytes")


def _golden(stored: dict[str, Any]) -> GoldenEntry:
    tolerance = stored.get("tolerance")
    return GoldenEntry(
        count=stored["count"],
        inputs=stored["inputs"],
        outputs=stored["outputs"],
        tolerance=Tolerance(**tolerance) if tolerance is not None else GOLDEN_TOLERANCE,
    )


def manifest_hash(manifest: Mapping[str, Any]) -> str:
    """SHA-256 of the manifest's canonical form: sorted keys, no whitespace, without its own hash."""

    # Hashed as written: strict JSON (a NaN metric is null), so the hash holds for what is read back.
    body = strict({k: v for k, v in manifest.items() if k != "manifest_sha256"})
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def seal(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest with its own hash added, as it is written into the package (strict JSON: a metric
    that could not be computed is null, never a bare NaN)."""

    body = strict(manifest)
    return {**body, "manifest_sha256": manifest_hash(body)}


def is_package(path: Path) -> bool:
    """Whether ``path`` is a zip with a manifest (a package, intact or not), as opposed to a model."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return MANIFEST in archive.namelist()


def load_manifest(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The manifest as stored (a plain table: it may be broken), and what is wrong with it (an
    empty list when it is intact; then :meth:`Manifest.from_dict` reads it).

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


def read_manifest(path: Path) -> Manifest:
    """The manifest of a package, checked against its own hash and its schema.

    Args:
        path: the ``.mlpack`` file.

    Returns:
        The manifest (see the module docstring for what it holds).

    Raises:
        ArchiveError: ``path`` is not a zip, holds unsafe entries, has no manifest, or was
            written in another package format (exit 2).
        TamperError: the manifest is corrupt, malformed or changed after packing (exit 1).
    """
    manifest, problems = load_manifest(path)
    if problems:
        raise TamperError(f"{path}: {problems[0]}")
    return Manifest.from_dict(manifest)
