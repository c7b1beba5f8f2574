"""Class 11: a resealed manifest of the wrong structure, or entries the file system cannot hold, is
refused (exit 2) by verify, inspect and run, before any of it is used."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers.hostile import refused, repack


def _model_empty(m: dict[str, Any]) -> None:
    m["model"] = {}


def _unknown_tolerance(m: dict[str, Any]) -> None:
    m["golden"]["tolerance"]["max_error"] = 1.0


def _nan_tolerance(m: dict[str, Any]) -> None:
    m["golden"]["tolerance"]["atol"] = "nan"


def _signature_wrong(m: dict[str, Any]) -> None:
    m["model"]["signature"] = {"inputs": "x", "outputs": []}


def _files_wrong(m: dict[str, Any]) -> None:
    m["files"] = {name: "sha" for name in m["files"]}


def _golden_count_wrong(m: dict[str, Any]) -> None:
    m["golden"]["count"] = "four"


EDITS = [_model_empty, _unknown_tolerance, _nan_tolerance, _signature_wrong, _files_wrong, _golden_count_wrong]


def _args(command: str, package: Path, work: Path) -> list[Any]:
    return [command, package, *(["--data", work / "data.npz", "-o", work / "out.npz"] if command == "run" else [])]


@pytest.mark.parametrize("edit", EDITS, ids=[e.__name__.strip("_") for e in EDITS])
@pytest.mark.parametrize("command", ["verify", "inspect", "run"])
def test_wrong_structure(work: Path, package: Path, edit: Any, command: str) -> None:
    hostile = repack(package, work / "hostile.mlpack", edit)
    refused(_args(command, hostile, work), says="not a valid manifest")
    assert not (work / "out.npz").exists()


def _long_name(m: dict[str, Any]) -> dict[str, bytes]:
    name = "files/" + "n" * 300
    m["files"][name] = {"sha256": "0" * 64, "size": 1}
    return {name: b"x"}


def _file_and_folder(m: dict[str, Any]) -> dict[str, bytes]:
    m["files"]["files/x"] = {"sha256": "0" * 64, "size": 1}
    m["files"]["files/x/y"] = {"sha256": "0" * 64, "size": 1}
    return {"files/x": b"x", "files/x/y": b"y"}


@pytest.mark.parametrize("edit", [_long_name, _file_and_folder], ids=["long_name", "file_and_folder"])
@pytest.mark.parametrize("command", ["verify", "inspect", "run"])
def test_entries_the_file_system_cannot_hold(work: Path, package: Path, edit: Any, command: str) -> None:
    extra: dict[str, bytes] = {}
    hostile = repack(package, work / "hostile.mlpack", lambda m: extra.update(edit(m)), extra=extra)
    refused(_args(command, hostile, work))
    assert not (work / "out.npz").exists()
