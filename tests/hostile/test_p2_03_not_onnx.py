"""Second probe, item 3: check and diff given a package or any non-ONNX file refuse it (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.hostile import refused


@pytest.mark.parametrize("kind", ["package", "text"])
def test_check_and_diff_refuse_non_onnx(work: Path, package: Path, kind: str) -> None:
    bad = package if kind == "package" else work / "notes.onnx"
    (work / "notes.onnx").write_bytes(b"\x08\x07 not a model \xff\xfe" * 10)
    refused(["check", bad, "-b", work / "budget.toml"], says=str(bad))
    refused(["diff", work / "m.onnx", bad, "-b", work / "budget.toml"], says=str(bad))
