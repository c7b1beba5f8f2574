"""Class 4: a resealed manifest that points outside the package, or at a file it does not hash, is
refused before anything in it is opened (exit 2), by verify, inspect and run alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers.hostile import refused, repack


def _model_outside(m: dict[str, Any]) -> None:
    m["model"]["path"] = "../../x/model.onnx"


def _file_outside(m: dict[str, Any]) -> None:
    m["files"]["../secret.txt"] = {"sha256": "0" * 64, "size": 1}


def _absolute_file(m: dict[str, Any]) -> None:
    m["files"]["/etc/hostname"] = {"sha256": "0" * 64, "size": 1}


def _model_not_hashed(m: dict[str, Any]) -> None:
    m["model"]["path"] = "model/other.onnx"


def _golden_outside(m: dict[str, Any]) -> None:
    m["golden"]["inputs"] = "../../inputs.npz"


EDITS = [_model_outside, _file_outside, _absolute_file, _model_not_hashed, _golden_outside]


@pytest.mark.parametrize("edit", EDITS, ids=[e.__name__.strip("_") for e in EDITS])
@pytest.mark.parametrize("command", ["verify", "inspect", "run"])
def test_paths_outside_the_package(work: Path, package: Path, edit: Any, command: str) -> None:
    hostile = repack(package, work / "hostile.mlpack", edit)
    args = [command, hostile]
    if command == "run":
        args += ["--data", work / "data.npz", "-o", work / "out.npz"]
    refused(args, says="not a valid manifest")
    assert not (work / "out.npz").exists()
