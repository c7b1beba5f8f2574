"""Class 15: an --opset outside what ONNX defines is refused (exit 2) with the valid range."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.hostile import refused
from tests.helpers.models import tiny


@pytest.mark.parametrize("opset", ["999", "-1", "0"])
def test_opset_out_of_range(tmp_path: Path, opset: str) -> None:
    refused(["export", tiny("mlp"), "-o", tmp_path / "m.onnx", "-i", "x:1x16", "--opset", opset], says="--opset")
    assert not (tmp_path / "m.onnx").exists()
