"""Summary statistics of latency samples, with the percentile method named.

Tools disagree on percentiles (onnxruntime_perf_test, OpenVINO's benchmark_app and trtexec
each pick a different rank rule), which matters at small run counts, so every result says
which rule made its figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

PERCENTILE_METHOD = "linear interpolation between closest ranks (numpy 'linear', Hyndman-Fan type 7)"
PERCENTILES = (50, 90, 95, 99)
NOISY_CV = 0.10  # above this coefficient of variation a figure is flagged as untrustworthy


@dataclass(frozen=True)
class LatencyStats:
    count: int
    p50: float
    p90: float
    p95: float
    p99: float
    mean: float
    std: float
    min: float
    max: float
    cv: float  # standard deviation / mean

    def percentile(self, name: str) -> float:
        value = getattr(self, name, None)
        if name not in ("p50", "p90", "p95", "p99", "mean", "min", "max") or value is None:
            raise KeyError(name)
        return float(value)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(samples_ms: Sequence[float]) -> LatencyStats:
    import numpy as np

    values = np.asarray(samples_ms, dtype=np.float64)
    if values.size == 0:
        raise ValueError("no samples")
    p50, p90, p95, p99 = (float(v) for v in np.percentile(values, PERCENTILES, method="linear"))
    mean = float(values.mean())
    std = float(values.std(ddof=1)) if values.size > 1 else 0.0
    return LatencyStats(
        count=int(values.size),
        p50=p50,
        p90=p90,
        p95=p95,
        p99=p99,
        mean=mean,
        std=std,
        min=float(values.min()),
        max=float(values.max()),
        cv=std / mean if mean > 0 else 0.0,
    )


def bootstrap_interval(
    samples_ms: Sequence[float], percentile: float, *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of a latency percentile."""
    import numpy as np

    values = np.asarray(samples_ms, dtype=np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.choice(values, size=(resamples, values.size), replace=True)
    estimates = np.percentile(draws, percentile, axis=1, method="linear")
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return float(low), float(high)
