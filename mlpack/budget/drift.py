"""``mlpack drift``: has new data moved away from the data a package was validated on?

The package holds statistics of its validation inputs and of the model's outputs on them
(:mod:`mlpack.data.stats`, recorded by ``mlpack pack --data``). New data, without labels, is
streamed through the packaged model in blocks and counted into the same bins; each feature gets a
chi-square test of homogeneity against the recorded counts, Holm-adjusted over all features, and
a feature that differs at ``alpha`` (default 0.05: that is the chance of any false alarm) has
drifted: exit 1 (:mod:`mlpack.budget.driftfeatures`). PSI and JS distance are reported beside
each test as effect sizes; a floor on them (``--psi``, ``--js``) keeps shifts too small to matter
from alarming at large n. Budgets (``max_input_drift``, ``max_output_drift``) use the same tests
and effect sizes, so ``check``, ``tune`` and ``build`` can gate an evaluation set on them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpack.artifact.manifest import DATA_STATS, is_package
from mlpack.artifact.opened import OpenedPackage
from mlpack.budget.driftfeatures import METHODS, TEST, FeatureDrift, score_stats
from mlpack.budget.verdicts import Status, Verdict, lower_verdict
from mlpack.core.fileio import require_file
from mlpack.data.collect import DEFAULT_BATCH, observe_stats
from mlpack.data.feeds import FeedOptions
from mlpack.data.stats import DataStats, parse_stats
from mlpack.errors import ArchiveError, BadInputError, ExitCode

if TYPE_CHECKING:
    from mlpack.budget.spec import Budgets

__all__ = [
    "DriftResult",
    "DriftThresholds",
    "FeatureDrift",
    "budget_reference",
    "drift",
    "drift_against",
    "drift_verdicts",
    "DriftJudge",
    "score_stats",
]

SCHEMA = "mlpack.drift/1"
DEFAULT_ALPHA = 0.05
_HOW_TO_RECORD = "record them with: mlpack pack MODEL -o PKG --data VAL.npz (build: [check] data)"


@dataclass(frozen=True)
class DriftThresholds:
    """When a feature has drifted: its test rejects at ``alpha`` (Holm-adjusted over all features),
    and its effect size reaches ``psi`` (numbers) or ``js`` (categories) where those are set."""

    alpha: float = DEFAULT_ALPHA
    psi: float | None = None
    js: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.alpha) and 0 < self.alpha < 1):
            raise BadInputError(f"--alpha must be a false-alarm rate in (0, 1) such as 0.05, got {self.alpha}.")
        if self.psi is not None and not (math.isfinite(self.psi) and self.psi > 0):
            raise BadInputError(f"--psi must be a positive effect-size floor (0.25 is 'significant'), got {self.psi}.")
        if self.js is not None and not (math.isfinite(self.js) and 0 < self.js <= 1):
            raise BadInputError(f"--js must be an effect-size floor in (0, 1], got {self.js}.")

    def floors(self) -> dict[str, float | None]:
        return {"psi": self.psi, "js": self.js}

    def to_dict(self) -> dict[str, float | None]:
        return {"alpha": self.alpha, "psi": self.psi, "js": self.js}


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
        alpha = f"alpha {self.thresholds.alpha:g}, Holm-adjusted over {len(self.features)} features"
        if not moved:
            return f"no drift: {len(self.features)} features, none differs from the recording ({alpha})"
        names = ", ".join(f.feature for f in moved[:5]) + (" ..." if len(moved) > 5 else "")
        return f"{len(moved)} of {len(self.features)} features drifted ({alpha}): {names}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "created": self.created,
            "reference": self.reference,
            "data": self.data,
            "samples": self.samples,
            "reference_samples": self.reference_samples,
            "thresholds": self.thresholds.to_dict(),
            "alpha": self.thresholds.alpha,
            "correction": "holm",
            "test": TEST,
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
    channel_axes: Mapping[str, int | None] | None = None,
) -> DriftResult:
    """Test whether ``data`` has moved from the data ``package`` recorded, feature by feature.

    Drift is a result (``ok`` False, ``exit_code`` 1), not an exception. Labels are not needed.
    The package's recorded feeding (inputs given by value, state pairs) is used to run its model.

    Args:
        package: an ``.mlpack`` packed with ``--data`` (its hashes are checked first).
        data: the new .npz, one array per model input; streamed in blocks of ``batch_size`` rows.
        thresholds: the false-alarm rate and optional effect-size floors (default: alpha 0.05).
        batch_size: rows per block and per inference call.
        channel_axes: tensor name -> the channel axis the user expects the statistics to use; a
            recording cut on another axis is refused (re-pack with ``--channel-axis``).

    Raises:
        ArchiveError: the package is not one, or it was changed after packing (exit 2).
        BadInputError: the package holds no statistics or malformed ones, or the data does not
            fit the model or holds fewer samples than a test needs (exit 2).
    """
    with OpenedPackage(package) as opened:
        reference = _package_stats(opened)
        feeding = opened.manifest.model.feed_options()
        return drift_against(
            reference,
            opened.model_path,
            data,
            name=str(package),
            thresholds=thresholds,
            batch_size=batch_size,
            feeding=feeding,
            channel_axes=channel_axes,
        )


def drift_against(
    reference: DataStats,
    model: Path,
    data: Path,
    *,
    name: str,
    thresholds: DriftThresholds | None = None,
    batch_size: int = DEFAULT_BATCH,
    feeding: FeedOptions = FeedOptions(),
    channel_axes: Mapping[str, int | None] | None = None,
) -> DriftResult:
    """Test ``data`` against statistics already loaded, running ``model`` for the output statistics.

    Args:
        reference: the recorded statistics (:func:`load_reference`).
        model: the model whose outputs on ``data`` are compared with the recorded outputs.
        data: the new .npz, streamed in blocks.
        name: what the reference is called in reports (the package or statistics file).
        thresholds: the false-alarm rate and optional effect-size floors (default: alpha 0.05).
        batch_size: rows per block and per inference call.
        feeding: inputs given by value and state pairs, as when the statistics were recorded.
        channel_axes: the channel axes the user expects the statistics to use (checked, not applied).

    Raises:
        BadInputError: the data does not fit the model, holds too few samples, or the statistics
            were cut on another channel axis than the user names (exit 2).
    """
    thresholds = thresholds or DriftThresholds()
    _check_channel_axes(reference, channel_axes or {}, name)
    observed = observe_stats(reference, model, data, batch_size=batch_size, feeding=feeding)
    return DriftResult(
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        reference=name,
        data=str(data),
        samples=observed.samples,
        reference_samples=reference.samples,
        thresholds=thresholds,
        features=score_stats(reference, observed, alpha=thresholds.alpha, floors=thresholds.floors()),
    )


def _check_channel_axes(reference: DataStats, axes: Mapping[str, int | None], name: str) -> None:
    for tensor_name, axis in axes.items():
        tensor = next((t for t in reference.tensors if t.name == tensor_name), None)
        if tensor is None:
            raise BadInputError(f"--channel-axis names '{tensor_name}', which the statistics in {name} do not hold.")
        recorded = tensor.view.axis
        if recorded != axis:
            said = "pooled" if recorded is None else f"cut on axis {recorded}"
            raise BadInputError(
                f"the statistics in {name} have '{tensor_name}' {said}, not on axis {axis}; re-record them with "
                f"mlpack pack MODEL -o PKG --data VAL.npz --channel-axis {tensor_name}={axis}."
            )


def load_reference(path: Path) -> DataStats:
    """Recorded statistics from a package (checked against its hashes) or a statistics JSON file.

    Args:
        path: an ``.mlpack`` packed with ``--data``, or its ``stats/data.json`` saved as a file.

    Raises:
        ArchiveError: a package that was changed after packing (exit 2).
        BadInputError: no statistics in the package, or a file that is not a valid statistics file (exit 2).
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


# In budgets -------------------------------------------------------------------------------------


def budget_reference(budgets: Budgets, drift_reference: Path | None, *, data: Path | None) -> DataStats | None:
    """The recorded statistics drift budgets are judged against (None where no budget needs them).

    Raises:
        BadInputError: drift budgets without ``--drift-reference`` or without data (exit 2).
    """
    if not budgets.needs_drift:
        return None
    if drift_reference is None or data is None:
        keys = ", ".join(k for k in ("max_input_drift", "max_output_drift") if getattr(budgets, k))
        raise BadInputError(
            f"{keys} compare evaluation data with recorded statistics: pass --data EVAL.npz and "
            "--drift-reference PKG (a package packed with --data, or its stats/data.json)."
        )
    return load_reference(drift_reference)


@dataclass(frozen=True)
class DriftJudge:
    """Drift budgets judged on evaluation data against recorded statistics, model by model (tune
    judges each candidate's outputs; the inputs are the same data every time)."""

    reference: DataStats
    data: Path
    name: str
    feeding: FeedOptions = FeedOptions()

    @classmethod
    def for_budgets(
        cls, budgets: Budgets, drift_reference: Path | None, *, data: Path, feeding: FeedOptions
    ) -> DriftJudge | None:
        """The judge drift budgets need (None where there are none); see :func:`budget_reference`."""
        reference = budget_reference(budgets, drift_reference, data=data)
        return None if reference is None else cls(reference, Path(data), str(drift_reference), feeding)

    def verdicts(self, model: Path, budgets: Budgets) -> list[Verdict]:
        result = drift_against(self.reference, model, self.data, name=self.name, feeding=self.feeding)
        return drift_verdicts(result, budgets)


def drift_verdicts(result: DriftResult, budgets: Budgets) -> list[Verdict]:
    """``max_input_drift`` and ``max_output_drift``: one verdict per method named, over every
    feature of the role (numeric and categorical alike).

    ``alpha``: broken when any feature's test rejects at that rate (Holm-adjusted). ``psi``, ``js``:
    broken when a feature's effect size reaches the limit and its test rejects (at the budget's
    ``alpha``, else 0.05), so a budget cries wolf no more often than the test.

    Args:
        result: the drift of the evaluation data against the recorded statistics.
        budgets: the resolved budgets.

    Raises:
        BadInputError: a drift budget for a role the statistics hold no features of (exit 2).
    """
    verdicts = []
    for key, role in (("max_input_drift", "input"), ("max_output_drift", "output")):
        limits: dict[str, float] = getattr(budgets, key)
        if not limits:
            continue
        features = [f for f in result.features if f.role == role]
        if not features:
            raise BadInputError(
                f"{key} cannot be judged: the statistics from {result.reference} hold no {role} features "
                "(the model's tensors of that role are fed by value or hold no samples); remove the budget."
            )
        alpha = limits.get("alpha", DEFAULT_ALPHA)
        for method, limit in limits.items():
            verdicts.append(_method_verdict(key, method, limit, alpha, features, budgets))
    return verdicts


def _method_verdict(
    key: str, method: str, limit: float, alpha: float, features: list[FeatureDrift], budgets: Budgets
) -> Verdict:
    count = f"{len(features)} features"
    if method == "alpha":
        first = min(features, key=lambda f: f.p_adjusted)
        moved = [f.feature for f in features if f.p_adjusted < limit]
        said = f"drifted: {', '.join(moved[:5])}" if moved else "none differs from the recording"
        detail = f"{TEST}; {count}, {said}"
        return lower_verdict(f"{key}.alpha", first.p_adjusted, limit, "p", budgets, detail, warn_key=key)

    def effect(f: FeatureDrift) -> float:
        return f.psi if method == "psi" else f.js

    broken = [f for f in features if effect(f) >= limit and f.p_adjusted < alpha]
    worst = max(broken or features, key=effect)
    noise = "" if broken or effect(worst) < limit else f", within noise (p adjusted {worst.p_adjusted:.2g})"
    detail = (
        f"{METHODS[method]}; a drift when it reaches {limit:g} and the test rejects at alpha {alpha:g}; "
        f"{count}, worst: {worst.feature} {effect(worst):.3f}{noise}"
    )
    status = Status.FAIL if broken else Status.PASS
    measured = effect(worst)
    return Verdict(f"{key}.{method}", measured, limit, "", status, limit - measured, key in budgets.warn_only, detail)
