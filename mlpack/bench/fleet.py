"""``bench --target``: the same measurement as :func:`mlpack.bench.measure.benchmark`, on devices.

The models are copied to each device and measured there by the device's own mlpack (the timer
runs on the device, so SSH cannot leak into a figure); the result is the same JSON, with the
device's CPU, cores, instruction sets, memory, OS and onnxruntime version, and ``on_device``.
Several devices are measured in parallel, one job at a time each.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from mlpack.bench.measure import unique_names
from mlpack.bench.results import BenchResult, FleetResult
from mlpack.bench.settings import BenchSettings
from mlpack.core.devices import DeviceProfile
from mlpack.core.fileio import require_file
from mlpack.errors import BadInputError, RemoteError
from mlpack.remote.jobs import DEFAULT_TIMEOUT_S, RemoteJob, RemoteOutcome, gather_jobs
from mlpack.remote.ssh import Target

_RESULT = "result.json"
_PROFILES = "devices.toml"


def benchmark_on_targets(
    models: Sequence[Path],
    *,
    targets: Sequence[Target],
    settings: BenchSettings = BenchSettings(),
    device: DeviceProfile | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> FleetResult:
    """Measure the models on every target device, in parallel; a device that fails is a failure line.

    Args:
        models: ONNX files to measure; the first is the one the others' ratios refer to.
        targets: the devices, each measured by its own runtime-only mlpack.
        settings: as for :func:`mlpack.bench.measure.benchmark`; ``data`` is copied along.
        device: a device profile whose threads, CPU set and memory limit apply on the device.
        timeout_s: per device: give up after this many seconds (the device removes its folder).

    Raises:
        BadInputError: no model or no target, a model file that does not exist, bad settings.
    """
    settings.validate()
    if not models:
        raise BadInputError("name at least one model to measure.")
    if not targets:
        raise BadInputError("name at least one --target.")
    labels = [t.label for t in targets]
    if len(set(labels)) < len(labels):
        raise BadInputError(f"a device is named twice in --target ({', '.join(labels)}): one job at a time each.")
    paths = [require_file(Path(m), "model file") for m in models]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mlpack-fleet-") as tmp:
        job = _bench_job(paths, settings, device, Path(tmp))
        outcomes = gather_jobs([(t, job) for t in targets], timeout_s=timeout_s)
    results: list[BenchResult] = []
    failures: dict[str, str] = {}
    for target, outcome in zip(targets, outcomes, strict=True):
        try:
            if isinstance(outcome, RemoteError):
                raise outcome
            results.append(_bench_result(outcome, paths))
        except RemoteError as exc:
            failures[target.url()] = str(exc)
    return FleetResult(tuple(results), failures, time.perf_counter() - started)


def benchmark_on_target(
    models: Sequence[Path],
    *,
    target: Target,
    settings: BenchSettings = BenchSettings(),
    device: DeviceProfile | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> BenchResult:
    """One device: its bench result, or its failure raised.

    Args:
        models: ONNX files to measure.
        target: the device.
        settings: as for :func:`mlpack.bench.measure.benchmark`.
        device: a device profile whose threads, CPU set and memory limit apply on the device.
        timeout_s: give up after this many seconds (the device removes its folder).

    Raises:
        RemoteError: the device cannot be reached or used, or timed out (exit 2).
    """
    fleet = benchmark_on_targets(models, targets=[target], settings=settings, device=device, timeout_s=timeout_s)
    if fleet.failures:
        raise RemoteError(next(iter(fleet.failures.values())))
    return fleet.results[0]


def _bench_job(paths: list[Path], settings: BenchSettings, device: DeviceProfile | None, tmp: Path) -> RemoteJob:
    remote = _remote_names(paths)
    uploads = {name: path for name, (path, _) in remote.items()}
    args = ["bench", *remote, "--json", _RESULT, *bench_flags(settings)]
    if settings.data is not None:
        uploads["data.npz"] = require_file(Path(settings.data), "data file")
        args += ["--data", "data.npz"]
    if device is not None:
        (tmp / _PROFILES).write_text(profile_toml(device), encoding="utf-8")
        uploads[_PROFILES] = tmp / _PROFILES
        args += ["--device", device.name, "--devices", _PROFILES, "--on-device"]
    return RemoteJob(args=tuple(args), uploads=uploads, fetch=(_RESULT,))


def _remote_names(paths: list[Path]) -> dict[str, tuple[Path, str]]:
    """File names in the device's folder -> (local file, the name the local result would give it)."""
    names = unique_names(paths)
    return {
        (name if "/" not in name and "'" not in name else f"{i}-{path.name}"): (path, name)
        for i, (path, name) in enumerate(zip(paths, names, strict=True))
    }


def bench_flags(settings: BenchSettings) -> list[str]:
    """``mlpack bench`` options that reproduce ``settings`` on the device (data and device aside),
    ``--state`` and ``--set`` included.

    Args:
        settings: what the host was asked to measure.
    """
    flags = [
        "--warmup",
        str(settings.warmup),
        "--batch-sizes",
        ",".join(str(b) for b in settings.batch_sizes),
        "--execution-mode",
        settings.execution_mode.value,
        "--graph-optimization",
        settings.graph_optimization.value,
        "--seed",
        str(settings.seed),
    ]
    if settings.adaptive is None:
        flags += ["--runs", str(settings.runs), "--duration", repr(settings.duration_s)]
    else:
        flags += ["--precision", repr(settings.adaptive.precision), "--max-time", repr(settings.adaptive.max_seconds)]
    if settings.threads != (None,):
        flags += ["--threads", ",".join(str(t) for t in settings.threads)]
    if settings.spinning is not None:
        flags.append("--spinning" if settings.spinning else "--no-spinning")
    if settings.profile:
        flags.append("--profile")
    if settings.latency_budget_ms is not None:
        flags += ["--latency-budget", repr(settings.latency_budget_ms)]
    return flags + settings.feeding.to_args()


def profile_toml(device: DeviceProfile) -> str:
    """The profile as a ``[device.NAME]`` table for the device's mlpack (its target left out).

    Args:
        device: the profile the user named.
    """
    lines = [f"[device.{json.dumps(device.name)}]", f"threads = {device.threads}"]
    if device.cpus:
        lines.append(f"cpus = {list(device.cpus)}")
    if device.memory_mb is not None:
        lines.append(f"memory_mb = {device.memory_mb!r}")
    lines.append(f"description = {json.dumps(device.description)}")
    return "\n".join(lines) + "\n"


def _bench_result(outcome: RemoteOutcome, paths: list[Path]) -> BenchResult:
    """The device's result, its model paths turned back into this machine's."""
    label = outcome.target.label
    if outcome.exit_code != 0:
        raise RemoteError(f"{label}: {outcome.error_line()}")
    try:
        data = json.loads(outcome.files[_RESULT])
        result = BenchResult.from_dict(data)
    except (KeyError, ValueError, TypeError) as exc:
        raise RemoteError(f"{label} returned no readable bench result ({exc}).") from None
    local = _remote_names(paths)
    measurements = tuple(
        replace(m, model=str(local[m.name][0]), name=local[m.name][1]) if m.name in local else m
        for m in result.measurements
    )
    return replace(
        result,
        measurements=measurements,
        system=result.system | outcome.system,
        on_device=True,
        target=outcome.target.url(),
    )
