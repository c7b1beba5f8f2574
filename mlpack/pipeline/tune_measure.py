"""How ``tune`` times its candidates: interleaved in one run, on this host or on the target devices.

With devices (``--target``, a profile's ``target``) the candidates are copied to each and measured
there by the device's own mlpack (:func:`mlpack.bench.fleet.benchmark_on_targets`); a fleet is
judged by its slowest device: each candidate's latency is the slowest device's, its ratio to FP32
the largest any device measured. A device that fails fails the search (exit 2), never the host.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlpack.bench import measure  # called as measure.benchmark, which tests replace
from mlpack.bench.fleet import benchmark_on_targets
from mlpack.bench.results import BenchResult, Measurement
from mlpack.bench.settings import BenchSettings
from mlpack.core.devices import DeviceProfile
from mlpack.core.sysinfo import MeasuredOn, measured_here
from mlpack.errors import RemoteError
from mlpack.pipeline.decide_on import decision_batch_sizes, decision_targets, device_timer
from mlpack.quant.timers import devices_of
from mlpack.remote.jobs import DEFAULT_TIMEOUT_S
from mlpack.remote.ssh import parse_target


class TimedOn:
    """Where candidates and auto's decisions are timed: the target devices, or this host; and at
    what batch sizes auto decides."""

    def __init__(self, targets: Sequence[str], timeout_s: float, batch_sizes: tuple[int, ...] = (1,)) -> None:
        self.targets, self.timeout_s, self.batch_sizes = tuple(targets), timeout_s, batch_sizes
        self.timer = device_timer(self.targets, timeout_s=timeout_s)

    @classmethod
    def resolve(
        cls,
        targets: Sequence[str],
        *,
        device: str | None,
        budget: Path,
        devices_file: Path | None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> TimedOn:
        """``targets`` as given, else the device profile's target; the profile's batch sizes."""
        on = decision_targets(targets, device=device, budget=budget, devices_file=devices_file)
        return cls(on, timeout_s, decision_batch_sizes(device=device, budget=budget, devices_file=devices_file))

    def devices(self) -> tuple[MeasuredOn, ...]:
        """Each device's identity (asking it: an unusable device fails here), or this host's."""
        return devices_of(self.timer) if self.timer is not None else (measured_here(),)


@dataclass(frozen=True)
class Timed:
    """Per model, in the order given: what each device measured, the slowest first."""

    measurements: tuple[tuple[Measurement, ...], ...]  # per model: each device's, the slowest p95 first
    ratios: tuple[float | None, ...]  # per model: p50 over the reference's on the same device, the largest
    inputs: dict[str, Any]  # what latency was measured on (the first device's record)
    measured_on: tuple[MeasuredOn, ...]


def time_models(
    paths: Sequence[Path],
    *,
    reference: int | None,
    settings: BenchSettings,
    profile: DeviceProfile | None,
    targets: Sequence[str] = (),
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Timed:
    """Measure ``paths`` interleaved, here or on every target; ratios to ``paths[reference]``.

    Raises:
        RemoteError: a target could not be used (exit 2).
    """
    if targets:
        fleet = benchmark_on_targets(
            paths, targets=[parse_target(t) for t in targets], settings=settings, device=profile, timeout_s=timeout_s
        )
        if fleet.failures:
            raise RemoteError("; ".join(fleet.failures.values()))
        results = list(fleet.results)
        where = tuple(_device_of(r) for r in results)
    else:
        results = [measure.benchmark(list(paths), settings=settings, device=profile)]
        where = (measured_here(),)
    per_model = [[r.measurements[i] for r in results] for i in range(len(paths))]
    ratios = [_largest_ratio(per_model, i, reference) for i in range(len(paths))]
    slowest_first = tuple(tuple(sorted(ms, key=lambda m: -m.latency_ms.p95)) for ms in per_model)
    return Timed(slowest_first, tuple(ratios), dict(results[0].settings.get("inputs", {})), where)


def _largest_ratio(per_model: list[list[Measurement]], index: int, reference: int | None) -> float | None:
    if reference is None:
        return None
    pairs = zip(per_model[index], per_model[reference], strict=True)
    return max(mine.latency_ms.p50 / theirs.latency_ms.p50 for mine, theirs in pairs)


def _device_of(result: BenchResult) -> MeasuredOn:
    system = result.system
    isa = tuple(flag for flag, on in (system.get("cpu_features") or {}).items() if on)
    onnxruntime = str((system.get("versions") or {}).get("onnxruntime", "unknown"))
    label = parse_target(result.target).label if result.target else "a device"
    return MeasuredOn(label, str(system.get("cpu_model", "unknown CPU")), isa, onnxruntime)
