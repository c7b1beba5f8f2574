"""The adaptive stopping rule: stop when the p50 is precise or the time is spent; --runs/--duration override."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mlpack.bench.adaptive import (
    STOPPED_BY_COUNT,
    STOPPED_BY_PRECISION,
    STOPPED_BY_TIME,
    Adaptive,
    StoppingRule,
    p50_precision,
)
from mlpack.bench.measure import benchmark
from mlpack.bench.settings import BenchSettings
from mlpack.bench.stats import median_interval
from mlpack.cli import app
from mlpack.errors import BadInputError


def test_the_median_interval_brackets_the_median_and_narrows_with_more_samples() -> None:
    rng = np.random.default_rng(0)
    widths = []
    for n in (20, 200, 2000):
        samples = list(rng.lognormal(0.0, 0.3, n))
        low, high, confidence = median_interval(samples, 0.95)
        assert low <= float(np.median(samples)) <= high and confidence == 0.95
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2]


def test_few_samples_get_the_range_with_its_exact_lower_confidence() -> None:
    low, high, confidence = median_interval([3.0, 1.0, 2.0], 0.95)
    assert (low, high) == (1.0, 3.0) and confidence == pytest.approx(0.75)
    assert median_interval([1.0], 0.95) == (-math.inf, math.inf, 0.0)
    assert p50_precision([2.0, 2.0, 2.0], 0.95, 0.02, "x").describe() == "±0.0% @75%"


def test_steady_samples_stop_by_precision_after_the_minimum() -> None:
    rule = StoppingRule(runs=100, duration_s=2.0, adaptive=Adaptive(precision=0.02, max_seconds=10, min_runs=3))
    assert rule.stop_reason([5.0, 5.0]) is None  # below the minimum
    assert rule.stop_reason([5.0] * 3) is None  # three runs cannot reach 95% confidence
    assert rule.stop_reason([5.0] * 10) == STOPPED_BY_PRECISION


def test_noisy_samples_stop_when_the_time_budget_is_spent() -> None:
    rule = StoppingRule(runs=100, duration_s=2.0, adaptive=Adaptive(precision=0.001, max_seconds=1.0))
    noisy = list(np.random.default_rng(1).uniform(1, 100, 30))
    assert sum(noisy) >= 1000 and rule.stop_reason(noisy) == STOPPED_BY_TIME
    assert rule.fraction_done(noisy) == 1.0


def test_a_fixed_count_behaves_as_before() -> None:
    rule = StoppingRule(runs=10, duration_s=0.0, adaptive=None)
    assert rule.stop_reason([1.0] * 9) is None and rule.stop_reason([1.0] * 10) == STOPPED_BY_COUNT


@pytest.mark.parametrize(
    "adaptive", [Adaptive(precision=0), Adaptive(precision=1.5), Adaptive(max_seconds=0), Adaptive(min_runs=0)]
)
def test_bad_adaptive_settings_are_bad_input(adaptive: Adaptive) -> None:
    with pytest.raises(BadInputError):
        BenchSettings(adaptive=adaptive).validate()


def test_an_adaptive_bench_reports_its_precision_beside_each_figure(gemm_mlp: Path) -> None:
    settings = BenchSettings(warmup=2, batch_sizes=(1, 4), adaptive=Adaptive(precision=0.05, max_seconds=0.3))
    result = benchmark([gemm_mlp], settings=settings)
    assert result.settings["adaptive"]["precision"] == 0.05
    for m in result.measurements:
        assert m.precision is not None and m.precision.stopped_by in (STOPPED_BY_PRECISION, STOPPED_BY_TIME)
        assert m.latency_ms.count >= 3
        if m.precision.stopped_by == STOPPED_BY_PRECISION:
            assert m.precision.relative_half_width <= 0.05
        else:
            assert m.timed_seconds >= 0.3


def test_the_cli_is_adaptive_unless_runs_or_duration_are_given(
    gemm_mlp: Path, runner: CliRunner, tmp_path: Path
) -> None:
    adaptive = runner.invoke(app, ["bench", str(gemm_mlp), "--max-time", "0.2", "--json", "-"])
    assert adaptive.exit_code == 0, adaptive.output
    data = json.loads(adaptive.stdout)
    assert data["settings"]["adaptive"]["max_seconds"] == 0.2 and data["on_device"] is False
    assert data["measurements"][0]["precision"]["target"] == 0.02
    fixed = runner.invoke(app, ["bench", str(gemm_mlp), "--runs", "15", "--json", "-"])
    assert fixed.exit_code == 0, fixed.output
    data = json.loads(fixed.stdout)
    assert data["settings"]["adaptive"] is None and data["settings"]["duration_s"] == 2.0
    assert data["measurements"][0]["latency_ms"]["count"] >= 15
    assert data["measurements"][0]["precision"]["stopped_by"] == STOPPED_BY_COUNT
    human = runner.invoke(app, ["bench", str(gemm_mlp), "--max-time", "0.2"])
    assert "p50 ±" in human.output and "until the p50 is within ±2%" in human.output


def test_a_bad_precision_is_one_line_exit_2(gemm_mlp: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["bench", str(gemm_mlp), "--precision", "0"])
    assert result.exit_code == 2 and "--precision" in result.output
