"""Verdicts: one per budget, from measured figures. ``check`` and ``tune`` both judge here, so the
same figures against the same budget give the same verdict wherever they were measured.

A verdict is pass or fail against a limit; latency verdicts from an interval may also be
"inconclusive" when the interval straddles the limit.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from mlpack.bench.stats import process_interval, statistic
from mlpack.budget.spec import Budgets
from mlpack.core.metrics import weakest
from mlpack.errors import DataError

if TYPE_CHECKING:
    from mlpack.bench.results import Measurement
    from mlpack.bench.stats import LatencyStats
    from mlpack.core.fidelity import OutputDiff
    from mlpack.core.metrics import QualityReport


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
    shown_unit: str = ""  # the unit the limit was written in (KiB, µs...), for reports; "" : ``unit``

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
            "shown_unit": self.shown_unit or self.unit,
        }


def upper_verdict(
    name: str, measured: float, limit: float, unit: str, budgets: Budgets, detail: str = "", warn_key: str | None = None
) -> Verdict:
    """Pass when ``measured`` is at most ``limit``.

    Args:
        name: the budget as reports name it, e.g. ``max_size_mb`` or ``max_latency_ms.p95``.
        measured: the measured figure, in ``unit``.
        limit: the budget's limit, in ``unit``.
        unit: "MB", "ms", "ratio", "x", or "" for a named metric.
        budgets: the resolved budgets, for their ``warn_only`` keys.
        detail: how the figure was measured, for people reading the report.
        warn_key: the key ``warn_only`` names when it differs from ``name`` (``max_latency_ms``
            for ``max_latency_ms.p95``).
    """
    status = Status.PASS if measured <= limit else Status.FAIL
    warn_only = (warn_key or name) in budgets.warn_only
    return Verdict(
        name, measured, limit, unit, status, limit - measured, warn_only, detail, budgets.units.get(name, "")
    )


def lower_verdict(
    name: str, measured: float, limit: float, unit: str, budgets: Budgets, detail: str = "", warn_key: str | None = None
) -> Verdict:
    """Pass when ``measured`` is at least ``limit``; the arguments are ``upper_verdict``'s."""
    status = Status.PASS if measured >= limit else Status.FAIL
    warn_only = (warn_key or name) in budgets.warn_only
    return Verdict(
        name, measured, limit, unit, status, measured - limit, warn_only, detail, budgets.units.get(name, "")
    )


def size_verdicts(size_bytes: int, budgets: Budgets) -> list[Verdict]:
    """The file-size budget, if one is set."""
    if budgets.max_size_mb is None:
        return []
    return [upper_verdict("max_size_mb", size_bytes / 1024**2, budgets.max_size_mb, "MB", budgets)]


# Quality ---------------------------------------------------------------------------------------


def quality_verdicts(quality: QualityReport, budgets: Budgets) -> list[Verdict]:
    """Accuracy, named-metric, accuracy-drop and slice-gap budgets against an evaluation."""
    verdicts = []
    if budgets.min_accuracy is not None:
        verdicts.append(
            lower_verdict(
                "min_accuracy",
                _metric(quality, "accuracy", "min_accuracy"),
                budgets.min_accuracy,
                "ratio",
                budgets,
                f"top-1 over {quality.num_samples} samples",
            )
        )
    for name, limit in budgets.min_metrics.items():
        measured = _metric(quality, name, f"min.{name}")
        if name in DECISION_METRICS and quality.decided:
            verdicts.append(decision_verdict(name, quality, limit, budgets))
            continue
        verdicts.append(lower_verdict(f"min.{name}", measured, limit, "", budgets, warn_key="min"))
    for name, limit in budgets.max_metrics.items():
        measured = _metric(quality, name, f"max.{name}")
        verdicts.append(upper_verdict(f"max.{name}", measured, limit, "", budgets, warn_key="max"))
    if budgets.max_accuracy_drop is not None:
        metrics = quality.metrics
        verdicts.append(
            upper_verdict(
                "max_accuracy_drop",
                _metric(quality, "accuracy_drop", "max_accuracy_drop"),
                budgets.max_accuracy_drop,
                "ratio",
                budgets,
                f"reference {metrics['reference_accuracy']:.4f} -> {metrics['accuracy']:.4f}",
            )
        )
    if budgets.max_slice_gap is not None:
        verdicts.append(_slice_gap_verdict(quality, budgets.max_slice_gap, budgets))
    return verdicts


# Shares of decisions, judged on their lower bound as optimize judges them (mlpack.core.fidelity).
DECISION_METRICS = ("agreement", "f1")


def decision_verdict(name: str, quality: QualityReport, limit: float, budgets: Budgets) -> Verdict:
    """``min.agreement`` or ``min.f1`` against a reference: it holds only when, on every output that
    decides, the lower bound of the share clears the limit; where the data cannot show it, the
    verdict fails and says how many more samples would (the same judgement, and text, as optimize's).
    The figure and detail are those of the output that fails (or holds least)."""
    measured = quality.metrics[name]
    low = quality.metrics[f"{name}_low"]
    judged = [(o, _judge_output(o, name, limit)) for o in quality.decided]
    failed = [(o, said) for o, (held, said) in judged if not held]
    shown = failed[0][0] if failed else weakest(quality.outputs, name)
    said = failed[0][1] if failed else next((s for o, (_, s) in judged if o is shown), None)
    assert shown is not None and shown.decisions is not None
    decisions = shown.decisions
    figure = decisions.agreement if name == "agreement" else decisions.f1
    own_low = decisions.agreement_low if name == "agreement" else decisions.f1_low
    if figure is not None and own_low is not None:
        measured, low = figure, own_low
    named = f"output '{shown.name}', " if len(quality.decided) > 1 else ""
    detail = (
        f"{named}{decisions.what}: {decisions.kept} of {decisions.judged} sure decisions kept, "
        f"{decisions.confidence:.0%} lower bound {low:.4f}; {decisions.unsure} unsure set apart "
        f"({decisions.unsure_because}, {decisions.unsure_changed} of them changed)"
    ) + (f"; {said}" if said else "")
    if len(failed) > 1:
        detail += f"; also short: {', '.join(repr(o.name) for o, _ in failed[1:])}"
    status = Status.FAIL if failed else Status.PASS
    return Verdict(f"min.{name}", measured, limit, "", status, low - limit, "min" in budgets.warn_only, detail)


def _judge_output(output: OutputDiff, name: str, limit: float) -> tuple[bool, str | None]:
    """Whether one output's decisions hold ``limit`` on ``name`` (``agreement`` or ``f1``)."""
    decisions = output.decisions
    assert decisions is not None
    if name == "agreement":
        return decisions.judge(limit)
    # judge() fails on the first figure short of the bar: F1 alone here, where the output has one
    if decisions.f1 is None or decisions.f1_low is None:
        return True, None
    held = decisions.f1_low >= limit
    return held, None if held else f"F1 {decisions.f1:.4f}, lower bound {decisions.f1_low:.4f} < {limit:g}"


def _metric(quality: QualityReport, name: str, budget: str) -> float:
    if name not in quality.metrics:
        raise DataError(
            f"budget {budget} names the metric '{name}', which this model and data do not give; "
            f"available: {', '.join(sorted(quality.metrics))}."
        )
    return quality.metrics[name]


def _slice_gap_verdict(quality: QualityReport, limit: float, budgets: Budgets) -> Verdict:
    gap_metric = "accuracy" if quality.task == "classification" else "mae"
    if gap_metric not in quality.slice_gap:
        raise DataError("max_slice_gap needs labels and at least one slice with samples.")
    per_slice = {s: m[gap_metric] for s, m in quality.per_slice.items()}
    # Accuracy is better high, mean absolute error better low: the worst slice is the other end.
    pick = min if gap_metric == "accuracy" else max
    worst = pick(per_slice, key=per_slice.__getitem__)
    return upper_verdict(
        "max_slice_gap",
        quality.slice_gap[gap_metric],
        limit,
        "ratio",
        budgets,
        f"{gap_metric} per slice: "
        + ", ".join(f"{s}={v:.4f}" for s, v in per_slice.items())
        + f"; worst slice {worst}",
    )


# Resources: first inference, session creation, peak memory ---------------------------------------


@dataclass(frozen=True)
class ResourceFigures:
    """What a model cost to start and hold, summarised over the processes that measured it."""

    processes: int
    first_inference_ms: float  # median over the processes
    load_ms: float  # median over the processes
    model_peak_mb: float  # worst of the processes
    peak_rss_mb: float  # worst of the processes, the whole process


def resource_figures(measurements: Sequence[Measurement]) -> ResourceFigures:
    """Medians of the start-up times and the worst peak memory: one slow start is noise, but
    one process that needed more memory shows what the device must hold."""
    if not measurements:
        raise ValueError("no measurements")
    return ResourceFigures(
        processes=len(measurements),
        first_inference_ms=float(statistics.median(m.first_inference_ms for m in measurements)),
        load_ms=float(statistics.median(m.load_ms for m in measurements)),
        model_peak_mb=max(m.memory.model_peak_mb for m in measurements),
        peak_rss_mb=max(m.memory.peak_rss_mb for m in measurements),
    )


def resource_verdicts(figures: ResourceFigures, budgets: Budgets) -> list[Verdict]:
    """The first-inference, load-time and peak-memory budgets that are set."""
    many = figures.processes > 1
    verdicts = []
    if budgets.max_first_inference_ms is not None:
        over = f"median over {figures.processes} processes of " if many else ""
        detail = over + "one cold run after session creation"
        verdicts.append(
            upper_verdict(
                "max_first_inference_ms",
                figures.first_inference_ms,
                budgets.max_first_inference_ms,
                "ms",
                budgets,
                detail,
            )
        )
    if budgets.max_load_ms is not None:
        detail = "session creation" + (f", median over {figures.processes} processes" if many else "")
        verdicts.append(upper_verdict("max_load_ms", figures.load_ms, budgets.max_load_ms, "ms", budgets, detail))
    if budgets.max_peak_memory_mb is not None:
        detail = (
            "the model's peak above a process with onnxruntime loaded"
            + (f", worst of {figures.processes} processes" if many else "")
            + f" (whole process: {figures.peak_rss_mb:.1f} MB)"
        )
        verdicts.append(
            upper_verdict(
                "max_peak_memory_mb", figures.model_peak_mb, budgets.max_peak_memory_mb, "MB", budgets, detail
            )
        )
    return verdicts


# Latency ----------------------------------------------------------------------------------------


def point_latency_verdicts(latency: LatencyStats, budgets: Budgets, source: str) -> list[Verdict]:
    """Latency budgets judged on one run's percentiles: good for ranking candidates, not for a CI
    verdict (``interval_latency_verdicts`` is that).

    Args:
        latency: the run's latency statistics.
        budgets: the resolved budgets.
        source: which run the figures come from, for the verdict's detail.
    """
    return [
        upper_verdict(
            f"max_latency_ms.{percentile}",
            latency.percentile(percentile),
            limit,
            "ms",
            budgets,
            f"point estimate from {source}",
            warn_key="max_latency_ms",
        )
        for percentile, limit in budgets.max_latency_ms.items()
    ]


def interval_latency_verdicts(
    groups: list[tuple[float, ...]], pairs: list[tuple[Measurement, Measurement]], budgets: Budgets, confidence: float
) -> list[Verdict]:
    """Latency and slowdown budgets: one value per process (its percentile), and a t interval
    over the processes.

    Intervals are taken on the log scale: latency noise is multiplicative (a slower process is
    slower by a factor), and an interval on the raw scale can reach below zero, which would
    keep a hopeless budget "inconclusive".

    Args:
        groups: each process's latency samples (ms), the model timed alone.
        pairs: (model, baseline) measurements timed interleaved in one process, for ``max_slowdown``.
        budgets: the resolved budgets.
        confidence: the intervals' confidence, in [0.5, 1).
    """
    verdicts = []
    for percentile, limit in budgets.max_latency_ms.items():
        logs = [math.log(max(float(statistic(g, percentile)), 1e-9)) for g in groups]
        estimate, low, high = _exp_interval(logs, confidence)
        detail = (
            f"geometric mean of {len(groups)} processes' {percentile}; {confidence:.0%} CI [{low:.3f}, {high:.3f}] ms"
        )
        name = f"max_latency_ms.{percentile}"
        verdicts.append(_interval_verdict(name, (estimate, low, high), limit, "ms", budgets, detail))
    if budgets.max_slowdown is not None:
        percentile = budgets.slowdown_percentile
        # Ratios are averaged on the log scale: 2x slower and 2x faster must cancel out.
        logs = [math.log(statistic(m.samples_ms, percentile) / statistic(b.samples_ms, percentile)) for m, b in pairs]
        ratio, low, high = _exp_interval(logs, confidence)
        detail = (
            f"geometric mean of {percentile} ratios over {len(pairs)} interleaved process pairs; "
            f"{confidence:.0%} CI [{low:.3f}, {high:.3f}]"
        )
        name = f"max_slowdown.{percentile}"
        verdicts.append(_interval_verdict(name, (ratio, low, high), budgets.max_slowdown, "x", budgets, detail))
    return verdicts


def _exp_interval(logs: list[float], confidence: float) -> tuple[float, float, float]:
    log_mean, log_low, log_high = process_interval(logs, confidence)
    return math.exp(log_mean), math.exp(log_low), math.exp(log_high)


def _interval_verdict(
    name: str, interval: tuple[float, float, float], limit: float, unit: str, budgets: Budgets, detail: str
) -> Verdict:
    """Pass when the whole interval is within the limit, fail when it is wholly beyond it, and
    inconclusive in between: a guess would flake on a noisy CI machine."""
    estimate, low, high = interval
    if high <= limit:
        status = Status.PASS
    elif low > limit:
        status = Status.FAIL
    else:
        status = Status.INCONCLUSIVE
    warn_only = name.partition(".")[0] in budgets.warn_only
    shown = budgets.units.get(name, "")
    return Verdict(name, estimate, limit, unit, status, limit - estimate, warn_only, detail, shown)
