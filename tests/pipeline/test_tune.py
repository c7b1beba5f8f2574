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
    assert payload["chosen"].startswith(("static-int8", "dynamic-int8"))
    assert out.exists() and out.stat().st_size == min(
        c["size_bytes"] for c in payload["candidates"] if c["meets_budgets"]
    )
    built = [c for c in payload["candidates"] if c["status"] == "built"]
    assert len(built) >= 6
    for c in built:
        assert c["size_bytes"] and c["latency_ms"]["p50"] and c["latency_ms"]["p95"] and "accuracy" in c["metrics"]
    assert any(c["pareto"] for c in built)
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
    payload = json.loads(result.stdout)
    assert payload["chosen"] is None and not out.exists()
    assert all("max_size_mb" in c["broken_budgets"] for c in payload["candidates"] if c["status"] == "built")


def test_tune_time_box_still_writes_the_best_so_far(digits: dict[str, Path], tmp_path: Path) -> None:
    from mlpack.pipeline.tune import tune

    out = tmp_path / "best.onnx"
    budgets = tmp_path / "b.toml"
    budgets.write_text("[budget]\nmin_accuracy = 0.5\n")
    result = tune(
        digits["fp32"],
        out,
        budgets=budgets,
        data=digits["heldout"],
        calibration=digits["folder"] / "calib.npz",
        max_time_s=0.5,
        runs=5,
        duration_s=0,
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
