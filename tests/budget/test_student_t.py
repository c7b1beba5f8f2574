"""The Student-t quantile behind every latency interval, against published table values."""

from __future__ import annotations

import math

import pytest

from mlpack.bench.stats import process_interval, student_t_quantile

# Two-sided 95%, 90% and 99% critical values from the standard t table (3 decimals).
TABLE = {
    1: (12.706, 6.314, 63.657),
    2: (4.303, 2.920, 9.925),
    3: (3.182, 2.353, 5.841),
    5: (2.571, 2.015, 4.032),
    10: (2.228, 1.812, 3.169),
    20: (2.086, 1.725, 2.845),
    30: (2.042, 1.697, 2.750),
}


@pytest.mark.parametrize("df", sorted(TABLE))
def test_t_quantiles_match_the_table(df: int) -> None:
    for confidence, expected in zip((0.95, 0.90, 0.99), TABLE[df], strict=True):
        assert student_t_quantile(df, (1 + confidence) / 2) == pytest.approx(expected, abs=6e-4)


def test_t_quantile_closed_forms_and_symmetry() -> None:
    # df 2 has a closed form: t = (2p - 1) * sqrt(2 / (4p(1 - p))).
    p = 0.975
    assert student_t_quantile(2, p) == pytest.approx((2 * p - 1) * math.sqrt(2 / (4 * p * (1 - p))), rel=1e-9)
    assert student_t_quantile(1, 0.75) == pytest.approx(1.0, rel=1e-12)
    assert student_t_quantile(7, 0.5) == pytest.approx(0.0, abs=1e-9)
    assert student_t_quantile(4, 0.025) == pytest.approx(-student_t_quantile(4, 0.975), rel=1e-12)


def test_t_quantile_reaches_the_normal_limit() -> None:
    assert student_t_quantile(1_000_000, 0.975) == pytest.approx(1.95996, abs=1e-4)
    assert student_t_quantile(100, 0.975) > student_t_quantile(1_000, 0.975) > 1.95996


def test_t_quantile_is_deterministic_and_monotonic_in_confidence() -> None:
    levels = [0.5, 0.6, 0.8, 0.9, 0.95, 0.99, 0.999]
    values = [student_t_quantile(4, (1 + c) / 2) for c in levels]
    assert values == sorted(set(values))  # strictly increasing
    assert values[0] == pytest.approx(0.741, abs=6e-4)  # t(4) at 0.75
    assert values == [student_t_quantile(4, (1 + c) / 2) for c in levels]


@pytest.mark.parametrize(("df", "probability"), [(0, 0.9), (3, 0.0), (3, 1.0)])
def test_t_quantile_refuses_what_has_no_quantile(df: int, probability: float) -> None:
    with pytest.raises(ValueError):
        student_t_quantile(df, probability)


def test_process_interval_uses_the_exact_quantile() -> None:
    estimate, low, high = process_interval([10.0, 12.0, 11.0], 0.95)
    assert estimate == 11.0
    assert high - estimate == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)  # sd 1, n 3
    assert estimate - low == pytest.approx(high - estimate)
