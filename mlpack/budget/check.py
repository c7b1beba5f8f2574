"""``mlpack check``: measure what the budgets need, and give one verdict per budget.

Latency verdicts must not flake on a noisy CI machine: a percentile fails only when its
confidence interval lies wholly above the limit and passes only when it lies wholly below; in
between, the model is measured again (samples pooled) and, if it is still too close to call,
the verdict is "inconclusive" (exit 3) instead of a guess. The verdicts themselves are judged
in ``mlpack.budget.verdicts``, the same place ``tune`` judges its candidates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlpack.bench import measure  # called as measure.benchmark, which tests replace
from mlpack.bench.results import Measurement
from mlpack.bench.settings import BenchSettings
from mlpack.bench.stats import summarize
from mlpack.budget.drift import DriftResult, budget_reference, drift_against, drift_verdicts, load_reference
from mlpack.budget.settings import CheckSettings
from mlpack.budget.spec import REFERENCE_METRICS, Budgets, load_budget_file, resolve
from mlpack.budget.verdicts import (
    Status,
    Verdict,
    interval_latency_verdicts,
    quality_verdicts,
    resource_figures,
    resource_verdicts,
    size_verdicts,
)
from mlpack.core.devices import DeviceProfile, device_record, resolve_device
from mlpack.core.fidelity import Tolerance
from mlpack.core.metrics import QualityReport, evaluate
from mlpack.core.onnxio import load_model, model_size_bytes
from mlpack.core.progress import Progress
from mlpack.core.signature import signature_of
from mlpack.core.sysinfo import system_info
from mlpack.data.feeds import FeedOptions, model_dataset, refuse_invented_shapes
from mlpack.data.runner import predict
from mlpack.errors import BadInputError, DataError, ExitCode

SCHEMA = "mlpack.check/1"
# Latency is timed in several fresh processes per round: the spread between processes is the
# noise a CI verdict must survive (see mlpack.bench.stats.process_interval).
PROCESSES_PER_ROUND = 3


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
    drift: DriftResult | None = None  # the evaluation data against --drift-reference

    @property
    def ok(self) -> bool:
        """True when every blocking budget passed (warnings may still be reported)."""
        return self.exit_code is ExitCode.OK

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
            "ok": self.ok,
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
            "drift": self.drift.to_dict() if self.drift else None,
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
    drift_reference: Path | None = None,
    settings: CheckSettings = CheckSettings(),
    progress: Progress | None = None,
) -> CheckResult:
    """Measure what the budgets need and give one verdict per budget.

    A broken budget is a result (``ok`` False, ``exit_code`` 1), not an exception; bad input
    (a missing file, a budget that needs data it was not given) raises an ``MlpackError``.

    Args:
        model: the ONNX model to check.
        budgets: the budget file (TOML): ``[budget]``, ``[budget.DEVICE]``, ``[device.NAME]``.
        device: a device profile whose budget overrides, threads and CPU set apply; None checks
            the default budgets on this machine as is.
        devices_file: extra ``[device.NAME]`` profiles (TOML), after the budget file's own.
        reference: the model to compare with, for ``max_accuracy_drop`` and reference metrics
            (``agreement``, ``max_abs_error``, ``mean_cosine``).
        baseline: the previous model, timed interleaved with ``model`` for ``max_slowdown``.
        data: evaluation data (.npz: inputs, plus ``labels`` and ``slices`` where budgets need them).
        drift_reference: a package packed with ``--data`` (or its statistics file) that ``data``
            is compared with, for ``max_input_drift`` and ``max_output_drift``.
        settings: how to measure and judge: runs, duration, warm-up, confidence, re-measurements,
            and how the model is fed (see :class:`mlpack.budget.settings.CheckSettings`).
        progress: called with (what, fraction done) while measuring; None is silent.
    """
    profile, resolved = _resolved_budgets(budgets, device, devices_file)
    _check_requirements(resolved, reference=reference, baseline=baseline, data=data)
    _check_drift_requirements(resolved, drift_reference=drift_reference, data=data)
    model = Path(model)
    size, signature = _open_model(model)
    settings.feeding.check(signature)  # a name the model lacks is refused even where no budget runs the model
    # Decisions against the reference are judged as optimize judges them (mlpack.core.fidelity).
    fidelity = Tolerance(confidence=settings.confidence).with_rules(resolved.threshold).with_rules(settings.thresholds)
    judged = _judge_data(model, data, reference, drift_reference, signature, resolved, (settings.feeding, fidelity))
    timing = None
    if resolved.needs_timing:
        timing = _time(model, baseline, resolved, profile, settings, data, progress)
    verdicts = size_verdicts(size, resolved) + judged.verdicts + (timing.verdicts if timing else [])
    if not verdicts:
        raise BadInputError(f"{budgets} sets no budget that applies here; nothing was checked.")
    return _result(
        model, reference, baseline, data, profile, resolved, tuple(verdicts), size, judged, timing, settings.confidence
    )


def _resolved_budgets(
    budgets: Path, device: str | None, devices_file: Path | None
) -> tuple[DeviceProfile | None, Budgets]:
    """The device profile and the budgets that apply on it."""
    budget_file = load_budget_file(budgets)
    profile = resolve_device(device, budget_file.devices, devices_file)
    return profile, resolve(budget_file, device)


@dataclass(frozen=True)
class _Judged:
    """The verdicts that rest on the evaluation data, with what they were judged on."""

    verdicts: list[Verdict]
    quality: QualityReport | None = None
    reference_quality: QualityReport | None = None
    drift: DriftResult | None = None


def _judge_data(
    model: Path,
    data: Path | None,
    reference: Path | None,
    drift_reference: Path | None,
    signature: Any,
    budgets: Budgets,
    how: tuple[FeedOptions, Tolerance],
) -> _Judged:
    """Accuracy, agreement with the reference and drift: the budgets judged on evaluation data."""
    if data is None:
        return _Judged([])
    verdicts: list[Verdict] = []
    quality = reference_quality = None
    if budgets.needs_data or reference is not None:
        quality, reference_quality = _evaluate(model, reference, data, signature, budgets, how)
        verdicts += quality_verdicts(quality, budgets)
    drift = _drift(model, drift_reference, data, how[0]) if drift_reference is not None else None
    if drift is not None:
        verdicts += drift_verdicts(drift, budgets)
    return _Judged(verdicts, quality, reference_quality, drift)


def _result(
    model: Path,
    reference: Path | None,
    baseline: Path | None,
    data: Path | None,
    profile: DeviceProfile | None,
    budgets: Budgets,
    verdicts: tuple[Verdict, ...],
    size: int,
    judged: _Judged,
    timing: _Timing | None,
    confidence: float,
) -> CheckResult:
    """The result, with the files it judged named as given."""
    return CheckResult(
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        model=str(model),
        reference=str(reference) if reference else None,
        baseline=str(baseline) if baseline else None,
        data=str(data) if data else None,
        device=device_record(profile),
        budgets=budgets,
        verdicts=verdicts,
        size_bytes=size,
        quality=judged.quality,
        reference_quality=judged.reference_quality,
        latency=timing.latency if timing else None,
        system=timing.system if timing else None,
        confidence=confidence,
        remeasured=timing.remeasured if timing else 0,
        drift=judged.drift,
    )


def _open_model(model: Path) -> tuple[int, Any]:
    """The file size and input specs; loading first makes a corrupt model bad input, whatever is checked."""
    return model_size_bytes(model), signature_of(load_model(model))


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
    reference_metrics = [m for m in (*budgets.min_metrics, *budgets.max_metrics) if m in REFERENCE_METRICS]
    if reference_metrics and reference is None:
        raise BadInputError(f"the budgets on {', '.join(reference_metrics)} need --reference REF.onnx.")
    if budgets.max_slowdown is not None and baseline is None:
        raise BadInputError("max_slowdown needs the previous model to measure against: pass --baseline OLD.onnx.")


def _check_drift_requirements(budgets: Budgets, *, drift_reference: Path | None, data: Path | None) -> None:
    budget_reference(budgets, drift_reference, data=data)


def _drift(model: Path, drift_reference: Path, data: Path, feeding: FeedOptions) -> DriftResult:
    reference = load_reference(drift_reference)
    return drift_against(reference, model, data, name=str(drift_reference), feeding=feeding)


def _evaluate(
    model: Path,
    reference: Path | None,
    data: Path,
    signature: Any,
    budgets: Budgets,
    how: tuple[FeedOptions, Tolerance],
) -> tuple[QualityReport, QualityReport | None]:
    feeding, fidelity = how
    names = [o.name for o in signature.outputs]
    dataset = model_dataset(data, signature.inputs, options=feeding, need_labels=budgets.needs_labels)
    if budgets.max_slice_gap is not None and dataset.slices is None:
        raise DataError(f"max_slice_gap needs a 'slices' array in {data}: one group id per sample.")
    # Every output, as optimize judges them: a file that loses decisions on any output fails here too.
    outputs = predict(model, dataset, options=feeding)
    reference_outputs = predict(reference, dataset, options=feeding) if reference is not None else None
    quality = evaluate(
        outputs, dataset.labels, reference=reference_outputs, slices=dataset.slices, names=names, tolerance=fidelity
    )
    reference_quality = None
    if reference_outputs is not None:
        reference_quality = evaluate(reference_outputs, dataset.labels, slices=dataset.slices)
    return quality, reference_quality


@dataclass(frozen=True)
class _Timing:
    verdicts: list[Verdict]
    latency: dict[str, Any]  # the pooled measurement summary, per model
    system: dict[str, Any]
    remeasured: int  # rounds measured beyond the first


@dataclass
class _Processes:
    """Every measuring process so far, pooled over the rounds."""

    own: list[Measurement]  # the model alone, one per process
    pairs: list[tuple[Measurement, Measurement]]  # (model, baseline), interleaved in one process


def _time(
    model: Path,
    baseline: Path | None,
    budgets: Budgets,
    profile: DeviceProfile | None,
    settings: CheckSettings,
    data: Path | None,
    progress: Progress | None,
) -> _Timing:
    """Latency in rounds of PROCESSES_PER_ROUND fresh processes, adding a round while a verdict is
    too close to call; then the start-up and memory verdicts over every process."""
    if data is None and (budgets.max_latency_ms or budgets.max_first_inference_ms is not None):
        refuse_invented_shapes(model, signature_of(load_model(model)), settings.feeding, what="the latency budget")
    processes = _Processes(own=[], pairs=[])
    bench = settings.bench_settings(data)
    rounds = 0
    while True:
        rounds += 1
        _measure_round(processes, model, baseline, budgets, profile, bench, progress)
        groups = [m.samples_ms for m in processes.own]
        verdicts = interval_latency_verdicts(groups, processes.pairs, budgets, settings.confidence)
        if rounds > settings.max_remeasure or not any(v.status is Status.INCONCLUSIVE for v in verdicts):
            break
    # With only a slowdown budget, the model's own figures come from the interleaved processes.
    own = processes.own or [m for m, _ in processes.pairs]
    verdicts += resource_verdicts(resource_figures(own), budgets)
    latency = {"processes": len(own), "model": _summary(own), "inputs": measure.inputs_record(model, bench)}
    if processes.pairs:
        latency["interleaved_model"] = _summary([m for m, _ in processes.pairs])
        latency["interleaved_baseline"] = _summary([b for _, b in processes.pairs])
    return _Timing(verdicts=verdicts, latency=latency, system=system_info(), remeasured=rounds - 1)


def _measure_round(
    processes: _Processes,
    model: Path,
    baseline: Path | None,
    budgets: Budgets,
    profile: DeviceProfile | None,
    settings: BenchSettings,
    progress: Progress | None,
) -> None:
    """Absolute budgets time the model alone in each process, as it runs in production (thread
    spinning on). The slowdown budget times the model and the baseline interleaved in pairs of
    processes (spinning off, so neither steals cores from the other): the ratio is fair even
    where absolute times drift.
    """
    alone = bool(budgets.max_latency_ms) or any(
        v is not None for v in (budgets.max_first_inference_ms, budgets.max_load_ms, budgets.max_peak_memory_mb)
    )
    for _ in range(PROCESSES_PER_ROUND):
        if alone:
            processes.own.extend(
                measure.benchmark([model], settings=settings, device=profile, progress=progress).measurements
            )
        if budgets.max_slowdown is not None and baseline is not None:
            model_run, baseline_run = measure.benchmark(
                [model, Path(baseline)], settings=settings, device=profile, progress=progress
            ).measurements
            processes.pairs.append((model_run, baseline_run))


def _summary(measurements: list[Measurement]) -> dict[str, Any]:
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
