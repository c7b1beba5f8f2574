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


def statistic(values: Any, name: str, axis: int | None = None) -> Any:
    """``p50``..``p99`` by the named percentile method, or ``mean``."""
    import numpy as np

    if name == "mean":
        return np.mean(values, axis=axis)
    return np.percentile(values, float(name.lstrip("p")), axis=axis, method="linear")


def student_t_quantile(df: int, probability: float, *, draws: int = 400_000) -> float:
    """A quantile of Student's t distribution, from numpy's seeded t sampler (numpy has no ppf,
    and scipy is too heavy a dependency for one number). Accurate to about 0.01."""
    import numpy as np

    return float(np.quantile(np.random.default_rng(12345).standard_t(df, size=draws), probability))


def process_interval(values: Sequence[float], confidence: float) -> tuple[float, float, float]:
    """(estimate, low, high) for a quantity measured once per process.

    Measured here: the p50 of the same model moved by 25-30% from one process to the next on a
    shared 2-core VM, far more than the spread within one process; an interval from the runs
    of one process would exclude the next process's figure. So each process gives one value and
    the interval is Student's t over those values: wide with few processes, as it must be.
    """
    import math
    import statistics as st

    n = len(values)
    mean = st.fmean(values)
    if n < 2:
        return mean, -math.inf, math.inf
    half = student_t_quantile(n - 1, (1 + confidence) / 2) * st.stdev(values) / math.sqrt(n)
    return mean, mean - half, mean + half
