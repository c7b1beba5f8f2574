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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlpack.bench.measure import BenchResult, BenchSettings, unique_names
from mlpack.bench.remote import DEFAULT_TIMEOUT_S, RemoteJob, RemoteOutcome, gather_jobs
from mlpack.bench.ssh import RemoteError, Target
from mlpack.core.devices import DeviceProfile
from mlpack.core.fileio import require_file
from mlpack.errors import BadInputError, ExitCode

FLEET_SCHEMA = "mlpack.bench.fleet/1"
_RESULT = "result.json"
_PROFILES = "devices.toml"


@dataclass(frozen=True)
class FleetResult:
    """One bench result per device that answered, and one line per device that did not."""

    results: tuple[BenchResult, ...]
    failures: dict[str, str]  # target -> why it could not be measured
    wall_seconds: float
    schema: str = FLEET_SCHEMA

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.ok else ExitCode.BAD_INPUT

    def merged(self) -> BenchResult:
        """One result whose entries are named ``device: model``, for one table over the fleet."""
        first = self.results[0]
        measurements = tuple(
            replace(m, name=f"{result.target}: {m.name}", ratio_to_first=None)
            for result in self.results
            for m in result.measurements
        )
        return replace(first, measurements=measurements, best_batch={}, target=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "ok": self.ok,
            "exit_code": int(self.exit_code),
            "wall_seconds": self.wall_seconds,
            "failures": self.failures,
            "results": [r.to_dict() for r in self.results],
        }


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
    """``mlpack bench`` options that reproduce ``settings`` on the device (data and device aside).

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
    return flags


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


def profile_target(device: str | None, *, budget: Path | None = None, devices_file: Path | None = None) -> str | None:
    """The ``target`` of the named device profile (from the budget file, ``--devices`` or built in);
    None on the device itself, where a job of ``--target`` runs.

    Args:
        device: the profile's name, or None.
        budget: a budget file whose ``[device.NAME]`` tables win, as ``check`` resolves them.
        devices_file: a TOML file of extra ``[device.NAME]`` profiles.
    """
    import os

    from mlpack.bench.agent import ON_DEVICE_ENV
    from mlpack.core.devices import parse_devices, resolve_device
    from mlpack.core.tomlfile import read_toml

    if device is None or os.environ.get(ON_DEVICE_ENV):  # already on the device: measure here
        return None
    from_budget = parse_devices(read_toml(budget)) if budget is not None and budget.is_file() else {}
    profile = resolve_device(device, from_budget, devices_file)
    return profile.target if profile else None
