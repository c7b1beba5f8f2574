"""Second probe, item 14: check with size-only budgets still refuses a ``--set``/``--state`` name the
model does not have (exit 2) instead of ignoring it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.hostile import refused


@pytest.mark.parametrize("option", [["--set", "nosuch=3"], ["--state", "y=nosuch"]])
def test_unknown_names_with_size_only_budgets(work: Path, option: list[str]) -> None:
    refused(["check", work / "m.onnx", "-b", work / "budget.toml", *option], says="nosuch")
