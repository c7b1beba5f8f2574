"""Fixtures for hostile-input tests; the helpers they share are in ``tests/helpers/hostile.py``."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.hostile import succeeds
from tests.helpers.models import make_gemm_mlp


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temporary-files folder of the test's own, so leftovers can be counted."""
    folder = tmp_path / "tmpdir"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A folder with a small model and data for it."""
    folder = tmp_path / "work"
    folder.mkdir()
    make_gemm_mlp(folder / "m.onnx")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 16)).astype(np.float32)
    np.savez(folder / "data.npz", x=x, labels=rng.integers(0, 4, 40))
    np.savez(folder / "empty.npz", x=np.zeros((0, 16), np.float32), labels=np.zeros(0, np.int64))
    (folder / "budget.toml").write_text("[budget]\nmax_size_mb = 5\n")
    return folder


@pytest.fixture
def package(work: Path) -> Path:
    succeeds(["pack", work / "m.onnx", "-o", work / "m.mlpack", "--golden", "4"])
    return work / "m.mlpack"
