"""``mlpack diff BEFORE AFTER``: a pull request's artifact against the base branch's, for a PR comment.

Both models are checked against the same budgets (each budget's verdict before and after), and
timed interleaved in the same fresh processes, so that the latency ratio is fair where absolute
times drift (a shared CI runner). BEFORE is the reference for accuracy drops and agreement (unless
another is given) and the baseline of ``max_slowdown``; the largest size changes are named. The
exit code is the pull request's own check: 0 its budgets hold, 1 one broke, 3 too close to call;
"slower than before" alone never fails, it is reported.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlpack.bench import measure  # called as measure.benchmark, which tests replace
from mlpack.bench.settings import BenchSettings
from mlpack.bench.stats import process_interval
from mlpack.budget.check import PROCESSES_PER_ROUND, CheckResult, check
from mlpack.budget.settings import CheckSettings
from mlpack.budget.spec import load_budget_file
from mlpack.core.devices import DeviceProfile, resolve_device
from mlpack.core.fileio import require_file
from mlpack.core.progress import Progress
from mlpack.core.sizes import SizeChange, size_breakdown, size_changes
from mlpack.errors import ExitCode

SCHEMA = "mlpack.diff/1"


@dataclass(frozen=True)
class LatencyRatio:
    """after / before, one ratio per interleaved process, with its interval over the processes."""

    statistic: str  # "p50" or "p95"
    before_ms: float  # the median over processes
    after_ms: float
    ratio: float  # mean of the per-process ratios
    low: float
    high: float
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "statistic": self.statistic,
            "before_ms": self.before_ms,
            "after_ms": self.after_ms,
            "ratio": self.ratio,
            "low": self.low,
            "high": self.high,
            "confidence": self.confidence,
        }


@dataclass(frozen=True)
class BeforeAfter:
    before: CheckResult
    after: CheckResult
    latency: tuple[LatencyRatio, ...]
    schema: str = SCHEMA
    size_changes: dict[str, list[SizeChange]] = field(default_factory=dict)  # largest first, by part and tensor

    @property
    def exit_code(self) -> ExitCode:
        """The pull request's verdict: 0 pass, 1 a budget broke, 3 inconclusive."""
        return self.after.exit_code

    @property
    def ok(self) -> bool:
        return self.after.ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "ok": self.ok,
            "exit_code": int(self.exit_code),
            "size_bytes": {"before": self.before.size_bytes, "after": self.after.size_bytes},
            "latency": [r.to_dict() for r in self.latency],
            "size_changes": {what: [c.to_dict() for c in changes] for what, changes in self.size_changes.items()},
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
        }


def before_after(
    before: Path,
    after: Path,
    *,
    budgets: Path,
    device: str | None = None,
    devices_file: Path | None = None,
    reference: Path | None = None,
    data: Path | None = None,
    drift_reference: Path | None = None,
    settings: CheckSettings = CheckSettings(),
    progress: Progress | None = None,
) -> BeforeAfter:
    """Check both artifacts against the budgets, and time them interleaved for the latency ratio.

    Args:
        before: the base branch's model (ONNX).
        after: the pull request's model (ONNX).
        budgets: the budget file (TOML) both are checked against.
        device: a device profile whose budget overrides, threads and CPU set apply.
        devices_file: extra ``[device.NAME]`` profiles (TOML).
        reference: the model accuracy drops are measured against, for both; None: ``before``.
        data: evaluation data (.npz) for accuracy budgets and metrics.
        drift_reference: a package packed with ``--data`` (or its statistics file), for the drift
            budgets of both.
        settings: how both are measured and judged, as ``check`` takes it; its confidence is also
            the confidence of the ratio's interval.
        progress: called with (what, fraction done) while measuring.

    Raises:
        BadInputError: either model file does not exist.
        MlpackError: as :func:`mlpack.budget.check.check` raises for either model.
    """
    before, after = require_file(Path(before), "model file"), require_file(Path(after), "model file")
    checked_before, checked_after = (
        check(
            model,
            budgets=budgets,
            device=device,
            devices_file=devices_file,
            reference=reference or before,
            baseline=before,  # timed only where max_slowdown asks
            data=data,
            drift_reference=drift_reference,
            settings=settings,
            progress=progress,
        )
        for model in (before, after)
    )
    profile = resolve_device(device, load_budget_file(budgets).devices, devices_file)
    changes = size_changes(size_breakdown(before), size_breakdown(after))
    ratios = _interleaved_ratios(before, after, profile, settings)
    return BeforeAfter(checked_before, checked_after, ratios, size_changes=changes)


def _interleaved_ratios(
    before: Path, after: Path, profile: DeviceProfile | None, settings: CheckSettings
) -> tuple[LatencyRatio, ...]:
    """Both models in each of a few fresh processes, in turns: one after/before ratio per process."""
    bench = BenchSettings(runs=settings.runs, duration_s=settings.duration_s)
    pairs = [
        measure.benchmark([before, after], settings=bench, device=profile).measurements
        for _ in range(PROCESSES_PER_ROUND)
    ]
    out = []
    for name in ("p50", "p95"):
        befores = [b.latency_ms.percentile(name) for b, _ in pairs]
        afters = [a.latency_ms.percentile(name) for _, a in pairs]
        confidence = settings.confidence
        ratio, low, high = process_interval([a / b for a, b in zip(afters, befores, strict=True)], confidence)
        out.append(
            LatencyRatio(name, statistics.median(befores), statistics.median(afters), ratio, low, high, confidence)
        )
    return tuple(out)
