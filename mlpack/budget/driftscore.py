"""Drift scores between a recorded distribution and a new one, over the same bins or categories.

- Population stability index (PSI) over the recorded bins, for numeric features: the usual
  credit-scoring reading is < 0.1 no shift, 0.1-0.25 moderate, >= 0.25 significant.
- Jensen-Shannon distance (base 2, in [0, 1]) for categories: symmetric and bounded, so a category
  absent from one side does not make the score infinite as it makes PSI or KL.
- A chi-square test of homogeneity on the same bins, as the two-sample test: the package stores
  bins, not raw values, so a test on ranks (Kolmogorov-Smirnov) is not available, and the bins
  are what the scores compare. It is only meaningful where every bin expects 5 or more counts
  (Cochran's rule) and where the counts are independent draws, one per sample.

No scipy: the runtime-only install does without it, and the chi-square tail has a closed form
for whole degrees of freedom.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

EPSILON = 1e-4  # stands in for an empty bin's share, so that PSI stays finite
MIN_EXPECTED = 5.0  # Cochran's rule for the chi-square approximation


def psi(reference: Sequence[float], observed: Sequence[float]) -> float:
    """Population stability index: sum over bins of (q - p) * ln(q / p), empty bins at ``EPSILON``.

    Args:
        reference: the recorded shares per bin (summing to 1).
        observed: the new data's shares over the same bins.
    """
    total = 0.0
    for p, q in zip(reference, observed, strict=True):
        p, q = max(p, EPSILON), max(q, EPSILON)
        total += (q - p) * math.log(q / p)
    return total


def js_distance(reference: Sequence[float], observed: Sequence[float]) -> float:
    """Jensen-Shannon distance, base 2: the square root of the divergence, 0 (same) to 1 (disjoint).

    Args:
        reference: the recorded shares per category (summing to 1).
        observed: the new data's shares over the same categories.
    """

    def kl(a: Sequence[float], b: Sequence[float]) -> float:
        return sum(x * math.log2(x / y) for x, y in zip(a, b, strict=True) if x > 0)

    middle = [(p + q) / 2 for p, q in zip(reference, observed, strict=True)]
    divergence = (kl(reference, middle) + kl(observed, middle)) / 2
    return math.sqrt(max(0.0, min(1.0, divergence)))


def chi_square_test(
    reference: Sequence[float], reference_n: int, observed: Sequence[float], observed_n: int
) -> tuple[float, int, float] | None:
    """Chi-square test of homogeneity of two samples over the same bins: (statistic, df, p-value).

    Bins that expect fewer than ``MIN_EXPECTED`` counts are pooled first; None where the test is
    still not meaningful (fewer than two bins left, as with too few samples).

    Args:
        reference: the recorded shares per bin.
        reference_n: how many independent values those shares were computed from.
        observed: the new shares per bin.
        observed_n: how many independent new values.
    """
    rows = [(p * reference_n, q * observed_n) for p, q in zip(reference, observed, strict=True)]
    total = reference_n + observed_n
    if total == 0:
        return None
    rows = _pool_sparse([(a, b) for a, b in rows if a + b > 0], min(reference_n, observed_n) / total)
    if len(rows) < 2:
        return None
    statistic = 0.0
    for a, b in rows:
        expected_a = (a + b) * reference_n / total
        expected_b = (a + b) * observed_n / total
        statistic += (a - expected_a) ** 2 / expected_a + (b - expected_b) ** 2 / expected_b
    df = len(rows) - 1
    return statistic, df, chi2_sf(statistic, df)


def _pool_sparse(rows: list[tuple[float, float]], smaller_share: float) -> list[tuple[float, float]]:
    """Bins expecting fewer than ``MIN_EXPECTED`` counts on the smaller side, merged into one (rare
    classes, tails): the usual remedy, so one rare bin does not rule the whole test out."""
    dense = [r for r in rows if (r[0] + r[1]) * smaller_share >= MIN_EXPECTED]
    sparse = [r for r in rows if (r[0] + r[1]) * smaller_share < MIN_EXPECTED]
    if not sparse:
        return dense
    merged = (sum(a for a, _ in sparse), sum(b for _, b in sparse))
    if (merged[0] + merged[1]) * smaller_share >= MIN_EXPECTED:
        return [*dense, merged]
    if not dense:
        return []
    smallest = min(range(len(dense)), key=lambda i: dense[i][0] + dense[i][1])
    a, b = dense[smallest]
    dense[smallest] = (a + merged[0], b + merged[1])
    return dense


def chi2_sf(x: float, df: int) -> float:
    """P(X >= x) for X chi-square with ``df`` whole degrees of freedom (closed form, no scipy).

    Args:
        x: the statistic.
        df: degrees of freedom, 1 or more.
    """
    if x <= 0:
        return 1.0
    half = x / 2
    if df % 2 == 0:
        term = total = math.exp(-half)
        for i in range(1, df // 2):
            term *= half / i
            total += term
        return min(1.0, total)
    total = math.erfc(math.sqrt(half))
    term = 2 * math.sqrt(half) * math.exp(-half) / math.sqrt(math.pi)
    for j in range(1, (df + 1) // 2):
        total += term
        term *= half / (j + 0.5)
    return min(1.0, total)
