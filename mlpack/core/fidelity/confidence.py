"""How sure a measured share is: a one-sided lower bound, and how much data would make it sure.

"1.000 agreement on 40 samples" does not show 0.99: forty coin tosses that all land right are
what a 0.93 coin does one time in twenty. A bar such as ``min_agreement = 0.99`` therefore holds
only when the lower bound of the share clears it, and where the data cannot show it, the verdict
says how much more data would.

The bound is Wilson's score interval, one-sided at the stated confidence (95% by default:
z = 1.645). Decisions are counted as independent trials; neighbouring frames of one input are
not quite, which makes the bound a little optimistic on heavily correlated outputs.
"""

from __future__ import annotations

import math
from statistics import NormalDist

DEFAULT_CONFIDENCE = 0.95
_MAX_TRIALS = 10**12


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(confidence)


def wilson_lower(share: float, trials: float, confidence: float = DEFAULT_CONFIDENCE) -> float:
    """The one-sided lower bound of a share measured over ``trials``; 0.0 over no trials."""
    if trials <= 0:
        return 0.0
    z = _z(confidence)
    denominator = 1 + z * z / trials
    centre = share + z * z / (2 * trials)
    spread = z * math.sqrt(max(share * (1 - share) / trials + z * z / (4 * trials * trials), 0.0))
    return max(0.0, (centre - spread) / denominator)


def wilson_upper(share: float, trials: float, confidence: float = DEFAULT_CONFIDENCE) -> float:
    """The one-sided upper bound; 1.0 over no trials."""
    if trials <= 0:
        return 1.0
    return 1.0 - wilson_lower(1.0 - share, trials, confidence)


def trials_needed(share: float, bar: float, confidence: float = DEFAULT_CONFIDENCE) -> int | None:
    """The fewest trials at which ``share`` measured would have its lower bound at ``bar`` or above;
    None when no number would (the share is not above the bar)."""
    if bar <= 0:
        return 0
    if share <= bar:
        return None
    low, high = 1, 1
    while wilson_lower(share, high, confidence) < bar:
        low, high = high, high * 2
        if high > _MAX_TRIALS:
            return None
    while low < high:
        middle = (low + high) // 2
        if wilson_lower(share, middle, confidence) >= bar:
            high = middle
        else:
            low = middle + 1
    return high
