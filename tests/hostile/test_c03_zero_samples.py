"""Class 3: a data file with zero samples is refused by the one loader every command uses (exit 2),
instead of passing a check on nothing or failing deep inside."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.hostile import refused, snapshot


@pytest.mark.parametrize(
    "command",
    [
        ["optimize", "{m}", "-o", "{out}", "--quantize", "dynamic", "--data", "{empty}"],
        ["check", "{m}", "-b", "{budget}", "--data", "{empty}"],
        ["bench", "{m}", "--data", "{empty}", "--runs", "3", "--duration", "0.01"],
        ["pack", "{m}", "-o", "{out}", "--golden-data", "{empty}"],
        ["tune", "{m}", "-o", "{out}", "-b", "{budget}", "--data", "{empty}"],
        ["optimize", "{m}", "-o", "{out}", "--quantize", "static", "--calibration", "{empty}"],
    ],
    ids=["optimize", "check", "bench", "pack", "tune", "calibration"],
)
def test_zero_samples_refused(work: Path, command: list[str]) -> None:
    budget = work / "accuracy.toml"
    budget.write_text("[budget]\nmin_accuracy = 0.1\n")  # a budget that needs the data
    names = {"m": work / "m.onnx", "out": work / "out.bin", "empty": work / "empty.npz", "budget": budget}
    before = snapshot(work)
    refused([part.format(**names) for part in command], says="0 samples" if "calibration" not in command[-2] else "")
    assert snapshot(work) == before


def test_run_with_zero_samples(work: Path, package: Path) -> None:
    refused(["run", package, "--data", work / "empty.npz", "-o", work / "out.npz"], says="0 samples")
    assert not (work / "out.npz").exists()
