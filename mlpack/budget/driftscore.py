"""Drift scores between a recorded distribution and a new one, over the same bins or categories.

- Population stability index (PSI) over the recorded bins, for numeric features: the usual
  credit-scoring reading is < 0.1 no shift, 0.1-0.25 moderate, >= 0.25 significant.
- Jensen-Shannon distance (base 2, in [0, 1]) for categories: symmetric and bounded, so a category
  absent from one side does not make the score infinite as it makes PSI or KL.
- A chi-square test of homogeneity on the same bins, as the two-sample test that decides drift:
  the package stores bins, not raw values, so a test on ranks (Kolmogorov-Smirnov) is not
  available. Its null distribution is known at every sample size once bins expecting fewer than 5
  counts are pooled (Cochran's rule), and Holm's adjustment holds the chance of any false alarm
  over many features at the stated alpha. PSI and JS have no such reading: their noise floor
  falls with n and grows with the number of bins, so a fixed threshold cries wolf at small n.

No scipy: the runtime-only install does without it, and the chi-square tail has a closed form
for whole degrees of freedom.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

EPSILON = 1e-4  # stands in for an empty bin's share, so that PSI stays finite
MIN_EXPECTED = 5.0  # Cochran's rule for the chi-square approximation
_EXACT_FIRST_BATCH = 250  # Monte Carlo tables drawn first; each later batch twice the last
_EXACT_MAX_DRAWS = 200_000


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


@dataclass(frozen=True)
class Homogeneity:
    """A chi-square test of homogeneity: are two samples' shares over the same bins one distribution?"""

    statistic: float
    df: int
    p_value: float
    pooled: int  # sparse bins merged into others before testing


def homogeneity_test(
    reference: Sequence[float], reference_n: float, observed: Sequence[float], observed_n: float
) -> Homogeneity | None:
    """Pearson's chi-square test of homogeneity over the same bins (statistic, df, p-value).

    Both sides are samples: the recorded one is as uncertain as the new one, and the test counts
    both sample sizes. Bins that expect fewer than ``MIN_EXPECTED`` counts on the smaller side are
    pooled first (their grouping depends on the bin totals only, not on which side they came from);
    None where fewer than two bins are left (too few values, or one bin holds them all).

    Args:
        reference: the recorded shares per bin.
        reference_n: how many independent values those shares stand for (an effective count).
        observed: the new shares per bin.
        observed_n: how many independent new values.
    """
    total = reference_n + observed_n
    if reference_n <= 0 or observed_n <= 0:
        return None
    rows = [(p * reference_n, q * observed_n) for p, q in zip(reference, observed, strict=True)]
    present = [(a, b) for a, b in rows if a + b > 0]
    pooled = _pool_sparse(present, min(reference_n, observed_n) / total)
    if len(pooled) < 2:
        return None
    statistic = 0.0
    for a, b in pooled:
        expected_a = (a + b) * reference_n / total
        expected_b = (a + b) * observed_n / total
        statistic += (a - expected_a) ** 2 / expected_a + (b - expected_b) ** 2 / expected_b
    df = len(pooled) - 1
    return Homogeneity(statistic, df, chi2_sf(statistic, df), len(present) - len(pooled))


def exact_test(reference: Sequence[int], observed: Sequence[int], *, smallest: float = 1e-4) -> float:
    """A Monte Carlo exact test of homogeneity of two samples' counts over the same bins, unpooled.

    Given the bin totals, which bins the recorded values fall in is a multivariate hypergeometric
    draw when both samples come from one distribution; tables are drawn from it and the p-value is
    the share whose Pearson statistic reaches the one observed, (exceeding + 1) / (draws + 1).
    Valid at any count, however sparse: a few new values in a bin that nothing was expected in
    (below a constant feature, a category never recorded) are weighed exactly where pooling would
    hide them.
    Draws stop once 10 tables reached the statistic (the p-value is then clearly large) or once
    ``smallest`` can be told apart. Seeded by the counts, so the same counts give the same answer.

    Args:
        reference: the recorded counts per bin (whole numbers).
        observed: the new counts per bin.
        smallest: the smallest p-value that must be resolvable (alpha over the number of tests).
    """
    import numpy as np

    pairs = [(int(a), int(b)) for a, b in zip(reference, observed, strict=True) if a + b > 0]
    ref = np.array([a for a, _ in pairs], dtype=np.int64)
    totals = ref + np.array([b for _, b in pairs], dtype=np.int64)
    n_ref, total = int(ref.sum()), int(totals.sum())
    if len(pairs) < 2 or n_ref in (0, total):
        return 1.0
    share = n_ref / total

    def statistic(refs: np.ndarray) -> np.ndarray:
        # Pearson's statistic of the 2 x K table from its recorded row (the new row is the rest).
        return ((refs - totals * share) ** 2 / (totals * share * (1 - share))).sum(axis=-1)

    seen = float(statistic(ref)) * (1 - 1e-9)
    rng = np.random.default_rng([*ref.tolist(), *totals.tolist()])
    limit = min(_EXACT_MAX_DRAWS, math.ceil(20 / smallest))
    draws = exceeding = 0
    batch = _EXACT_FIRST_BATCH
    while draws < limit and exceeding < 10:
        batch = min(batch, limit - draws)
        tables = rng.multivariate_hypergeometric(totals, n_ref, size=batch)
        exceeding += int((statistic(tables) >= seen).sum())
        draws += batch
        batch *= 2  # most features stop after the first batch: their p-value is plainly large
    return (exceeding + 1) / (draws + 1)


def fisher_test(reference_hits: int, reference_n: int, observed_hits: int, observed_n: int) -> float:
    """Fisher's exact test: did the share of "hits" (NaN or Inf values) differ between two samples?

    Given how many hits there are in all, the recorded sample's count is hypergeometric when
    both come from one distribution; the p-value sums the probability of every count no more
    likely than the one seen (two-sided), computed exactly: 0 of 1,000 recorded against 50 of
    5,000 new is as telling as it looks, and 3 of 50 new against none recorded is weighed right.

    Args:
        reference_hits: hits among the recorded values counted.
        reference_n: recorded values counted.
        observed_hits: hits among the new values.
        observed_n: new values.
    """
    hits, total = reference_hits + observed_hits, reference_n + observed_n
    if hits in (0, total):
        return 1.0

    def log_p(k: int) -> float:  # P(the recorded sample holds k of the hits)
        return _log_choose(hits, k) + _log_choose(total - hits, reference_n - k) - _log_choose(total, reference_n)

    seen = log_p(reference_hits) + 1e-9
    low, high = max(0, reference_n - (total - hits)), min(hits, reference_n)
    return min(1.0, sum(math.exp(v) for k in range(low, high + 1) if (v := log_p(k)) <= seen))


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def chi_square_test(
    reference: Sequence[float], reference_n: int, observed: Sequence[float], observed_n: int
) -> tuple[float, int, float] | None:
    """:func:`homogeneity_test` as (statistic, df, p-value), or None where it cannot be made."""
    test = homogeneity_test(reference, reference_n, observed, observed_n)
    return None if test is None else (test.statistic, test.df, test.p_value)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment: a family of tests whose adjusted p-values below alpha are, taken
    together, wrong at most alpha of the time (whatever their dependence), in the order given."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [1.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


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

    The series' terms are summed as logarithms, so hundreds of degrees of freedom (a categorical
    feature with many categories) neither underflow to 0 nor overflow.

    Args:
        x: the statistic.
        df: degrees of freedom, 1 or more.
    """
    if x <= 0:
        return 1.0
    half = x / 2
    log_half = math.log(half)
    if df % 2 == 0:
        logs = [-half + i * log_half - math.lgamma(i + 1) for i in range(df // 2)]
        return min(1.0, _sum_exp(logs))
    logs = [-half + (j - 0.5) * log_half - math.lgamma(j + 0.5) for j in range(1, (df + 1) // 2)]
    return min(1.0, math.erfc(math.sqrt(half)) + _sum_exp(logs))


def _sum_exp(logs: list[float]) -> float:
    if not logs:
        return 0.0
    top = max(logs)
    return math.exp(top) * sum(math.exp(v - top) for v in logs)
