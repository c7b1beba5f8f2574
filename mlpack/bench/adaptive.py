"""When to stop timing a configuration: a fixed count and time, or as soon as the p50 is precise.

A fixed 100 runs wastes minutes on a large model that is steady after ten, and gives a noisy
small model too few. The adaptive rule stops when the p50's confidence interval (distribution
free, :func:`mlpack.bench.stats.median_interval`) is within a stated relative half-width, or when
the configuration's time budget is spent, whichever comes first, after a small minimum of runs.
The interval measures the spread within one process; processes differ more than that on a shared
machine (see :func:`mlpack.bench.stats.process_interval`), which ``check`` accounts for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlpack.bench.stats import median_interval
from mlpack.errors import BadInputError

STOPPED_BY_PRECISION = "precision"
STOPPED_BY_TIME = "time budget"
STOPPED_BY_COUNT = "runs and duration"


@dataclass(frozen=True)
class Adaptive:
    """Stop timing when the p50 is this precise, or this configuration's time is spent."""

    precision: float = 0.02  # the p50's confidence interval within +-2% of it
    max_seconds: float = 10.0  # timed seconds per configuration at most
    min_runs: int = 3
    confidence: float = 0.95

    def validate(self) -> None:
        if not 0 < self.precision < 1:
            raise BadInputError(f"--precision is a fraction like 0.02 (for +-2%), got {self.precision}.")
        if self.max_seconds <= 0:
            raise BadInputError(f"--max-time must be positive, got {self.max_seconds}.")
        if self.min_runs < 1:
            raise BadInputError(f"the minimum of runs must be at least 1, got {self.min_runs}.")
        if not 0.5 <= self.confidence < 1:
            raise BadInputError(f"the confidence must be in [0.5, 1), got {self.confidence}.")

    def to_dict(self) -> dict[str, Any]:
        return {
            "precision": self.precision,
            "max_seconds": self.max_seconds,
            "min_runs": self.min_runs,
            "confidence": self.confidence,
        }


@dataclass(frozen=True)
class Precision:
    """How precise a configuration's p50 came out, and what stopped the timing."""

    confidence: float
    p50_low_ms: float
    p50_high_ms: float
    relative_half_width: float  # (high - low) / 2 / p50; inf with too few runs for an interval
    target: float | None  # the adaptive rule's precision; None for a fixed count
    stopped_by: str

    def to_dict(self) -> dict[str, Any]:
        finite = math.isfinite(self.relative_half_width)
        return {
            "confidence": self.confidence,
            "p50_low_ms": self.p50_low_ms if finite else None,
            "p50_high_ms": self.p50_high_ms if finite else None,
            "relative_half_width": self.relative_half_width if finite else None,
            "target": self.target,
            "stopped_by": self.stopped_by,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Precision:
        width = data.get("relative_half_width")
        if width is None:
            return cls(data["confidence"], -math.inf, math.inf, math.inf, data.get("target"), data["stopped_by"])
        low, high = float(data["p50_low_ms"]), float(data["p50_high_ms"])
        return cls(data["confidence"], low, high, float(width), data.get("target"), data["stopped_by"])

    def describe(self, wanted: float = 0.95) -> str:
        """``±1.3%`` beside a figure (``±9.0% @75%`` where too few runs gave a lower confidence),
        or ``±?`` with too few runs for any interval.

        Args:
            wanted: the confidence the reader assumes; a lower achieved one is spelled out.
        """
        if not math.isfinite(self.relative_half_width):
            return "±?"
        text = f"±{self.relative_half_width:.1%}"
        return text if self.confidence >= wanted - 1e-9 else f"{text} @{self.confidence:.0%}"


def p50_precision(samples_ms: Sequence[float], confidence: float, target: float | None, stopped_by: str) -> Precision:
    """The p50's interval, its achieved confidence and its relative half-width.

    Args:
        samples_ms: the configuration's timed runs.
        confidence: the confidence wanted; fewer runs than that needs get their exact, lower one.
        target: the relative half-width the adaptive rule aims at; None for a fixed count.
        stopped_by: what ended (or would end) the timing.
    """
    low, high, achieved = median_interval(samples_ms, confidence)
    ordered = sorted(samples_ms)
    middle = len(ordered) // 2
    p50 = (ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2) if ordered else 0.0
    width = (high - low) / 2 / p50 if math.isfinite(high - low) and p50 > 0 else math.inf
    return Precision(achieved, low, high, width, target, stopped_by)


class StoppingRule:
    """Decides, after each turn of the interleaving, whether a configuration has enough samples."""

    def __init__(self, *, runs: int, duration_s: float, adaptive: Adaptive | None) -> None:
        self.runs, self.duration_s, self.adaptive = runs, duration_s, adaptive

    def stop_reason(self, samples_ms: Sequence[float]) -> str | None:
        """Why to stop now, or None to go on.

        Args:
            samples_ms: the configuration's timed runs so far.
        """
        timed_s = sum(samples_ms) / 1000
        if self.adaptive is None:
            enough = len(samples_ms) >= self.runs and timed_s >= self.duration_s
            return STOPPED_BY_COUNT if enough else None
        if len(samples_ms) < self.adaptive.min_runs:
            return None
        precision = p50_precision(samples_ms, self.adaptive.confidence, self.adaptive.precision, "")
        if (
            precision.confidence >= self.adaptive.confidence
            and precision.relative_half_width <= self.adaptive.precision
        ):
            return STOPPED_BY_PRECISION
        return STOPPED_BY_TIME if timed_s >= self.adaptive.max_seconds else None

    def fraction_done(self, samples_ms: Sequence[float]) -> float:
        """For the progress bar: how far towards stopping (the time budget, for the adaptive rule).

        Args:
            samples_ms: the configuration's timed runs so far.
        """
        timed_s = sum(samples_ms) / 1000
        if self.adaptive is None:
            by_time = timed_s / self.duration_s if self.duration_s > 0 else 1.0
            return min(len(samples_ms) / self.runs, by_time, 1.0)
        return min(timed_s / self.adaptive.max_seconds, 1.0)

    def precision(self, samples_ms: Sequence[float], stopped_by: str) -> Precision:
        """The achieved precision of the p50, to report beside it.

        Args:
            samples_ms: every timed run of the configuration.
            stopped_by: what ended the timing.
        """
        if self.adaptive is None:
            return p50_precision(samples_ms, 0.95, None, stopped_by)
        return p50_precision(samples_ms, self.adaptive.confidence, self.adaptive.precision, stopped_by)
