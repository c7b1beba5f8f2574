"""The .mlpack artifact: one zip with the model, its manifest, and golden samples.

Layout::

    manifest.json          format, name, version, signature, hashes, metrics, provenance, model card
    model/<name>.onnx      the model (and its external data files, if any)
    golden/inputs.npz      a few inputs ...
    golden/outputs.npz     ... and the outputs the model gave for them when packed
    files/<name>           user files added with --include (labels, tokenizer files)

Every file's SHA-256 is in the manifest, and the manifest carries the SHA-256 of its own
canonical form, so changing any byte of either is detected by ``verify``. (Without a signature
this catches corruption and careless edits, not an attacker who rewrites both.)
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlpack.artifact.archive import check_entries, safe_extract
from mlpack.core.fidelity import Comparison, Tolerance, compare_outputs
from mlpack.core.fileio import atomic_path, require_file, sha256_file
from mlpack.core.signature import Signature
from mlpack.errors import ArchiveError, BadInputError, TamperError, VerificationError

FORMAT = "mlpack.package/1"
MANIFEST = "manifest.json"
GOLDEN_INPUTS = "golden/inputs.npz"
GOLDEN_OUTPUTS = "golden/outputs.npz"
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


def _canonical(manifest: dict[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


@dataclass(frozen=True)
class PackResult:
    output: Path
    manifest: dict[str, Any]
    size_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"output": str(self.output), "size_bytes": self.size_bytes, "manifest": self.manifest}


def pack(
    model: Path,
    output: Path,
    *,
    name: str | None = None,
    version: str = "0.1.0",
    include: tuple[Path, ...] = (),
    preprocessing: dict[str, Any] | None = None,
    optimization: dict[str, Any] | None = None,
    report: Path | None = None,
    golden: int = 4,
    golden_data: Path | None = None,
    model_card: dict[str, Any] | None = None,
) -> PackResult:
    """Write ``model`` and everything a device needs to trust it into one ``.mlpack`` file."""
    from mlpack.core.data import generate_inputs, load_dataset
    from mlpack.core.onnxio import create_session, external_data_files, load_model, run_session
    from mlpack.core.signature import signature_of

    model = require_file(Path(model), "model file")
    onnx_model = load_model(model)
    signature = signature_of(onnx_model)
    if golden < 0:
        raise BadInputError(f"--golden must be zero or more, got {golden}.")
    for extra in include:
        require_file(Path(extra), "included file")
    check = _read_report(report) if report else None

    feeds: dict[str, Any] = {}
    outputs: list[Any] = []
    if golden:
        if golden_data is not None:
            dataset = load_dataset(golden_data, signature.inputs)
            feeds = dataset.batch(0, golden)
        else:
            feeds = generate_inputs(signature.inputs, batch_size=golden, seed=0)
        outputs = run_session(create_session(model), feeds)

    entries: dict[str, Path | bytes] = {f"model/{model.name}": model}
    for data_file in external_data_files(model):
        entries[f"model/{data_file.name}"] = data_file
    for extra in include:
        entries[f"files/{Path(extra).name}"] = Path(extra)
    if golden:
        entries[GOLDEN_INPUTS] = _npz_bytes(feeds)
        entries[GOLDEN_OUTPUTS] = _npz_bytes({o.name: v for o, v in zip(signature.outputs, outputs, strict=True)})
    files = {path: {"sha256": _digest(content), "size": _size(content)} for path, content in entries.items()}
    opset = next((o.version for o in onnx_model.opset_import if o.domain in ("", "ai.onnx")), 0)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "name": name or model.stem,
        "version": version,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "files": files,
        "model": {
            "path": f"model/{model.name}",
            "signature": signature.to_dict(),
            "opset": opset,
            "producer": f"{onnx_model.producer_name} {onnx_model.producer_version}".strip(),
            "size_bytes": sum(_size(c) for p, c in entries.items() if p.startswith("model/")),
        },
        "preprocessing": preprocessing or {},
        "optimization": optimization or {},
        "check": check,
        "golden": {
            "count": golden,
            "inputs": GOLDEN_INPUTS,
            "outputs": GOLDEN_OUTPUTS,
            "tolerance": GOLDEN_TOLERANCE.to_dict(),
        }
        if golden
        else None,
        "model_card": _model_card(model_card or {}, check),
        "provenance": _provenance(model),
    }
    manifest["manifest_sha256"] = hashlib.sha256(_canonical(manifest)).hexdigest()
    with atomic_path(Path(output)) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True, default=str))
            for path, content in entries.items():
                if isinstance(content, bytes):
                    archive.writestr(path, content)
                else:
                    archive.write(content, path)
    return PackResult(output=Path(output), manifest=manifest, size_bytes=Path(output).stat().st_size)


def _digest(content: Path | bytes) -> str:
    return hashlib.sha256(content).hexdigest() if isinstance(content, bytes) else sha256_file(content)


def _size(content: Path | bytes) -> int:
    return len(content) if isinstance(content, bytes) else content.stat().st_size


def _npz_bytes(arrays: dict[str, Any]) -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _read_report(path: Path) -> dict[str, Any]:
    path = require_file(Path(path), "check report")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path} is not a JSON check report: {exc}") from exc
    if not isinstance(report, dict) or report.get("schema") != "mlpack.check/1":
        raise BadInputError(f"{path} is not an mlpack check report; write one with mlpack check --json FILE.")
    return {
        k: report.get(k)
        for k in ("schema", "created", "summary", "exit_code", "device", "budgets", "verdicts", "quality")
    }


def _model_card(card: dict[str, Any], check: dict[str, Any] | None) -> dict[str, Any]:
    """Intended use and limits from the user; metrics per slice from the check report where there is one."""
    quality = (check or {}).get("quality") or {}
    filled = {
        "intended_use": card.get("intended_use", ""),
        "limitations": card.get("limitations", ""),
        "metrics": quality.get("metrics", {}),
        "metrics_per_slice": quality.get("per_slice", {}),
        "slice_gap": quality.get("slice_gap", {}),
    }
    filled.update({k: v for k, v in card.items() if k not in filled})
    return filled


def _provenance(model: Path) -> dict[str, Any]:
    from importlib import metadata

    from mlpack.core.version import mlpack_version

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)  # without importing: torch may be absent or slow
        except metadata.PackageNotFoundError:
            return None

    return {
        "mlpack": mlpack_version(),
        "onnx": version("onnx"),
        "onnxruntime": version("onnxruntime"),
        "torch": version("torch"),
        "git_commit": _git_commit(model.parent),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _git_commit(folder: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "status", "--porcelain"], cwd=folder, capture_output=True, text=True, timeout=5, check=False
    ).stdout.strip()
    return done.stdout.strip() + ("-dirty" if dirty else "")


# --- reading ------------------------------------------------------------------------------------


def is_package(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return MANIFEST in archive.namelist()


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest, checked against its own hash and its schema."""
    path = require_file(Path(path), "package")
    try:
        with zipfile.ZipFile(path) as archive:
            check_entries(archive, path)
            if MANIFEST not in archive.namelist():
                raise ArchiveError(f"{path} has no {MANIFEST}: it is not an .mlpack package.")
            raw = archive.read(MANIFEST)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        if not isinstance(exc, zipfile.BadZipFile) or "CRC" in str(exc):
            raise TamperError(f"{path}: {MANIFEST} is corrupt or was modified ({exc}).") from exc
        raise ArchiveError(f"{path} is not a readable .mlpack package (zip): {exc}") from exc
    try:
        manifest = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TamperError(f"{path}: {MANIFEST} is not valid JSON any more: it was modified or corrupted.") from exc
    for key, kind in _REQUIRED.items():
        if not isinstance(manifest, dict) or not isinstance(manifest.get(key), kind):
            raise TamperError(f"{path}: {MANIFEST} lacks '{key}' ({kind.__name__}): not a valid manifest.")
    if manifest["format"] != FORMAT:
        raise ArchiveError(
            f"{path}: package format {manifest['format']!r} is not {FORMAT!r}; use the mlpack version that wrote it."
        )
    if hashlib.sha256(_canonical(manifest)).hexdigest() != manifest["manifest_sha256"]:
        raise TamperError(f"{path}: {MANIFEST} was modified after packing (its hash does not match).")
    return manifest


@dataclass(frozen=True)
class VerifyResult:
    package: Path
    name: str
    version: str
    files_checked: int
    signature_ok: bool
    golden: Comparison | None

    @property
    def ok(self) -> bool:
        return self.signature_ok and (self.golden is None or self.golden.passed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "package": str(self.package),
            "name": self.name,
            "version": self.version,
            "files_checked": self.files_checked,
            "signature_ok": self.signature_ok,
            "golden": self.golden.to_dict() if self.golden else None,
            "ok": self.ok,
        }


class OpenedPackage:
    """A package extracted (safely) into a temporary folder, its hashes checked."""

    def __init__(self, path: Path) -> None:
        self.path = require_file(Path(path), "package")
        self.manifest = read_manifest(self.path)
        self._tmp = tempfile.TemporaryDirectory(prefix="mlpack-package-")
        self.root = Path(self._tmp.name)
        try:
            with zipfile.ZipFile(self.path) as archive:
                safe_extract(archive, self.path, self.root)
        except BaseException:
            self.close()
            raise
        self._check_hashes()

    def _check_hashes(self) -> None:
        listed = self.manifest["files"]
        present = {str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file()} - {MANIFEST}
        for extra in sorted(present - set(listed)):
            self.close()
            raise TamperError(f"{self.path}: '{extra}' is not in the manifest: it was added after packing.")
        for name, entry in listed.items():
            file = self.root / name
            if not file.is_file():
                self.close()
                raise TamperError(f"{self.path}: '{name}' is listed in the manifest but missing.")
            if sha256_file(file) != entry.get("sha256"):
                self.close()
                raise TamperError(f"{self.path}: '{name}' changed after packing (SHA-256 mismatch).")

    @property
    def model_path(self) -> Path:
        return self.root / self.manifest["model"]["path"]

    @property
    def signature(self) -> Signature:
        return Signature.from_dict(self.manifest["model"]["signature"])

    def close(self) -> None:
        self._tmp.cleanup()

    def __enter__(self) -> OpenedPackage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def verify(package: Path, *, run: bool = False) -> VerifyResult:
    """Hashes, manifest schema, model loads and matches its signature; with ``run``, golden outputs."""
    from mlpack.core.onnxio import create_session, load_model, run_session
    from mlpack.core.signature import signature_of

    with OpenedPackage(package) as opened:
        manifest = opened.manifest
        model = load_model(opened.model_path)
        actual = signature_of(model)
        signature_ok = actual == opened.signature
        if not signature_ok:
            raise VerificationError(
                f"{package}: the model's signature {actual.to_dict()} does not match the "
                f"manifest's {manifest['model']['signature']}."
            )
        comparison = None
        if run:
            golden = manifest.get("golden")
            if not golden:
                raise BadInputError(f"{package} has no golden samples to run (packed with --golden 0).")
            import numpy as np

            with (
                np.load(opened.root / golden["inputs"], allow_pickle=False) as inputs,
                np.load(opened.root / golden["outputs"], allow_pickle=False) as outputs,
            ):
                feeds = {name: inputs[name] for name in inputs.files}
                expected = [outputs[o.name] for o in opened.signature.outputs]
            actual_outputs = run_session(create_session(opened.model_path), feeds)
            tolerance = Tolerance(**golden.get("tolerance", GOLDEN_TOLERANCE.to_dict()))
            comparison = compare_outputs(
                expected,
                actual_outputs,
                names=[o.name for o in opened.signature.outputs],
                tolerance=tolerance,
                label=f"{golden['count']} golden samples",
            )
        result = VerifyResult(
            Path(package), manifest["name"], manifest["version"], len(manifest["files"]), signature_ok, comparison
        )
    if comparison is not None and not comparison.passed:
        raise VerificationError(
            f"{package}: this machine computes other outputs than the packed model did on its "
            f"golden samples: {comparison.failure_text()} (tolerance {comparison.tolerance.describe()})."
        )
    return result


@dataclass(frozen=True)
class RunResult:
    output: Path
    samples: int
    outputs: dict[str, list[int]]  # name -> shape

    def to_dict(self) -> dict[str, Any]:
        return {"output": str(self.output), "samples": self.samples, "outputs": self.outputs}


def run_package(package: Path, inputs: Path, output: Path, *, batch_size: int = 256) -> RunResult:
    """Inference from a package: inputs are checked against the packaged signature first."""
    from mlpack.core.data import Dataset, match_inputs, read_npz
    from mlpack.core.runner import predict

    if batch_size < 1:
        raise BadInputError(f"--batch-size must be at least 1, got {batch_size}.")
    with OpenedPackage(package) as opened:
        arrays = {k: v for k, v in read_npz(inputs).items() if k not in ("labels", "slices")}
        feeds = match_inputs(arrays, opened.signature.inputs, source=str(inputs))
        dataset = Dataset(inputs=feeds)
        results = predict(opened.model_path, dataset, batch_size=batch_size)
        named = {o.name: r for o, r in zip(opened.signature.outputs, results, strict=True)}
    with atomic_path(Path(output)) as tmp:
        tmp.write_bytes(_npz_bytes(named))
    return RunResult(Path(output), dataset.num_samples, {k: list(v.shape) for k, v in named.items()})
