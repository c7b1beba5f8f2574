"""Each feature's drift: a test with a known false-alarm rate, effect sizes, and what moved where.

A feature has drifted when the chi-square test of homogeneity between the recorded counts and the
new counts (:func:`mlpack.budget.driftscore.homogeneity_test`) rejects at ``alpha`` after Holm's
adjustment over every feature scored together, and, where the user sets one, its effect size
(PSI, or JS distance for categories) reaches a floor. Under the null (new data drawn from the
recorded distribution) "drifted" is said of any feature at most ``alpha`` of the time.

How many independent values each side stands for:
- one value per sample: every value counted (recorded: those of the samples that did not place the
  bins, or a uniform sample of them);
- many values per sample (pixels, token positions): no more than one per sample, since values of
  one sample move together. Counting each sample once bounds the variance of a sample's share of a
  bin by the multinomial's, so the test stays at or below its stated rate, at some cost in power.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mlpack.budget.driftscore import exact_test, fisher_test, holm, homogeneity_test, js_distance, psi
from mlpack.data.stats import CATEGORICAL, DataStats, FeatureStats

METHODS = {
    "psi": "population stability index over the recorded bins (+ a NaN/Inf bin), an effect size",
    "js": "Jensen-Shannon distance (base 2) over the recorded bins or categories, an effect size",
}
TEST = "chi-square test of homogeneity on the recorded bins, sparse bins pooled, Holm-adjusted over all features"
_VANISHED_SHOWN = 5


@dataclass(frozen=True)
class FeatureDrift:
    """One feature against the recorded data: its test, its effect sizes and what stands out."""

    tensor: str
    role: str  # "input" or "output"
    feature: str
    method: str  # the headline effect size: "psi" for numbers, "js" for categories
    score: float  # that effect size
    threshold: float | None  # the effect-size floor a drift must also reach, where one is set
    p_value: float  # the test's, before adjustment (1.0 where nothing could be tested)
    p_adjusted: float  # Holm-adjusted over every feature scored together
    alpha: float
    test_note: str  # the test and its statistic, or why there is none
    psi: float
    js: float
    notes: tuple[str, ...]  # values outside the recorded range, NaN/Inf rates, new or vanished categories
    reference: dict[str, float]  # mean, std, nan_rate (numeric) or top shares (categorical)
    observed: dict[str, float]

    @property
    def drifted(self) -> bool:
        return self.p_adjusted < self.alpha and (self.threshold is None or self.score >= self.threshold)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tensor": self.tensor,
            "role": self.role,
            "feature": self.feature,
            "method": self.method,
            "score": self.score,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "p_value": self.p_value,
            "p_adjusted": self.p_adjusted,
            "alpha": self.alpha,
            "test": self.test_note,
            "psi": self.psi,
            "js": self.js,
            "notes": list(self.notes),
            "reference": self.reference,
            "observed": self.observed,
        }


def score_stats(
    reference: DataStats, observed: DataStats, *, alpha: float, floors: dict[str, float | None]
) -> tuple[FeatureDrift, ...]:
    """Every feature's test and effect sizes, Holm-adjusted together, most significant first.

    Args:
        reference: the recorded statistics.
        observed: the new data binned into ``reference``'s bins (``observe_stats``).
        alpha: the false-alarm rate over all features together.
        floors: per method ("psi", "js"), the effect size a drift must also reach (None: none).
    """
    scored = []
    count = sum(len(t.features) for t in reference.tensors)
    for ref_tensor, new_tensor in zip(reference.tensors, observed.tensors, strict=True):
        for ref, new in zip(ref_tensor.features, new_tensor.features, strict=True):
            scored.append(_scored(ref, new, alpha / max(1, count)))
    adjusted = holm([p for *_, p, _ in scored])
    features = []
    pairs = [(t, f) for t in reference.tensors for f in t.features]
    for (tensor, _), (ref, new, p_value, note), p_adj in zip(pairs, scored, adjusted, strict=True):
        method = "js" if ref.kind == CATEGORICAL else "psi"
        effects = {"psi": psi(ref.proportions, new.proportions), "js": js_distance(ref.proportions, new.proportions)}
        features.append(
            FeatureDrift(
                tensor.name, tensor.role, ref.name, method, effects[method], floors.get(method), p_value, p_adj,
                alpha, note, effects["psi"], effects["js"], notes(ref, new), _shown(ref), _shown(new),
            )
        )  # fmt: skip
    return tuple(sorted(features, key=lambda f: (f.p_adjusted, -f.score)))


def _scored(ref: FeatureStats, new: FeatureStats, smallest: float) -> tuple[FeatureStats, FeatureStats, float, str]:
    """The feature's test: (ref, new, p-value, a note naming each part and its p-value).

    The parts, Bonferroni-combined (the smallest p-value times their number):
    - the chi-square test over every bin;
    - where bins had to be pooled for it and the counts are whole draws (one value per sample), the
      exact test on the unpooled bins: pooling must not hide a few values where none belong;
    - for a number where either side has NaN or Inf, a test of that rate alone (Fisher's exact
      test): one bin among a dozen is diluted in the test over all of them (1% NaN where none were
      recorded).
    """
    ref_n, new_n = effective_n(ref), effective_n(new)
    parts: list[tuple[float, str]] = []
    test = homogeneity_test(ref.proportions, ref_n, new.proportions, new_n)
    if test is not None:
        pooled = f", {test.pooled} sparse bins pooled" if test.pooled else ""
        parts.append((test.p_value, f"chi-square {test.statistic:.1f} on {test.df} df{pooled}"))
    if ref.per_sample and new.per_sample and (test is None or test.pooled > 0):
        parts.append((exact_test(ref.counts, new.counts, smallest=smallest), "exact test on the unpooled bins"))
    if ref.kind != CATEGORICAL and (ref.counts[-1] or new.counts[-1]):
        parts.append((_rate_test(ref, new, ref_n, new_n), "NaN/Inf rate (Fisher's exact test)"))
    if not parts:
        same = sum(1 for p, q in zip(ref.proportions, new.proportions, strict=True) if p or q) <= 1
        why = "one bin holds every value on both sides" if same else "too few values to test"
        return ref, new, 1.0, f"no test: {why}"
    said = "; ".join(f"{what} p {p:.2g}" if len(parts) > 1 else what for p, what in parts)
    combined = min(1.0, len(parts) * min(p for p, _ in parts))
    return ref, new, combined, f"{said} (n {ref_n:.0f} recorded, {new_n:.0f} new)"


def _rate_test(ref: FeatureStats, new: FeatureStats, ref_n: float, new_n: float) -> float:
    """Whether the NaN/Inf rate moved: Fisher's exact test on whole draws, else chi-square on the
    effective counts."""
    if ref.per_sample and new.per_sample:
        return fisher_test(ref.counts[-1], ref.counted, new.counts[-1], new.counted)
    rates = ([1 - ref.proportions[-1], ref.proportions[-1]], [1 - new.proportions[-1], new.proportions[-1]])
    test = homogeneity_test(rates[0], ref_n, rates[1], new_n)
    return 1.0 if test is None else test.p_value


def effective_n(feature: FeatureStats) -> float:
    """How many independent values a side's counts stand for (see the module's note)."""
    if feature.per_sample:
        return float(feature.counted)
    # One per sample at most; where the counts are a sample of those samples' values, its noise on top.
    samples = min(feature.samples, feature.counted)
    return 1 / (1 / samples + 1 / feature.counted) if samples else 0.0


def notes(ref: FeatureStats, new: FeatureStats) -> tuple[str, ...]:
    """What a person should see beside the test: values outside the recorded range, NaN/Inf rates,
    a feature that was constant, categories never recorded or no longer seen."""
    if ref.kind == CATEGORICAL:
        return _category_notes(ref, new)
    said = []
    low, high = ref.summary.get("min"), ref.summary.get("max")
    recorded, now = ref.proportions, new.proportions
    if low is not None and low == high:
        said.append(f"constant when recorded ({low:g})")
    # Recorded bins start just below the placing samples' minimum and end at their maximum.
    if ref.bins and now[0] > recorded[0]:
        lowest = math.nextafter(ref.bins[0], math.inf)
        said.append(
            f"{now[0]:.1%} of new values below the recorded range (under {lowest:g}), {recorded[0]:.1%} recorded"
        )
    if ref.bins and now[-2] > recorded[-2]:
        said.append(
            f"{now[-2]:.1%} of new values above the recorded range (over {ref.bins[-1]:g}), {recorded[-2]:.1%} recorded"
        )
    if now[-1] != recorded[-1]:
        said.append(f"NaN/Inf {recorded[-1]:.1%} recorded, {now[-1]:.1%} now")
    return tuple(said)


def _category_notes(ref: FeatureStats, new: FeatureStats) -> tuple[str, ...]:
    said = []
    recorded, now = ref.proportions, new.proportions
    if recorded[-1] == 0 and now[-1] > 0:
        said.append(f"{now[-1]:.1%} of new values are categories never recorded")
    elif now[-1] != recorded[-1]:
        said.append(f"outside the {len(ref.bins)} recorded categories: {recorded[-1]:.1%} recorded, {now[-1]:.1%} now")
    # A category gone that the new data would have shown 5 times or more, had nothing moved.
    gone = [int(v) for v, p, q in zip(ref.bins, recorded, now, strict=False) if q == 0 and p * new.counted >= 5]
    if gone:
        listed = ", ".join(str(v) for v in gone[:_VANISHED_SHOWN]) + (" ..." if len(gone) > _VANISHED_SHOWN else "")
        said.append(f"{len(gone)} recorded categories absent now: {listed}")
    return tuple(said)


def _shown(feature: FeatureStats) -> dict[str, float]:
    """What a report shows of a side: moments for numbers, the three largest shares for categories."""
    if feature.kind != CATEGORICAL:
        return {k: feature.summary[k] for k in ("mean", "std", "nan_rate") if k in feature.summary}
    ranked = sorted(zip(feature.bins, feature.proportions, strict=False), key=lambda item: -item[1])[:3]
    return {str(int(value)): share for value, share in ranked}
