"""mlpack tune: candidates, interleaved latency, the Pareto front, the time box."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mlpack.cli import app
from mlpack.errors import ExitCode


def test_tune_picks_an_int8_model_on_digits(digits: dict[str, Path], runner, tmp_path: Path) -> None:
    out = tmp_path / "best.onnx"
    report = tmp_path / "tune.json"
    result = runner.invoke(
        app,
        [
            "tune",
            str(digits["fp32"]),
            "-o",
            str(out),
            "--budget",
            str(digits["examples"] / "budgets.toml"),
            "--data",
            str(digits["heldout"]),
            "--calibration",
            str(digits["folder"] / "calib.npz"),
            "--objective",
            "size",
            "--runs",
            "20",
            "--duration",
            "0.1",
            "--json",
            str(report),
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(report.read_text())
    assert payload["ok"] is True and payload["exit_code"] == 0
    assert payload["chosen"] not in ("fp32", "fp16")  # the smallest that fits is an 8- or 4-bit one
    names = {c["name"] for c in payload["candidates"] if c["status"] == "built"}
    assert {"auto", "weights-int8", "int4", "dynamic-int8"} <= names
    assert out.exists() and out.stat().st_size == min(
        c["size_bytes"] for c in payload["candidates"] if c["meets_budgets"]
    )
    built = [c for c in payload["candidates"] if c["status"] == "built"]
    assert len(built) >= 6
    for c in built:
        assert c["size_bytes"] and c["latency_ms"]["p50"] and c["latency_ms"]["p95"] and "accuracy" in c["metrics"]
    assert any(c["pareto"] for c in built)
    chosen = next(c for c in built if c["name"] == payload["chosen"])
    assert chosen["pareto"]  # chosen from its own front (issue 25)
    assert not any(c["pareto"] and not c["meets_budgets"] for c in built)
    assert "int8_acceleration" in payload
    fp32 = next(c for c in built if c["name"] == "fp32")
    assert "max_size_mb" in fp32["broken_budgets"]  # 1 MB budget, 1.03 MB model


def test_tune_with_no_fitting_candidate_says_what_broke(digits: dict[str, Path], runner, tmp_path: Path) -> None:
    budgets = tmp_path / "b.toml"
    budgets.write_text('[budget]\nmax_size_mb = "10 KB"\nmin_accuracy = 0.9\n')
    out = tmp_path / "best.onnx"
    result = runner.invoke(
        app,
        [
            "tune",
            str(digits["fp32"]),
            "-o",
            str(out),
            "--budget",
            str(budgets),
            "--data",
            str(digits["heldout"]),
            "--runs",
            "5",
            "--duration",
            "0",
            "--json",
            "-",
        ],
    )
    assert result.exit_code == ExitCode.FAILED
    payload = json.loads(result.stdout)  # the JSON is printed for a failure too
    assert payload["ok"] is False and payload["exit_code"] == ExitCode.FAILED
    assert payload["chosen"] is None and not out.exists()
    assert all("max_size_mb" in c["broken_budgets"] for c in payload["candidates"] if c["status"] == "built")


def test_tune_time_box_still_writes_the_best_so_far(digits: dict[str, Path], tmp_path: Path) -> None:
    from mlpack.pipeline.tune import tune
    from mlpack.pipeline.tune_settings import TuneSettings

    out = tmp_path / "best.onnx"
    budgets = tmp_path / "b.toml"
    budgets.write_text("[budget]\nmin_accuracy = 0.5\n")
    result = tune(
        digits["fp32"],
        out,
        budgets=budgets,
        data=digits["heldout"],
        calibration=digits["folder"] / "calib.npz",
        settings=TuneSettings(max_time_s=0.5, runs=5, duration_s=0),
    )
    assert result.timed_out
    assert any(c.status == "skipped" for c in result.candidates)
    assert result.chosen is not None and out.exists()


def test_tune_bad_input(digits: dict[str, Path], runner, tmp_path: Path) -> None:
    budgets = tmp_path / "b.toml"
    budgets.write_text("[budget]\nmin_accuracy = 0.5\n")
    unlabelled = tmp_path / "u.npz"
    np.savez(unlabelled, x=np.load(digits["heldout"])["x"])
    result = runner.invoke(
        app,
        [
            "tune",
            str(digits["fp32"]),
            "-o",
            str(tmp_path / "o.onnx"),
            "--budget",
            str(budgets),
            "--data",
            str(unlabelled),
        ],
    )
    assert result.exit_code == ExitCode.BAD_INPUT and "labels" in result.output


def _fixed_measurements(monkeypatch, *, first_inference_ms: float, load_ms: float, model_peak_mb: float) -> None:
    """Every benchmark call measures the same figures for every model, in check and in tune."""
    import mlpack.bench.measure
    from mlpack.bench.results import BenchResult, Measurement, Memory
    from mlpack.bench.stats import summarize

    samples = (1.0, 1.1, 1.2, 1.0)

    def fake(models, *, settings, device=None, progress=None, on_device=False):
        memory = Memory(100.0, 100.0 + model_peak_mb, model_peak_mb)
        measured = tuple(
            Measurement(
                str(m), "m", 1, 1, None, load_ms, first_inference_ms, summarize(samples), 1.0, 0.1, samples, memory
            )
            for m in models
        )
        return BenchResult("now", {}, {}, None, measured)

    monkeypatch.setattr(mlpack.bench.measure, "benchmark", fake)


def test_check_and_tune_give_the_same_resource_verdicts(digits: dict[str, Path], monkeypatch, tmp_path: Path) -> None:
    import mlpack.pipeline.tune
    from mlpack.budget.check import check
    from mlpack.budget.settings import CheckSettings
    from mlpack.budget.verdicts import Status
    from mlpack.pipeline.tune import CandidateSpec, tune
    from mlpack.pipeline.tune_settings import TuneSettings
    from mlpack.quant.settings import QuantMode

    _fixed_measurements(monkeypatch, first_inference_ms=40.0, load_ms=12.0, model_peak_mb=30.0)
    monkeypatch.setattr(mlpack.pipeline.tune, "candidate_specs", lambda *a: [CandidateSpec("fp32", QuantMode.NONE)])
    budgets = tmp_path / "b.toml"
    budgets.write_text(
        "[budget]\nmax_first_inference_ms = 50\nmax_load_ms = 10\nmax_peak_memory_mb = 20\n"
        'warn_only = ["max_peak_memory_mb"]\n'
    )
    fast = {"runs": 5, "duration_s": 0.0}
    checked = check(digits["fp32"], budgets=budgets, settings=CheckSettings(warmup=1, max_remeasure=0, **fast))
    tuned = tune(
        digits["fp32"], tmp_path / "o.onnx", budgets=budgets, data=digits["heldout"], settings=TuneSettings(**fast)
    )
    (fp32,) = tuned.candidates

    def judged(verdicts) -> dict[str, tuple]:
        # The detail says how many processes measured it, which differs by design.
        return {v.budget: (v.measured, v.limit, v.unit, v.status, v.margin, v.warn_only) for v in verdicts}

    expected = {"max_first_inference_ms", "max_load_ms", "max_peak_memory_mb"}
    assert set(judged(checked.verdicts)) == expected
    assert judged(checked.verdicts) == judged(fp32.verdicts)
    assert judged(checked.verdicts)["max_load_ms"][3] is Status.FAIL
    assert not checked.ok and not tuned.ok  # the load budget breaks either way
    assert checked.exit_code == tuned.exit_code == ExitCode.FAILED
