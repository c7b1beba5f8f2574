"""``mlpack check``: measure what the budgets need, and give one verdict per budget.

Latency verdicts must not flake on a noisy CI machine: a percentile fails only when its
bootstrap confidence interval lies wholly above the limit and passes only when it lies wholly
below; in between, the model is measured again (samples pooled) and, if it is still too close
to call, the verdict is "inconclusive" (exit 3) instead of a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any

from mlpack.budget.spec import Budgets, load_budget_file, resolve
from mlpack.core.devices import DeviceProfile, get_device
from mlpack.core.metrics import QualityReport
from mlpack.core.progress import Progress
from mlpack.errors import BadInputError, DataError, ExitCode

SCHEMA = "mlpack.check/1"
# Latency is timed in several fresh processes per round: the spread between processes is the
# noise a CI verdict must survive (see mlpack.stats.hierarchical_estimates).
PROCESSES_PER_ROUND = 3


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Verdict:
    budget: str  # e.g. "max_latency_ms.p95", "min.top3_accuracy"
    measured: float | None
    limit: float
    unit: str
    status: Status
    margin: float | None  # headroom: positive means inside the budget, in the budget's unit
    warn_only: bool = False
    detail: str = ""

    @property
    def blocking(self) -> bool:
        return self.status is not Status.PASS and not self.warn_only

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "measured": self.measured,
            "limit": self.limit,
            "unit": self.unit,
            "status": self.status.value,
            "margin": self.margin,
            "warn_only": self.warn_only,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class CheckResult:
    created: str
    model: str
    reference: str | None
    baseline: str | None
    data: str | None
    device: dict[str, Any] | None
    budgets: Budgets
    verdicts: tuple[Verdict, ...]
    size_bytes: int
    quality: QualityReport | None
    reference_quality: QualityReport | None
    latency: dict[str, Any] | None  # the pooled measurement summary, per model
    system: dict[str, Any] | None
    confidence: float
    remeasured: int
    schema: str = SCHEMA

    @property
    def exit_code(self) -> ExitCode:
        if any(v.blocking and v.status is Status.FAIL for v in self.verdicts):
            return ExitCode.FAILED
        if any(v.blocking and v.status is Status.INCONCLUSIVE for v in self.verdicts):
            return ExitCode.INCONCLUSIVE
        return ExitCode.OK

    @property
    def summary(self) -> str:
        failed = [v for v in self.verdicts if v.blocking and v.status is Status.FAIL]
        unclear = [v for v in self.verdicts if v.blocking and v.status is Status.INCONCLUSIVE]
        warned = [v for v in self.verdicts if v.warn_only and v.status is not Status.PASS]
        if failed:
            text = f"{len(failed)} budget{'s' if len(failed) > 1 else ''} broken: " + ", ".join(
                v.budget for v in failed
            )
        elif unclear:
            text = "inconclusive: " + ", ".join(v.budget for v in unclear) + " too close to call"
        else:
            text = f"all {len(self.verdicts)} budgets hold"
        if warned:
            text += (
                f" ({len(warned)} warning{'s' if len(warned) > 1 else ''}: " + ", ".join(v.budget for v in warned) + ")"
            )
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "created": self.created,
            "model": self.model,
            "reference": self.reference,
            "baseline": self.baseline,
            "data": self.data,
            "device": self.device,
            "budgets": self.budgets.to_dict(),
            "exit_code": int(self.exit_code),
            "summary": self.summary,
            "verdicts": [v.to_dict() for v in self.verdicts],
            "size_bytes": self.size_bytes,
            "quality": self.quality.to_dict() if self.quality else None,
            "reference_quality": self.reference_quality.to_dict() if self.reference_quality else None,
            "latency": self.latency,
            "system": self.system,
            "confidence": self.confidence,
            "remeasured": self.remeasured,
        }




def check(
    model: Path,
    *,
    budgets: Path,
    device: str | None = None,
    devices_file: Path | None = None,
    reference: Path | None = None,
    baseline: Path | None = None,
    data: Path | None = None,
    runs: int = 100,
    duration_s: float = 1.0,
    warmup: int = 10,
    confidence: float = 0.95,
    max_remeasure: int = 2,
    progress: Progress | None = None,
) -> CheckResult:
    from mlpack.core.onnxio import load_model, model_size_bytes
    from mlpack.core.signature import signature_of

    if not 0.5 <= confidence < 1:
        raise BadInputError(f"--confidence must be in [0.5, 1), got {confidence}.")
    if max_remeasure < 0:
        raise BadInputError("--max-remeasure cannot be negative.")
    budget_file = load_budget_file(budgets)
    profile = resolve_device(device, budget_file.devices, devices_file)
    resolved = resolve(budget_file, device)
    _check_requirements(resolved, reference=reference, baseline=baseline, data=data)
    model = Path(model)
    signature = signature_of(load_model(model))
    size = model_size_bytes(model)
    verdicts: list[Verdict] = []
    if resolved.max_size_mb is not None:
        verdicts.append(upper_verdict("max_size_mb", size / 1024**2, resolved.max_size_mb, "MB", resolved))

    quality = reference_quality = None
    if data is not None and (resolved.needs_data or reference is not None):
        quality, reference_quality = _evaluate(model, reference, data, signature.inputs, resolved)
        verdicts.extend(quality_verdicts(quality, resolved))

    latency = system = None
    remeasured = 0
    if resolved.needs_timing:
        timing, remeasured = _timing_verdicts(
            model, baseline, resolved, profile, runs, duration_s, warmup, confidence, max_remeasure, progress
        )
        verdicts.extend(timing["verdicts"])
        latency, system = timing["latency"], timing["system"]
    if not verdicts:
        raise BadInputError(f"{budgets} sets no budget that applies here; nothing was checked.")
    return CheckResult(
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        model=str(model),
        reference=str(reference) if reference else None,
        baseline=str(baseline) if baseline else None,
        data=str(data) if data else None,
        device=device_record(profile),
        budgets=resolved,
        verdicts=tuple(verdicts),
        size_bytes=size,
        quality=quality,
        reference_quality=reference_quality,
        latency=latency,
        system=system,
        confidence=confidence,
        remeasured=remeasured,
    )


def resolve_device(
    name: str | None, from_budget_file: dict[str, DeviceProfile], devices_file: Path | None
) -> DeviceProfile | None:
    if name is None:
        return None
    if name in from_budget_file:
        return from_budget_file[name]
    return get_device(name, devices_file)


def device_record(profile: DeviceProfile | None) -> dict[str, Any] | None:
    if profile is None:
        return None
    return {
        **profile.to_dict(),
        "note": f"measured on this machine with the {profile.name} profile's threads and "
        "CPU set: an approximation of the device",
    }


def _check_requirements(budgets: Budgets, *, reference: Path | None, baseline: Path | None, data: Path | None) -> None:
    if budgets.needs_data and data is None:
        wanted = [k for k in ("min_accuracy", "max_accuracy_drop", "max_slice_gap") if getattr(budgets, k) is not None]
        wanted += [f"min.{m}" for m in budgets.min_metrics] + [f"max.{m}" for m in budgets.max_metrics]
        raise DataError(
            f"the budgets {', '.join(wanted)} need evaluation data: pass --data val.npz "
            "(inputs, plus 'labels' and, for slice budgets, 'slices')."
        )
    if budgets.max_accuracy_drop is not None and reference is None:
        raise BadInputError("max_accuracy_drop needs a model to compare with: pass --reference REF.onnx.")
    reference_metrics = [
        m for m in (*budgets.min_metrics, *budgets.max_metrics) if m in ("agreement", "max_abs_error", "mean_cosine")
    ]
    if reference_metrics and reference is None:
        raise BadInputError(f"the budgets on {', '.join(reference_metrics)} need --reference REF.onnx.")
    if budgets.max_slowdown is not None and baseline is None:
        raise BadInputError("max_slowdown needs the previous model to measure against: pass --baseline OLD.onnx.")


def _evaluate(
    model: Path, reference: Path | None, data: Path, specs: Any, budgets: Budgets
) -> tuple[QualityReport, QualityReport | None]:
    from mlpack.core.data import load_dataset
    from mlpack.core.metrics import evaluate
    from mlpack.core.runner import predict

    dataset = load_dataset(data, specs, need_labels=budgets.needs_labels)
    if budgets.max_slice_gap is not None and dataset.slices is None:
        raise DataError(f"max_slice_gap needs a 'slices' array in {data}: one group id per sample.")
    outputs = predict(model, dataset)[0]
    reference_outputs = predict(reference, dataset)[0] if reference is not None else None
    quality = evaluate(outputs, dataset.labels, reference=reference_outputs, slices=dataset.slices)
    reference_quality = None
    if reference_outputs is not None:
        reference_quality = evaluate(reference_outputs, dataset.labels, slices=dataset.slices)
    return quality, reference_quality


def upper_verdict(
    name: str, measured: float, limit: float, unit: str, budgets: Budgets, detail: str = "", warn_key: str | None = None
) -> Verdict:
    status = Status.PASS if measured <= limit else Status.FAIL
    return Verdict(
        name, measured, limit, unit, status, limit - measured, (warn_key or name) in budgets.warn_only, detail
    )


def lower_verdict(
    name: str, measured: float, limit: float, unit: str, budgets: Budgets, detail: str = "", warn_key: str | None = None
) -> Verdict:
    status = Status.PASS if measured >= limit else Status.FAIL
    return Verdict(
        name, measured, limit, unit, status, measured - limit, (warn_key or name) in budgets.warn_only, detail
    )


def quality_verdicts(quality: QualityReport, budgets: Budgets) -> list[Verdict]:
    verdicts = []
    metrics = quality.metrics

    def metric(name: str, budget: str) -> float:
        if name not in metrics:
            raise DataError(
                f"budget {budget} names the metric '{name}', which this model and data do not give; "
                f"available: {', '.join(sorted(metrics))}."
            )
        return metrics[name]

    if budgets.min_accuracy is not None:
        verdicts.append(
            lower_verdict(
                "min_accuracy",
                metric("accuracy", "min_accuracy"),
                budgets.min_accuracy,
                "ratio",
                budgets,
                f"top-1 over {quality.num_samples} samples",
            )
        )
    for name, limit in budgets.min_metrics.items():
        verdicts.append(lower_verdict(f"min.{name}", metric(name, f"min.{name}"), limit, "", budgets, warn_key="min"))
    for name, limit in budgets.max_metrics.items():
        verdicts.append(upper_verdict(f"max.{name}", metric(name, f"max.{name}"), limit, "", budgets, warn_key="max"))
    if budgets.max_accuracy_drop is not None:
        drop = metric("accuracy_drop", "max_accuracy_drop")
        verdicts.append(
            upper_verdict(
                "max_accuracy_drop",
                drop,
                budgets.max_accuracy_drop,
                "ratio",
                budgets,
                f"reference {metrics['reference_accuracy']:.4f} -> {metrics['accuracy']:.4f}",
            )
        )
    if budgets.max_slice_gap is not None:
        gap_metric = "accuracy" if quality.task == "classification" else "mae"
        if gap_metric not in quality.slice_gap:
            raise DataError("max_slice_gap needs labels and at least one slice with samples.")
        per_slice = {s: m[gap_metric] for s, m in quality.per_slice.items()}
        worst = (
            min(per_slice, key=per_slice.__getitem__)
            if gap_metric == "accuracy"
            else max(per_slice, key=per_slice.__getitem__)
        )
        verdicts.append(
            upper_verdict(
                "max_slice_gap",
                quality.slice_gap[gap_metric],
                budgets.max_slice_gap,
                "ratio",
                budgets,
                f"{gap_metric} per slice: "
                + ", ".join(f"{s}={v:.4f}" for s, v in per_slice.items())
                + f"; worst slice {worst}",
            )
        )
    return verdicts


def _timing_verdicts(
    model: Path,
    baseline: Path | None,
    budgets: Budgets,
    profile: DeviceProfile | None,
    runs: int,
    duration_s: float,
    warmup: int,
    confidence: float,
    max_remeasure: int,
    progress: Progress | None,
) -> tuple[dict[str, Any], int]:
    """Latency in rounds of PROCESSES_PER_ROUND fresh processes, adding a round while a verdict is
    too close to call.

    Absolute budgets time the model alone in each process, as it runs in production (thread
    spinning on). The slowdown budget times the model and the baseline interleaved in pairs of
    processes (spinning off, so neither steals cores from the other): the ratio is fair even
    where absolute times drift.
    """
    from mlpack.bench.measure import BenchSettings, benchmark

    settings = BenchSettings(runs=runs, duration_s=duration_s, warmup=warmup)
    own: list[Any] = []
    pairs: list[tuple[Any, Any]] = []
    rounds = 0
    while True:
        rounds += 1
        for _ in range(PROCESSES_PER_ROUND):
            if (
                budgets.max_latency_ms
                or budgets.max_first_inference_ms is not None
                or (budgets.max_load_ms is not None or budgets.max_peak_memory_mb is not None)
            ):
                own.extend(benchmark([model], settings=settings, device=profile, progress=progress).measurements)
            if budgets.max_slowdown is not None and baseline is not None:
                model_run, baseline_run = benchmark(
                    [model, Path(baseline)], settings=settings, device=profile, progress=progress
                ).measurements
                pairs.append((model_run, baseline_run))
        verdicts = _latency_verdicts([m.samples_ms for m in own], pairs, budgets, confidence)
        if rounds > max_remeasure or not any(v.status is Status.INCONCLUSIVE for v in verdicts):
            break
    own = own or [m for m, _ in pairs]
    first_inference = _median([m.first_inference_ms for m in own])
    if budgets.max_first_inference_ms is not None:
        verdicts.append(
            upper_verdict(
                "max_first_inference_ms",
                first_inference,
                budgets.max_first_inference_ms,
                "ms",
                budgets,
                f"median over {len(own)} processes of one cold run after session creation",
            )
        )
    load = _median([m.load_ms for m in own])
    if budgets.max_load_ms is not None:
        verdicts.append(
            upper_verdict(
                "max_load_ms",
                load,
                budgets.max_load_ms,
                "ms",
                budgets,
                f"session creation, median over {len(own)} processes",
            )
        )
    peak = max(m.memory.model_peak_mb for m in own)
    if budgets.max_peak_memory_mb is not None:
        verdicts.append(
            upper_verdict(
                "max_peak_memory_mb",
                peak,
                budgets.max_peak_memory_mb,
                "MB",
                budgets,
                "the model's peak above a process with onnxruntime loaded, worst of "
                f"{len(own)} processes (whole process: {max(m.memory.peak_rss_mb for m in own):.1f} MB)",
            )
        )
    latency = {"processes": len(own), "model": _summary(own)}
    if pairs:
        latency["interleaved_model"] = _summary([m for m, _ in pairs])
        latency["interleaved_baseline"] = _summary([b for _, b in pairs])
    from mlpack.core.sysinfo import system_info

    return {"verdicts": verdicts, "latency": latency, "system": system_info()}, rounds - 1


def _median(values: list[float]) -> float:
    import statistics

    return float(statistics.median(values))


def _summary(measurements: list[Any]) -> dict[str, Any]:
    from mlpack.bench.stats import summarize

    pooled = [s for m in measurements for s in m.samples_ms]
    return {
        "pooled_runs": len(pooled),
        "latency_ms": summarize(pooled).to_dict(),
        "per_process_p50_ms": [m.latency_ms.p50 for m in measurements],
        "per_process_p95_ms": [m.latency_ms.p95 for m in measurements],
        "load_ms": [m.load_ms for m in measurements],
        "first_inference_ms": [m.first_inference_ms for m in measurements],
        "model_peak_mb": [m.memory.model_peak_mb for m in measurements],
    }


def _latency_verdicts(
    groups: list[tuple[float, ...]], pairs: list[tuple[Any, Any]], budgets: Budgets, confidence: float
) -> list[Verdict]:
    """One value per process (its percentile), and a t interval over the processes.

    Intervals are taken on the log scale: latency noise is multiplicative (a slower process is
    slower by a factor), and an interval on the raw scale can reach below zero, which would
    keep a hopeless budget "inconclusive".
    """
    import math

    from mlpack.bench.stats import process_interval, statistic

    verdicts = []
    for percentile, limit in budgets.max_latency_ms.items():
        logs = [math.log(max(float(statistic(g, percentile)), 1e-9)) for g in groups]
        log_mean, log_low, log_high = process_interval(logs, confidence)
        estimate, low, high = math.exp(log_mean), math.exp(log_low), math.exp(log_high)
        verdicts.append(
            Verdict(
                f"max_latency_ms.{percentile}",
                estimate,
                limit,
                "ms",
                _three_way(low, high, limit),
                limit - estimate,
                "max_latency_ms" in budgets.warn_only,
                f"geometric mean of {len(groups)} processes' {percentile}; "
                f"{confidence:.0%} CI [{low:.3f}, {high:.3f}] ms",
            )
        )
    if budgets.max_slowdown is not None:
        percentile = budgets.slowdown_percentile
        # Ratios are averaged on the log scale: 2x slower and 2x faster must cancel out.
        logs = [math.log(statistic(m.samples_ms, percentile) / statistic(b.samples_ms, percentile)) for m, b in pairs]
        log_mean, log_low, log_high = process_interval(logs, confidence)
        ratio, low, high = math.exp(log_mean), math.exp(log_low), math.exp(log_high)
        verdicts.append(
            Verdict(
                f"max_slowdown.{percentile}",
                ratio,
                budgets.max_slowdown,
                "x",
                _three_way(low, high, budgets.max_slowdown),
                budgets.max_slowdown - ratio,
                "max_slowdown" in budgets.warn_only,
                f"geometric mean of {percentile} ratios over {len(pairs)} interleaved process pairs; "
                f"{confidence:.0%} CI [{low:.3f}, {high:.3f}]",
            )
        )
    return verdicts


def _three_way(low: float, high: float, limit: float) -> Status:
    if high <= limit:
        return Status.PASS
    if low > limit:
        return Status.FAIL
    return Status.INCONCLUSIVE
