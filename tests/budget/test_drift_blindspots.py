"""No blind spots: a constant feature moving either way, values outside every recorded bin, NaN
and Inf rates, new and vanished categories are all scored; every drift budget judges every feature
it applies to, or refuses in one line."""

from __future__ import annotations

import numpy as np
import pytest

from mlpack.budget.drift import DriftResult, DriftThresholds, drift_verdicts
from mlpack.budget.spec import Budgets
from mlpack.data.stats import View
from mlpack.errors import BadInputError
from tests.helpers.driftdraws import Tensors, scored

COLUMN = View("features", axis=1, groups=((0, 1),))  # one feature: x[0]


def _table(values: np.ndarray) -> Tensors:
    return [("x", "input", COLUMN, values.reshape(-1, 1).astype(np.float32))]


def _ids(values: np.ndarray) -> Tensors:
    return [("c", "input", View("categories"), values.astype(np.int64))]


def _only(recorded: Tensors, new: Tensors):
    (feature,) = scored(recorded, new)
    return feature


@pytest.mark.parametrize(("moved_to", "said"), [(2.0, "below"), (4.0, "above")])
def test_a_constant_feature_moving_either_way_is_seen(moved_to: float, said: str) -> None:
    constant = _table(np.full(400, 3.0))
    assert not _only(constant, _table(np.full(200, 3.0))).drifted
    moved = _only(constant, _table(np.full(200, moved_to)))
    assert moved.drifted and any(said in note for note in moved.notes) and "constant when recorded (3)" in moved.notes


@pytest.mark.parametrize("side", [-1, 1])
def test_values_outside_every_recorded_bin_are_seen_on_both_sides(side: int) -> None:
    rng = np.random.default_rng(0)
    new = rng.standard_normal(500)
    new[:50] = side * 40.0  # a tenth of the values far outside the recorded range
    feature = _only(_table(rng.standard_normal(1000)), _table(new))
    assert feature.drifted
    assert any(("below" if side < 0 else "above") in note for note in feature.notes), feature.notes


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_rates_are_scored(bad: float) -> None:
    rng = np.random.default_rng(1)
    new = rng.standard_normal(500)
    new[:25] = bad  # 5% not finite, none recorded
    feature = _only(_table(rng.standard_normal(1000)), _table(new))
    assert feature.drifted and any("NaN/Inf 0.0% recorded, 5.0% now" in note for note in feature.notes)


def test_a_new_category_is_seen() -> None:
    rng = np.random.default_rng(2)
    new = rng.integers(0, 10, 400)
    new[:40] = 42  # never recorded
    feature = _only(_ids(rng.integers(0, 10, 1000)), _ids(new))
    assert feature.drifted and any("never recorded" in note for note in feature.notes), feature.notes


def test_a_vanished_category_is_seen() -> None:
    rng = np.random.default_rng(3)
    new = rng.integers(0, 10, 600)
    new[new == 3] = 4  # category 3 gone
    feature = _only(_ids(rng.integers(0, 10, 1000)), _ids(new))
    assert feature.drifted and "1 recorded categories absent now: 3" in feature.notes


def _result(recorded: Tensors, new: Tensors) -> DriftResult:
    features = scored(recorded, new)
    return DriftResult("now", "ref", "new.npz", 500, 1000, DriftThresholds(), features)


def test_each_budget_method_judges_numeric_and_categorical_features_alike() -> None:
    rng = np.random.default_rng(4)
    recorded = _table(rng.standard_normal(1000)) + _ids(rng.integers(0, 10, (1000,)))
    moved = _table(rng.standard_normal(500) + 1.5) + _ids(rng.integers(0, 10, (500,)))
    result = _result(recorded, moved)
    for method, limit in (("js", 0.1), ("psi", 0.25), ("alpha", 0.05)):
        (verdict,) = drift_verdicts(result, Budgets(max_input_drift={method: limit}))
        assert verdict.budget == f"max_input_drift.{method}" and verdict.status.value == "fail", verdict
        assert "2 features" in verdict.detail and "x[0]" in verdict.detail
    still = _result(recorded, _table(rng.standard_normal(500)) + _ids(rng.integers(0, 10, (500,))))
    verdicts = drift_verdicts(still, Budgets(max_input_drift={"js": 0.1, "psi": 0.25, "alpha": 0.05}))
    assert [v.status.value for v in verdicts] == ["pass"] * 3


def test_an_effect_size_limit_within_noise_does_not_break_the_budget() -> None:
    """Ten samples of a thousand categories: JS distance is large from noise alone, the test is not fooled."""
    rng = np.random.default_rng(5)
    recorded, new = _ids(rng.integers(0, 1000, 2000)), _ids(rng.integers(0, 1000, 60))
    result = _result(recorded, new)
    assert result.features[0].js > 0.5  # far over any usual limit: a fixed threshold would cry wolf
    (verdict,) = drift_verdicts(result, Budgets(max_input_drift={"js": 0.1}))
    assert verdict.status.value == "pass" and "within noise" in verdict.detail


def test_a_budget_for_a_role_without_features_is_refused_in_one_line() -> None:
    rng = np.random.default_rng(6)
    result = _result(_table(rng.standard_normal(400)), _table(rng.standard_normal(400)))
    with pytest.raises(BadInputError, match="max_output_drift cannot be judged: .* no output features") as raised:
        drift_verdicts(result, Budgets(max_output_drift={"alpha": 0.05}))
    assert "\n" not in raised.value.message


def test_a_few_values_where_none_belong_are_not_pooled_away() -> None:
    """Three of 50 new values below a feature recorded constant: too few for the chi-square bins
    (they are pooled), weighed by the exact test instead."""
    new = np.full(50, 3.0)
    new[:3] = 2.0
    feature = _only(_table(np.full(1000, 3.0)), _table(new))
    assert feature.drifted and "exact test" in feature.test_note, feature.test_note


def test_a_small_nan_rate_is_not_diluted_among_the_bins() -> None:
    """1% NaN where none were recorded: one bin of a dozen barely moves the test over all bins; the
    rate's own test sees it."""
    rng = np.random.default_rng(7)
    new = rng.standard_normal(3000)
    new[:30] = np.nan
    feature = _only(_table(rng.standard_normal(2000)), _table(new))
    assert feature.drifted and "NaN/Inf rate (Fisher" in feature.test_note, feature.test_note
