"""Class 16: whatever source init is given, it writes a TOML that build reads back as given, or
refuses it (a newline) with exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlpack.pipeline.config import load_build_config
from tests.helpers.hostile import refused, succeeds


@pytest.mark.parametrize(
    "source", ["C:\\models\\m.py:build", 'we"ird.py:build', "dir with space/m.py:build", "a\nb.py:build"]
)
def test_init_writes_what_build_reads(tmp_path: Path, source: str) -> None:
    config = tmp_path / "mlpack.toml"
    succeeds(["init", source, "-o", config])
    loaded = load_build_config(config)  # parses, and the source reads back as typed
    assert str(loaded.model.source) == str(tmp_path / source.rpartition(":")[0]) + ":build"
    assert loaded.model.package_name  # a plain file name build can write under --out


def test_init_source_with_a_quote_builds_to_a_clean_error(tmp_path: Path) -> None:
    config = tmp_path / "mlpack.toml"
    succeeds(["init", 'we"ird.py:build', "-o", config])
    refused(["build", config, "-o", tmp_path / "dist"], says='we"ird.py')
