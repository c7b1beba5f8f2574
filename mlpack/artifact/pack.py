"""``mlpack pack``: one .mlpack file with the model, its manifest, golden samples and the user's files."""

from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpack.artifact.manifest import (
    DATA_STATS,
    GOLDEN_INPUTS,
    GOLDEN_OUTPUTS,
    MANIFEST,
    DataStatsEntry,
    FileEntry,
    GoldenEntry,
    Manifest,
    ModelEntry,
)
from mlpack.artifact.packinputs import check_pack_inputs
from mlpack.artifact.signing import SIGNATURE, sign_manifest, signer
from mlpack.core.fileio import atomic_path, require_file, sha256_file
from mlpack.core.jsonout import dumps
from mlpack.core.onnxio import external_data_files, load_model
from mlpack.core.signature import signature_of
from mlpack.core.version import mlpack_version
from mlpack.data.collect import record_stats
from mlpack.data.feeds import FeedOptions, golden_dataset
from mlpack.data.npz import npz_bytes
from mlpack.data.runner import predict
from mlpack.data.stats import MAX_BYTES, SCHEMA
from mlpack.errors import BadInputError

if TYPE_CHECKING:
    import onnx

    from mlpack.core.signature import Signature

# What goes into the zip, by archive path: a file on disk, or bytes made while packing.
Entries = dict[str, Path | bytes]


@dataclass(frozen=True)
class PackResult:
    output: Path
    manifest: Manifest
    size_bytes: int
    signed: bool = False  # signature.sig holds the manifest's signature (pack --sign)

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": str(self.output),
            "size_bytes": self.size_bytes,
            "signed": self.signed,
            "manifest": self.manifest.to_dict(),
        }


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
    data: Path | None = None,
    feeding: FeedOptions = FeedOptions(),
    channel_axes: Mapping[str, int | None] | None = None,
    sign: Path | None = None,
) -> PackResult:
    """Write ``model`` and everything a device needs to trust it into one ``.mlpack`` file.

    Args:
        model: the ONNX model; its external data files, if any, are packed beside it.
        output: where to write the package; written atomically, nothing is left on failure.
        name: the model's name in the manifest (default: the model file's stem).
        version: the model's version in the manifest.
        include: extra files a device needs (labels, tokenizer files), stored under ``files/``.
        preprocessing: metadata on how to prepare inputs (mean, layout...), stored as given.
        optimization: what was done to the model (quantisation settings...), stored as given; of
            an optimize report, :func:`mlpack.artifact.optreport.read_optimization` gives the
            record ``build`` stores (with the per-layer report that ``inspect`` shows).
        report: a check report (``mlpack check --json FILE``) whose verdicts and metrics are kept.
        golden: how many golden samples to store with the outputs the model gives for them
            (0 for none; ``verify --run`` compares against them on the device).
        golden_data: an .npz to take the golden inputs from (default: generated from the signature).
        model_card: model-card fields (intended_use, limitations...); metrics come from ``report``.
        data: validation data (.npz, streamed in blocks) whose input statistics, and the model's
            output statistics on it, are recorded for ``mlpack drift`` (bounded, at most 256 KB).
        feeding: state pairs and values by name; the golden samples run as a stream, and the
            manifest records them so ``verify --run``, ``run`` and ``drift`` feed the model alike;
            the statistics of ``data`` are recorded the same way (given and state inputs left out).
        channel_axes: tensor name -> the axis whose positions are the statistics' features (None:
            pool every value); other tensors take theirs from the signature.
        sign: a PEM elliptic-curve private key: sign the package (OpenSSF model-signing format, offline;
            see :mod:`mlpack.artifact.signing`); None leaves it unsigned (it still verifies by hash).

    Raises:
        BadInputError: a missing model, included file or report, a report that is not a check
            report, a negative ``golden``, or ``data`` that does not fit the model or holds too few
            samples to record statistics (exit 2).
    """
    model, onnx_model, signature = _open_model(Path(model), Path(output), include, (report, golden_data, data), golden)
    signer_config = signer(sign) if sign is not None else None  # a bad key is refused before any work
    check = _read_report(report) if report else None
    stats = _StatsPlan(Path(data), feeding, dict(channel_axes or {})) if data is not None else None
    contents = _contents(model, signature, include, golden, golden_data, stats, feeding)
    described = {
        "name": name or model.stem,
        "version": version,
        "preprocessing": preprocessing or {},
        "optimization": optimization or {},
        "check": check,
        "model_card": _model_card(model_card or {}, check),
    }
    manifest = _manifest(model, onnx_model, signature, contents, described, feeding)
    _write_archive(Path(output), manifest, contents.entries, signer_config)
    size = Path(output).stat().st_size
    return PackResult(output=Path(output), manifest=manifest, size_bytes=size, signed=signer_config is not None)


def _open_model(
    model: Path, output: Path, include: tuple[Path, ...], reads: tuple[Path | None, ...], golden: int
) -> tuple[Path, onnx.ModelProto, Signature]:
    """Check every input before any work (nothing is written on bad input), then load the model."""
    model = require_file(model, "model file")
    for extra in include:
        require_file(Path(extra), "included file")
    check_pack_inputs(model, output, include=include, reads=reads, golden=golden)
    onnx_model = load_model(model)
    return model, onnx_model, signature_of(onnx_model)


@dataclass(frozen=True)
class _Contents:
    """What the archive holds besides the manifest."""

    entries: Entries
    golden: int  # golden samples stored: data may hold fewer than were asked for
    data_stats: DataStatsEntry | None  # the manifest's note of the recorded statistics


def _contents(
    model: Path,
    signature: Signature,
    include: tuple[Path, ...],
    golden: int,
    golden_data: Path | None,
    stats: _StatsPlan | None,
    feeding: FeedOptions,
) -> _Contents:
    """The model and its data files, the included files, the golden samples and the data statistics."""
    entries = _file_entries(model, include)
    if golden:
        golden_files, golden = _golden_entries(model, signature, golden, golden_data, feeding)
        entries.update(golden_files)
    data_stats = _stats_entry(model, stats, entries) if stats is not None else None
    return _Contents(entries, golden, data_stats)


def _file_entries(model: Path, include: tuple[Path, ...]) -> Entries:
    entries: Entries = {f"model/{model.name}": model}
    for data_file in external_data_files(model):
        entries[f"model/{data_file.name}"] = data_file
    for extra in include:
        entries[f"files/{Path(extra).name}"] = Path(extra)
    return entries


def _golden_entries(
    model: Path, signature: Signature, count: int, data: Path | None, feeding: FeedOptions
) -> tuple[Entries, int]:
    """Up to ``count`` inputs (from ``data`` or generated) and the outputs this model gives for them,
    with the number stored (fewer than ``count`` where ``data`` holds fewer samples)."""
    dataset = golden_dataset(model, signature, data=data, options=feeding, count=count)
    outputs = predict(model, dataset, options=feeding)
    entries: Entries = {
        GOLDEN_INPUTS: npz_bytes(dataset.inputs),
        GOLDEN_OUTPUTS: npz_bytes({o.name: v for o, v in zip(signature.outputs, outputs, strict=True)}),
    }
    return entries, dataset.num_samples


@dataclass(frozen=True)
class _StatsPlan:
    """What ``pack --data`` records statistics of, and how the model is fed for them."""

    data: Path
    feeding: FeedOptions
    channel_axes: dict[str, int | None]


def _stats_entry(model: Path, plan: _StatsPlan, entries: Entries) -> DataStatsEntry:
    """Record the statistics of the data (inputs, and the model's outputs on it) as a package file;
    return the manifest's note of them: where, how many samples they summarise, their size."""
    data = plan.data
    stats = record_stats(model, data, feeding=plan.feeding, channel_axes=plan.channel_axes)
    content = stats.to_json()
    entries[DATA_STATS] = content
    return DataStatsEntry(
        path=DATA_STATS,
        schema=SCHEMA,
        samples=stats.samples,
        source=data.name,
        size_bytes=len(content),
        max_bytes=MAX_BYTES,
    )


def _manifest(
    model: Path,
    onnx_model: onnx.ModelProto,
    signature: Signature,
    contents: _Contents,
    described: dict[str, Any],
    feeding: FeedOptions,
) -> Manifest:
    """The sealed manifest; ``described`` holds what the user says of the model (name, version,
    preprocessing, optimization, check, model_card)."""
    entries, golden = contents.entries, contents.golden
    opset = next((o.version for o in onnx_model.opset_import if o.domain in ("", "ai.onnx")), 0)
    return Manifest(
        name=described["name"],
        version=described["version"],
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        files={path: FileEntry(_digest(content), _size(content)) for path, content in entries.items()},
        model=ModelEntry(
            path=f"model/{model.name}",
            signature=signature,
            opset=opset,
            producer=f"{onnx_model.producer_name} {onnx_model.producer_version}".strip(),
            size_bytes=sum(_size(c) for p, c in entries.items() if p.startswith("model/")),
            feeding=feeding.to_dict(),
        ),
        preprocessing=described["preprocessing"],
        optimization=described["optimization"],
        check=described["check"],
        golden=GoldenEntry(count=golden) if golden else None,
        data_stats=contents.data_stats,
        model_card=described["model_card"],
        provenance=_provenance(model),
    ).sealed()


def _write_archive(output: Path, manifest: Manifest, entries: Entries, signer_config: Any = None) -> None:
    """The zip, written atomically; with a signer, the manifest's signature beside it (signature.sig)."""
    text = dumps(manifest.to_dict(), sort_keys=True)
    with atomic_path(output) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST, text)
            if signer_config is not None:
                archive.writestr(SIGNATURE, sign_manifest(signer_config, text.encode("utf-8")))
            for path, content in entries.items():
                if isinstance(content, bytes):
                    archive.writestr(path, content)
                else:
                    archive.write(content, path)


def _digest(content: Path | bytes) -> str:
    return hashlib.sha256(content).hexdigest() if isinstance(content, bytes) else sha256_file(content)


def _size(content: Path | bytes) -> int:
    return len(content) if isinstance(content, bytes) else content.stat().st_size


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
