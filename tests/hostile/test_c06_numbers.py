"""Class 6: non-finite or out-of-range numbers, in options and in budget files, are refused before any
work (exit 2), so NaN never reaches a verdict or a JSON report."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.hostile import refused


@pytest.mark.parametrize(
    ("value", "says"),
    [("nan", "finite"), ('"nan MB"', "cannot read"), ('"1e999 MB"', "finite"), ("inf", "finite"), ("-1", "positive")],
)
def test_budget_values(work: Path, value: str, says: str) -> None:
    budget = work / "b.toml"
    budget.write_text(f"[budget]\nmax_size_mb = {value}\n")
    message = refused(["check", work / "m.onnx", "-b", budget, "--json", work / "r.json"], says=says)
    assert "max_size_mb" in message and not (work / "r.json").exists()


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["bench", "{m}", "--duration", "nan"], "--duration"),
        (["bench", "{m}", "--duration", "inf"], "--duration"),
        (["bench", "{m}", "--latency-budget", "nan"], "--latency-budget"),
        (["bench", "{m}", "--max-time", "-1"], "--max-time"),
        (["optimize", "{m}", "-o", "{out}", "--atol", "-1"], "--atol"),
        (["optimize", "{m}", "-o", "{out}", "--min-cosine", "nan"], "--min-cosine"),
        (["tune", "{m}", "-o", "{out}", "-b", "{budget}", "--data", "{data}", "--max-time", "nan"], "--max-time"),
        (["check", "{m}", "-b", "{budget}", "--confidence", "1.5"], "--confidence"),
        (["drift", "{m}", "--data", "{data}", "--psi", "nan"], "--psi"),
    ],
)
def test_options(work: Path, args: list[str], option: str) -> None:
    names = {"m": work / "m.onnx", "out": work / "o.onnx", "budget": work / "budget.toml", "data": work / "data.npz"}
    refused([a.format(**names) for a in args], says=option)
    assert not (work / "o.onnx").exists()


def test_compare_fail_if_slower_nan(work: Path) -> None:
    refused(["compare", work / "a.json", work / "b.json", "--fail-if-slower", "nan"], says="--fail-if-slower")


def test_device_threads_nan(work: Path) -> None:
    devices = work / "d.toml"
    devices.write_text("[device.x]\nthreads = 2\nmemory_mb = nan\n")
    refused(["devices", "--devices", devices], says="finite")
