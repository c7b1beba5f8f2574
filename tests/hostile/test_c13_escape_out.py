"""Class 13: a config cannot make build write outside --out nor pack the host's files (exit 2 naming
the key, before anything is built)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.hostile import refused


@pytest.mark.parametrize(
    ("model_table", "key"),
    [
        ('name = "m"\nversion = "1/../../../../escaped"', "version"),
        ('name = "/tmp/absolute"', "name"),
        ('name = ".."', "name"),
    ],
)
def test_package_name_cannot_escape(work: Path, model_table: str, key: str) -> None:
    config = work / "proj" / "mlpack.toml"
    config.parent.mkdir()
    (config.parent / "m.onnx").write_bytes((work / "m.onnx").read_bytes())
    config.write_text(f'[model]\nsource = "m.onnx"\n{model_table}\n')
    refused(["build", config, "-o", work / "proj" / "dist"], says=f"model.{key}")
    assert not (work / "proj" / "dist").exists()
    assert sorted(p.name for p in work.iterdir()) == sorted(["m.onnx", "data.npz", "empty.npz", "budget.toml", "proj"])


def test_include_outside_the_project(work: Path) -> None:
    config = work / "proj" / "mlpack.toml"
    config.parent.mkdir()
    config.write_text('[model]\nsource = "../m.onnx"\n[pack]\ninclude = ["../../../../etc/hostname"]\n')
    refused(["build", config, "-o", work / "proj" / "dist"], says="pack.include")
    assert not (work / "proj" / "dist").exists()
