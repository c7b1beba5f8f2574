"""Second probe, item 2: outputs never overwrite inputs, in four more ways (one check, in validate)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.helpers.hostile import make_test_data, refused, snapshot


def test_run_with_target_onto_its_input(work: Path, package: Path) -> None:
    before = snapshot(work)
    refused(
        ["run", package, "--data", work / "data.npz", "-o", work / "data.npz", "--target", "ssh://nowhere.invalid"],
        says="also an input",
    )
    assert snapshot(work) == before


def test_output_inside_an_input_make_test_data(work: Path, package: Path) -> None:
    td = make_test_data(work / "td", {"x": np.ones((2, 16), np.float32)})
    before = snapshot(work)
    refused(["run", package, "--data", td, "-o", td / "test_data_set_0" / "input_0.pb"], says="inside the input")
    refused(["run", package, "--data", td, "-o", td / "new.npz"], says="inside the input")
    assert snapshot(work) == before


def test_optimize_onto_its_data_or_calibration(work: Path) -> None:
    before = snapshot(work)
    refused(["optimize", work / "m.onnx", "-o", work / "data.npz", "--data", work / "data.npz"], says="also an input")
    refused(
        [
            "optimize",
            work / "m.onnx",
            "-o",
            work / "data.npz",
            "--quantize",
            "static",
            "--calibration",
            work / "data.npz",
        ],
        says="also an input",
    )
    assert snapshot(work) == before


def test_step_summary_pointing_at_the_budget(work: Path) -> None:
    budget = work / "budget.toml"
    before = snapshot(work)
    refused(["check", work / "m.onnx", "-b", budget], env={"GITHUB_STEP_SUMMARY": str(budget)}, says="also an input")
    assert snapshot(work) == before
