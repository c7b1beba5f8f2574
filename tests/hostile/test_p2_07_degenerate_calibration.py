"""Second probe, item 7: calibration data with NaN or infinities, or that is constant (zero variance),
is refused before calibrating (exit 2), in the one calibration reader, for both source kinds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.helpers.hostile import make_test_data, refused, snapshot


@pytest.mark.parametrize(
    "values, says",
    [
        (np.full((20, 16), np.nan, np.float32), "nan"),
        (np.zeros((20, 16), np.float32), "constant"),
        (np.full((20, 16), 3.0, np.float32), "constant"),
    ],
    ids=["nan", "zeros", "constant"],
)
@pytest.mark.parametrize("kind", ["npz", "folder"])
def test_degenerate_calibration_refused(work: Path, values: np.ndarray, says: str, kind: str) -> None:
    if kind == "npz":
        source = work / "calib.npz"
        np.savez(source, x=values)
    else:
        source = make_test_data(work / "calib", {"x": values[:4]}, {"x": values[4:8]})
    before = snapshot(work)
    refused(
        ["optimize", work / "m.onnx", "-o", work / "q.onnx", "--quantize", "static", "--calibration", source], says=says
    )
    assert snapshot(work) == before


def test_one_nan_among_good_samples_refused(work: Path) -> None:
    values = np.random.default_rng(0).standard_normal((20, 16)).astype(np.float32)
    values[7, 3] = np.inf
    np.savez(work / "calib.npz", x=values)
    refused(
        [
            "optimize",
            work / "m.onnx",
            "-o",
            work / "q.onnx",
            "--quantize",
            "static",
            "--calibration",
            work / "calib.npz",
        ],
        says="sample",
    )
