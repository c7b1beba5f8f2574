"""Class 8: outputs that cannot be written are refused before any work (exit 2), naming the option,
so a report's failure can never hide a check's verdict; nothing is written anywhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.hostile import refused, snapshot

ROOT = os.geteuid() == 0  # root writes through any permission: those cases need a normal user


def test_output_under_a_file(work: Path) -> None:
    refused(["optimize", work / "m.onnx", "-o", work / "m.onnx" / "out.onnx"], says="is a file, not a folder")


def test_output_onto_a_directory(work: Path) -> None:
    (work / "folder").mkdir()
    refused(["run", work / "m.onnx", "--data", work / "data.npz", "-o", work / "folder"], says="is a directory")


@pytest.mark.parametrize("option", ["--json", "--markdown", "--junit"])
def test_check_reports_onto_a_directory(work: Path, option: str) -> None:
    (work / "reports").mkdir()
    before = snapshot(work)
    refused(["check", work / "m.onnx", "-b", work / "budget.toml", option, work / "reports"], says=option)
    assert snapshot(work) == before


def test_bench_plot_under_a_file(work: Path) -> None:
    refused(["bench", work / "m.onnx", "--plot", work / "budget.toml" / "p.png"], says="--plot")


def test_step_summary_is_a_directory(work: Path) -> None:
    (work / "summary").mkdir()
    env = {"GITHUB_STEP_SUMMARY": str(work / "summary")}
    refused(["check", work / "m.onnx", "-b", work / "budget.toml"], says="GITHUB_STEP_SUMMARY", env=env)


def test_build_out_is_a_file(work: Path) -> None:
    config = work / "mlpack.toml"
    config.write_text('[model]\nsource = "m.onnx"\n')
    refused(["build", config, "-o", work / "budget.toml"], says="-o/--output")


@pytest.mark.skipif(ROOT, reason="root ignores folder permissions")
def test_unwritable_folder(work: Path) -> None:
    locked = work / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        refused(["check", work / "m.onnx", "-b", work / "budget.toml", "--json", locked / "r.json"], says="permission")
    finally:
        locked.chmod(0o700)
