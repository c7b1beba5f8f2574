"""Second probe, item 10: build with ``[check] data`` naming a test-data folder (the README allows it)
goes through every stage, pack included."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.helpers.hostile import make_test_data, succeeds


def test_build_with_a_test_data_folder(work: Path) -> None:
    rng = np.random.default_rng(0)
    make_test_data(work / "td", *({"x": rng.standard_normal((4, 16)).astype(np.float32)} for _ in range(3)))
    config = work / "mlpack.toml"
    config.write_text(
        '[model]\nsource = "m.onnx"\n[optimize]\nquantize = "dynamic"\n'
        '[check]\nbudgets = "budget.toml"\ndata = "td"\nruns = 3\nduration = 0.01\n'
    )
    succeeds(["build", config, "-o", work / "dist"])
    assert list((work / "dist").glob("*.mlpack"))
