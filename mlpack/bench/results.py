"""What bench measured: the result types every reader shares (compare, check, tune, the remote agent).

A leaf of the bench package, so readers of results need not import the measuring code.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from mlpack.bench.adaptive import Precision
from mlpack.bench.stats import LatencyStats
from mlpack.errors import ExitCode

SCHEMA = "mlpack.bench.measure/1"
FLEET_SCHEMA = "mlpack.bench.fleet/1"


@dataclass(frozen=True)
class Memory:
    baseline_rss_mb: float  # the worker process with onnxruntime and numpy imported, before the model
    peak_rss_mb: float  # the worker's peak resident memory over the whole measurement
    model_peak_mb: float  # peak minus baseline: what loading and running the model cost

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline_rss_mb": self.baseline_rss_mb,
            "peak_rss_mb": self.peak_rss_mb,
            "model_peak_mb": self.model_peak_mb,
        }


@dataclass(frozen=True)
class Measurement:
    model: str
    name: str  # a short label: the file name, made unique
    size_bytes: int
    batch_size: int
    threads: int | None
    load_ms: float
    first_inference_ms: float
    latency_ms: LatencyStats
    throughput_sps: float  # samples per second at this batch size, from the mean latency
    timed_seconds: float
    samples_ms: tuple[float, ...]
    memory: Memory
    warnings: tuple[str, ...] = ()
    ratio_to_first: dict[str, float] | None = None  # p50/p95 against the first model, same batch and threads
    profile: dict[str, Any] | None = None
    precision: Precision | None = None  # how precise the p50 came out, and what stopped the timing

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "name": self.name,
            "size_bytes": self.size_bytes,
            "batch_size": self.batch_size,
            "threads": self.threads,
            "load_ms": self.load_ms,
            "first_inference_ms": self.first_inference_ms,
            "latency_ms": self.latency_ms.to_dict(),
            "throughput_sps": self.throughput_sps,
            "timed_seconds": self.timed_seconds,
            "memory": self.memory.to_dict(),
            "warnings": list(self.warnings),
            "ratio_to_first": self.ratio_to_first,
            "profile": self.profile,
            "precision": self.precision.to_dict() if self.precision else None,
            "samples_ms": list(self.samples_ms),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        return cls(
            model=data["model"],
            name=data["name"],
            size_bytes=data["size_bytes"],
            batch_size=data["batch_size"],
            threads=data["threads"],
            load_ms=data["load_ms"],
            first_inference_ms=data["first_inference_ms"],
            latency_ms=LatencyStats(**data["latency_ms"]),
            throughput_sps=data["throughput_sps"],
            timed_seconds=data["timed_seconds"],
            samples_ms=tuple(data["samples_ms"]),
            memory=Memory(**data["memory"]),
            warnings=tuple(data.get("warnings", ())),
            ratio_to_first=data.get("ratio_to_first"),
            profile=data.get("profile"),
            precision=Precision.from_dict(data["precision"]) if data.get("precision") else None,
        )


@dataclass(frozen=True)
class BenchResult:
    created: str
    system: dict[str, Any]
    settings: dict[str, Any]
    device: dict[str, Any] | None
    measurements: tuple[Measurement, ...]
    best_batch: dict[str, int | None] = field(default_factory=dict)  # per model: largest batch within budget
    schema: str = SCHEMA
    on_device: bool = False  # measured on the device itself, over --target
    target: str | None = None  # the ssh:// target it was measured on

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "created": self.created,
            "system": self.system,
            "settings": self.settings,
            "device": self.device,
            "best_batch": self.best_batch,
            "on_device": self.on_device,
            "target": self.target,
            "measurements": [m.to_dict() for m in self.measurements],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchResult:
        return cls(
            created=data["created"],
            system=data["system"],
            settings=data["settings"],
            device=data.get("device"),
            measurements=tuple(Measurement.from_dict(m) for m in data["measurements"]),
            best_batch=data.get("best_batch", {}),
            schema=data["schema"],
            on_device=bool(data.get("on_device", False)),
            target=data.get("target"),
        )


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
