"""Metrics on hand-computed cases, and budget files: units, overrides and every kind of mistake."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlpack.bench.stats import process_interval, summarize
from mlpack.budget.spec import load_budget_file, resolve
from mlpack.core.metrics import evaluate, mae, per_class_recall, rmse, topk_accuracy
from mlpack.errors import ConfigError, DataError

LOGITS = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1], [0.1, 0.3, 0.6]])
LABELS = np.array([0, 1, 1, 0])  # right, right, wrong (2nd best), wrong (last)


def test_accuracy_topk_and_recall_by_hand() -> None:
    assert topk_accuracy(LOGITS, LABELS, k=1) == 0.5
    assert topk_accuracy(LOGITS, LABELS, k=2) == 0.75
    assert per_class_recall(LOGITS, LABELS) == {0: 0.5, 1: 0.5}


def test_regression_metrics_by_hand() -> None:
    out = np.array([[1.0, 2.0], [3.0, 4.0]])
    target = np.array([[1.0, 0.0], [3.0, 6.0]])
    assert mae(out, target) == 1.0
    assert rmse(out, target) == pytest.approx(np.sqrt(2.0))
    report = evaluate(out, target)
    assert report.task == "regression"
    cos1 = 1 / np.sqrt(5)  # [1,2]·[1,0] / (|[1,2]| |[1,0]|)
    cos2 = (9 + 24) / (5 * np.sqrt(45))
    assert report.metrics["cosine_to_targets"] == pytest.approx((cos1 + cos2) / 2)


def test_reference_metrics_and_slices_by_hand() -> None:
    reference = LOGITS.copy()
    reference[2] = [0.1, 0.8, 0.1]  # the reference gets sample 2 right
    slices = np.array([0, 0, 1, 1])
    report = evaluate(LOGITS, LABELS, reference=reference, slices=slices)
    m = report.metrics
    assert m["agreement"] == 0.75
    assert m["reference_accuracy"] == 0.75 and m["accuracy_drop"] == 0.25
    assert m["max_abs_error"] == pytest.approx(0.4)  # |0.4 - 0.8| in sample 2
    assert report.per_slice["0"]["accuracy"] == 1.0 and report.per_slice["1"]["accuracy"] == 0.0
    assert report.slice_gap["accuracy"] == 1.0
    assert report.slice_sizes == {"0": 2, "1": 2}


def test_metric_inputs_that_do_not_fit() -> None:
    with pytest.raises(DataError, match="3 labels for 4"):
        evaluate(LOGITS, LABELS[:3])
    with pytest.raises(DataError, match="slice ids"):
        evaluate(LOGITS, LABELS, slices=np.array([0, 1]))
    with pytest.raises(DataError, match="class indices"):
        topk_accuracy(LOGITS, np.array([0, 1, 7, 0]), k=1)


def test_summary_statistics_and_process_interval() -> None:
    stats = summarize([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (stats.p50, stats.mean, stats.min, stats.max) == (3.0, 3.0, 1.0, 5.0)
    assert stats.p90 == pytest.approx(4.6)  # linear interpolation: rank 0.9 * 4 = 3.6
    estimate, low, high = process_interval([10.0, 12.0, 11.0], 0.95)
    assert estimate == 11.0
    assert high - 11.0 == pytest.approx(4.303 * 1.0 / np.sqrt(3), rel=0.01)  # t(2) quantile 4.303, sd 1
    assert low < 11.0 < high


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "budgets.toml"
    path.write_text(text)
    return path


def test_units_defaults_and_device_overrides(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
[device.board]
threads = 2

[budget]
max_size_mb = "512 KB"
max_latency_ms = { p50 = 8, p95 = "0.012 s" }
min_accuracy = "95%"
warn_only = ["max_size_mb"]

[budget.board]
max_latency_ms = { p95 = 40.0 }
""",
    )
    budget_file = load_budget_file(path)
    defaults = resolve(budget_file, None)
    assert defaults.max_size_mb == 0.5
    assert defaults.max_latency_ms == {"p50": 8.0, "p95": 12.0}
    assert defaults.min_accuracy == 0.95
    assert defaults.warn_only == {"max_size_mb"}
    board = resolve(budget_file, "board")
    assert board.max_latency_ms == {"p95": 40.0}  # the override replaces the whole key
    assert board.min_accuracy == 0.95
    assert budget_file.devices["board"].threads == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[budget]\nmax_size_mb = 5\nmax_sise_mb = 3\n", ":3: 'budget.max_sise_mb': unknown key"),
        ("[budget]\nmax_size_mb = true\n", ":2: 'budget.max_size_mb': must be a number"),
        ("[budget]\nmax_size_mb = -1\n", ":2: 'budget.max_size_mb': must be positive"),
        ('[budget]\nmax_size_mb = "5 parsecs"\n', "cannot read '5 parsecs'"),
        ("[budget]\nmin_accuracy = 95\n", "fraction between 0 and 1"),
        ("[budget]\nmax_latency_ms = { p42 = 3 }\n", "unknown percentile 'p42'"),
        ('[budget]\nwarn_only = ["speed"]\n', "'speed' is not a budget name"),
        ("[budget]\nmax_size_mb = 1\n[budget.rpi4]\nmax_size_mb = -2\n", ":4: 'budget.rpi4.max_size_mb'"),
        ("[budgets]\nmax_size_mb = 1\n", "unknown table"),
        ("[device.x]\nthreads = 1\n", "no [budget] table"),
        ("[budget\n", "not valid TOML"),
    ],
)
def test_budget_file_mistakes_name_the_key_and_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_budget_file(_write(tmp_path, text))
    assert message in str(caught.value)
