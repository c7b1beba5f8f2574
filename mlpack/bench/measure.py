"""Latency, throughput and memory with onnxruntime on the CPU: honest, comparable, cheap.

Each configuration (model × batch size × thread count) runs in its own worker process, and
configurations are timed interleaved (:mod:`mlpack.bench.interleave`); this module decides what
to measure, under which device profile, and turns what the workers report into results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlpack.bench.adaptive import StoppingRule
from mlpack.bench.interleave import Configuration, Outcome, measure_interleaved
from mlpack.bench.results import BenchResult, Measurement, Memory
from mlpack.bench.settings import BenchSettings
from mlpack.bench.stats import NOISE_FLOOR_MS, NOISY_CV, LatencyStats, summarize
from mlpack.core.batching import refuse_larger_batches
from mlpack.core.devices import DeviceProfile
from mlpack.core.fileio import require_file
from mlpack.core.onnxio import load_model, model_size_bytes
from mlpack.core.progress import Progress
from mlpack.core.signature import signature_of
from mlpack.core.sysinfo import available_cpus, system_info, total_memory_mb
from mlpack.data.feeds import generated_shapes, refuse_invented_shapes, step_feeds
from mlpack.errors import BadInputError


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
    settings.validate()
    if not models:
        raise BadInputError("name at least one model to measure.")
    paths = [require_file(Path(m), "model file") for m in models]
    inputs = {name: inputs_record(path, settings) for path, name in zip(paths, unique_names(paths), strict=True)}
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
    measurements = _with_ratios(
        [_measurement(c, outcomes[c], (*placement.warnings, *inputs[c.name]["notes"]), device, rule) for c in configs]
    )
    record = settings.to_dict() | {
        "inputs": inputs,
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


def inputs_record(model: Path, settings: BenchSettings) -> dict[str, Any]:
    """What bench feeds ``model`` (shapes at the first batch size), whether it was generated, and
    which sizes mlpack invented; for the JSON and the report.

    Raises:
        BadInputError: a latency budget (``--latency-budget``) would be judged on invented sizes, or
            a batch size above 1 is asked of a model that takes one sample per call.
    """

    loaded = load_model(model, check=False)
    signature = signature_of(loaded)
    settings.feeding.check(signature)
    refuse_larger_batches(model.name, signature.inputs, settings.batch_sizes)
    batch = settings.batch_sizes[0]
    if settings.data is not None:
        feeds = step_feeds(model, signature, data=settings.data, options=settings.feeding, batch_size=batch)
        shapes = {name: list(getattr(value, "shape", ())) for name, value in feeds.items()}
        return {"generated": [], "batch_size": batch, "shapes": shapes, "notes": []}
    if settings.latency_budget_ms is not None:
        refuse_invented_shapes(model, signature, settings.feeding, what="--latency-budget")
    planned = generated_shapes(loaded, signature, settings.feeding, batch)
    note = "inputs generated (no --data) at batch " + f"{batch}: " + ", ".join(s.text() for s in planned)
    return {
        "generated": [s.name for s in planned],
        "batch_size": batch,
        "shapes": {s.name: list(s.shape) for s in planned},
        "invented": {s.name: s.to_dict() for s in planned if s.invented},
        "notes": [note],
    }


def _oversubscribed(threads: Sequence[int | None]) -> tuple[str, ...]:
    """A note when --threads asks for more threads than this process has CPUs."""
    cores = len(available_cpus())
    over = [t for t in threads if t is not None and t > cores]
    if not over:
        return ()
    asked = ", ".join(map(str, over))
    return (
        f"--threads {asked} is more than the {cores} CPUs available here: threads share cores, so latency "
        "rises and the figures do not describe a machine with that many cores",
    )


def _place(settings: BenchSettings, device: DeviceProfile | None, on_device: bool) -> _Placement:
    if device is None:
        return _Placement(settings.threads, None, None, _oversubscribed(settings.threads))

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
        profile=_profile_at(outcome.profile.to_dict(), stats.p50) if outcome.profile else None,
        precision=rule.precision(samples, outcome.stopped_by),
    )


def _profile_at(profile: dict[str, Any], p50_ms: float) -> dict[str, Any]:
    """The profiler's breakdown in the latency table's terms: each share of kernel time times the
    timed p50, so the rows add up to the p50 shown. The profiler's own figures (inflated by its
    recording, most on microsecond-scale models) stay beside them as ``profiler_ms_per_run``."""
    scaled = dict(profile, timed_p50_ms=p50_ms)
    for key in ("op_types", "nodes"):
        scaled[key] = [row | {"ms_per_run": row["share"] * p50_ms, "profiler_ms_per_run": row["ms_per_run"]}
                       for row in profile[key]]  # fmt: skip
    return scaled


def _measurement_notes(stats: LatencyStats, peak_mb: float, device: DeviceProfile | None) -> list[str]:
    notes = []
    if stats.cv > NOISY_CV and stats.std > NOISE_FLOOR_MS:
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
