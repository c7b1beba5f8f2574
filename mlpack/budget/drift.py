"""``mlpack drift``: has new data moved away from the data a package was validated on?

The package holds statistics of its validation inputs and of the model's outputs on them
(:mod:`mlpack.data.stats`, recorded by ``mlpack pack --data``). New data, without labels, is
streamed through the packaged model in blocks and binned into the same bins; each feature gets a
score with a named method (see :mod:`mlpack.budget.driftscore`), and a feature whose score reaches
its threshold has drifted: exit 1. Budgets use the same scores (``max_input_drift``,
``max_output_drift``), so ``check`` can gate an evaluation set on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpack.artifact.manifest import DATA_STATS, is_package
from mlpack.artifact.opened import OpenedPackage
from mlpack.budget.driftscore import chi_square_test, js_distance, psi
from mlpack.budget.verdicts import Verdict, upper_verdict
from mlpack.core.fileio import require_file
from mlpack.data.collect import DEFAULT_BATCH, SAMPLE_SIZE, observe_stats
from mlpack.data.stats import CATEGORICAL, DataStats, FeatureStats, parse_stats
from mlpack.errors import ArchiveError, BadInputError, ExitCode

if TYPE_CHECKING:
    from mlpack.budget.spec import Budgets

SCHEMA = "mlpack.drift/1"
DEFAULT_PSI = 0.25  # "significant shift" in the usual reading of PSI
DEFAULT_JS = 0.1  # Jensen-Shannon distance: the default of common drift monitors for categories
METHODS = {
    "psi": "population stability index over the recorded quantile bins (+ a NaN/Inf bin)",
    "js": "Jensen-Shannon distance (base 2) over the recorded top categories + other",
}
TEST = "chi-square test of homogeneity on the same bins"
_NO_TEST_POOLED = "no test: pooled values (pixels, positions) are not independent samples"
_NO_TEST_SMALL = "no test: fewer than two bins expect 5 counts (too few samples for chi-square)"
_HOW_TO_RECORD = "record them with: mlpack pack MODEL -o PKG --data VAL.npz (build: [check] data)"


@dataclass(frozen=True)
class DriftThresholds:
    """A feature has drifted when its score reaches its method's threshold."""

    psi: float = DEFAULT_PSI
    js: float = DEFAULT_JS

    def __post_init__(self) -> None:
        if not self.psi > 0:
            raise BadInputError(f"--psi must be a positive threshold (0.25 is 'significant'), got {self.psi}.")
        if not 0 < self.js <= 1:
            raise BadInputError(f"--js must be a threshold in (0, 1], got {self.js}.")

    def for_method(self, method: str) -> float:
        return self.psi if method == "psi" else self.js

    def to_dict(self) -> dict[str, float]:
        return {"psi": self.psi, "js": self.js}


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's score against the recorded data, with the two-sample test where it applies."""

    tensor: str
    role: str  # "input" or "output"
    feature: str
    method: str  # a key of METHODS
    score: float
    threshold: float
    p_value: float | None  # the chi-square test's, where it is meaningful
    test_note: str  # the test and its statistic, or why there is none
    reference: dict[str, float]  # mean, std, nan_rate (numeric) or top shares (categorical)
    observed: dict[str, float]

    @property
    def drifted(self) -> bool:
        return self.score >= self.threshold

    @property
    def moved(self) -> float:
        """Score relative to its threshold: comparable across methods, for ordering."""
        return self.score / self.threshold

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
            "test": self.test_note,
            "reference": self.reference,
            "observed": self.observed,
        }


@dataclass(frozen=True)
class DriftResult:
    """The verdict on one data file; ``features`` are ordered most moved first."""

    created: str
    reference: str
    data: str
    samples: int
    reference_samples: int
    thresholds: DriftThresholds
    features: tuple[FeatureDrift, ...]
    schema: str = SCHEMA

    @property
    def drifted(self) -> tuple[FeatureDrift, ...]:
        return tuple(f for f in self.features if f.drifted)

    @property
    def ok(self) -> bool:
        return not self.drifted

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.ok else ExitCode.FAILED

    @property
    def summary(self) -> str:
        moved = self.drifted
        if not moved:
            return f"no drift: {len(self.features)} features within their thresholds"
        names = ", ".join(f.feature for f in moved[:5]) + (" ..." if len(moved) > 5 else "")
        return f"{len(moved)} of {len(self.features)} features drifted: {names}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "created": self.created,
            "reference": self.reference,
            "data": self.data,
            "samples": self.samples,
            "reference_samples": self.reference_samples,
            "thresholds": self.thresholds.to_dict(),
            "methods": {**METHODS, "test": TEST},
            "ok": self.ok,
            "exit_code": int(self.exit_code),
            "summary": self.summary,
            "features": [f.to_dict() for f in self.features],
        }


def drift(
    package: Path,
    *,
    data: Path,
    thresholds: DriftThresholds | None = None,
    batch_size: int = DEFAULT_BATCH,
) -> DriftResult:
    """Score how far ``data`` has moved from the data ``package`` recorded, feature by feature.

    Drift is a result (``ok`` False, ``exit_code`` 1), not an exception. Labels are not needed.

    Args:
        package: an ``.mlpack`` packed with ``--data`` (its hashes are checked first).
        data: the new .npz, one array per model input; streamed in blocks of ``batch_size`` rows.
        thresholds: when a score counts as drift (default: PSI 0.25, JS distance 0.1).
        batch_size: rows per block and per inference call.

    Raises:
        ArchiveError: the package is not one, or it was changed after packing (exit 2).
        BadInputError: the package holds no statistics, or the data does not fit the model or
            holds fewer samples than a score needs (exit 2).
    """
    with OpenedPackage(package) as opened:
        reference = _package_stats(opened)
        return drift_against(
            reference, opened.model_path, data, name=str(package), thresholds=thresholds, batch_size=batch_size
        )


def drift_against(
    reference: DataStats,
    model: Path,
    data: Path,
    *,
    name: str,
    thresholds: DriftThresholds | None = None,
    batch_size: int = DEFAULT_BATCH,
) -> DriftResult:
    """Score ``data`` against statistics already loaded, running ``model`` for the output statistics.

    Args:
        reference: the recorded statistics (:func:`load_reference`).
        model: the model whose outputs on ``data`` are compared with the recorded outputs.
        data: the new .npz, streamed in blocks.
        name: what the reference is called in reports (the package or statistics file).
        thresholds: when a score counts as drift (default: PSI 0.25, JS distance 0.1).
        batch_size: rows per block and per inference call.

    Raises:
        BadInputError: the data does not fit the model, or holds too few samples (exit 2).
    """
    thresholds = thresholds or DriftThresholds()
    observed = observe_stats(reference, model, data, batch_size=batch_size)
    return DriftResult(
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        reference=name,
        data=str(data),
        samples=observed.samples,
        reference_samples=reference.samples,
        thresholds=thresholds,
        features=score_stats(reference, observed, thresholds),
    )


def load_reference(path: Path) -> DataStats:
    """Recorded statistics from a package (checked against its hashes) or a statistics JSON file.

    Args:
        path: an ``.mlpack`` packed with ``--data``, or its ``stats/data.json`` saved as a file.

    Raises:
        ArchiveError: a package that was changed after packing (exit 2).
        BadInputError: no statistics in the package, or a file that is not a statistics file (exit 2).
    """
    path = require_file(Path(path), "drift reference")
    if not is_package(path):
        return parse_stats(path.read_bytes(), source=str(path))
    with OpenedPackage(path) as opened:
        return _package_stats(opened)


def _package_stats(opened: Any) -> DataStats:
    if opened.problems:
        # Exit 1 is drift's answer "the data moved": a reference that cannot be trusted is bad input.
        raise ArchiveError(
            f"{opened.path} failed verification ({' '.join(opened.problems)}); "
            "its statistics cannot be trusted: run mlpack verify."
        )
    entry = opened.manifest.data_stats
    if not entry:
        raise BadInputError(f"{opened.path} was packed without data statistics; {_HOW_TO_RECORD}.")
    return parse_stats((opened.root / entry.path).read_bytes(), source=f"{opened.path}:{DATA_STATS}")


def score_stats(reference: DataStats, observed: DataStats, thresholds: DriftThresholds) -> tuple[FeatureDrift, ...]:
    """Each feature's score, most moved first (score over its threshold, so methods compare).

    Args:
        reference: the recorded statistics.
        observed: the new data binned into ``reference``'s bins (``observe_stats``).
        thresholds: when a score counts as drift.
    """
    scores = []
    for ref_tensor, new_tensor in zip(reference.tensors, observed.tensors, strict=True):
        for ref, new in zip(ref_tensor.features, new_tensor.features, strict=True):
            scores.append(_score(ref_tensor.name, ref_tensor.role, ref, new, reference.samples, thresholds))
    return tuple(sorted(scores, key=lambda f: -f.moved))


def _score(
    tensor: str, role: str, ref: FeatureStats, new: FeatureStats, ref_samples: int, thresholds: DriftThresholds
) -> FeatureDrift:
    method = "js" if ref.kind == CATEGORICAL else "psi"
    score = js_distance(ref.proportions, new.proportions) if method == "js" else psi(ref.proportions, new.proportions)
    p_value, note = None, _NO_TEST_POOLED
    if ref.per_sample and new.per_sample:
        # Numeric shares were placed on a sample of at most SAMPLE_SIZE values: that is their n.
        ref_n = ref.values if ref.kind == CATEGORICAL else min(ref.values, SAMPLE_SIZE)
        test = chi_square_test(ref.proportions, ref_n, new.proportions, new.values)
        if test is None:
            note = _NO_TEST_SMALL
        else:
            statistic, df, p_value = test
            note = f"chi-square {statistic:.1f} on {df} df"
    return FeatureDrift(
        tensor, role, ref.name, method, score, thresholds.for_method(method), p_value, note, _shown(ref), _shown(new)
    )


def _shown(feature: FeatureStats) -> dict[str, float]:
    """What a report shows of a side: moments for numbers, the three largest shares for categories."""
    if feature.kind != CATEGORICAL:
        return {k: feature.summary[k] for k in ("mean", "std", "nan_rate") if k in feature.summary}
    ranked = sorted(zip(feature.bins, feature.proportions, strict=False), key=lambda item: -item[1])[:3]
    return {str(int(value)): share for value, share in ranked}


# In budgets -------------------------------------------------------------------------------------


def drift_verdicts(result: DriftResult, budgets: Budgets) -> list[Verdict]:
    """``max_input_drift`` and ``max_output_drift``: the largest score per method, against its limit.

    Each key holds a PSI limit and, for categorical features, a Jensen-Shannon limit (the drift
    default where the budget names none). A verdict appears only where such features exist.

    Args:
        result: the drift of the evaluation data against the recorded statistics.
        budgets: the resolved budgets.
    """
    verdicts = []
    for key, role in (("max_input_drift", "input"), ("max_output_drift", "output")):
        limits: dict[str, float] = getattr(budgets, key)
        if not limits:
            continue
        for method in ("psi", "js"):
            features = [f for f in result.features if f.role == role and f.method == method]
            if not features or (method == "psi" and "psi" not in limits):
                continue
            worst = max(features, key=lambda f: f.score)
            limit = limits.get(method, DEFAULT_JS)
            detail = f"{METHODS[method]}; worst: {worst.feature} over {result.samples} samples"
            verdicts.append(upper_verdict(f"{key}.{method}", worst.score, limit, "", budgets, detail, warn_key=key))
    return verdicts
