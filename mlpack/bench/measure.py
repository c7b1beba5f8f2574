"""Latency, throughput and memory with onnxruntime on the CPU: honest, comparable, cheap.

Each configuration (model × batch size × thread count) runs in its own worker process, and
configurations are timed interleaved (:mod:`mlpack.bench.interleave`); this module decides what
to measure, under which device profile, and turns what the workers report into results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlpack.bench.adaptive import Adaptive, Precision, StoppingRule
from mlpack.bench.interleave import Configuration, Outcome, measure_interleaved
from mlpack.bench.stats import NOISY_CV, PERCENTILE_METHOD, LatencyStats, summarize
from mlpack.core.devices import DeviceProfile
from mlpack.core.feeds import FeedOptions
from mlpack.core.fileio import require_file
from mlpack.core.onnxio import ExecutionMode, GraphOptimization
from mlpack.core.progress import Progress
from mlpack.errors import BadInputError

SCHEMA = "mlpack.bench.measure/1"


@dataclass(frozen=True)
class BenchSettings:
    runs: int = 100  # minimum timed runs per configuration
    duration_s: float = 2.0  # minimum timed seconds per configuration
    warmup: int = 10
    batch_sizes: tuple[int, ...] = (1,)
    threads: tuple[int | None, ...] = (None,)  # None: onnxruntime's default (one per physical core)
    execution_mode: ExecutionMode = ExecutionMode.SEQUENTIAL
    graph_optimization: GraphOptimization = GraphOptimization.ALL
    spinning: bool | None = None  # None: on for one configuration, off when interleaving several
    data: Path | None = None
    seed: int = 0
    feeding: FeedOptions = FeedOptions()  # state pairs (one streaming step is timed) and --set values
    profile: bool = False
    latency_budget_ms: float | None = None
    # Set: stop each configuration when its p50 is precise enough or its time is spent, and
    # ``runs``/``duration_s`` are not used; None: at least ``runs`` runs and ``duration_s`` seconds.
    adaptive: Adaptive | None = None

    def validate(self) -> None:
        if self.adaptive is not None:
            self.adaptive.validate()
        if self.runs < 1:
            raise BadInputError(f"--runs must be at least 1, got {self.runs}.")
        if self.warmup < 0:
            raise BadInputError(f"--warmup cannot be negative, got {self.warmup}.")
        if self.duration_s < 0:
            raise BadInputError(f"--duration cannot be negative, got {self.duration_s}.")
        if not self.batch_sizes or any(b < 1 for b in self.batch_sizes):
            raise BadInputError(f"batch sizes must be positive, got {list(self.batch_sizes)}.")
        if any(t is not None and t < 1 for t in self.threads):
            raise BadInputError(f"thread counts must be positive, got {list(self.threads)}.")
        if self.latency_budget_ms is not None and self.latency_budget_ms <= 0:
            raise BadInputError(f"--latency-budget must be positive, got {self.latency_budget_ms}.")

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "duration_s": self.duration_s,
            "warmup": self.warmup,
            "batch_sizes": list(self.batch_sizes),
            "threads": list(self.threads),
            "execution_mode": self.execution_mode.value,
            "graph_optimization": self.graph_optimization.value,
            "spinning": self.spinning,
            "data": str(self.data) if self.data else None,
            "seed": self.seed,
            "feeding": self.feeding.to_dict(),
            "profile": self.profile,
            "latency_budget_ms": self.latency_budget_ms,
            "adaptive": self.adaptive.to_dict() if self.adaptive else None,
            "percentile_method": PERCENTILE_METHOD,
            "timer": "time.perf_counter_ns around session.run only",
        }


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
class _Placement:
    """How the workers run here: a device profile's threads and CPUs, as far as this machine allows."""

    threads: tuple[int | None, ...]
    cpus: tuple[int, ...] | None
    device_record: dict[str, Any] | None
    warnings: tuple[str, ...]  # noted on every measurement


def benchmark(
    models: Sequence[Path],
    *,
    settings: BenchSettings = BenchSettings(),
    device: DeviceProfile | None = None,
    on_device: bool = False,
    progress: Progress | None = None,
) -> BenchResult:
    """Measure every model at every batch size and thread count, interleaved.

    Args:
        models: ONNX files to measure; the first is the one the others' ratios refer to.
        settings: how long and how to measure, which batch sizes and thread counts to sweep,
            and which inputs to feed.
        device: a device profile whose threads and CPU set replace the defaults (threads named
            in ``settings`` still win); its memory limit is checked against the peak.
        on_device: this machine is the profile's device, so the result is no approximation.
        progress: called with what is being done and the fraction done, for a progress bar.

    Raises:
        BadInputError: bad settings, no model, or a model file that does not exist.
        ModelLoadError: a model that onnxruntime cannot load or run.
        DataError: a ``settings.data`` file that does not fit a model.
    """
    from mlpack.core.sysinfo import system_info

    settings.validate()
    if not models:
        raise BadInputError("name at least one model to measure.")
    paths = [require_file(Path(m), "model file") for m in models]
    placement = _place(settings, device, on_device)
    configs = [
        Configuration(path, name, batch, threads)
        for path, name in zip(paths, unique_names(paths), strict=True)
        for batch in settings.batch_sizes
        for threads in placement.threads
    ]
    spinning = settings.spinning if settings.spinning is not None else len(configs) == 1
    outcomes = measure_interleaved(configs, settings, cpus=placement.cpus, spinning=spinning, progress=progress)
    rule = StoppingRule(runs=settings.runs, duration_s=settings.duration_s, adaptive=settings.adaptive)
    measurements = _with_ratios([_measurement(c, outcomes[c], placement.warnings, device, rule) for c in configs])
    record = settings.to_dict() | {
        "spinning": spinning,
        "threads": list(placement.threads),
        "interleaved": len(configs) > 1,
        "cpus": list(placement.cpus) if placement.cpus else None,
    }
    return BenchResult(
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        system=system_info() | {"memory_mb": total_memory_mb()},
        settings=record,
        device=placement.device_record,
        measurements=tuple(measurements),
        best_batch=_best_batches(measurements, settings.latency_budget_ms),
    )


def total_memory_mb() -> float | None:
    """This machine's physical memory, for the result's system record (None where unknown)."""
    import os

    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (ValueError, OSError, AttributeError):
        return None


def _place(settings: BenchSettings, device: DeviceProfile | None, on_device: bool) -> _Placement:
    if device is None:
        return _Placement(settings.threads, None, None, ())
    from mlpack.core.sysinfo import available_cpus

    threads = (device.threads,) if settings.threads == (None,) else settings.threads
    warnings: list[str] = []
    cpus: tuple[int, ...] | None = None
    if device.cpus:
        usable = tuple(c for c in device.cpus if c in available_cpus())
        if len(usable) < len(device.cpus):
            warnings.append(f"profile {device.name} names CPUs {list(device.cpus)}; only {list(usable)} exist here")
        cpus = usable or None
    cores = len(cpus or available_cpus())
    if device.threads > cores:
        warnings.append(
            f"profile {device.name} runs {device.threads} threads but only {cores} CPUs are "
            "available here: threads share cores, so this approximates the device poorly"
        )
    record = {
        **device.to_dict(),
        "measured_on_device": on_device,
        "note": (
            "measured on the device itself"
            if on_device
            else f"an approximation: measured on this machine with the {device.name} profile's threads and CPU "
            "set, not on the device itself"
        ),
    }
    return _Placement(threads, cpus, record, tuple(warnings))


def _measurement(
    config: Configuration,
    outcome: Outcome,
    warnings: Sequence[str],
    device: DeviceProfile | None,
    rule: StoppingRule,
) -> Measurement:
    from mlpack.core.onnxio import model_size_bytes

    samples = outcome.samples_ms
    stats = summarize(samples)
    baseline, peak = outcome.loaded.baseline_rss_mb, outcome.peak_rss_mb
    return Measurement(
        model=str(config.model),
        name=config.name,
        size_bytes=model_size_bytes(config.model),
        batch_size=config.batch_size,
        threads=config.threads,
        load_ms=outcome.loaded.load_ms,
        first_inference_ms=outcome.loaded.first_inference_ms,
        latency_ms=stats,
        throughput_sps=config.batch_size * 1000.0 / stats.mean if stats.mean > 0 else 0.0,
        timed_seconds=sum(samples) / 1000.0,
        samples_ms=tuple(samples),
        memory=Memory(baseline, peak, max(peak - baseline, 0.0)),
        warnings=(*warnings, *_measurement_notes(stats, peak, device)),
        profile=outcome.profile.to_dict() if outcome.profile else None,
        precision=rule.precision(samples, outcome.stopped_by),
    )


def _measurement_notes(stats: LatencyStats, peak_mb: float, device: DeviceProfile | None) -> list[str]:
    notes = []
    if stats.cv > NOISY_CV:
        notes.append(
            f"coefficient of variation {stats.cv:.0%} > {NOISY_CV:.0%}: the machine was noisy, "
            "treat these figures with care (close other programs, pin --threads, run longer)"
        )
    if device is not None and device.memory_mb and peak_mb > device.memory_mb:
        notes.append(f"peak memory {peak_mb:.0f} MB exceeds the {device.name} profile's {device.memory_mb:.0f} MB")
    return notes


def unique_names(paths: Sequence[Path]) -> list[str]:
    """Short labels for the models: file names, made unique by their paths where two clash."""
    names: list[str] = []
    for path in paths:
        name = path.name
        if name in names:
            name = str(path)
        while name in names:
            name += "'"
        names.append(name)
    return names


def _with_ratios(measurements: list[Measurement]) -> list[Measurement]:
    from dataclasses import replace

    first_model = measurements[0].model
    firsts = {(m.batch_size, m.threads): m for m in measurements if m.model == first_model}
    out = []
    for m in measurements:
        base = firsts.get((m.batch_size, m.threads))
        ratio = None
        if base is not None:
            ratio = {p: m.latency_ms.percentile(p) / base.latency_ms.percentile(p) for p in ("p50", "p95")}
        out.append(replace(m, ratio_to_first=ratio))
    return out


def _best_batches(measurements: Sequence[Measurement], budget_ms: float | None) -> dict[str, int | None]:
    """Per model (and thread count): the largest batch whose p95 stays within the budget."""
    if budget_ms is None:
        return {}
    best: dict[str, int | None] = {}
    for m in measurements:
        key = m.name if m.threads is None else f"{m.name} @ {m.threads} threads"
        best.setdefault(key, None)
        if m.latency_ms.p95 <= budget_ms and (best[key] is None or m.batch_size > (best[key] or 0)):
            best[key] = m.batch_size
    return best
