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
# ...unless the spread itself is under this: timer and scheduler jitter of a few tens of microseconds
# makes the CV of a microsecond-scale model large on any machine, and says nothing about noise.
NOISE_FLOOR_MS = 0.05


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


def student_t_quantile(df: int, probability: float) -> float:
    """The ``probability`` quantile of Student's t distribution with ``df`` degrees of freedom.

    Exact to about 1e-9 (the t CDF through the regularized incomplete beta function, inverted
    by bisection): a sampled estimate moved verdicts near a limit, and scipy is too heavy a
    dependency for the runtime-only install.

    Args:
        df: degrees of freedom, at least 1.
        probability: the lower-tail probability, strictly between 0 and 1; a two-sided interval
            at confidence ``c`` uses ``(1 + c) / 2``.
    """
    import math

    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    if not 0 < probability < 1:
        raise ValueError(f"probability must be strictly between 0 and 1, got {probability}")
    if probability < 0.5:
        return -student_t_quantile(df, 1 - probability)
    if df == 1:  # Cauchy: a closed form, and the tails the bisection would need to reach are huge
        return math.tan(math.pi * (probability - 0.5))
    low, high = 0.0, 1.0
    while _student_t_cdf(high, df) < probability:
        low, high = high, high * 2
    for _ in range(200):
        middle = (low + high) / 2
        if _student_t_cdf(middle, df) < probability:
            low = middle
        else:
            high = middle
        if high - low <= 1e-12 * max(1.0, high):
            break
    return (low + high) / 2


def _student_t_cdf(t: float, df: float) -> float:
    """P(T <= t) for t >= 0."""
    return 1 - 0.5 * _regularized_incomplete_beta(df / (df + t * t), df / 2, 0.5)


def _regularized_incomplete_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b) by its continued fraction (modified Lentz), on the side where it converges fast."""
    import math

    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x > (a + 1) / (a + b + 2):
        return 1 - math.exp(log_front) * _beta_continued_fraction(1 - x, b, a) / b
    return math.exp(log_front) * _beta_continued_fraction(x, a, b) / a


def _beta_continued_fraction(x: float, a: float, b: float) -> float:
    tiny, epsilon = 1e-300, 1e-15
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 100_000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1) < epsilon:
            break
    return result


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


def median_interval(samples_ms: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """A distribution-free confidence interval for the median: (low, high, its confidence).

    Latency is skewed and its tail is lumpy, so no normal model is assumed: the number of samples
    below the true median is Binomial(n, 1/2), and the ranks n/2 -/+ z*sqrt(n)/2 (its normal
    approximation, rounded outward) bracket the median with ``confidence``. Below about eight
    samples those ranks do not exist; the interval is then the smallest and the largest sample,
    whose exact confidence 1 - 2 * 0.5**n is returned (75% for three samples), so that a slow
    model's few runs still carry an honest precision. One sample gives (-inf, inf, 0).

    Args:
        samples_ms: the timed runs of one configuration, in any order.
        confidence: the two-sided confidence wanted, strictly between 0 and 1.
    """
    import math
    from statistics import NormalDist

    n = len(samples_ms)
    if n < 2:
        return -math.inf, math.inf, 0.0
    ordered = sorted(samples_ms)
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    low_rank = math.floor(n / 2 - z * math.sqrt(n) / 2)  # 1-based ranks
    high_rank = math.ceil(n / 2 + z * math.sqrt(n) / 2) + 1
    if low_rank < 1 or high_rank > n:
        return ordered[0], ordered[-1], 1 - 2 * 0.5**n
    return ordered[low_rank - 1], ordered[high_rank - 1], confidence
