"""Class 2: an output that names one of the command's inputs is refused before any work; the
source (model, code, weights, data, package) is left byte for byte as it was."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.hostile import refused, snapshot


def test_pack_onto_its_model(work: Path) -> None:
    before = snapshot(work)
    refused(["pack", work / "m.onnx", "-o", work / "m.onnx"], says="is also an input")
    assert snapshot(work) == before


def test_pack_onto_an_included_file(work: Path) -> None:
    (work / "labels.txt").write_text("a\nb\n")
    before = snapshot(work)
    refused(
        ["pack", work / "m.onnx", "-o", work / "labels.txt", "--include", work / "labels.txt"], says="also an input"
    )
    assert snapshot(work) == before


def test_export_onto_its_source_code(tmp_path: Path) -> None:
    source = tmp_path / "src.py"
    source.write_text("def f():\n    raise SystemExit\n")
    before = snapshot(tmp_path)
    refused(["export", f"{source}:f", "-o", source, "-i", "x:1x4"], says="is also an input")
    assert snapshot(tmp_path) == before


def test_export_onto_its_weights(tmp_path: Path) -> None:
    source = tmp_path / "src.py"
    source.write_text("def f():\n    raise SystemExit\n")
    (tmp_path / "w.pt").write_bytes(b"weights")
    before = snapshot(tmp_path)
    refused(["export", f"{source}:f", "-o", tmp_path / "w.pt", "--weights", tmp_path / "w.pt", "-i", "x:1x4"])
    assert snapshot(tmp_path) == before


def test_run_onto_its_package_and_its_inputs(work: Path, package: Path) -> None:
    before = snapshot(work)
    refused(["run", package, "--data", work / "data.npz", "-o", package], says="is also an input")
    refused(["run", package, "--data", work / "data.npz", "-o", work / "data.npz"], says="is also an input")
    assert snapshot(work) == before


def test_tune_onto_its_model(work: Path) -> None:
    before = snapshot(work)
    refused(
        ["tune", work / "m.onnx", "-o", work / "m.onnx", "-b", work / "budget.toml", "--data", work / "data.npz"],
        says="is also an input",
    )
    assert snapshot(work) == before


def test_check_report_onto_its_budget(work: Path) -> None:
    before = snapshot(work)
    refused(
        ["check", work / "m.onnx", "-b", work / "budget.toml", "--json", work / "budget.toml"], says="also an input"
    )
    assert snapshot(work) == before
