"""Second probe, item 1: a test-data folder whose tensors hold 0 samples is as empty as an empty .npz;
every command that reads data refuses it in the one loader (exit 2), not just the .npz kind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.helpers.hostile import make_test_data, refused, snapshot


@pytest.fixture
def empty_td(work: Path) -> Path:
    return make_test_data(work / "td", {"x": np.zeros((0, 16), np.float32)})


@pytest.mark.parametrize(
    "command",
    [
        ["optimize", "{m}", "-o", "{out}", "--quantize", "static", "--calibration", "{td}"],
        ["optimize", "{m}", "-o", "{out}", "--quantize", "dynamic", "--data", "{td}"],
        ["check", "{m}", "-b", "{budget}", "--data", "{td}"],
        ["pack", "{m}", "-o", "{out}", "--golden-data", "{td}"],
        ["bench", "{m}", "--data", "{td}", "--runs", "3", "--duration", "0.01"],
    ],
    ids=["calibration", "optimize", "check", "pack", "bench"],
)
def test_zero_rows_in_a_test_set_refused(work: Path, empty_td: Path, command: list[str]) -> None:
    budget = work / "agree.toml"
    budget.write_text("[budget]\nmax_latency_ms = { p50 = 1000 }\n")
    names = {"m": work / "m.onnx", "out": work / "out.bin", "td": empty_td, "budget": budget}
    before = snapshot(work)
    refused([part.format(**names) for part in command], says="0 samples")
    assert snapshot(work) == before


def test_run_with_an_empty_test_set(work: Path, package: Path, empty_td: Path) -> None:
    refused(["run", package, "--data", empty_td, "-o", work / "out.npz"], says="0 samples")
