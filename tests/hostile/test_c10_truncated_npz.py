"""Class 10: an .npz whose header claims far more rows than it holds is refused at once (exit 2),
instead of feeding hundreds of thousands of empty batches."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from tests.helpers.hostile import forged_npz, refused


def test_truncated_calibration(work: Path) -> None:
    forged = forged_npz(work / "calib.npz", claimed=(10**7, 16), held=np.ones((64, 16), np.float32))
    started = time.perf_counter()
    refused(
        ["optimize", work / "m.onnx", "-o", work / "o.onnx", "--quantize", "static", "--calibration", forged],
        says="truncated",
    )
    assert time.perf_counter() - started < 30 and not (work / "o.onnx").exists()


def test_truncated_statistics_data(work: Path) -> None:
    forged = forged_npz(work / "val.npz", claimed=(10**7, 16), held=np.ones((64, 16), np.float32))
    refused(["pack", work / "m.onnx", "-o", work / "p.mlpack", "--data", forged], says="truncated")
    assert not (work / "p.mlpack").exists()


def test_truncated_check_data(work: Path) -> None:
    forged = forged_npz(work / "eval.npz", claimed=(1000, 16), held=np.ones((64, 16), np.float32))
    refused(["optimize", work / "m.onnx", "-o", work / "o.onnx", "--data", forged], says="truncated")
