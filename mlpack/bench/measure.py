"""Latency, throughput and memory with onnxruntime on the CPU: honest, comparable, cheap.

Each configuration (model × batch size × thread count) runs in its own worker process
(:mod:`mlpack.bench.worker`). Configurations are timed interleaved, a block of runs each in
turn, so that a drift of the machine hits them alike; warm-up runs come first, and timing
goes on until both a minimum count and a minimum duration are reached for every one.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, TypeVar

from mlpack.bench.protocol import (
    Command,
    Failed,
    Finish,
    Finished,
    Init,
    Loaded,
    Profile,
    Profiled,
    Run,
    Timed,
    WorkerConfig,
    from_json,
    to_json,
)
from mlpack.bench.stats import NOISY_CV, PERCENTILE_METHOD, LatencyStats, summarize
from mlpack.core.devices import DeviceProfile
from mlpack.core.fileio import require_file
from mlpack.core.onnxio import ExecutionMode, GraphOptimization
from mlpack.core.progress import Progress
from mlpack.errors import BadInputError, InternalError, ModelLoadError

SCHEMA = "mlpack.bench.measure/1"
BLOCK_SECONDS = 0.05  # one turn of the interleaving: long enough to dwarf the switching cost
# Alone, a configuration needs no interleaving: longer blocks only keep the progress bar moving,
# and leave fewer pauses in which onnxruntime's threads go to sleep and must be woken.
SOLO_BLOCK_SECONDS = 0.5
PROFILE_RUNS = 20


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
    profile: bool = False
    latency_budget_ms: float | None = None

    def validate(self) -> None:
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
            "profile": self.profile,
            "latency_budget_ms": self.latency_budget_ms,
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "created": self.created,
            "system": self.system,
            "settings": self.settings,
            "device": self.device,
            "best_batch": self.best_batch,
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
        )


@dataclass(frozen=True)
class _Config:
    model: Path
    name: str
    batch_size: int
    threads: int | None


@dataclass(frozen=True)
class _Placement:
    """How the workers run here: a device profile's threads and CPUs, as far as this machine allows."""

    threads: tuple[int | None, ...]
    cpus: tuple[int, ...] | None
    device_record: dict[str, Any] | None
    warnings: tuple[str, ...]  # noted on every measurement


@dataclass
class _Outcome:
    """What one configuration's worker reported, gathered while the measurement goes on."""

    loaded: Loaded
    samples_ms: list[float] = field(default_factory=list)
    block: int = 1  # timed runs per turn of the interleaving
    profile: Profiled | None = None
    peak_rss_mb: float = 0.0


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
        _Config(path, name, batch, threads)
        for path, name in zip(paths, _unique_names(paths), strict=True)
        for batch in settings.batch_sizes
        for threads in placement.threads
    ]
    spinning = settings.spinning if settings.spinning is not None else len(configs) == 1
    outcomes = _measure(configs, settings, placement.cpus, spinning, progress)
    measurements = _with_ratios([_measurement(c, outcomes[c], placement.warnings, device) for c in configs])
    record = settings.to_dict() | {
        "spinning": spinning,
        "threads": list(placement.threads),
        "interleaved": len(configs) > 1,
        "cpus": list(placement.cpus) if placement.cpus else None,
    }
    return BenchResult(
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        system=system_info(),
        settings=record,
        device=placement.device_record,
        measurements=tuple(measurements),
        best_batch=_best_batches(measurements, settings.latency_budget_ms),
    )


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
    config: _Config, outcome: _Outcome, warnings: Sequence[str], device: DeviceProfile | None
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


def _unique_names(paths: Sequence[Path]) -> list[str]:
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


_ReplyT = TypeVar("_ReplyT", Loaded, Timed, Profiled, Finished)


class _WorkerProcess:
    """The parent's end of one worker process: a typed method per command of the protocol."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlpack.bench.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def init(self, config: WorkerConfig) -> Loaded:
        return self._call(Init(config), Loaded)

    def run(self, count: int) -> Timed:
        return self._call(Run(count), Timed)

    def profile(self, count: int, prefix: str) -> Profiled:
        return self._call(Profile(count, prefix), Profiled)

    def finish(self) -> Finished:
        return self._call(Finish(), Finished)

    def _call(self, command: Command, expected: type[_ReplyT]) -> _ReplyT:
        stdin: IO[str] = self.proc.stdin  # type: ignore[assignment]
        stdout: IO[str] = self.proc.stdout  # type: ignore[assignment]
        try:
            stdin.write(to_json(command) + "\n")
            stdin.flush()
            line = stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            raise self._stopped()
        reply = from_json(line)
        if isinstance(reply, Failed):
            raise reply.to_error()
        if not isinstance(reply, expected):
            raise InternalError(f"the measuring process answered {type(command).__name__} with {type(reply).__name__}")
        return reply

    def _stopped(self) -> ModelLoadError:
        """Why the worker ended without replying: a crash in onnxruntime is the model's doing."""
        code = self.proc.wait()
        if code < 0:
            return ModelLoadError(
                f"onnxruntime crashed ({signal.Signals(-code).name}) while measuring; "
                "this model cannot be run by onnxruntime on this CPU."
            )
        stderr = self.proc.stderr.read() if self.proc.stderr else ""
        return ModelLoadError(f"the measuring process stopped (exit {code}): {stderr.strip()[-300:]}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()


def _measure(
    configs: list[_Config],
    settings: BenchSettings,
    cpus: tuple[int, ...] | None,
    spinning: bool,
    progress: Progress | None,
) -> dict[_Config, _Outcome]:
    """Start one worker per configuration, warm each up, time them in turns, then wind them up."""
    report = progress or (lambda what, done: None)
    workers: dict[_Config, _WorkerProcess] = {}
    try:
        outcomes = _start(configs, settings, cpus, spinning, workers, report)
        _warm_up(workers, outcomes, settings, report)
        _time_in_turns(workers, outcomes, settings, report)
        _wind_up(workers, outcomes, settings, report)
    finally:
        for worker in workers.values():
            worker.close()
    return outcomes


def _start(
    configs: list[_Config],
    settings: BenchSettings,
    cpus: tuple[int, ...] | None,
    spinning: bool,
    workers: dict[_Config, _WorkerProcess],
    report: Progress,
) -> dict[_Config, _Outcome]:
    """Fills ``workers`` as it goes, so that the caller closes every process started before a failure."""
    outcomes = {}
    for config in configs:
        report(f"loading {config.name} (batch {config.batch_size})", 0.0)
        workers[config] = _WorkerProcess()
        loaded = workers[config].init(
            WorkerConfig(
                model=config.model,
                batch_size=config.batch_size,
                threads=config.threads,
                cpus=cpus,
                execution_mode=settings.execution_mode,
                graph_optimization=settings.graph_optimization,
                spinning=spinning,
                data=settings.data,
                seed=settings.seed,
            )
        )
        outcomes[config] = _Outcome(loaded)
    return outcomes


def _warm_up(
    workers: dict[_Config, _WorkerProcess], outcomes: dict[_Config, _Outcome], settings: BenchSettings, report: Progress
) -> None:
    """Untimed runs, whose typical latency sizes each configuration's turn of the interleaving."""
    seconds = BLOCK_SECONDS if len(workers) > 1 else SOLO_BLOCK_SECONDS
    for config, worker in workers.items():
        report(f"warming up {config.name}", 0.0)
        warm = worker.run(max(settings.warmup, 1)).samples_ms
        typical_ms = sorted(warm)[len(warm) // 2]
        outcomes[config].block = max(1, min(settings.runs, int(seconds * 1000 / max(typical_ms, 1e-3))))


def _time_in_turns(
    workers: dict[_Config, _WorkerProcess], outcomes: dict[_Config, _Outcome], settings: BenchSettings, report: Progress
) -> None:
    """A block of timed runs per configuration in turn, until each has its minimum count and time."""
    pending = list(workers)
    while pending:
        for config in list(pending):
            samples = outcomes[config].samples_ms
            samples += workers[config].run(outcomes[config].block).samples_ms
            if len(samples) >= settings.runs and sum(samples) / 1000 >= settings.duration_s:
                pending.remove(config)
        report("measuring", _fraction_done(outcomes.values(), settings))


def _wind_up(
    workers: dict[_Config, _WorkerProcess], outcomes: dict[_Config, _Outcome], settings: BenchSettings, report: Progress
) -> None:
    """The operator profile where asked, after the timing so it cannot disturb it; then the peak memory."""
    for config, worker in workers.items():
        if settings.profile:
            report(f"profiling {config.name}", 1.0)
            with tempfile.TemporaryDirectory(prefix="mlpack-profile-") as tmp:
                outcomes[config].profile = worker.profile(PROFILE_RUNS, str(Path(tmp) / "ort"))
        outcomes[config].peak_rss_mb = worker.finish().peak_rss_mb


def _fraction_done(outcomes: Iterable[_Outcome], settings: BenchSettings) -> float:
    fractions = []
    for outcome in outcomes:
        values = outcome.samples_ms
        by_count = len(values) / settings.runs
        by_time = (sum(values) / 1000) / settings.duration_s if settings.duration_s > 0 else 1.0
        fractions.append(min(by_count, by_time, 1.0))
    return min(fractions) if fractions else 1.0
