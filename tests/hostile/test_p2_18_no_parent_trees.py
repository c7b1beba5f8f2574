"""Second probe, item 18: an output whose folder does not exist is refused (exit 2): a typo in a CI path
must not grow a stray tree. build's --out is the one exception: it names a folder the command owns and
makes (the README's `build --out dist/digits` on a fresh clone), so it is not in this list."""

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
    ],
    ids=["optimize", "pack", "check", "init"],
)
def test_missing_parent_refused(work: Path, command: list[str]) -> None:
    names = {
        "m": work / "m.onnx",
        "budget": work / "budget.toml",
        "out": work / "no" / "such" / "x.out",
    }
    refused([part.format(**names) for part in command], says="does not exist")
    assert not (work / "no").exists()
