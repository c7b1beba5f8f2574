"""mlpack check: each budget kind passing and failing, exit codes, and the three report formats."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from mlpack.budget.check import CheckResult, check
from mlpack.budget.settings import CheckSettings
from mlpack.budget.verdicts import Status
from mlpack.cli import app
from mlpack.errors import DataError, ExitCode
from tests.helpers.models import make_gemm_mlp

FAST = {"settings": CheckSettings(runs=15, duration_s=0.0, warmup=2, max_remeasure=0)}
FAST_CLI = ["--runs", "15", "--duration", "0", "--warmup", "2", "--max-remeasure", "0"]


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 4-class model, a slightly different reference, and labelled data with two slices where
    the model is perfect on slice 0 and wrong on a quarter of slice 1."""
    folder = tmp_path_factory.mktemp("check")
    model = make_gemm_mlp(folder / "model.onnx", hidden=32, seed=0)
    reference = make_gemm_mlp(folder / "reference.onnx", hidden=32, seed=0)
    x = np.random.default_rng(0).standard_normal((80, 16)).astype(np.float32)
    (logits,) = ort.InferenceSession(str(model)).run(None, {"x": x})
    labels = logits.argmax(axis=1)
    slices = np.repeat([0, 1], 40)
    labels[40:50] = (labels[40:50] + 1) % 4  # 10 wrong in slice 1: accuracy 1.0 vs 0.75
    np.savez(folder / "val.npz", x=x, labels=labels, slices=slices)
    np.savez(folder / "nolabels.npz", x=x)
    np.savez(folder / "badlabels.npz", x=x, labels=labels[:70])
    np.savez(folder / "badslices.npz", x=x, labels=labels, slices=slices[:10])
    return {"model": model, "reference": reference, "data": folder / "val.npz", "folder": folder}


def _budgets(folder: Path, body: str) -> Path:
    path = folder / "budgets.toml"
    path.write_text("[budget]\n" + body)
    return path


def _run(case: dict[str, Path], body: str, **extra) -> CheckResult:
    return check(
        case["model"],
        budgets=_budgets(case["folder"], body),
        data=case["data"],
        reference=case["reference"],
        **FAST,
        **extra,
    )


@pytest.mark.parametrize(
    ("passing", "failing", "budget"),
    [
        ("max_size_mb = 1", 'max_size_mb = "1 KB"', "max_size_mb"),
        ("min_accuracy = 0.8", "min_accuracy = 0.9", "min_accuracy"),  # accuracy is 70/80 = 0.875
        ("min = { top3_accuracy = 0.9 }", "min = { recall_class_0 = 1.01 }", None),
        ("max = { max_abs_error = 0.001 }", "max = { accuracy = 0.5 }", None),
        ("max_slice_gap = 0.3", "max_slice_gap = 0.2", "max_slice_gap"),  # gap is 0.25
        ("max_latency_ms = { p95 = 10000 }", "max_latency_ms = { p50 = 0.000001 }", None),
        ("max_first_inference_ms = 100000", "max_first_inference_ms = 0.000001", "max_first_inference_ms"),
        ("max_load_ms = 100000", "max_load_ms = 0.000001", "max_load_ms"),
        ("max_peak_memory_mb = 100000", "max_peak_memory_mb = 0.000001", "max_peak_memory_mb"),
    ],
)
def test_each_budget_kind_passes_and_fails(
    case: dict[str, Path], passing: str, failing: str, budget: str | None
) -> None:
    ok = _run(case, passing + "\n")
    assert ok.exit_code == ExitCode.OK, [v.to_dict() for v in ok.verdicts]
    assert all(v.status is Status.PASS for v in ok.verdicts)
    broken = _run(case, failing + "\n")
    assert broken.exit_code == ExitCode.FAILED
    (verdict,) = broken.verdicts
    assert verdict.status is Status.FAIL and verdict.margin is not None and verdict.margin < 0
    if budget:
        assert verdict.budget == budget
    assert verdict.budget in broken.summary


def test_accuracy_drop_against_the_reference(case: dict[str, Path]) -> None:
    budgets = _budgets(case["folder"], "max_accuracy_drop = 0.01\n")
    same = check(case["model"], budgets=budgets, data=case["data"], reference=case["reference"], **FAST)
    assert same.exit_code == ExitCode.OK and same.verdicts[0].measured == 0.0  # the same weights: no drop
    other = make_gemm_mlp(case["folder"] / "other.onnx", hidden=32, seed=7)
    dropped = check(other, budgets=budgets, data=case["data"], reference=case["model"], **FAST)
    (verdict,) = dropped.verdicts
    assert verdict.status is Status.FAIL and verdict.measured is not None and verdict.measured > 0.01
    assert dropped.quality is not None
    assert verdict.measured == pytest.approx(
        dropped.quality.metrics["reference_accuracy"] - dropped.quality.metrics["accuracy"]
    )


def test_the_measured_figures_are_right(case: dict[str, Path]) -> None:
    result = _run(case, "min_accuracy = 0.5\nmax_slice_gap = 1\nmax_size_mb = 1\n")
    by_name = {v.budget: v for v in result.verdicts}
    assert by_name["min_accuracy"].measured == pytest.approx(70 / 80)
    assert by_name["max_slice_gap"].measured == pytest.approx(0.25)
    assert by_name["max_size_mb"].measured == pytest.approx(case["model"].stat().st_size / 1024**2)
    assert result.quality is not None and result.quality.per_slice["1"]["accuracy"] == pytest.approx(0.75)


def test_no_latency_run_without_a_latency_budget(case: dict[str, Path], monkeypatch) -> None:
    import mlpack.bench.measure

    def forbidden(*args, **kwargs):
        raise AssertionError("benchmark must not run")

    monkeypatch.setattr(mlpack.bench.measure, "benchmark", forbidden)
    assert _run(case, "min_accuracy = 0.5\n").latency is None


def test_slowdown_against_a_baseline(case: dict[str, Path]) -> None:
    # ~4M multiply-adds against ~600: slower by far more than any machine noise
    big = make_gemm_mlp(case["folder"] / "big.onnx", width=512, hidden=4096)
    budgets = _budgets(case["folder"], "max_slowdown = 1000\n")
    same = check(case["model"], budgets=budgets, baseline=case["reference"], **FAST)
    assert same.exit_code == ExitCode.OK
    slower = check(
        big,
        budgets=_budgets(case["folder"], "max_slowdown = 1.5\n"),
        baseline=case["model"],
        settings=CheckSettings(runs=50, duration_s=0.0, warmup=5, max_remeasure=2),
    )
    (verdict,) = slower.verdicts
    assert verdict.budget == "max_slowdown.p50" and verdict.status is Status.FAIL


def _fake_processes(monkeypatch, per_process_ms: list[float]) -> list[int]:
    """Replace the measurement with processes whose latencies we choose, counting the calls."""
    import mlpack.bench.measure
    from mlpack.bench.results import BenchResult, Measurement, Memory
    from mlpack.bench.stats import summarize

    calls: list[int] = []

    def fake(models, *, settings, device=None, progress=None, on_device=False):
        value = per_process_ms[len(calls) % len(per_process_ms)]
        calls.append(1)
        samples = tuple([value] * 20)
        m = Measurement(
            str(models[0]), "m", 1, 1, None, 1.0, 1.0, summarize(samples), 1.0, 0.1, samples, Memory(1.0, 2.0, 1.0)
        )
        return BenchResult("now", {}, {}, None, (m,))

    monkeypatch.setattr(mlpack.bench.measure, "benchmark", fake)
    return calls


def test_too_close_to_call_is_remeasured_then_inconclusive(case: dict[str, Path], monkeypatch, runner) -> None:
    calls = _fake_processes(monkeypatch, [1.0, 3.0, 2.2])  # geometric mean 1.88, wide spread, limit 2
    budgets = _budgets(case["folder"], "max_latency_ms = { p50 = 2.0 }\n")
    result = check(
        case["model"], budgets=budgets, settings=CheckSettings(runs=5, duration_s=0, warmup=1, max_remeasure=2)
    )
    (verdict,) = result.verdicts
    assert verdict.status is Status.INCONCLUSIVE
    assert result.remeasured == 2 and len(calls) == 9  # 3 rounds of 3 processes
    assert result.exit_code == ExitCode.INCONCLUSIVE
    cli = runner.invoke(app, ["check", str(case["model"]), "--budget", str(budgets), *FAST_CLI])
    assert cli.exit_code == ExitCode.INCONCLUSIVE
    assert "inconclusive" in cli.output


def test_clear_results_are_not_remeasured(case: dict[str, Path], monkeypatch) -> None:
    calls = _fake_processes(monkeypatch, [1.0, 1.05, 0.98])
    budgets = _budgets(case["folder"], "max_latency_ms = { p50 = 2.0 }\n")
    result = check(
        case["model"], budgets=budgets, settings=CheckSettings(runs=5, duration_s=0, warmup=1, max_remeasure=2)
    )
    assert result.verdicts[0].status is Status.PASS and len(calls) == 3 and result.remeasured == 0


def test_warn_only_budgets_never_fail_the_build(case: dict[str, Path]) -> None:
    result = _run(case, 'max_size_mb = "1 KB"\nmin_accuracy = 0.5\nwarn_only = ["max_size_mb"]\n')
    assert result.exit_code == ExitCode.OK
    assert "warning" in result.summary
    assert any(v.warn_only and v.status is Status.FAIL for v in result.verdicts)


def test_reports_json_markdown_junit_and_step_summary(
    case: dict[str, Path], runner, tmp_path: Path, monkeypatch
) -> None:
    budgets = _budgets(
        case["folder"],
        'max_size_mb = "1 KB"\nmin_accuracy = 0.5\nmax_slice_gap = 0.3\n'
        'max_load_ms = 100000\nwarn_only = ["max_load_ms"]\n',
    )
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    paths = {k: tmp_path / f"r.{k}" for k in ("json", "md", "xml")}
    result = runner.invoke(
        app,
        [
            "check",
            str(case["model"]),
            "--budget",
            str(budgets),
            "--data",
            str(case["data"]),
            "--json",
            str(paths["json"]),
            "--markdown",
            str(paths["md"]),
            "--junit",
            str(paths["xml"]),
            *FAST_CLI,
        ],
    )
    assert result.exit_code == ExitCode.FAILED, result.output
    assert "max_size_mb" in result.output and "FAIL" in result.output

    payload = json.loads(paths["json"].read_text())
    assert payload["schema"] == "mlpack.check/1" and payload["exit_code"] == 1
    assert {v["budget"] for v in payload["verdicts"]} == {"max_size_mb", "min_accuracy", "max_slice_gap", "max_load_ms"}

    markdown = paths["md"].read_text()
    for name in ("max_size_mb", "min_accuracy", "max_slice_gap", "max_load_ms"):
        assert f"`{name}`" in markdown
    assert "❌ FAIL" in markdown and "✅ pass" in markdown
    assert summary.read_text() == markdown

    suite = ET.parse(paths["xml"]).getroot().find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"max_size_mb", "min_accuracy", "max_slice_gap", "max_load_ms"}
    assert cases["max_size_mb"].find("failure") is not None
    assert cases["min_accuracy"].find("failure") is None
    assert suite.get("failures") == "1" and suite.get("tests") == "4"


def test_json_to_stdout_is_only_json(case: dict[str, Path], runner) -> None:
    budgets = _budgets(case["folder"], "max_size_mb = 1\n")
    result = runner.invoke(app, ["check", str(case["model"]), "--budget", str(budgets), "--json", "-"])
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert payload["summary"] == "all 1 budgets hold" and payload["ok"] is True


def test_json_to_stdout_for_a_broken_budget(case: dict[str, Path], runner) -> None:
    budgets = _budgets(case["folder"], 'max_size_mb = "1 KB"\n')
    result = runner.invoke(app, ["check", str(case["model"]), "--budget", str(budgets), "--json", "-"])
    assert result.exit_code == ExitCode.FAILED
    payload = json.loads(result.stdout)  # only JSON on stdout, failure or not
    assert payload["ok"] is False and payload["exit_code"] == ExitCode.FAILED
    assert payload["verdicts"][0]["status"] == "fail"


@pytest.mark.parametrize(
    ("body", "data", "message"),
    [
        ("min_accuracy = 0.5\n", "nolabels.npz", "no 'labels' array"),
        ("min_accuracy = 0.5\n", "badlabels.npz", "'labels' has 70 entries but the inputs have 80"),
        ("max_slice_gap = 0.5\n", "badslices.npz", "'slices' must hold one group id per sample"),
        ("min_accuracy = 0.5\n", None, "need evaluation data"),
        ("min = { f2_score = 0.5 }\n", "val.npz", "'f2_score', which this model and data do not give"),
        ("min = { f1 = 0.5 }\n", "val.npz", "the budgets on f1 need --reference"),
        ("max_size_mb = 1\nspeed = 2\n", None, "unknown key"),
        ('max_size_mb = "big"\n', None, "cannot read 'big'"),
        ("max_size_mb = -1\n", None, "must be positive"),
        ("max_slowdown = 1.1\n", None, "--baseline"),
    ],
)
def test_bad_input_is_one_line_exit_2(case: dict[str, Path], runner, body: str, data: str | None, message: str) -> None:
    budgets = _budgets(case["folder"], body)
    args = ["check", str(case["model"]), "--budget", str(budgets), *FAST_CLI]
    if data:
        args += ["--data", str(case["folder"] / data)]
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert message in result.output.replace("\n", " ") and "Traceback" not in result.output


def test_unknown_device_is_bad_input(case: dict[str, Path]) -> None:
    with pytest.raises(Exception, match="unknown device profile 'toaster'"):
        check(case["model"], budgets=_budgets(case["folder"], "max_size_mb = 1\n"), device="toaster")


def test_data_errors_are_data_errors() -> None:
    assert DataError("x").exit_code == ExitCode.BAD_INPUT
