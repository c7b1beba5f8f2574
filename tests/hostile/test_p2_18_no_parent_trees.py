"""Second probe, item 18: an output whose folder does not exist is refused (exit 2): a typo in a CI path
must not grow a stray tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.hostile import refused


@pytest.mark.parametrize(
    "command",
    [
        ["optimize", "{m}", "-o", "{out}"],
        ["pack", "{m}", "-o", "{out}"],
        ["check", "{m}", "-b", "{budget}", "--json", "{out}"],
        ["init", "-o", "{out}"],
        ["build", "{config}", "--out", "{folder}"],
    ],
    ids=["optimize", "pack", "check", "init", "build"],
)
def test_missing_parent_refused(work: Path, command: list[str]) -> None:
    (work / "mlpack.toml").write_text('[model]\nsource = "m.onnx"\n')
    names = {
        "m": work / "m.onnx",
        "budget": work / "budget.toml",
        "out": work / "no" / "such" / "x.out",
        "config": work / "mlpack.toml",
        "folder": work / "no" / "such" / "dist",
    }
    refused([part.format(**names) for part in command], says="does not exist")
    assert not (work / "no").exists()
